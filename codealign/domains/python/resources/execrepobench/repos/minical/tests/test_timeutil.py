import datetime as dt

import pytest

from minical.timeutil import add_months, days_in_month, format_time, parse_date, parse_time, weekday_name


def test_parse_and_format_time_round_trip():
    for text in ("00:00", "09:05", "13:30", "23:59", "24:00"):
        assert format_time(parse_time(text)) == text
    assert parse_time(" 7:45 ") == 465


@pytest.mark.parametrize("text", ["9", "09:5", "ab:cd", "10:60", "24:01"])
def test_bad_times_are_rejected(text):
    with pytest.raises(ValueError):
        parse_time(text)


def test_format_time_range():
    with pytest.raises(ValueError):
        format_time(-1)


def test_parse_date():
    assert parse_date("2024-02-29") == dt.date(2024, 2, 29)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date("29/02/2024")


def test_weekday_name():
    assert weekday_name(dt.date(2024, 3, 4)) == "mon"
    assert weekday_name(dt.date(2024, 3, 10)) == "sun"


def test_days_in_month_handles_leap_years_and_december():
    assert days_in_month(2024, 2) == 29
    assert days_in_month(2023, 2) == 28
    assert days_in_month(2023, 12) == 31
    assert days_in_month(2023, 4) == 30


def test_add_months_clamps_to_month_end():
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2023, 11, 15), 3) == dt.date(2024, 2, 15)
    assert add_months(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)
