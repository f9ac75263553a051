"""The flask-smorest ``Api`` of the mini-program: OpenAPI document, and every error in the one
error shape (``server.core.errors``)."""

from flask_smorest import Api
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from server.core.errors import ErrorSchema, error_response, log_database_error, to_app_error
from server.core.openapi import ErrorResponsesPlugin
from server.extensions import db


class XiuhuaApi(Api):
    ERROR_SCHEMA = ErrorSchema
    # Error responses are documented per operation (server/core/openapi.py), not as a catch-all.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("spec_kwargs", {"extra_plugins": [ErrorResponsesPlugin()]})
        super().__init__(*args, **kwargs)

    def _register_error_handlers(self):
        super()._register_error_handlers()
        self._app.register_error_handler(sa_exc.IntegrityError, self.handle_database_error)
        self._app.register_error_handler(sa_exc.OperationalError, self.handle_database_error)
        self._app.register_error_handler(sa_exc.TimeoutError, self.handle_database_error)

    def handle_database_error(self, error: Exception):
        db.session.rollback()
        log_database_error(error)
        return self.handle_http_exception(to_app_error(error))

    def handle_http_exception(self, error: HTTPException):
        return error_response(error)


api = XiuhuaApi()
