"""The authorization matrix: every endpoint × every kind of caller → the expected status.

Callers: anonymous, a resident (who owns the complaints, ratings, reports and uploads), another
resident, a farmer whose profile is pending, an approved farmer (who owns the bookings and the
waitlist entry), a suspended farmer, staff and an admin. Each caller gets a fresh database with
only the objects its row needs, so one caller's request cannot change what the next one sees.
Another person's private object answers 404, never 403, so ids cannot be probed; no response
to a non-staff caller carries another person's phone number or real name.

Every (method, rule) of ``app.url_map`` under ``/api/`` and ``/media/`` (the OpenAPI document
and its viewer excepted) must have a row: a new endpoint without one fails
``test_every_endpoint_has_a_row``.
"""

import datetime as dt
import functools
import io
import uuid
from dataclasses import dataclass

import pytest
from PIL import Image

from server.app import create_app
from server.core.ratelimit import limiter
from server.extensions import db
from server.models.complaints import ComplaintExtension
from server.models.stalls import Closure, FarmerProfile, StallBooking
from server.models.toilets import Toilet, ToiletReport
from server.models.uploads import Upload
from server.models.users import User
from server.services import auth as auth_service
from server.services import uploads as uploads_service
from server.services.complaints import cases, workflow
from server.services.complaints import staff as complaints_staff
from server.services.stalls import bookings, checkin
from server.services.toilets import feedback
from server.util.clock import local_today, utcnow
from tests.conftest import _clean, base_config
from tests.stalls_factories import make_point, morning, move_slot, tomorrow

ROLES = (
    "anonymous",
    "resident",
    "other",
    "farmer_pending",
    "farmer",
    "farmer_suspended",
    "staff",
    "admin",
)
USERS = ROLES[1:]
NON_STAFF = ("resident", "other", "farmer_pending", "farmer", "farmer_suspended")
FARMERS = {"farmer_pending": "pending", "farmer": "approved", "farmer_suspended": "approved"}
# Personal data of each caller, unique strings searched for in every response.
PHONES = {role: f"1390000{n:04d}" for n, role in enumerate(USERS, start=1)}
REAL_NAMES = {"farmer_pending": "甄待审", "farmer": "王守约", "farmer_suspended": "赵暂停"}
CONTACT_PHONE = "13711112222"  # on the resident's complaints
EXCLUDED = {"/api/docs", "/api/docs/static/<path:filename>", "/api/v1/openapi.json"}
LAT, LNG = 30.2741, 120.1551  # GCJ-02, the city centre; every object sits near it
TODAY = local_today()


# -- expected statuses -----------------------------------------------------------------------------
def everyone(status: int) -> dict:
    return dict.fromkeys(ROLES, status)


def users(status: int, **overrides) -> dict:
    """Any logged-in caller; anonymous is 401."""
    return {"anonymous": 401, **dict.fromkeys(USERS, status), **overrides}


def staff_only(status: int) -> dict:
    return users(403, staff=status, admin=status)


def admin_only(status: int) -> dict:
    return users(403, admin=status)


def owner(role: str, status: int, others: int = 404) -> dict:
    """Only ``role`` may touch it; every other logged-in caller is told it does not exist."""
    return users(others, **{role: status})


