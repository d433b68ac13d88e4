import datetime as dt

import pytest

from minical.event import Event

DAY = dt.date(2024, 3, 5)


def test_parse_reads_date_times_title_and_tags():
    event = Event.parse("2024-03-05 09:00-10:30 Team standup #Work #daily")
    assert event.title == "Team standup"
    assert event.date == DAY
    assert (event.start, event.end) == (540, 630)
    assert event.tags == frozenset({"work", "daily"})
    assert event.duration == 90


def test_str_round_trips_through_parse():
    event = Event("Review", DAY, 600, 645, frozenset({"b", "a"}))
    assert str(event) == "2024-03-05 10:00-10:45 Review #a #b"
    assert Event.parse(str(event)) == event


def test_invalid_events_are_rejected():
    with pytest.raises(ValueError, match="ends before"):
        Event("x", DAY, 600, 600)
    with pytest.raises(ValueError, match="title"):
        Event("  ", DAY, 600, 660)


def test_overlap_is_strict_and_same_day_only():
    a = Event("a", DAY, 600, 660)
    assert a.overlaps(Event("b", DAY, 630, 700))
    assert not a.overlaps(Event("c", DAY, 660, 700))
    assert not a.overlaps(Event("d", DAY + dt.timedelta(days=1), 600, 660))


def test_shifted_moves_both_ends():
    moved = Event("a", DAY, 600, 660).shifted(30)
    assert (moved.start, moved.end) == (630, 690)
