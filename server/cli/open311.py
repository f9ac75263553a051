"""``flask open311``: issue and revoke GeoReport API keys without the admin API."""

import click
from flask.cli import AppGroup

from server.extensions import db
from server.models.open311 import Open311ApiKey
from server.services import open311 as service

open311_cli = AppGroup("open311", help="Open311 GeoReport v2 API keys.")


@open311_cli.command("issue-key")
@click.argument("name")
def issue_key(name: str) -> None:
    """Issue a key for NAME (the system that will use it); the key is shown only now."""
    name = name.strip()
    if not name or len(name) > 64:
        raise click.BadParameter("1 to 64 characters", param_hint="NAME")
    row, key = service.issue_key(name, created_by=None)
    db.session.commit()
    click.echo(f"id {row.id} ({row.name}): {key}")
    click.echo("Keep it now: only its hash is stored.", err=True)


@open311_cli.command("revoke-key")
@click.argument("key_id", type=int)
def revoke_key(key_id: int) -> None:
    """Revoke key KEY_ID at once."""
    row = db.session.get(Open311ApiKey, key_id)
    if row is None:
        raise click.ClickException(f"no key {key_id}")
    service.revoke_key(row)
    db.session.commit()
    click.echo(f"id {row.id} ({row.name}) revoked")


@open311_cli.command("list-keys")
def list_keys() -> None:
    """List keys (prefix only), newest first."""
    for row in service.list_keys(page=1, page_size=1000)["items"]:
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
        click.echo(f"{row.id}\t{row.prefix}…\t{row.name}\t{state}\t{used}")
