"""Cron expressions and intervals: due times, and errors that name the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lanza.automation.cron import next_time, parse_cron, parse_interval
from lanza.automation.paths import render_path


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def firings(expression: str, start: str, count: int) -> list[str]:
    cron = parse_cron(expression)
    moment, out = at(start), []
    for _ in range(count):
        moment = cron.next_after(moment)
        out.append(moment.strftime("%Y-%m-%d %H:%M %a"))
    return out


def test_daily_at_two() -> None:
    assert firings("0 2 * * *", "2026-11-27T01:59:30", 3) == [
        "2026-11-27 02:00 Fri",
        "2026-11-28 02:00 Sat",
        "2026-11-29 02:00 Sun",
    ]


def test_next_is_strictly_after() -> None:
    assert firings("0 2 * * *", "2026-11-27T02:00", 1) == ["2026-11-28 02:00 Sat"]


def test_steps_ranges_lists_and_weekdays() -> None:
    assert firings("*/20 9-10 * * 1-5", "2026-11-27T10:30", 3) == [
        "2026-11-27 10:40 Fri",
        "2026-11-30 09:00 Mon",
        "2026-11-30 09:20 Mon",
    ]
    assert firings("30 6 1,15 * *", "2026-11-20T00:00", 2) == [
        "2026-12-01 06:30 Tue",
        "2026-12-15 06:30 Tue",
    ]
    assert firings("0 0 * * 7", "2026-11-27T00:00", 1) == ["2026-11-29 00:00 Sun"]


def test_day_of_month_or_weekday_when_both_are_set() -> None:
    assert firings("0 0 13 * 5", "2026-11-01T00:00", 3) == [
        "2026-11-06 00:00 Fri",
        "2026-11-13 00:00 Fri",
        "2026-11-20 00:00 Fri",
    ]


def test_year_end_and_leap_day() -> None:
    assert firings("@monthly", "2026-12-15T00:00", 1) == ["2027-01-01 00:00 Fri"]
    assert firings("0 0 29 2 *", "2026-03-01T00:00", 1) == ["2028-02-29 00:00 Tue"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 2 * *", "must have 5 fields"),
        ("61 * * * *", "minute field '61' must lie within 0-59"),
        ("0 25 * * *", "hour field '25'"),
        ("0 0 * 13 *", "month field"),
        ("x * * * *", "minute field has 'x'"),
        ("*/0 * * * *", "step must be at least 1"),
    ],
)
def test_bad_expressions_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cron(expression)


def test_never_firing_expression_is_an_error() -> None:
    with pytest.raises(ValueError, match="never fires"):
        parse_cron("0 0 31 2 *").next_after(at("2026-01-01T00:00"))


def test_intervals() -> None:
    assert parse_interval("90s") == timedelta(seconds=90)
    assert parse_interval("15m") == timedelta(minutes=15)
    assert parse_interval("2h") == timedelta(hours=2)
    assert parse_interval("1d") == timedelta(days=1)
    assert next_time(None, "1h", at("2026-11-27T02:10")) == at("2026-11-27T03:10")
    for bad in ("0m", "5", "1w", "h"):
        with pytest.raises(ValueError, match="positive number"):
            parse_interval(bad)


def test_dated_paths() -> None:
    due = at("2026-11-27T02:00")
    assert render_path("gs://b/{date}/*.parquet", due) == "gs://b/2026-11-27/*.parquet"
    assert render_path("out/{date:%Y/%m/%d}/{datetime}", due) == "out/2026/11/27/2026-11-27T0200"
    assert render_path("in/part-{a,b}.csv", due) == "in/part-{a,b}.csv"
