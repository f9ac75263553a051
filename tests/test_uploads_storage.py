"""Photo uploads: storage failures, serving the files, claim, cleanup, account deletion."""

import datetime as dt
import errno
import os
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc

from server.core.errors import AppError
from server.extensions import db
from server.jobs import tasks as jobs
from server.models.uploads import Upload
from server.services import uploads as uploads_service
from server.services.uploads import storage
from server.util.clock import utcnow
from tests.conftest import auth_headers, make_user
from tests.test_uploads import assert_nothing_written, fetch, jpeg, upload, upload_count


@pytest.fixture
def headers(resident):
    return auth_headers(resident)


# -- storage failures ---------------------------------------------------------------------------
def test_unwritable_upload_dir_is_503(app, client, headers, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the upload directory should be")
    app.config["UPLOAD_DIR"] = str(blocker)
    resp = upload(client, headers, jpeg())
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["error"] == "storage_unavailable" and body["message"]
    assert resp.headers["Retry-After"]
    assert upload_count() == 0


def test_disk_full_is_507_and_leaves_no_file(app, client, headers, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.os, "fsync", full)
    resp = upload(client, headers, jpeg())
    assert resp.status_code == 507
    assert resp.get_json()["error"] == "storage_full"
    assert resp.headers["Retry-After"]
    assert_nothing_written(app)


def test_second_file_failing_removes_the_first(app, client, headers, monkeypatch):
    real_replace, calls = os.replace, []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(storage.os, "replace", flaky_replace)
    resp = upload(client, headers, jpeg())
    assert resp.status_code == 503
    assert_nothing_written(app)


def test_database_failure_on_insert_removes_files(app, client, headers, monkeypatch):
    def broken_flush(*args, **kwargs):
        raise sa_exc.OperationalError("INSERT INTO uploads", {}, Exception("database is locked"))

    monkeypatch.setattr(db.session, "flush", broken_flush)
    resp = upload(client, headers, jpeg())
    monkeypatch.undo()
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "database_unavailable"
    assert_nothing_written(app)


def test_failed_commit_removes_files(app, client, headers, monkeypatch):
    def broken_commit():
        raise sa_exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db.session, "commit", broken_commit)
    resp = upload(client, headers, jpeg())
    monkeypatch.undo()
    assert resp.status_code == 503
    assert_nothing_written(app)


