"""A calendar of events: conflicts, free time and agendas."""

from collections import defaultdict

from minical.event import Event
from minical.recurrence import expand
from minical.timeutil import format_time, parse_time


class ConflictError(ValueError):
    def __init__(self, event, clashes):
        names = ", ".join(c.title for c in clashes)
        super().__init__(f"{event.title!r} overlaps {names}")
        self.event = event
        self.clashes = clashes


class Calendar:
    def __init__(self, allow_overlaps=False):
        self.allow_overlaps = allow_overlaps
        self._by_date = defaultdict(list)

    def __len__(self):
        return sum(len(events) for events in self._by_date.values())

    def add(self, event):
        clashes = [e for e in self._by_date[event.date] if e.overlaps(event)]
        if clashes and not self.allow_overlaps:
            raise ConflictError(event, clashes)
        day = self._by_date[event.date]
        day.append(event)
        day.sort(key=lambda e: (e.start, e.end, e.title))
        return event

    def add_recurring(self, event, rule):
        added = []
        for date in expand(rule, event.date):
            added.append(self.add(Event(event.title, date, event.start, event.end, event.tags)))
        return added

    def remove(self, title, date):
        day = self._by_date.get(date, [])
        kept = [e for e in day if e.title != title]
        removed = len(day) - len(kept)
        self._by_date[date] = kept
        return removed

    def events_on(self, date):
        return list(self._by_date.get(date, []))

    def tagged(self, tag):
        tag = tag.lower()
        return [e for date in sorted(self._by_date) for e in self._by_date[date] if tag in e.tags]

    def busy_minutes(self, date):
        total, covered_until = 0, 0
        for event in self.events_on(date):
            start = max(event.start, covered_until)
            if event.end > start:
                total += event.end - start
            covered_until = max(covered_until, event.end)
        return total

    def free_slots(self, date, day_start="08:00", day_end="18:00", minimum=15):
        start, end = parse_time(day_start), parse_time(day_end)
        slots, cursor = [], start
        for event in self.events_on(date):
            if event.end <= cursor or event.start >= end:
                continue
            if event.start - cursor >= minimum:
                slots.append((cursor, event.start))
            cursor = max(cursor, event.end)
        if end - cursor >= minimum:
            slots.append((cursor, end))
        return slots

    def busiest_day(self):
        if not self._by_date:
            return None
        return max(sorted(self._by_date), key=self.busy_minutes)

    def agenda(self, date):
        events = self.events_on(date)
        if not events:
            return f"{date.isoformat()}: nothing planned"
        lines = [f"{date.isoformat()} ({len(events)} events)"]
        for event in events:
            lines.append(f"  {format_time(event.start)}-{format_time(event.end)}  {event.title}")
        return "\n".join(lines)
