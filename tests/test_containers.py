"""What can be checked of the containers without a Docker engine (none runs here): the Dockerfiles' pinned
Debian packages are the versions installed on this Debian 12 host, the Docker backend's container settings,
and its privilege-dropping entrypoint, run on the host."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from codealign.errors import UserError
from codealign.sandbox.docker import DockerBackend, docker_problem, entrypoint
from codealign.sandbox.job import Job, JobStatus
from codealign.sandbox.limits import Limits

REPO = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted(REPO.glob("sandboxes/*/Dockerfile")) + [REPO / "Dockerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_pinned_debian_packages_match_this_hosts_versions(dockerfile):
    pins = re.findall(r"\b([a-z0-9.+-]+)=([0-9][^\s\\]*)", dockerfile.read_text())
    for package, version in pins:
        installed = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
        assert installed.stdout == version, f"{dockerfile.name}: {package}={version}, host has {installed.stdout!r}"


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
    assert cfg["volumes"][str(tmp_path / "j")]["bind"] == "/job"


def test_network_is_granted_only_when_the_job_asks():
    cfg = DockerBackend("img").container_config(Job(script="true", network=True), "/a", "/b")
    assert cfg["network_mode"] == "bridge"


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


def test_without_an_engine_the_backend_reports_why():
    assert docker_problem() is not None
    result = DockerBackend("img").run(Job(script="true"))
    assert result.status is JobStatus.SANDBOX_ERROR and result.error
    with pytest.raises(UserError, match="docker"):
        __import__("codealign.sandbox.backends", fromlist=["choose_backend"]).choose_backend("docker")
