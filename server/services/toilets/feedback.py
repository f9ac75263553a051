"""Residents' ratings and reports, and the staff queue of reports.

Problem reports (``closed``, ``info_wrong``, ``dirty``, ``broken``) are queued for staff
here; ``create_report`` is the one place that turns a report into work, so routing them
into the complaint workflow (category 公厕) is a change to that function only.
``still_accurate`` confirmations refresh ``verified_at`` once enough different residents
have confirmed since the last verification.
"""

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from server.core.errors import AppError, conflict, not_found
from server.extensions import db
from server.integrations.wechat import wechat
from server.models.complaints import ComplaintCategory
from server.models.toilets import Toilet, ToiletRating, ToiletReport
from server.models.users import User
from server.services import notifications, uploads
from server.services.complaints import cases
from server.services.toilets import manage
from server.util.clock import utcnow

CONFIRMATIONS_NEEDED = 3
CONFIRMATION_WINDOW = dt.timedelta(days=30)
DUPLICATE_WINDOW = dt.timedelta(hours=24)
RECENT_REPORTS = dt.timedelta(days=30)
PROBLEM_KINDS = ("closed", "info_wrong", "dirty", "broken")
# Problems on the ground go to the case workflow; wrong data is for the toilet's editors.
COMPLAINT_KINDS = ("closed", "dirty", "broken")
TOILET_CATEGORY = "B0301"  # 公共厕所 in the complaint categories
REPORT_KIND_LABELS = {
    "closed": "不开放",
    "info_wrong": "信息有误",
    "dirty": "不干净",
    "broken": "设施损坏",
    "still_accurate": "信息准确",
}


def _live(toilet_id: int) -> Toilet:
    toilet = manage.get(toilet_id)
    if toilet.status == "removed":
        raise conflict("toilet_removed", "该公厕已撤除，无法评价或反馈")
    return toilet


# -- ratings ------------------------------------------------------------------------------------
def rate(
    user: User,
    toilet_id: int,
    *,
    cleanliness: int,
    smell: int,
    facilities: int,
    comment: str | None = None,
) -> ToiletRating:
    """Create or replace the user's rating of a toilet; comments go through msgSecCheck."""
    toilet = _live(toilet_id)
    comment = (comment or "").strip() or None
    comment_status = "visible"
    if comment:
        verdict = wechat.msg_sec_check(comment, user.openid)
        if verdict == "risky":
            raise AppError(422, "content_risky", "评论含有不当内容，请修改后再提交")
        if verdict == "review":
            comment_status = "hidden"
    values = {
        "cleanliness": cleanliness,
        "smell": smell,
        "facilities": facilities,
        "comment": comment,
        "comment_status": comment_status,
    }
    rating = _mine(user, toilet.id)
    if rating is None:
        rating = ToiletRating(toilet_id=toilet.id, user_id=user.id, **values)
        try:
            with db.session.begin_nested():
                db.session.add(rating)
        except IntegrityError:  # the same user's simultaneous first rating won; update it
            rating = _mine(user, toilet.id)
    for key, value in values.items():
        setattr(rating, key, value)
    db.session.flush()
    _refresh_average(toilet)
    return rating


def _mine(user: User, toilet_id: int) -> ToiletRating | None:
    return db.session.scalar(
        select(ToiletRating).where(
            ToiletRating.toilet_id == toilet_id, ToiletRating.user_id == user.id
        )
    )


def my_rating(user: User, toilet_id: int) -> ToiletRating:
    rating = _mine(user, manage.get(toilet_id).id)
    if rating is None:
        raise not_found("还没有评价过这座公厕")
    return rating


def _refresh_average(toilet: Toilet) -> None:
    score = (ToiletRating.cleanliness + ToiletRating.smell + ToiletRating.facilities) / 3.0
    count, average = db.session.execute(
        select(func.count(ToiletRating.id), func.avg(score)).where(
            ToiletRating.toilet_id == toilet.id
        )
    ).one()
    toilet.rating_count = count
    toilet.rating_avg = round(float(average), 2) if average is not None else None


