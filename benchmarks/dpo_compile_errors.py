"""Why one DPO round raises the compile-error rate of the tiny Verilog model (issue 14, item 3).

Reads finished ``codealign run verilog`` directories — a baseline and DPO variants trained from the same SFT
policy — and prints, per run, the numbers the mechanism is judged by:

* evaluation before/after DPO: pass@1 (± SE, paired difference ± SE), compile-error rate, the compile-error
  failure classes (``details.failure``), truncation (``finish_reason == "length"``, exact when the run kept
  ``eval/<tag>_candidates_seed<s>.jsonl``, else the stage marker's rate) and completion length in tokens;
* the pairs: verdicts of chosen/rejected, lengths, and the shared prefix/suffix of chosen and rejected in
  tokens (:func:`codealign.train.objectives.edit_span`, as the edit-focused mask sees them);
* likelihood displacement: the per-token log-prob change, DPO policy minus its reference (the SFT policy),
  on the pairs' chosen and rejected tokens inside the shared prefix, the differing span and the shared
  suffix; on the tokens of the evaluation samples the SFT policy wrote; on the held-out reference solutions,
  per syntax token (``endmodule``, ``end``, ``;`` …, and EOS), and the probability of writing ``endmodule`` at a
  line start before the reference's own end (closing the module early), SFT vs DPO;
* where the samples' own text stopped before the ``endmodule`` stop string (after a blank line, after a line
  break, mid-line) and the compile-error rate of each, for runs that kept their evaluation candidates.

Sequences are tokenized the way TRL's DPO trainer does (formatted prompt + completion + EOS, the completion
starting where prompt and prompt+completion diverge), so "chosen tokens" are the tokens DPO trained on.

    .venv/bin/python benchmarks/dpo_compile_errors.py /tmp/h8/run [/tmp/h8/nll4 ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codealign.domains import get_domain  # noqa: E402
from codealign.prompts import format_prompt  # noqa: E402
from codealign.jsonl import read_jsonl  # noqa: E402
from codealign.train.objectives import edit_span  # noqa: E402
from codealign.types import Candidate, ExecResult, Pair, Task, Verdict  # noqa: E402

SYNTAX = ("endmodule", "end", "endcase", "begin", ";", "(", ")", ",", "module", "always", "assign")
"""Tokens reported on their own in the per-token tables (others are pooled as ``other`` / ``whitespace``)."""


# -- reading a run ----------------------------------------------------------------------------------------------
def _marker(run: Path, stage: str) -> dict:
    path = run / "stages" / f"{stage}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _dpo_settings(run: Path) -> dict:
    dpo = json.loads((run / "manifest.json").read_text())["config"]["dpo"]
    keys = ("loss_type", "beta", "learning_rate", "max_steps", "nll_alpha", "dpop_lambda", "edit_focus")
    settings = {k: dpo[k] for k in keys}
    if dpo.get("trl"):
        settings["trl"] = dpo["trl"]
    return settings


def ending(raw: str) -> str:
    """Where a sample's own text stops (before the stop string): after a blank line, after a line break, or
    inside a line."""
    text = raw.rstrip(" \t")
    return "blank line" if text.endswith("\n\n") else "line break" if text.endswith("\n") else "mid-line"


def eval_results(run: Path, tag: str) -> tuple[list[ExecResult], dict[str, str], dict[str, str]]:
    """The evaluation verdicts of ``tag`` (before/after) and, where the run kept its candidates, each
    candidate's finish reason and :func:`ending`."""
    results, finish, endings = [], {}, {}
    for path in sorted((run / "eval").glob(f"{tag}_seed*.jsonl")):
        results += read_jsonl(path, ExecResult.from_dict)
    for path in sorted((run / "eval").glob(f"{tag}_candidates_seed*.jsonl")):
        for c in read_jsonl(path, Candidate.from_dict):
            finish[c.candidate_id] = c.metadata.get("finish_reason", "")
            endings[c.candidate_id] = ending(c.metadata["raw"]) if "raw" in c.metadata else "unchanged"
    return results, finish, endings


