"""SingleFlight: one computation per key at a time; waiters see its kept result or compute again."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from codealign.sandbox.single_flight import SingleFlight


def test_concurrent_callers_of_one_key_compute_it_once():
    lock, kept, calls = threading.Lock(), {}, []
    flight = SingleFlight(lock)

    def compute():
        calls.append(1)
        time.sleep(0.2)
        with lock:
            kept["k"] = "value"
        return "value"

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: flight.run("k", lambda: kept.get("k"), compute), range(4)))
    assert got == ["value"] * 4 and len(calls) == 1


def test_a_result_that_was_not_kept_is_computed_again():
    flight, calls = SingleFlight(threading.Lock()), []
    for _ in range(2):
        flight.run("k", lambda: None, lambda: calls.append(1))
    assert len(calls) == 2
