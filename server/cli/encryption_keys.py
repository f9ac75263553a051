"""``flask keys``: personal-data encryption keys (Fernet) and their rotation.

Rotation: put a new key first in ``DATA_ENCRYPTION_KEYS`` (keep the old ones after it),
restart, run ``flask keys rotate`` to re-encrypt every value with the new key, then
remove the old keys.
"""

import click
from cryptography.fernet import Fernet
from flask.cli import AppGroup
from sqlalchemy import text

from server.extensions import db
from server.models.types import EncryptedString, data_cipher

keys_cli = AppGroup("keys", help="Personal-data encryption keys.")


def encrypted_columns():
    """(table, column) for every EncryptedString column of every model."""
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedString):
                yield table, column


def rotate_all(batch_size: int = 500) -> int:
    """Re-encrypt every stored value with the first key; returns how many were rewritten."""
    cipher = data_cipher()
    rewritten = 0
    for table, column in encrypted_columns():
        pk = next(iter(table.primary_key.columns)).name
        # Plain SQL on purpose: the ciphertext is read and written without the column
        # type decrypting it. Names come from the models' metadata, never from input.
        select_sql = text(
            f"SELECT {pk}, {column.name} FROM {table.name} "
            f"WHERE {column.name} IS NOT NULL AND {pk} > :last ORDER BY {pk} LIMIT :n"
        )
        update_sql = text(f"UPDATE {table.name} SET {column.name} = :value WHERE {pk} = :key")
        last = -1
        while rows := db.session.execute(select_sql, {"last": last, "n": batch_size}).all():
            for key, token in rows:
                value = cipher.rotate(token.encode()).decode()
                db.session.execute(update_sql, {"value": value, "key": key})
                rewritten += 1
            last = rows[-1][0]
    return rewritten


@keys_cli.command("generate")
def generate() -> None:
    """Print a new Fernet key."""
    click.echo(Fernet.generate_key().decode())


@keys_cli.command("rotate")
def rotate() -> None:
    """Re-encrypt all personal data with the first key of DATA_ENCRYPTION_KEYS."""
    count = rotate_all()
    db.session.commit()
    click.echo(f"re-encrypted {count} values")
