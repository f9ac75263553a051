"""Documents the error responses each operation can give, from what the operation is.

flask-smorest's catch-all ``default`` response is switched off, so that a status
code the spec does not list for an operation is a real finding (schemathesis checks
it). The standard ones are derived here once, instead of on every view:

- every operation: 503 (database or WeChat unavailable);
- logged-in operations: 401 and 403;
- a request body: 400 (malformed), 413 (too large), 415, 422 (invalid);
- query parameters: 422; path parameters: 404;
- writes (POST/PUT/PATCH/DELETE): 409 (the state changed or forbids it);
- ``x-rate-limited`` (set by ``server.core.ratelimit``): 429;
- ``x-idempotent`` (set by ``server.http.idempotency``): 400, 409, 422.
"""

import http

from apispec import BasePlugin

WRITES = {"post", "put", "patch", "delete"}


class ErrorResponsesPlugin(BasePlugin):
    def init_spec(self, spec):
        super().init_spec(spec)
        self.spec = spec

    def _add(self, operation: dict, *statuses: int) -> None:
        responses = operation.setdefault("responses", {})
        for status in statuses:
            key = str(status)
            if key not in responses:
                name = http.HTTPStatus(status).name
                responses[key] = self.spec.components.get_ref("response", name)

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            self._add(operation, 503)
            if any(requirement for requirement in operation.get("security", [])):
                self._add(operation, 401, 403)
            if "requestBody" in operation:
                self._add(operation, 400, 413, 415, 422)
            parameters = operation.get("parameters", []) + (kwargs.get("parameters") or [])
            where = {p.get("in") for p in parameters if isinstance(p, dict)}
            if "query" in where:
                self._add(operation, 422)
            if "{" in (path or ""):
                self._add(operation, 404)
            if method in WRITES:
                self._add(operation, 409)
            if operation.pop("x-rate-limited", False):
                self._add(operation, 429)
            if operation.pop("x-idempotent", False):
                self._add(operation, 400, 409, 422)
