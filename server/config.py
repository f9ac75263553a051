"""Configuration, read from the environment once at start-up.

Tests pass a mapping to ``create_app`` instead. Production refuses to start
with unsafe settings (see ``check_production``).
"""

import json
import os
from pathlib import Path

from dotenv import load_dotenv

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"

# Values that must never be used as a production secret.
KNOWN_DEV_SECRETS = {"", "dev", "change-me", "dev-secret-not-for-production", "secret"}
# A Fernet key that is public (it is in this file): fine for demo data, refused in production.
DEV_DATA_KEY = "ZGV2LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24tMDAwMDA="


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or incomplete."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def from_env(environ: os._Environ | dict | None = None) -> dict:
    """Build the Flask config mapping from environment variables."""
    if environ is None:
        load_dotenv(INSTANCE_DIR.parent / ".env")  # optional; real environment wins
    env = os.environ if environ is None else environ
    app_env = env.get("APP_ENV", "development")
    return {
        "APP_ENV": app_env,
        "SECRET_KEY": env.get("SECRET_KEY", "dev-secret-not-for-production"),
        "SQLALCHEMY_DATABASE_URI": env.get(
            "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'xiuhua.db'}"
        ),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "WECHAT_APPID": env.get("WECHAT_APPID", ""),
        "WECHAT_SECRET": env.get("WECHAT_SECRET", ""),
        "WECHAT_MODE": env.get("WECHAT_MODE", "fake" if app_env != "production" else "real"),
        "WECHAT_TIMEOUT": float(env.get("WECHAT_TIMEOUT", "5")),
        "WECHAT_API_BASE": env.get("WECHAT_API_BASE", "https://api.weixin.qq.com"),
        # Subscribe-message template ids by Xiuhua template name, as JSON.
        "WECHAT_TEMPLATES": json.loads(env.get("WECHAT_TEMPLATES") or "{}"),
        "WECHAT_MINIPROGRAM_STATE": env.get("WECHAT_MINIPROGRAM_STATE", "formal"),
        "TOKEN_TTL_SECONDS": int(env.get("TOKEN_TTL_SECONDS", "7200")),
        "DATA_ENCRYPTION_KEYS": env.get("DATA_ENCRYPTION_KEYS", DEV_DATA_KEY),
        "SQLITE_BUSY_TIMEOUT_MS": int(env.get("SQLITE_BUSY_TIMEOUT_MS", "5000")),
        # How long a process trusts the data versions it read (server/versions.py): a change
        # made by another process or host reaches a cached list's 304 answers within this.
        "DATA_VERSION_TTL_SECONDS": float(env.get("DATA_VERSION_TTL_SECONDS", "1")),
        # PostgreSQL connections kept per process: one per concurrent request (server/db.py).
        "DB_POOL_SIZE": int(env.get("DB_POOL_SIZE") or env.get("GUNICORN_THREADS") or "1"),
        "UPLOAD_DIR": env.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads")),
        # Public base URL of UPLOAD_DIR when nginx or a CDN serves it; else this server's /media/.
        "MEDIA_BASE_URL": env.get("MEDIA_BASE_URL", ""),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", str(11 * 1024 * 1024))),
        "HUEY_SQLITE_PATH": env.get("HUEY_SQLITE_PATH", str(INSTANCE_DIR / "huey.db")),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        # Number of trusted reverse proxies (nginx) in front of gunicorn; 0 = none.
        "PROXY_FIX_X_FOR": int(env.get("PROXY_FIX_X_FOR", "0")),
        **{key: value for key, value in env.items() if key.startswith("RATELIMIT_")},
        "DEBUG_ERRORS": _bool(env.get("DEBUG_ERRORS")),
        **stall_rules(env),
        **open311_settings(env),
    }


# Stall booking rules (README "Stall booking rules"): config key → default.
STALL_RULE_DEFAULTS = {
    "STALL_BOOKING_OPENS_DAYS_BEFORE": 7,
    "STALL_BOOKING_OPENS_AT": "12:00",
    "STALL_BOOKING_CLOSES_MINUTES_BEFORE": 60,
    "STALL_MAX_BOOKINGS_PER_WINDOW": 3,
    "STALL_BOOKING_WINDOW_DAYS": 7,
    "STALL_FREE_CANCEL_MINUTES_BEFORE": 120,
    "STALL_CHECKIN_OPENS_MINUTES_BEFORE": 30,
    "STALL_CHECKIN_CLOSES_MINUTES_AFTER": 60,
    "STALL_CHECKIN_RADIUS_M": 300,
    "STALL_STRIKE_LIMIT": 3,
    "STALL_STRIKE_WINDOW_DAYS": 30,
    "STALL_SUSPENSION_DAYS": 14,
}


def stall_rules(env) -> dict:
    return {
        key: type(default)(env.get(key, default)) for key, default in STALL_RULE_DEFAULTS.items()
    }


def check_production(config: dict) -> None:
    """Stop start-up with a clear message when production settings are unsafe."""
    if config.get("APP_ENV") != "production":
        return
    problems = []
    if config.get("SECRET_KEY", "") in KNOWN_DEV_SECRETS or len(config["SECRET_KEY"]) < 32:
        problems.append("SECRET_KEY is missing, too short (< 32 chars) or a known default")
    if config.get("WECHAT_MODE") != "real":
        problems.append("WECHAT_MODE must be 'real' (fake login is impossible in production)")
    if not config.get("WECHAT_APPID") or not config.get("WECHAT_SECRET"):
        problems.append("WECHAT_APPID and WECHAT_SECRET are required")
    if config.get("WECHAT_API_BASE", "https://api.weixin.qq.com") != "https://api.weixin.qq.com":
        problems.append(
            "WECHAT_API_BASE must be https://api.weixin.qq.com (the app secret goes there)"
        )
    keys = config.get("DATA_ENCRYPTION_KEYS", "")
    if not keys or DEV_DATA_KEY in keys.split(","):
        problems.append("DATA_ENCRYPTION_KEYS is missing or contains the public development key")
    if problems:
        raise ConfigError("Refusing to start in production: " + "; ".join(problems))


def open311_settings(env) -> dict:
    """Open311 GeoReport v2 (README "Open311 GeoReport v2")."""
    return {
        # When set, a request naming another jurisdiction_id is a 404; unset, it is ignored.
        "OPEN311_JURISDICTION_ID": env.get("OPEN311_JURISDICTION_ID", ""),
        "OPEN311_CONTACT": env.get("OPEN311_CONTACT", "城市管理局 12319 城管服务热线"),
        "OPEN311_KEY_SERVICE": env.get(
            "OPEN311_KEY_SERVICE", "API 密钥由城市管理局系统管理员签发，请联系 12319 城管服务热线"
        ),
        # Cases filed through Open311 wait for staff review before they are public.
        "OPEN311_REVIEW_SUBMISSIONS": _bool(env.get("OPEN311_REVIEW_SUBMISSIONS", "true")),
    }
