"""Attacks on the ladder judge (issue 28), run over the bundled family tasks: how many pass before and after.

Three classes, each built by reading only what a task ships (its fixed traces and its reference program):

* ``scan_clock`` — ignores every input: a free-running timer counts scans and each output is a function of the
  scan number, copied from the fixed traces' expected rows;
* ``scan_clock_inputs`` — the same clock plus the current input values: each output is a lookup table of
  (scan number, input vector) read from the fixed traces;
* ``two_edits`` — two graph edits of the reference (:func:`~codealign.domains.ladder.edits.candidate_edits`
  applied twice) that the fixed traces accept although the exhaustive search of
  :func:`~codealign.domains.ladder.equivalence.compare_programs` shows they behave differently.

"before" judges each attack as b2987a3's judge did: on the task's fixed traces alone (the task's assets without
its ``reference``, the path b2987a3 took for every family task). "after" judges it with the shipped task: the
reference, the exhaustive search and the per-job drawn traces. The same attack programs are judged both ways.
It also judges every family reference on ``--draws`` different per-job seeds (it must PASS every one).

    .venv/bin/python benchmarks/ladder_attacks.py            # all bundled train + held-out tasks
    .venv/bin/python benchmarks/ladder_attacks.py --limit 20 # a quick look
    .venv/bin/python benchmarks/ladder_attacks.py --split train --start 80 --limit 80   # one part of three
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codealign.domains.ladder.edits import candidate_edits  # noqa: E402
from codealign.domains.ladder.equivalence import compare_programs  # noqa: E402
from codealign.domains.ladder.parser import parse_program  # noqa: E402
from codealign.domains.draws import draw_seed  # noqa: E402
from codealign.domains.ladder.scoring import DRAW_PURPOSE, score_candidate  # noqa: E402
from codealign.domains.ladder.assets import LadderTask  # noqa: E402
from codealign.domains.ladder.tasks import bundled_tasks  # noqa: E402
from codealign.types import Task  # noqa: E402

CLOCK = "Clk"


def _rows(task: Task):
    """(scan index, input vector as a tuple, expected outputs dict) of every scan of every fixed trace."""
    inputs = task.assets["inputs"]
    for trace in task.assets["traces"]:
        values = {name: False for name in inputs}
        scan = 0
        for step in trace["steps"]:
            values.update(step["inputs"])
            for _ in range(step["cycles"]):
                expected = dict(zip(trace["watch"], trace["expected"][scan]))
                yield scan, tuple(values[n] for n in inputs), expected
                scan += 1


def _table(task: Task, with_inputs: bool) -> dict[str, dict[tuple, bool]]:
    """Per output: key (scan, [inputs]) -> the value most traces expect there."""
    votes: dict[str, dict[tuple, list[bool]]] = {o: {} for o in task.assets["outputs"]}
    for scan, vector, expected in _rows(task):
        key = (scan, vector) if with_inputs else (scan,)
        for out, value in expected.items():
            votes[out].setdefault(key, []).append(value)
    return {o: {k: sum(v) * 2 >= len(v) for k, v in keys.items()} for o, keys in votes.items()}


def scan_clock(task: Task, with_inputs: bool = False) -> str:
    """A program whose outputs are a function of the scan number (and, ``with_inputs``, the current inputs)."""
    scan_ms = task.assets.get("scan_ms", 100)
    table = _table(task, with_inputs)
    last = max((k[0] for keys in table.values() for k in keys), default=0) + 1
    rungs = [f"TON({CLOCK}, PT={last * scan_ms}ms)"]
    for out, keys in table.items():
        branches = []
        for key, value in sorted(keys.items()):
            if not value:
                continue
            parts = [f"EQ({CLOCK}.ET, {key[0] * scan_ms})"]
            if with_inputs:
                parts += [f"{'NO' if v else 'NC'}({n})" for n, v in zip(task.assets["inputs"], key[1])]
            branches.append(" ".join(parts))
        body = f"[{' | '.join(branches)}]" if len(branches) > 1 else (branches[0] if branches else f"NC({CLOCK})")
        rungs.append(f"{body} OUT({out})")
    return "\n".join(rungs)


def two_edits(task: Task, judge_before) -> str | None:
    """The first program two graph edits away from the reference that the fixed traces accept and the
    exhaustive search proves different; None when there is none."""
    reference = parse_program(task.assets["reference"])
    rng = random.Random(task.task_id)
    seen = {reference.text()}
    for first in candidate_edits(reference, rng):
        for second in candidate_edits(first.program, rng):
            text = second.program.text()
            if text in seen:
                continue
            seen.add(text)
            if judge_before(text)["verdict"] != "PASS":
                continue
            eq = compare_programs(reference, second.program, inputs=task.assets["inputs"],
                                  outputs=task.assets["outputs"])
            if eq.method == "exhaustive" and not eq.equivalent:
                return text
    return None


def _before(task: Task) -> LadderTask:
    assets = {k: v for k, v in task.assets.items() if k != "reference"}
    return LadderTask.from_task(Task(task.task_id, task.domain, task.prompt, assets=assets))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="tasks per split (default: all)")
    parser.add_argument("--start", type=int, default=0, help="skip this many tasks of each split (to run parts)")
    parser.add_argument("--draws", type=int, default=20, help="per-job seeds each reference is judged on")
    parser.add_argument("--split", choices=("train", "heldout"), nargs="+", default=["train", "heldout"])
    args = parser.parse_args(argv)
    report: dict = {}
    for split in args.split:
        tasks = bundled_tasks(split)[args.start:][: args.limit]
        counts = {name: {"before": 0, "after": 0, "built": 0} for name in ("scan_clock", "scan_clock_inputs",
                                                                             "two_edits")}
        reference_fail, exhaustive = [], 0
        seconds = {"before": 0.0, "after": 0.0}
        for task in tasks:
            before, after = _before(task), LadderTask.from_task(task)

            def judge(which, text):
                start = time.perf_counter()
                if which == "before":
                    verdict = score_candidate(before, text, seed=0)  # the traces path draws nothing
                else:
                    verdict = score_candidate(after, text, seed=draw_seed(DRAW_PURPOSE, task, text))
                seconds[which] += time.perf_counter() - start
                return verdict["verdict"] == "PASS"

            attacks = {"scan_clock": scan_clock(task), "scan_clock_inputs": scan_clock(task, with_inputs=True),
                       "two_edits": two_edits(task, lambda text: score_candidate(before, text, seed=0))}
            for name, text in attacks.items():
                if text is None:
                    continue
                counts[name]["built"] += 1
                for which in ("before", "after"):
                    counts[name][which] += judge(which, text)
            rng = random.Random(task.task_id)
            solution = task.metadata["solution"]
            verdicts = [score_candidate(after, solution, seed=rng.getrandbits(63)) for _ in range(args.draws)]
            if any(v["verdict"] != "PASS" for v in verdicts):
                reference_fail.append(task.task_id)
            exhaustive += verdicts[0]["details"]["method"] == "exhaustive"
        judged = sum(c["built"] for c in counts.values())
        report[split] = {"tasks": len(tasks), "attacks": counts, "search_exhaustive_for_reference": exhaustive,
                         "ms_per_attack_judged": {k: round(1000 * v / max(1, judged), 2) for k, v in seconds.items()},
                         "references_failing_any_draw": reference_fail, "reference_draws": args.draws}
        for name, c in counts.items():
            print(f"{split:8s} {name:18s} built {c['built']:3d}/{len(tasks)}  pass before {c['before']:3d}  "
                  f"pass after {c['after']:3d}", flush=True)
        print(f"{split:8s} references PASS on all {args.draws} draws: {len(tasks) - len(reference_fail)}/{len(tasks)}"
              f"; equivalence search exhaustive on {exhaustive}/{len(tasks)}; judge ms per attack: "
              f"{report[split]['ms_per_attack_judged']}", flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
