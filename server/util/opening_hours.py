"""Opening hours: OSM ``opening_hours`` rules evaluated in Beijing time by opening-hours-py.

Public holidays (``PH`` in a rule) come from the library's built-in, offline calendar for
China (``country="CN"``), which marks the statutory main day of each festival (元旦, 春节,
清明/劳动节, 端午, 中秋, 国庆). The longer official holiday periods and make-up working
days (调休) change every year by State Council notice; a toilet whose hours follow them
says so in its own rule, which is data staff edit, e.g.
``Mo-Fr 08:00-18:00; PH off; 2027 Feb 06-12 off``.
"""

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from opening_hours import OpeningHours, ParserError, State

from server.util.clock import CST

COUNTRY = "CN"
MAX_RULE_LENGTH = 255
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


class InvalidRule(ValueError):
    """The text is not valid ``opening_hours`` syntax."""


@lru_cache(maxsize=4096)
def parse(rule: str) -> OpeningHours:
    """The parsed rule (cached: toilets share a handful of rules)."""
    try:
        return OpeningHours(rule, timezone=CST, country=COUNTRY, auto_country=False)
    except (ParserError, SyntaxError, ValueError) as exc:
        raise InvalidRule(rule) from exc


def check(rule: str) -> str:
    """The rule, stripped, or ``InvalidRule``."""
    rule = rule.strip()
    if not rule or len(rule) > MAX_RULE_LENGTH:
        raise InvalidRule(rule)
    parse(rule)
    return rule


@dataclass(frozen=True)
class OpenState:
    is_open: bool | None  # None: unknown (no rule, or the rule says "unknown")
    next_change: dt.datetime | None  # None: not within a year / never / unknown


CLOSED = OpenState(False, None)
UNKNOWN = OpenState(None, None)


def state(rule: str | None, status: str, now: dt.datetime) -> OpenState:
    """Whether a toilet with ``rule`` and ``status`` is open at ``now``, and until when.

    Rules change state on whole minutes only (the syntax has no seconds), so the answer is
    the same for every instant of a minute: it is computed once per rule and minute.
    """
    if status != "open":
        return CLOSED
    if not rule:
        return UNKNOWN
    return _state_in_minute(rule, now.astimezone(CST).replace(second=0, microsecond=0))


@lru_cache(maxsize=4096)
def _state_in_minute(rule: str, local: dt.datetime) -> OpenState:
    hours = parse(rule)
    current, _comment = hours.state(local)
    change = hours.next_change(local)
    if change is not None and change.tzinfo is None:
        change = change.replace(tzinfo=CST)
    if change is not None and change - local > dt.timedelta(days=366):
        change = None
    if current == State.OPEN:
        return OpenState(True, change)
    if current == State.CLOSED:
        return OpenState(False, change)
    return OpenState(None, change)


def _hhmm(moment: dt.datetime, day_start: dt.datetime) -> str:
    if moment - day_start >= dt.timedelta(days=1):
        return "24:00"
    return moment.strftime("%H:%M")


def week_table(rule: str | None, now: dt.datetime) -> list[dict]:
    """The next seven days (so each weekday once): ``[{date, weekday, hours, holiday}]``.

    ``hours`` reads like ``06:00–12:00, 14:00–22:00``, ``全天开放``, ``不开放`` or ``未知``.
    """
    today = now.astimezone(CST).date()
    holidays = parse("PH") if rule else None
    rows = []
    for offset in range(7):
        day = today + dt.timedelta(days=offset)
        start = dt.datetime.combine(day, dt.time(), tzinfo=CST)
        end = start + dt.timedelta(days=1)
        row = {"date": day, "weekday": WEEKDAYS[day.weekday()], "holiday": False}
        if not rule:
            rows.append({**row, "hours": "未知"})
            continue
        row["holiday"] = holidays.is_open(start + dt.timedelta(hours=12))
        spans, unknown = [], False
        for begin, finish, span_state, _ in parse(rule).intervals(start, end):
            begin = begin.replace(tzinfo=CST) if begin.tzinfo is None else begin
            finish = finish.replace(tzinfo=CST) if finish.tzinfo is None else finish
            if span_state == State.OPEN:
                spans.append(f"{_hhmm(max(begin, start), start)}–{_hhmm(min(finish, end), start)}")
            elif span_state == State.UNKNOWN:
                unknown = True
        if spans == ["00:00–24:00"]:
            hours = "全天开放"
        elif spans:
            hours = ", ".join(spans) + ("（其余时段未知）" if unknown else "")
        else:
            hours = "未知" if unknown else "不开放"
        rows.append({**row, "hours": hours})
    return rows