# -- the world: callers and their objects, created when a row first asks for them ------------------
class World:
    def __init__(self):
        self._uploads: dict[str, Upload] = {}

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else self.users[role]

    @functools.cached_property
    def users(self) -> dict[str, User]:
        made = {}
        for role in USERS:
            user = User(
                openid=f"o_{role}_{uuid.uuid4().hex[:8]}",
                nickname=f"昵称{role}",
                phone=PHONES[role],
                phone_country_code="86",
                role=role if role in ("staff", "admin") else "resident",
            )
            db.session.add(user)
            made[role] = user
        db.session.flush()
        for role, status in FARMERS.items():
            db.session.add(
                FarmerProfile(
                    user_id=made[role].id,
                    real_name=REAL_NAMES[role],
                    phone=PHONES[role],
                    township="城南镇",
                    village="桃源村",
                    produce_types=["蔬菜"],
                    self_produce_declared_at=utcnow(),
                    status=status,
                    suspended_until=utcnow() + dt.timedelta(days=10)
                    if role == "farmer_suspended"
                    else None,
                )
            )
        db.session.commit()
        return made

    def headers(self, role: str) -> dict:
        if role == "anonymous":
            return {}
        token, _ = auth_service.issue_token(self.users[role], 3600)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    def upload_of(self, role: str) -> int:
        """An unused photo of ``role`` (a real file, so /media/ can serve it)."""
        if role not in self._uploads:
            image = Image.new("RGB", (40, 30), (200, 30, 30))
            data = io.BytesIO()
            image.save(data, "JPEG")
            data.seek(0)
            upload = uploads_service.create_upload(self.users[role], data)
            db.session.commit()
            self._uploads[role] = upload
        return self._uploads[role].id

    @functools.cached_property
    def media_path(self) -> str:
        self.upload_of("resident")
        return self._uploads["resident"].path

    # complaints, all filed by "resident" with a contact phone, moved on by a clerk
    @functools.cached_property
    def reference(self) -> bool:
        complaints_staff.seed_reference_data()
        db.session.commit()
        return True

    @functools.cached_property
    def clerk(self) -> User:
        clerk = User(openid=f"o_clerk_{uuid.uuid4().hex[:8]}", nickname="办案员", role="staff")
        db.session.add(clerk)
        db.session.commit()
        return clerk

    def _case(self, status: str = "submitted", held: bool = False, reporter=None) -> int:
        assert self.reference
        complaint = cases.create_complaint(
            reporter or self.users["resident"],
            "B0102",
            "人民路井盖缺失，夜里很危险",
            LAT,
            LNG,
            "人民路1号",
            [],
            contact_phone=CONTACT_PHONE,
        )
        if held:
            complaint.moderation = "held"
        steps = ["accepted", "dispatched", "resolved", "verified", "closed"]
        for step in steps[: steps.index(status) + 1] if status in steps else []:
            if step == "accepted":
                workflow.accept(complaint, self.clerk)
            elif step == "dispatched":
                workflow.dispatch(complaint, self.clerk)
            elif step == "resolved":
                photo = make_upload(self.clerk)
                workflow.resolve(complaint, self.clerk, photo_ids=[photo.id])
            elif step == "verified":
                workflow.verify(complaint, self.clerk, passed=True)
            elif step == "closed":
                workflow.close(complaint, self.clerk, note="已修复")
        db.session.commit()
        return complaint.id

    complaint = functools.cached_property(lambda self: self._case())
    held = functools.cached_property(lambda self: self._case(held=True))
    accepted = functools.cached_property(lambda self: self._case("accepted"))
    dispatched = functools.cached_property(lambda self: self._case("dispatched"))
    resolved = functools.cached_property(lambda self: self._case("resolved"))
    verified = functools.cached_property(lambda self: self._case("verified"))
    closed = functools.cached_property(lambda self: self._case("closed"))

    @functools.cached_property
    def other_complaint(self) -> int:
        """Someone else's open case (a merge target)."""
        return self._case(reporter=self.clerk)

    @functools.cached_property
    def extension(self) -> tuple[int, int]:
        complaint_id = self.dispatched
        extension = ComplaintExtension(
            complaint_id=complaint_id,
            amount=2,
            limit_unit="working_days",
            reason="需订购特殊规格井盖",
            status="pending",
            requested_by_id=self.clerk.id,
            requested_at=utcnow(),
        )
        db.session.add(extension)
        db.session.commit()
        return complaint_id, extension.id

    @functools.cached_property
    def category_id(self) -> int:
        assert self.reference
        return complaints_staff.list_categories(include_inactive=True)[0].id

    @functools.cached_property
    def unit_id(self) -> int:
        assert self.reference
        return complaints_staff.list_units()[0].id

    # toilets
    @functools.cached_property
    def toilet(self) -> int:
        toilet = Toilet(
            name="【演示】人民路公厕",
            lat=LAT,
            lng=LNG,
            category="class_2",
            opening_hours="24/7",
            photo_ids=[],
        )
        db.session.add(toilet)
        db.session.commit()
        return toilet.id

    @functools.cached_property
    def rating(self) -> int:
        rating = feedback.rate(
            self.users["resident"],
            self.toilet,
            cleanliness=4,
            smell=4,
            facilities=4,
            comment="还算干净",
        )
        rating.comment_status = "hidden"
        db.session.commit()
        return rating.id

    @functools.cached_property
    def report(self) -> int:
        report = ToiletReport(
            toilet_id=self.toilet, user_id=self.users["resident"].id, kind="dirty", photo_ids=[]
        )
        db.session.add(report)
        db.session.commit()
        return report.id

    # stalls
    @functools.cached_property
    def point(self):
        return make_point()

    @functools.cached_property
    def booking(self) -> int:
        """The approved farmer's booking, starting in 10 minutes (check-in is open)."""
        point = self.point
        users = self.users
        booking = bookings.book(users["farmer"], point.id, tomorrow(), morning(point).id)
        db.session.commit()
        move_slot(booking.slot_id, dt.timedelta(minutes=10))
        return booking.id

    @functools.cached_property
    def full_slot(self) -> dict:
        """A capacity-1 session tomorrow, taken by a farmer who is none of the callers."""
        point = make_point(capacity=1, name="西门临时销售点", lat=LAT + 0.001)
        filler = User(openid=f"o_filler_{uuid.uuid4().hex[:8]}", nickname="先到的农户")
        db.session.add(filler)
        db.session.flush()
        db.session.add(
            FarmerProfile(
                user_id=filler.id,
                real_name="钱先到",
                phone="13600000000",
                township="城南镇",
                village="桃源村",
                produce_types=["蔬菜"],
                self_produce_declared_at=utcnow(),
                status="approved",
            )
        )
        db.session.flush()
        bookings.book(filler, point.id, tomorrow(), morning(point).id)
        db.session.commit()
        return {
            "point_id": point.id,
            "date": tomorrow().isoformat(),
            "session_id": morning(point).id,
        }

    @functools.cached_property
    def waitlist_entry(self) -> int:
        slot = self.full_slot
        users = self.users
        entry = bookings.join_waitlist(
            users["farmer"], slot["point_id"], tomorrow(), slot["session_id"]
        )
        db.session.commit()
        return entry.id

    @functools.cached_property
    def pending_profile(self) -> int:
        return self.users["farmer_pending"].farmer_profile.id

    @functools.cached_property
    def booking_date(self) -> str:
        assert self.booking
        return tomorrow().isoformat()

    @functools.cached_property
    def booking_code(self) -> str:
        return checkin.booking_code(db.session.get(StallBooking, self.booking))

    @functools.cached_property
    def open311_key(self) -> int:
        from server.services import open311

        row, _key = open311.issue_key("矩阵测试系统", self.clerk)
        db.session.commit()
        return row.id

    @functools.cached_property
    def closure(self) -> int:
        point = self.point
        closure = Closure(
            point_id=point.id,
            date=tomorrow() + dt.timedelta(days=2),
            reason_type="weather",
            reason="暴雨",
            created_by_id=self.clerk.id,
        )
        db.session.add(closure)
        db.session.commit()
        return closure.id