def rating_summary(toilet: Toilet) -> dict:
    row = db.session.execute(
        select(
            func.count(ToiletRating.id),
            func.avg(ToiletRating.cleanliness),
            func.avg(ToiletRating.smell),
            func.avg(ToiletRating.facilities),
        ).where(ToiletRating.toilet_id == toilet.id)
    ).one()

    def avg(value):
        return round(float(value), 2) if value is not None else None

    return {
        "count": row[0],
        "average": toilet.rating_avg,
        "cleanliness": avg(row[1]),
        "smell": avg(row[2]),
        "facilities": avg(row[3]),
    }


def public_comments(toilet_id: int, page: int, page_size: int) -> tuple[list[ToiletRating], int]:
    manage.get(toilet_id)
    query = select(ToiletRating).where(
        ToiletRating.toilet_id == toilet_id,
        ToiletRating.comment.is_not(None),
        ToiletRating.comment_status == "visible",
    )
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(ToiletRating.updated_at.desc(), ToiletRating.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return list(items), total


def hidden_comments(page: int, page_size: int) -> tuple[list[ToiletRating], int]:
    query = select(ToiletRating).where(
        ToiletRating.comment.is_not(None), ToiletRating.comment_status == "hidden"
    )
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(ToiletRating.id).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return list(items), total


def moderate_comment(rating_id: int, publish: bool) -> ToiletRating:
    """Staff publish a comment held for review, or delete its text."""
    rating = manage.by_id(ToiletRating, rating_id)
    if rating is None or rating.comment is None:
        raise not_found("评论不存在")
    if publish:
        rating.comment_status = "visible"
    else:
        rating.comment = None
        rating.comment_status = "visible"
    return rating


# -- reports ------------------------------------------------------------------------------------
def create_report(
    user: User,
    toilet_id: int,
    *,
    kind: str,
    note: str | None = None,
    photo_ids: list[int] | None = None,
    now: dt.datetime | None = None,
) -> ToiletReport:
    """A resident's report; problems are queued for staff, confirmations may verify the data."""
    now = now or utcnow()
    toilet = _live(toilet_id)
    earlier = db.session.scalar(
        select(ToiletReport.id).where(
            ToiletReport.toilet_id == toilet.id,
            ToiletReport.user_id == user.id,
            ToiletReport.kind == kind,
            ToiletReport.created_at > now - DUPLICATE_WINDOW,
        )
    )
    if earlier is not None:
        raise conflict("report_duplicate", "你今天已经反馈过这个问题，我们会尽快处理")
    note = (note or "").strip() or None
    complaint = None
    if kind in COMPLAINT_KINDS and _complaints_accept_toilets():
        # The problem becomes a 12319 case: dispatched, tracked and counted like any other;
        # the case takes (claims) the photos.
        complaint = cases.create_complaint(
            user,
            TOILET_CATEGORY,
            _complaint_text(toilet, kind, note),
            toilet.lat,
            toilet.lng,
            toilet.address or toilet.name,
            photo_ids or [],
            source="toilet_report",
            now=now,
        )
        photos = complaint.report_uploads
    else:
        photos = uploads.claim(user, photo_ids or [], "toilet_report", now=now)
    report = ToiletReport(
        toilet_id=toilet.id,
        user_id=user.id,
        kind=kind,
        note=note,
        photo_ids=[p.id for p in photos],
        status="noted" if kind == "still_accurate" else "open",
        complaint_id=complaint.id if complaint else None,
        created_at=now,
    )
    db.session.add(report)
    db.session.flush()
    if kind == "still_accurate":
        _maybe_verify(toilet, now)
    return report


def _complaints_accept_toilets() -> bool:
    """Whether the public-toilet category is active (admins may switch categories off)."""
    return (
        db.session.scalar(
            select(ComplaintCategory.id).where(
                ComplaintCategory.code == TOILET_CATEGORY, ComplaintCategory.active.is_(True)
            )
        )
        is not None
    )


def _complaint_text(toilet: Toilet, kind: str, note: str | None) -> str:
    text = f"【公厕反馈】{toilet.name}：{REPORT_KIND_LABELS[kind]}"
    return f"{text}。{note}" if note else text


def _maybe_verify(toilet: Toilet, now: dt.datetime) -> None:
    since = now - CONFIRMATION_WINDOW
    if toilet.verified_at is not None and toilet.verified_at > since:
        since = toilet.verified_at
    confirmed = db.session.scalar(
        select(func.count(func.distinct(ToiletReport.user_id))).where(
            ToiletReport.toilet_id == toilet.id,
            ToiletReport.kind == "still_accurate",
            ToiletReport.user_id.is_not(None),
            ToiletReport.created_at > since,
        )
    )
    if confirmed >= CONFIRMATIONS_NEEDED:
        manage.verify(None, toilet, reason=f"{confirmed}位居民确认信息准确", now=now)


def recent_problem_count(toilet: Toilet, now: dt.datetime | None = None) -> int:
    now = now or utcnow()
    return db.session.scalar(
        select(func.count(ToiletReport.id)).where(
            ToiletReport.toilet_id == toilet.id,
            ToiletReport.kind.in_(PROBLEM_KINDS),
            ToiletReport.created_at > now - RECENT_REPORTS,
        )
    )


def list_reports(
    *, status: str | None, toilet_id: int | None, page: int, page_size: int
) -> tuple[list[ToiletReport], int]:
    query = select(ToiletReport).where(ToiletReport.kind.in_(PROBLEM_KINDS))
    if status:
        query = query.where(ToiletReport.status == status)
    if toilet_id:
        query = query.where(ToiletReport.toilet_id == toilet_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(ToiletReport.created_at, ToiletReport.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return list(items), total


def resolve_report(
    staff: User,
    report_id: int,
    *,
    outcome: str,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> ToiletReport:
    """Close a queued report as ``resolved`` or ``dismissed``; the reporter is told."""
    now = now or utcnow()
    report = manage.by_id(ToiletReport, report_id)
    if report is None or report.kind not in PROBLEM_KINDS:
        raise not_found("反馈不存在")
    # Guarded update: two staff closing the same report cannot both succeed.
    done = db.session.execute(
        update(ToiletReport)
        .where(ToiletReport.id == report.id, ToiletReport.status == "open")
        .values(status=outcome, resolved_at=now, resolved_by_id=staff.id, resolution_note=note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise conflict("report_closed", "该反馈已处理")
    db.session.refresh(report)
    reporter = db.session.get(User, report.user_id) if report.user_id else None
    notifications.notify(
        reporter,
        subject_type="toilet_report",
        subject_id=report.id,
        event=outcome,
        template="toilet_report_result",
        data={
            "thing1": notifications.thing(report.toilet.name),
            "phrase2": notifications.phrase("已处理" if outcome == "resolved" else "已核实"),
            "thing3": notifications.thing(note or REPORT_KIND_LABELS[report.kind]),
            "time4": notifications.time_value(now),
        },
        page=f"pages/toilets/detail?id={report.toilet_id}",
    )
    return report


# -- account deletion ---------------------------------------------------------------------------
def erase_user(user: User) -> None:
    """Ratings keep their scores and reports their content, without the author; comments go."""
    db.session.execute(
        update(ToiletRating)
        .where(ToiletRating.user_id == user.id)
        .values(user_id=None, comment=None, comment_status="visible")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(ToiletReport)
        .where(ToiletReport.user_id == user.id)
        .values(user_id=None)
        .execution_options(synchronize_session=False)
    )
