"""Clock times as minutes after midnight, ISO dates, and month arithmetic."""

import datetime as dt

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60


def parse_time(text):
    hours, _, minutes = text.strip().partition(":")
    if not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"not a HH:MM time: {text!r}")
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > MINUTES_PER_DAY:
        raise ValueError(f"time out of range: {text!r}")
    return total


def format_time(minutes):
    if not 0 <= minutes <= MINUTES_PER_DAY:
        raise ValueError(f"minutes out of range: {minutes}")
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_date(text):
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}") from None


def weekday_name(date):
    return WEEKDAYS[date.weekday()]


def days_in_month(year, month):
    if month == 12:
        following = dt.date(year + 1, 1, 1)
    else:
        following = dt.date(year, month + 1, 1)
    return (following - dt.date(year, month, 1)).days


def add_months(date, months):
    index = date.year * 12 + date.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    day = min(date.day, days_in_month(year, month))
    return dt.date(year, month, day)