def test_files_doomed_in_a_rolled_back_transaction_stay(app, tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    (root / "a.jpg").write_bytes(b"x")
    storage.remove_after_commit(root, ["a.jpg"])
    db.session.rollback()
    assert (root / "a.jpg").exists()
    storage.remove_after_commit(root, ["a.jpg"])
    db.session.commit()
    assert not (root / "a.jpg").exists()


# -- serving the files --------------------------------------------------------------------------
def test_files_served_with_long_cache_and_content_type(client, headers):
    body = upload(client, headers, jpeg()).get_json()
    assert body["url"].startswith("http://localhost/media/")
    resp, raw = fetch(client, body["url"])
    assert resp.status_code == 200
    assert resp.mimetype == "image/jpeg"
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert raw[:3] == b"\xff\xd8\xff"
    etag = resp.headers["ETag"]
    path = body["url"].split("localhost", 1)[1]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    again.close()


@pytest.mark.config(MEDIA_BASE_URL="https://img.example.gov.cn/media/")
def test_media_base_url_used_for_links(client, headers):
    body = upload(client, headers, jpeg()).get_json()
    row = db.session.get(Upload, body["id"])
    assert body["url"] == f"https://img.example.gov.cn/media/{row.path}"
    assert body["thumb_url"] == f"https://img.example.gov.cn/media/{row.thumb_path}"


@pytest.mark.parametrize(
    "path",
    [
        "/media/2026/11/AAAAAAAAAAAAAAAAAAAAAAAA.jpg",  # well-formed, unknown
        "/media/../../etc/passwd",
        "/media/..%2f..%2fetc%2fpasswd",
        "/media/2026/11/..%2F..%2F..%2Fetc%2Fpasswd",
        "/media/%2e%2e/%2e%2e/xiuhua.db",
        "/media/2026/11/.secret.tmp",
        "/media/stray.txt",
    ],
)
def test_unknown_or_malicious_media_paths_are_404(app, client, path):
    root = Path(app.config["UPLOAD_DIR"])
    (root / "2026" / "11").mkdir(parents=True)
    (root / "stray.txt").write_text("not a photo")
    (root / "2026" / "11" / ".secret.tmp").write_text("half a photo")
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "not_found"
    resp.close()


def test_openapi_documents_multipart_file(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    post = spec["paths"]["/api/v1/uploads"]["post"]
    content = post["requestBody"]["content"]["multipart/form-data"]
    schema = content["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["file"] == {**schema["properties"]["file"], "format": "binary"}
    assert {"201", "413", "415", "422", "507"} <= set(post["responses"])


# -- claim: once, by the owner, within 24 hours -------------------------------------------------
def new_upload(client, user) -> int:
    resp = upload(client, auth_headers(user), jpeg())
    assert resp.status_code == 201
    return resp.get_json()["id"]


def test_claim_once_by_owner_within_24_hours(client, resident):
    other = make_user(nickname="别人")
    first, second = new_upload(client, resident), new_upload(client, resident)
    theirs = new_upload(client, other)

    with pytest.raises(AppError) as caught:
        uploads_service.claim(resident, [first, theirs], "complaint")
    assert caught.value.code == 422 and caught.value.error == "invalid_photos"
    db.session.rollback()

    later = utcnow() + dt.timedelta(hours=25)
    with pytest.raises(AppError) as caught:
        uploads_service.claim(resident, [first], "complaint", now=later)
    assert caught.value.error == "invalid_photos"
    db.session.rollback()

    claimed = uploads_service.claim(resident, [second, first], "complaint")
    assert [u.id for u in claimed] == [second, first]
    db.session.commit()
    assert all(u.used_for == "complaint" and u.used_at for u in claimed)

    with pytest.raises(AppError) as caught:
        uploads_service.claim(resident, [first], "complaint")
    assert caught.value.error == "invalid_photos"
    db.session.rollback()
    with pytest.raises(AppError) as caught:
        uploads_service.claim(resident, [999_999], "complaint")
    assert caught.value.error == "invalid_photos"
    db.session.rollback()


def test_claim_rejects_too_many_and_duplicates(app, resident):
    with pytest.raises(AppError) as caught:
        uploads_service.claim(resident, list(range(1, 11)), "complaint")
    assert caught.value.error == "too_many_photos"
    with pytest.raises(AppError) as caught:
        uploads_service.claim(resident, [1, 1], "complaint")
    assert caught.value.error == "duplicate_photos"
    assert uploads_service.claim(resident, [], "complaint") == []


# -- cleanup ------------------------------------------------------------------------------------
def make_expired(upload_id: int, ago: dt.timedelta) -> Upload:
    row = db.session.get(Upload, upload_id)
    row.created_at = utcnow() - ago - dt.timedelta(hours=24)
    row.expires_at = utcnow() - ago
    db.session.commit()
    return row


def files_of(app, row: Upload) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return [root / row.path, root / row.thumb_path]


def test_purge_job_deletes_expired_unused_uploads_and_files(app, client, resident):
    used, stale, fresh, just_expired = (new_upload(client, resident) for _ in range(4))
    uploads_service.claim(resident, [used], "complaint")
    db.session.commit()
    for upload_id in (used, stale):
        make_expired(upload_id, dt.timedelta(days=2))
    make_expired(just_expired, dt.timedelta(minutes=20))  # within the grace period
    stale_files = files_of(app, db.session.get(Upload, stale))
    assert all(p.exists() for p in stale_files)

    assert jobs.purge_uploads.call_local() == 1

    db.session.expire_all()
    assert db.session.get(Upload, stale) is None
    assert not any(p.exists() for p in stale_files)
    for upload_id in (used, fresh, just_expired):
        row = db.session.get(Upload, upload_id)
        assert row is not None and all(p.exists() for p in files_of(app, row))
    assert jobs.purge_uploads.call_local() == 0


def test_orphan_sweep_removes_only_old_unknown_files(app, client, resident):
    row = db.session.get(Upload, new_upload(client, resident))
    known = files_of(app, row)
    month = known[0].parent
    old_orphan = month / "BBBBBBBBBBBBBBBBBBBBBBBB.jpg"
    old_temp = month / ".CCCCCCCCCCCCCCCCCCCCCCCC.jpg.1a2b3c4d.tmp"
    new_orphan = month / "DDDDDDDDDDDDDDDDDDDDDDDD.jpg"
    three_days_ago = (utcnow() - dt.timedelta(days=3)).timestamp()
    for path in (old_orphan, old_temp, new_orphan):
        path.write_bytes(b"x")
    for path in (old_orphan, old_temp, *known):
        os.utime(path, (three_days_ago, three_days_ago))

    assert jobs.sweep_upload_files.call_local() == 2
    assert not old_orphan.exists() and not old_temp.exists()
    assert new_orphan.exists() and all(p.exists() for p in known)


# -- account deletion ---------------------------------------------------------------------------
def test_account_deletion_removes_unused_uploads_keeps_used_ones(app, client, resident):
    other = make_user(nickname="别人")
    used, unused = new_upload(client, resident), new_upload(client, resident)
    theirs = new_upload(client, other)
    uploads_service.claim(resident, [used], "complaint")
    db.session.commit()
    unused_files = files_of(app, db.session.get(Upload, unused))

    resp = client.delete("/api/v1/me", headers=auth_headers(resident))
    assert resp.status_code == 204

    db.session.expire_all()
    assert db.session.get(Upload, unused) is None
    assert not any(p.exists() for p in unused_files)
    kept = db.session.get(Upload, used)
    assert kept.owner_id is None and kept.used_for == "complaint"
    assert all(p.exists() for p in files_of(app, kept))
    assert db.session.get(Upload, theirs).owner_id == other.id
