"""Repeated conditional GETs of cacheable lists, answered ``304`` before Flask when unchanged.

The mini-program revalidates its cached map layer with ``If-None-Match``. The full answer
(query, open states, serialization, ETag) costs milliseconds; when the data has not changed
the answer is always the same 304. A list view opts in through
``app.extensions["not_modified"]``: ``route`` names its path and data version once, and
``remember`` records each ETag it answers for a path and query string, with the data version
it read before the data (``server.services.data_versions``) and the instant its content
changes by itself
(the next opening or closing time on the page). Later a GET for that same path and query
string whose ``If-None-Match`` holds that ETag, while the version is unchanged and that
instant has not come, is answered here with the same headers the view would send, without
a request context, a transaction or a query (the version is read at most once per
``DATA_VERSION_TTL_SECONDS``). Anything else goes to Flask as usual.
"""

import datetime as dt
import logging
import time
from dataclasses import dataclass

from werkzeug.http import parse_etags, quote_etag

from server.http.security import HEADERS
from server.services import data_versions as versions

log = logging.getLogger("xiuhua.request")

MAX_ENTRIES = 4096  # distinct (path, query string) pairs remembered per process


@dataclass(frozen=True)
class Route:
    data: str  # the data version the list depends on
    headers: tuple[tuple[str, str], ...]  # sent with the 304 (Cache-Control...)


@dataclass(frozen=True)
class Entry:
    version: int
    etag: str
    valid_until: float  # time.time(); inf when nothing on the page changes by itself


class NotModified:
    """WSGI middleware around the Flask application (``app.extensions["not_modified"]``)."""

    def __init__(self, app):
        self.app = app
        self.wsgi_app = app.wsgi_app
        self.routes: dict[str, Route] = {}
        self.entries: dict[tuple[str, str], Entry] = {}
        app.wsgi_app = self
        app.extensions["not_modified"] = self

    def route(self, path: str, data: str, headers: dict[str, str]) -> None:
        self.routes[path] = Route(data, tuple(headers.items()))

    def remember(
        self,
        path: str,
        query: str,
        version: int,
        etag: str,
        changes_at: dt.datetime | None,
    ) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        until = float("inf") if changes_at is None else changes_at.timestamp()
        self.entries[(path, query)] = Entry(version, etag, until)

    def _answer(self, environ) -> Entry | None:
        if environ.get("REQUEST_METHOD") != "GET":
            return None
        path = environ.get("PATH_INFO", "")
        route = self.routes.get(path)
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if route is None or not if_none_match:
            return None
        entry = self.entries.get((path, environ.get("QUERY_STRING", "")))
        if entry is None or time.time() >= entry.valid_until:
            return None
        if entry.etag not in parse_etags(if_none_match):
            return None
        if versions.current(self.app, route.data) != entry.version:
            return None
        return entry

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        entry = self._answer(environ)
        if entry is None:
            return self.wsgi_app(environ, start_response)
        route = self.routes[environ["PATH_INFO"]]
        headers = [("ETag", quote_etag(entry.etag)), *route.headers, *HEADERS.items()]
        start_response("304 NOT MODIFIED", headers)
        log.info(
            "GET %s 304 %.1fms user=- (not modified)",
            environ["PATH_INFO"],
            (time.perf_counter() - started) * 1000,
        )
        return []
