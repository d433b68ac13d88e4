"""The Verilog domain: a candidate design simulated against a self-checking testbench, in one sandbox launch.

**Task assets** (``Task.assets``)

* VerilogEval v2 style (also what the procedural generator emits)::

    {"format": "verilogeval", "test": <testbench source>, "ref": <reference source>,
     "top_module": "TopModule", "ref_module": "RefModule"}

  The testbench instantiates the reference and the candidate and prints ``Mismatches: N in M samples``
  once, from a ``final`` block (and ``TIMEOUT`` when its own cycle budget runs out).
* RTLLM style::

    {"format": "rtllm", "test": <testbench>, "ref": <reference>, "top_module": <module the tb instantiates>,
     "ref_top_module": <module name inside ref>, "aux_files": {name: text}}

  The testbench instantiates only the candidate (the reference is not simulated; the benchmark renames it to
  ``top_module`` for its oracle run) and prints ``Your Design Passed`` or failure lines, sometimes
  ``... N / M failures``. ``aux_files`` (data files the testbench reads by relative path) go into the job dir.

Either format may carry ``"header"``: text put in front of a candidate that does not define ``top_module``
(VerilogEval's code-complete task prepends the module header to a body-only completion, as upstream does).

**Verdicts and score.** COMPILE_ERROR for anything rejected before simulation (empty or oversized text,
preprocessor, syntax or elaboration errors, a forbidden system task); TIMEOUT when the testbench reports its
own ``TIMEOUT`` or the job passes its wall-clock deadline; MEMORY / OUTPUT_LIMIT from the sandbox;
RUNTIME_ERROR when the simulator fails without a summary; otherwise PASS or FAIL from the testbench's
summary. Score: VerilogEval, ``1 - mismatches / samples``; RTLLM, ``1 - failures / checks`` where the
testbench prints both, else 1 (passed) or 0; 0 for every verdict before a summary. ``details["failure"]``
holds the failure class (a superset of VerilogEval's codes): ``empty``, ``too_large``, ``preprocess_error``,
``forbidden_construct``, ``syntax_error`` (S), ``explicit_cast_required`` (e), ``sized_constant_zero`` (0),
``declared_as_wire`` (w), ``unknown_module`` (m), ``unbound_clk`` (c), ``unbound_name`` (p),
``isolation_error`` (the design reaches outside itself), ``module_name_clash``, ``zero_delay_loop`` (an
``always`` without delay), ``unknown_system_task``,
``compile_error`` (C), ``compile_timeout``, ``tb_timeout`` (T), ``sim_timeout``, ``reset_issue`` (r),
``runtime_mismatch`` (R), ``no_samples``, ``no_summary``, ``simulator_error``, ``memory``, ``output_limit``.

**Threat model.** The candidate is untrusted code that runs inside the testbench's simulation. It may print
anything, read or write files, name the testbench's and the reference's signals hierarchically (``tb.stats1
.errors``, upward ``stats1.errors``, ``tb.out_ref``), instantiate the reference, or end the simulation early.
The job script is the same for every job (it holds no secret) and does, in order:

1. with the testbench and reference in a folder made unreadable (``chmod 000``), preprocess the candidate
   alone (``iverilog -E``; an ``include`` of the testbench fails) and send the preprocessed text to the
   trusted channel (fd 3). The judge scans it (comments, strings and escaped identifiers skipped) and rejects
   every system task that reads or writes files, ends the simulation, or reaches other scopes
   (``DENIED_SYSTEM_TASKS``: ``$fopen``, ``$fgets``, ``$readmemh``, ``$finish``, ``$fatal``, ``$root``,
   ``$system``, ...). Scanning the preprocessed text means macros and token pasting cannot hide a call.
   A design whose compiled code (step 2) calls one of them is not simulated at all.
2. elaborate the preprocessed candidate alone (``iverilog -o alone.vvp``, every uninstantiated module a
   root): any hierarchical or upward reference outside the candidate, and any instantiation of the
   reference, fails here;
3. compile the same preprocessed text first (so no testbench macro precedes it) with the testbench and the
   reference, in which every module the reference defines carries a per-job random suffix
   (``RefModule_<random>``) and every ``$display``/``$write``/``$strobe``/``$monitor`` of the testbench
   carries a per-job random tag; delete the sources; simulate with fd 3 closed.

The verdict comes only from tagged lines of the simulation output (exactly one tagged ``Mismatches`` line
for VerilogEval) and from the stage results on fd 3. A candidate that passes step 1 cannot read a file,
stdin or its plusargs, so it cannot learn the tag, and step 2 keeps it from reading the testbench's
variables; a candidate that fails step 1 is rejected whatever it printed.
``$system`` does not exist in Icarus 11 (``vvp`` refuses to load a design that calls it); it is denied anyway.
RTLLM verdicts read tagged lines too: PASS needs the testbench's tagged ``Your Design Passed`` and no tagged
failure line.

What remains possible: (a) step 2 elaborates with default parameters, so a ``generate`` branch taken only
under a parameter value the testbench passes is not checked for outside references (VerilogEval testbenches
pass no parameters; 4 of the 43 RTLLM ones do); (b) the candidate drives its ports, so a port declared
``output`` where the spec says ``input`` drives the testbench's net (the testbench's own multiple-driver
rules and the reference comparison apply, as upstream); (c) the deny-list is complete for the system tasks
of Icarus 11's VPI modules (``system``, ``v2005_math``, ``v2009``, ``va_math``, ``vhdl_sys``,
``vhdl_textio``); a later Icarus with new file tasks needs the list extended; (d) resource abuse
(infinite loops, ``$dumpvars`` disk fill, unbounded output) is stopped by the sandbox limits, not here;
(e) a testbench or reference that does not compile under this simulator gives the candidate COMPILE_ERROR
(the log names the file; the benchmarks' ``--oracle`` run shows which tasks are affected).

**Simulators.** ``iverilog`` (default; ``-g2012``, ``vvp -n``) or ``verilator`` (``--binary --timing``, about
10 s per design; the isolation steps 1-2 still use iverilog). Verilator is built without ccache: jobs run
under a read-only root (bwrap) as a per-job uid, so no cache folder outside the job dir is writable; that
needs a writable bind in the backend. ``lint=True`` adds Verilator ``--lint-only -Wall`` on the candidate as
``details["lint"]`` (a signal, never the verdict).
"""

