"""Several candidates of VerilogEval tasks judged in one simulation, each verdict the one it gets alone.

On the replay path (VerilogEval format, Icarus, a task whose recording replays), the candidates of one task
share the recorded stimulus, so one harness can drive them all; candidates of several tasks (with equal limits:
the executor packs tasks that have fewer candidates than :attr:`~codealign.domains.verilog.VerilogDomain.batch_size`)
get one harness per task in the same simulation. :func:`evaluate_batch`:

1. asks the warm checker (:mod:`codealign.domains.verilog.allowlist`) for each candidate's check, as
   :meth:`~codealign.domains.verilog.VerilogDomain.evaluate` does, plus its batch form
   (:func:`~codealign.domains.verilog.allowlist.batch_form`): every module the checked text defines renamed
   to ``NAME_<member's random suffix>`` on slang's tree and tokens, inside the sandboxed worker. A member is
   a candidate whose check is clean and whose batch form exists: it calls no system function whose state
   the simulation shares (:data:`~codealign.domains.verilog.allowlist.SHARED_STATE_NAMES`: ``$random`` in
   any form, ``$urandom``, ``$urandom_range``, ``$dist_uniform``, ``$dist_normal``, ``$dist_exponential``,
   ``$dist_poisson``, ``$dist_chi_square``, ``$dist_t``, ``$dist_erlang``; Icarus keeps one ``$random``
   generator for every module) and defines nothing at the top level but modules;
2. has the warm checker elaborate the members' renamed texts with slang as one design (no member names
   another's module: the suffixes are random and unseen), or forms no batch;
3. runs one job: one build (``iverilog``: a trusted ```resetall`` before each member, so each starts from the
   default time scale as it does alone, first on the command line), every trusted file but the simulation
   deleted, one simulation with fd 3 closed. No member is compiled alone (the second wall of the alone job):
   the build holds the members' renamed texts and a harness whose every name is random, nothing else, so a
   member that fails to compile alone fails the build, and a failed build has every member judged alone,
   alone compile first. Each task's harness
   (:func:`~codealign.domains.verilog.reference.replay_harness`) gives each of its members its own input and
   output nets and its own random tag; with several tasks, a harness that is done sets its flag instead of
   ending the simulation, and a trusted module ends it once every harness is done;
4. judges each member on the host from its own tagged rows only, compared against the recording exactly as
   alone, through the same judge.

**What a batch shares, and why it cannot move a verdict.** One process and one simulation time. Members
have no net, variable, module name or tag in common, and the allowlist keeps every name inside its design,
so no member can read or drive another's signals or print a line that counts as another's row (it cannot
learn a tag). The stimulus reaches each member at the same simulation times as alone, and the harness samples
all members at the instant it samples one alone (``#0`` after the inputs: the other members' processes add
events to that time step but not between a member's and its sample, as one member has nothing to react to
another's). Time precision is the finest any member declares; each module still rounds its own delays to
its own precision, as alone. Several tasks' harnesses add events to the same time steps, which no member reacts
to; a member whose harness is done keeps running until the last one is, but no row of it is printed any more
(its harness no longer samples). What could differ is how the run ends; so **any disturbance** (the elaboration
fails, the build fails or its log shows a coerced ``inout``, the simulator exits
non-zero or reports an unknown system task, the job ends at a time, memory or output limit or any other way
than its end, a member with missing, extra or malformed rows) leaves every member to be judged alone
(None), and so does every candidate that is not a member. Limits are the task's for the whole batch: a
member that would hit one alone makes the batch hit it too, so a limit verdict is only ever given alone.

Not kept: the design's own untagged prints (they cannot be attributed to one member; a batched verdict's
stdout holds the VerilogEval-worded hints and summary only), and the alone job's stderr. ``details["batch"]``
gives the batch's size; ``details["phase_s"]`` the member's check and an equal share of the batch's
reference recording (0 once stored), compile and simulate seconds.
"""

from __future__ import annotations

import secrets
import shlex
import shutil
import time
from dataclasses import dataclass
from typing import Sequence

