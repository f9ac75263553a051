"""URLs of stored photos (served by ``server.web.media`` at ``/media/<path>``, or a CDN)."""

from flask import current_app, has_request_context, url_for


def media_url(path: str) -> str:
    """The URL of a stored file: ``MEDIA_BASE_URL`` (e.g. a CDN) or this server's."""
    base = current_app.config.get("MEDIA_BASE_URL")
    if base:
        return f"{base.rstrip('/')}/{path}"
    if has_request_context():
        return url_for("media.file", path=path, _external=True)
    return f"/media/{path}"