def make_upload(owner: User) -> Upload:
    name = uuid.uuid4().hex
    upload = Upload(
        owner_id=owner.id,
        path=f"2026/11/{name}.jpg",
        thumb_path=f"2026/11/{name}_t.jpg",
        content_type="image/jpeg",
        width=40,
        height=30,
        size_bytes=100,
        expires_at=utcnow() + dt.timedelta(hours=24),
    )
    db.session.add(upload)
    db.session.flush()
    return upload


# -- one request and what each caller must get -----------------------------------------------------
@dataclass
class Case:
    expect: dict
    path: str  # formatted with w=World
    json: object = None  # a dict, or a callable (world, role) -> dict
    data: object = None  # multipart: a callable () -> dict
    needs: tuple = ()  # world objects to create first (e.g. something to list)
    idempotent: bool = False

    def url(self, w: World) -> str:
        return self.path.format(w=w)


def c(expect, path, **kwargs) -> list[Case]:
    return [Case(expect, path, **kwargs)]


def _jpeg() -> dict:
    data = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 30, 200)).save(data, "JPEG")
    data.seek(0)
    return {"file": (data, "photo.jpg")}


def _csv() -> dict:
    text = "external_id,name,lat,lng,category\nM-1,矩阵公厕,34.51,113.36,二类\n"
    return {"file": (io.BytesIO(text.encode()), "toilets.csv")}


COMPLAINT = {
    "category": "B0102",
    "description": "解放路井盖缺失",
    "lat": LAT,
    "lng": LNG,
    "coord_type": "gcj02",
    "address": "解放路2号",
    "photo_ids": [],
    "anonymous": False,
}
PROFILE = {
    "real_name": "新农户",
    "township": "城南镇",
    "village": "桃源村",
    "produce_types": ["蔬菜"],
    "self_produce_declared": True,
}
NEW_TOILET = {
    "name": "【演示】矩阵新公厕",
    "location": {"lat": 34.5318, "lng": 113.3850, "coord_type": "gcj02"},
    "category": "class_1",
    "opening_hours": "Mo-Su 05:30-23:00",
}
NEW_POINT = {
    "name": "北门临时销售点",
    "address": "城北路1号",
    "lat": LAT + 0.01,
    "lng": LNG,
    "coord_type": "gcj02",
    "stall_count": 20,
    "active_from": TODAY.isoformat(),
}
V1 = "/api/v1"
ST = "/api/v1/staff"
FARM = "farmer"


def slot_body(w: World, role: str) -> dict:
    return {
        "point_id": w.point.id,
        "date": tomorrow().isoformat(),
        "session_id": morning(w.point).id,
    }


