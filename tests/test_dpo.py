"""DPO on TRL (codealign.train.dpo): real TRL training on a tiny Llama built offline, on CPU."""

from __future__ import annotations

import json
import re

import pytest

from codealign.errors import UserError
from codealign.types import Pair

FIXES = [
    (" assign y = ~a;\nendmodule", " assign y = a;\nendmodule"),
    (" assign y = a & b;\nendmodule", " assign y = a | b;\nendmodule"),
    (" assign y = a ^ b;\nendmodule", " assign y = a ~^ b;\nendmodule"),
    (" assign y = sel ? b : a;\nendmodule", " assign y = sel ? a : b;\nendmodule"),
]


def make_pairs(n: int = 8, stages: int = 1, weight=lambda i: 1.0) -> list[Pair]:
    pairs = []
    for i in range(n):
        chosen, rejected = FIXES[i % len(FIXES)]
        pairs.append(Pair(
            prompt=f"// task {i}\nmodule top(input a, input b, input sel, output y);",
            chosen=chosen, rejected=rejected, task_id=f"t{i}", stage=i % stages, weight=weight(i),
        ))
    return pairs


def cfg(tiny, tmp_path, **kw):
    from codealign.train.dpo import DPORunConfig

    base = dict(model=tiny, output_dir=str(tmp_path / "run"), learning_rate=1e-3, max_steps=4,
                per_device_train_batch_size=2, device="cpu", report_tensorboard=False, monitor=False)
    base.update(kw)
    return DPORunConfig(**base)


def tok(config_or_model):
    from codealign.train.models import load_tokenizer

    return load_tokenizer(getattr(config_or_model, "model", config_or_model))


def trainer_for(config, pairs, tmp_path, **kw):
    from codealign.train.dpo import build_trainer, pair_rows

    rows = pair_rows(pairs, config, tok(config))
    return build_trainer(config, rows, config.model, tmp_path / "stage", quiet=True, **kw)


def margins(trainer) -> float:
    """Mean (policy - reference) chosen-minus-rejected log-ratio over the trainer's data."""
    import torch

    from codealign.train.dpo_trainer import EXTRA_KEYS

    total, n = 0.0, 0
    trainer.model.eval()
    with torch.no_grad():
        for batch in trainer.get_train_dataloader():
            inputs = {k: v for k, v in batch.items() if k not in EXTRA_KEYS}
            pol_c, pol_r = trainer.compute_ref_log_probs(trainer.model, inputs)
            ref_c, ref_r = trainer.compute_ref_log_probs(trainer.ref_model, inputs)
            total += float(((pol_c - ref_c) - (pol_r - ref_r)).sum())
            n += len(pol_c)
    return total / n


def grads(trainer, pairs_rows):
    """Gradient of the trainer's loss on one batch made of ``pairs_rows`` (dataset rows), by parameter name."""
    trainer.model.train()
    trainer.model.zero_grad()
    batch = trainer.data_collator([trainer.train_dataset[i] for i in pairs_rows])
    loss = trainer.compute_loss(trainer.model, dict(batch))
    loss.backward()
    return {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters() if p.grad is not None}


def test_dpo_raises_the_chosen_vs_rejected_margin(tiny, tmp_path):
    trainer = trainer_for(cfg(tiny, tmp_path, max_steps=6), make_pairs(), tmp_path)
    before = margins(trainer)
    trainer.train()
    after = margins(trainer)
    assert before == pytest.approx(0.0, abs=1e-5)
    assert after > before + 0.5


def test_pair_of_weight_zero_has_no_effect_on_the_gradient(tiny, tmp_path):
    import torch

    pairs = make_pairs(4, weight=lambda i: 0.0 if i >= 2 else 1.0)
    trainer = trainer_for(cfg(tiny, tmp_path), pairs, tmp_path)
    with_first = grads(trainer, [0, 2])   # pair 2 weighs 0
    with_other = grads(trainer, [0, 3])   # pair 3 (other text) weighs 0
    assert with_first.keys() == with_other.keys() and with_first
    for name in with_first:  # equal up to float rounding (the batches pad to different lengths)
        torch.testing.assert_close(with_first[name], with_other[name], rtol=1e-5, atol=1e-9)
    weighted = grads(trainer, [0, 1])     # both weigh 1: the second pair does change it
    assert any(not torch.allclose(with_first[n], weighted[n], rtol=1e-3, atol=1e-7) for n in with_first)


def test_weights_scale_the_gradient_of_each_pair(tiny, tmp_path):
    import torch

    half = trainer_for(cfg(tiny, tmp_path), make_pairs(2, weight=lambda i: 0.5), tmp_path)
    full = trainer_for(cfg(tiny, tmp_path / "b"), make_pairs(2), tmp_path / "b")
    g_half, g_full = grads(half, [0, 1]), grads(full, [0, 1])
    for name in g_full:
        torch.testing.assert_close(g_half[name], 0.5 * g_full[name], rtol=1e-4, atol=1e-7)