# -- token log-probs ----------------------------------------------------------------------------------------------
class Scorer:
    """Per-token log-probs of completions under one model, tokenized as TRL's DPO trainer tokenizes pairs."""

    def __init__(self, model_dir: str):
        import torch
        from transformers import AutoModelForCausalLM

        from codealign.train.models import load_tokenizer

        self.torch = torch
        self.tokenizer = load_tokenizer(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()

    def encode(self, prompt: str, completion: str) -> tuple[list[int], int]:
        """Token ids of prompt + completion + EOS and the index of the first completion token."""
        tok = self.tokenizer
        text = format_prompt(prompt, tok)
        prompt_ids = tok(text)["input_ids"]
        ids = tok(text + completion + tok.eos_token)["input_ids"]
        start = 0
        while start < min(len(prompt_ids), len(ids)) and prompt_ids[start] == ids[start]:
            start += 1
        return ids, start

    def completion_logps(self, ids: list[int], start: int) -> list[float]:
        """log p(ids[i] | ids[:i]) for every completion position ``i >= start``."""
        return self._logps(ids, start)[0]

    def _logps(self, ids: list[int], start: int, other: int | None = None) -> tuple[list[float], list[float]]:
        torch = self.torch
        with torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
            table = torch.log_softmax(logits, dim=-1)[start - 1:]
        taken = table.gather(1, torch.tensor(ids[start:]).unsqueeze(1)).squeeze(1).tolist()
        return taken, (table[:, other].tolist() if other is not None else [])

    def early_close(self, ids: list[int], start: int) -> float:
        """The probability of closing the module early along a text: of writing ``endmodule`` at a line start
        that still has code after it, ``1 - prod(1 - p(endmodule | text so far))`` over the completion's
        positions that follow a line break and precede its last code token before its last ``endmodule``."""
        comp = ids[start:]
        _, logps = self._logps(ids, start, self.endmodule_id)
        stay = 1.0
        for i in range(1, self.body_end(comp)):
            if "\n" in self.tokenizer.decode([comp[i - 1]]):
                stay *= 1.0 - math.exp(logps[i])
        return 1.0 - stay

    @property
    def endmodule_id(self) -> int:
        return self.tokenizer.convert_tokens_to_ids("endmodule")

    def body_end(self, comp: list[int]) -> int:
        """The index after the last code token before a completion's last ``endmodule``: the tokens from there
        on are the module's ending (blank lines, ``endmodule``, EOS)."""
        last = max((i for i, t in enumerate(comp) if t == self.endmodule_id), default=len(comp))
        return 1 + max((i for i in range(last) if self.tokenizer.decode([comp[i]]).strip()), default=-1)

    def token_class(self, token_id: int) -> str:
        if token_id == self.tokenizer.eos_token_id:
            return "<eos>"
        text = self.tokenizer.decode([token_id]).strip()
        if not text:
            return "whitespace"
        return text if text in SYNTAX else "other"


class Delta:
    """Mean per-token log-prob change (policy - reference) and the reference's mean log-prob, per key."""

    def __init__(self):
        self.sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])

    def add(self, key: str, ref: float, pol: float) -> None:
        s = self.sums[key]
        s[0] += pol - ref
        s[1] += ref
        s[2] += 1

    def table(self) -> dict[str, dict[str, float]]:
        return {k: {"tokens": n, "ref_logp": r / n, "delta": d / n} for k, (d, r, n) in self.sums.items() if n}


# -- the measurements ------------------------------------------------------------------------------------------
def _se(values: list[float]) -> float:
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0


def closing(code: str, domain) -> str:
    """How a sample's module was closed: with a ``begin``/``case`` block still open, in the middle of a
    statement (its last line does not end like a complete one), or after complete code."""
    if "unbalanced_blocks" in domain.extract(code).issues:
        return "open block"
    body = code[: code.rfind("endmodule")].rstrip()
    last = body.splitlines()[-1].strip() if body else ""
    if last.endswith((";", "end", "endcase", ")", "*/")) or last.startswith("//"):
        return "complete"
    return "open statement"


