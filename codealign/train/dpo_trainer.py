"""TRL's ``DPOTrainer``, subclassed only where TRL lacks something codealign needs.

What is added, and where it hooks into TRL 1.16:

* **per-pair weights** and the **edit-focused mask**: ``_compute_loss`` hands TRL's own loss code a thin view
  of the policy whose per-token log-probs are (a) zero outside the chosen/rejected difference when the
  edit-focused objective is on and (b) pass their gradient through :func:`objectives.scale_rows_grad`.
  Every TRL loss type, ``loss_weights``, f-divergences, WPO weighting and the metrics stay TRL's. The logged
  ``loss`` is TRL's (unweighted) value plus the extra terms; its gradient is the weighted one.
* **DPO-Positive** and **chosen NLL** terms: added after TRL's loss from the same forward pass.
* **order**: ``_get_train_sampler`` returns :class:`~codealign.train.order.StageOrderSampler` (stage order,
  sequential or seeded shuffle, whole prompts together for ranked multi-pair batches) instead of a random
  sampler.
* **reference log-probs**: TRL's own, computed per batch or precomputed (``precompute_ref_log_probs``, which
  ``dpop_lambda`` needs: the penalty reads them from the batch); precomputed ones are cached on disk by
  :class:`refcache.RefLogpCache`.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import DPOTrainer
from trl.trainer.dpo_trainer import DataCollatorForPreference

from codealign.train import objectives
from codealign.train.order import StageOrderSampler
from codealign.train.refcache import RefLogpCache, data_fingerprint

#: Batch keys the collator adds for this trainer; they never reach the model.
EXTRA_KEYS = ("pair_weight", "pair_index", "stage", "full_completion_mask")
#: Dataset columns kept next to TRL's token columns.
EXTRA_COLUMNS = ("weight", "stage", "pair_index", "group")


class PairCollator(DataCollatorForPreference):
    """TRL's preference collator plus each pair's weight, stage and index; with ``edit_focus`` the
    ``completion_mask`` covers only the tokens where chosen and rejected differ, and the full mask travels as
    ``full_completion_mask`` (for the NLL term)."""

    def __init__(self, pad_token_id: int, edit_focus: bool = False, **kwargs: Any):
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.edit_focus = edit_focus

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        out = super().torch_call(examples)
        out["pair_weight"] = torch.tensor([float(e.get("weight", 1.0)) for e in examples])
        out["pair_index"] = torch.tensor([int(e.get("pair_index", -1)) for e in examples])
        out["stage"] = torch.tensor([int(e.get("stage", 0)) for e in examples])
        if self.edit_focus:
            out["full_completion_mask"] = out["completion_mask"]
            out["completion_mask"] = self._edit_completion_mask(examples, out["completion_mask"].shape[1])
        return out

    def _edit_completion_mask(self, examples: list[dict[str, Any]], width: int) -> torch.Tensor:
        rows = []
        for side in ("chosen_ids", "rejected_ids"):
            for e in examples:
                prefix, suffix = objectives.edit_span(e["chosen_ids"], e["rejected_ids"])
                row = [0] * len(e["prompt_ids"]) + objectives.edit_mask(e[side], prefix, suffix)
                if self.max_length is not None:
                    row = row[: self.max_length] if self.truncation_mode == "keep_start" else row[-self.max_length:]
                rows.append(row + [0] * (width - len(row)))
        return torch.tensor(rows, dtype=torch.long)


class CodeAlignDPOTrainer(DPOTrainer):
    """``DPOTrainer`` with per-pair weights, code-aware objectives, stage-ordered batches and an on-disk
    reference log-prob cache. Takes every ``DPOTrainer`` argument (all but ``model`` by keyword), plus:

    ``edit_focus``, ``dpop_lambda``, ``nll_alpha`` — the objectives (see :mod:`codealign.train.objectives`);
    ``shuffle``, ``group_prompts``, ``order_seed`` — the sampler
    (:class:`~codealign.train.order.StageOrderSampler`);
    ``ref_cache`` — where precomputed reference log-probs are kept across runs (None: TRL's own caching);
    ``record_batches`` — keep the ``pair_index`` of every training micro-batch in :attr:`batch_history`.
    """

    def __init__(
        self,
        model: Any,
        *,
        edit_focus: bool = False,
        dpop_lambda: float = 0.0,
        nll_alpha: float = 0.0,
        shuffle: bool = False,
        group_prompts: bool = False,
        order_seed: int = 0,
        ref_cache: RefLogpCache | None = None,
        record_batches: bool = False,
        **kwargs: Any,
    ):
        self.edit_focus = edit_focus
        self.dpop_lambda = dpop_lambda
        self.nll_alpha = nll_alpha
        self.shuffle = shuffle
        self.group_prompts = group_prompts
        self.order_seed = order_seed
        self.ref_cache = ref_cache
        self.ref_cache_hit: bool | None = None
        self.record_batches = record_batches
        self.batch_history: list[list[int]] = []
        args_ = kwargs.get("args")
        if dpop_lambda and not (args_ is not None and args_.precompute_ref_log_probs):
            raise ValueError("dpop_lambda reads the reference log-probs from the batch: set precompute_ref_log_probs")
        tokenizer = kwargs.get("processing_class")
        if kwargs.get("data_collator") is None and args_ is not None and tokenizer is not None:
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            kwargs["data_collator"] = PairCollator(
                pad_token_id=tokenizer.pad_token_id,
                edit_focus=edit_focus,
                max_length=args_.max_length,
                truncation_mode=args_.truncation_mode,
                pad_to_multiple_of=args_.pad_to_multiple_of,
            )
        super().__init__(model, **kwargs)

    # -- data ------------------------------------------------------------------------------------------------
    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        for column in EXTRA_COLUMNS:
            if column not in self._signature_columns:
                self._signature_columns.append(column)

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        columns = dataset.column_names
        stages = dataset["stage"] if "stage" in columns else [0] * len(dataset)
        groups = dataset["group"] if self.group_prompts and "group" in columns else None
        return StageOrderSampler(stages, groups, shuffle=self.shuffle, seed=self.order_seed)

    def _precompute_ref_logps(self, dataset, name: str, batch_size: int):
        if self.ref_cache is None:
            return super()._precompute_ref_logps(dataset, name, batch_size)
        settings = {
            "edit_focus": self.edit_focus,
            "max_length": self.args.max_length,
            "truncation_mode": self.args.truncation_mode,
            "ld_alpha": self.args.ld_alpha,
        }
        key = RefLogpCache.key(self._precompute_model_hash, data_fingerprint(dataset, settings))
        cached = self.ref_cache.load(key, len(dataset))
        self.ref_cache_hit = cached is not None
        if cached is None:
            dataset = super()._precompute_ref_logps(dataset, name, batch_size)
            self.ref_cache.save(key, dataset["ref_chosen_logps"], dataset["ref_rejected_logps"])
            return dataset
        chosen, rejected = cached
        return dataset.add_column("ref_chosen_logps", chosen).add_column("ref_rejected_logps", rejected)

    # -- loss ------------------------------------------------------------------------------------------------
    def compute_ref_log_probs(self, model, inputs):
        return super().compute_ref_log_probs(model, {k: v for k, v in inputs.items() if k not in EXTRA_KEYS})

    def _compute_loss(self, model, inputs, return_outputs):
        extras = {k: inputs.pop(k) for k in EXTRA_KEYS if k in inputs}
        weights = extras["pair_weight"].to(torch.float32)
        if self.record_batches and self.model.training:
            self.batch_history.append(extras["pair_index"].tolist())
        full_mask = extras.get("full_completion_mask")
        view = _PolicyView(
            model,
            row_weights=None if bool((weights == 1).all()) else torch.cat([weights, weights]),
            full_labels=None if full_mask is None else inputs["input_ids"].masked_fill(full_mask == 0, -100),
            scored_mask=None if full_mask is None else inputs["completion_mask"][..., 1:],
        )
        result = super()._compute_loss(view, inputs, return_outputs)
        loss, outputs = result if return_outputs else (result, None)
        loss = loss + self._extra_terms(view, inputs, full_mask, weights)
        return (loss, outputs) if return_outputs else loss

    def _extra_terms(self, view: "_PolicyView", inputs, full_mask, weights):
        if not (self.dpop_lambda or self.nll_alpha):
            return 0.0
        mode = "train" if self.model.training else "eval"
        token_logps = view.token_logps
        scored = inputs["completion_mask"][..., 1:].to(token_logps.dtype)
        chosen_scored = scored.chunk(2, dim=0)[0]
        chosen_token_logps = token_logps.chunk(2, dim=0)[0]
        extra = torch.zeros((), device=token_logps.device, dtype=token_logps.dtype)
        if self.dpop_lambda:
            chosen_logps = (chosen_token_logps * chosen_scored).sum(dim=1)
            penalty = objectives.dpop_penalty(chosen_logps, inputs["ref_chosen_logps"], chosen_scored.sum(dim=1))
            term = (penalty * weights).mean()
            extra = extra + self.dpop_lambda * term
            self._metrics[mode]["dpop_penalty"].append(term.item())
        if self.nll_alpha:
            mask = (full_mask if full_mask is not None else inputs["completion_mask"])[..., 1:]
            nll = objectives.chosen_nll(chosen_token_logps, mask.chunk(2, dim=0)[0])
            term = (nll * weights).mean()
            extra = extra + self.nll_alpha * term
            self._metrics[mode]["nll_chosen"].append(term.item())
        return extra


class _PolicyView:
    """Stands in for the policy inside TRL's ``_compute_loss``: runs the real forward (with every completion
    token scored when ``full_labels`` is given), keeps the per-token log-probs for the extra terms, and hands
    TRL log-probs restricted to ``scored_mask`` with their gradient scaled per row by ``row_weights``."""

    def __init__(self, model, row_weights=None, full_labels=None, scored_mask=None):
        self.model = model
        self.row_weights = row_weights
        self.full_labels = full_labels
        self.scored_mask = scored_mask
        self.token_logps = None

    def __call__(self, *args: Any, labels=None, **kwargs: Any):
        outputs = self.model(*args, labels=self.full_labels if self.full_labels is not None else labels, **kwargs)
        logps = outputs.log_probs
        self.token_logps = logps
        if self.scored_mask is not None:
            logps = logps * self.scored_mask[:, -logps.shape[1]:].to(logps.dtype)
        if self.row_weights is not None:
            logps = objectives.scale_rows_grad(logps, self.row_weights)
        outputs.log_probs = logps
        return outputs
