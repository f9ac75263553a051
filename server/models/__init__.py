"""Every model module, imported so that Alembic and ``db.create_all`` see all tables."""

from server.models import (  # noqa: F401
    complaints,
    idempotency,
    outbox,
    stalls,
    toilets,
    uploads,
    users,
)
