"""Fixtures: an app per test on a schema created once, a clean database per test.

``TEST_DATABASE_URL`` selects the database (SQLite file by default);
``TEST_REDIS_URL`` makes the app use Redis. A test can change the app's config
with ``@pytest.mark.config(KEY=value)``.
"""

import os

os.environ["APP_ENV"] = "testing"  # before server.jobs.tasks picks its queue storage

import pytest
import responses
from sqlalchemy import text

from server.app import create_app
from server.extensions import db
from server.models.users import User
from server.services import auth as auth_service

WECHAT_APPID = "wx0123456789abcdef"
WECHAT_SECRET = "test-app-secret-0123456789"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def base_config(database_url: str, tmp_path) -> dict:
    return {
        "APP_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": os.environ.get("TEST_REDIS_URL") or None,
        "WECHAT_MODE": "fake",
        "WECHAT_APPID": WECHAT_APPID,
        "WECHAT_SECRET": WECHAT_SECRET,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
    }


@pytest.fixture(scope="session")
def _schema(database_url, tmp_path_factory):
    app = create_app(base_config(database_url, tmp_path_factory.mktemp("schema")))
    with app.app_context():
        db.drop_all()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
        db.create_all()
        db.engine.dispose()
    yield


def _clean(app) -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


def _flush_redis(url: str | None) -> None:
    if not url:
        return
    import redis

    # TEST_REDIS_URL names a database of its own (e.g. /15): empty it between tests.
    redis.Redis.from_url(url).flushdb()


@pytest.fixture
def app(request, database_url, tmp_path, _schema):
    config = base_config(database_url, tmp_path)
    for marker in request.node.iter_markers("config"):
        config.update(marker.kwargs)
    application = create_app(config)
    _flush_redis(config["REDIS_URL"])
    with application.app_context():
        _clean(application)
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def mocked_wechat():
    """api.weixin.qq.com mocked at the HTTP level; any request not registered fails."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


real_wechat = pytest.mark.config(WECHAT_MODE="real")


def make_user(**overrides) -> User:
    values = {"openid": f"o_{os.urandom(6).hex()}", "nickname": "测试用户"}
    values.update(overrides)
    user = User(**values)
    db.session.add(user)
    db.session.commit()
    return user


def auth_headers(user: User, ttl: int = 3600) -> dict:
    token, _ = auth_service.issue_token(user, ttl)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def resident():
    return make_user(nickname="居民")


@pytest.fixture
def staff():
    return make_user(nickname="队员", role="staff")


@pytest.fixture
def admin():
    return make_user(nickname="管理员", role="admin")
