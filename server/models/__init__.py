"""Every model module, imported so that Alembic and ``db.create_all`` see all tables."""

from server.models import complaints, idempotency, outbox, toilets, uploads, users  # noqa: F401
