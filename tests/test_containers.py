"""The Docker backend, run for real: golden and wrong candidates of every domain that has an image, hostile
programs, and a secret planted in the host's home folder, each judged in a container of the engine that
``scripts/setup.sh`` starts and the image ``scripts/docker_images.sh`` builds. Plus what needs no engine:
the Dockerfiles' pins and the container settings."""

import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import codealign
from codealign.domains.ladder import LadderDomain
from codealign.domains.verilog import reference_solution
from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.sandbox.docker import DockerBackend, docker_problem, entrypoint
from codealign.sandbox.job import Job, JobStatus
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, Task, Verdict

REPO = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted(REPO.glob("sandboxes/*/Dockerfile")) + [REPO / "Dockerfile"]
LABEL = "org.codealign.job"


TEST_LABEL = "org.codealign.test"


@pytest.fixture
def docker_backend():
    """A Docker backend whose containers carry a label of this test alone, so that :func:`leftover_containers`
    sees only what this test started (not another test's leak, nor another run's containers on this engine)."""
    problem = docker_problem()
    if problem:
        pytest.fail(f"the Docker backend is not usable: {problem}")
    return DockerBackend(labels={TEST_LABEL: uuid.uuid4().hex})


@pytest.fixture
def home_secret():
    """A world-readable file in the harness's home folder holding a token no candidate may see (written as a
    Verilog macro, so that an ``include`` of it would compile and print the token where the file is visible)."""
    path = Path.home() / f".codealign-test-secret-{uuid.uuid4().hex[:8]}"
    content = f"SECRET-{uuid.uuid4().hex}"
    path.write_text(f'`define CODEALIGN_SECRET "{content}"\n')
    os.chmod(path, 0o644)
    yield path, content
    path.unlink()


def leftover_containers(backend: DockerBackend) -> list[str]:
    """The containers ``backend`` (a :func:`docker_backend`) started that still exist."""
    import docker

    mine = f"{TEST_LABEL}={backend.labels[TEST_LABEL]}"
    return [c.id for c in docker.from_env().containers.list(all=True, filters={"label": [LABEL, mine]})]


def shell(backend, script: str, **limits) -> tuple:
    t0 = time.monotonic()
    result = backend.run(Job(script=script, limits=Limits(**{"wall_s": 10.0, **limits})))
    return result, time.monotonic() - t0


def verilog_task() -> Task:
    return {t.task_id: t for t in load_verilogeval(None)}["Demo03_count_en"]


PY_TASK = Task("add", "python", "write add", assets={"tests": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]},
               limits={"wall_s": 20.0})


def python_candidate(body: str) -> Candidate:
    return Candidate("add", body + "\ndef add(a, b):\n    return a + b\n")


# -- without an engine ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_pinned_debian_packages_match_this_hosts_versions(dockerfile):
    pins = re.findall(r"\b([a-z0-9.+-]+)=([0-9][^\s\\]*)", dockerfile.read_text())
    for package, version in pins:
        installed = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
        assert installed.stdout == version, f"{dockerfile.name}: {package}={version}, host has {installed.stdout!r}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_images_build_from_the_local_base_not_a_hub(dockerfile):
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), re.M)
    assert froms == ["${BASE}"]
    assert re.search(r"^ARG BASE=codealign-base:bookworm$", dockerfile.read_text(), re.M)


def test_top_level_image_is_built_by_the_setup_script():
    assert "RUN bash scripts/setup.sh" in (REPO / "Dockerfile").read_text()


def test_container_gets_no_network_readonly_root_and_limits(tmp_path):
    job = Job(script="true", limits=Limits(memory_mb=512, nproc=32, cpu_s=5, file_size_mb=8, nofile=64))
    cfg = DockerBackend("img").container_config(job, str(tmp_path / "j"), str(tmp_path / "t"))
    assert cfg["network_mode"] == "none"
    assert cfg["read_only"] is True
    assert cfg["pids_limit"] == 32
    assert cfg["mem_limit"] == cfg["memswap_limit"] == 512 << 20
    assert cfg["cap_drop"] == ["ALL"] and "no-new-privileges" in cfg["security_opt"]
    assert {u["Name"]: u["Hard"] for u in cfg["ulimits"]} == {"cpu": 5, "fsize": 8 << 20, "nofile": 64, "core": 0}
    assert cfg["volumes"][str(tmp_path / "j")] == {"bind": "/job", "mode": "rw"}


