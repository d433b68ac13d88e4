import os

import pytest

from codealign.errors import UserError
from codealign.sandbox.backends import choose_backend
from codealign.sandbox.job import Job, JobStatus
from codealign.sandbox.limits import Limits


def test_auto_prefers_bwrap_here_and_says_why():
    choice = choose_backend("auto")
    assert choice.backend.name == "bwrap"
    assert "bwrap" in choice.reason


def test_unknown_backend_is_a_user_error():
    with pytest.raises(UserError, match="unknown backend"):
        choose_backend("chroot")


def test_job_files_must_stay_inside_the_job_dir():
    with pytest.raises(ValueError):
        Job(script="true", files={"../x": "a"})
    with pytest.raises(ValueError):
        Job(script="true", collect=("/etc/passwd",))


def test_task_limit_overrides_reject_unknown_names():
    with pytest.raises(ValueError, match="unknown limit"):
        Limits().merged({"wall": 3})
    assert Limits().merged({"wall_s": 3}).wall_s == 3


def test_nonpositive_limits_are_rejected():
    with pytest.raises(ValueError):
        Limits(wall_s=0)


def test_files_go_in_and_collected_files_come_back(backend):
    result = backend.run(Job(script="tr a-z A-Z < in.txt > sub/out.txt", files={"in.txt": "abc", "sub/keep": ""},
                             collect=("sub/out.txt", "missing.txt")))
    assert result.status is JobStatus.EXITED
    assert result.files == {"sub/out.txt": b"ABC"}


def test_job_runs_in_a_fresh_dir_with_a_scrubbed_environment(backend, monkeypatch):
    monkeypatch.setenv("CODEALIGN_SHOULD_NOT_LEAK", "1")
    result = backend.run(Job(script='ls -A; echo "HOME=$HOME"; env | grep -c CODEALIGN_SHOULD_NOT_LEAK || true'))
    lines = result.text().splitlines()
    assert lines[-1] == "0"
    assert lines[0].startswith("HOME=")


def test_stdin_is_closed(backend):
    result = backend.run(Job(script="cat; echo rc=$? >&3"))
    assert result.trusted == b"rc=0\n" and result.stdout == b""


def test_wall_and_cpu_time_and_memory_are_reported(backend):
    result = backend.run(Job(script="python3 -c 'x = bytearray(50 << 20); sum(range(3000000))'"))
    assert result.status is JobStatus.EXITED
    assert result.wall_s > 0 and result.cpu_s > 0
    assert result.peak_memory_mb >= 40


def test_missing_job_root_is_a_sandbox_error_not_an_exception(tmp_path):
    from codealign.sandbox.process import ProcessBackend

    backend = ProcessBackend(tmp_path)
    backend.workdir = tmp_path / "gone" / "deeper"
    result = backend.run(Job(script="true"))
    assert result.status is JobStatus.SANDBOX_ERROR
    assert "job dir" in result.error


def test_job_dir_is_removed_after_the_run_even_with_subfolders(backend, tmp_path):
    private = type(backend)(tmp_path)
    result = private.run(Job(script="mkdir -p a/b/c; touch a/b/c/f; mkdir d; chmod 000 d"))
    assert result.status is JobStatus.EXITED
    assert list(private.workdir.iterdir()) == []


def test_job_binds_under_tmp_stay_visible_under_bwrap():
    """bwrap replaces /tmp with a private tmpfs; a job's bind (harness code) that lives under /tmp is bound
    read-only over it, so jobs can still read it."""
    import shutil
    import tempfile

    from codealign.sandbox.bwrap import BwrapBackend

    home = tempfile.mkdtemp(prefix="codealign-home-", dir="/tmp")
    try:
        os.chmod(home, 0o755)
        with open(os.path.join(home, "data.txt"), "w") as fh:
            fh.write("visible")
        result = BwrapBackend().run(Job(script=f"cat {home}/data.txt; echo x > {home}/new 2>/dev/null; true",
                                        binds=(home,)))
        assert result.stdout == b"visible"
        assert not os.path.exists(os.path.join(home, "new"))
    finally:
        shutil.rmtree(home)


def _live_pids_of_group(pgid: int) -> list[int]:
    from codealign.sandbox.process import _group_pids

    live = []
    for pid in _group_pids(pgid):
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                if fh.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                    live.append(pid)
        except OSError:
            continue
    return live


