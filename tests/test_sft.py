"""Curriculum SFT and RFT on the tiny model (CPU, real TRL training)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codealign.config import load_config
from codealign.errors import UserError
from codealign.jsonl import write_jsonl
from codealign.train.order import StageOrderSampler
from codealign.train.sft import (
    SFTRunConfig,
    as_stages,
    build_sft_trainer,
    rft_rows,
    train_sft,
)
from codealign.types import ExecResult, Task, Verdict

GATES = ["&", "|", "^"]


def stage_rows(stages=3, per_stage=6):
    """Rows whose prompt names their stage, so a batch's stage can be read back from its tokens."""
    return [
        [
            {
                "prompt": f"stage {s} task {i}: gate {GATES[i % 3]}",
                "completion": f"module m(input a, input b, output y);\n  assign y = a {GATES[i % 3]} b;\nendmodule\n",
            }
            for i in range(per_stage)
        ]
        for s in range(stages)
    ]


def small_config(tiny, out, **kw):
    values = dict(model=tiny, output_dir=str(out), learning_rate=5e-3, per_device_train_batch_size=4,
                  logging_steps=1, resume_from_checkpoint="never", report_tensorboard=False, device="cpu",
                  warmup_ratio=0.0, lr_scheduler_type="constant")
    values.update(kw)
    return SFTRunConfig(**values)


@pytest.fixture(scope="module")
def curriculum_run(tiny, tmp_path_factory):
    """One real curriculum run, instrumented: parameters before, every batch the trainer computed a loss on."""
    out = tmp_path_factory.mktemp("sft")
    config = small_config(tiny, out, epochs=3, report_tensorboard=True)
    trainer, tokenizer = build_sft_trainer(config, stage_rows())
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    batches = []
    original = trainer.compute_loss

    def recording(model, inputs, *args, **kwargs):
        batches.append([tokenizer.decode(ids, skip_special_tokens=True) for ids in inputs["input_ids"].tolist()])
        return original(model, inputs, *args, **kwargs)

    trainer.compute_loss = recording
    trainer.train()
    return {"trainer": trainer, "before": before, "batches": batches, "out": out}


def test_sampler_never_interleaves_stages():
    order = list(StageOrderSampler([0] * 3 + [1] * 4 + [2] * 2, repeats=2, shuffle=True, seed=5))
    stage_of = [0] * 3 + [1] * 4 + [2] * 2
    stages = [stage_of[i] for i in order]
    assert stages == sorted(stages)
    assert sorted(order) == sorted(list(range(9)) * 2)


def test_sampler_shuffles_only_within_a_stage_and_is_seeded():
    stages = [0] * 50 + [1] * 50
    a = list(StageOrderSampler(stages, shuffle=True, seed=1))
    assert a == list(StageOrderSampler(stages, shuffle=True, seed=1))
    assert a != list(StageOrderSampler(stages, shuffle=True, seed=2))
    assert a[:50] != list(range(50)) and set(a[:50]) == set(range(50))


def test_sampler_new_epoch_reshuffles_within_stages():
    sampler = StageOrderSampler([0] * 20 + [1] * 20, shuffle=True, seed=0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_sampler_without_shuffle_keeps_row_order():
    assert list(StageOrderSampler([0, 0, 1, 1, 1], repeats=2)) == [0, 1, 0, 1, 2, 3, 4, 2, 3, 4]


@pytest.mark.slow
def test_trainer_sees_batches_in_curriculum_order(curriculum_run):
    texts = [t for batch in curriculum_run["batches"] for t in batch]
    stages = [int(t.split("stage ")[1].split()[0]) for t in texts]
    assert stages == sorted(stages)
    assert [stages.count(s) for s in range(3)] == [18, 18, 18]


@pytest.mark.slow
def test_loss_falls(curriculum_run):
    losses = [row["loss"] for row in curriculum_run["trainer"].state.log_history if "loss" in row]
    assert len(losses) >= 10
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3


@pytest.mark.slow
def test_every_trainable_parameter_changes(curriculum_run):
    import torch

    after = dict(curriculum_run["trainer"].model.named_parameters())
    unchanged = [n for n, p in curriculum_run["before"].items() if torch.equal(p, after[n].detach())]
    assert not unchanged
    assert len(curriculum_run["before"]) > 5


@pytest.mark.slow
def test_jsonl_and_tensorboard_logs_are_written(curriculum_run):
    out = curriculum_run["out"]
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 1 + sum(1 for r in rows if "loss" in r)))
    assert any(f.name.startswith("events.out.tfevents") for f in (out / "tensorboard").iterdir())


