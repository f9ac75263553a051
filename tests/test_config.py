"""Production refuses unsafe settings; development works with defaults."""

import pytest

from server.app import create_app
from server.config import DEV_DATA_KEY, ConfigError, check_production, from_env

GOOD = {
    "APP_ENV": "production",
    "SECRET_KEY": "a" * 40,
    "WECHAT_MODE": "real",
    "WECHAT_APPID": "wx0123",
    "WECHAT_SECRET": "s3cr3t",
    "DATA_ENCRYPTION_KEYS": "q0bC2m1h0lN1w8mP1x2y3z4A5B6C7D8E9F0G1H2I3J4=",
}


def test_good_production_config_passes():
    check_production(GOOD)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "dev-secret-not-for-production"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"WECHAT_MODE": "fake"}, "fake login is impossible"),
        ({"WECHAT_APPID": ""}, "WECHAT_APPID"),
        ({"WECHAT_SECRET": ""}, "WECHAT_SECRET"),
        ({"DATA_ENCRYPTION_KEYS": DEV_DATA_KEY}, "DATA_ENCRYPTION_KEYS"),
        ({"WECHAT_API_BASE": "http://127.0.0.1:9999"}, "WECHAT_API_BASE"),
    ],
)
def test_production_refusals(change, words):
    with pytest.raises(ConfigError, match=words):
        check_production({**GOOD, **change})


def test_create_app_refuses_fake_mode_in_production(tmp_path):
    with pytest.raises(ConfigError, match="WECHAT_MODE"):
        create_app({**GOOD, "WECHAT_MODE": "fake", "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_defaults_from_environment():
    config = from_env({"APP_ENV": "production"})
    assert config["WECHAT_MODE"] == "real"
    with pytest.raises(ConfigError):
        check_production(config)


def test_development_defaults():
    config = from_env({})
    assert config["APP_ENV"] == "development"
    assert config["WECHAT_MODE"] == "fake"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("instance/xiuhua.db")
    assert config["TOKEN_TTL_SECONDS"] == 7200


def test_demo_data_refused_in_production(app):
    app.config["APP_ENV"] = "production"
    result = app.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code != 0
    assert "never loaded in production" in result.output
