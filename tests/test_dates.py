from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from index.ingest.dates import parse_date

UTC = timezone.utc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("26-FEB-1987 15:01:01.79", datetime(1987, 2, 26, 15, 1, 1, 790000, tzinfo=UTC)),
        ("1-MAR-1987 01:30:29.50", datetime(1987, 3, 1, 1, 30, 29, 500000, tzinfo=UTC)),
        ("2022/06/12", datetime(2022, 6, 12, tzinfo=UTC)),
        ("2022-06-12", datetime(2022, 6, 12, tzinfo=UTC)),
        ("20220612", datetime(2022, 6, 12, tzinfo=UTC)),
        ("February 07, 2022", datetime(2022, 2, 7, tzinfo=UTC)),
        ("2022-02-07T10:00:00Z", datetime(2022, 2, 7, 10, tzinfo=UTC)),
        ("2022-02-07T10:00:00", datetime(2022, 2, 7, 10, tzinfo=UTC)),
        ("2022-02-07 10:00:00.5+02:00", datetime(2022, 2, 7, 10, 0, 0, 500000, tzinfo=timezone(timedelta(hours=2)))),
        ("Mon, 07 Feb 2022 10:00:00 +0300", datetime(2022, 2, 7, 10, tzinfo=timezone(timedelta(hours=3)))),
        ("Tue, 01 Jul 2003 10:52:37 GMT", datetime(2003, 7, 1, 10, 52, 37, tzinfo=UTC)),
        ("Mon, 07 Feb 2022 10:00:00 -0000", datetime(2022, 2, 7, 10, tzinfo=UTC)),
        ("February 7, 2022 10:00 AM EST", datetime(2022, 2, 7, 10, tzinfo=timezone(timedelta(hours=-5)))),
        ("1644228000", datetime(2022, 2, 7, 10, tzinfo=UTC)),
        (1644228000, datetime(2022, 2, 7, 10, tzinfo=UTC)),
        (1644228000.5, datetime(2022, 2, 7, 10, 0, 0, 500000, tzinfo=UTC)),
        (1644228000000, datetime(2022, 2, 7, 10, tzinfo=UTC)),  # milliseconds
    ],
)
def test_real_shapes(value: str | int | float, expected: datetime) -> None:
    parsed = parse_date(value)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("27-MAR-1987 00:03:35.68F", datetime(1987, 3, 27, 0, 3, 35, 680000, tzinfo=UTC)),
        ("27-MAR-1987 04:38:47.18M C F", datetime(1987, 3, 27, 4, 38, 47, 180000, tzinfo=UTC)),
        ("3-MAR-1987  09:15:05.40", datetime(1987, 3, 3, 9, 15, 5, 400000, tzinfo=UTC)),
        ("9-APR-1987 00:00:00.00    # date added by S Finch as guesswork", datetime(1987, 4, 9, tzinfo=UTC)),
        ("31-MAR-1987 605:12:19.12", datetime(1987, 3, 31, tzinfo=UTC)),  # impossible hour
    ],
)
def test_messy_reuters_stamps(value: str, expected: datetime) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", [None, "", "   \n"])
def test_empty_is_none(value: str | None) -> None:
    assert parse_date(value) is None


@pytest.mark.parametrize(
    "value",
    ["sometime last week", "Zuma / TASS", "2022-13-45", "31-XYZ-1987", "\x00", True, [2022]],
)
def test_not_a_date_raises_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="date|timestamp"):
        parse_date(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [10**30, float("nan"), float("inf"), "99999999999999999999999"])
def test_out_of_range_timestamps_raise_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_date(value)  # type: ignore[arg-type]


def test_datetimes_and_dates() -> None:
    assert parse_date(datetime(2022, 2, 7, 10)) == datetime(2022, 2, 7, 10, tzinfo=UTC)
    aware = datetime(2022, 2, 7, 10, tzinfo=timezone(timedelta(hours=3)))
    assert parse_date(aware) is aware
    assert parse_date(date(2022, 2, 7)) == datetime(2022, 2, 7, tzinfo=UTC)


def test_missing_day_is_the_first_not_today() -> None:
    assert parse_date("Feb 2022") == datetime(2022, 2, 1, tzinfo=UTC)
