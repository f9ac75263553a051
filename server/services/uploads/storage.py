"""Photo files under ``UPLOAD_DIR``, kept in step with the database transaction.

Names are random (``2026/11/<24 url-safe chars>.jpg``, ``..._t.jpg`` for the
thumbnail), never taken from the user. A file is written under a temporary name,
flushed to disk and renamed, so a reader never sees half a photo. The session
hooks below make files follow the transaction: files written in a transaction
that does not commit are removed; files doomed in a transaction are removed only
once it has committed. What a crash still leaves behind, ``sweep_orphans`` removes.
"""

import datetime as dt
import errno
import logging
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

from flask import current_app
from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

from server.core.errors import AppError
from server.extensions import db
from server.models.uploads import Upload

log = logging.getLogger(__name__)

NAME = re.compile(r"\d{4}/\d{2}/[A-Za-z0-9_-]{24}(?:_t)?\.jpg")
_WRITTEN = "uploads_written"  # session.info keys
_DOOMED = "uploads_doomed"
_FULL = {errno.ENOSPC, errno.EDQUOT}


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]).resolve()


def new_names(now: dt.datetime) -> tuple[str, str]:
    token = secrets.token_urlsafe(18)  # 24 characters, 144 random bits
    stem = f"{now:%Y/%m}/{token}"
    return f"{stem}.jpg", f"{stem}_t.jpg"


def storage_error(exc: OSError) -> AppError:
    if exc.errno in _FULL:
        log.error("upload storage full: %s", exc.strerror)
        return AppError(
            507,
            "storage_full",
            "服务器存储空间不足，暂时无法上传照片",
            headers={"Retry-After": "600"},
        )
    log.error("upload storage unavailable: %s %s", exc.__class__.__name__, exc.strerror)
    return AppError(
        503, "storage_unavailable", "照片暂时无法保存，请稍后再试", headers={"Retry-After": "30"}
    )


def write_files(root: Path, files: dict[str, bytes]) -> None:
    """Write every file or none of them; a full or unwritable disk is a 507 or 503."""
    done: list[Path] = []
    temp: Path | None = None
    try:
        for name, content in files.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
            with open(temp, "xb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, target)
            temp = None
            done.append(target)
    except OSError as exc:
        remove_paths([*done, *([temp] if temp else [])])
        raise storage_error(exc) from None
    session_files(_WRITTEN).extend(done)


def remove_paths(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:  # left for sweep_orphans
            log.warning("could not remove upload file: %s", exc.strerror)


def remove_after_commit(root: Path, names: Iterable[str]) -> None:
    """Remove these files once the current transaction has committed."""
    session_files(_DOOMED).extend(root / name for name in names)


def session_files(key: str) -> list[Path]:
    return db.session.info.setdefault(key, [])


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    session.info.pop(_WRITTEN, None)  # their rows are committed: the files are kept
    remove_paths(session.info.pop(_DOOMED, ()))


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session, transaction):
    if transaction.parent is not None:  # a savepoint: wait for the real end
        return
    remove_paths(session.info.pop(_WRITTEN, ()))  # not committed: no row points to them
    session.info.pop(_DOOMED, None)  # not committed: the rows still exist


def sweep_orphans(root: Path, older_than: dt.timedelta, now: dt.datetime) -> int:
    """Remove files no row knows (crashes between write and commit, stray temp files).

    Only files older than ``older_than`` are touched, so a photo being uploaded
    right now is never taken.
    """
    cutoff = (now - older_than).timestamp()
    removed = 0
    for month in sorted(root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]")):
        prefix = f"{month.parent.name}/{month.name}/"
        old = [p for p in month.iterdir() if p.is_file() and p.stat().st_mtime < cutoff]
        if not old:
            continue
        known = set()
        for path, thumb in db.session.execute(
            select(Upload.path, Upload.thumb_path).where(
                or_(Upload.path.startswith(prefix), Upload.thumb_path.startswith(prefix))
            )
        ):
            known.update((path, thumb))
        orphans = [p for p in old if prefix + p.name not in known]
        remove_paths(orphans)
        removed += len(orphans)
    return removed