def _loss_types():
    from codealign.train.dpo import loss_types

    return loss_types()


@pytest.mark.parametrize("field_name", ["loss_type", "f_divergence_type"])
def test_choices_read_from_trls_source_equal_the_imported_configs(field_name):
    import dataclasses

    from trl import DPOConfig

    from codealign.train.dpo import _quoted_choices

    imported = {f.name: f for f in dataclasses.fields(DPOConfig)}[field_name].metadata["help"]
    assert _quoted_choices(field_name) == tuple(re.findall(r"`'(\w+)'`", imported))
    assert len(_quoted_choices(field_name)) >= 2


def test_a_config_error_is_reported_before_trl_is_imported():
    import subprocess
    import sys

    code = ("import sys\nfrom codealign.config import load_config\nfrom codealign.pipeline import PipelineConfig\n"
            "from codealign.errors import UserError\n"
            "try:\n    load_config(PipelineConfig, overrides=['domain=verilog', 'rounds=0'])\n"
            "except UserError as e:\n    print('trl' in sys.modules, 'torch' in sys.modules, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.startswith("False False ") and "rounds" in out, out


#: What a loss type needs beyond the defaults to be valid (TRL refuses exo_pair without label smoothing).
LOSS_SETTINGS = {"exo_pair": {"label_smoothing": 1e-3}, "robust": {"label_smoothing": 0.1}}


@pytest.mark.parametrize("loss_type", _loss_types())
def test_codealign_loss_equals_plain_trl_loss_for_each_loss_type(tiny, tmp_path, loss_type):
    import torch
    from datasets import Dataset
    from trl import DPOTrainer

    from codealign.train.dpo import _dpo_args, pair_rows
    from codealign.train.models import load_tokenizer

    config = cfg(tiny, tmp_path, loss_type=[loss_type], **LOSS_SETTINGS.get(loss_type, {}))
    ours = trainer_for(config, make_pairs(2), tmp_path)
    rows = [{k: r[k] for k in ("prompt", "chosen", "rejected")}
            for r in pair_rows(make_pairs(2), config, tok(config))]
    plain = DPOTrainer(tiny, args=_dpo_args(config, tmp_path / "plain"), train_dataset=Dataset.from_list(rows),
                       processing_class=load_tokenizer(tiny))
    batch_ours = ours.data_collator([ours.train_dataset[i] for i in range(2)])
    batch_plain = plain.data_collator([plain.train_dataset[i] for i in range(2)])
    with torch.no_grad():
        assert float(ours.compute_loss(ours.model, dict(batch_ours))) == pytest.approx(
            float(plain.compute_loss(plain.model, dict(batch_plain))), rel=1e-6)


def test_trainer_sees_batches_in_stage_order(tiny, tmp_path):
    pairs = make_pairs(9, stages=3)  # file order interleaves stages 0,1,2,0,1,2,...
    seen = []
    config = cfg(tiny, tmp_path, curriculum=False, max_steps=-1, num_train_epochs=1, per_device_train_batch_size=3)
    from codealign.train.dpo import train_dpo

    train_dpo(config, pairs, record_batches=True, on_trainer=lambda t: seen.extend(t.batch_history), quiet=True)
    order = [i for batch in seen for i in batch]
    assert sorted(order) == list(range(9))
    assert [pairs[i].stage for i in order] == sorted(p.stage for p in pairs)
    assert order == [0, 3, 6, 1, 4, 7, 2, 5, 8]  # sequential: file order within a stage


def test_shuffle_order_is_seeded_and_stays_within_stages():
    from codealign.train.order import StageOrderSampler

    stages = [0, 1, 0, 1, 0, 1, 0, 1, 2, 2]
    a = list(StageOrderSampler(stages, shuffle=True, seed=1))
    b = list(StageOrderSampler(stages, shuffle=True, seed=1))
    c = list(StageOrderSampler(stages, shuffle=True, seed=2))
    assert a == b and a != c
    assert [stages[i] for i in a] == sorted(stages)


def test_ranked_multi_pair_keeps_a_prompts_pairs_together_and_balances_weights(tiny, tmp_path):
    from codealign.train.dpo import pair_rows
    from codealign.train.order import StageOrderSampler

    pairs = make_pairs(3) + [Pair(prompt=make_pairs(1)[0].prompt, chosen=c, rejected=r, task_id="t0", rank=[0, k])
                             for k, (c, r) in enumerate(FIXES[1:], 1)]
    config = cfg(tiny, tmp_path, multi_pair=True, order="shuffle", seed=3)
    rows = pair_rows(pairs, config, tok(config))
    weight_of = {}
    for r in rows:
        weight_of[r["group"]] = weight_of.get(r["group"], 0.0) + r["weight"]
    assert len(set(round(w, 9) for w in weight_of.values())) == 1  # every prompt counts the same
    order = list(StageOrderSampler([r["stage"] for r in rows], [r["group"] for r in rows], shuffle=True, seed=3))
    groups = [rows[i]["group"] for i in order]
    starts = [g for k, g in enumerate(groups) if k == 0 or groups[k - 1] != g]
    assert len(starts) == len(set(groups))  # each prompt's pairs are contiguous


@pytest.mark.slow
def test_stage_two_reference_is_stage_one_policy(tiny, tmp_path):
    from codealign.train.dpo import pair_rows, train_dpo

    pairs = make_pairs(8, stages=2)
    config = cfg(tiny, tmp_path, precompute_ref_log_probs=True)
    result = train_dpo(config, pairs, quiet=True)
    stage0, stage1 = result.stages
    assert stage1.reference == stage0.model_dir and stage1.start_model == stage0.model_dir
    stage1_rows = [r for r in pair_rows(pairs, config, tok(config)) if r["stage"] == 1]
    # The reference log-probs stage 1 trained with are keyed by the reference weights: a trainer whose
    # reference is stage 1's final policy finds them; one whose reference is the base model does not.
    from codealign.train.dpo import build_trainer

    assert build_trainer(config, stage1_rows, stage0.model_dir, tmp_path / "x", quiet=True).ref_cache_hit is True
    assert build_trainer(config, stage1_rows, tiny, tmp_path / "y", quiet=True).ref_cache_hit is False


@pytest.mark.slow
def test_rerun_skips_finished_stages_and_reuses_cached_reference_logps(tiny, tmp_path):
    from codealign.train.dpo import train_dpo

    config = cfg(tiny, tmp_path, precompute_ref_log_probs=True, max_steps=2)
    first = train_dpo(config, make_pairs(4, stages=2), quiet=True)
    assert [s.ref_cache_hit for s in first.stages] == [False, False]
    (tmp_path / "run" / "stage-1" / "done.json").unlink()
    second = train_dpo(config, make_pairs(4, stages=2), quiet=True)
    assert second.stages[0].skipped and not second.stages[1].skipped
    assert second.stages[1].ref_cache_hit is True
    assert second.stages[1].last_log["loss"] == pytest.approx(first.stages[1].last_log["loss"], rel=1e-5)


def test_resume_after_a_kill_continues_from_the_last_checkpoint(tiny, tmp_path):
    from transformers import TrainerCallback

    from codealign.train.dpo import train_dpo

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise KeyboardInterrupt

    config = cfg(tiny, tmp_path, max_steps=4, save_steps=2)
    with pytest.raises(KeyboardInterrupt):
        train_dpo(config, make_pairs(8), callbacks=[Kill()], quiet=True)
    assert (tmp_path / "run" / "stage-0" / "checkpoint-2").is_dir()
    result = train_dpo(config, make_pairs(8), quiet=True)
    stage = result.stages[0]
    assert stage.resumed and stage.steps == 4
    logged = [json.loads(line) for line in (tmp_path / "run" / "stage-0" / "train_log.jsonl").read_text().splitlines()]
    steps = [row["step"] for row in logged if "loss" in row]
    assert steps == [1, 2, 3, 4]  # killed in step 3 before it logged; resumed at checkpoint-2, not from 0
    assert not list((tmp_path / "run" / "stage-0").glob("checkpoint-*"))


def test_lora_trains_only_adapter_weights(tiny, tmp_path):
    import torch

    trainer = trainer_for(cfg(tiny, tmp_path, lora_r=4, lora_alpha=8), make_pairs(4), tmp_path)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    trainer.train()
    changed = {n for n, p in trainer.model.named_parameters() if not torch.equal(before[n], p.detach())}
    assert changed and changed <= trainable
    assert any("lora_B" in n for n in changed)


def test_lora_stage_is_merged_into_a_full_model(tiny, tmp_path):
    from transformers import AutoModelForCausalLM

    from codealign.train.dpo import train_dpo

    result = train_dpo(cfg(tiny, tmp_path, lora_r=4, max_steps=2), make_pairs(4), quiet=True)
    model = AutoModelForCausalLM.from_pretrained(result.final_model)
    assert not any("lora" in n for n, _ in model.named_parameters())


@pytest.mark.parametrize("loss_type", _loss_types())
def test_each_accepted_loss_type_runs_a_step(tiny, tmp_path, loss_type):
    import math

    trainer = trainer_for(cfg(tiny, tmp_path, loss_type=[loss_type], max_steps=1, **LOSS_SETTINGS.get(loss_type, {})),
                          make_pairs(2), tmp_path)
    out = trainer.train()
    assert trainer.state.global_step == 1 and math.isfinite(out.training_loss)


def test_loss_types_combine_with_loss_weights(tiny, tmp_path):
    trainer = trainer_for(cfg(tiny, tmp_path, loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.5], max_steps=1),
                          make_pairs(2), tmp_path)
    trainer.train()
    assert trainer.state.global_step == 1