MATRIX: dict[tuple[str, str], list[Case]] = {
    # auth and my account
    ("POST", "/api/v1/auth/login"): c(everyone(200), V1 + "/auth/login", json={"code": "dev:mx"}),
    ("POST", "/api/v1/auth/logout"): c(users(204), V1 + "/auth/logout"),
    ("GET", "/api/v1/me"): c(users(200), V1 + "/me"),
    ("PATCH", "/api/v1/me"): c(users(200), V1 + "/me", json={"nickname": "新昵称"}),
    ("DELETE", "/api/v1/me"): c(users(204), V1 + "/me"),
    ("POST", "/api/v1/me/phone"): c(users(200), V1 + "/me/phone", json={"code": "dev:13912345678"}),
    # photos
    ("POST", "/api/v1/uploads"): c(users(201), V1 + "/uploads", data=_jpeg),
    ("GET", "/media/<path:path>"): c(everyone(200), "/media/{w.media_path}"),
    # complaints, citizens
    ("GET", "/api/v1/complaints/categories"): c(
        everyone(200), V1 + "/complaints/categories", needs=("reference",)
    ),
    ("GET", "/api/v1/complaints/similar"): c(
        everyone(200),
        V1 + f"/complaints/similar?category=B0102&lat={LAT}&lng={LNG}",
        needs=("reference",),
    ),
    ("POST", "/api/v1/complaints"): c(
        users(201), V1 + "/complaints", needs=("reference",), json=COMPLAINT, idempotent=True
    ),
    ("GET", "/api/v1/complaints/<int:complaint_id>"): [
        Case(everyone(200), V1 + "/complaints/{w.complaint}"),
        # a case held by the content check exists only for its reporter
        Case(owner("resident", 200) | {"anonymous": 404}, V1 + "/complaints/{w.held}"),
    ],
    ("POST", "/api/v1/complaints/<int:complaint_id>/follow"): [
        Case(users(200, resident=409), V1 + "/complaints/{w.complaint}/follow"),
        Case(owner("resident", 409), V1 + "/complaints/{w.held}/follow"),
    ],
    ("DELETE", "/api/v1/complaints/<int:complaint_id>/follow"): [
        Case(users(200), V1 + "/complaints/{w.complaint}/follow"),
        Case(owner("resident", 200), V1 + "/complaints/{w.held}/follow"),
    ],
    ("POST", "/api/v1/complaints/<int:complaint_id>/rating"): c(
        owner("resident", 200), V1 + "/complaints/{w.closed}/rating", json={"rating": 5}
    ),
    ("POST", "/api/v1/complaints/<int:complaint_id>/reopen"): c(
        owner("resident", 200), V1 + "/complaints/{w.closed}/reopen", json={"reason": "又坏了"}
    ),
    ("GET", "/api/v1/me/complaints"): c(users(200), V1 + "/me/complaints"),
    # complaints, staff
    ("GET", "/api/v1/staff/complaints"): c(
        staff_only(200), ST + "/complaints", needs=("complaint",)
    ),
    ("GET", "/api/v1/staff/complaints/review"): c(
        staff_only(200), ST + "/complaints/review", needs=("held",)
    ),
    ("GET", "/api/v1/staff/complaints/<int:complaint_id>"): c(
        staff_only(200), ST + "/complaints/{w.complaint}"
    ),
    ("POST", "/api/v1/staff/complaints/<int:complaint_id>/release"): c(
        staff_only(200), ST + "/complaints/{w.held}/release", json={}
    ),
    ("POST", "/api/v1/staff/complaints/<int:complaint_id>/accept"): c(
        staff_only(200), ST + "/complaints/{w.complaint}/accept", json={}
    ),
    ("POST", "/api/v1/staff/complaints/<int:complaint_id>/reject"): c(
        staff_only(200), ST + "/complaints/{w.complaint}/reject", json={"reason": "不属于受理范围"}
    ),
    ("POST", "/api/v1/staff/complaints/<int:complaint_id>/dispatch"): c(
        staff_only(200), ST + "/complaints/{w.accepted}/dispatch", json={}
    ),
    ("POST", "/api/v1/staff/complaints/<int:complaint_id>/return"): c(
        staff_only(200), ST + "/complaints/{w.dispatched}/return", json={"reason": "非本单位"}
    ),
    ("POST", "/api/v1/staff/complaints/<int:complaint_id>/resolve"): c(
        staff_only(200),
        ST + "/complaints/{w.dispatched}/resolve",
        json=lambda w, role: {"photo_ids": [w.upload_of(role)] if role in USERS else []},
    ),
    ("POST", "/api/v1/staff/complaints/<int:complaint_id>/verify"): c(
        staff_only(200), ST + "/complaints/{w.resolved}/verify", json={"passed": True}
    ),
    ("POST", "/api/v1/staff/complaints/<int:complaint_id>/close"): c(
        staff_only(200), ST + "/complaints/{w.verified}/close", json={}
    ),
    ("POST", "/api/v1/staff/complaints/<int:complaint_id>/close-unfixed"): c(
        staff_only(200), ST + "/complaints/{w.accepted}/close-unfixed", json={"reason": "无法处置"}
    ),
    ("POST", "/api/v1/staff/complaints/<int:complaint_id>/merge"): c(
        staff_only(200),
        ST + "/complaints/{w.complaint}/merge",
        json=lambda w, role: {"into_id": w.other_complaint},
    ),
    ("POST", "/api/v1/staff/complaints/<int:complaint_id>/extensions"): c(
        staff_only(201),
        ST + "/complaints/{w.dispatched}/extensions",
        json={"amount": 1, "limit_unit": "working_days", "reason": "等待材料"},
    ),
    (
        "POST",
        "/api/v1/staff/complaints/<int:complaint_id>/extensions/<int:extension_id>/decision",
    ): c(
        staff_only(200),
        ST + "/complaints/{w.extension[0]}/extensions/{w.extension[1]}/decision",
        json={"approve": True},
    ),
    ("GET", "/api/v1/staff/complaints/extensions"): c(
        staff_only(200), ST + "/complaints/extensions", needs=("extension",)
    ),
    ("GET", "/api/v1/staff/complaints/categories"): c(
        staff_only(200), ST + "/complaints/categories", needs=("reference",)
    ),
    ("POST", "/api/v1/staff/complaints/categories"): c(
        admin_only(201),
        ST + "/complaints/categories",
        needs=("reference",),
        json={
            "class_name": "市容环境",
            "code": "S0999",
            "name": "矩阵测试类",
            "icon": "other",
            "limit_value": 2,
            "limit_unit": "working_days",
        },
    ),
    ("PATCH", "/api/v1/staff/complaints/categories/<int:category_id>"): c(
        admin_only(200), ST + "/complaints/categories/{w.category_id}", json={"sort_order": 5}
    ),
    ("GET", "/api/v1/staff/complaints/units"): c(
        staff_only(200), ST + "/complaints/units", needs=("reference",)
    ),
    ("POST", "/api/v1/staff/complaints/units"): c(
        admin_only(201), ST + "/complaints/units", json={"name": "矩阵测试单位"}
    ),
    ("PATCH", "/api/v1/staff/complaints/units/<int:unit_id>"): c(
        admin_only(200), ST + "/complaints/units/{w.unit_id}", json={"phone": "0371-1234567"}
    ),
    ("GET", "/api/v1/staff/complaints/calendar"): c(
        staff_only(200), ST + "/complaints/calendar?year=2026"
    ),
    ("PUT", "/api/v1/staff/complaints/calendar/days/<string(length=10):day>"): c(
        admin_only(200),
        ST + "/complaints/calendar/days/2026-12-30",
        json={"kind": "holiday", "name": "地方节日"},
    ),
    ("DELETE", "/api/v1/staff/complaints/calendar/days/<string(length=10):day>"): c(
        admin_only(204), ST + "/complaints/calendar/days/2026-10-01", needs=("reference",)
    ),
    ("GET", "/api/v1/staff/complaints/calendar/hours"): c(
        staff_only(200), ST + "/complaints/calendar/hours", needs=("reference",)
    ),
    ("PUT", "/api/v1/staff/complaints/calendar/hours"): c(
        admin_only(200),
        ST + "/complaints/calendar/hours",
        json={"periods": [{"start_time": "08:30", "end_time": "12:00"}]},
    ),
    # Open311 API keys (admin)
    ("GET", "/api/v1/staff/open311/keys"): c(admin_only(200), ST + "/open311/keys"),
    ("POST", "/api/v1/staff/open311/keys"): c(
        admin_only(201), ST + "/open311/keys", json={"name": "区数字城管平台"}
    ),
    ("DELETE", "/api/v1/staff/open311/keys/<int:key_id>"): c(
        admin_only(204), ST + "/open311/keys/{w.open311_key}"
    ),
    ("GET", "/api/v1/staff/stats/complaints"): c(
        staff_only(200), ST + "/stats/complaints?from=2026-11-01&to=2026-11-30"
    ),
    # toilets, residents
    ("GET", "/api/v1/toilets"): c(everyone(200), V1 + "/toilets", needs=("toilet",)),
    ("GET", "/api/v1/toilets/nearby"): c(
        everyone(200), V1 + f"/toilets/nearby?lat={LAT}&lng={LNG}", needs=("toilet",)
    ),
    ("GET", "/api/v1/toilets/<int:toilet_id>"): c(everyone(200), V1 + "/toilets/{w.toilet}"),
    ("GET", "/api/v1/toilets/<int:toilet_id>/comments"): c(
        everyone(200), V1 + "/toilets/{w.toilet}/comments", needs=("rating",)
    ),
    ("GET", "/api/v1/toilets/<int:toilet_id>/rating"): c(
        owner("resident", 200), V1 + "/toilets/{w.toilet}/rating", needs=("rating",)
    ),
    ("PUT", "/api/v1/toilets/<int:toilet_id>/rating"): c(
        users(200),
        V1 + "/toilets/{w.toilet}/rating",
        json={"cleanliness": 3, "smell": 3, "facilities": 3},
    ),
    ("POST", "/api/v1/toilets/<int:toilet_id>/reports"): c(
        users(201), V1 + "/toilets/{w.toilet}/reports", json={"kind": "dirty"}, idempotent=True
    ),
    # toilets, staff
    ("GET", "/api/v1/staff/toilets"): c(staff_only(200), ST + "/toilets", needs=("toilet",)),
    ("POST", "/api/v1/staff/toilets"): c(staff_only(201), ST + "/toilets", json=NEW_TOILET),
    ("GET", "/api/v1/staff/toilets/<int:toilet_id>"): c(
        staff_only(200), ST + "/toilets/{w.toilet}"
    ),
    ("PATCH", "/api/v1/staff/toilets/<int:toilet_id>"): c(
        staff_only(200), ST + "/toilets/{w.toilet}", json={"name": "【演示】改名公厕"}
    ),
    ("POST", "/api/v1/staff/toilets/<int:toilet_id>/status"): c(
        staff_only(200),
        ST + "/toilets/{w.toilet}/status",
        json={"status": "temporarily_closed", "reason": "维修"},
    ),
    ("POST", "/api/v1/staff/toilets/<int:toilet_id>/verify"): c(
        staff_only(200), ST + "/toilets/{w.toilet}/verify"
    ),
    ("GET", "/api/v1/staff/toilets/<int:toilet_id>/history"): c(
        staff_only(200), ST + "/toilets/{w.toilet}/history"
    ),
    ("POST", "/api/v1/staff/toilets/import"): c(staff_only(200), ST + "/toilets/import", data=_csv),
    ("GET", "/api/v1/staff/toilets/export"): c(
        staff_only(200), ST + "/toilets/export?format=csv&x={w.toilet}"
    ),
    ("GET", "/api/v1/staff/toilets/reports"): c(
        staff_only(200), ST + "/toilets/reports", needs=("report",)
    ),
    ("POST", "/api/v1/staff/toilets/reports/<int:report_id>/resolve"): c(
        staff_only(200), ST + "/toilets/reports/{w.report}/resolve", json={"outcome": "resolved"}
    ),
    ("GET", "/api/v1/staff/toilets/comments"): c(
        staff_only(200), ST + "/toilets/comments", needs=("rating",)
    ),
    ("POST", "/api/v1/staff/toilets/comments/<int:rating_id>/moderate"): c(
        staff_only(200), ST + "/toilets/comments/{w.rating}/moderate", json={"publish": True}
    ),
    # stalls, farmers
    ("GET", "/api/v1/stalls/farmer-profile"): c(
        users(404, farmer_pending=200, farmer=200, farmer_suspended=200),
        V1 + "/stalls/farmer-profile",
    ),
    ("POST", "/api/v1/stalls/farmer-profile"): c(
        users(201, farmer_pending=409, farmer=409, farmer_suspended=409),
        V1 + "/stalls/farmer-profile",
        json=PROFILE,
    ),
    ("PATCH", "/api/v1/stalls/farmer-profile"): c(
        users(404, farmer_pending=200, farmer=200, farmer_suspended=200),
        V1 + "/stalls/farmer-profile",
        json={"produce_types": ["水果"]},
    ),
    ("GET", "/api/v1/stalls/points"): c(everyone(200), V1 + "/stalls/points", needs=("point",)),
    ("GET", "/api/v1/stalls/points/<int:point_id>"): c(
        everyone(200), V1 + "/stalls/points/{w.point.id}"
    ),
    ("GET", "/api/v1/stalls/points/<int:point_id>/availability"): c(
        everyone(200), V1 + "/stalls/points/{w.point.id}/availability"
    ),
    ("POST", "/api/v1/stalls/bookings"): c(
        users(403, farmer=201), V1 + "/stalls/bookings", json=slot_body, idempotent=True
    ),
    ("GET", "/api/v1/me/bookings"): c(users(200), V1 + "/me/bookings", needs=("booking",)),
    ("GET", "/api/v1/stalls/bookings/<int:booking_id>"): c(
        owner(FARM, 200), V1 + "/stalls/bookings/{w.booking}"
    ),
    ("POST", "/api/v1/stalls/bookings/<int:booking_id>/cancel"): c(
        owner(FARM, 200), V1 + "/stalls/bookings/{w.booking}/cancel"
    ),
    ("POST", "/api/v1/stalls/bookings/<int:booking_id>/checkin"): c(
        owner(FARM, 200),
        V1 + "/stalls/bookings/{w.booking}/checkin",
        json=lambda w, role: {
            "point_code": checkin.point_code(w.point),
            "lat": LAT,
            "lng": LNG,
            "coord_type": "gcj02",
        },
    ),
    ("GET", "/api/v1/stalls/waitlist"): c(
        users(200), V1 + "/stalls/waitlist", needs=("waitlist_entry",)
    ),
    ("POST", "/api/v1/stalls/waitlist"): c(
        users(403, farmer=201),
        V1 + "/stalls/waitlist",
        json=lambda w, role: w.full_slot,
        idempotent=True,
    ),
    ("DELETE", "/api/v1/stalls/waitlist/<int:entry_id>"): c(
        owner(FARM, 204), V1 + "/stalls/waitlist/{w.waitlist_entry}"
    ),
    # stalls, staff
    ("GET", "/api/v1/staff/stalls/points"): c(staff_only(200), ST + "/stalls/points"),
    ("POST", "/api/v1/staff/stalls/points"): c(
        staff_only(201), ST + "/stalls/points", json=NEW_POINT
    ),
    ("GET", "/api/v1/staff/stalls/points/<int:point_id>"): c(
        staff_only(200), ST + "/stalls/points/{w.point.id}"
    ),
    ("PATCH", "/api/v1/staff/stalls/points/<int:point_id>"): c(
        staff_only(200), ST + "/stalls/points/{w.point.id}", json={"rules": "保持整洁"}
    ),
    ("GET", "/api/v1/staff/stalls/points/<int:point_id>/qr"): c(
        staff_only(200), ST + "/stalls/points/{w.point.id}/qr"
    ),
    ("POST", "/api/v1/staff/stalls/points/<int:point_id>/sessions"): c(
        staff_only(201),
        ST + "/stalls/points/{w.point.id}/sessions",
        json={"name": "午市", "start_time": "11:00", "end_time": "13:00", "capacity": 5},
    ),
    ("PATCH", "/api/v1/staff/stalls/sessions/<int:session_id>"): c(
        staff_only(200), ST + "/stalls/sessions/{w.point.sessions[0].id}", json={"capacity": 8}
    ),
    ("PUT", "/api/v1/staff/stalls/sessions/<int:session_id>/capacity"): c(
        staff_only(200),
        ST + "/stalls/sessions/{w.point.sessions[0].id}/capacity",
        json={"date": (TODAY + dt.timedelta(days=3)).isoformat(), "capacity": 5},
    ),
    ("GET", "/api/v1/staff/stalls/closures"): c(
        staff_only(200), ST + "/stalls/closures", needs=("closure",)
    ),
    ("POST", "/api/v1/staff/stalls/closures"): c(
        staff_only(201),
        ST + "/stalls/closures",
        json=lambda w, role: {
            "point_id": w.point.id,
            "date": (TODAY + dt.timedelta(days=4)).isoformat(),
            "reason_type": "weather",
            "reason": "暴雨",
        },
    ),
    ("DELETE", "/api/v1/staff/stalls/closures/<int:closure_id>"): c(
        staff_only(204), ST + "/stalls/closures/{w.closure}"
    ),
    ("GET", "/api/v1/staff/stalls/farmer-profiles"): c(
        staff_only(200), ST + "/stalls/farmer-profiles"
    ),
    ("GET", "/api/v1/staff/stalls/farmer-profiles/<int:profile_id>"): c(
        staff_only(200), ST + "/stalls/farmer-profiles/{w.pending_profile}"
    ),
    ("POST", "/api/v1/staff/stalls/farmer-profiles/<int:profile_id>/review"): c(
        staff_only(200),
        ST + "/stalls/farmer-profiles/{w.pending_profile}/review",
        json={"decision": "approve"},
    ),
    ("GET", "/api/v1/staff/stalls/roster"): c(
        staff_only(200), ST + "/stalls/roster?point_id={w.point.id}&date={w.booking_date}"
    ),
    ("GET", "/api/v1/staff/stalls/roster.csv"): c(
        staff_only(200), ST + "/stalls/roster.csv?point_id={w.point.id}&date={w.booking_date}"
    ),
    ("POST", "/api/v1/staff/stalls/checkin"): c(
        staff_only(200),
        ST + "/stalls/checkin",
        json=lambda w, role: {"code": w.booking_code},
    ),
    ("POST", "/api/v1/staff/stalls/bookings/<int:booking_id>/checkin"): c(
        staff_only(200), ST + "/stalls/bookings/{w.booking}/checkin"
    ),
    ("GET", "/api/v1/staff/stalls/stats"): c(
        staff_only(200), ST + f"/stalls/stats?from={TODAY}&to={TODAY + dt.timedelta(days=7)}"
    ),
}


