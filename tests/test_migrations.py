"""Migrations build exactly the models' schema, and downgrade cleanly, on both databases."""

import uuid

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from server.app import create_app
from server.extensions import db
from tests.conftest import base_config


@pytest.fixture
def empty_database_url(database_url, tmp_path):
    """A database with no tables: a new SQLite file, or a new PostgreSQL schema."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in database_url else "?"
    yield f"{database_url}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def test_upgrade_matches_models_and_downgrade_removes_all(empty_database_url, tmp_path):
    app = create_app(base_config(empty_database_url, tmp_path))
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"

        flask_migrate.downgrade(revision="base")
        with db.engine.connect() as conn:
            remaining = set(inspect(conn).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        db.engine.dispose()


def test_readyz_reports_pending_migrations(empty_database_url, tmp_path):
    app = create_app(base_config(empty_database_url, tmp_path))
    client = app.test_client()
    with app.app_context():
        assert client.get("/readyz").status_code == 503
        flask_migrate.upgrade(revision="heads")
        resp = client.get("/readyz")
        assert resp.status_code == 200
        assert resp.get_json() == {"status": "ok", "database": True, "migrations": True}
        db.engine.dispose()
