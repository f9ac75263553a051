"""Filing a complaint, finding similar ones, following, and what each person may see."""

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer, selectinload

from server.core.errors import AppError, not_found
from server.extensions import db
from server.integrations.wechat import wechat
from server.models.complaints import (
    OPEN_STATUSES,
    Complaint,
    ComplaintCategory,
    ComplaintFollower,
    ComplaintPhoto,
)
from server.models.users import User
from server.services import uploads
from server.services.complaints import workflow
from server.util import geo
from server.util.clock import utcnow

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 1000
SIMILAR_RADIUS_M = 250
SIMILAR_WINDOW = dt.timedelta(days=7)
SIMILAR_LIMIT = 10


def category_by_code(code: str) -> ComplaintCategory:
    category = db.session.scalar(
        select(ComplaintCategory).where(
            ComplaintCategory.code == code, ComplaintCategory.active.is_(True)
        )
    )
    if category is None:
        raise AppError(
            422,
            "unknown_category",
            "请选择有效的问题类别",
            errors={"json": {"category": ["问题类别不存在或已停用"]}},
        )
    return category


def _check_content(reporter: User | None, text: str) -> str:
    """msgSecCheck v2: ``ok`` to publish, ``held`` for review; ``risky`` is refused."""
    if reporter is None:
        return "ok"
    try:
        suggest = wechat.msg_sec_check(text, reporter.openid)
    except AppError:
        # WeChat is down: do not lose the report; a person reviews it instead.
        log.warning("msgSecCheck unavailable; complaint held for review")
        return "held"
    if suggest == "risky":
        raise AppError(
            422,
            "content_risky",
            "内容含有违规信息，请修改后重新提交",
            errors={"json": {"description": ["内容未通过安全检测"]}},
        )
    return "held" if suggest == "review" else "ok"


def create_complaint(
    reporter: User | None,
    category_code: str,
    description: str,
    lat: float,
    lng: float,
    address: str,
    photos: list[int],
    anonymous: bool = False,
    contact_phone: str | None = None,
    source: str = "miniprogram",
    now: dt.datetime | None = None,
) -> Complaint:
    """File a complaint (usable without HTTP, e.g. by the toilets feature).

    ``lat``/``lng`` are GCJ-02; ``photos`` are upload ids of ``reporter``, each used once.
    Raises 422 for an unknown category, empty or too long text, risky content or bad photos;
    the caller's transaction then rolls back and nothing is written.
    """
    now = now or utcnow()
    description = (description or "").strip()
    if not description or len(description) > MAX_DESCRIPTION:
        raise AppError(
            422,
            "invalid_description",
            f"问题描述不能为空，且不超过{MAX_DESCRIPTION}字",
            errors={"json": {"description": ["长度应为1到1000字"]}},
        )
    if not geo.in_china_bbox(lat, lng) or (lat == 0 and lng == 0):
        raise AppError(
            422, "invalid_location", "位置不在服务范围内", errors={"json": {"lat": ["坐标无效"]}}
        )
    category = category_by_code(category_code)
    taken = uploads.claim(reporter, photos, "complaint", now=now) if photos else []
    moderation = _check_content(reporter, f"{description}\n{address}")
    complaint = Complaint(
        category=category,
        description=description,
        lat=lat,
        lng=lng,
        address=address.strip(),
        reporter=reporter,
        anonymous=anonymous,
        contact_phone=contact_phone or None,
        source=source,
        status="submitted",
        moderation=moderation,
        created_at=now,
        updated_at=now,
    )
    complaint.photos = [
        ComplaintPhoto(upload=upload, stage="report", position=position)
        for position, upload in enumerate(taken, start=1)
    ]
    db.session.add(complaint)
    db.session.flush()
    workflow.record(
        complaint,
        "submit",
        reporter,
        actor_role="reporter",
        from_status=None,
        note=None,
        internal_note="内容安全检测待人工审核" if moderation == "held" else None,
        now=now,
    )
    return complaint


# -- reading ------------------------------------------------------------------------------------
def _load(complaint_id: int, for_update: bool) -> Complaint | None:
    if not for_update:
        return db.session.get(Complaint, complaint_id)
    # Lock the row first (PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE), then
    # read it fresh: two staff acting at once cannot both move the case from the same status.
    found = db.session.scalar(
        select(Complaint.id).where(Complaint.id == complaint_id).with_for_update()
    )
    if found is None:
        return None
    return db.session.get(Complaint, complaint_id, populate_existing=True)


def get(complaint_id: int, for_update: bool = False) -> Complaint:
    complaint = _load(complaint_id, for_update)
    if complaint is None:
        raise not_found("案件不存在")
    return complaint


