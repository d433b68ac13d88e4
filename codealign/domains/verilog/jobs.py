"""The Verilog judge's pieces below the domain class: job scripts (one template each, filled in one pass), the
stage records they send on the trusted channel and their readers, the testbench rewrites (output tags, the RTLLM
X-rule shadow), the replay record files and the allowlist's verdicts. :class:`~codealign.domains.verilog.VerilogDomain`
and the modules that build its jobs (:mod:`~codealign.domains.verilog.reference`,
:mod:`~codealign.domains.verilog.batch`, :mod:`~codealign.domains.verilog.cocotb`) all import them from here, so
none of them imports the package. The threat model is the package docstring's."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from codealign.sandbox.job import Job, JobStatus
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, ExecResult, Task, Verdict

FORMATS = ("verilogeval", "rtllm")
_ALLOWLIST = str(Path(__file__).with_name("allowlist.py"))
_REPLAY = str(Path(__file__).with_name("replay.py"))
SIMULATORS = ("iverilog", "verilator")

_MODULE_DEF = re.compile(r"\b(?:module|macromodule)\s+([A-Za-z_][A-Za-z0-9_$]*)")
_DUMP = re.compile(r'\$dump\w*\s*(?:\((?:[^;()"]|"[^"]*"|\([^()]*\))*\))?\s*;')
_DISPLAY = re.compile(r"(\$(?:display|write|strobe|monitor)[bho]?\s*\(\s*)(?=[^\s)])")
_MISMATCH = re.compile(r"Mismatches:\s*(\d+)\s+in\s+(\d+)\s+samples")
_X_RULE = re.compile(r"X-rule samples: (\d+)$")
_RTLLM_COUNTS = re.compile(r"(\d+)\s*/\s*(\d+)\s*failures", re.I)
_RTLLM_FAIL = re.compile(r"\b(error|fail(ed|ure|ures)?)\b", re.I)
_STAGE = re.compile(rb"@(\w+) (-?\d+) (\d+)\n")
# Icarus makes an input port that its module drives an inout, so the drive reaches the instantiating net
_COERCED = re.compile(r"warning: input port (\S+) is coerced to inout")
_LOG_CHARS = 4000
_X_RULE_BITS = 4096  # Icarus cannot size a declaration by $bits of a hierarchical name
_SIM_OUT_CHARS = 16000

# (failure class, pattern in the compiler log), first match wins, as in VerilogEval's analyzer
_COMPILE_CLASSES = (
    ("syntax_error", re.compile(r"syntax error", re.I)),
    ("explicit_cast_required", re.compile(r"requires an explicit cast")),
    ("sized_constant_zero", re.compile(r"Sized numeric constant must have a size greater than zero")),
    ("declared_as_wire", re.compile(r"declared here as wire")),
    ("module_name_clash", re.compile(r"was already declared|has already been declared")),
    ("unknown_module", re.compile(r"Unknown module type")),
    ("unbound_clk", re.compile(r"Unable to bind wire/reg/memory `clk'")),
    ("unbound_name", re.compile(r"Unable to bind|Could not find variable|Unable to bind parameter")),
    ("zero_delay_loop", re.compile(r"does not have any delay")),
    ("unknown_system_task", re.compile(r"is not defined by any module")),
)

# Job scripts are filled by :func:`fill_script` (placeholders ``{NAME}``; values are absolute tool paths and
# quoted arguments). They run with the job dir as cwd and hold no per-job secret.
_SEND = r"""
send() { printf '@%s %d %d\n' "$1" "$2" "$(wc -c < "$3")" >&3; cat "$3" >&3; }
"""
# The allowlist check as a job step (the cold path, cocotb); the warm path gets its report from a worker.
_ALLOW_STEP = r"""
chmod 000 trusted
{PY} -I -B {ALLOW} --iverilog {IV} {CHECKS} cand.sv cand.i > allow.json 2> allow.log 3>&-; allowed=$?
send allow $allowed allow.json
[ $allowed -eq 0 ] || [ $allowed -eq 2 ] || { send allowlog $allowed allow.log; exit 0; }
"""
# The second wall: the checked text compiled alone, while the trusted folder is unreadable.
_ALONE_STEP = r"""
t0=$EPOCHREALTIME
{IV} -g2012 -o alone.vvp cand.i > alone.log 2>&1; rc=$?
send alone $rc alone.log
[ $rc -eq 0 ] && [ $allowed -eq 0 ] || exit 0
rm -f alone.vvp
"""
# The design checks every Verilog job starts with (the cocotb harness too): allowlist, then compiled alone.
CHECK_STEPS = _SEND + _ALLOW_STEP + _ALONE_STEP
# What follows the checks: build with the chosen sources, delete every trusted source, simulate with fd 3
# closed; the phase times (bash's clock, no process started) come last on the trusted channel.
_SIM_STEPS = r"""send build $rc build.log
[ $rc -eq 0 ] || exit 0
find trusted -mindepth 1 -maxdepth 1 ! -name sim ! -name obj -exec rm -rf {} +
{CLEAN}
t2=$EPOCHREALTIME
{RUN} 3>&-; rc=$?
printf '@sim %d 0\n' $rc >&3
echo "$t0 $t1 $t2 $EPOCHREALTIME" > times; send times 0 times
"""
_RUN_STEPS = r"""{LINT}
chmod 700 trusted
{SOURCES}
t1=$EPOCHREALTIME
{BUILD} > build.log 2>&1; rc=$?
""" + _SIM_STEPS
_SCRIPT = CHECK_STEPS + _RUN_STEPS
# The warm path's job: the worker's check already gave ``allowed`` and ``cand.i``.
_CHECKED_SCRIPT = _SEND + "chmod 000 trusted\nallowed={ALLOWED}\n" + _ALONE_STEP + _RUN_STEPS
# The warm path's job on the replay path, for a clean check: the build holds the checked text and a harness
# whose every name is random, nothing else, so it fails whenever the text alone fails to compile; the alone
# build runs only then, to give the failure class it gives first in the other jobs.
REPLAY_SCRIPT = _SEND + r"""chmod 000 trusted
{LINT}
chmod 700 trusted
{SOURCES}
t0=$EPOCHREALTIME; t1=$t0
{BUILD} > build.log 2>&1; rc=$?
if [ $rc -ne 0 ]; then
  chmod 000 trusted
  {IV} -g2012 -o alone.vvp cand.i > alone.log 2>&1; alone=$?
  send alone $alone alone.log
  [ $alone -eq 0 ] || exit 0