def test_host_folders_are_bound_read_only_and_home_is_not(tmp_path):
    cfg = DockerBackend("img").container_config(Job(script="true"), str(tmp_path / "j"), str(tmp_path / "t"))
    host = {path: v for path, v in cfg["volumes"].items() if path not in (str(tmp_path / "j"), str(tmp_path / "t"))}
    assert host and all(v["mode"] == "ro" and v["bind"] == path for path, v in host.items())
    assert str(Path.home()) not in host


def test_containers_carry_the_backends_labels_and_always_the_job_label():
    cfg = DockerBackend("img", labels={"run": "r1", LABEL: "0"}).container_config(Job(script="true"), "/a", "/b")
    assert cfg["labels"] == {"run": "r1", LABEL: "1"}


def test_network_is_granted_only_when_the_job_asks():
    cfg = DockerBackend("img").container_config(Job(script="true", network=True), "/a", "/b")
    assert cfg["network_mode"] == "host"


@pytest.mark.skipif(os.geteuid() != 0, reason="the entrypoint drops root privileges; it needs root to run")
def test_entrypoint_drops_privileges_and_keeps_the_trusted_channel_private(tmp_path):
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    os.chmod(work, 0o777)
    os.chmod(tmp_path, 0o755)
    script = f"id -u; echo forged >> {trusted}/out 3>&-; bash -c 'echo forged2 >&3' 3>&- ; echo real >&3"
    proc = subprocess.run(entrypoint(script, trusted_dir=str(trusted)), cwd=work, capture_output=True, text=True)
    assert proc.stdout.split()[0] == "65534"
    assert (trusted / "out").read_text() == "real\n"


def test_a_missing_image_is_reported_with_the_command_that_builds_it():
    problem = docker_problem(f"codealign-no-such-image:{uuid.uuid4().hex[:8]}")
    assert problem and "scripts/docker_images.sh" in problem


# -- golden and wrong candidates, through codealign.execute(backend="docker") ---------------------------------

def test_verilog_golden_passes_and_wrong_design_fails_in_containers(docker_backend):
    task = verilog_task()
    golden = reference_solution(task)
    wrong = golden.replace("4'd11", "4'd10")
    results = codealign.execute([task], [Candidate(task.task_id, golden), Candidate(task.task_id, wrong)],
                                domain="verilog", backend=docker_backend, progress=False)
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.FAIL]


def test_python_golden_passes_and_wrong_candidate_fails_in_containers(docker_backend):
    wrong = Candidate("add", "def add(a, b):\n    return a - b\n")
    results = codealign.execute([PY_TASK], [python_candidate(""), wrong], domain="python", backend=docker_backend,
                                progress=False)
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.FAIL]


def test_ladder_golden_passes_and_mutant_fails_in_containers(docker_backend):
    domain = LadderDomain()
    task = domain.demo_tasks()[0]
    golden = domain.reference_solution(task)
    mutant = domain.mutate(golden, random.Random(0))[0][0]
    results = codealign.execute([task], [Candidate(task.task_id, golden), Candidate(task.task_id, mutant)],
                                domain=domain, backend=docker_backend, progress=False)
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.FAIL]


@pytest.mark.slow
def test_solidity_analyses_are_served_by_one_warm_worker_container(docker_backend):
    from codealign.domains.solidity import SolidityDomain

    domain = SolidityDomain(workers=1)
    cases = domain.selftest_cases()
    task, good = cases[0][0], cases[0][1]
    candidates = [good, Candidate(task.task_id, good.completion.replace("Fine", "Fine2")), cases[1][1]]
    try:
        results = [codealign.execute([task], [c], domain=domain, backend=docker_backend, progress=False)[0]
                   for c in candidates]
        workers = {r.details["analysis"]["worker"] for r in results}
        assert [r.verdict for r in results] == [Verdict.PASS, Verdict.PASS, Verdict.COMPILE_ERROR]
        assert len(workers) == 1 and {r.details["backend"] for r in results} == {"docker"}
        assert workers <= set(leftover_containers(docker_backend)), "the worker is a container of this engine"
    finally:
        domain.close()
    assert not hasattr(docker_backend, "launch"), "no host process runs job code under docker"


