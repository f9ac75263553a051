"""WeChat login and logout."""

from flask.views import MethodView

from schemas.auth import LoginSchema, TokenSchema
from server.core.blueprint import Blueprint
from server.core.ratelimit import per_ip
from server.http.auth import auth_required, bearer_token, token_ttl
from server.services import auth as auth_service

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="WeChat login")


@blp.route("/login")
class Login(MethodView):
    @per_ip("LOGIN_IP")
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")  # invalid or used code
    @blp.alt_response(403, response="FORBIDDEN")  # banned, or blocked by WeChat
    def post(self, args):
        """Log in with the code from wx.login()"""
        ttl = token_ttl()
        token, record = auth_service.login(args["code"], ttl)
        return {
            "token": token,
            "expires_at": record.expires_at,
            "expires_in": ttl,
            "user": record.user,
        }


@blp.route("/logout")
class Logout(MethodView):
    @auth_required()
    @blp.response(204)
    def post(self):
        """Log out: revoke this token"""
        auth_service.revoke_token(bearer_token())
