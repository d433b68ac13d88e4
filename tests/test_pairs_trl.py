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


def test_hf_pairs_of_chat_sampled_candidates_are_conversational_with_an_eval_split_and_train_in_plain_trl(tmp_path):
    from datasets import load_from_disk
    from trl import DPOConfig, DPOTrainer

    from codealign.cli import main
    from codealign.jsonl import write_jsonl
    from codealign.pairs.command import read_pairs
    from codealign.train.device import training_args_for_device
    from codealign.train.models import load_model, tiny_model_path
    from codealign.types import Candidate

    tasks = [Task(f"t{i}", "verilog", f"Write module number {i} that ties its output low.") for i in range(6)]
    chat = {"prompt_format": "chat", "system": "You write Verilog."}
    cands, results = [], []
    for i in range(6):
        for name, verdict, score, text in (("good", Verdict.PASS, 1.0, f"module TopModule(output z); assign z = 0; // {i}\nendmodule"),
                                           ("bad", Verdict.FAIL, 0.0, f"module TopModule(output z); assign z = 1; // {i}\nendmodule")):
            cand = Candidate(f"t{i}", text, metadata=chat)
            cands.append(cand)
            results.append(ExecResult(f"t{i}", cand.candidate_id, verdict, score, completion=text))
    write_jsonl(tmp_path / "t.jsonl", tasks)
    write_jsonl(tmp_path / "c.jsonl", cands)
    write_jsonl(tmp_path / "v.jsonl", results)
    out = tmp_path / "pairs-hf"
    assert main(["pairs", "--verdicts", str(tmp_path / "v.jsonl"), "--tasks", str(tmp_path / "t.jsonl"),
                 "--candidates", str(tmp_path / "c.jsonl"), "--format", "hf", "--eval-fraction", "0.34",
                 "--out", str(out), "--quiet"]) == 0

    data = load_from_disk(str(out))
    assert set(data) == {"train", "test"} and len(data["train"]) + len(data["test"]) == 6
    assert data["test"].num_rows > 0 and not set(data["train"]["task_id"]) & set(data["test"]["task_id"])
    row = data["train"][0]
    task = next(t for t in tasks if t.task_id == row["task_id"])
    assert row["prompt"] == [{"role": "system", "content": "You write Verilog."},
                             {"role": "user", "content": task.prompt}]
    assert row["chosen"][0]["role"] == "assistant" and "assign z = 0" in row["chosen"][0]["content"]
    assert read_pairs(out)[0].prompt == task.prompt

    model, tokenizer = load_model(str(tiny_model_path()), device="cpu")
    tokenizer.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                               "{% if add_generation_prompt %}assistant: {% endif %}")
    config = DPOConfig(output_dir=str(tmp_path / "dpo"), max_steps=1, per_device_train_batch_size=2,
                       report_to=[], save_strategy="no", logging_steps=1, max_length=128,
                       **training_args_for_device("cpu"))
    trainer = DPOTrainer(model=model, args=config, train_dataset=data["train"], processing_class=tokenizer)
    result = trainer.train()
    assert trainer.state.global_step == 1 and result.training_loss == result.training_loss  # not NaN
