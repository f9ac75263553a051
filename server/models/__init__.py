"""Every model module, imported so that Alembic and ``db.create_all`` see all tables."""

from server.models import (  # noqa: F401
    complaints,
    idempotency,
    open311,
    outbox,
    stalls,
    toilets,
    uploads,
    users,
    versions,
)
