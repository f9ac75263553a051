"""Stored photos, served at ``/media/<path>`` (outside the mini-program API).

The names are random and never reused, so a file never changes: clients and
proxies may cache it for a year. In production nginx serves ``UPLOAD_DIR`` at
the same path and this view is only the fallback (see README, Deployment).
"""

from flask import Blueprint, current_app, has_request_context, send_from_directory, url_for
from werkzeug.exceptions import NotFound

from server.errors import not_found
from server.services.uploads.images import CONTENT_TYPE
from server.services.uploads.storage import NAME, upload_root

bp = Blueprint("media", __name__)
ONE_YEAR = 365 * 24 * 3600


def media_url(path: str) -> str:
    """The URL of a stored file: ``MEDIA_BASE_URL`` (e.g. a CDN) or this server's."""
    base = current_app.config.get("MEDIA_BASE_URL")
    if base:
        return f"{base.rstrip('/')}/{path}"
    if has_request_context():
        return url_for("media.file", path=path, _external=True)
    return f"/media/{path}"


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
