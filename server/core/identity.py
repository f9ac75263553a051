"""Who is calling: the user the request authenticated as (``server.http.auth`` sets it).

A leaf, so that rate limits, idempotency keys and the request log can read the caller
without importing the authentication decorators (or the services behind them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import g

if TYPE_CHECKING:
    from server.models.users import User


def current_user() -> User | None:
    return g.get("current_user")


def set_current_user(user: User | None) -> None:
    g.current_user = user
