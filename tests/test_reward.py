"""Scorer adapters: verl compute_score, TRL GRPO reward_funcs (one real GRPOTrainer step on the tiny model),
and the OpenRLHF remote reward endpoint over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from codealign.errors import UserError
from codealign.reward import (
    Scorer,
    compute_score,
    grpo_reward,
    make_reward_server,
    verl_row,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

GOOD = "Here is the design:\n```verilog\nmodule TopModule(output zero);\n  assign zero = 1'b0;\nendmodule\n```\n"
WRONG = "```verilog\nmodule TopModule(output zero);\n  assign zero = 1'b1;\nendmodule\n```"
BROKEN = "module TopModule(output zero); assign zero = ; endmodule"


@pytest.fixture(scope="module")
def zero_task(shared_data):
    from rise_mutants import verilogeval_tasks

    tasks, _ = verilogeval_tasks(str(shared_data / "verilogeval" / "problems.jsonl"), "spec-to-rtl")
    return next(t for t in tasks if t.task_id == "Prob001_zero")


@pytest.mark.slow
def test_verl_compute_score_rewards_a_correct_design(zero_task):
    row = verl_row(zero_task)
    gt, extra = row["reward_model"]["ground_truth"], row["extra_info"]
    assert compute_score(row["data_source"], GOOD, gt, extra) == 1.0
    assert compute_score(row["data_source"], WRONG, gt, extra) == 0.0
    assert compute_score("verilog", BROKEN, json.loads(gt), None) == 0.0


def test_verl_compute_score_rejects_an_unknown_data_source(zero_task):
    with pytest.raises(UserError, match="names no domain"):
        compute_score("openai/gsm8k", GOOD, json.dumps(zero_task.to_dict()))


@pytest.mark.slow
def test_grpo_reward_scores_strings_and_chat_messages(zero_task):
    reward = grpo_reward("verilog", [zero_task], workers=2)
    assert reward.__name__ == "codealign_verilog_reward"
    completions = [GOOD, WRONG, [{"role": "assistant", "content": GOOD}]]
    assert reward(prompts=["p"] * 3, completions=completions, task_id=[zero_task.task_id] * 3) == [1.0, 0.0, 1.0]
    with pytest.raises(UserError, match="task_id"):
        reward(prompts=["p"], completions=[GOOD])


def test_grpo_trainer_runs_a_step_with_the_execution_reward(zero_task, tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from codealign.train.device import training_args_for_device
    from codealign.train.models import load_tokenizer, tiny_model_path

    model_dir = str(tiny_model_path())
    calls = []
    inner = grpo_reward("verilog", [zero_task], workers=2)

    def reward(prompts, completions, task_id=None, **kwargs):
        scores = inner(prompts, completions, task_id=task_id, **kwargs)
        calls.append((list(task_id), scores))
        return scores

    reward.__name__ = inner.__name__
    dataset = Dataset.from_list([{"prompt": "Write TopModule with output zero tied low.<|sep|>",
                                  "task_id": zero_task.task_id}] * 2)
    config = GRPOConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=2, num_generations=2,
                        max_completion_length=8, report_to=[], logging_steps=1, save_strategy="no",
                        **training_args_for_device("cpu"))
    trainer = GRPOTrainer(model=model_dir, reward_funcs=[reward], args=config, train_dataset=dataset,
                          processing_class=load_tokenizer(model_dir))
    trainer.train()
    assert trainer.state.global_step == 1
    assert calls and all(ids == [zero_task.task_id] * len(ids) for ids, _ in calls)
    assert all(0.0 <= s <= 1.0 for _, scores in calls for s in scores)
    logged = [k for entry in trainer.state.log_history for k in entry]
    assert "rewards/codealign_verilog_reward/mean" in logged


@pytest.fixture()
def reward_server(zero_task):
    server = make_reward_server(Scorer("verilog", [zero_task], workers=2), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _post(url: str, body) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_openrlhf_remote_reward_over_http(reward_server, zero_task):
    prompt = "<|user|>Write the zero module.<|assistant|>"
    body = {"query": [prompt + GOOD, prompt + WRONG, prompt + BROKEN], "prompts": [prompt] * 3,
            "labels": [zero_task.task_id] * 3}
    status, answer = _post(reward_server + "/get_reward", body)
    assert status == 200
    assert answer["rewards"] == [1.0, 0.0, 0.0] and answer["scores"] == answer["rewards"]
    assert answer["extra_logs"]["pass"] == [1.0, 0.0, 0.0]


@pytest.mark.slow
def test_openrlhf_labels_may_carry_the_task_inline(reward_server, zero_task):
    body = {"query": [GOOD], "labels": [json.dumps(zero_task.to_dict())]}
    assert _post(reward_server + "/get_reward", body) == (200, {
        "rewards": [1.0], "scores": [1.0], "extra_logs": {"pass": [1.0], "sandbox_error": [0.0]}})


def test_openrlhf_bad_requests_get_400_with_a_reason(reward_server):
    status, answer = _post(reward_server + "/get_reward", {"query": ["x"], "labels": ["no_such_task"]})
    assert status == 400 and "unknown task id" in answer["error"]
    status, answer = _post(reward_server + "/get_reward", {"query": ["x", "y"], "labels": ["a"]})
    assert status == 400 and "as long as" in answer["error"]
    status, answer = _post(reward_server + "/get_reward", b"{not json")
    assert status == 400
    assert _post(reward_server + "/other", {})[0] == 404


def test_a_sandbox_error_is_worth_nothing_whatever_score_it_carries():
    from codealign.pairs.pool import effective_score
    from codealign.types import ExecResult, Verdict

    assert effective_score(ExecResult("t", "c", Verdict.SANDBOX_ERROR, score=0.7)) == 0.0
    assert effective_score(ExecResult("t", "c", Verdict.FAIL, score=0.7)) == 0.7
