"""Recurrence rules: every N days, on given weekdays, or on a day of the month."""

import datetime as dt
from dataclasses import dataclass

from minical.timeutil import WEEKDAYS, add_months

FREQUENCIES = ("daily", "weekly", "monthly")


@dataclass(frozen=True)
class Rule:
    frequency: str
    interval: int = 1
    weekdays: tuple = ()
    count: int = None
    until: object = None

    def __post_init__(self):
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"unknown frequency {self.frequency!r}")
        if self.interval < 1:
            raise ValueError("interval must be at least 1")
        if self.count is None and self.until is None:
            raise ValueError("a rule needs a count or an end date")
        for day in self.weekdays:
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}")


def _candidates(rule, start):
    if rule.frequency == "daily":
        day = start
        while True:
            yield day
            day += dt.timedelta(days=rule.interval)
    elif rule.frequency == "weekly":
        wanted = {WEEKDAYS.index(d) for d in rule.weekdays} or {start.weekday()}
        week_start = start - dt.timedelta(days=start.weekday())
        while True:
            for offset in range(7):
                day = week_start + dt.timedelta(days=offset)
                if day >= start and day.weekday() in wanted:
                    yield day
            week_start += dt.timedelta(weeks=rule.interval)
    else:
        months = 0
        while True:
            yield add_months(start, months)
            months += rule.interval


def expand(rule, start, limit=1000):
    """The dates ``rule`` produces from ``start`` on, in order, at most ``limit`` of them."""
    dates = []
    for day in _candidates(rule, start):
        if rule.until is not None and day > rule.until:
            break
        if rule.count is not None and len(dates) >= rule.count:
            break
        if len(dates) >= limit:
            break
        dates.append(day)
    return dates