# -- running the matrix ----------------------------------------------------------------------------
def _endpoints(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/media/")) or rule.rule in EXCLUDED:
            continue
        found |= {(method, rule.rule) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


@pytest.fixture(scope="module")
def matrix_app(database_url, tmp_path_factory, _schema):
    """One app for the whole matrix (building one per request would take minutes)."""
    app = create_app(base_config(database_url, tmp_path_factory.mktemp("authz")))
    yield app
    with app.app_context():
        db.engine.dispose()


def _others_personal_data(role: str) -> list[str]:
    values = [phone for r, phone in PHONES.items() if r != role]
    values += [name for r, name in REAL_NAMES.items() if r != role]
    values += ["钱先到", "13600000000"]  # the farmer who took the full session
    if role != "resident":
        values.append(CONTACT_PHONE)
    return values


def _call(app, method: str, case: Case, role: str):
    """A fresh database with what the case needs, then the caller's request."""
    _clean(app)
    limiter.reset()
    w = World()
    for name in case.needs:
        getattr(w, name)
    url = case.url(w)
    body = case.json(w, role) if callable(case.json) else case.json
    headers = w.headers(role)
    if case.idempotent:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    kwargs = {"json": body} if body is not None else {}
    if case.data is not None:
        kwargs = {"data": case.data(), "content_type": "multipart/form-data"}
    resp = app.test_client().open(url, method=method, headers=headers, **kwargs)
    resp.get_data()
    resp.close()  # a streamed file (/media/) is closed here
    db.session.remove()
    return url, resp


@pytest.mark.parametrize("key", list(MATRIX), ids=[f"{m} {r}" for m, r in MATRIX])
def test_matrix(matrix_app, key):
    failures = []
    for case in MATRIX[key]:
        for role in ROLES:
            with matrix_app.app_context():
                url, resp = _call(matrix_app, key[0], case, role)
            expected = case.expect[role]
            if resp.status_code != expected:
                failures.append(
                    f"{role}: {resp.status_code} (expected {expected}) {url} "
                    f"{resp.get_data(as_text=True)[:200]}"
                )
                continue
            if resp.status_code >= 400:
                body = resp.get_json()
                assert body["code"] == resp.status_code and body["error"], (role, body)
            staff_view = role in ("staff", "admin") and url.startswith(ST)
            if not staff_view:
                text = resp.get_data().decode("utf-8", "replace")
                leaked = [value for value in _others_personal_data(role) if value in text]
                if leaked:
                    failures.append(f"{role}: {url} shows another person's data {leaked}")
    assert not failures, "\n".join(failures)


def test_every_endpoint_has_a_row(matrix_app):
    endpoints = _endpoints(matrix_app)
    assert endpoints - set(MATRIX) == set(), "endpoints without a row in the matrix"
    assert set(MATRIX) - endpoints == set(), "rows for endpoints that do not exist"
    for cases_ in MATRIX.values():
        assert all(set(case.expect) == set(ROLES) for case in cases_)


def test_someone_elses_upload_cannot_be_told_from_an_unknown_one(matrix_app):
    """An upload has no URL of its own: its id is only usable in a submission by its owner,
    and another person's id is refused exactly like an id that does not exist."""
    with matrix_app.app_context():
        _clean(matrix_app)
        w = World()
        assert w.reference
        theirs = w.upload_of("resident")
        headers = w.headers("other")
        client = matrix_app.test_client()
        answers = []
        for photo_id in (theirs, theirs + 1000):
            resp = client.post(
                "/api/v1/complaints",
                json={**COMPLAINT, "photo_ids": [photo_id]},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            body = resp.get_json()
            answers.append((resp.status_code, body["error"], body["message"]))
        assert answers[0] == answers[1] == (422, "invalid_photos", "部分照片已失效，请重新上传")
        assert db.session.get(Upload, theirs).used_at is None
        db.session.remove()
