"""Masking personal data for display, and the log of staff views of unmasked data."""

import logging
from collections.abc import Iterable, Sequence


def mask_phone(phone: str | None) -> str | None:
    """``13812341234`` → ``138****1234``."""
    if not phone:
        return None
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str | None) -> str | None:
    """``张三丰`` → ``张**``."""
    if not name:
        return None
    return name[0] + "*" * (len(name) - 1)


# Staff views of unmasked personal data: who looked at whose record and which fields, never the
# values. A logger of its own so operations can route it to an append-only file (README).
access_log = logging.getLogger("xiuhua.pii_access")


def log_access(viewer, subject_type: str, subject_ids: Iterable[int], fields: Sequence[str]):
    """Record that ``viewer`` (staff) was shown ``fields`` of these records unmasked."""
    ids = sorted({int(i) for i in subject_ids})
    if not ids:
        return
    access_log.info(
        "staff=%s viewed %s=%s fields=%s",
        viewer.id,
        subject_type,
        ",".join(map(str, ids)),
        ",".join(fields),
        extra={
            "staff_id": viewer.id,
            "subject_type": subject_type,
            "subject_ids": ids,
            "fields": list(fields),
        },
    )
