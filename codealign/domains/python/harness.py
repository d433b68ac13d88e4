"""The trusted parent of a Python-domain job (runs INSIDE the sandbox; stdlib only, never imports candidate code).

The domain writes this file, ``worker.py``, ``runner.py``, ``config.json`` and a 32-byte ``key`` into
``.codealign/`` of the job directory and runs ``python -I -B .codealign/python_harness.py`` as the job's last
command (``exec``, so this process is the only holder of fd 3, the backend's trusted channel). Before anything
else runs it:

1. reads the key into a bytearray and unlinks the file, and reads the config and the worker and runner
   sources into memory, so later changes to those files by candidate code change nothing;
2. makes itself non-dumpable (``PR_SET_DUMPABLE=0``): processes of the same uid can no longer open
   ``/proc/<pid>/fd/*``, read ``/proc/<pid>/mem`` or ptrace it;
3. collects the test ids statically (``ast`` over the test files: pytest's default naming rules), so the
   candidate cannot change how many tests exist.

It then starts, for the tests not yet reported, a trusted test runner (``runner.py``: runs the tests in its own
process and reaches the candidate's code in a ``worker.py serve`` child only through plain-data requests) or,
for a function task, a ``worker.py calls`` process (runs the candidate's function and reports each result as
plain data). Either gets its config on stdin (no key) and reports on a pipe; this process enforces the per-test
and total deadlines: one that dies or overruns a test is killed with its process group, that test is charged
(a charge outweighs any pass already seen for it), and a new one runs the tests not yet reported; it is the
child subreaper of the job, so orphans are killed and reaped here. It writes signed JSON lines
``{"payload": ..., "mac": ...}`` to fd 3 (``mac`` = HMAC-SHA256(key, payload), so nothing else that reaches fd 3
can forge them): ``{"started": true}`` first, the report last (with each call's encoded result in the calls
mode, which the judge compares outside the sandbox).
"""

import ast
import ctypes
import hashlib
import hmac
import json
import os
import selectors
import signal
import subprocess
import sys
import time

HERE = ".codealign"
STARTUP_ALLOWANCE_S = 15.0
MAX_TESTS_IN_REPORT = 500
MAX_RESULT_CHARS = 20000
RESTART = 3  # a test runner's exit status after the candidate's process died: start another for the rest


def read_key(path):
    key = bytearray(64)
    fd = os.open(path, os.O_RDONLY)
    try:
        n = os.readv(fd, [key])
    finally:
        os.close(fd)
    os.unlink(path)
    del key[n:]
    return key


def prctl(option, value):
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def make_undumpable():
    return prctl(4, 0)  # PR_SET_DUMPABLE


def become_subreaper():
    """Orphans of the workers (fork-bomb clones) are re-parented here, so they can be killed and reaped
    inside the job instead of lingering as zombies that count against the uid's process limit."""
    return prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


def reap_orphans():
    """Kill every remaining child of this process (re-parented orphans included) and reap them all."""
    me = str(os.getpid())
    for _ in range(50):
        children = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if fields[1].decode() == me and fields[0] != b"Z":
                children.append(int(entry.name))
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
        if not children:
            time.sleep(0.005)


def pytest_ids(test_files, test_paths):
    """Test ids pytest would collect by default from the files under ``test_paths``, found without importing."""
    ids = []
    for rel in sorted(test_files):
        base = rel.rsplit("/", 1)[-1]
        if not (base.startswith("test_") or base.endswith("_test.py")) or not base.endswith(".py"):
            continue
        if test_paths and not any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in test_paths):
            continue
        tree = ast.parse(test_files[rel], filename=rel)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                ids.append(f"{rel}::{node.name}")
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
                if any(m.name == "__init__" for m in methods):
                    continue
                ids += [f"{rel}::{node.name}::{m.name}" for m in methods if m.name.startswith("test")]
    return ids


def base_id(test_id):
    return test_id.split("[", 1)[0]