def eval_summary(run: Path, tag: str, scorer: Scorer) -> dict:
    results, finish, endings = eval_results(run, tag)
    marker = _marker(run, f"eval_{tag}")
    domain = get_domain("verilog")
    compile_errors = [r for r in results if r.verdict is Verdict.COMPILE_ERROR]
    lengths = [len(scorer.tokenizer(r.completion)["input_ids"]) for r in results]
    issues = Counter(i.split(":")[0] for r in compile_errors for i in domain.extract(r.completion).issues)
    out = {
        "samples": len(results),
        "pass@1": marker.get("pass@1"), "se": marker.get("se"),
        "compile_error_rate": len(compile_errors) / max(1, len(results)),
        "verdicts": dict(Counter(r.verdict.value for r in results)),
        "compile_error_classes": dict(Counter(r.details.get("failure", "?") for r in compile_errors).most_common()),
        "compile_error_issues": dict(issues.most_common()),
        "mean_tokens": statistics.mean(lengths) if lengths else 0.0,
        "truncation_rate": marker.get("truncation_rate"),
        "per_task": marker.get("per_task", {}),
    }
    closes = [closing(r.completion, domain) for r in results]
    out["closing"] = {kind: {"samples": closes.count(kind), "compile_errors": sum(
        r.verdict is Verdict.COMPILE_ERROR for r, k in zip(results, closes) if k == kind)}
        for kind in ("complete", "open block", "open statement")}
    if endings:
        kinds = [endings.get(r.candidate_id, "?") for r in results]
        out["endings"] = {kind: {"samples": kinds.count(kind), "compile_error_rate": sum(
            r.verdict is Verdict.COMPILE_ERROR for r, k in zip(results, kinds) if k == kind) / kinds.count(kind)}
            for kind in sorted(set(kinds))}
    if finish:
        reasons = [finish.get(r.candidate_id, "?") for r in results]
        out["finish_reasons"] = dict(Counter(reasons))
        out["compile_error_rate_by_finish"] = {
            reason: sum(r.verdict is Verdict.COMPILE_ERROR for r, f in zip(results, reasons) if f == reason)
            / reasons.count(reason) for reason in set(reasons)}
    return out


def pair_summary(pairs: list[Pair], ref: Scorer, pol: Scorer) -> dict:
    """Pair composition and lengths, and the log-prob change by region of chosen and rejected."""
    regions = {"chosen": Delta(), "rejected": Delta()}
    classes = Delta()
    prefixes, suffixes, fractions, len_c, len_r, sums_c, sums_r = [], [], [], [], [], [], []
    for p in pairs:
        (ids_c, start_c), (ids_r, start_r) = ref.encode(p.prompt, p.chosen), ref.encode(p.prompt, p.rejected)
        comp_c, comp_r = ids_c[start_c:], ids_r[start_r:]
        prefix, suffix = edit_span(comp_c, comp_r)
        prefixes.append(prefix)
        suffixes.append(suffix)
        fractions.append(prefix / len(comp_c))
        len_c.append(len(comp_c))
        len_r.append(len(comp_r))
        for side, ids, start, comp in (("chosen", ids_c, start_c, comp_c), ("rejected", ids_r, start_r, comp_r)):
            before, after = ref.completion_logps(ids, start), pol.completion_logps(ids, start)
            (sums_c if side == "chosen" else sums_r).append(sum(after) - sum(before))
            for i, (a, b) in enumerate(zip(before, after)):
                region = "prefix" if i < prefix else ("suffix" if i >= len(comp) - suffix else "differing")
                regions[side].add(region, a, b)
                if side == "chosen":
                    classes.add(f"{region}:{ref.token_class(comp[i])}", a, b)
    combos = Counter(f"{p.metadata.get('chosen_verdict')}>{p.metadata.get('rejected_verdict')}" for p in pairs)
    return {
        "pairs": len(pairs),
        "verdicts": dict(combos.most_common()),
        "chosen_tokens_mean": statistics.mean(len_c), "rejected_tokens_mean": statistics.mean(len_r),
        "rejected_longer": sum(r > c for c, r in zip(len_c, len_r)) / len(pairs),
        "shared_prefix_tokens_median": statistics.median(prefixes),
        "shared_prefix_tokens_mean": statistics.mean(prefixes),
        "shared_prefix_fraction_of_chosen_mean": statistics.mean(fractions),
        "shared_suffix_tokens_mean": statistics.mean(suffixes),
        "seq_logp_change_chosen_mean": statistics.mean(sums_c),
        "seq_logp_change_rejected_mean": statistics.mean(sums_r),
        "regions": {side: d.table() for side, d in regions.items()},
        "chosen_token_classes": classes.table(),
    }


