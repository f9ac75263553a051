"""Farmer profiles: application, staff verification, strikes and suspension, erasure."""

import datetime as dt

from sqlalchemy import func, or_, select

from server.core.errors import AppError
from server.extensions import db
from server.models.stalls import FarmerProfile, StallBooking, StallSlot
from server.models.users import User
from server.services.stalls import notices, rules
from server.util.clock import CST, utcnow

# A change of these sends an approved profile back to verification.
IDENTITY_FIELDS = ("real_name", "township", "village")


def find_profile(user: User) -> FarmerProfile | None:
    return db.session.scalar(select(FarmerProfile).where(FarmerProfile.user_id == user.id))


def get_profile(user: User) -> FarmerProfile:
    profile = find_profile(user)
    if profile is None or profile.erased_at is not None:
        raise AppError(404, "farmer_profile_not_found", "尚未提交农户资料")
    return profile


def _bound_phone(user: User) -> str:
    if not user.phone:
        raise AppError(
            422, "phone_required", "请先绑定手机号", errors={"json": {"phone": ["请先绑定手机号"]}}
        )
    return user.phone


def apply(user: User, now: dt.datetime | None = None, **fields) -> FarmerProfile:
    """Apply (or re-apply after a rejection) to sell as a farmer; staff verify it."""
    now = now or utcnow()
    phone = _bound_phone(user)
    fields.pop("self_produce_declared", None)  # the schema only accepts true
    profile = find_profile(user)
    if profile is not None and profile.erased_at is None and profile.status != "rejected":
        raise AppError(409, "profile_exists", "已提交过农户资料，如需修改请编辑")
    if profile is None:
        profile = FarmerProfile(user_id=user.id, user=user)
        db.session.add(profile)
    for key, value in fields.items():
        setattr(profile, key, value)
    profile.phone = phone
    profile.self_produce_declared_at = now
    profile.status = "pending"
    profile.rejection_reason = None
    profile.reviewed_at = profile.reviewed_by_id = None
    profile.erased_at = None
    db.session.flush()
    return profile


def update(user: User, now: dt.datetime | None = None, **changes) -> FarmerProfile:
    now = now or utcnow()
    profile = get_profile(user)
    if changes.pop("self_produce_declared", None):
        profile.self_produce_declared_at = now
    identity_changed = any(
        key in changes and changes[key] != getattr(profile, key) for key in IDENTITY_FIELDS
    )
    for key, value in changes.items():
        setattr(profile, key, value)
    if user.phone and user.phone != profile.phone:
        profile.phone = user.phone  # re-bound through POST /me/phone
        identity_changed = True
    if profile.status == "rejected" or (profile.status == "approved" and identity_changed):
        # A corrected re-application, or new identity data: verify again.
        profile.status = "pending"
        profile.rejection_reason = None
    return profile


def review(
    staff: User,
    profile: FarmerProfile,
    decision: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> FarmerProfile:
    if profile.erased_at is not None:
        raise AppError(404, "farmer_profile_not_found", "农户资料不存在")
    if profile.status != "pending":
        raise AppError(409, "profile_not_pending", "该资料已审核过")
    profile.status = "approved" if decision == "approve" else "rejected"
    profile.rejection_reason = reason if decision == "reject" else None
    profile.reviewed_by_id = staff.id
    profile.reviewed_at = now or utcnow()
    notices.reviewed(profile)
    return profile


def get_profile_by_id(profile_id: int) -> FarmerProfile:
    profile = db.session.get(FarmerProfile, profile_id)
    if profile is None or profile.erased_at is not None:
        raise AppError(404, "farmer_profile_not_found", "农户资料不存在")
    return profile


def list_profiles(status: str | None):
    query = select(FarmerProfile).where(FarmerProfile.erased_at.is_(None))
    if status:
        query = query.where(FarmerProfile.status == status)
    return query.order_by(FarmerProfile.created_at, FarmerProfile.id)


def require_bookable(user: User, now: dt.datetime) -> FarmerProfile:
    """The farmer's approved profile, or a 403 saying why they cannot book (and until when)."""
    profile = find_profile(user)
    if profile is None or profile.erased_at is not None:
        raise AppError(403, "farmer_profile_required", "请先提交农户资料并通过审核")
    if profile.status == "pending":
        raise AppError(403, "farmer_not_verified", "农户资料正在审核中，审核通过后才能预约")
    if profile.status == "rejected":
        raise AppError(
            403,
            "farmer_rejected",
            f"农户资料未通过审核：{profile.rejection_reason}，请修改后重新提交",
            errors={"reason": profile.rejection_reason},
        )
    if profile.suspended_until is not None and now < profile.suspended_until:
        until = profile.suspended_until.astimezone(CST)
        raise AppError(
            403,
            "farmer_suspended",
            f"因多次爽约或临时取消，预约已暂停至{until:%Y-%m-%d %H:%M}",
            errors={"suspended_until": until.isoformat()},
        )
    return profile


# -- strikes: no-shows and late cancellations ----------------------------------------------
def strike_count(user_id: int, since: dt.datetime, now: dt.datetime) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(StallBooking)
        .join(StallSlot, StallSlot.id == StallBooking.slot_id)
        .where(
            StallBooking.user_id == user_id,
            or_(
                (StallBooking.status == "no_show")
                & (StallSlot.starts_at > since)
                & (StallSlot.starts_at <= now),
                (StallBooking.status == "cancelled_late")
                & (StallBooking.cancelled_at > since)
                & (StallBooking.cancelled_at <= now),
            ),
        )
    )


def record_strike(user_id: int, now: dt.datetime) -> FarmerProfile | None:
    """After a no-show or late cancel: suspend when the limit is reached in the window."""
    profile = db.session.scalar(select(FarmerProfile).where(FarmerProfile.user_id == user_id))
    if profile is None or profile.erased_at is not None:
        return None
    since = now - dt.timedelta(days=rules.rule("STRIKE_WINDOW_DAYS"))
    if profile.strikes_since is not None and profile.strikes_since > since:
        since = profile.strikes_since
    if strike_count(user_id, since, now) >= rules.rule("STRIKE_LIMIT"):
        profile.suspended_until = now + dt.timedelta(days=rules.rule("SUSPENSION_DAYS"))
        profile.strikes_since = now  # a new suspension needs new strikes
    return profile


def strikes_of(profile: FarmerProfile, now: dt.datetime) -> int:
    since = now - dt.timedelta(days=rules.rule("STRIKE_WINDOW_DAYS"))
    if profile.strikes_since is not None and profile.strikes_since > since:
        since = profile.strikes_since
    return strike_count(profile.user_id, since, now)


def erase(profile: FarmerProfile, now: dt.datetime) -> None:
    profile.real_name = None
    profile.phone = None
    profile.township = None
    profile.village = None
    profile.produce_types = []
    profile.rejection_reason = None
    profile.erased_at = now


def with_strikes(profile: FarmerProfile, now: dt.datetime | None = None) -> FarmerProfile:
    """The profile with ``strikes`` (counting now) set, for display."""
    profile.strikes = strikes_of(profile, now or utcnow())
    return profile
