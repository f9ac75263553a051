"""Every model module, imported so that Alembic and ``db.create_all`` see all tables."""

from server.models import idempotency, outbox, stalls, uploads, users  # noqa: F401
