"""Stored photos, served at ``/media/<path>`` (outside the mini-program API).

The names are random and never reused, so a file never changes: clients and
proxies may cache it for a year. In production nginx serves ``UPLOAD_DIR`` at
the same path and this view is only the fallback (see README, Deployment).
"""

from flask import Blueprint, send_from_directory
from werkzeug.exceptions import NotFound

from server.core.errors import not_found
from server.services.uploads.images import CONTENT_TYPE
from server.services.uploads.storage import NAME, upload_root

bp = Blueprint("media", __name__)
ONE_YEAR = 365 * 24 * 3600


@bp.get("/media/<path:path>")
def file(path: str):
    # Only names we generate: no traversal, no temporary or stray files.
    if not NAME.fullmatch(path):
        raise not_found("照片不存在或已被删除")
    try:
        response = send_from_directory(upload_root(), path, mimetype=CONTENT_TYPE, max_age=ONE_YEAR)
    except NotFound:
        raise not_found("照片不存在或已被删除") from None
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response