@pytest.mark.slow
def test_prompt_tokens_are_masked_out_of_the_loss(curriculum_run):
    row = curriculum_run["trainer"].train_dataset[0]
    tokenizer = curriculum_run["trainer"].processing_class
    prompt_part = [i for i, label in zip(row["input_ids"], row["labels"]) if label == -100]
    assert tokenizer.decode(prompt_part).endswith("<|sep|>")
    assert tokenizer.decode(row["input_ids"][: len(prompt_part)]) == tokenizer.decode(prompt_part)
    assert any(label != -100 for label in row["labels"])


def test_rows_with_stage_field_are_grouped_by_ascending_stage():
    rows = [{"prompt": "b", "completion": "1", "stage": 2}, {"prompt": "a", "completion": "0", "stage": 0},
            {"prompt": "c", "completion": "2", "stage": 2}]
    assert [[r["prompt"] for r in s] for s in as_stages(rows)] == [["a"], ["b", "c"]]


def test_rows_without_prompt_are_a_user_error():
    with pytest.raises(UserError, match="stage 0 row 1"):
        as_stages([{"prompt": "a", "completion": "b"}, {"completion": "x"}])


def test_packing_across_stages_is_a_user_error(tiny, tmp_path):
    with pytest.raises(UserError, match="packing"):
        build_sft_trainer(small_config(tiny, tmp_path, trl={"packing": True}), stage_rows(2, 2))


CHILD = """
import sys, time
from transformers import TrainerCallback
from codealign.train.sft import SFTRunConfig, train_sft
class Slow(TrainerCallback):
    def on_step_end(self, *args, **kwargs):
        time.sleep(0.4)
rows = [{"prompt": f"task {i}", "completion": f"assign y = a & b; // {i}"} for i in range(16)]
config = SFTRunConfig(model=sys.argv[1], output_dir=sys.argv[2], per_device_train_batch_size=2, max_steps=8,
                      save_steps=2, logging_steps=1, device="cpu", report_tensorboard=False)
train_sft(config, rows, callbacks=[Slow()])
"""


@pytest.mark.slow
def test_killed_run_resumes_from_its_checkpoint(tiny, tmp_path):
    out = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", CHILD, tiny, str(out)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 240
    try:
        while not (out / "checkpoint-4" / "trainer_state.json").exists():
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "no checkpoint within 240 s"
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert not (out / "final").exists()
    killed_at = json.loads(
        max(out.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1])).read_text()
    )["global_step"]
    assert killed_at < 8

    logged_before = len((out / "train_log.jsonl").read_text().splitlines())
    rows = [{"prompt": f"task {i}", "completion": f"assign y = a & b; // {i}"} for i in range(16)]
    config = SFTRunConfig(model=tiny, output_dir=str(out), per_device_train_batch_size=2, max_steps=8,
                          save_steps=2, logging_steps=1, device="cpu", report_tensorboard=False)
    result = train_sft(config, rows)
    assert result.resumed_from is not None and result.resumed_from.endswith(f"checkpoint-{killed_at}")
    assert result.global_step == 8
    lines = Path(result.log_path).read_text().splitlines()[logged_before:]
    resumed_steps = [json.loads(line)["step"] for line in lines if "loss" in json.loads(line)]
    assert resumed_steps == list(range(killed_at + 1, 9))
    assert (out / "final" / "model.safetensors").is_file()


def verdict(task_id, cid, verdict_, completion, score=1.0):
    return ExecResult(task_id=task_id, candidate_id=cid, verdict=verdict_, score=score, completion=completion)


def test_rft_rows_keep_only_distinct_passing_samples():
    tasks = [Task("t1", "verilog", "spec 1"), Task("t2", "verilog", "spec 2")]
    results = [
        verdict("t1", "a", Verdict.PASS, "good"),
        verdict("t1", "b", Verdict.PASS, "good"),
        verdict("t1", "c", Verdict.FAIL, "bad", 0.5),
        verdict("t2", "d", Verdict.SANDBOX_ERROR, "whatever", 0.0),
        verdict("t2", "e", Verdict.PASS, "fine"),
    ]
    rows = rft_rows(results, tasks)
    assert [(r["task_id"], r["prompt"], r["completion"]) for r in rows] == [("t1", "spec 1", "good"), ("t2", "spec 2", "fine")]


