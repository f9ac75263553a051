"""Photo uploads: the multipart request and the stored photo."""

from flask_smorest.fields import Upload
from marshmallow import fields

from schemas.common import BaseSchema, CSTDateTime
from server.models.uploads import STORED_SIDE, THUMB_SIDE
from server.util.media import media_url


class UploadFileSchema(BaseSchema):
    file = Upload(
        required=True,
        metadata={
            "description": "One photo, as wx.uploadFile sends it (name: 'file'): JPEG, PNG, "
            "WebP or HEIC, at most 10 MB, at most 40 megapixels and 12000 px a side. "
            "The type is read from the bytes; file name and Content-Type are ignored."
        },
    )


class WGS84PointSchema(BaseSchema):
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
    coord_type = fields.String(required=True, metadata={"description": "Always wgs84"})


class LocationHintSchema(BaseSchema):
    """Where the photo was taken, from its GPS data: offer it, never assume it."""

    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
    coord_type = fields.String(required=True, metadata={"description": "Always gcj02"})
    wgs84 = fields.Nested(
        WGS84PointSchema,
        required=True,
        metadata={"description": "The position as recorded by the camera (GPS, WGS-84)"},
    )


class PhotoSchema(BaseSchema):
    """A stored photo as shown with a submission."""

    id = fields.Integer(required=True)
    url = fields.Function(
        lambda upload: media_url(upload.path),
        required=True,
        metadata={"description": f"The photo (JPEG, longest side at most {STORED_SIDE} px)"},
    )
    thumb_url = fields.Function(
        lambda upload: media_url(upload.thumb_path),
        required=True,
        metadata={"description": f"Thumbnail (JPEG, longest side at most {THUMB_SIDE} px)"},
    )
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)


class UploadSchema(PhotoSchema):
    size_bytes = fields.Integer(required=True)
    content_type = fields.String(required=True, metadata={"description": "image/jpeg"})
    expires_at = CSTDateTime(
        required=True,
        metadata={"description": "Use the id in a submission before this time (24 hours)"},
    )
    location_hint = fields.Nested(
        LocationHintSchema,
        allow_none=True,
        metadata={"description": "GPS position found in the photo, or null"},
    )