# -- persistent workers in containers (the generic echo worker of tests/test_worker.py) -------------------------

@pytest.fixture
def docker_worker(docker_backend):
    from test_worker import spec

    from codealign.sandbox.worker import Worker

    worker = Worker(docker_backend, spec())
    yield worker
    worker.stop()


def container_state(container_id: str) -> dict | None:
    import docker

    try:
        return docker.from_env().containers.get(container_id).attrs
    except docker.errors.NotFound:
        return None


def test_worker_container_is_configured_like_a_job_container(docker_worker):
    reply = docker_worker.request({"op": "echo", "value": 0})
    attrs = container_state(reply.worker)
    assert reply.ok and reply.backend == "docker" and reply.response["uid"] == 65534
    assert attrs["HostConfig"]["NetworkMode"] == "none" and attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert attrs["HostConfig"]["Memory"] == 256 << 20 and attrs["Config"]["Labels"] == {LABEL: "1", **docker_worker.backend.labels}


def test_worker_deadline_removes_its_container_and_the_next_request_gets_a_fresh_one(docker_worker):
    first = docker_worker.request({"op": "echo", "value": 0})
    hung = docker_worker.request({"op": "sleep", "seconds": 60}, timeout_s=1)
    after = docker_worker.request({"op": "echo", "value": 1})
    assert hung.status is JobStatus.TIMEOUT and hung.worker == first.worker
    assert container_state(first.worker) is None
    assert after.ok and after.restarted and after.worker != first.worker


def test_oversized_worker_response_removes_its_container(docker_worker):
    reply = docker_worker.request({"op": "huge", "bytes": 64 << 20})
    assert reply.status is JobStatus.OUTPUT_LIMIT
    assert container_state(reply.worker) is None


def test_worker_over_its_memory_limit_gives_memory(docker_worker):
    reply = docker_worker.request({"op": "alloc", "mb": 600})
    assert reply.status is JobStatus.MEMORY
    assert container_state(reply.worker) is None


def test_closing_a_pool_leaves_no_worker_container(docker_backend):
    from test_worker import spec

    from codealign.sandbox.worker import WorkerPool

    with WorkerPool(docker_backend, spec(), size=2) as pool:
        threads = [threading.Thread(target=pool.request, args=({"op": "sleep", "seconds": 0.5},)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert pool.starts == 2 and len(leftover_containers(docker_backend)) == 2
    assert leftover_containers(docker_backend) == []


def test_cancel_all_removes_idle_worker_containers(docker_backend, docker_worker):
    assert docker_worker.request({"op": "echo", "value": 0}).ok
    docker_backend.cancel_all()
    assert leftover_containers(docker_backend) == []
    assert docker_worker.request({"op": "echo", "value": 1}).restarted


def test_cancel_all_ends_a_request_in_flight_and_leaves_no_container(docker_backend, docker_worker):
    assert docker_worker.request({"op": "echo", "value": 0}).ok
    replies = []
    thread = threading.Thread(target=lambda: replies.append(docker_worker.request({"op": "sleep", "seconds": 60})))
    thread.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    docker_backend.cancel_all()
    thread.join(timeout=20)
    assert replies and replies[0].status is JobStatus.SANDBOX_ERROR
    assert time.monotonic() - t0 < 15
    assert leftover_containers(docker_backend) == []


# -- hostile programs ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_infinite_loop_is_killed_at_the_wall_deadline(docker_backend):
    result, took = shell(docker_backend, "while :; do :; done", wall_s=2)
    assert result.status is JobStatus.TIMEOUT
    assert took < 6
    assert leftover_containers(docker_backend) == []


@pytest.mark.slow
def test_fork_bomb_is_contained_by_the_pids_limit(docker_backend):
    before = len(os.listdir("/proc"))
    result, took = shell(docker_backend, "bomb() { bomb | bomb & }; bomb; sleep 3; echo alive", wall_s=5, nproc=32)
    assert result.status in (JobStatus.EXITED, JobStatus.TIMEOUT)
    assert took < 10
    assert len(os.listdir("/proc")) < before + 20
    assert leftover_containers(docker_backend) == []


def test_memory_bomb_gives_memory(docker_backend):
    result, _ = shell(docker_backend, f"{sys.executable} -c 'x = b\"x\" * (1 << 30); print(len(x))'", memory_mb=200)
    assert result.status is JobStatus.MEMORY


def test_unbounded_output_gives_output_limit_promptly(docker_backend):
    result, took = shell(docker_backend, "yes codealign", wall_s=10)
    assert result.status is JobStatus.OUTPUT_LIMIT
    assert took < 5


def test_disk_fill_is_stopped_at_the_disk_cap(docker_backend):
    result, took = shell(docker_backend, "for i in $(seq 1000); do head -c 1000000 /dev/zero > f$i || exit 1; done",
                         disk_mb=20, file_size_mb=2, wall_s=20)
    assert result.status is JobStatus.OUTPUT_LIMIT
    assert took < 15


def test_writes_outside_the_job_dir_fail(docker_backend, tmp_path):
    target = tmp_path / "pwned"
    os.chmod(tmp_path, 0o777)
    script = "".join(f"echo x > {p} 2>/dev/null && echo wrote {p}\n" for p in ("/etc/pwned", "/pwned", target,
                                                                              f"{os.path.realpath(sys.prefix)}/pwned"))
    result, _ = shell(docker_backend, script + "echo done")
    assert result.text() == "done\n"
    assert not target.exists()


def test_host_loopback_server_is_unreachable_from_a_python_candidate(docker_backend):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(6)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(_accept(server)), daemon=True).start()
    code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'x')\n"
            "except OSError as exc:\n    print('blocked', exc)\n")
    [result] = codealign.execute([PY_TASK], [python_candidate(code)], domain="python", backend=docker_backend,
                                 progress=False)
    time.sleep(0.2)
    server.close()
    assert "blocked" in result.stdout
    assert accepted in ([], [None])


