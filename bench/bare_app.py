"""The platform's limit: a bare Flask endpoint returning a constant JSON object.

Served by the same gunicorn configuration as the real app in every benchmark run, so
each figure can be reported as a ratio to it (comparable across noisy machines).

``/bare/query`` is the limit for an endpoint that reads the database at all: the same bare
Flask app running one primary-key ``SELECT`` through SQLAlchemy Core in a transaction of its
own on ``DATABASE_URL`` (no ORM, no validation, no serialization beyond the constant). It is
reported next to the scenarios (``make bench``) to show what a single query costs here.
"""

import os
from functools import cache

from flask import Flask
from sqlalchemy import create_engine, text

app = Flask(__name__)


@app.get("/bare")
def bare():
    return {"status": "ok", "items": [], "message": "constant"}


@cache
def _engine():
    url = os.environ.get("DATABASE_URL", "sqlite://")
    return create_engine(url, pool_size=1) if url.startswith("postgresql") else create_engine(url)


@app.get("/bare/query")
def bare_query():
    with _engine().begin() as connection:
        connection.execute(text("SELECT 1 FROM toilets WHERE id = 1")).all()
    return {"status": "ok", "items": [], "message": "constant"}
