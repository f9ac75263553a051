"""Staff data management: create, update, status changes, verification, audit history."""

import datetime as dt

from sqlalchemy import func, select

from server.core.errors import AppError, conflict, not_found
from server.extensions import db
from server.models.toilets import FACILITIES, Toilet, ToiletAudit
from server.models.users import User
from server.services import uploads
from server.services.toilets import search
from server.util.bounds import MAX_ID
from server.util.clock import utcnow

DUPLICATE_DISTANCE_M = 30
MAX_PHOTOS = 9
COORD_EPSILON = 1e-7
FIELDS = (
    "external_id",
    "name",
    "address",
    "district",
    "street",
    "lat",
    "lng",
    "category",
    "kind",
    "access",
    "managing_unit",
    "contact_phone",
    "opening_hours",
    *FACILITIES,
    "stalls_male",
    "stalls_female",
    "stalls_accessible",
)


def by_id(model, object_id: int):
    """``db.session.get``, or None for an id no INTEGER column can hold (from a URL)."""
    if not 0 < object_id <= MAX_ID:
        return None
    return db.session.get(model, object_id)


def get(toilet_id: int) -> Toilet:
    toilet = by_id(Toilet, toilet_id)
    if toilet is None:
        raise not_found("公厕不存在")
    return toilet


def flatten(values: dict) -> dict:
    """Schema shape (``location``, ``facilities``, ``stalls``) to column values."""
    flat = {k: v for k, v in values.items() if k not in ("location", "facilities", "stalls")}
    if values.get("location"):
        flat["lat"], flat["lng"] = values["location"]["lat"], values["location"]["lng"]
    flat.update(values.get("facilities") or {})
    for key, count in (values.get("stalls") or {}).items():
        flat[f"stalls_{key}"] = count
    return flat


def _plain(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def record(
    toilet: Toilet, actor: User | None, action: str, changes: dict, reason: str | None = None
) -> ToiletAudit:
    entry = ToiletAudit(
        toilet_id=toilet.id,
        actor_id=actor.id if actor else None,
        action=action,
        changes={k: [_plain(old), _plain(new)] for k, (old, new) in changes.items()},
        reason=reason,
    )
    db.session.add(entry)
    return entry


def apply(toilet: Toilet, values: dict) -> dict:
    """Set ``values`` on the toilet; answers ``{field: (old, new)}`` for what really changed."""
    changes = {}
    for field in FIELDS:
        if field not in values:
            continue
        old, new = getattr(toilet, field), values[field]
        if field in ("lat", "lng") and old is not None and abs(old - new) < COORD_EPSILON:
            continue  # a file rounded to 7 decimals (1 cm) has not moved the toilet
        if old != new:
            setattr(toilet, field, new)
            changes[field] = (old, new)
    return changes


def _check_external_id(external_id: str | None, toilet_id: int | None = None) -> None:
    if not external_id:
        return
    query = select(Toilet.id).where(Toilet.external_id == external_id)
    if toilet_id is not None:
        query = query.where(Toilet.id != toilet_id)
    if db.session.scalar(query) is not None:
        raise conflict("external_id_taken", "外部编号已被其他公厕使用")


def duplicates_near(lat: float, lng: float, exclude_id: int | None = None) -> list[dict]:
    return [
        {"toilet_id": t.id, "name": t.name, "distance_m": round(d, 1)}
        for d, t in search.nearest_within(lat, lng, DUPLICATE_DISTANCE_M)
        if t.id != exclude_id
    ]


def _claim_photos(actor: User, toilet: Toilet, photo_ids: list[int]) -> dict:
    if len(photo_ids) > MAX_PHOTOS:
        raise AppError(422, "too_many_photos", f"最多{MAX_PHOTOS}张照片")
    new = [i for i in photo_ids if i not in (toilet.photo_ids or [])]
    uploads.claim(actor, new, "toilet_photo")
    old = list(toilet.photo_ids or [])
    if old == photo_ids:
        return {}
    toilet.photo_ids = list(photo_ids)
    return {"photo_ids": (old, list(photo_ids))}


def create(
    actor: User,
    values: dict,
    *,
    allow_duplicate: bool = False,
    photo_ids: list[int] | None = None,
    now: dt.datetime | None = None,
) -> Toilet:
    now = now or utcnow()
    values = flatten(values)
    _check_external_id(values.get("external_id"))
    if not allow_duplicate:
        near = duplicates_near(values["lat"], values["lng"])
        if near:
            raise AppError(
                409,
                "likely_duplicate",
                f"{DUPLICATE_DISTANCE_M}米内已有公厕，确认不是重复后请勾选“仍然添加”",
                errors={"duplicates": near},
            )
    toilet = Toilet(photo_ids=[])
    apply(toilet, values)
    changes = {f: (None, values[f]) for f in FIELDS if values.get(f) is not None}
    toilet.verified_at = now
    db.session.add(toilet)
    db.session.flush()
    changes.update(_claim_photos(actor, toilet, photo_ids or []))
    record(toilet, actor, "create", changes)
    return toilet


def update(
    actor: User,
    toilet: Toilet,
    values: dict,
    *,
    photo_ids: list[int] | None = None,
    now: dt.datetime | None = None,
) -> Toilet:
    now = now or utcnow()
    if toilet.status == "removed":
        raise conflict("toilet_removed", "该公厕已撤除，请先恢复开放再修改")
    values = flatten(values)
    _check_external_id(values.get("external_id"), toilet.id)
    changes = apply(toilet, values)
    if photo_ids is not None:
        changes.update(_claim_photos(actor, toilet, photo_ids))
    if changes:
        toilet.verified_at = now
        record(toilet, actor, "update", changes)
    return toilet


def change_status(
    actor: User,
    toilet: Toilet,
    status: str,
    *,
    reason: str | None = None,
    reopen_on: dt.date | None = None,
) -> Toilet:
    """Open, temporarily close (reason, expected reopening) or remove (reason) a toilet."""
    if status == toilet.status == "removed":
        raise conflict("toilet_removed", "该公厕已撤除")
    if status == "open":
        reason, reopen_on = None, None
    changes = apply_status(toilet, status, reason, reopen_on)
    if changes:
        record(toilet, actor, "status", changes, reason=reason)
    return toilet


def apply_status(toilet: Toilet, status: str, reason, reopen_on) -> dict:
    changes = {}
    for field, new in (("status", status), ("status_reason", reason), ("reopen_on", reopen_on)):
        old = getattr(toilet, field)
        if old != new:
            setattr(toilet, field, new)
            changes[field] = (old, new)
    return changes


def verify(actor: User | None, toilet: Toilet, reason: str | None = None, now=None) -> Toilet:
    """Someone confirmed the data is still accurate."""
    now = now or utcnow()
    record(toilet, actor, "verify", {"verified_at": (toilet.verified_at, now)}, reason=reason)
    toilet.verified_at = now
    return toilet


def listing(
    *, q: str | None, status: str | None, page: int, page_size: int
) -> tuple[list[Toilet], int]:
    query = select(Toilet)
    if q:
        query = query.where(Toilet.name.contains(q, autoescape=True))
    if status:
        query = query.where(Toilet.status == status)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(Toilet.id).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return list(items), total


def history(toilet: Toilet, page: int = 1, page_size: int = 20) -> tuple[list[ToiletAudit], int]:
    query = select(ToiletAudit).where(ToiletAudit.toilet_id == toilet.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(ToiletAudit.id.desc()).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return list(items), total
