"""One computation per key at a time, shared by threads (a warm worker's answer, a recorded reference)."""

from __future__ import annotations

import threading
from typing import Callable, Hashable, TypeVar

T = TypeVar("T")


class SingleFlight:
    """Concurrent callers asking for one key: the first computes it, the others wait for that computation to
    end and then look again (so a result that was not kept is computed again, by one of them)."""

    def __init__(self, lock: threading.Lock):
        self._lock = lock
        self._inflight: dict[Hashable, threading.Event] = {}

    def run(self, key: Hashable, lookup: Callable[[], T | None], compute: Callable[[], T]) -> T:
        """``lookup()`` (called holding the lock) when it finds the value, else ``compute()`` (called without
        it; it keeps what it wants kept, so that a later ``lookup`` finds it)."""
        while True:
            with self._lock:
                hit = lookup()
                if hit is not None:
                    return hit
                running = self._inflight.get(key)
                if running is None:
                    self._inflight[key] = threading.Event()
                    break
            running.wait()
        try:
            return compute()
        finally:
            with self._lock:
                self._inflight.pop(key).set()
