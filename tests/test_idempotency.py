"""Idempotency-Key: a replay answers the first response and creates nothing."""

import threading

import pytest
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import func, select, text

from schemas.common import BaseSchema
from server.app import create_app
from server.core.api import api
from server.core.errors import AppError
from server.extensions import db
from server.http import idempotency
from server.http.auth import auth_required
from server.http.idempotency import idempotent
from server.models.idempotency import IdempotencyKey
from server.models.outbox import OutboxMessage
from server.models.users import User
from server.util.clock import utcnow
from tests.conftest import auth_headers, base_config


class ThingSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)


blp = Blueprint("things", __name__, url_prefix="/api/v1/things")


@blp.route("")
class Things(MethodView):
    @auth_required()
    @idempotent("things")
    @blp.arguments(ThingSchema)
    @blp.response(201, ThingSchema)
    def post(self, args):
        """Create a thing (an outbox row stands in for a case)"""
        if args["name"] == "invalid":
            raise AppError(422, "bad_thing", "不行")
        row = OutboxMessage(
            subject_type="thing", subject_id=0, event="created", template="t", data={}
        )
        db.session.add(row)
        db.session.flush()
        return {"id": row.id, "name": args["name"]}


@pytest.fixture
def things_app(database_url, tmp_path, _schema):
    app = create_app(base_config(database_url, tmp_path))
    api.register_blueprint(blp)
    with app.app_context():
        for table in ("idempotency_keys", "outbox_messages", "api_tokens", "users"):
            db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def user(things_app):
    user = User(openid="idem")
    db.session.add(user)
    db.session.commit()
    return user


def count_things():
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def post(client, user, body, key="key-0000001"):
    headers = auth_headers(user)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/things", json=body, headers=headers)


def test_replays_return_first_response_and_create_nothing(things_app, user):
    client = things_app.test_client()
    first = post(client, user, {"name": "井盖"})
    assert first.status_code == 201
    for _ in range(5):
        again = post(client, user, {"name": "井盖"})
        assert again.status_code == 201
        assert again.get_json() == first.get_json()
        assert again.headers["Idempotent-Replayed"] == "true"
    assert count_things() == 1


def test_same_key_other_body_is_422(things_app, user):
    client = things_app.test_client()
    post(client, user, {"name": "a"})
    resp = post(client, user, {"name": "b"})
    assert resp.status_code == 422
    assert resp.get_json()["error"] == "idempotency_key_reused"
    assert count_things() == 1


@pytest.mark.parametrize(
    "key, error",
    [
        (None, "idempotency_key_required"),
        ("short", "idempotency_key_invalid"),
        ("k" * 65, "idempotency_key_invalid"),
    ],
)
def test_missing_or_bad_key_is_400(things_app, user, key, error):
    resp = post(things_app.test_client(), user, {"name": "a"}, key=key)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == error
    assert count_things() == 0


def test_failed_request_frees_the_key(things_app, user):
    client = things_app.test_client()
    assert post(client, user, {"name": "invalid"}).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_keys_are_per_user(things_app, user):
    other = User(openid="other")
    db.session.add(other)
    db.session.commit()
    client = things_app.test_client()
    assert post(client, user, {"name": "a"}).status_code == 201
    resp = post(client, other, {"name": "a"})
    assert resp.status_code == 201 and "Idempotent-Replayed" not in resp.headers
    assert count_things() == 2


def test_concurrent_replays_create_one(things_app, user):
    barrier = threading.Barrier(8)
    statuses = []
    headers = auth_headers(user)

    def worker():
        client = things_app.test_client()
        barrier.wait()
        resp = client.post(
            "/api/v1/things",
            json={"name": "同时"},
            headers={**headers, "Idempotency-Key": "same-key-123"},
        )
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    assert count_things() == 1


def test_expired_keys_purged(things_app, user):
    import datetime as dt

    post(things_app.test_client(), user, {"name": "old"})
    assert idempotency.purge_expired(now=utcnow() + dt.timedelta(hours=25)) == 1


def test_header_documented(things_app):
    spec = things_app.test_client().get("/api/v1/openapi.json").get_json()
    params = spec["paths"]["/api/v1/things"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in params)