from __future__ import annotations

import random
import re
import secrets
import shlex
import shutil
from dataclasses import dataclass

from codealign.domains.base import Benchmark, Domain, DomainOption, command_version, limit_verdict
from codealign.domains.verilog.extract import extract_verilog
from codealign.extraction import Extraction, extract_code
from codealign.sandbox.job import Job, JobResult
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, ExecResult, Task, Verdict

FORMATS = ("verilogeval", "rtllm")
SIMULATORS = ("iverilog", "verilator")

DENIED_SYSTEM_TASKS = frozenset(
    # files and streams (reading them could reveal the output tag; writing is not a design's business)
    "$fopen $fopena $fopenr $fopenw $fclose $fflush $fgetc $fgets $fread $fscanf $ungetc $fseek $ftell $rewind "
    "$feof $ferror $fputc $fdisplay $fdisplayb $fdisplayh $fdisplayo $fwrite $fwriteb $fwriteh $fwriteo "
    "$fstrobe $fstrobeb $fstrobeh $fstrobeo $fmonitor $fmonitorb $fmonitorh $fmonitoro $readmemb $readmemh "
    "$readmempath $sreadmemb $sreadmemh $writememb $writememh $sdf_annotate $table_model $input $log $nolog "
    "$key $nokey $save $incsave $restart $ivlh_file_open $ivlh_read $ivlh_readline $ivlh_write $ivlh_writeline "
    # ending the simulation before the testbench does
    "$finish $finish_and_return $stop $fatal $exit "
    # other scopes and the interactive debugger
    "$root $unit $scope $list $showscopes $showvars $vpi_tree $system".split()
)