def sample_displacement(results: list[ExecResult], tasks: dict[str, Task], ref: Scorer, pol: Scorer) -> dict:
    """Log-prob change on the tokens of fixed texts (e.g. the SFT policy's evaluation samples): per token
    class (``ending:`` marks the tokens after the last code token), per verdict on the body tokens (the
    ending left out), and the mean probability of closing the module early along them
    (:meth:`Scorer.early_close`), reference vs policy."""
    classes, verdicts = Delta(), Delta()
    early: dict[str, list[float]] = {"reference": [], "policy": []}
    for r in results:
        ids, start = ref.encode(tasks[r.task_id].prompt, r.completion)
        before, after = ref.completion_logps(ids, start), pol.completion_logps(ids, start)
        body = ref.body_end(ids[start:])
        for i, (token, a, b) in enumerate(zip(ids[start:], before, after)):
            classes.add(ref.token_class(token) if i < body else f"ending:{ref.token_class(token)}", a, b)
            if i < body:
                verdicts.add(r.verdict.value, a, b)
        early["reference"].append(ref.early_close(ids, start))
        early["policy"].append(pol.early_close(ids, start))
    return {"token_classes": classes.table(), "verdicts": verdicts.table(),
            "early_close": {k: statistics.mean(v) for k, v in early.items()}}


def reference_displacement(tasks: list[Task], ref: Scorer, pol: Scorer) -> dict:
    """:func:`sample_displacement` on the held-out tasks' reference solutions."""
    domain = get_domain("verilog")
    rows = [ExecResult(task_id=t.task_id, candidate_id=str(i), verdict=Verdict.PASS, completion=text)
            for i, t in enumerate(tasks) if (text := domain.reference_solution(t))]
    return sample_displacement(rows, {t.task_id: t for t in tasks}, ref, pol)


def analyse(run: Path, details: bool) -> dict:
    sft, dpo = _marker(run, "sft").get("model"), _marker(run, "dpo").get("model")
    if not sft or not dpo:
        raise SystemExit(f"{run}: no finished sft and dpo stages")
    ref, pol = Scorer(sft), Scorer(dpo)
    tasks = {t.task_id: t for t in read_jsonl(run / "eval_tasks.jsonl", Task.from_dict)}
    out = {"run": str(run), "dpo": _dpo_settings(run), "sft_model": sft, "dpo_model": dpo,
           "before": eval_summary(run, "before", ref), "after": eval_summary(run, "after", ref)}
    before, after = out["before"]["per_task"], out["after"]["per_task"]
    diffs = [after[k] - before[k] for k in before if k in after]
    out["diff"], out["diff_se"] = (statistics.mean(diffs) if diffs else 0.0), _se(diffs)
    if details:
        out["pairs"] = pair_summary(read_jsonl(run / "pairs.jsonl", Pair.from_dict), ref, pol)
        out["eval_before_samples"] = sample_displacement(eval_results(run, "before")[0], tasks, ref, pol)
        out["heldout_references"] = reference_displacement(list(tasks.values()), ref, pol)
    return out


# -- printing ---------------------------------------------------------------------------------------------------
def _delta_rows(table: dict[str, dict[str, float]], keys: list[str] | None = None) -> list[str]:
    keys = keys or sorted(table, key=lambda k: -table[k]["tokens"])
    return [f"| {k} | {table[k]['tokens']} | {table[k]['ref_logp']:.3f} | {table[k]['delta']:+.3f} |"
            for k in keys if k in table]


