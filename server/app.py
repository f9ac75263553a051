"""The application factory: it only wires (``wsgi.py`` is ``app = create_app()``)."""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import server.models  # noqa: F401  (every table known to Alembic)
from miniprogram_api import BLUEPRINTS
from server import config as config_module
from server.cli import commands as cli
from server.core.api import api
from server.core.db import engine_options, init_request_transactions
from server.core.ratelimit import init_limiter
from server.core.transaction import XiuhuaFlask
from server.extensions import db, migrate
from server.http.not_modified import NotModified
from server.http.requestlog import init_request_log
from server.http.routing import IdConverter, id_schema
from server.http.security import init_json_bounds, init_security_headers
from server.integrations.wechat import wechat
from server.web import health, media, open311


def create_app(config: dict | None = None) -> Flask:
    app = XiuhuaFlask("server", instance_path=str(config_module.INSTANCE_DIR))
    app.config.update(config_module.from_env())
    app.config.update(API_SETTINGS)
    if config:
        app.config.update(config)
    config_module.check_production(app.config)
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        engine_options(
            app.config["SQLALCHEMY_DATABASE_URI"],
            app.config["SQLITE_BUSY_TIMEOUT_MS"],
            app.config["DB_POOL_SIZE"],
        ),
    )
    if app.config["PROXY_FIX_X_FOR"]:
        n = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    return app


API_SETTINGS = {
    "API_TITLE": "Xiuhua 绣花 — 城市管理小程序 API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "v1/openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/docs/static/",
    "PROPAGATE_EXCEPTIONS": False,
}


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(config_module.INSTANCE_DIR.parent / "migrations"))
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "Token from /auth/login"}
    )
    wechat.init_app(app)
    NotModified(app)
    init_limiter(app)
    init_request_transactions(app)
    init_request_log(app)
    init_security_headers(app)
    init_json_bounds(app)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter
    api.register_converter(IdConverter, id_schema)

    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(health.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(open311.bp)


def register_commands(app: Flask) -> None:
    for command in cli.COMMANDS:
        app.cli.add_command(command)
