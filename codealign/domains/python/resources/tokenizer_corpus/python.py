# Small original Python snippets used only to train the tiny model's tokenizer.
def add(a: int, b: int) -> int:
    return a + b


def clamp(value, low, high):
    """Return value limited to the closed interval [low, high]."""
    if value < low:
        return low
    if value > high:
        return high
    return value


def running_total(items):
    total = 0
    out = []
    for item in items:
        total += item
        out.append(total)
    return out


class Stack:
    def __init__(self):
        self._items = []

    def push(self, item):
        self._items.append(item)

    def pop(self):
        if not self._items:
            raise IndexError("pop from empty stack")
        return self._items.pop()

    def __len__(self):
        return len(self._items)


def word_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in text.lower().split():
        counts[word] = counts.get(word, 0) + 1
    return counts


def is_palindrome(s):
    cleaned = [c for c in s.lower() if c.isalnum()]
    return cleaned == cleaned[::-1]


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def binary_search(xs, target):
    lo, hi = 0, len(xs) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if xs[mid] == target:
            return mid
        if xs[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1


import json
from pathlib import Path


def load_rows(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def save_rows(path, rows):
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_add():
    assert add(2, 3) == 5
    assert add(-1, 1) == 0


def test_clamp():
    assert clamp(5, 0, 3) == 3
    assert clamp(-2, 0, 3) == 0


if __name__ == "__main__":
    print(fib(10), binary_search([1, 3, 5, 7], 5))
