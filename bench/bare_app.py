"""The platform's limit: a bare Flask endpoint returning a constant JSON object.

Served by the same gunicorn configuration as the real app in every benchmark run, so
each figure can be reported as a ratio to it (comparable across noisy machines).
"""

from flask import Flask

app = Flask(__name__)


@app.get("/bare")
def bare():
    return {"status": "ok", "items": [], "message": "constant"}
