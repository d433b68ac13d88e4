"""The judge key and the per-job seeds every drawing judge (ladder, python, solidity) takes from it."""

import os
import stat

import pytest

from codealign.domains import draws
from codealign.types import Task


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEALIGN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(draws.KEY_ENV, raising=False)
    draws._load.cache_clear()
    yield tmp_path / "home"
    draws._load.cache_clear()


def test_the_judge_key_is_created_once_with_mode_0600(fresh_home):
    key = draws.judge_key()
    path = fresh_home / draws.KEY_NAME
    assert len(key) == draws.KEY_BYTES and stat.S_IMODE(path.stat().st_mode) == 0o600
    draws._load.cache_clear()
    assert draws.judge_key() == key and os.listdir(fresh_home) == [draws.KEY_NAME]


def test_a_shared_key_from_the_environment_replaces_the_file(fresh_home, monkeypatch):
    task = Task("t", "ladder", "p", {"a": 1})
    seed = draws.draw_seed("purpose", task, "x")
    monkeypatch.setenv(draws.KEY_ENV, "ab" * 32)
    assert draws.judge_key() == bytes.fromhex("ab" * 32) and draws.draw_seed("purpose", task, "x") != seed


@pytest.mark.parametrize("value, message", [("not hex", "hex"), ("ab" * 8 + "a", "hex"), ("ab" * 16, None),
                                            ("ab" * 8, "16 bytes")])
def test_a_malformed_shared_key_is_refused(fresh_home, monkeypatch, value, message):
    monkeypatch.setenv(draws.KEY_ENV, value)
    if message is None:
        assert draws.judge_key() == bytes.fromhex(value)
    else:
        with pytest.raises(ValueError, match=message):
            draws.judge_key()


def test_the_seed_is_reproducible_and_changes_with_purpose_candidate_task_and_key(fresh_home):
    task, other = Task("t", "ladder", "p", {"a": 1}), Task("t", "ladder", "p", {"a": 2})
    seed = draws.draw_seed("ladder-traces", task, "NO(a) OUT(b)")
    assert seed == draws.draw_seed("ladder-traces", task, "NO(a) OUT(b)")
    assert seed != draws.draw_seed("ladder-traces", task, "NO(a) OUT(c)")
    assert seed != draws.draw_seed("ladder-traces", other, "NO(a) OUT(b)")
    assert seed != draws.draw_seed("python-calls", task, "NO(a) OUT(b)")
    (fresh_home / draws.KEY_NAME).write_bytes(b"k" * draws.KEY_BYTES)
    draws._load.cache_clear()
    assert seed != draws.draw_seed("ladder-traces", task, "NO(a) OUT(b)")
