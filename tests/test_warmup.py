"""Shipped SFT warm-ups: ``scripts/train_warmup.py`` trains one to its plateau; ``codealign run`` starts from the
domain's shipped checkpoint (or ``sft.warmup``) without training and never writes to it; ``sft.fresh=true``
trains instead."""

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codealign.domains import domain_names, get_domain
from codealign.pipeline import Run, make_config, run_pipeline

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "train_warmup.py"
SMALL = ["max_tasks=2", "eval.max_tasks=2"]
"""Only the ``tasks`` and ``sft`` stages run in these tests; the task counts keep them short."""


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _weights(folder: str) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / "model.safetensors"))


def _warm_up(tmp_path: Path, *overrides: str, domain: str = "verilog") -> dict:
    config = make_config(domain, overrides=[*SMALL, *overrides])
    return run_pipeline(config, tmp_path / "run", stages=["tasks", "sft"], quiet=True)["sft"]


def _shipped(domain: str) -> Path:
    path = get_domain(domain).warmup_checkpoint()
    assert path is not None, f"the {domain} domain ships no warm-up (run scripts/train_warmup.py {domain})"
    return Path(path)


@pytest.fixture(scope="module")
def shipped() -> Path:
    return _shipped("verilog")


@pytest.fixture(scope="module", params=sorted(domain_names()))
def every_shipped(request) -> tuple[str, Path]:
    return request.param, _shipped(request.param)


def test_a_given_warmup_is_copied_into_the_run_and_never_written(tiny, tmp_path):
    ready = tmp_path / "ready"
    shutil.copytree(tiny, ready)
    before = _digests(ready)
    for item in [*ready.iterdir(), ready]:
        item.chmod(0o555 if item.is_dir() else 0o444)
    try:
        sft = _warm_up(tmp_path, f"sft.warmup={ready}")
    finally:
        for item in [ready, *ready.iterdir()]:
            item.chmod(0o755 if item.is_dir() else 0o644)
    assert (sft["warmup"], sft["warmup_from"], sft["steps"]) == ("ready-made", str(ready), 0)
    assert Path(sft["model"]).is_relative_to(tmp_path / "run")
    assert _digests(Path(sft["model"])) == before == _digests(ready)
    assert not (tmp_path / "run" / "sft" / "train_log.jsonl").exists()


def test_the_default_run_of_every_domain_starts_from_its_shipped_warmup(every_shipped, tmp_path):
    domain, shipped = every_shipped
    sft = _warm_up(tmp_path, domain=domain)
    assert (sft["warmup"], sft["warmup_from"]) == ("ready-made", str(shipped))
    assert sft["warmup_heldout_pass@1"] == json.loads((shipped / "warmup.json").read_text())["heldout_pass@1"]
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["warmup"] == str(shipped)


def test_sft_fresh_trains_a_warmup_whose_parameters_differ_from_the_shipped_one(shipped, tmp_path):
    sft = _warm_up(tmp_path, "sft.fresh=true", "sft.max_steps=2", "sft.per_device_train_batch_size=2")
    assert (sft["warmup"], sft["steps"]) == ("trained", 2)
    trained, ready = _weights(sft["model"]), _weights(str(shipped))
    assert trained.keys() == ready.keys()
    assert any(not trained[k].equal(ready[k]) for k in trained)
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["warmup"] is None


def test_another_tiny_architecture_trains_instead_of_using_the_shipped_warmup(shipped, tmp_path):
    config = make_config("verilog", overrides=["tiny_model.hidden_size=64"])
    assert Run(config, tmp_path).warmup_checkpoint() is None
    assert Run(make_config("verilog"), tmp_path).warmup_checkpoint() == str(shipped)


def test_fresh_and_a_given_warmup_together_are_refused(tiny):
    from codealign.errors import UserError

    with pytest.raises(UserError, match="set only one of them"):
        make_config("verilog", overrides=["sft.fresh=true", f"sft.warmup={tiny}"])


def _greedy(domain, model: Path, count: int = 2) -> list:
    from codealign.generate.hf import HFGenerator

    tasks = domain.demo_tasks("heldout")[:count]
    return HFGenerator(str(model), device="cpu").candidates(tasks, 1, temperature=0.0, max_new_tokens=256, seed=0,
                                                           stop=domain.stop_sequences)


def test_the_shipped_verilog_warmup_writes_the_task_module(shipped):
    cands = _greedy(get_domain("verilog"), shipped)
    assert len(cands) == 2 and all("module TopModule" in c.completion for c in cands)


@pytest.mark.slow
def test_every_shipped_warmup_loads_and_solves_held_out_tasks_in_its_judge(every_shipped):
    from codealign.execution.executor import execute

    name, shipped = every_shipped
    domain = get_domain(name)
    cands = _greedy(domain, shipped, count=8)
    results = execute(domain, domain.demo_tasks("heldout")[:8], cands, progress=False)
    assert any(r.verdict.value == "PASS" for r in results), [r.verdict.value for r in results]
    assert (shipped / "model.safetensors").stat().st_size < 20_000_000


def test_every_shipped_warmup_is_package_data(every_shipped):
    import tomllib
    from fnmatch import fnmatch

    _, shipped = every_shipped

    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["codealign"]
    package = REPO / "codealign"
    for item in shipped.iterdir():
        assert any(fnmatch(str(item.relative_to(package)), g.replace("**/", "*")) for g in globs), item.name


def _script():
    spec = importlib.util.spec_from_file_location("train_warmup", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("scores, flat", [
    ([0.1, 0.2, 0.3], False),
    ([0.1, 0.3, 0.31, 0.32], True),
    ([0.3, 0.25, 0.35, 0.36], False),
    ([0.3, 0.2, 0.31], True),
])
def test_the_plateau_is_two_consecutive_chunks_below_the_threshold_over_the_best(scores, flat):
    assert _script().plateaued(scores, 0.02) is flat


@pytest.mark.slow
def test_train_warmup_smoke_writes_a_loadable_model_and_its_recipe(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, str(SCRIPT), "verilog", "--max-chunks", "1", "--chunk-steps", "2", "--n", "1",
            "--eval-seeds", "7", "--eval-tasks", "1", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "w")]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    recipe = json.loads((tmp_path / "out" / "warmup.json").read_text())
    assert (recipe["steps"], recipe["seed"], len(recipe["chunks"]), recipe["eval"]["tasks"]) == (2, 0, 1, 1)
    assert recipe["tiny_model"] == make_config("verilog").tiny_model
    assert "scripts/train_warmup.py verilog --max-chunks 1" in recipe["command"]
    assert not (tmp_path / "out" / "training_args.bin").exists()
    from codealign.train.models import load_model

    load_model(str(tmp_path / "out"), device="cpu")


def test_train_warmup_help_names_its_options():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for option in ("--seed", "--out", "--max-chunks", "--chunk-steps", "--threshold"):
        assert option in proc.stdout
