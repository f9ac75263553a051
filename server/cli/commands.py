"""Command-line tools: ``flask users``, ``flask demo-data``, ``flask schemas``."""

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from schemas.toilets import ToiletImportRowSchema
from server import demo
from server.cli.backup import backup_command, restore_command
from server.cli.encryption_keys import keys_cli
from server.cli.open311 import open311_cli
from server.core.api import api
from server.extensions import db
from server.models.users import User
from server.services import users as users_service
from server.services.complaints import staff as complaints_staff
from server.services.toilets import transfer
from server.web.open311 import spec as open311_spec

DIST = Path(__file__).resolve().parents[2] / "schemas" / "dist"
OPEN311_SPEC = "open311-openapi.json"  # GeoReport v2, not the mini-program's API

users_cli = AppGroup("users", help="Manage accounts and roles.")
schemas_cli = AppGroup("schemas", help="Export the schemas shared with the mini-program.")
toilets_cli = AppGroup("toilets", help="Public toilets: bulk import and open-data export.")
complaints_cli = AppGroup("complaints", help="Complaint reference data.")


@users_cli.command("grant")
@click.argument("openid")
@click.argument("role", type=click.Choice(["staff", "admin"]))
def grant(openid: str, role: str) -> None:
    """Give a user the staff or admin role (their tokens are revoked)."""
    user = users_service.set_role(users_service.find_by_openid(openid), role)
    db.session.commit()
    click.echo(f"{user.openid}: {user.role}")


@users_cli.command("revoke")
@click.argument("openid")
def revoke(openid: str) -> None:
    """Take staff/admin away: the user is a resident again."""
    user = users_service.set_role(users_service.find_by_openid(openid), "resident")
    db.session.commit()
    click.echo(f"{user.openid}: {user.role}")


@users_cli.command("ban")
@click.argument("openid")
@click.option("--lift", is_flag=True, help="Lift the ban instead.")
def ban(openid: str, lift: bool) -> None:
    """Ban a user (all tokens revoked) or lift a ban."""
    user = users_service.set_banned(users_service.find_by_openid(openid), not lift)
    db.session.commit()
    click.echo(f"{user.openid}: {user.status}")


@users_cli.command("list")
@click.option("--role", type=click.Choice(["resident", "staff", "admin"]))
def list_users(role: str | None) -> None:
    """List accounts (phone numbers masked)."""
    query = select(User).order_by(User.id)
    if role:
        query = query.where(User.role == role)
    for user in db.session.scalars(query):
        click.echo(
            f"{user.id}\t{user.openid}\t{user.role}\t{user.status}\t"
            f"{user.nickname or ''}\t{user.phone_masked or ''}"
        )


@click.command("demo-data")
@click.option("--if-empty", is_flag=True, help="Only load into an empty database.")
def demo_data(if_empty: bool) -> None:
    """Load clearly-labelled demo data (【演示】); refused in production."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("demo data is never loaded in production")
    if if_empty and not demo.is_empty():
        click.echo("database not empty: demo data not loaded")
        return
    if demo.has_real_users():
        raise click.ClickException("this database holds real accounts: demo data not loaded")
    demo.load_all()
    db.session.commit()
    click.echo("demo data loaded")


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if "$ref" in node else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def _json_schemas(spec: dict) -> dict[str, dict]:
    """One standalone JSON Schema (draft 2020-12) per component schema.

    Each file carries only the definitions it refers to (transitively), so a change to
    one schema rewrites only the files that use it.
    """
    components = spec.get("components", {}).get("schemas", {})
    raw = json.dumps(components).replace("#/components/schemas/", "#/$defs/")
    defs = json.loads(raw)
    result = {}
    for name, schema in defs.items():
        needed, todo = set(), _refs(schema)
        while todo:
            ref = todo.pop()
            if ref not in needed:
                needed.add(ref)
                todo |= _refs(defs[ref])
        document = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{name}.schema.json",
            "title": name,
            **schema,
        }
        if needed:
            document["$defs"] = {ref: defs[ref] for ref in sorted(needed)}
        result[f"{name}.schema.json"] = document
    return result


def _rendered() -> dict[str, str]:
    spec = api.spec.to_dict()
    files = {"openapi.json": spec}
    files.update(_json_schemas(spec))
    files[OPEN311_SPEC] = open311_spec.openapi()
    return {
        name: json.dumps(content, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        for name, content in files.items()
    }


@schemas_cli.command("export")
def export() -> None:
    """Write schemas/dist/openapi.json, one JSON Schema per schema, and the Open311 spec."""
    DIST.mkdir(parents=True, exist_ok=True)
    files = _rendered()
    for stale in DIST.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (DIST / name).write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(files)} files to {DIST}")


@schemas_cli.command("check")
def check() -> None:
    """Fail when schemas/dist differs from what the code would export."""
    files = _rendered()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in DIST.glob("*.json")}
    stale = sorted(
        name for name in files.keys() | on_disk.keys() if files.get(name) != on_disk.get(name)
    )
    if stale:
        click.echo("schemas/dist is stale (run `make schemas`): " + ", ".join(stale), err=True)
        sys.exit(1)
    click.echo(f"schemas/dist up to date ({len(files)} files)")


@complaints_cli.command("seed")
def seed_complaints() -> None:
    """Add missing units, categories, office hours and holidays (never overwrites edits)."""
    added = complaints_staff.seed_reference_data()
    db.session.commit()
    click.echo(", ".join(f"{name}: +{count}" for name, count in added.items()))


@toilets_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--coord-type", type=click.Choice(["gcj02", "wgs84"]), default="gcj02")
@click.option("--dry-run", is_flag=True, help="Check every row, import nothing.")
@click.option("--allow-duplicates", is_flag=True, help="Import rows within 30 m of a toilet too.")
def import_toilets(path: Path, coord_type: str, dry_run: bool, allow_duplicates: bool) -> None:
    """Import toilets from CSV or GeoJSON; exits 1 when some rows were not imported."""
    result = transfer.import_file(
        None, path.name, path.read_bytes(), row_schema=ToiletImportRowSchema(),
        coord_type=coord_type, dry_run=dry_run, allow_duplicates=allow_duplicates,
    )  # fmt: skip
    db.session.commit()
    click.echo(transfer.describe(result))
    sys.exit(1 if result["errors"] or result["duplicates"] else 0)


@toilets_cli.command("export")
@click.argument("output", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson"]), default="geojson")
@click.option("--include-removed", is_flag=True)
def export_toilets(output, fmt: str, include_removed: bool) -> None:
    """Export toilets (GCJ-02, OpenStreetMap tags) to OUTPUT or stdout."""
    output.write(getattr(transfer, f"export_{fmt}")(include_removed))


COMMANDS = (
    users_cli,
    schemas_cli,
    toilets_cli,
    complaints_cli,
    open311_cli,
    demo_data,
    keys_cli,
    backup_command,
    restore_command,
)
