"""A single calendar event on one day."""

from dataclasses import dataclass, field

from minical.timeutil import format_time, parse_date, parse_time


@dataclass(frozen=True)
class Event:
    title: str
    date: object
    start: int
    end: int
    tags: frozenset = field(default_factory=frozenset)

    def __post_init__(self):
        if not self.title.strip():
            raise ValueError("event title must not be empty")
        if self.end <= self.start:
            raise ValueError(f"event {self.title!r} ends before it starts")
        object.__setattr__(self, "tags", frozenset(tag.lower() for tag in self.tags))

    @classmethod
    def parse(cls, line):
        """``2024-03-05 09:00-10:30 Standup #work #daily``"""
        date_text, times, *rest = line.split()
        start_text, _, end_text = times.partition("-")
        words = [w for w in rest if not w.startswith("#")]
        tags = frozenset(w[1:].lower() for w in rest if w.startswith("#") and len(w) > 1)
        return cls(" ".join(words), parse_date(date_text), parse_time(start_text), parse_time(end_text), tags)

    @property
    def duration(self):
        return self.end - self.start

    def overlaps(self, other):
        return self.date == other.date and self.start < other.end and other.start < self.end

    def shifted(self, minutes):
        return Event(self.title, self.date, self.start + minutes, self.end + minutes, self.tags)

    def __str__(self):
        tags = "".join(f" #{t}" for t in sorted(self.tags))
        return f"{self.date.isoformat()} {format_time(self.start)}-{format_time(self.end)} {self.title}{tags}"