def test_kill_until_gone_leaves_no_process_of_the_group_alive():
    import signal
    import subprocess
    import time

    from codealign.sandbox.cgroup import kill_until_gone

    proc = subprocess.Popen(["sh", "-c", "for i in 1 2 3 4 5 6; do sleep 30 & done; wait"], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len(_live_pids_of_group(proc.pid)) < 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert kill_until_gone(lambda: _live_pids_of_group(proc.pid))
        assert _live_pids_of_group(proc.pid) == []
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()


@pytest.fixture
def closed_folder():
    """``/tmp/<new>/closed`` (0700, like a fresh machine's /root) holding a world-readable ``pub/data.txt``;
    everything above ``closed`` is traversable."""
    import shutil
    import tempfile
    from pathlib import Path

    top = Path(tempfile.mkdtemp(prefix="codealign-closed-", dir="/tmp"))
    os.chmod(top, 0o755)
    pub = top / "closed" / "pub"
    pub.mkdir(parents=True)
    (pub / "data.txt").write_text("visible")
    os.chmod(pub, 0o755)
    os.chmod(top / "closed", 0o700)
    yield top / "closed", pub
    shutil.rmtree(top)


@pytest.mark.skipif(os.geteuid() != 0, reason="jobs run as unprivileged uids only when the harness is root")
def test_bwrap_shows_binds_below_a_folder_others_cannot_traverse(closed_folder):
    """bwrap runs as root and drops to the slot uid inside, so an interpreter under a 0700 home folder is
    reachable without changing the host's permissions; the process backend's uid cannot reach it."""
    from codealign.sandbox.bwrap import BwrapBackend
    from codealign.sandbox.process import ProcessBackend

    _, pub = closed_folder
    job = Job(script=f"cat {pub}/data.txt; echo; id -u", binds=(str(pub),))
    inside = BwrapBackend().run(job)
    assert inside.text().split() == ["visible", str(inside.uid)]
    assert b"visible" not in ProcessBackend().run(job).stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="jobs run as unprivileged uids only when the harness is root")
def test_bwrap_job_has_no_capabilities_and_no_new_privileges():
    from codealign.sandbox.bwrap import BwrapBackend

    result = BwrapBackend().run(Job(script="grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status"))
    fields = dict(line.split(":") for line in result.text().splitlines())
    assert {k: v.strip() for k, v in fields.items()} == {"CapEff": "0" * 16, "CapBnd": "0" * 16, "NoNewPrivs": "1"}


def test_bwrap_job_sees_nothing_of_home_checkout_or_other_jobs():
    from pathlib import Path

    from codealign.sandbox.bwrap import BwrapBackend

    from codealign.sandbox.binds import interpreter_paths

    repo = Path(__file__).resolve().parents[1]
    home = Path.home().resolve()
    backend = BwrapBackend()
    result = backend.run(Job(script=f"ls -A {repo}; echo --; ls -A {backend.workdir}; echo --; ls -A {home}"))
    checkout, jobs, homes = (part.split() for part in result.text().split("--"))
    assert set(checkout) <= {".venv"}
    assert len(jobs) == 1
    interpreter_in_home = {Path(p).resolve().relative_to(home).parts[0] for p in interpreter_paths()
                           if Path(p).resolve().is_relative_to(home)}
    assert set(homes) == interpreter_in_home


@pytest.mark.skipif(os.geteuid() != 0, reason="jobs run as unprivileged uids only when the harness is root")
def test_process_problem_names_the_folder_that_hides_the_interpreter(closed_folder, monkeypatch):
    import sys

    from codealign.sandbox.process import process_problem

    closed, pub = closed_folder
    assert process_problem() is None or "not traversable" in process_problem()
    monkeypatch.setattr(sys, "prefix", str(pub))
    assert f"({closed} is not traversable by others)" in process_problem()


@pytest.mark.skipif(os.geteuid() != 0, reason="jobs run as unprivileged uids only when the harness is root")
def test_auto_skips_a_process_backend_that_cannot_reach_the_interpreter(closed_folder, monkeypatch):
    import sys

    import codealign.sandbox.bwrap as bwrap

    _, pub = closed_folder
    monkeypatch.setattr(sys, "prefix", str(pub))
    monkeypatch.setattr(bwrap, "bwrap_problem", lambda: "no user namespaces")
    choice = choose_backend("auto")
    assert choice.backend.name != "process" or "cannot reach the interpreter" in choice.reason


def test_doctor_warns_about_a_home_folder_left_traversable(tmp_path, monkeypatch):
    import sys

    from codealign.doctor import isolation_warnings
    from codealign.sandbox.binds import traverse_only_dirs

    home = tmp_path / "home"
    (home / "venv").mkdir(parents=True)
    os.chmod(home, 0o701)
    os.chmod(tmp_path, 0o755)
    assert traverse_only_dirs([str(home / "venv")]) == [str(home)]
    monkeypatch.setattr(sys, "prefix", str(home / "venv"))
    assert any(w.endswith(f"chmod o-x {home}") for w in isolation_warnings("bwrap"))
    os.chmod(home, 0o700)
    assert traverse_only_dirs([str(home / "venv")]) == []
