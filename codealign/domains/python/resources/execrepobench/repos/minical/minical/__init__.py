"""Events, recurrence rules and a day-planner calendar built on the standard library."""

from minical.calendar import Calendar, ConflictError
from minical.event import Event
from minical.recurrence import Rule, expand

__all__ = ["Calendar", "ConflictError", "Event", "Rule", "expand"]