fi
""" + _SIM_STEPS
# Record and replay (see replay.py): phase 1 runs the testbench with the reference and the oracle only; the
# candidate then runs with the generated harness, or with the testbench where phase 1 cannot be replayed.
RECORD_STEPS = r"""
(cd trusted && {IV} -g2012 -o rec.vvp rec_tb.sv ref.sv oracle.sv && {VVP} -n rec.vvp) > trusted/rec.log 2>&1 3>&-
{PY} -I -B {REPLAY} trusted/replay.json trusted/rec.log trusted/oracle.sv trusted/harness.sv trusted/top {PROGRAM} \
  > trusted/trace 3>&-; replay=$?
send trace $replay trusted/trace
"""
_RECORD = RECORD_STEPS + r"""
if [ $replay -eq 0 ]; then srcs="cand.i trusted/harness.sv"; top=$(cat trusted/top)
else srcs={SRCS}; top={TBTOP}; fi
"""
_PLACEHOLDER = re.compile(r"\{([A-Z][A-Z_]*)\}")


def fill_script(template: str, values: dict[str, str]) -> str:
    """``template`` with every ``{NAME}`` replaced by ``values[NAME]`` in one pass (a value is never read
    for placeholders); KeyError names a placeholder without a value."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


_LINT = (
    "{VL} --lint-only -Wall -Wno-DECLFILENAME -Wno-EOFNEWLINE -Wno-MULTITOP --top-module {TOP} cand.i "
    "> lint.log 2>&1; send lint $? lint.log"
)


