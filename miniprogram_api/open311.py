"""Open311 GeoReport v2 API keys, issued and revoked by admins (the interface is /open311/v2/)."""

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.common import page_of
from schemas.open311 import (
    Open311KeyCreateSchema,
    Open311KeyIssuedSchema,
    Open311KeyQuerySchema,
    Open311KeySchema,
)
from server.core.identity import current_user
from server.http.auth import admin_required
from server.services import open311 as open311_service

SHOWN = (
    "id",
    "name",
    "prefix",
    "active",
    "created_at",
    "created_by_id",
    "revoked_at",
    "last_used_at",
)

staff_blp = Blueprint(
    "staff_open311",
    __name__,
    url_prefix="/api/v1/staff/open311",
    description="Open311 GeoReport v2 API keys (admin)",
)


@staff_blp.route("/keys")
class Keys(MethodView):
    @admin_required
    @staff_blp.arguments(Open311KeyQuerySchema, location="query")
    @staff_blp.response(200, page_of(Open311KeySchema))
    def get(self, args):
        """API keys, active first"""
        return open311_service.list_keys(args["page"], args["page_size"])

    @admin_required
    @staff_blp.arguments(Open311KeyCreateSchema)
    @staff_blp.response(201, Open311KeyIssuedSchema)
    def post(self, args):
        """Issue a key for another system; the key is shown only in this answer"""
        row, key = open311_service.issue_key(args["name"], current_user())
        return {name: getattr(row, name) for name in SHOWN} | {"key": key}


@staff_blp.route("/keys/<int:key_id>")
class Key(MethodView):
    @admin_required
    @staff_blp.response(204)
    def delete(self, key_id):
        """Revoke a key at once (revoking it again changes nothing)"""
        open311_service.revoke_key(open311_service.get_key(key_id))
