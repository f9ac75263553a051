"""A demo Open311 API key with a known value, so `make run` can be tried with curl.

Demo data never loads in production nor into a database with real accounts; the key is
labelled 【演示】 and can be revoked like any other.
"""

from sqlalchemy import select

from server.extensions import db
from server.models.open311 import Open311ApiKey
from server.services import open311 as open311_service

DEMO_KEY = "o311_demo_key_for_local_testing_only"


def load() -> None:
    key_hash = open311_service.hash_key(DEMO_KEY)
    if db.session.scalar(select(Open311ApiKey.id).where(Open311ApiKey.key_hash == key_hash)):
        return
    db.session.add(
        Open311ApiKey(
            name="【演示】12345 热线对接",
            key_hash=key_hash,
            prefix=DEMO_KEY[:11],
        )
    )
    db.session.flush()
