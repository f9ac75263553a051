"""Bench data, written straight to the database (bulk inserts where volume matters).

100k toilets around the city centre, residents with tokens and complaints, unused uploads for
the submissions of the mixed traffic, and approved farmers with tokens for the booking window.
Tokens are issued directly (``auth.issue_token``), never through the login endpoint.
"""

import datetime as dt
import random
import secrets
import uuid
from dataclasses import dataclass, field

from sqlalchemy import insert, text

from bench.stalls import storm
from server.extensions import db
from server.models.toilets import Toilet, lat_cell
from server.models.uploads import Upload
from server.models.users import ApiToken, User
from server.services.auth import hash_token
from server.services.complaints import cases
from server.services.complaints.staff import seed_reference_data
from server.util.clock import utcnow

# The city centre (GCJ-02) and the box the toilets are spread over (±0.25° lat, ±0.3° lng:
# about 55 × 55 km, so ~100 toilets within 1 km of a point near the centre).
CENTRE = (34.53, 113.38)
SPREAD = (0.25, 0.30)
RULES = ("24/7", "Mo-Su 06:00-22:00", "05:30-23:00", "Mo-Fr 08:30-17:30; PH off", None)
TRI = ("yes", "no", "unknown")
TOKEN_TTL = dt.timedelta(hours=6)


@dataclass
class Resident:
    user_id: int
    token: str
    complaint_ids: list[int]
    upload_ids: list[int] = field(default_factory=list)


@dataclass
class BenchData:
    toilets: int
    residents: list[Resident]
    farmer_tokens: list[str]
    booking: storm.Target
    booking_capacity: int


def reset_schema() -> None:
    """Drop and create every table (a dedicated bench database), plus reference data."""
    db.drop_all()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
    db.create_all()
    seed_reference_data()
    db.session.commit()


def toilets(count: int, rng: random.Random) -> None:
    now = utcnow()
    batch = []
    for n in range(count):
        lat = CENTRE[0] + rng.uniform(-SPREAD[0], SPREAD[0])
        lng = CENTRE[1] + rng.uniform(-SPREAD[1], SPREAD[1])
        batch.append(
            {
                "name": f"压测公厕{n}",
                "address": "压测路",
                "lat": lat,
                "lng": lng,
                "lat_cell": lat_cell(lat),
                "category": rng.choice(("class_1", "class_2", "class_3")),
                "opening_hours": rng.choice(RULES),
                "accessible_stall": rng.choice(TRI),
                "third_restroom": rng.choice(TRI),
                "free": "yes",
                "photo_ids": [],
                "created_at": now,
                "updated_at": now,
            }
        )
        if len(batch) == 10_000:
            db.session.execute(insert(Toilet), batch)
            batch = []
    if batch:
        db.session.execute(insert(Toilet), batch)
    db.session.commit()


def _uploads(owner_ids: list[int], per_owner: int) -> dict[int, list[int]]:
    expires = utcnow() + dt.timedelta(hours=24)
    rows = []
    for owner in owner_ids:
        for _ in range(per_owner):
            name = uuid.uuid4().hex
            rows.append(
                {
                    "owner_id": owner,
                    "path": f"bench/{name}.jpg",
                    "thumb_path": f"bench/{name}_t.jpg",
                    "content_type": "image/jpeg",
                    "width": 2000,
                    "height": 1500,
                    "size_bytes": 400_000,
                    "created_at": utcnow(),
                    "expires_at": expires,
                }
            )
    db.session.execute(insert(Upload), rows)
    db.session.commit()
    by_owner: dict[int, list[int]] = {owner: [] for owner in owner_ids}
    for upload_id, owner in db.session.execute(
        text("SELECT id, owner_id FROM uploads WHERE path LIKE 'bench/%' ORDER BY id")
    ):
        by_owner[owner].append(upload_id)
    return by_owner


def residents(count: int, complaints_each: int, spare_uploads: int) -> list[Resident]:
    """Residents with a token each, ``complaints_each`` complaints filed through the service
    (photo, timeline, content check in fake mode), and unused uploads for new submissions."""
    now = utcnow()
    db.session.execute(
        insert(User),
        [
            {"openid": f"bench_{i}", "nickname": f"压测居民{i}", "created_at": now}
            for i in range(count)
        ],
    )
    db.session.commit()
    users = list(db.session.scalars(db.select(User).where(User.openid.like("bench_%"))))
    tokens = {user.id: secrets.token_urlsafe(32) for user in users}
    db.session.execute(
        insert(ApiToken),
        [
            {
                "user_id": uid,
                "token_hash": hash_token(tok),
                "created_at": now,
                "expires_at": now + TOKEN_TTL,
            }
            for uid, tok in tokens.items()
        ],
    )
    uploads = _uploads([u.id for u in users], complaints_each + spare_uploads)
    out = []
    for n, user in enumerate(users):
        ids = []
        for k in range(complaints_each):
            complaint = cases.create_complaint(
                user,
                "B0102" if k % 2 else "S0302",
                f"压测：人民路{n}号附近井盖缺失，请尽快处理（{k}）",
                CENTRE[0] + (n % 50) * 0.0004,
                CENTRE[1] + k * 0.0004,
                f"人民路{n}号",
                [uploads[user.id][k]],
                contact_phone="13812345678",
            )
            ids.append(complaint.id)
        out.append(Resident(user.id, tokens[user.id], ids, uploads[user.id][complaints_each:]))
    db.session.commit()
    return out


def seed(toilet_count: int, residents_count: int, farmers: int, capacity: int) -> BenchData:
    rng = random.Random(7)
    reset_schema()
    toilets(toilet_count, rng)
    people = residents(residents_count, complaints_each=5, spare_uploads=20)
    farmer_tokens, (target,) = storm.seed(farmers, points=1, capacity=capacity, ttl=6 * 3600)
    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return BenchData(toilet_count, people, farmer_tokens, target, capacity)


def reset_bookings() -> None:
    """Free every stall again (between the booking window and the mixed traffic)."""
    db.session.rollback()
    for sql in (
        "DELETE FROM stall_waitlist",
        "DELETE FROM stall_bookings",
        "UPDATE stall_slots SET booked = 0",
    ):
        db.session.execute(text(sql))
    db.session.commit()