@dataclass
class VerilogJob(Job):
    """A :class:`Job` plus what the judge needs to read it: the output tag and the testbench format."""

    tag: str = ""
    fmt: str = "verilogeval"




# -- pieces with one job each (module level so tests and benchmarks can use them) ------------------------------
def reference_solution(task: Task) -> str:
    """The task's reference with its module renamed to the one the testbench instantiates
    (``sed 's/\\bmodule RefModule\\b/module TopModule/'``, as the benchmarks' oracle runs do)."""
    name = task.assets.get("ref_module") or task.assets.get("ref_top_module") or "RefModule"
    top = task.assets.get("top_module", "TopModule")
    return re.sub(rf"\bmodule\s+{re.escape(name)}\b", f"module {top}", task.assets["ref"])


def without_dumps(testbench: str) -> str:
    """The testbench with every waveform-dump call (``$dumpfile``, ``$dumpvars``, ``$dumpoff``...) made an empty
    block: no verdict reads a waveform, and writing one costs simulation time and the job's disk."""
    return _DUMP.sub("begin end", testbench)


def tag_displays(testbench: str, tag: str) -> str:
    """The testbench with ``tag`` at the start of every ``$display``/``$write``/``$strobe``/``$monitor`` it
    prints (inside the format string when the first argument is a string literal)."""

    def add(match: re.Match) -> str:
        head = match.group(1)
        rest = testbench[match.end():match.end() + 1]
        return f'{head}"{tag}' if rest == '"' else f'{head}"{tag}", '

    out, pos = [], 0
    for match in _DISPLAY.finditer(testbench):
        out.append(testbench[pos:match.start()])
        replacement = add(match)
        out.append(replacement)
        pos = match.end() + (1 if replacement.endswith(tag) else 0)
    out.append(testbench[pos:])
    return "".join(out)


def x_rule_shadow(testbench: str, assets: dict, suffix: str, tag: str) -> tuple[str, str]:
    """The testbench with a shadow of the design added to its top module, and the shadow reference's source.

    The shadow is the reference (its modules renamed with ``suffix``) fed the design instance's inputs, with
    the testbench's parameter overrides; it counts the samples where a design output bit is X/Z while the
    reference's is 0/1, and prints the count from a ``final`` block. Two samplings: 0.37 time units after
    any change of either (off the testbenches' event times), and at every change of a design output, however
    brief (a design that is X only around the testbench's check instants): a design bit that turns from 0/1
    to X/Z counts when the reference's bit is 0/1 then and still 0/1 0.37 time units later (so a delta-cycle
    race between two designs that both go X, on X stimulus, is not a sample). X in the
    reference (before its reset) is a don't-care."""
    from codealign.domains.verilog.allowlist import module_ports

    top, ref_top = assets["top_module"], assets["ref_top_module"]
    tb_top = testbench_top(testbench)
    body = re.search(rf"\bmodule\s+{re.escape(tb_top)}\b.*?(?=\bendmodule\b)", testbench, re.S)
    inst = body and re.search(
        rf"(?<![\w$.]){re.escape(top)}\s*(#\s*\((?:[^()]|\([^()]*\))*\))?\s*([A-Za-z_][\w$]*)\s*\(", body.group())
    ports = module_ports(assets["ref"], ref_top)
    if inst is None or not ports:
        raise ValueError(f"no instance of {top} in testbench module {tb_top}, or no ports in the reference")
    ref = assets["ref"]
    for name in sorted(set(_MODULE_DEF.findall(ref)), key=len, reverse=True):
        ref = re.sub(rf"(?<![\w$]){re.escape(name)}(?![\w$])", f"{name}_{suffix}", ref)
    dut, shadow = inst.group(2), f"xrule_{suffix}"
    ins = [n for n, d in ports if d == "input"]
    outs = [n for n, d in ports if d == "output"]
    events = " or ".join([f"{shadow}.{n} or {dut}.{n}" for n in outs] + [f"{dut}.{n}" for n in ins])
    bad = " || ".join(f"((({shadow}.{n} ^ {shadow}.{n}) | ({dut}.{n} ^ {dut}.{n})) !== ({shadow}.{n} ^ {shadow}.{n}))"
                      for n in outs)
    code = (f"\n{ref_top}_{suffix} {inst.group(1) or ''} {shadow}("
            + ", ".join(f".{n}({dut}.{n})" for n in ins) + ");\n"
            f"integer {shadow}_samples = 0;\nreal {shadow}_tick = -1.0;\n"
            f"always @({events}) {shadow}_tick <= #0.37 $realtime;\n"
            f"always @({shadow}_tick) if ({bad}) {shadow}_samples = {shadow}_samples + 1;\n"
            + "".join(_x_rule_instant(f"{dut}.{n}", f"{shadow}.{n}", f"{shadow}_{k}", f"{shadow}_samples")
                      for k, n in enumerate(outs))
            + f'final $display("X-rule samples: %0d", {shadow}_samples);\n')
    return testbench[:body.end()] + code + testbench[body.end():], ref