from codealign.domains.verilog.jobs import (_COERCED, _COMPILE_CLASSES, _SEND, VerilogJob, _checker_stages,
                                            _job_phases, _renamed_reference, fill_script, parse_stages,
                                            tagged_lines)
from codealign.sandbox.job import JobResult, JobStatus
from codealign.types import Candidate, ExecResult, Task

IDENTICAL = ("failure", "stage", "sim_returncode", "mismatches", "samples", "outputs", "constructs", "lines")
"""The ``details`` entries a batched verdict shares with the alone one (beside verdict and score)."""


def comparable(result: ExecResult) -> tuple:
    """What of a verdict must not depend on batching: verdict, score and the :data:`IDENTICAL` details."""
    return (result.verdict.value, result.score, *(result.details.get(k) for k in IDENTICAL))


_SCRIPT = _SEND + r"""t0=$EPOCHREALTIME
{IV} -g2012 -o trusted/sim {SOURCES} > build.log 2>&1; rc=$?
send build $rc build.log
[ $rc -eq 0 ] || exit 0
find trusted -mindepth 1 -maxdepth 1 ! -name sim -exec rm -rf {} +
t2=$EPOCHREALTIME
{VVP} -n trusted/sim 3>&-; rc=$?
printf '@sim %d 0\n' $rc >&3
echo "$t0 $t0 $t2 $EPOCHREALTIME" > times; send times 0 times
"""


@dataclass
class _Member:
    index: int
    task: Task
    candidate: Candidate
    tag: str
    text: str
    top: str
    stages: dict
    check_s: float
    group: "_Group | None" = None


@dataclass
class _Group:
    """One task's members, driven by one harness."""

    recording: object
    recorded_s: float
    members: list
    suffix: str


def evaluate_batch(domain, tasks: Sequence[Task], candidates: Sequence[Candidate],
                   backend) -> list[ExecResult | None]:
    """One entry per candidate (``tasks[k]`` is ``candidates[k]``'s task): its verdict from one shared
    simulation, identical to judging it alone, or None where it must be judged alone (see the module
    docstring)."""
    results: list[ExecResult | None] = [None] * len(candidates)
    if (domain.simulator != "iverilog" or domain.lint or not hasattr(backend, "start_worker")
            or domain.check_toolchain()):
        return results
    limits = domain.limits_for(tasks[0])
    if any(domain.limits_for(task) != limits for task in tasks):
        return results
    by_task: dict[str, list[int]] = {}
    for k, task in enumerate(tasks):
        by_task.setdefault(task.task_id, []).append(k)
    groups = []
    for indices in by_task.values():
        task = tasks[indices[0]]
        if task.assets.get("format", "verilogeval") != "verilogeval":
            continue
        recording, recorded_s = domain._recording(task, backend)
        if isinstance(recording, str) or recording.fallback:
            continue
        group = _Group(recording, recorded_s, [], secrets.token_hex(6))
        group.members = _members(domain, task, [(k, candidates[k]) for k in indices], backend, results)
        for member in group.members:
            member.group = group
        if group.members:
            groups.append(group)
    members = [m for g in groups for m in g.members]
    if len(members) < 2:
        return results
    elaborated = domain._checker(backend).request(
        {"elaborate": {f"cand{m.index}.i": m.text for m in members}}, limits.wall_s)
    if not elaborated.ok or elaborated.response.get("error") != "":
        return results
    from codealign.domains.verilog.reference import replay_harness

    files: dict[str, str | bytes] = {f"cand{m.index}.i": m.text.encode("latin-1") for m in members}
    harnesses = [replay_harness(g.recording, [(m.top, m.tag) for m in g.members], g.suffix, finish=len(groups) == 1)
                 for g in groups]
    if len(groups) > 1:
        # the simulation ends when every harness is done, not when the first is (a later member loses no sample)
        waits = " ".join(f"wait (replay_{g.suffix}.done_{g.suffix} === 1'b1);" for g in groups)
        harnesses[-1] += f"module join_{secrets.token_hex(6)};\ninitial begin {waits} $finish; end\nendmodule\n"
    for j, text in enumerate(harnesses):
        files[f"trusted/harness{j}.sv"] = text
    files["trusted/reset.v"] = "`resetall\n"
    iv, vvp = shutil.which("iverilog") or "iverilog", shutil.which("vvp") or "vvp"
    script = fill_script(_SCRIPT, {
        "IV": shlex.quote(iv), "VVP": shlex.quote(vvp),
        "SOURCES": " ".join([f"trusted/reset.v cand{m.index}.i" for m in members]
                            + [f"trusted/harness{j}.sv" for j in range(len(groups))])})
    outcome = backend.run(VerilogJob(script=script, files=files, limits=limits, binds=domain.sandbox_binds()))
    stages = parse_stages(outcome.trusted)
    rows = _rows(outcome, stages, members)
    if rows is None:
        return results
    shared = {k: v / len(members) for k, v in _job_phases(stages).items()}
    for member, lines in zip(members, rows):
        start = time.perf_counter()
        group = member.group
        alone_like = JobResult(JobStatus.EXITED, 0, stdout="\n".join(member.tag + ln for ln in lines).encode(),
                               backend=outcome.backend)
        job = VerilogJob(script=":", limits=limits, tag=member.tag, fmt="verilogeval")
        member_stages = {**member.stages, "alone": (0, "", True), "build": (0, "", True), "sim": (0, "", True),
                         "trace": (0, group.recording.encoded_trace, True)}
        result = domain._judge(member.task, member.candidate, job, alone_like, member_stages, {})
        phases = {"check": member.check_s, "reference": group.recorded_s / len(group.members), **shared,
                  "compare": time.perf_counter() - start}
        result.details["phase_s"] = {k: round(v, 6) for k, v in phases.items()}
        result.details["batch"] = len(members)
        result.details.setdefault("backend", outcome.backend)
        result.wall_s, result.cpu_s = outcome.wall_s / len(members), outcome.cpu_s / len(members)
        results[member.index] = result
    return results


