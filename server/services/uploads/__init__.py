"""Uploaded photos: processing and storing them, claiming them for a submission, cleanup.

A photo is uploaded on its own (``POST /api/v1/uploads``, one per request as
``wx.uploadFile`` sends it) and answered with an id; a submission (complaint,
report...) then ``claim``s the ids. An upload is usable once, by its owner, for
24 hours; unused ones are purged by a periodic job (``server.jobs.tasks``).
"""

import datetime as dt
from typing import IO

from sqlalchemy import delete, select, update

from server.core.errors import AppError
from server.core.signals import account_deleting
from server.extensions import db
from server.models.uploads import Upload
from server.models.users import User
from server.services.uploads import images, storage
from server.util.clock import utcnow

MAX_PHOTOS = 9
TTL = dt.timedelta(hours=24)
# Unused uploads are purged this long after they expired, so a submission that
# claims one at the last second never races the purge.
PURGE_GRACE = dt.timedelta(hours=1)
ORPHAN_AGE = dt.timedelta(days=2)
PURGE_BATCH = 1000


def create_upload(owner: User, stream: IO[bytes], now: dt.datetime | None = None) -> Upload:
    """Check, re-encode and store one photo for ``owner``; call it first in a transaction.

    The returned upload carries ``location_hint`` (GPS from EXIF, or None); the
    position itself is not stored.
    """
    owner_id = owner.id
    data = stream.read(images.MAX_BYTES + 1)
    # Nothing is written yet: end the read-only transaction that authentication
    # opened, so no SQLite write lock or PostgreSQL connection is held while the
    # photo is decoded and encoded (a few hundred ms). ``owner`` is expired now.
    if not (db.session.new or db.session.dirty or db.session.deleted):
        db.session.rollback()
    photo = images.process(data)
    now = now or utcnow()
    root = storage.upload_root()
    path, thumb_path = storage.new_names(now)
    storage.write_files(root, {path: photo.data, thumb_path: photo.thumb})
    upload = Upload(
        owner_id=owner_id,
        path=path,
        thumb_path=thumb_path,
        content_type=images.CONTENT_TYPE,
        width=photo.width,
        height=photo.height,
        size_bytes=len(photo.data),
        created_at=now,
        expires_at=now + TTL,
    )
    db.session.add(upload)
    try:
        db.session.flush()
    except Exception:
        storage.remove_paths([root / path, root / thumb_path])
        raise
    upload.location_hint = photo.location_hint
    return upload


def in_order(upload_ids: list[int]) -> list[Upload]:
    """The uploads of ``upload_ids`` in that order, for display (ids no longer stored: left out)."""
    if not upload_ids:
        return []
    found = {u.id: u for u in db.session.scalars(select(Upload).where(Upload.id.in_(upload_ids)))}
    return [found[i] for i in upload_ids if i in found]


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
            select(Upload)
            .where(Upload.id.in_(upload_ids))
            .order_by(Upload.id)  # one lock order: two claims cannot deadlock
            .with_for_update()
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


def purge_expired(now: dt.datetime | None = None, limit: int = PURGE_BATCH) -> int:
    """Delete unused uploads that expired (rows now, files after commit); the count."""
    now = now or utcnow()
    ids = (
        select(Upload.id)
        .where(Upload.used_at.is_(None), Upload.expires_at <= now - PURGE_GRACE)
        .order_by(Upload.id)
        .limit(limit)
        .scalar_subquery()
    )
    # The conditions are repeated in the DELETE itself: PostgreSQL re-checks them
    # after waiting on a row that a concurrent claim() locked and used.
    rows = db.session.execute(
        delete(Upload)
        .where(Upload.id.in_(ids), Upload.used_at.is_(None))
        .returning(Upload.path, Upload.thumb_path),
        execution_options={"synchronize_session": False},
    ).all()
    storage.remove_after_commit(storage.upload_root(), [n for row in rows for n in row])
    return len(rows)


def sweep_orphan_files(now: dt.datetime | None = None) -> int:
    """Remove files older than two days that no upload row refers to."""
    return storage.sweep_orphans(storage.upload_root(), ORPHAN_AGE, now or utcnow())


@account_deleting.connect
def _erase_on_account_deletion(user: User, **kwargs) -> None:
    """Unused uploads go (rows and files); used ones stay with their case, owner unset."""
    rows = db.session.execute(
        delete(Upload)
        .where(Upload.owner_id == user.id, Upload.used_at.is_(None))
        .returning(Upload.path, Upload.thumb_path),
        execution_options={"synchronize_session": False},
    ).all()
    storage.remove_after_commit(storage.upload_root(), [n for row in rows for n in row])
    db.session.execute(
        update(Upload).where(Upload.owner_id == user.id).values(owner_id=None),
        execution_options={"synchronize_session": False},
    )