def _accept(server):
    try:
        return server.accept()
    except OSError:
        return None


@pytest.mark.slow
def test_zero_delay_verilog_loop_is_killed_at_the_wall_deadline(docker_backend):
    import dataclasses

    task = dataclasses.replace(verilog_task(), limits={"wall_s": 4})
    design = reference_solution(task).replace("endmodule", "initial while (1) begin end\nendmodule")
    t0 = time.monotonic()
    [result] = codealign.execute([task], [Candidate(task.task_id, design)], domain="verilog", backend=docker_backend,
                                 progress=False)
    assert result.verdict is not Verdict.PASS
    assert time.monotonic() - t0 < 10
    assert leftover_containers(docker_backend) == []


def test_oversized_ladder_program_is_rejected_promptly(docker_backend):
    domain = LadderDomain()
    task = domain.demo_tasks()[0]
    t0 = time.monotonic()
    [result] = codealign.execute([task], [Candidate(task.task_id, "[" * 200_000 + "NO(Start)")], domain=domain,
                                 backend=docker_backend, progress=False)
    assert result.verdict is not Verdict.PASS
    assert time.monotonic() - t0 < 15


# -- the planted secret -------------------------------------------------------------------------------------------

def test_home_secret_is_invisible_to_a_shell_job(docker_backend, home_secret):
    path, content = home_secret
    result, _ = shell(docker_backend, f"cat {path} || echo missing; ls -a {path.parent} || echo unlisted")
    assert content not in result.text() + result.text("stderr")
    assert "missing" in result.text()


def test_home_secret_is_invisible_to_a_python_candidate(docker_backend, home_secret):
    path, content = home_secret
    code = f"try:\n    print(open({str(path)!r}).read())\nexcept OSError as exc:\n    print('denied', exc)\n"
    [result] = codealign.execute([PY_TASK], [python_candidate(code)], domain="python", backend=docker_backend,
                                 progress=False)
    assert result.verdict is Verdict.PASS
    assert "denied" in result.stdout
    assert content not in str(result.to_dict())


def test_home_secret_is_invisible_to_a_verilog_include(docker_backend, home_secret):
    path, content = home_secret
    task = verilog_task()
    design = f'`include "{path}"\n' + reference_solution(task).replace(
        "endmodule", "initial $display(`CODEALIGN_SECRET);\nendmodule")
    [result] = codealign.execute([task], [Candidate(task.task_id, design)], domain="verilog", backend=docker_backend,
                                 progress=False)
    assert result.verdict is not Verdict.PASS
    assert content not in str(result.to_dict())
