"""Operations endpoints outside the mini-program API: probes and the docs' static files."""

from pathlib import Path

import swagger_ui_bundle
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, send_from_directory
from sqlalchemy import text

from server.extensions import db

bp = Blueprint("health", __name__)
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def migration_state() -> tuple[set[str], set[str]]:
    """(revisions applied to the database, revisions at the head of migrations/)."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current, set(script.get_heads())


@bp.get("/api/docs/static/<path:filename>")
def swagger_ui_static(filename: str):
    """Swagger UI's files, served locally: the docs must work without a CDN."""
    response = send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    try:
        db.session.execute(text("SELECT 1"))
        current, heads = migration_state()
    except Exception:
        db.session.rollback()
        return {"status": "unavailable", "database": False, "migrations": False}, 503
    if current != heads:
        return {"status": "unavailable", "database": True, "migrations": False}, 503
    return {"status": "ok", "database": True, "migrations": True}
