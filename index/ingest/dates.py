"""Turn the date shapes news sources use into timezone-aware datetimes.

`parse_date` returns None for an empty value and raises ValueError for a value
that is not a date; a datetime without a zone is taken to be UTC.
"""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime

from dateutil import parser as dateutil_parser

DateValue = str | int | float | date | datetime | None

# Reuters-21578 stamps, e.g. "26-FEB-1987 15:01:01.79", sometimes followed by
# stray codes ("…01.79RM V") or a comment, and once with an hour of 605.
_REUTERS = re.compile(
    r"(?P<day>\d{1,2})-(?P<mon>[A-Za-z]{3})-(?P<year>\d{4})"
    r"(?:\s+(?P<h>\d{1,3}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<frac>\d+))?)?"
)
_MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
# The zone names US and European outlets print; dateutil knows only UTC/GMT.
_ZONES = {
    name: hours * 3600
    for name, hours in {
        "EST": -5,
        "EDT": -4,
        "CST": -6,
        "CDT": -5,
        "MST": -7,
        "MDT": -6,
        "PST": -8,
        "PDT": -7,
        "BST": 1,
        "CET": 1,
        "CEST": 2,
        "EET": 2,
        "EEST": 3,
        "MSK": 3,
    }.items()
}
# Above this a number is read as milliseconds: 1e11 seconds is the year 5138.
_MILLISECONDS_FROM = 1e11


def parse_date(value: DateValue) -> datetime | None:
    """A timezone-aware datetime for `value`; None when empty; ValueError when not a date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, bool):  # bool is an int, but True is no date
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, (int, float)):
        return from_timestamp(value)
    if isinstance(value, str):
        return _parse_string(value)
    raise ValueError(f"not a date: {value!r} ({type(value).__name__})")


QUERY_YEARS = (1000, 3000)  # a question's dates; outside, "last week" and the like would overflow


def parse_query_date(value: DateValue) -> datetime | None:
    """A date a user gave to filter by: `parse_date`, within QUERY_YEARS; ValueError with the reason."""
    try:
        moment = parse_date(value)
    except ValueError:
        raise ValueError(f"{str(value)[:80]!r} is not a date") from None
    if moment is not None and not QUERY_YEARS[0] <= moment.year <= QUERY_YEARS[1]:
        raise ValueError(f"{str(value)[:80]!r} is out of range (years {QUERY_YEARS[0]}–{QUERY_YEARS[1]})")
    return moment


def from_timestamp(seconds: float) -> datetime:
    """A unix timestamp (seconds, or milliseconds when implausibly large) as UTC."""
    if abs(seconds) >= _MILLISECONDS_FROM:
        seconds = seconds / 1000
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError) as err:
        raise ValueError(f"timestamp out of range: {seconds!r}") from err


def _aware(moment: datetime) -> datetime:
    """The moment with a zone (UTC if it had none); ValueError if UTC cannot hold it (year 1 at +05:00)."""
    moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
    try:
        moment.astimezone(timezone.utc)
    except (OverflowError, ValueError) as err:
        raise ValueError(f"date out of range: {moment.isoformat()}") from err
    return moment


def storable(moment: datetime | None) -> bool:
    """Whether the store can hold the moment (as UTC text)."""
    try:
        return moment is None or moment.astimezone(timezone.utc) is not None
    except (OverflowError, ValueError):
        return False


def _parse_string(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    # 8 digits is a compact date (20220612), not a 1970 timestamp.
    if _NUMBER.fullmatch(text) and len(text.lstrip("+-").split(".")[0]) >= 9:
        return from_timestamp(float(text))
    for parse in (_parse_reuters, _parse_iso, _parse_rfc2822, _parse_dateutil):
        parsed = parse(text)
        if parsed is not None:
            return _aware(parsed)
    raise ValueError(f"unparseable date: {text[:80]!r}")


def _parse_reuters(text: str) -> datetime | None:
    match = _REUTERS.match(text)
    if not match or match["mon"].lower() not in _MONTHS:
        return None
    day = datetime(int(match["year"]), _MONTHS[match["mon"].lower()], int(match["day"]))
    if match["h"] is None:
        return day
    try:
        micro = int((match["frac"] or "0")[:6].ljust(6, "0"))
        return day.replace(hour=int(match["h"]), minute=int(match["m"]), second=int(match["s"]), microsecond=micro)
    except ValueError:  # an impossible time of day: the day is still right
        return day


def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _parse_rfc2822(text: str) -> datetime | None:
    if "," not in text[:5] and not text[:1].isdigit():
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _parse_dateutil(text: str) -> datetime | None:
    # Fields the text lacks come from 1 January of this year, not from today.
    default = datetime(datetime.now(timezone.utc).year, 1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # other unknown zone names: read as UTC
        try:
            parsed: datetime = dateutil_parser.parse(text, default=default, tzinfos=_ZONES)
            return parsed
        except (ValueError, OverflowError, TypeError):
            return None
