"""The baseline: a bare Flask app with one JSON endpoint, served by the same gunicorn config."""

from flask import Flask

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/bare")
def bare():
    return {"status": "ok", "items": [], "message": "constant"}
