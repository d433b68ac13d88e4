import datetime as dt

import pytest

from minical import Calendar, ConflictError, Event, Rule

DAY = dt.date(2024, 3, 5)


def ev(title, start, end, day=DAY, tags=()):
    return Event(title, day, start, end, frozenset(tags))


@pytest.fixture
def cal():
    c = Calendar()
    c.add(ev("standup", 540, 555, tags=["work"]))
    c.add(ev("lunch", 720, 780))
    c.add(ev("review", 600, 660, tags=["work"]))
    return c


def test_events_are_kept_sorted(cal):
    assert [e.title for e in cal.events_on(DAY)] == ["standup", "review", "lunch"]
    assert len(cal) == 3


def test_conflicts_raise_unless_allowed(cal):
    with pytest.raises(ConflictError) as info:
        cal.add(ev("clash", 630, 700))
    assert info.value.clashes == [cal.events_on(DAY)[1]]
    loose = Calendar(allow_overlaps=True)
    loose.add(ev("a", 600, 660))
    loose.add(ev("b", 630, 700))
    assert len(loose) == 2


def test_free_slots_between_events(cal):
    assert cal.free_slots(DAY) == [(480, 540), (555, 600), (660, 720), (780, 1080)]
    assert cal.free_slots(DAY, minimum=60) == [(480, 540), (660, 720), (780, 1080)]
    assert cal.free_slots(DAY, "09:10", "12:30") == [(555, 600), (660, 720)]


def test_busy_minutes_merges_overlaps():
    c = Calendar(allow_overlaps=True)
    c.add(ev("a", 600, 660))
    c.add(ev("b", 630, 700))
    c.add(ev("c", 800, 810))
    assert c.busy_minutes(DAY) == 110


def test_busiest_day():
    c = Calendar()
    assert c.busiest_day() is None
    c.add(ev("short", 600, 610))
    c.add(ev("long", 600, 700, day=DAY + dt.timedelta(days=1)))
    assert c.busiest_day() == DAY + dt.timedelta(days=1)


def test_recurring_events_and_removal():
    c = Calendar()
    added = c.add_recurring(ev("gym", 1080, 1140), Rule("daily", count=3))
    assert [e.date for e in added] == [DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)]
    assert c.remove("gym", DAY) == 1
    assert c.remove("gym", DAY) == 0
    assert len(c) == 2


def test_tagged_across_days(cal):
    cal.add(ev("retro", 900, 960, day=DAY + dt.timedelta(days=1), tags=["Work"]))
    assert [e.title for e in cal.tagged("WORK")] == ["standup", "review", "retro"]


def test_agenda_text(cal):
    assert cal.agenda(DAY).splitlines() == [
        "2024-03-05 (3 events)", "  09:00-09:15  standup", "  10:00-11:00  review", "  12:00-13:00  lunch"]
    assert cal.agenda(DAY + dt.timedelta(days=9)) == "2024-03-14: nothing planned"
