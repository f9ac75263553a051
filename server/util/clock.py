"""Time helpers: the server stores UTC and shows Asia/Shanghai."""

import datetime as dt
from zoneinfo import ZoneInfo

CST = ZoneInfo("Asia/Shanghai")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_now() -> dt.datetime:
    return dt.datetime.now(CST)


def local_today() -> dt.date:
    return local_now().date()
