"""``flask backup PATH`` / ``flask restore PATH``: a consistent online copy of an
SQLite deployment (database + uploaded photos).

The database is copied with SQLite's online backup API, which gives a consistent
snapshot while the app keeps writing. Photos are copied after it: a photo is written
before the row that refers to it is committed, so every photo the snapshot refers to
is in the copy. PostgreSQL deployments use ``pg_dump`` (see README).
"""

import json
import shutil
import sqlite3
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import inspect

from server.extensions import db
from server.util.clock import local_now

DB_FILE = "xiuhua.db"
UPLOADS = "uploads"


def _sqlite_path() -> Path:
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.ClickException(
            "flask backup/restore handle SQLite; for PostgreSQL use pg_dump/pg_restore (README)"
        )
    return Path(url.database)


def backup_to(target: Path) -> dict:
    source_path = _sqlite_path()
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise click.ClickException(f"{target} is not empty")
    source = sqlite3.connect(source_path)
    copy = sqlite3.connect(target / DB_FILE)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    upload_dir = Path(current_app.config["UPLOAD_DIR"])
    files = 0
    if upload_dir.exists():
        shutil.copytree(upload_dir, target / UPLOADS)
        files = sum(1 for p in (target / UPLOADS).rglob("*") if p.is_file())
    manifest = {"created_at": local_now().isoformat(), "database": DB_FILE, "upload_files": files}
    (target / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest


def _has_data(path: Path) -> bool:
    if not path.exists():
        return False
    conn = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name != "alembic_version" and not name.startswith("sqlite_")
        ]
        return any(conn.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone() for name in tables)
    finally:
        conn.close()


def restore_from(source: Path, force: bool) -> None:
    target_path = _sqlite_path()
    backup_db = source / DB_FILE
    if not backup_db.is_file():
        raise click.ClickException(f"{backup_db} not found: not a backup made by flask backup")
    upload_dir = Path(current_app.config["UPLOAD_DIR"])
    uploads_present = upload_dir.exists() and any(upload_dir.iterdir())
    if not force and (_has_data(target_path) or uploads_present):
        raise click.ClickException("the target holds data; use --force to overwrite it")
    db.session.remove()
    db.engine.dispose()
    src = sqlite3.connect(backup_db)
    dst = sqlite3.connect(target_path)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    if upload_dir.exists():
        shutil.rmtree(upload_dir)
    if (source / UPLOADS).exists():
        shutil.copytree(source / UPLOADS, upload_dir)


@click.command("backup")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Copy the SQLite database and the uploads to PATH (online, consistent)."""
    manifest = backup_to(path)
    click.echo(f"backup written to {path} ({manifest['upload_files']} photos)")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite a database that holds data.")
def restore_command(path: Path, force: bool) -> None:
    """Restore a backup made by `flask backup` (refuses a non-empty target unless --force)."""
    restore_from(path, force)
    tables = inspect(db.engine).get_table_names()
    click.echo(f"restored {len(tables)} tables from {path}")
