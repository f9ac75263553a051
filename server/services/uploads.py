"""Uploaded photos: claiming them for a submission.

Processing and storing the files is added by the uploads feature.
"""

import datetime as dt

from sqlalchemy import select

from server.errors import AppError
from server.extensions import db
from server.models.uploads import Upload
from server.models.users import User
from server.timeutil import utcnow

MAX_PHOTOS = 9


def claim(
    owner: User, upload_ids: list[int], used_for: str, now: dt.datetime | None = None
) -> list[Upload]:
    """Take the owner's unused, unexpired uploads for one submission, in the given order.

    Someone else's, unknown, expired or already used ids are all the same 422, so
    ids cannot be probed.
    """
    now = now or utcnow()
    if len(upload_ids) > MAX_PHOTOS:
        raise AppError(422, "too_many_photos", f"最多上传{MAX_PHOTOS}张照片")
    if len(set(upload_ids)) != len(upload_ids):
        raise AppError(422, "duplicate_photos", "照片重复，请检查后重试")
    if not upload_ids:
        return []
    found = {
        upload.id: upload
        for upload in db.session.scalars(
            select(Upload).where(Upload.id.in_(upload_ids)).with_for_update()
        )
    }
    bad = [
        upload_id
        for upload_id in upload_ids
        if (upload := found.get(upload_id)) is None
        or upload.owner_id != owner.id
        or upload.used_at is not None
        or upload.expires_at <= now
    ]
    if bad:
        raise AppError(
            422,
            "invalid_photos",
            "部分照片已失效，请重新上传",
            errors={"json": {"photo_ids": [f"照片 {i} 不可用" for i in bad]}},
        )
    for upload in found.values():
        upload.used_at = now
        upload.used_for = used_for
    return [found[i] for i in upload_ids]
