"""Code-aware DPO objectives (codealign.train.objectives and their use in CodeAlignDPOTrainer)."""

from __future__ import annotations

import math

import pytest

from codealign.train.objectives import edit_mask, edit_span
from test_dpo import cfg, make_pairs, trainer_for


def test_edit_span_finds_shared_prefix_and_suffix():
    assert edit_span([1, 2, 3, 4, 5], [1, 2, 9, 4, 5]) == (2, 2)
    assert edit_span([1, 2, 3], [1, 2, 3, 4]) == (3, 0)
    assert edit_span([7, 1, 2], [8, 1, 2]) == (0, 2)


def test_edit_span_never_overlaps_prefix_and_suffix():
    prefix, suffix = edit_span([1, 1, 1], [1, 1, 1, 1])
    assert prefix + suffix <= 3
    assert edit_span([5, 5], [5, 5]) == (2, 0)


def test_edit_mask_marks_only_the_differing_tokens():
    assert edit_mask([1, 2, 3, 4, 5], 2, 2) == [0, 0, 1, 0, 0]
    assert edit_mask([1, 2, 3, 4], 1, 0) == [0, 1, 1, 1]


def test_scale_rows_grad_is_identity_forward_and_scales_backward():
    import torch

    from codealign.train.objectives import scale_rows_grad

    x = torch.randn(4, 3, requires_grad=True)
    w = torch.tensor([1.0, 0.0, 0.5, 2.0])
    y = scale_rows_grad(x, w)
    assert torch.equal(y, x)
    (y * torch.arange(12.0).reshape(4, 3)).sum().backward()
    torch.testing.assert_close(x.grad, torch.arange(12.0).reshape(4, 3) * w[:, None])


def test_dpop_penalty_is_zero_at_or_above_the_reference_and_grows_below_it():
    import torch

    from codealign.train.objectives import dpop_penalty

    ref = torch.tensor([-10.0, -10.0, -10.0])
    pen = dpop_penalty(torch.tensor([-10.0, -8.0, -14.0]), ref, torch.tensor([4.0, 4.0, 4.0]))
    assert pen.tolist() == [0.0, 0.0, 1.0]  # 4 nats lost over 4 tokens


def test_chosen_nll_is_the_mean_token_nll():
    import torch

    from codealign.train.objectives import chosen_nll

    logps = torch.tensor([[-1.0, -3.0, -5.0], [-2.0, -2.0, 0.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    torch.testing.assert_close(chosen_nll(logps, mask), torch.tensor([2.0, 4.0 / 3.0]))


@pytest.mark.parametrize("objective", [
    {"edit_focus": True},
    {"dpop_lambda": 1.0},
    {"nll_alpha": 1.0},
    {"edit_focus": True, "dpop_lambda": 1.0, "nll_alpha": 1.0},
])
def test_each_code_aware_objective_runs_a_step(tiny, tmp_path, objective):  # noqa: F811
    trainer = trainer_for(cfg(tiny, tmp_path, max_steps=2, **objective), make_pairs(4), tmp_path)
    out = trainer.train()
    assert trainer.state.global_step == 2 and math.isfinite(out.training_loss)
    logged = trainer.state.log_history[0]
    if objective.get("dpop_lambda"):
        assert "dpop_penalty" in logged
    if objective.get("nll_alpha"):
        assert logged["nll_chosen"] > 0


def _final_hidden_grads(trainer, rows):
    """Gradient of the loss w.r.t. the last hidden state at every position, and the batch it came from."""
    captured = {}

    def keep(module, args, output):
        output.retain_grad()
        captured["h"] = output

    handle = trainer.model.model.norm.register_forward_hook(keep)
    try:
        trainer.model.train()
        trainer.model.zero_grad()
        batch = trainer.data_collator([trainer.train_dataset[i] for i in rows])
        trainer.compute_loss(trainer.model, dict(batch)).backward()
    finally:
        handle.remove()
    return captured["h"].grad, batch


def test_masked_objective_puts_no_gradient_on_shared_tokens(tiny, tmp_path):  # noqa: F811
    trainer = trainer_for(cfg(tiny, tmp_path, edit_focus=True), make_pairs(2), tmp_path)
    grad, batch = _final_hidden_grads(trainer, [0, 1])
    # hidden state t predicts token t+1: its gradient is the gradient on token t+1's log-prob
    per_token = grad.abs().sum(dim=-1)[:, :-1]
    scored = batch["completion_mask"][:, 1:].bool()
    shared = batch["full_completion_mask"][:, 1:].bool() & ~scored
    assert shared.any() and scored.any()
    assert float(per_token[shared].max()) == 0.0
    assert float(per_token[scored].min()) > 0.0


def test_unmasked_dpo_does_put_gradient_on_shared_tokens(tiny, tmp_path):  # noqa: F811
    trainer = trainer_for(cfg(tiny, tmp_path), make_pairs(2), tmp_path)
    grad, batch = _final_hidden_grads(trainer, [0, 1])
    per_token = grad.abs().sum(dim=-1)[:, :-1]
    completion = batch["completion_mask"][:, 1:].bool()
    assert float(per_token[completion].min()) > 0.0


def test_nll_anchor_restores_gradient_on_shared_chosen_tokens(tiny, tmp_path):  # noqa: F811
    trainer = trainer_for(cfg(tiny, tmp_path, edit_focus=True, nll_alpha=1.0), make_pairs(2), tmp_path)
    grad, batch = _final_hidden_grads(trainer, [0, 1])
    per_token = grad.abs().sum(dim=-1)[:, :-1]
    n = len(per_token) // 2
    full = batch["full_completion_mask"][:, 1:].bool()
    scored = batch["completion_mask"][:, 1:].bool()
    shared_chosen = (full & ~scored)[:n]
    shared_rejected = (full & ~scored)[n:]
    assert float(per_token[:n][shared_chosen].min()) > 0.0
    assert float(per_token[n:][shared_rejected].max()) == 0.0


def test_edit_focused_reference_logps_cover_the_same_tokens_as_the_policy(tiny, tmp_path):  # noqa: F811
    trainer = trainer_for(cfg(tiny, tmp_path, edit_focus=True, precompute_ref_log_probs=True), make_pairs(2),
                          tmp_path)
    before = trainer.train_dataset["ref_chosen_logps"]
    plain = trainer_for(cfg(tiny, tmp_path / "p", precompute_ref_log_probs=True), make_pairs(2), tmp_path / "p")
    whole = plain.train_dataset["ref_chosen_logps"]
    # the masked sums cover fewer tokens, so they are strictly closer to 0 than the whole-completion sums
    assert all(m > w for m, w in zip(before, whole))


def test_dpop_penalty_reads_reference_logps_precomputed_by_trl(tiny, tmp_path):  # noqa: F811
    trainer = trainer_for(cfg(tiny, tmp_path, dpop_lambda=1.0), make_pairs(2), tmp_path)
    assert trainer.args.precompute_ref_log_probs
    assert {"ref_chosen_logps", "ref_rejected_logps"} <= set(trainer.train_dataset.column_names)