def _x_rule_instant(design: str, reference: str, name: str, samples: str) -> str:
    """The shadow's sampling at every change of one design output (see :func:`x_rule_shadow`): the bits that
    turn from 0/1 to X/Z in ``design`` where ``reference`` is 0/1, gathered over each time step's changes,
    are checked against the reference 0.37 time units later (a bit still X from the start, settling at time 0,
    is left to the 0.37-later samples; the low :data:`_X_RULE_BITS` bits of a wider output)."""
    bound = f"$bits({design}) && {name}_i < {_X_RULE_BITS}"
    i, bit = f"{name}_i", f"{name}_r[{name}_i]"
    known = f"({bit} === 1'b0 || {bit} === 1'b1)"
    turned = f"({name}_o[{i}] === 1'b0 || {name}_o[{i}] === 1'b1) && {name}_d[{i}] !== 1'b0 && {name}_d[{i}] !== 1'b1"
    return (f"reg [{_X_RULE_BITS - 1}:0] {name}_d, {name}_o, {name}_r, {name}_p = 0, {name}_c = 0;\n"
            f"integer {i};\nreal {name}_t = -1.0, {name}_k = -1.0;\n"
            f"always @({design}) begin\n"
            f"  if ($realtime != {name}_t) begin {name}_p = 0; {name}_t = $realtime; end\n"
            f"  {name}_d = {design}; {name}_r = {reference};\n"
            f"  for ({i} = 0; {i} < {bound}; {i} = {i} + 1)\n"
            f"    if ({turned} && {known}) {name}_p[{i}] = 1'b1;\n"
            f"  {name}_o = {name}_d;\n"
            f"  if ({name}_p != 0) begin {name}_c <= #0.37 {name}_p; {name}_k <= #0.37 $realtime; end\n"
            f"end\n"
            f"always @({name}_c or {name}_k) begin\n"
            f"  {name}_r = {reference};\n"
            f"  for ({i} = 0; {i} < {bound}; {i} = {i} + 1)\n"
            f"    if ({name}_c[{i}] === 1'b1 && {known}) {samples} = {samples} + 1;\n"
            f"end\n")


def tagged_lines(output: str, tag: str) -> list[str]:
    """What follows ``tag`` on each output line that carries it (text before the tag is ignored)."""
    return [line[line.index(tag) + len(tag):] for line in output.splitlines() if tag in line]


def classify_compile_log(log: str) -> str:
    """The VerilogEval-style failure class of an iverilog error log."""
    for name, pattern in _COMPILE_CLASSES:
        if pattern.search(log):
            return name
    return "compile_error"


def parse_stages(trusted: bytes) -> dict[str, tuple[int, str, bool]]:
    """The job's fd-3 records ``@name rc length`` + ``length`` bytes: ``{name: (rc, text, complete)}``."""
    stages: dict[str, tuple[int, str, bool]] = {}
    pos = 0
    while True:
        m = _STAGE.match(trusted, pos)
        if not m:
            break
        size = int(m.group(3))
        body = trusted[m.end():m.end() + size]
        stages[m.group(1).decode()] = (int(m.group(2)), body.decode("utf-8", "replace"), len(body) == size)
        pos = m.end() + size
    return stages