@pytest.mark.parametrize("bad, message", [
    ({"loss_type": ["sigmoid", "dpo"]}, "unknown loss_type"),
    ({"loss_type": ["robust"], "label_smoothing": 0.5}, "flip rate"),
    ({"loss_type": ["exo_pair"]}, "exo_pair"),
    ({"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0]}, "loss_weights"),
    ({"trl": {"no_such_field": 1}}, "unknown DPOConfig field"),
    ({"trl": {"beta": 0.3}}, "top level"),
    ({"trl": {"f_divergence_type": "js_divergence"}, "loss_type": ["bco_pair"]}, "f_divergence_type"),
    ({"trl": {"use_weighting": True}, "loss_type": ["aot"]}, "use_weighting"),
    ({"trl": {"sync_ref_model": True}, "precompute_ref_log_probs": True}, "sync_ref_model"),
    ({"trl": {"sync_ref_model": True}, "dpop_lambda": 1.0}, "sync_ref_model"),
    ({"loss_type": ["sigmod"]}, "did you mean 'sigmoid'"),
    ({"lora_r": 4, "lora_target_modules": ["q_proj", "lm_head"]}, "lm_head"),
    ({"order": "random"}, "unknown order"),
    ({"device": "tpu"}, "unknown device"),
])
def test_config_rejects_bad_settings_when_built(tiny, tmp_path, bad, message):
    with pytest.raises(UserError, match=message):
        cfg(tiny, tmp_path, **bad)


def test_weights_with_batch_coupled_loss_are_rejected(tiny, tmp_path):
    from codealign.train.dpo import pair_rows

    with pytest.raises(UserError, match="aot"):
        pair_rows(make_pairs(2, weight=lambda i: 0.5), cfg(tiny, tmp_path, loss_type=["aot"]), tok(tiny))


def test_missing_pairs_file_is_a_user_error(tiny, tmp_path):
    from codealign.train.dpo import train_dpo

    with pytest.raises(UserError, match="no such file"):
        train_dpo(cfg(tiny, tmp_path, pairs=str(tmp_path / "absent.jsonl")))


def test_monitor_stops_a_run_whose_chosen_logprob_collapses(tiny, tmp_path):
    from codealign.train.dpo import train_dpo

    # Plain sigmoid DPO at a huge learning rate on pairs that share most tokens: the chosen log-prob falls.
    config = cfg(tiny, tmp_path, monitor=True, learning_rate=0.05, max_steps=40, monitor_window=2,
                 monitor_max_chosen_drop=3.0, beta=0.5)
    result = train_dpo(config, make_pairs(8), quiet=True)
    stage = result.stages[0]
    assert stage.stopped_reason and "chosen log-prob fell" in stage.stopped_reason
    assert stage.steps < 40
    assert result.stopped_reason == stage.stopped_reason
    events = [json.loads(line) for line in (tmp_path / "run" / "stage-0" / "monitor.jsonl").read_text().splitlines()]
    assert events[-1]["kind"] == "stop"


def test_monitor_stops_when_the_injected_probe_breaks_down(tiny, tmp_path):
    from codealign.train.dpo import train_dpo

    seen = []

    def probe(model, tokenizer):
        """A caller's probe: gets the live policy and tokenizer; its failure rate rises 0.3 per call."""
        seen.append((model.training, tokenizer.eos_token))
        return {"compile_error_rate": min(1.0, 0.3 * (len(seen) - 1))}

    config = cfg(tiny, tmp_path, monitor=True, max_steps=8, monitor_probe_every=2, monitor_max_rate_increase=0.5)
    result = train_dpo(config, make_pairs(4), probe=probe, quiet=True)
    # probes at the start (0.0), step 2 (0.3), step 4 (0.6: more than +0.5) -> stopped after step 4
    assert result.stopped_reason and "compile_error_rate rose" in result.stopped_reason
    assert result.stages[0].steps == 4 and len(seen) == 3
    assert all(eos == "<|endoftext|>" for _, eos in seen)


def test_unknown_key_of_a_dpo_config_file_names_the_closest_field():
    from codealign.train.dpo import DPORunConfig

    from codealign.config import build

    with pytest.raises(UserError, match="bta: unknown config key; did you mean beta"):
        build(DPORunConfig, {"model": "m", "bta": 0.2})