# A denied call in the compiled candidate (``"$fopen"`` in vvp code): such a design is not simulated at all.
# The judge's scan of the preprocessed text stays the authority (it also sees generate branches not elaborated).
_DENY_CALL_ERE = '"\\$(' + "|".join(sorted(n[1:].replace("$", "\\$") for n in DENIED_SYSTEM_TASKS - {"$root", "$unit"})) + ')"'
_LEX = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\\\S+|(\$[A-Za-z_][A-Za-z0-9_$]*)', re.S)
_MODULE_DEF = re.compile(r"\b(?:module|macromodule)\s+([A-Za-z_][A-Za-z0-9_$]*)")
_DISPLAY = re.compile(r"(\$(?:display|write|strobe|monitor)[bho]?\s*\(\s*)(?=[^\s)])")
_MISMATCH = re.compile(r"Mismatches:\s*(\d+)\s+in\s+(\d+)\s+samples")
_RTLLM_COUNTS = re.compile(r"(\d+)\s*/\s*(\d+)\s*failures", re.I)
_RTLLM_FAIL = re.compile(r"\b(error|fail(ed|ure|ures)?)\b", re.I)
_STAGE = re.compile(rb"@(\w+) (-?\d+) (\d+)\n")
_LOG_CHARS = 4000
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

# Runs with the job dir as cwd; placeholders are absolute tool paths. Holds no per-job secret.
_SCRIPT = r"""
send() { printf '@%s %d %d\n' "$1" "$2" "$(wc -c < "$3")" >&3; cat "$3" >&3; }
chmod 000 trusted
{IV} -g2012 -E -o cand.i cand.sv > pre.log 2>&1; rc=$?
send pre $rc pre.log
[ $rc -eq 0 ] || exit 0
send text 0 cand.i
{IV} -g2012 -o alone.vvp cand.i > alone.log 2>&1; rc=$?
send alone $rc alone.log
[ $rc -eq 0 ] || exit 0
grep -qE '{DENY}' alone.vvp && exit 0
rm -f alone.vvp
{LINT}
chmod 700 trusted
{BUILD} > build.log 2>&1; rc=$?
send build $rc build.log
[ $rc -eq 0 ] || exit 0
rm -f trusted/tb.sv trusted/ref.sv
{RUN} 3>&-; rc=$?
printf '@sim %d 0\n' $rc >&3
"""

_LINT = (
    "{VL} --lint-only -Wall -Wno-DECLFILENAME -Wno-EOFNEWLINE -Wno-MULTITOP --top-module {TOP} cand.i "
    "> lint.log 2>&1; send lint $? lint.log"
)


@dataclass
class VerilogJob(Job):
    """A :class:`Job` plus what the judge needs to read it: the output tag and the testbench format."""

    tag: str = ""
    fmt: str = "verilogeval"