def testbench_top(testbench: str) -> str:
    """The testbench module that no other module of the testbench instantiates (``tb`` by default)."""
    names = _MODULE_DEF.findall(testbench)
    for name in names:
        uses = len(re.findall(rf"(?<![\w$]){re.escape(name)}(?![\w$])", testbench))
        if uses == 1:
            return name
    return names[-1] if names else "tb"


def _defines_module(text: str, name: str) -> bool:
    return re.search(rf"\b(?:module|macromodule)\s+{re.escape(name)}(?![\w$])", text) is not None


def _record_files(files: dict, testbench: str, task: Task, suffix: str, tag: str) -> str:
    """Add phase 1's files (instrumented testbench, oracle, generator config) to ``files`` and return the
    script part that records and chooses the sources; "" when the testbench cannot be replayed (see
    :func:`codealign.domains.verilog.replay.instrument`) or the reference has ``inout`` ports."""
    from codealign.domains.verilog.allowlist import module_ports
    from codealign.domains.verilog.replay import instrument

    assets = task.assets
    ref_module = assets.get("ref_module") or "RefModule"
    ports = module_ports(assets["ref"], ref_module)
    inputs = [n for n, d in ports if d == "input"]
    outputs = [n for n, d in ports if d == "output"]
    recorded = instrument(testbench, f"{ref_module}_{suffix}", inputs, outputs)
    if recorded is None or len(inputs) + len(outputs) != len(ports):
        return ""
    files["trusted/rec_tb.sv"], timescale = recorded
    files["trusted/oracle.sv"] = reference_solution(task)
    files["trusted/replay.json"] = json.dumps({"tag": tag, "suffix": suffix, "top": assets["top_module"],
                                               "timescale": timescale, "inputs": inputs, "outputs": outputs,
                                               "iverilog": shutil.which("iverilog") or "iverilog",
                                               "vvp": shutil.which("vvp") or "vvp"})
    return _RECORD


def _allowlist_options(testbench: str, assets: dict) -> dict:
    """The allowlist's per-task options (:func:`~codealign.domains.verilog.allowlist.check_file`): the
    testbench's module names are reserved, and the top module must declare the reference's inputs as inputs."""
    from codealign.domains.verilog.allowlist import module_ports

    top = assets["top_module"]
    ref_module = assets.get("ref_module") or assets.get("ref_top_module") or "RefModule"
    inputs = [n for n, d in module_ports(assets["ref"], ref_module) if d == "input"] if assets.get("ref") else []
    return {"reserved": sorted(set(_MODULE_DEF.findall(testbench)) - {top}), "top": top, "inputs": inputs}


def checker_spec(binds: tuple[str, ...]):
    """The warm checker's worker (``allowlist.py --serve`` under ``python -I``): recycled after 200 requests
    and after any request the check raised on; one request may take the task's ``wall_s`` (a check that
    hangs is killed with its worker: ``compile_timeout``, as when the cold job's check hangs)."""
    from codealign.sandbox.worker import WorkerSpec

    return WorkerSpec(script=f"exec {shlex.quote(sys.executable)} -I -B {shlex.quote(_ALLOWLIST)} --serve",
                      limits=Limits(wall_s=30.0, cpu_s=1200.0, memory_mb=1024, disk_mb=256, output_bytes=16 << 20),
                      max_requests=200, binds=binds)