class Run:
    def __init__(self, config, worker_source, runner_source):
        self.config = config
        self.worker_source = worker_source
        self.runner_source = runner_source
        self.mode = config["mode"]
        if self.mode == "pytest":
            self.ids = pytest_ids(config["test_files"], config.get("test_paths") or [])
        elif self.mode == "snippets":
            self.ids = [str(i) for i in range(len(config["tests"]))]
        else:
            self.ids = [str(i) for i in range(len(config["inputs"]))]
        self.outcome = {}
        self.results = {}
        self.seconds = {}
        self.load_errors = []
        self.workers = 0
        self.deadline = time.monotonic() + float(config["total_s"])
        self.test_timeout = float(config["test_timeout_s"])

    def remaining(self):
        return [i for i in self.ids if i not in self.outcome]

    def charge(self, test_id, outcome):
        if test_id in self.ids and self.outcome.get(test_id) in (None, "passed"):
            self.outcome[test_id] = outcome

    def run(self):
        while self.remaining() and time.monotonic() < self.deadline:
            if not self.run_worker(self.remaining()):
                break
        leftover = "not_run" if time.monotonic() >= self.deadline else "error" if self.load_errors else "no_evidence"
        for test_id in self.remaining():
            self.outcome[test_id] = leftover

    def worker_env(self):
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL")}
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    def run_worker(self, todo):
        """One worker (calls) or test runner (tests) over ``todo``; False when no further one would make
        progress."""
        self.workers += 1
        r, w = os.pipe()
        cfg = dict(self.config, report_fd=w, ids=todo)
        if self.mode == "calls":
            argv = [sys.executable, "-I", "-B", "-c", self.worker_source, "calls"]
        else:
            argv = [sys.executable, "-I", "-B", "-c", self.runner_source]
            cfg.pop("test_files", None)
            cfg.update(sources=self.config.get("test_files", {}), worker_source=self.worker_source)
        progress = False
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, env=self.worker_env(), pass_fds=(w,),
                                    start_new_session=True)
        except OSError as exc:
            os.close(r)
            os.close(w)
            self.load_errors.append(f"cannot start a worker: {exc}")
            for test_id in todo:
                self.charge(test_id, "error")
            return False
        os.close(w)
        try:
            proc.stdin.write(json.dumps(cfg).encode())
            proc.stdin.close()
        except OSError:
            pass
        current, started = None, time.monotonic()
        sel = selectors.DefaultSelector()
        reader = os.fdopen(r, "rb", buffering=0)
        sel.register(reader, selectors.EVENT_READ)
        buf = b""
        eof = False
        try:
            while True:
                now = time.monotonic()
                limit = self.test_timeout if current is not None else self.test_timeout + STARTUP_ALLOWANCE_S
                if now >= self.deadline or now - started > limit:
                    if current is not None:
                        self.charge(current, "timeout")
                        return now < self.deadline
                    for test_id in todo:
                        self.charge(test_id, "timeout")
                    return False
                if not eof and sel.select(timeout=0.02):
                    chunk = reader.read(65536)
                    if not chunk:
                        eof = True
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        progress |= line.startswith(b"E\t")
                        current, started = self.on_message(line, current, started)
                elif proc.poll() is not None:
                    if not eof and sel.select(timeout=0.05):
                        continue
                    if current is not None:
                        self.charge(current, f"crashed (exit {proc.returncode})")
                        return True
                    return progress and proc.returncode == RESTART
                elif eof:
                    time.sleep(0.01)
        finally:
            sel.close()
            reader.close()
            kill_group(proc)

    def on_message(self, line, current, started):
        """Apply one report line; returns the (test running now, when it started). In the tests' modes the
        lines come from the trusted runner; in the calls mode from the candidate's process, so there a
        ``passed`` needs an ``R`` result, which the judge compares outside the sandbox."""
        parts = line.decode("utf-8", "replace").split("\t")
        kind = parts[0]
        if kind == "S" and len(parts) >= 2:
            return base_id(parts[1]), time.monotonic()
        if kind == "R" and len(parts) == 3 and self.mode == "calls":
            if parts[1] in self.ids and len(parts[2]) <= MAX_RESULT_CHARS:
                self.results.setdefault(parts[1], parts[2])
            return current, started
        if kind == "E" and len(parts) >= 4:
            test_id = base_id(parts[1])
            if test_id in self.ids:
                if parts[2] == "passed" and (self.mode != "calls" or parts[1] in self.results):
                    self.outcome.setdefault(test_id, "passed")
                elif self.outcome.get(test_id) in (None, "passed"):
                    self.outcome[test_id] = "no_evidence" if parts[2] == "passed" else parts[2][:40] or "failed"
            try:
                self.seconds[test_id] = round(self.seconds.get(test_id, 0.0) + float(parts[3]), 4)
            except ValueError:
                pass
            return None, time.monotonic()
        if kind == "L" and len(self.load_errors) < 5:
            self.load_errors.append("\t".join(parts[1:])[:500])
        return current, started

    def payload(self, dumpable_off):
        tests = [{"id": i, "outcome": self.outcome.get(i, "not_run"), "seconds": self.seconds.get(i, 0.0)}
                 for i in self.ids]
        return {
            "total": len(self.ids),
            "passed": sum(1 for t in tests if t["outcome"] == "passed"),
            "tests": tests[:MAX_TESTS_IN_REPORT],
            "load_errors": self.load_errors,
            "workers": self.workers,
            "undumpable": dumpable_off,
            "results": {i: self.results[i] for i in self.ids[:MAX_TESTS_IN_REPORT] if i in self.results},
        }


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    reap_orphans()


def signed(key, body):
    payload = json.dumps(body, sort_keys=True)
    mac = hmac.new(bytes(key), payload.encode(), hashlib.sha256).hexdigest()
    return (json.dumps({"payload": payload, "mac": mac}) + "\n").encode()


def main():
    key = read_key(os.path.join(HERE, "key"))
    with open(os.path.join(HERE, "config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    with open(os.path.join(HERE, "worker.py"), encoding="utf-8") as fh:
        worker_source = fh.read()
    with open(os.path.join(HERE, "runner.py"), encoding="utf-8") as fh:
        runner_source = fh.read()
    dumpable_off = make_undumpable()
    become_subreaper()
    trusted = os.fdopen(3, "wb", buffering=0)
    trusted.write(signed(key, {"started": True}))
    try:
        run = Run(config, worker_source, runner_source)
        run.run()
        body = {"ok": True, **run.payload(dumpable_off)}
    except SyntaxError as exc:
        body = {"ok": False, "error": f"test file does not parse: {exc.filename}:{exc.lineno}: {exc.msg}"}
    trusted.write(signed(key, body))
    trusted.close()


if __name__ == "__main__":
    main()