def test_rft_rows_cap_per_task():
    tasks = [Task("t1", "verilog", "spec")]
    results = [verdict("t1", str(i), Verdict.PASS, f"sol {i}") for i in range(5)]
    assert len(rft_rows(results, tasks, max_per_task=2)) == 2


def test_rft_rows_take_text_from_candidates_when_verdicts_lack_it():
    tasks = [Task("t1", "verilog", "spec")]
    rows = rft_rows([verdict("t1", "c1", Verdict.PASS, "")], tasks, candidates={"c1": "module x; endmodule"})
    assert rows[0]["completion"] == "module x; endmodule"


def test_rft_verdict_for_unknown_task_is_a_user_error():
    with pytest.raises(UserError, match="unknown task"):
        rft_rows([verdict("zz", "c", Verdict.PASS, "x")], [Task("t1", "verilog", "spec")])


def test_rft_mode_trains_from_verdict_files_via_config(tiny, tmp_path):
    tasks = [Task(f"t{i}", "verilog", f"spec {i}") for i in range(4)]
    results = [verdict(f"t{i}", f"p{i}", Verdict.PASS, f"assign y = {i};") for i in range(4)]
    results += [verdict(f"t{i}", f"f{i}", Verdict.FAIL, "junk", 0.0) for i in range(4)]
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    write_jsonl(tmp_path / "verdicts.jsonl", results)
    cfg = tmp_path / "sft.yaml"
    cfg.write_text(
        f"sft:\n  model: {tiny}\n  mode: rft\n  tasks: {tmp_path / 'tasks.jsonl'}\n  verdicts: {tmp_path / 'verdicts.jsonl'}\n"
        "  per_device_train_batch_size: 2\n  device: cpu\n  report_tensorboard: false\n"
    )
    result = train_sft(load_config(SFTRunConfig, cfg, [f"output_dir={tmp_path / 'out'}", "epochs=2"], section="sft"))
    assert result.stage_sizes == [4] and result.global_step == 4
    assert (Path(result.final_dir) / "model.safetensors").is_file()


def test_config_overrides_and_nested_keys(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("learning_rate: 0.001\npeft:\n  r: 4\n")
    config = load_config(SFTRunConfig, cfg, ["learning_rate=2e-4", "peft.lora_alpha=8", "data=[a.jsonl, b.jsonl]"],
                         section="sft")
    assert config.learning_rate == 2e-4 and config.peft == {"r": 4, "lora_alpha": 8}
    assert config.data == ["a.jsonl", "b.jsonl"]


@pytest.mark.parametrize(
    "override, message",
    [("learnin_rate=1", "learnin_rate: unknown config key; did you mean learning_rate"), ("learning_rate=0", "learning_rate"), ("mode=ppo", "unknown mode"),
     ("max_steps=0", "max_steps"), ("novalue", "key=value"), ("trl={max_length: 5}", "top-level")],
)
def test_bad_config_is_a_user_error(override, message):
    with pytest.raises(UserError, match=message):
        load_config(SFTRunConfig, None, [override], section="sft")


def test_missing_config_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such config file"):
        load_config(SFTRunConfig, tmp_path / "nope.yaml", section="sft")


def test_missing_data_is_a_user_error(tiny, tmp_path):
    with pytest.raises(UserError, match="no data files"):
        train_sft(small_config(tiny, tmp_path))


def test_cli_train_sft_json_prints_exactly_one_json_object(tiny, tmp_path, capsys):
    from codealign.cli import main

    write_jsonl(tmp_path / "s0.jsonl", stage_rows(1, 4)[0])
    code = main(["train", "sft", "--json", f"model={tiny}", f"output_dir={tmp_path / 'out'}", f"data=[{tmp_path / 's0.jsonl'}]",
                 "per_device_train_batch_size=2", "device=cpu", "report_tensorboard=false", "logging_steps=1"])
    out = capsys.readouterr().out
    assert code == 0
    summary = json.loads(out)
    assert summary["global_step"] == 2 and Path(summary["final_dir"]).is_dir()


def test_cli_train_sft_bad_override_exits_2(capsys):
    from codealign.cli import main

    assert main(["train", "sft", "--json", "learning_rate=-1"]) == 2
    assert "learning_rate" in capsys.readouterr().err