def _checker_stages(reply) -> dict | str | None:
    """The check's stage records from a checker worker's reply, as the cold job's ``allow`` (and on failure
    ``allowlog``) stages; None when the worker hit a limit (the reply's status is the verdict); a harness
    fault's message when no worker ran. A worker that died serving the request is a check that failed on
    the design."""
    if reply.ok:
        response = reply.response
        rc, report = response.get("rc"), response.get("report")
        if isinstance(rc, int) and isinstance(report, dict) and (rc not in (0, 2) or isinstance(response.get("emitted"), str)):
            return {"allow": (rc, json.dumps(report), True)}
        return {"allow": (rc if isinstance(rc, int) and rc not in (0, 2) else 1, "", True),
                "allowlog": (1, str(response.get("error", "")), True)}
    if reply.status in (JobStatus.TIMEOUT, JobStatus.MEMORY, JobStatus.OUTPUT_LIMIT):
        return None
    if reply.error.startswith("worker died"):
        return {"allow": (1, "", True), "allowlog": (1, reply.log, True)}
    return f"checker worker failed: {reply.error}"


def _job_phases(stages: dict) -> dict[str, float]:
    """Compile (alone, lint, build) and simulate seconds from a job's ``times`` stage (bash's clock)."""
    try:
        t0, t1, t2, t3 = (float(t) for t in stages["times"][1].split())
    except (KeyError, ValueError):
        return {}
    return {"compile": t2 - t0, "simulate": t3 - t2}


def _renamed_reference(task: Task, suffix: str) -> tuple[str, str]:
    """The reference and the testbench with every module the reference defines renamed with ``suffix``."""
    ref, tb = task.assets["ref"], task.assets["test"]
    for name in sorted(set(_MODULE_DEF.findall(ref)), key=len, reverse=True):
        pattern = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])")
        ref = pattern.sub(f"{name}_{suffix}", ref)
        tb = pattern.sub(f"{name}_{suffix}", tb)
    return ref, tb


def _allowlist_verdict(stages: dict, verdict) -> ExecResult | None:
    """The verdict of the stages before the testbench is readable (allowlist with preprocessing, compiling the
    candidate alone); None when the design may be simulated."""
    if "allow" not in stages:
        return None
    rc, text, complete = stages["allow"]
    try:
        report = json.loads(text) if complete else None
    except ValueError:
        report = None
    if rc not in (0, 2, 3) or not isinstance(report, dict):
        return verdict(Verdict.COMPILE_ERROR, "disallowed_construct", log=stages.get("allowlog", (0, ""))[1],
                       stage="allowlist", constructs=["a design the checker fails on"], lines=[0],
                       error=f"refused: the allowlist check failed on the design (exit {rc})")
    pre = report.get("preprocess")
    if pre and pre["rc"] != 0:
        return verdict(Verdict.COMPILE_ERROR, "preprocess_error", log=pre["log"], stage="preprocess")
    refused = [v for v in report["violations"] if v["kind"] == "construct"]
    if refused:
        names = list(dict.fromkeys(v["construct"] for v in refused))
        first = refused[0]
        return verdict(Verdict.COMPILE_ERROR, "disallowed_construct", stage="allowlist", constructs=names,
                       lines=[v["line"] for v in refused],
                       error=f"line {first['line']}: the design uses {first['construct']}, which designs may not "
                             f"use here" + (f" ({len(names) - 1} more refused)" if len(names) > 1 else ""))
    if "alone" in stages and stages["alone"][0] != 0:
        log = stages["alone"][1]
        return verdict(Verdict.COMPILE_ERROR, classify_compile_log(log), log=log, stage="alone")
    if rc != 0:
        return verdict(Verdict.COMPILE_ERROR, "disallowed_construct", stage="allowlist",
                       constructs=[v["construct"] for v in report["violations"]],
                       error="the compiler accepts text the allowlist checker cannot parse")
    return None


def _lint_summary(rc: int, log: str, complete: bool) -> dict:
    lines = [ln for ln in log.splitlines() if ln.startswith("%")]
    return {"returncode": rc, "warnings": sum(ln.startswith("%Warning") for ln in lines),
            "errors": sum(ln.startswith("%Error") for ln in lines), "messages": lines[:20]}


def _verdict(task: Task, candidate: Candidate, verdict: Verdict, failure: str, details: dict,
             score: float = 0.0) -> ExecResult:
    return ExecResult(task_id=task.task_id, candidate_id=candidate.candidate_id, verdict=verdict, score=score,
                      details={"failure": failure, **details}, completion=candidate.completion)
