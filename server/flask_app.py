"""The Flask class: Chinese JSON as UTF-8 and one transaction per request."""

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from server.extensions import db


class JSONProvider(DefaultJSONProvider):
    ensure_ascii = False  # Chinese text as UTF-8, not \\uXXXX escapes


class XiuhuaFlask(Flask):
    json_provider_class = JSONProvider

    def dispatch_request(self):
        """Commit once after the view returns; any exception rolls the request back."""
        try:
            rv = super().dispatch_request()
        except BaseException:
            # Roll back here, not only at teardown: under a test client the app context (and
            # its session) outlives the request, and a failed request must leave nothing.
            db.session.rollback()
            raise
        db.session.commit()
        return rv
