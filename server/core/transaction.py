"""The Flask class: Chinese JSON as UTF-8, one transaction per request, no cookie session."""

import orjson
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface

from server.extensions import db

# Datetimes and dataclasses go to Flask's ``default`` (the same text as the standard encoder).
ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def dumps_bytes(obj, default=None) -> bytes:
    """``obj`` as compact UTF-8 JSON, keys sorted, by orjson (a tenth of the standard
    encoder's time on a page of toilets or cases; bench/RESULTS.md)."""
    return orjson.dumps(obj, default=default, option=ORJSON_OPTIONS)


class JSONProvider(DefaultJSONProvider):
    """Compact UTF-8 JSON (Chinese text as is, not \\uXXXX escapes), encoded by orjson; the
    standard encoder for what orjson refuses (integers beyond 64 bits) and for debug output."""

    ensure_ascii = False

    def dumps(self, obj, **kwargs) -> str:
        if not kwargs:
            try:
                return dumps_bytes(obj, self.default).decode()
            except orjson.JSONEncodeError:
                pass
        return super().dumps(obj, **kwargs)

    def response(self, *args, **kwargs):
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        try:
            body = dumps_bytes(obj, self.default) + b"\n"
        except orjson.JSONEncodeError:
            return super().response(*args, **kwargs)
        return self._app.response_class(body, mimetype=self.mimetype)


class NoCookieSession(SessionInterface):
    """Callers authenticate with bearer tokens; Flask's signed cookie session is never used,
    so every request gets the null session instead of building a signer to read no cookie."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None


class XiuhuaFlask(Flask):
    json_provider_class = JSONProvider
    session_interface = NoCookieSession()

    def dispatch_request(self):
        """Commit once after the view returns; any exception rolls the request back.

        A request that never touched the database has no transaction to commit (the
        session would otherwise begin one just to end it)."""
        try:
            rv = super().dispatch_request()
            if db.session().in_transaction():
                db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return rv
