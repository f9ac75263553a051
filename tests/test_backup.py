"""Backups of the SQLite deployment taken while writes go on, restored intact."""

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models.users import User
from tests.conftest import make_user


@pytest.fixture
def sqlite_only(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("flask backup handles SQLite; PostgreSQL uses pg_dump")


def test_backup_during_writes_then_restore(app, sqlite_only, tmp_path):
    upload_dir = Path(app.config["UPLOAD_DIR"])
    (upload_dir / "2026").mkdir(parents=True)
    (upload_dir / "2026" / "a.jpg").write_bytes(b"photo")
    for i in range(20):
        make_user(openid=f"before_{i}")

    stop = threading.Event()

    def writer():
        with app.app_context():
            i = 0
            while not stop.is_set():
                db.session.add(User(openid=f"during_{i}"))
                db.session.commit()
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "bk")])
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bk" / "uploads" / "2026" / "a.jpg").read_bytes() == b"photo"

    runner = app.test_cli_runner()
    refused = runner.invoke(args=["restore", str(tmp_path / "bk")])
    assert refused.exit_code != 0 and "--force" in refused.output

    restored = runner.invoke(args=["restore", str(tmp_path / "bk"), "--force"])
    assert restored.exit_code == 0, restored.output
    openids = set(db.session.scalars(select(User.openid)))
    assert {f"before_{i}" for i in range(20)} <= openids
    # the snapshot is consistent: a prefix of the writes, no gap
    during = sorted(int(o.split("_")[1]) for o in openids if o.startswith("during_"))
    assert during == list(range(len(during)))
    assert (upload_dir / "2026" / "a.jpg").exists()


def test_backup_refuses_non_empty_target(app, sqlite_only, tmp_path):
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "x").write_text("x")
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "bk")])
    assert result.exit_code != 0 and "not empty" in result.output


def test_keys_rotate_reencrypts_personal_data(app):
    from cryptography.fernet import Fernet

    make_user(openid="p1", phone="13800000001")
    make_user(openid="p2", phone="13800000002")
    old = app.config["DATA_ENCRYPTION_KEYS"]
    new = Fernet.generate_key().decode()
    app.config["DATA_ENCRYPTION_KEYS"] = f"{new},{old}"
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 2 values" in result.output
    db.session.expire_all()
    app.config["DATA_ENCRYPTION_KEYS"] = new  # old key gone: data still readable
    phones = set(db.session.scalars(select(User.phone).where(User.phone.isnot(None))))
    assert phones == {"13800000001", "13800000002"}
    assert db.session.scalar(select(func.count()).select_from(User)) == 2