class VerilogDomain(Domain):
    """iverilog (or Verilator) simulation of a candidate against a self-checking testbench; see the module
    docstring for assets, verdicts, score and the threat model."""

    name = "verilog"
    harness_version = "2"
    default_limits = Limits(wall_s=30.0, cpu_s=60.0, memory_mb=1024, disk_mb=256)
    fence_tags = frozenset({"verilog", "v", "systemverilog", "sv", "vlog"})
    stop_sequences = ("endmodule",)
    tools = {"iverilog": ("iverilog", "-V"), "vvp": ("vvp", "-V"), "verilator": ("verilator", "--version"),
             "ccache": ("ccache", "--version")}
    options = (
        DomainOption("simulator", "simulate with Icarus Verilog or Verilator --binary", "iverilog", SIMULATORS),
        DomainOption("lint", "also run Verilator --lint-only (recorded in the details)", False, type=bool),
    )

    def __init__(self, simulator: str = "iverilog", lint: bool = False, max_candidate_bytes: int = 512 * 1024):
        if simulator not in SIMULATORS:
            raise ValueError(f"unknown simulator {simulator!r}; choose one of: {', '.join(SIMULATORS)}")
        if max_candidate_bytes <= 0:
            raise ValueError(f"max_candidate_bytes must be positive, got {max_candidate_bytes}")
        self.simulator = simulator
        self.lint = lint
        self.max_candidate_bytes = max_candidate_bytes
        if simulator == "verilator":
            self.default_limits = Limits(wall_s=240.0, cpu_s=480.0, memory_mb=4096, disk_mb=512)
        self.harness_version = f"2-{simulator}{'-lint' if lint else ''}"

    def extract(self, text: str, truncated: bool = False) -> Extraction:
        return extract_code(text, self.name, self.fence_tags, extract_verilog, truncated=truncated)

    def tokenizer_corpus(self) -> list[str]:
        """The packaged corpus files, then the prompts and reference designs of the bundled task files
        (testbenches are left out: large, and never model output)."""
        import json
        from importlib import resources

        texts = super().tokenizer_corpus()
        folder = resources.files(__name__) / "resources" / "tasks"
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not (entry.is_file() and entry.name.endswith(".jsonl")):
                continue
            for line in entry.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    texts.append(row.get("prompt", ""))
                    if isinstance((row.get("assets") or {}).get("ref"), str):
                        texts.append(row["assets"]["ref"])
        return texts

    # -- toolchain ------------------------------------------------------------------------------------------
    def _tools(self) -> tuple[str, ...]:
        tools = ("iverilog", "vvp")
        if self.simulator == "verilator" or self.lint:
            tools += ("verilator",)
        return tools

    def toolchain_version(self) -> str:
        parts = [command_version("iverilog", "-V")]
        if "verilator" in self._tools():
            parts.append(command_version("verilator", "--version"))
        return "; ".join(parts)

    def check_toolchain(self) -> str | None:
        missing = [t for t in self._tools() if shutil.which(t) is None]
        if missing:
            return (f"{', '.join(missing)} not found on PATH (Debian/Ubuntu: apt-get install "
                    f"{'iverilog' if 'verilator' not in missing else 'iverilog verilator'})")
        return None

    # -- prepare ---------------------------------------------------------------------------------------------
    def prepare(self, task: Task, candidate: Candidate) -> Job | ExecResult:
        assets = task.assets
        fmt = assets.get("format", "verilogeval")
        if fmt not in FORMATS:
            raise ValueError(f"task {task.task_id}: unknown verilog asset format {fmt!r}")
        for key in ("test", "top_module") + (("ref",) if fmt == "verilogeval" else ()):
            if not isinstance(assets.get(key), str) or not assets[key]:
                raise ValueError(f"task {task.task_id}: asset {key!r} missing or empty")
        text = candidate.completion
        header = assets.get("header")
        if header and text.strip() and not _defines_module(text, assets["top_module"]):
            text = header.rstrip("\n") + "\n" + text
        if not text.strip():
            return _verdict(task, candidate, Verdict.COMPILE_ERROR, "empty", {"stage": "prepare"})
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            data = text.encode("utf-8", "surrogatepass")
        if len(data) > self.max_candidate_bytes:
            return _verdict(task, candidate, Verdict.COMPILE_ERROR, "too_large",
                            {"stage": "prepare", "bytes": len(data), "max_bytes": self.max_candidate_bytes})

        tag = f"<@{secrets.token_hex(8)}@>"
        tb = assets["test"]
        files: dict[str, str | bytes] = {"cand.sv": data}
        sources = ["cand.i", "trusted/tb.sv"]
        if fmt == "verilogeval":
            suffix = secrets.token_hex(6)
            ref = assets["ref"]
            for name in sorted(set(_MODULE_DEF.findall(ref)), key=len, reverse=True):
                pattern = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])")
                ref = pattern.sub(f"{name}_{suffix}", ref)
                tb = pattern.sub(f"{name}_{suffix}", tb)
            files["trusted/ref.sv"] = ref
            sources.append("trusted/ref.sv")
        else:
            for name, content in (assets.get("aux_files") or {}).items():
                files[name] = content
        files["trusted/tb.sv"] = tag_displays(tb, tag)

        iv, vvp = shlex.quote(shutil.which("iverilog") or "iverilog"), shlex.quote(shutil.which("vvp") or "vvp")
        vl = shlex.quote(shutil.which("verilator") or "verilator")
        srcs = " ".join(sources)
        if self.simulator == "verilator":
            top = shlex.quote(testbench_top(assets["test"]))
            build = (f"{vl} --binary --timing -j 0 -Wno-fatal -Wno-lint -Wno-style -Wno-MULTITOP --top-module {top} "
                     f"-Mdir trusted/obj -o simv {srcs}")
            run = "trusted/obj/simv"
        else:
            build = f"{iv} -g2012 -o trusted/sim {srcs}"
            run = f"{vvp} -n trusted/sim"
        lint = _LINT.format(VL=vl, TOP=shlex.quote(assets["top_module"])) if self.lint else ""
        script = (_SCRIPT.replace("{IV}", iv).replace("{DENY}", _DENY_CALL_ERE).replace("{LINT}", lint).replace("{BUILD}", build)
                  .replace("{RUN}", run))
        return VerilogJob(script=script, files=files, limits=self.limits_for(task), tag=tag, fmt=fmt)

    # -- judge -----------------------------------------------------------------------------------------------
    def judge(self, task: Task, candidate: Candidate, job: Job, result: JobResult) -> ExecResult:
        assert isinstance(job, VerilogJob)
        stages = parse_stages(result.trusted)
        details: dict = {"simulator": self.simulator}
        if "lint" in stages:
            details["lint"] = _lint_summary(*stages["lint"])

        def verdict(v: Verdict, failure: str, score: float = 0.0, log: str = "", **extra) -> ExecResult:
            out = _verdict(task, candidate, v, failure, {**details, **extra}, score)
            out.stdout = result.text("stdout").replace(job.tag, "")[-_SIM_OUT_CHARS:]
            out.stderr = log[-_LOG_CHARS:] if log else result.text("stderr")[-_LOG_CHARS:]
            out.wall_s, out.cpu_s, out.peak_memory_mb = result.wall_s, result.cpu_s, result.peak_memory_mb
            return out

        if "pre" in stages and stages["pre"][0] != 0:
            return verdict(Verdict.COMPILE_ERROR, "preprocess_error", log=stages["pre"][1], stage="preprocess")
        if "text" in stages:
            text, complete = stages["text"][1], stages["text"][2]
            if not complete:
                return verdict(Verdict.COMPILE_ERROR, "too_large", stage="preprocess",
                               error="preprocessed candidate exceeds the trusted channel")
            denied = forbidden_calls(text)
            if denied:
                return verdict(Verdict.COMPILE_ERROR, "forbidden_construct", stage="preprocess", forbidden=denied,
                               error=f"candidate calls {', '.join(denied)}, which designs may not use here")
        for stage in ("alone", "build"):
            if stage in stages and stages[stage][0] != 0:
                log = stages[stage][1]
                failure = classify_compile_log(log)
                if stage == "alone" and _reaches_outside(log):
                    failure = "isolation_error"
                return verdict(Verdict.COMPILE_ERROR, failure, log=log, stage=stage)
        limited = limit_verdict(result)
        if limited is not None:
            reached_sim = "build" in stages
            failure = {Verdict.TIMEOUT: "sim_timeout" if reached_sim else "compile_timeout",
                       Verdict.MEMORY: "memory", Verdict.OUTPUT_LIMIT: "output_limit"}[limited]
            return verdict(limited, failure, stage="simulate" if reached_sim else "compile")
        if "sim" not in stages:
            return verdict(Verdict.RUNTIME_ERROR, "simulator_error", stage="simulate",
                           error=f"job ended before the simulation finished (exit {result.returncode})")
        sim_rc = stages["sim"][0]
        if sim_rc in (137, -9) and result.peak_memory_mb >= 0.9 * job.limits.memory_mb:
            return verdict(Verdict.MEMORY, "memory", stage="simulate",
                           error="the simulator was killed at the memory limit")
        stderr = result.text("stderr")
        if _COMPILE_CLASSES[-1][1].search(stderr):
            return verdict(Verdict.COMPILE_ERROR, "unknown_system_task", log=stderr, stage="simulate")
        lines = tagged_lines(result.text("stdout"), job.tag)
        details["stage"] = "simulate"
        details["sim_returncode"] = sim_rc
        if job.fmt == "verilogeval":
            return self._judge_verilogeval(lines, sim_rc, verdict)
        return self._judge_rtllm(lines, sim_rc, verdict)

    @staticmethod
    def _judge_verilogeval(lines: list[str], sim_rc: int, verdict) -> ExecResult:
        hints = [ln for ln in lines if ln.startswith("Hint:")][:20]
        if any(ln.strip() == "TIMEOUT" for ln in lines):
            return verdict(Verdict.TIMEOUT, "tb_timeout", hints=hints)
        summaries = [m for m in (_MISMATCH.search(ln) for ln in lines) if m]
        if len(summaries) != 1:
            if not summaries and sim_rc != 0:
                return verdict(Verdict.RUNTIME_ERROR, "simulator_error", hints=hints)
            return verdict(Verdict.FAIL, "no_summary", hints=hints, summaries=len(summaries))
        mismatches, samples = int(summaries[0].group(1)), int(summaries[0].group(2))
        extra = {"mismatches": mismatches, "samples": samples, "hints": hints}
        if samples == 0:
            return verdict(Verdict.FAIL, "no_samples", **extra)
        if mismatches == 0:
            return verdict(Verdict.PASS, "", 1.0, **extra)
        score = max(0.0, 1.0 - mismatches / samples)
        failure = "reset_issue" if any("Your reset" in h for h in hints) else "runtime_mismatch"
        return verdict(Verdict.FAIL, failure, score, **extra)

    @staticmethod
    def _judge_rtllm(lines: list[str], sim_rc: int, verdict) -> ExecResult:
        passed = any("Your Design Passed" in ln for ln in lines)
        failing = [ln for ln in lines if _RTLLM_FAIL.search(ln)]
        counts = [m for m in (_RTLLM_COUNTS.search(ln) for ln in lines) if m]
        extra: dict = {"report": [ln.strip() for ln in (failing or lines)][-5:]}
        if passed and not failing:
            return verdict(Verdict.PASS, "", 1.0, **extra)
        if not passed and not failing:
            if sim_rc != 0:
                return verdict(Verdict.RUNTIME_ERROR, "simulator_error", **extra)
            return verdict(Verdict.FAIL, "no_summary", **extra)
        score = 0.0
        if counts:
            failures, checks = int(counts[-1].group(1)), int(counts[-1].group(2))
            extra.update(failures=failures, checks=checks)
            if checks > 0:
                score = min(1.0, max(0.0, 1.0 - failures / checks))
        return verdict(Verdict.FAIL, "runtime_mismatch", score if score < 1.0 else 0.0, **extra)

    # -- bundled tasks and live check ------------------------------------------------------------------------
    def demo_tasks(self, split: str = "train") -> list[Task]:
        """The procedural family's bundled ``train`` / ``heldout`` tasks."""
        from codealign.domains.verilog.tasks import bundled_tasks

        return bundled_tasks(split)

    def reference_solution(self, task: Task) -> str | None:
        return reference_solution(task) if task.assets.get("ref") else None

    @property
    def task_families(self) -> tuple[str, ...]:
        from codealign.domains.verilog.tasks import FAMILIES

        return FAMILIES

    def generate_tasks(self, families=None, n: int = 100, seed: int = 0, split: str = "train") -> list[Task]:
        """The procedural specs of :mod:`codealign.domains.verilog.tasks` (fixed train / held-out split)."""
        from codealign.domains.verilog.tasks import generate_tasks

        return generate_tasks(families, n, seed, split)

    def benchmarks(self) -> tuple[Benchmark, ...]:
        from codealign.domains.verilog import rtllm, verilogeval

        return (
            Benchmark("verilogeval", lambda path, task, model=None: verilogeval.load_verilogeval(path, task),
                      reference_solution, "VerilogEval v2 problems: JSONL or the upstream folder",
                      variants=verilogeval.TASKS, variant_flag="task", default_data=verilogeval.DEMO),
            Benchmark("rtllm", lambda path, model=None: rtllm.load_rtllm(path), reference_solution,
                      "an RTLLM problems JSONL"),
        )

    def selftest_cases(self) -> list[tuple[Task, Candidate, Verdict]]:
        from codealign.domains.verilog.tasks import bundled_tasks

        task = bundled_tasks("train")[0]
        good = self.reference_solution(task)
        bad = good.replace("endmodule", "").rstrip() + "\n"
        return [(task, Candidate(task.task_id, good), Verdict.PASS),
                (task, Candidate(task.task_id, bad), Verdict.COMPILE_ERROR)]

    # -- negatives -------------------------------------------------------------------------------------------
    def mutate(self, solution: str, rng: random.Random) -> list[tuple[str, dict]]:
        try:
            from codealign.domains.verilog.mutate import mutate
        except ImportError:
            return []
        return mutate(solution, rng)


