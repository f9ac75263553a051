"""Revalidations of the toilet map layer answered early (server/not_modified.py), and the data
versions that keep those answers right (server/versions.py)."""

import pytest
from sqlalchemy import select, text

from server.extensions import db
from server.http import not_modified
from server.http.security import HEADERS
from server.models.toilets import Toilet
from server.models.versions import DataVersion
from server.services.data_versions import read
from server.services.toilets import search
from tests.conftest import auth_headers
from tests.test_toilets import CENTRE, make_toilet

LIST = "/api/v1/toilets"
QUERY = {"bbox": f"{CENTRE[1] - 0.01},{CENTRE[0] - 0.01},{CENTRE[1] + 0.01},{CENTRE[0] + 0.01}"}


def first_etag(client) -> str:
    resp = client.get(LIST, query_string=QUERY)
    assert resp.status_code == 200
    return resp.headers["ETag"]


def revalidate(client, etag: str, query=QUERY):
    return client.get(LIST, query_string=query, headers={"If-None-Match": etag})


@pytest.fixture
def view_calls(monkeypatch):
    """How often the list view really ran (the early answer never calls it)."""
    calls = []
    real = search.in_bbox

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(search, "in_bbox", counting)
    return calls


def test_unchanged_list_is_answered_early_with_the_views_headers(client, view_calls):
    make_toilet(opening_hours="24/7")
    etag = first_etag(client)
    answer = revalidate(client, etag)
    assert answer.status_code == 304 and answer.data == b""
    assert len(view_calls) == 1  # only the first, full answer ran the view
    assert answer.headers["ETag"] == etag
    assert answer.headers["Cache-Control"] == "public, max-age=60"
    for name, value in HEADERS.items():
        assert answer.headers[name] == value
    # Another ETag, another query string, another method: Flask answers as usual.
    assert revalidate(client, '"other"').status_code == 200
    assert revalidate(client, etag, {**QUERY, "page": 2}).status_code == 200
    assert client.head(LIST, query_string=QUERY, headers={"If-None-Match": etag}).status_code
    assert len(view_calls) == 4


def test_a_change_to_any_toilet_ends_the_early_answers(client, resident, view_calls):
    toilet = make_toilet()
    etag = first_etag(client)
    body = {"cleanliness": 5, "smell": 5, "facilities": 5}
    rated = client.put(
        f"/api/v1/toilets/{toilet.id}/rating", json=body, headers=auth_headers(resident)
    )
    assert rated.status_code == 200  # the rating average shown in the list moved
    changed = revalidate(client, etag)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert revalidate(client, changed.headers["ETag"]).status_code == 304


def test_versions_move_with_the_transaction_that_writes(app):
    before = read(search.LIST_VERSION)
    toilet = make_toilet()
    assert read(search.LIST_VERSION) == before + 1
    toilet.name = "改名"
    db.session.rollback()  # nothing written, nothing moved
    assert read(search.LIST_VERSION) == before + 1
    db.session.get(Toilet, toilet.id).status_reason = "维修"
    db.session.commit()
    assert read(search.LIST_VERSION) == before + 2


@pytest.mark.config(DATA_VERSION_TTL_SECONDS=3600)
def test_another_process_change_is_seen_after_the_ttl(app, client, view_calls):
    make_toilet()
    etag = first_etag(client)
    assert revalidate(client, etag).status_code == 304
    # Another worker or host writes: its commit moves the counter, not this process's copy.
    db.session.execute(text("UPDATE data_versions SET version = version + 1"))
    db.session.commit()
    assert revalidate(client, etag).status_code == 304  # trusted for DATA_VERSION_TTL_SECONDS
    assert len(view_calls) == 1
    app.config["DATA_VERSION_TTL_SECONDS"] = 0
    # The counter moved: the view runs again (here the same content: the same ETag, a 304).
    assert revalidate(client, etag).status_code == 304
    assert len(view_calls) == 2
    assert db.session.scalar(select(DataVersion.version)) == 2


def test_a_page_whose_open_states_change_is_not_answered_early_after_that(
    client, view_calls, monkeypatch
):
    make_toilet(opening_hours="Mo-Su 06:00-22:00")  # opens or closes within a day
    etag = first_etag(client)
    assert revalidate(client, etag).status_code == 304
    later = not_modified.time.time() + 86_400
    monkeypatch.setattr(not_modified.time, "time", lambda: later)
    # The view runs again (its content may differ now); same data and hour: same ETag, 304.
    assert revalidate(client, etag).status_code in (200, 304)
    assert len(view_calls) == 2
