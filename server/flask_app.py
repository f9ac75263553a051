"""The Flask class: Chinese JSON as UTF-8 and one transaction per request."""

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter, Map

from server.extensions import db

ID_MAX = 2**31 - 1  # ids are PostgreSQL ``integer`` columns


class IdConverter(IntegerConverter):
    """``<int:…>`` in a path: an id no table can hold (above ``ID_MAX``) is a 404, not a 500.

    flask-smorest publishes the bound as the path parameter's ``maximum``.
    """

    def __init__(self, map, *args, max=ID_MAX, **kwargs):
        super().__init__(map, *args, max=max, **kwargs)


class URLMap(Map):
    default_converters = {**Map.default_converters, "int": IdConverter}


class JSONProvider(DefaultJSONProvider):
    ensure_ascii = False  # Chinese text as UTF-8, not \\uXXXX escapes


class XiuhuaFlask(Flask):
    json_provider_class = JSONProvider
    url_map_class = URLMap

    def dispatch_request(self):
        """Commit once after the view returns; any exception rolls the request back."""
        try:
            rv = super().dispatch_request()
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return rv