def _members(domain, task: Task, candidates: Sequence[tuple[int, Candidate]], backend,
             results: list) -> list[_Member]:
    """The candidates (``(index, candidate)``) of ``task`` that may share the simulation, each checked by the
    warm checker with its batch form; a candidate whose verdict needs no job (empty, too large) gets it in
    ``results`` as alone."""
    limits = domain.limits_for(task)
    members = []
    for k, candidate in candidates:
        data = domain._design_bytes(task, candidate)
        if isinstance(data, ExecResult):
            results[k] = data
            continue
        # the check's options as the alone job builds them (from its testbench, the reference renamed per job)
        options = domain._check_options(_renamed_reference(task, secrets.token_hex(6))[1], task.assets)
        suffix = secrets.token_hex(6)
        reply = domain._checker(backend).request({"source": data.decode("latin-1"), **options,
                                                  "batch_suffix": suffix}, limits.wall_s)
        stages = _checker_stages(reply)
        if not isinstance(stages, dict) or stages["allow"][0] != 0:
            continue
        form = reply.response.get("batch")
        if not isinstance(form, dict) or not isinstance(form.get("text"), str):
            continue
        top = task.assets["top_module"]
        if top not in form.get("modules", ()):
            continue
        members.append(_Member(k, task, candidate, f"<@{secrets.token_hex(8)}@>", form["text"], f"{top}_{suffix}",
                               stages, reply.wall_s))
    return members


def _rows(outcome: JobResult, stages: dict, members: list[_Member]) -> list[list[str]] | None:
    """Each member's tagged rows (tag removed), or None when anything about the run was not clean."""
    from codealign.domains.verilog.replay import design_samples

    build = stages.get("build", (1, "", False))
    if (outcome.status is not JobStatus.EXITED or build[0] != 0 or _COERCED.search(build[1])
            or stages.get("sim", (1,))[0] != 0 or _COMPILE_CLASSES[-1][1].search(outcome.text("stderr"))):
        return None
    output = outcome.text("stdout")
    rows = []
    for member in members:
        lines = tagged_lines(output, member.tag)
        if design_samples(member.group.recording.trace, lines) is None:
            return None
        rows.append(lines)
    return rows
