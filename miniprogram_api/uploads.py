"""Photo uploads: one photo per request, claimed later by a submission."""

from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from schemas.uploads import UploadFileSchema, UploadSchema
from server.core.api import api
from server.core.blueprint import Blueprint
from server.core.errors import AppError, ErrorSchema
from server.core.identity import current_user
from server.core.ratelimit import per_user
from server.http.auth import auth_required
from server.services import uploads as uploads_service

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads", description="Photo uploads")


@blp.errorhandler(RequestEntityTooLarge)
def _body_too_large(error):
    # A body over MAX_CONTENT_LENGTH is refused before it is read; same answer as a big file.
    return api.handle_http_exception(AppError(413, "file_too_large", "照片不能超过 10 MB"))


@blp.route("")
class Uploads(MethodView):
    @auth_required()
    @per_user("UPLOAD")
    @blp.arguments(UploadFileSchema, location="files")
    @blp.response(201, UploadSchema)
    @blp.alt_response(413, schema=ErrorSchema, description="file_too_large: over 10 MB")
    @blp.alt_response(415, schema=ErrorSchema, description="unsupported_image_type")
    @blp.alt_response(
        422,
        schema=ErrorSchema,
        description="empty_file, corrupt_image, image_too_large, validation_error",
    )
    @blp.alt_response(503, schema=ErrorSchema, description="storage_unavailable (Retry-After)")
    @blp.alt_response(507, schema=ErrorSchema, description="storage_full (Retry-After)")
    def post(self, args):
        """Upload one photo; use its id in a submission within 24 hours"""
        return uploads_service.create_upload(current_user(), args["file"].stream)
