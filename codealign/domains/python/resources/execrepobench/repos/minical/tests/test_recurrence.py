import datetime as dt

import pytest

from minical.recurrence import Rule, expand

START = dt.date(2024, 1, 31)


def test_daily_with_interval_and_count():
    assert expand(Rule("daily", interval=2, count=3), START) == [
        dt.date(2024, 1, 31), dt.date(2024, 2, 2), dt.date(2024, 2, 4)]


def test_weekly_on_weekdays_until_date():
    rule = Rule("weekly", weekdays=("mon", "wed"), until=dt.date(2024, 2, 12))
    assert expand(rule, dt.date(2024, 2, 1)) == [dt.date(2024, 2, 5), dt.date(2024, 2, 7), dt.date(2024, 2, 12)]


def test_weekly_defaults_to_start_weekday_and_skips_weeks():
    rule = Rule("weekly", interval=2, count=3)
    assert expand(rule, dt.date(2024, 2, 1)) == [dt.date(2024, 2, 1), dt.date(2024, 2, 15), dt.date(2024, 2, 29)]


def test_monthly_clamps_but_keeps_anchor_day():
    assert expand(Rule("monthly", count=4), START) == [
        dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31), dt.date(2024, 4, 30)]


def test_limit_caps_open_ended_rules():
    assert len(expand(Rule("daily", until=dt.date(2030, 1, 1)), START, limit=10)) == 10


@pytest.mark.parametrize("kwargs", [
    {"frequency": "hourly", "count": 1},
    {"frequency": "daily", "interval": 0, "count": 1},
    {"frequency": "daily"},
    {"frequency": "weekly", "weekdays": ("funday",), "count": 1},
])
def test_invalid_rules(kwargs):
    with pytest.raises(ValueError):
        Rule(**kwargs)
