"""When a schedule is due: five-field cron expressions and fixed intervals, in UTC.

Cron fields are minute, hour, day of month, month and day of week (0 or 7 is Sunday),
each ``*``, a number, a range ``a-b``, a list ``a,b`` and a step ``*/n`` or ``a-b/n``;
``@hourly``, ``@daily``, ``@weekly`` and ``@monthly`` are shorthands. When both day
fields are restricted a day matches either, as in Vixie cron. Intervals are written
``30s``, ``15m``, ``2h`` or ``1d``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

SHORTHANDS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
NAMES = ("minute", "hour", "day of month", "month", "day of week")
INTERVAL = re.compile(r"^(\d+)\s*(s|m|h|d)$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SEARCH = timedelta(days=366 * 5)


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    def matches(self, moment: datetime) -> bool:
        """Whether the minute of ``moment`` is one this expression fires on."""
        if moment.minute not in self.minutes or moment.hour not in self.hours:
            return False
        return moment.month in self.months and self._day_ok(moment)

    def next_after(self, moment: datetime) -> datetime:
        """The first firing strictly after ``moment``."""
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = moment + MAX_SEARCH
        while candidate <= limit:
            if candidate.month not in self.months:
                candidate = _next_month(candidate)
            elif not self._day_ok(candidate):
                candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0)
            elif candidate.hour not in self.hours:
                candidate = (candidate + timedelta(hours=1)).replace(minute=0)
            elif candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
            else:
                return candidate
        raise ValueError(f"cron expression '{self.expression}' never fires")

    def _day_ok(self, moment: datetime) -> bool:
        day = moment.day in self.days
        weekday = (moment.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return day and weekday
        return day or weekday


def parse_cron(expression: str) -> Cron:
    """Parse a cron expression; ValueError with the field at fault."""
    text = SHORTHANDS.get(expression.strip(), expression.strip())
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron expression '{expression}' must have 5 fields "
            "(minute hour day-of-month month day-of-week)"
        )
    sets = [
        _field(value, low, high, name)
        for value, (low, high), name in zip(fields, BOUNDS, NAMES, strict=True)
    ]
    weekdays = frozenset(d % 7 for d in sets[4])
    return Cron(
        expression,
        sets[0],
        sets[1],
        sets[2],
        sets[3],
        weekdays,
        fields[2] == "*",
        fields[4] == "*",
    )


def parse_interval(text: str) -> timedelta:
    """``30s``, ``15m``, ``2h`` or ``1d`` as a timedelta; ValueError otherwise."""
    match = INTERVAL.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"interval '{text}' must be a positive number with s, m, h or d")
    return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])


def _field(value: str, low: int, high: int, name: str) -> frozenset[int]:
    found: set[int] = set()
    for part in value.split(","):
        base, _, step_text = part.partition("/")
        step = _number(step_text, name) if step_text else 1
        if step < 1:
            raise ValueError(f"the {name} step must be at least 1")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _number(first, name), _number(last, name)
        else:
            start = _number(base, name)
            end = high if step_text else start
        if not low <= start <= end <= high:
            raise ValueError(f"the {name} field '{value}' must lie within {low}-{high}")
        found.update(range(start, end + 1, step))
    return frozenset(found)


def _number(text: str, name: str) -> int:
    if not text.isdigit():
        raise ValueError(f"the {name} field has '{text}', which is not a number")
    return int(text)


def _next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1, hour=0, minute=0)


def next_time(cron: str | None, every: str | None, after: datetime) -> datetime:
    """The first due time strictly after ``after`` for a cron expression or an interval."""
    if cron is not None:
        return parse_cron(cron).next_after(after)
    if every is not None:
        return after + parse_interval(every)
    raise ValueError("a schedule needs 'cron' or 'every'")
