"""Time in a question: "last week", "in February 2022", "since March" → a window, relative to `as_of`."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTH = r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)"


@dataclass(frozen=True)
class TimeWindow:
    """A window the question names. `strict` windows filter; the others are a strong preference."""

    since: datetime | None
    until: datetime | None
    label: str
    strict: bool

    def describe(self) -> str:
        fmt = "%Y-%m-%d"
        start = self.since.strftime(fmt) if self.since else "the beginning"
        end = (self.until - timedelta(seconds=1)).strftime(fmt) if self.until else "now"
        return f"{self.label} ({start} to {end})"


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=timezone.utc)


def _next_month(start: datetime) -> datetime:
    return _month_start(start.year + start.month // 12, start.month % 12 + 1)


def _relative(phrase: str, now: datetime) -> TimeWindow | None:
    today = _day(now)
    week_start = today - timedelta(days=today.weekday())
    month_start = _month_start(today.year, today.month)
    windows = {
        "today": (today, today + timedelta(days=1)),
        "yesterday": (today - timedelta(days=1), today),
        "this week": (today - timedelta(days=7), today + timedelta(days=1)),
        "past week": (today - timedelta(days=7), today + timedelta(days=1)),
        "last week": (week_start - timedelta(days=7), week_start),
        "this month": (month_start, today + timedelta(days=1)),
        "last month": (
            _month_start((month_start - timedelta(days=1)).year, (month_start - timedelta(days=1)).month),
            month_start,
        ),
        "this year": (datetime(today.year, 1, 1, tzinfo=timezone.utc), today + timedelta(days=1)),
        "last year": (
            datetime(today.year - 1, 1, 1, tzinfo=timezone.utc),
            datetime(today.year, 1, 1, tzinfo=timezone.utc),
        ),
        "recently": (today - timedelta(days=30), today + timedelta(days=1)),
    }
    if phrase not in windows:
        return None
    since, until = windows[phrase]
    # "today"/"yesterday" are exact; week/month words in news copy are loose, so they only steer
    return TimeWindow(since, until, phrase, strict=phrase in ("today", "yesterday"))


RELATIVE = re.compile(
    r"\b(today|yesterday|this week|past week|last week|this month|last month|this year|last year|recently)\b", re.I
)
DAYS_AGO = re.compile(r"\b(?:in the )?(?:past|last) (\d{1,3}) days\b", re.I)
# "over the last year" is the twelve months to now, not the calendar year before ("last year"): a
# figure for them is reported now, so the recency prior serves, as for "the past year"
ROLLING = re.compile(r"\bthe (?:past|last) (?:month|year)\b", re.I)
IN_MONTH = re.compile(rf"\b(?:in|during) {MONTH}(?:,? (\d{{4}}))?\b", re.I)
IN_YEAR = re.compile(r"\b(?:in|during) ((?:19|20)\d\d)\b", re.I)
SINCE = re.compile(rf"\bsince {MONTH}(?:,? (\d{{4}}))?\b", re.I)


def _month_window(name: str, year: str | None, now: datetime) -> tuple[datetime, datetime]:
    month = MONTHS[name.lower()]
    y = int(year) if year else (now.year if month <= now.month else now.year - 1)
    start = _month_start(y, month)
    return start, _next_month(start)


def find_window(question: str, as_of: datetime | None = None) -> TimeWindow | None:
    """The first time phrase in the question as a window, or None when it names no (past) time.

    A window after `as_of` ("merge in 2024", asked in 2022) speaks of the future, not of when
    articles were published, so it is ignored; a bare year only steers, since a year in a
    question more often dates the event than the reporting."""
    now = (as_of or datetime.now(timezone.utc)).astimezone(timezone.utc)
    window = _find(question, now)
    if window is None or (window.since is not None and window.since > now):
        return None
    return window


def _find(question: str, now: datetime) -> TimeWindow | None:
    if m := SINCE.search(question):
        since, _ = _month_window(m.group(1), m.group(2), now)
        return TimeWindow(since, _day(now) + timedelta(days=1), m.group(0), strict=True)
    if m := IN_MONTH.search(question):
        since, until = _month_window(m.group(1), m.group(2), now)
        return TimeWindow(since, until, m.group(0), strict=True)
    if m := IN_YEAR.search(question):
        year = int(m.group(1))
        return TimeWindow(
            datetime(year, 1, 1, tzinfo=timezone.utc),
            datetime(year + 1, 1, 1, tzinfo=timezone.utc),
            m.group(0),
            strict=False,
        )
    if m := DAYS_AGO.search(question):
        days = int(m.group(1))
        return TimeWindow(_day(now) - timedelta(days=days), _day(now) + timedelta(days=1), m.group(0), strict=True)
    if ROLLING.search(question):
        return None
    if m := RELATIVE.search(question):
        return _relative(m.group(1).lower(), now)
    return None
