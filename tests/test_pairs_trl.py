"""A pairs file written by ``codealign pairs`` trains TRL's DPOTrainer for a step as is (no conversion)."""

from __future__ import annotations

import json

from codealign.types import ExecResult, Task, Verdict


def test_pairs_file_is_accepted_by_trl_dpo_trainer(tmp_path):
    from datasets import load_dataset
    from trl import DPOConfig, DPOTrainer

    from codealign.cli import main
    from codealign.train.device import training_args_for_device
    from codealign.train.models import load_model, tiny_model_path

    tasks = [Task(f"t{i}", "verilog", f"Write module number {i} that ties its output low.<|sep|>") for i in range(3)]
    results = []
    for i in range(3):
        results.append(ExecResult(f"t{i}", f"good{i}", Verdict.PASS, 1.0,
                                  completion=f"module TopModule(output z);\n  assign z = 1'b0; // {i}\nendmodule\n"))
        results.append(ExecResult(f"t{i}", f"half{i}", Verdict.FAIL, 0.5,
                                  completion=f"module TopModule(output z);\n  assign z = {i % 2}'b1;\nendmodule\n"))
        results.append(ExecResult(f"t{i}", f"bad{i}", Verdict.COMPILE_ERROR, 0.0,
                                  completion="module TopModule(output z);\n  assign z = ;\nendmodule\n"))
    (tmp_path / "v.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in results))
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(t.to_dict()) + "\n" for t in tasks))
    out = tmp_path / "pairs.jsonl"
    assert main(["pairs", "--verdicts", str(tmp_path / "v.jsonl"), "--tasks", str(tmp_path / "t.jsonl"),
                 "--strategy", "ranked", "--weights", "madpo", "--curriculum", "rank", "--out", str(out),
                 "--quiet"]) == 0

    dataset = load_dataset("json", data_files=str(out), split="train")
    assert {"prompt", "chosen", "rejected", "margin", "weight", "rank", "stage", "source", "task_id"} <= set(
        dataset.column_names)
    assert len(dataset) == 9
    model_dir = str(tiny_model_path())
    model, tokenizer = load_model(model_dir, device="cpu")
    config = DPOConfig(output_dir=str(tmp_path / "dpo"), max_steps=1, per_device_train_batch_size=2,
                       report_to=[], save_strategy="no", logging_steps=1, max_length=128,
                       **training_args_for_device("cpu"))
    trainer = DPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    result = trainer.train()
    assert trainer.state.global_step == 1
    assert result.training_loss == result.training_loss  # not NaN
    assert any("rewards/margins" in entry for entry in trainer.state.log_history)