def print_report(runs: list[dict]) -> None:
    print("| run | DPO settings | pass@1 before | after | diff ± SE | compile err before → after "
          "| truncated before → after | tokens before → after |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        b, a = r["before"], r["after"]
        settings = ", ".join(f"{k}={v}" for k, v in r["dpo"].items() if k not in ("loss_type", "max_steps"))
        print(f"| {r['run']} | {settings} | {b['pass@1']:.3f} ± {b['se']:.3f} | {a['pass@1']:.3f} ± {a['se']:.3f} "
              f"| {r['diff']:+.3f} ± {r['diff_se']:.3f} | {b['compile_error_rate']:.3f} → {a['compile_error_rate']:.3f} "
              f"| {b['truncation_rate']:.3f} → {a['truncation_rate']:.3f} "
              f"| {b['mean_tokens']:.0f} → {a['mean_tokens']:.0f} |")
    for r in runs:
        print(f"\n## {r['run']}")
        for tag in ("before", "after"):
            e = r[tag]
            print(f"{tag}: verdicts {e['verdicts']}; compile-error classes {e['compile_error_classes']}; "
                  f"extraction issues of compile errors {e['compile_error_issues']}")
            print("  module closed: " + "; ".join(
                f"{k} {v['samples']} ({v['compile_errors']} compile errors)" for k, v in e["closing"].items()))
            if "endings" in e:
                print("  where the sample's own text stops: " + "; ".join(
                    f"{k} {v['samples']} (compile errors {v['compile_error_rate']:.3f})" for k, v in e["endings"].items()))
            if "finish_reasons" in e:
                print(f"  finish reasons {e['finish_reasons']}; compile-error rate by finish reason "
                      + json.dumps({k: round(v, 3) for k, v in e["compile_error_rate_by_finish"].items()}))
        if "pairs" not in r:
            continue
        p = r["pairs"]
        print(f"\npairs: {p['pairs']} ({p['verdicts']}); tokens chosen {p['chosen_tokens_mean']:.1f}, rejected "
              f"{p['rejected_tokens_mean']:.1f} (rejected longer in {p['rejected_longer']:.2f}); shared prefix "
              f"median {p['shared_prefix_tokens_median']} mean {p['shared_prefix_tokens_mean']:.1f} tokens "
              f"({p['shared_prefix_fraction_of_chosen_mean']:.2f} of chosen), shared suffix mean "
              f"{p['shared_suffix_tokens_mean']:.1f}; summed log-prob change: chosen "
              f"{p['seq_logp_change_chosen_mean']:+.2f}, rejected {p['seq_logp_change_rejected_mean']:+.2f} nats")
        print("\n| pair tokens (side:region) | tokens | ref log-prob/token | change/token |\n|---|---|---|---|")
        for side, table in p["regions"].items():
            print("\n".join(_delta_rows({f"{side}:{k}": v for k, v in table.items()},
                                        [f"{side}:{k}" for k in ("prefix", "differing", "suffix")])))
        print("\n| chosen token (region:class) | tokens | ref log-prob/token | change/token |\n|---|---|---|---|")
        print("\n".join(_delta_rows(p["chosen_token_classes"])))
        for name in ("eval_before_samples", "heldout_references"):
            early = r[name]["early_close"]
            print(f"\nP(closing the module early), mean over {name}: SFT {early['reference']:.4f}, "
                  f"DPO {early['policy']:.4f}")
        for name in ("eval_before_samples", "heldout_references"):
            table = r[name]["token_classes"]
            print(f"\n| {name} token class | tokens | ref log-prob/token | change/token |\n|---|---|---|---|")
            print("\n".join(_delta_rows(table)))
        print("\n| eval_before_samples by verdict (body tokens) | tokens | ref log-prob/token | change/token |\n|---|---|---|---|")
        print("\n".join(_delta_rows(r["eval_before_samples"]["verdicts"])))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished run directories (the first is the baseline)")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--summary-only", action="store_true",
                        help="only the before/after table (skip the log-prob analysis)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    runs = [analyse(Path(r), details=not args.summary_only) for r in args.runs]
    print_report(runs)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2, default=str))
    return runs


if __name__ == "__main__":
    main()
