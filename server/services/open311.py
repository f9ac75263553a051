"""Open311 GeoReport v2: API keys, public service requests, and filing through the interface.

What leaves through Open311 is the public view of a case only: never the reporter, a
contact phone or an internal note (``server/open311/render.py`` picks the fields). Cases
held for content review are not public; the ones filed here wait for a person the same way
(WeChat's content check needs a WeChat user, which an API caller is not) unless
``OPEN311_REVIEW_SUBMISSIONS`` is off.
"""

import datetime as dt
import hashlib
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from server.core.errors import not_found, unprocessable
from server.extensions import db
from server.models.complaints import (
    FINAL_STATUSES,
    PUBLIC_ACTIONS,
    Complaint,
    ComplaintCategory,
    ComplaintEvent,
)
from server.models.open311 import Open311ApiKey, Open311Submission
from server.models.users import User
from server.services.complaints import create_complaint
from server.util.bounds import MAX_ID
from server.util.clock import utcnow

KEY_PREFIX = "o311_"
DEFAULT_WINDOW = dt.timedelta(days=90)
MAX_WINDOW = dt.timedelta(days=90)
MAX_RESULTS = 1000
EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


# -- API keys -------------------------------------------------------------------------------------
def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(name: str, created_by: User | None, now: dt.datetime | None = None):
    """A new key: returns ``(row, key)``; the key itself is never stored, only its hash."""
    name = name.strip()
    if not name:
        raise unprocessable(
            "invalid_name", "请填写密钥使用方的名称", json={"name": ["名称不能为空"]}
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = Open311ApiKey(
        name=name,
        key_hash=hash_key(key),
        prefix=key[: len(KEY_PREFIX) + 6],
        created_by=created_by,
        created_at=now or utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    return row, key


def list_keys(page: int, page_size: int) -> dict:
    total = db.session.scalar(select(func.count()).select_from(Open311ApiKey))
    items = list(
        db.session.scalars(
            select(Open311ApiKey)
            .order_by(Open311ApiKey.revoked_at.is_not(None), Open311ApiKey.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    )
    return {
        "items": items,
        "page": page,
        "page_size": page_size,
        "total": total,
        "has_more": page * page_size < total,
    }


# An INTEGER primary key: larger numbers name no row (and PostgreSQL refuses to compare them).


def get_key(key_id: int) -> Open311ApiKey:
    row = db.session.get(Open311ApiKey, key_id) if 0 < key_id <= MAX_ID else None
    if row is None:
        raise not_found("API 密钥不存在")
    return row


def revoke_key(row: Open311ApiKey, now: dt.datetime | None = None) -> Open311ApiKey:
    """Revoke at once; revoking a revoked key changes nothing (the first time stays)."""
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
    return row


def authenticate(key: str | None, now: dt.datetime | None = None) -> Open311ApiKey | None:
    """The active key row for ``key``, marked as used; None for a missing, wrong or revoked key."""
    if not key or len(key) > 128:
        return None
    row = db.session.scalar(select(Open311ApiKey).where(Open311ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = now or utcnow()
    return row


# -- services (categories) -------------------------------------------------------------------------
def services() -> list[ComplaintCategory]:
    """Active categories, as the mini-program offers them."""
    return list(
        db.session.scalars(
            select(ComplaintCategory)
            .where(ComplaintCategory.active.is_(True))
            .order_by(ComplaintCategory.sort_order, ComplaintCategory.code)
        )
    )


def _comparable(text: str) -> bool:
    """Whether ``text`` can name a row: PostgreSQL refuses NUL even in a comparison."""
    return "\x00" not in text


def category(code: str, active_only: bool = True) -> ComplaintCategory | None:
    if not _comparable(code):
        return None
    query = select(ComplaintCategory).where(ComplaintCategory.code == code)
    if active_only:
        query = query.where(ComplaintCategory.active.is_(True))
    return db.session.scalar(query)


def known_codes(codes: list[str]) -> set[str]:
    """Which of ``codes`` name a category (active or not: old cases keep theirs)."""
    codes = [code for code in codes if _comparable(code)]
    return set(
        db.session.scalars(select(ComplaintCategory.code).where(ComplaintCategory.code.in_(codes)))
    )


# -- service requests (public cases) ---------------------------------------------------------------
def _public():
    return (
        select(Complaint)
        .where(Complaint.moderation == "ok")
        .options(selectinload(Complaint.photos), selectinload(Complaint.category))
    )


def find_requests(
    *,
    ids: list[int] | None = None,
    codes: list[str] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    statuses: list[str] | None = None,
    now: dt.datetime | None = None,
) -> list[Complaint]:
    """Public cases, newest first, at most 1000.

    ``ids`` overrides every other filter (as the spec says). Otherwise cases requested
    between ``start`` and ``end``; without them the last 90 days; one of them alone
    spans 90 days from it. The caller checks that the window is at most 90 days.
    """
    query = _public()
    if ids is not None:
        query = query.where(Complaint.id.in_([i for i in ids if 0 < i <= MAX_ID]))
    else:
        start, end = window(start, end, now)
        query = query.where(Complaint.created_at >= start, Complaint.created_at <= end)
        if codes:
            query = query.where(Complaint.category.has(ComplaintCategory.code.in_(codes)))
        wanted = set(statuses or ())
        if len(wanted) == 1:
            final = Complaint.status.in_(FINAL_STATUSES)
            query = query.where(final if wanted == {"closed"} else ~final)
    query = query.order_by(Complaint.created_at.desc(), Complaint.id.desc()).limit(MAX_RESULTS)
    return list(db.session.scalars(query))


def window(
    start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """The search window: both given as they are, one given spans 90 days, none the last 90."""
    if start is None and end is None:
        end = now or utcnow()
    if start is None:
        start = _shift(end, -DEFAULT_WINDOW)
    if end is None:
        end = _shift(start, DEFAULT_WINDOW)
    return start, end


def _shift(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """``moment + delta``, stopped at the ends of the calendar (years 1 and 9999)."""
    try:
        return moment + delta
    except OverflowError:
        return EARLIEST if delta < dt.timedelta(0) else LATEST


def get_request(complaint_id: int) -> Complaint | None:
    if not 0 < complaint_id <= MAX_ID:
        return None
    return db.session.scalar(_public().where(Complaint.id == complaint_id))


def latest_public_notes(complaints: list[Complaint]) -> dict[int, str]:
    """The last public note of each case (one query), for ``status_notes``."""
    if not complaints:
        return {}
    rows = db.session.execute(
        select(ComplaintEvent.complaint_id, ComplaintEvent.note)
        .where(
            ComplaintEvent.complaint_id.in_([c.id for c in complaints]),
            ComplaintEvent.action.in_(PUBLIC_ACTIONS),
            ComplaintEvent.note.is_not(None),
            ComplaintEvent.note != "",
        )
        .order_by(ComplaintEvent.id)
    ).all()
    return {complaint_id: note for complaint_id, note in rows}  # later rows win


def submitted_media(complaints: list[Complaint]) -> dict[int, str]:
    """``media_url`` values sent with cases filed through Open311."""
    if not complaints:
        return {}
    rows = db.session.execute(
        select(Open311Submission.complaint_id, Open311Submission.media_url).where(
            Open311Submission.complaint_id.in_([c.id for c in complaints]),
            Open311Submission.media_url.is_not(None),
        )
    ).all()
    return dict(rows)


# -- filing ----------------------------------------------------------------------------------------
def submit(
    api_key: Open311ApiKey,
    *,
    category_code: str,
    description: str,
    lat: float,
    lng: float,
    address: str,
    media_url: str | None = None,
    hold: bool = True,
    now: dt.datetime | None = None,
) -> Open311Submission:
    """File a case for an API caller (``lat``/``lng`` GCJ-02); no person is its reporter.

    With ``hold`` the case waits in the staff review queue and is not public until released.
    """
    now = now or utcnow()
    complaint = create_complaint(
        None,
        category_code,
        description,
        lat,
        lng,
        address,
        photos=[],
        anonymous=True,
        source="open311",
        now=now,
    )
    submitted = complaint.events[0]
    note = f"经 Open311 接口提交（{api_key.name}，密钥 {api_key.prefix}…）"
    if media_url:
        note += f"；附件链接 {media_url}"
    if hold:
        complaint.moderation = "held"
        note += "；待人工审核后公开"
    submitted.internal_note = note[:500]
    submission = Open311Submission(
        complaint=complaint,
        api_key=api_key,
        token=secrets.token_hex(16),
        media_url=media_url,
        created_at=now,
    )
    db.session.add(submission)
    db.session.flush()
    return submission


def by_token(token: str) -> Open311Submission | None:
    if not token or len(token) > 64 or not _comparable(token):
        return None
    return db.session.scalar(select(Open311Submission).where(Open311Submission.token == token))
