"""Masking personal data for display, and the log of staff views of unmasked data."""

import logging
import re
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


_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def redact_text(text: str | None) -> str | None:
    """Mask phone numbers, ID card numbers and e-mail addresses typed into free text.

    For text published beyond the mini-program (open data): a citizen may write "请联系我
    13812341234" into a description.
    """
    if not text:
        return text
    text = _ID_CARD.sub(lambda m: m.group()[:6] + "*" * 12, text)
    text = _MOBILE.sub(lambda m: mask_phone(m.group()[-11:]), text)
    text = _LANDLINE.sub(lambda m: m.group()[:4] + "****", text)
    return _EMAIL.sub("***@***", text)


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