# -- pieces with one job each (module level so tests and benchmarks can use them) ------------------------------
def reference_solution(task: Task) -> str:
    """The task's reference with its module renamed to the one the testbench instantiates
    (``sed 's/\\bmodule RefModule\\b/module TopModule/'``, as the benchmarks' oracle runs do)."""
    name = task.assets.get("ref_module") or task.assets.get("ref_top_module") or "RefModule"
    top = task.assets.get("top_module", "TopModule")
    return re.sub(rf"\bmodule\s+{re.escape(name)}\b", f"module {top}", task.assets["ref"])


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


def tagged_lines(output: str, tag: str) -> list[str]:
    """What follows ``tag`` on each output line that carries it (text before the tag is ignored)."""
    return [line[line.index(tag) + len(tag):] for line in output.splitlines() if tag in line]


def forbidden_calls(source: str) -> list[str]:
    """Denied system task names used in ``source`` (comments, strings, escaped identifiers skipped)."""
    found = {m.group(1) for m in _LEX.finditer(source) if m.group(1)}
    return sorted(found & DENIED_SYSTEM_TASKS)


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


def _reaches_outside(log: str) -> bool:
    """True when elaborating the candidate alone failed on a hierarchical name (``a.b``)."""
    return bool(re.search(r"(?:Unable to bind [\w/]+|Could not find variable) `+[^'`\s]*\.", log))


def _lint_summary(rc: int, log: str, complete: bool) -> dict:
    lines = [ln for ln in log.splitlines() if ln.startswith("%")]
    return {"returncode": rc, "warnings": sum(ln.startswith("%Warning") for ln in lines),
            "errors": sum(ln.startswith("%Error") for ln in lines), "messages": lines[:20]}


def _verdict(task: Task, candidate: Candidate, verdict: Verdict, failure: str, details: dict,
             score: float = 0.0) -> ExecResult:
    return ExecResult(task_id=task.task_id, candidate_id=candidate.candidate_id, verdict=verdict, score=score,
                      details={"failure": failure, **details}, completion=candidate.completion)