def get_visible(
    complaint_id: int, user: User | None, for_update: bool = False
) -> tuple[Complaint, bool]:
    """The case and whether ``user`` is its reporter; held cases exist only for the reporter."""
    complaint = _load(complaint_id, for_update)
    if complaint is None:
        raise not_found("案件不存在")
    is_reporter = user is not None and complaint.reporter_id == user.id
    if complaint.moderation == "held" and not is_reporter:
        raise not_found("案件不存在")
    return complaint, is_reporter


def _page(query, page: int, page_size: int) -> dict:
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    # Photos (and their uploads) in one more query, not one per listed case.
    page_query = query.options(selectinload(Complaint.photos))
    items = list(db.session.scalars(page_query.limit(page_size).offset((page - 1) * page_size)))
    return {
        "items": items,
        "page": page,
        "page_size": page_size,
        "total": total,
        "has_more": page * page_size < total,
    }


def list_mine(user: User, scope: str, page: int, page_size: int) -> dict:
    if scope == "following":
        query = (
            select(Complaint)
            .join(ComplaintFollower, ComplaintFollower.complaint_id == Complaint.id)
            .where(ComplaintFollower.user_id == user.id)
        )
    else:
        query = select(Complaint).where(Complaint.reporter_id == user.id)
    # The list never shows the contact phone: do not decrypt it for every row.
    query = query.options(defer(Complaint.contact_phone))
    return _page(query.order_by(Complaint.id.desc()), page, page_size)


def similar(
    category_code: str, lat: float, lng: float, now: dt.datetime | None = None
) -> list[tuple[Complaint, float]]:
    """Open, public cases of the category within 250 m filed in the last 7 days, nearest first."""
    now = now or utcnow()
    category = category_by_code(category_code)
    south, west, north, east = geo.bbox_around(lat, lng, SIMILAR_RADIUS_M)
    candidates = db.session.scalars(
        select(Complaint).where(
            Complaint.category_id == category.id,
            Complaint.status.in_(OPEN_STATUSES),
            Complaint.moderation == "ok",
            Complaint.created_at >= now - SIMILAR_WINDOW,
            Complaint.lat.between(south, north),
            Complaint.lng.between(west, east),
        )
    )
    found = [
        (complaint, distance)
        for complaint in candidates
        if (distance := geo.haversine_m(lat, lng, complaint.lat, complaint.lng)) <= SIMILAR_RADIUS_M
    ]
    found.sort(key=lambda pair: (pair[1], -pair[0].id))
    return found[:SIMILAR_LIMIT]


# -- following ("+1 / 关注") ----------------------------------------------------------------------
def follow(complaint_id: int, user: User) -> Complaint:
    complaint, is_reporter = get_visible(complaint_id, user, for_update=True)
    if is_reporter:
        raise AppError(409, "own_complaint", "这是您自己反映的问题，进展会通知您")
    if complaint.status not in OPEN_STATUSES:
        raise AppError(409, "complaint_finished", "该案件已结束，无法关注")
    try:
        with db.session.begin_nested():
            db.session.add(ComplaintFollower(complaint_id=complaint.id, user_id=user.id))
    except IntegrityError:
        return complaint  # already following: the same answer again
    _recount_followers(complaint)
    return complaint


def unfollow(complaint_id: int, user: User) -> Complaint:
    complaint, _ = get_visible(complaint_id, user, for_update=True)
    row = db.session.scalar(
        select(ComplaintFollower).where(
            ComplaintFollower.complaint_id == complaint.id, ComplaintFollower.user_id == user.id
        )
    )
    if row is not None:
        db.session.delete(row)
        db.session.flush()
        _recount_followers(complaint)
    return complaint


def _recount_followers(complaint: Complaint) -> None:
    # Counted from the rows (not +1) so concurrent follows never drift.
    complaint.follower_count = db.session.scalar(
        select(func.count())
        .select_from(ComplaintFollower)
        .where(ComplaintFollower.complaint_id == complaint.id)
    )


def is_following(complaint: Complaint, user: User | None) -> bool:
    if user is None:
        return False
    return (
        db.session.scalar(
            select(ComplaintFollower.id).where(
                ComplaintFollower.complaint_id == complaint.id,
                ComplaintFollower.user_id == user.id,
            )
        )
        is not None
    )


# -- account deletion ------------------------------------------------------------------------------
def anonymise_user(user: User) -> None:
    """Receiver of ``account_deleting``: the cases stay, the reporter's personal data goes."""
    for complaint in db.session.scalars(select(Complaint).where(Complaint.reporter_id == user.id)):
        complaint.reporter_id = None
        complaint.contact_phone = None
        complaint.anonymous = True
        complaint.rating_comment = None
    followed = list(
        db.session.scalars(select(ComplaintFollower).where(ComplaintFollower.user_id == user.id))
    )
    for row in followed:
        db.session.delete(row)
    db.session.flush()
    for complaint_id in {row.complaint_id for row in followed}:
        _recount_followers(db.session.get(Complaint, complaint_id))
