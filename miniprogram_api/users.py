"""The logged-in user's own account: profile, phone, deletion (注销)."""

from flask.views import MethodView

from schemas.users import MeSchema, MeUpdateSchema, PhoneBindSchema
from server.core.blueprint import Blueprint
from server.core.identity import current_user
from server.http.auth import auth_required
from server.services import users as users_service

blp = Blueprint("users", __name__, url_prefix="/api/v1/me", description="My account")


@blp.route("")
class Me(MethodView):
    @auth_required()
    @blp.response(200, MeSchema)
    def get(self):
        """My profile"""
        return current_user()

    @auth_required()
    @blp.arguments(MeUpdateSchema(partial=True))
    @blp.response(200, MeSchema)
    def patch(self, args):
        """Update my nickname or avatar"""
        return users_service.update_profile(current_user(), **args)

    @auth_required()
    @blp.response(204)
    def delete(self):
        """Delete my account (注销): personal data is erased, tokens revoked"""
        users_service.delete_account(current_user())


@blp.route("/phone")
class MyPhone(MethodView):
    @auth_required()
    @blp.arguments(PhoneBindSchema)
    @blp.response(200, MeSchema)
    def post(self, args):
        """Bind my phone number from a getPhoneNumber code"""
        return users_service.bind_phone(current_user(), args["code"])
