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

* cocotb style (``"format": "cocotb"``): the candidate's design files driven by a cocotb test module instead
  of a Verilog testbench (CVDP's harnesses); assets, verdicts, score and threat model in
  :mod:`codealign.domains.verilog.cocotb`. Icarus runs them whatever ``simulator`` says.

Either of the first two formats may carry ``"header"``: text put in front of a candidate that does not define ``top_module``
(VerilogEval's code-complete task prepends the module header to a body-only completion, as upstream does).

**Verdicts and score.** COMPILE_ERROR for anything rejected before simulation (empty or oversized text,
a refused construct, preprocessor, syntax or elaboration errors); TIMEOUT when the testbench reports its
own ``TIMEOUT`` or the job passes its wall-clock deadline; MEMORY / OUTPUT_LIMIT from the sandbox;
RUNTIME_ERROR when the simulator fails without a summary; otherwise PASS or FAIL from the replayed samples
(VerilogEval format, below) or the testbench's summary (RTLLM: and the X rule below). Score: VerilogEval,
``1 - mismatches / samples``, with ``details["outputs"]`` giving each output's mismatches and first mismatch
time; RTLLM,
``1 - failures / checks`` where the testbench prints both, else 1 (passed) or 0; 0 for every verdict before a
summary. ``details["failure"]`` holds the failure class (a superset of VerilogEval's codes): ``empty``,
``too_large``, ``disallowed_construct`` (``details["constructs"]`` and ``details["lines"]`` name them; a
crash of the check is one), ``preprocess_error`` (``iverilog -E`` or ``verilator -E`` failed on ``cand.i``), ``syntax_error`` (S), ``explicit_cast_required`` (e),
``sized_constant_zero`` (0), ``declared_as_wire`` (w), ``unknown_module`` (m), ``unbound_clk`` (c),
``unbound_name`` (p), ``module_name_clash``, ``zero_delay_loop`` (an ``always`` without delay),
``unknown_system_task``, ``compile_error`` (C), ``compile_timeout``, ``tb_timeout`` (T), ``sim_timeout``,
``runtime_mismatch`` (R), ``x_output`` (RTLLM: X/Z where the reference is 0/1), ``no_samples``,
``no_summary``, ``sample_count`` (the replayed design printed fewer samples than the reference: it ended the
run), ``trace_error`` (SANDBOX_ERROR: the recorded trace did not arrive), ``simulator_error``, ``memory``,
``output_limit``. VerilogEval's ``reset_issue`` (r) is gone: its hints come from the testbench's view of the
design, which replay does not have.

**Threat model.** The candidate is untrusted code that runs inside a simulation (the replay harness's or
the testbench's, below); a model that read this file tries to make a wrong design PASS. What it may contain
is decided structurally, on slang's syntax tree (:mod:`codealign.domains.verilog.allowlist`, which lists the
rules), not on its text.
A candidate is judged in this order (the job scripts hold no secret):

1. the allowlist check (:func:`~codealign.domains.verilog.allowlist.check_file`). On the warm path
   (:meth:`VerilogDomain.evaluate`, every backend that starts workers) it runs in a persistent sandboxed
   worker (``allowlist.py --serve``, :func:`checker_spec`): the request is the candidate's text and the
   task's options, the answer the report and the emitted ``cand.i``, which the candidate's job then receives
   as a file (what was checked is exactly what is compiled). What the worker shares between requests is a
   warm interpreter with pyslang imported and its folder, under one uid; that is safe because requests are
   data: slang lexes and parses the text and ``iverilog -E``/``verilator -E`` preprocess it, nothing of it is
   ever run, each request lives in a fresh sub-folder deleted after it, and the worker holds no testbench,
   reference or tag. A worker is replaced after 200 requests, after any request the check raised on, and
   when a request kills it or passes the task's deadline (that design gets the verdict of a failed or timed
   out check, as below). Otherwise (cocotb, :meth:`VerilogDomain.prepare`'s one cold job) the job runs it
   with the testbench and reference in a folder made unreadable (``chmod 000``), as a
   separate ``python -I`` process (fd 3 closed). **One text, one reader:** it lexes the raw candidate with
   slang (no preprocessing, so no file is ever opened) and writes ``cand.i``, the candidate's tokens without
   comments, line breaks kept: the only text any later step reads or compiles (the alone build, lint, the
   testbench or replay build, Verilator, the cocotb build). It refuses every compiler directive and macro use
   but a plain ``timescale UNIT/PRECISION`` line (kept: the build reads it as the design's time scale), and
   attributes ``(* *)`` (read as a string-holding construct by slang and as a comment by Icarus's
   preprocessor); it then runs ``iverilog -E`` (and ``verilator -E`` where Verilator builds or lints) on
   ``cand.i`` alone and refuses unless each emits exactly slang's tokens. So no candidate directive, macro
   or preprocessor state exists to reach ``harness.sv``/``tb.sv``, which come after ``cand.i`` on the build's
   command line. It then checks ``cand.i``'s tree, every generate branch and module whatever a constant or
   parameter override selects: no ``defparam``, ``force``/``release``/procedural ``assign``/``deassign``,
   ``bind``, DPI, ``$root``/``$unit``, driving the
   module's own inputs, testbench module names; **no name that can leave the design:** a dotted name starts
   at a variable of a struct-like type or is ``inst.name`` with ``inst`` an instance of a module the design
   defines and ``name`` a port, net or variable at that module's top level, and a task or function called,
   or a block disabled, by a simple name is one the design declares, each declared in a scope that lexically
   holds the use and exists whenever the use does (a generate branch or loop body holds its own names), so
   no simulator looks it up upward into the testbench, whichever branch or parameterisation it builds
   (Icarus and Verilator evaluate some constants apart; the alone build uses the defaults, the testbench
   its overrides); no draw from the simulation's one random generator, the testbench's stimulus source
   (``$urandom``, ``$random`` without its seed argument); and no system task or function outside a small
   allowlist
   (``$finish``, ``$fopen``, ``$readmem*``, ``$c``, ``$dumpfile``, plusargs... are refused, however spelled:
   an escaped ``\\$finish `` is the name ``$finish``). The script sends the report to the trusted channel;
   any violation, or a crash of the check (a refusal), ends the job;
2. elaborate ``cand.i`` alone (``iverilog -o alone.vvp``): the compiler's failure classes,
   and a second wall against names outside the candidate; text slang cannot parse but iverilog accepts is
   refused here. On the warm replay path (step 3) with a clean check, the build comes first and this step
   runs only when the build fails (to give the same failure class): that build holds ``cand.i`` and a
   harness whose every name is random, nothing else, so ``cand.i`` that fails alone fails it too;
3. VerilogEval format under Icarus (record and replay, :mod:`codealign.domains.verilog.replay`): with no
   candidate code, simulate the testbench, instrumented to print the reference instance's inputs at every
   change and its outputs at every ``stats1.clocks++`` sample, with the reference and the oracle (the
   reference as the top module); a ``python -I`` generator checks the log (no ``TIMEOUT``, sample count =
   the testbench's own ``Mismatches: N in M``), writes a harness whose every name carries a per-job random
   suffix and that replays the inputs into ``top_module`` and prints its outputs behind a per-job tag at each
   sample, replays the oracle through it and requires exactly the recorded samples, then sends the
   reference's samples on fd 3. On the warm path this phase runs once per task, judge and simulator, in a
   job of its own that holds no candidate text, and is kept in memory and in a store on disk
   (:mod:`codealign.domains.verilog.reference`: written only by the harness, in a root-only folder no job
   binds; an entry that does not read back whole under its own key is recorded again); each candidate's job
   gets a harness generated on the host from the recording with fresh per-job random names and tag, and no
   testbench or reference. The candidate is compiled with the harness alone; every trusted file but the
   compiled simulation is deleted; it runs with fd 3 closed, and Python compares the samples. The harness's
   statements are kept folded (a block repeated back to back is one ``repeat`` loop: a clock of 10^5 cycles
   compiles as one loop). Where the testbench's own guard ends phase 1 (it prints ``TIMEOUT`` at a known time,
   so every design that simulates that long gets ``tb_timeout``, as with the testbench), the harness replays
   the inputs up to that time and samples nothing: the design gets ``tb_timeout`` unless it fails on the way
   (a stall, a crash, a limit), as it would with the testbench.
   Fallback, decided before any candidate code runs: where the testbench lacks that shape (one
   ``stats1.clocks++``, one reference instance without parameter overrides, a timescale with unit =
   precision, no ``inout``), phase 1 fails, or the replayed oracle differs (``race``:
   the stimulus writes inputs with blocking assignments at the sampling edge, and which of them the
   reference saw depends on the simulator's process order; 4 of VerilogEval's 134), and under Verilator
   (no inactive region for ``#0``), ``details["replay_fallback"]`` says why and step 4 runs instead.
4. Otherwise (RTLLM, fallback): compile ``cand.i`` (first on the command line) with the testbench (its waveform
   dumps removed: no verdict reads a waveform) and the reference, in
   which every module the reference defines carries a per-job random suffix and every ``$display``/
   ``$write``/``$strobe``/``$monitor`` of the testbench carries a per-job random tag; delete the sources
   (Verilator: the generated C++ too, leaving the binary); simulate with fd 3 closed.

Batches (:mod:`codealign.domains.verilog.batch`, the executor's ``evaluate_batch``): on the replay path, up to
:attr:`VerilogDomain.batch_size` candidates of one task, or of several tasks with equal limits (one harness
each), whose check is clean and that call no shared-state
system function (``$random`` in any form, ``$urandom*``, ``$dist_*``) share one build and one simulation,
each with every module renamed to its own random suffix inside the checker, its own nets and its own tag;
any disturbance judges every member alone, so each verdict is the one it gets alone.

The verdict comes only from tagged lines and from the stage records on fd 3. The design cannot read a file,
plusargs or generated code, run C++ or a command, or end the run, so it cannot learn the tag; it cannot name
the testbench's or the reference's signals or parameters, so it cannot steer them. Under replay there is
nothing of theirs to name: the simulation holds the design and a harness with random names, and no counter,
flag or summary in it decides the verdict; a design that ends the run early (were ``$finish`` to get past the
allowlist) gives ``sample_count``. X rule: samples are compared per bit as VerilogEval's ``ref === (ref ^ dut
^ ref)`` does: a reference 0/1 must be the design's bit (X/Z in the design a mismatch), a reference x is a
don't-care, a reference z never matches; and the design cannot drive its inputs (which it shares with the
reference) to X: the allowlist refuses every driver of an input it knows, and a build whose log shows
Icarus making an input port an ``inout`` (its module drives it, however spelled) is refused too
(``disallowed_construct``, line 0); Verilator refuses such a design itself (``ASSIGNIN``). RTLLM
testbenches are closed-loop and their own checks may ignore X (``!A_greater`` is X, so never an error):
the harness adds a shadow reference to the testbench's top module, fed the design instance's inputs (read
by hierarchical name, ``dut.a``: the allowlist makes every top-module port the net of its name), and
counts samples (0.37 time units after any change, and whenever a design output bit turns X/Z, however
briefly) where a design output bit is X/Z and the reference's is 0/1; any such sample is ``x_output``.

What remains possible: (a) what the simulator lets any design do that the checker cannot see: VPI-visible
behaviour of the allowed system functions, and timing-dependent tricks (zero-delay glitches between samples;
under replay, outputs right only at the sampling point, which is the testbench's too; races with the sampling
edge on the fallback path; the RTLLM shadow counts an X that appears at a change only while the reference's
bit stays 0/1 for 0.37 time units); a design may print
anything, but without the tag its lines are not samples;
(b) a port declared ``output`` where the spec says ``input`` drives the testbench's net (the testbench's own
multiple-driver rules and the reference comparison apply, as upstream); (c) the RTLLM X rule with a
testbench of coarse time precision (``1ns/1ns``) samples at the event time itself; (d) a pyslang parser
bug: the check parses untrusted text, but inside the sandbox, and its report is only a gate; (e) resource
abuse (infinite loops, ``$dumpvars`` disk fill, unbounded output) is stopped by the sandbox limits, not here
(``$dumpvars`` is refused anyway); (f) a testbench or reference that does not compile under this simulator
gives the candidate COMPILE_ERROR (the benchmarks' ``--oracle`` run shows which tasks are affected);
(g) agreement is shown for the preprocessors' output; a compiler's own lexer or parser after preprocessing
(Icarus's ``-g2012`` keyword set against slang's SystemVerilog) may still read a token apart; no such case is
known, and it would have to survive both the alone build and slang's parse; (h) the candidate's
``timescale`` line also applies to a later file on the command line that sets none (11 of RTLLM's 43
testbenches; VerilogEval's and the replay harness set their own), so a design picks such a testbench's time
unit and precision (and with it where the RTLLM X rule samples, see (c)); (i) the name rule is syntactic and
strict: ``inst.name`` reaches one level down, and blocks (named, generate, loop) are not nameable from outside
themselves (none of the 686 reference designs of VerilogEval, RTLLM, CVDP and the procedural family uses a
dotted name); (j) the check does not elaborate the design with the build's top and parameter overrides: what
it decides holds for every branch and parameterisation instead; (k) a request that changed the warm checker's
state without crashing it could sway a later request's check; no such state is known (each request builds its
own syntax tree and runs its own preprocessors), and the worker is recycled on the schedule above; (l) the
stored reference recordings are as trusted as the harness's home folder (``$CODEALIGN_HOME``): whoever can
write there can change verdicts, as with the verdict cache beside them.

**Simulators.** ``iverilog`` (default; ``-g2012``, ``vvp -n``) or ``verilator`` (``--binary --timing``, about
10 s per design; steps 1-2 use iverilog, so Verilator never sees a refused design). Verilator is built without ccache: jobs run
under a read-only root (bwrap) as a per-job uid, so no cache folder outside the job dir is writable; that
needs a writable bind in the backend. ``lint=True`` adds Verilator ``--lint-only -Wall`` on the candidate as
``details["lint"]`` (a signal, never the verdict).
"""

from __future__ import annotations

import importlib.util
import os
import random
import secrets
import shlex
import shutil
import sys
import threading
import time
from pathlib import Path

from codealign.domains.base import Benchmark, Domain, DomainOption, command_version, limit_verdict, sandbox_error
from codealign.domains.verilog.extract import extract_verilog
from codealign.domains.verilog.jobs import (_ALLOWLIST, _allowlist_options, _allowlist_verdict, _CHECKED_SCRIPT,
                                            checker_spec, _checker_stages, classify_compile_log, _COERCED,
                                            _COMPILE_CLASSES, _defines_module, fill_script, FORMATS, _job_phases,
                                            _LINT, _lint_summary, _LOG_CHARS, _MISMATCH, parse_stages, _record_files,
                                            reference_solution, _renamed_reference, _REPLAY, _RTLLM_COUNTS,
                                            _RTLLM_FAIL, _SCRIPT, REPLAY_SCRIPT, _SIM_OUT_CHARS, SIMULATORS,
                                            tag_displays, tagged_lines, testbench_top, _verdict, VerilogJob, _X_RULE,
                                            without_dumps, x_rule_shadow)
from codealign.domains.verilog.syntax import SYNTAX
from codealign.extraction import Extraction, extract_code
from codealign.sandbox.job import Job, JobResult, JobStatus
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, ExecResult, Task, Verdict

class VerilogDomain(Domain):
    """iverilog (or Verilator) simulation of a candidate against a self-checking testbench; see the module
    docstring for assets, verdicts, score and the threat model."""

    name = "verilog"
    task_module = "codealign.domains.verilog.tasks"
    default_limits = Limits(wall_s=30.0, cpu_s=60.0, memory_mb=1024, disk_mb=256)
    fence_tags = frozenset({"verilog", "v", "systemverilog", "sv", "vlog"})
    stop_sequences = ("endmodule",)
    syntax = SYNTAX
    # method=rft: no DPO variant beat it on held-out pass@1 (the README's alignment-effect table). 3 rounds on 128
    # feedback-pool tasks x 8 samples, evaluated on 144 held-out tasks: method - control +0.085 ± 0.034 and
    # +0.113 ± 0.027 on training seeds 0 and 1 (7.1 and 6.9 min on 2 cores). Figures: README, "Results".
    run_defaults = {"method": "rft", "rounds": 3, "max_tasks": 128, "sample": {"n": 8},
                    "eval": {"heldout_tasks": 144, "max_tasks": 0}}
    tools = {"iverilog": ("iverilog", "-V"), "vvp": ("vvp", "-V"), "verilator": ("verilator", "--version"),
             "ccache": ("ccache", "--version")}
    options = (
        DomainOption("simulator", "simulate with Icarus Verilog or Verilator --binary", "iverilog", SIMULATORS),
        DomainOption("lint", "also run Verilator --lint-only (recorded in the details)", False, type=bool),
    )

    def __init__(self, simulator: str = "iverilog", lint: bool = False, max_candidate_bytes: int = 512 * 1024,
                 reference_store: str | None = None):
        if simulator not in SIMULATORS:
            raise ValueError(f"unknown simulator {simulator!r}; choose one of: {', '.join(SIMULATORS)}")
        if max_candidate_bytes <= 0:
            raise ValueError(f"max_candidate_bytes must be positive, got {max_candidate_bytes}")
        self.simulator = simulator
        self.lint = lint
        self.max_candidate_bytes = max_candidate_bytes
        self.reference_store = reference_store
        self._pools: dict[int, object] = {}
        self._lock = threading.Lock()
        self._references = None
        if simulator == "verilator":
            self.default_limits = Limits(wall_s=240.0, cpu_s=480.0, memory_mb=4096, disk_mb=512)

    def extract(self, text: str, truncated: bool = False) -> Extraction:
        return extract_code(text, self.name, self.fence_tags, extract_verilog, truncated=truncated)

    # -- toolchain ------------------------------------------------------------------------------------------
    def _tools(self) -> tuple[str, ...]:
        tools = ("iverilog", "vvp")
        if self.simulator == "verilator" or self.lint:
            tools += ("verilator",)
        return tools

    def toolchain_version(self) -> str:
        from codealign.domains.verilog import cocotb

        parts = [command_version("iverilog", "-V")]
        if "verilator" in self._tools():
            parts.append(command_version("verilator", "--version"))
        parts.append(f"cocotb {cocotb.installed_distributions(str(cocotb.environment())).get('cocotb', 'absent')}")
        return "; ".join(parts)

    def check_toolchain(self) -> str | None:
        missing = [t for t in self._tools() if shutil.which(t) is None]
        if missing:
            return (f"{', '.join(missing)} not found on PATH (Debian/Ubuntu: apt-get install "
                    f"{'iverilog' if 'verilator' not in missing else 'iverilog verilator'})")
        if importlib.util.find_spec("pyslang") is None:
            return f"pyslang is not installed for {sys.executable} (pip install 'codealign[verilog]')"
        return None

    def sandbox_binds(self) -> tuple[str, ...]:
        """The package root and pyslang's install (the allowlist check runs in the job)."""
        spec = importlib.util.find_spec("pyslang")
        found = [str(Path(p).parent) for p in (spec.submodule_search_locations or ())] if spec else []
        return tuple(dict.fromkeys((*super().sandbox_binds(), *found)))

    # -- prepare ---------------------------------------------------------------------------------------------
    def _design_bytes(self, task: Task, candidate: Candidate) -> bytes | ExecResult:
        """The candidate's text as the check reads it (the task's header put in front of a body-only
        completion), or the verdict when it is empty or too large; ValueError for a malformed task."""
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
        return data

    def _job_files(self, task: Task, tag: str, suffix: str) -> tuple[dict, list[str], str]:
        """The trusted files of a candidate job but the record phase's, the build's sources and the testbench
        (its reference modules renamed with ``suffix``, before tagging)."""
        assets = task.assets
        files: dict[str, str | bytes] = {}
        sources = ["cand.i", "trusted/tb.sv"]
        if assets.get("format", "verilogeval") == "verilogeval":
            files["trusted/ref.sv"], tb = _renamed_reference(task, suffix)
            sources.append("trusted/ref.sv")
        else:
            tb = assets["test"]
            for name, content in (assets.get("aux_files") or {}).items():
                files[name] = content
            if isinstance(assets.get("ref"), str) and assets["ref"]:
                tb, files["trusted/ref.sv"] = x_rule_shadow(tb, assets, suffix, tag)
                sources.append("trusted/ref.sv")
        files["trusted/tb.sv"] = tag_displays(without_dumps(tb), tag)
        return files, sources, tb

    def _script_values(self, task: Task, sources: list[str]) -> dict[str, str]:
        """The placeholders every candidate job script shares (tools, build and run commands, lint)."""
        iv, vvp = shlex.quote(shutil.which("iverilog") or "iverilog"), shlex.quote(shutil.which("vvp") or "vvp")
        vl = shlex.quote(shutil.which("verilator") or "verilator")
        if self.simulator == "verilator":
            build = (f'{vl} --binary --timing -j 0 -Wno-fatal -Wno-lint -Wno-style -Wno-MULTITOP --top-module "$top" '
                     "-Mdir trusted/obj -o simv $srcs")
            run, clean = "trusted/obj/simv", "find trusted/obj -mindepth 1 ! -name simv -delete"
        else:
            build, run, clean = f"{iv} -g2012 -o trusted/sim $srcs", f"{vvp} -n trusted/sim", ""
        return {"PY": shlex.quote(sys.executable), "ALLOW": shlex.quote(_ALLOWLIST), "REPLAY": shlex.quote(_REPLAY),
                "IV": iv, "VVP": vvp, "BUILD": build, "RUN": run, "CLEAN": clean,
                "LINT": _LINT.format(VL=vl, TOP=shlex.quote(task.assets["top_module"])) if self.lint else "",
                "SRCS": shlex.quote(" ".join(sources)), "TBTOP": shlex.quote(testbench_top(task.assets["test"])),
                "PROGRAM": ""}

    def _check_options(self, testbench: str, assets: dict) -> dict:
        """The allowlist's per-task options (see :func:`_allowlist_options`) and the preprocessors it compares."""
        options = _allowlist_options(testbench, assets)
        options["iverilog"] = shutil.which("iverilog") or "iverilog"
        if "verilator" in self._tools():
            options["verilator"] = shutil.which("verilator") or "verilator"
        return options

    def prepare(self, task: Task, candidate: Candidate) -> Job | ExecResult:
        """One cold job that checks, records and simulates (see the module docstring); :meth:`evaluate` runs
        the warm path instead where the backend starts workers."""
        if task.assets.get("format") == "cocotb":
            from codealign.domains.verilog import cocotb

            return cocotb.prepare_job(task, candidate, cocotb.LIMITS.merged(task.limits), self.sandbox_binds(),
                                      self.max_candidate_bytes)
        data = self._design_bytes(task, candidate)
        if isinstance(data, ExecResult):
            return data
        tag, suffix = f"<@{secrets.token_hex(8)}@>", secrets.token_hex(6)
        files, sources, tb = self._job_files(task, tag, suffix)
        files["cand.sv"] = data
        values = self._script_values(task, sources)
        record = ""
        # Verilator has no inactive region for the harness's #0 samples: it keeps the testbench path
        if task.assets.get("format", "verilogeval") == "verilogeval" and self.simulator == "iverilog":
            record = _record_files(files, tb, task, suffix, tag)
        values["SOURCES"] = fill_script(record, values) if record else fill_script('srcs={SRCS}; top={TBTOP}', values)
        options = self._check_options(tb, task.assets)
        values["CHECKS"] = " ".join(
            f"--{flag} {shlex.quote(options[flag] if isinstance(options[flag], str) else ','.join(options[flag]) or ',')}"
            for flag in ("reserved", "top", "inputs", "verilator") if flag in options)
        return VerilogJob(script=fill_script(_SCRIPT, values), files=files, limits=self.limits_for(task), tag=tag,
                          fmt=task.assets.get("format", "verilogeval"), binds=self.sandbox_binds())

    # -- the warm path -----------------------------------------------------------------------------------------
    def evaluate(self, task: Task, candidate: Candidate, backend) -> ExecResult:
        """Judge one candidate on the warm path: the check in a persistent sandboxed worker (its requests are
        data, see :mod:`codealign.domains.verilog.allowlist`), the reference recorded once per task
        (:mod:`codealign.domains.verilog.reference`), then one job that compiles the checked ``cand.i`` alone
        and with a harness made for it, and simulates. Verdicts are those of :meth:`prepare`'s one cold job,
        which runs instead for cocotb tasks and backends without workers. ``details["phase_s"]`` times the
        phases (check, reference: 0 when the recording was stored, compile, simulate, compare)."""
        fmt = task.assets.get("format", "verilogeval")
        if fmt == "cocotb" or not hasattr(backend, "start_worker"):
            return super().evaluate(task, candidate, backend)
        problem = self.check_toolchain()
        if problem:
            return sandbox_error(task, candidate, problem)
        data = self._design_bytes(task, candidate)
        if isinstance(data, ExecResult):
            return data
        limits = self.limits_for(task)
        tag, suffix = f"<@{secrets.token_hex(8)}@>", secrets.token_hex(6)
        files, sources, tb = self._job_files(task, tag, suffix)
        request = {"source": data.decode("latin-1"), **self._check_options(tb, task.assets)}
        reply = self._checker(backend).request(request, limits.wall_s)
        phases = {"check": reply.wall_s, "reference": 0.0}
        job = VerilogJob(script=":", limits=limits, tag=tag, fmt=fmt)
        stages = _checker_stages(reply)
        if isinstance(stages, str):
            return sandbox_error(task, candidate, stages)
        if stages is None or stages["allow"][0] not in (0, 2):
            limited = reply.status if stages is None else JobStatus.EXITED
            refused = self._judge(task, candidate, job, JobResult(limited, backend=reply.backend), stages or {},
                                  {"phase_s": phases})
            refused.details.setdefault("backend", reply.backend)
            return refused
        recording = None
        if fmt == "verilogeval" and self.simulator == "iverilog":
            recording, phases["reference"] = self._recording(task, backend)
            if isinstance(recording, str):
                return sandbox_error(task, candidate, recording)
        values = self._script_values(task, sources)
        files["cand.i"] = reply.response["emitted"].encode("latin-1")
        if recording is not None and not recording.fallback:
            from codealign.domains.verilog.reference import replay_harness

            harness = replay_harness(recording, [(task.assets["top_module"], tag)], suffix)
            files = {"cand.i": files["cand.i"], "trusted/harness.sv": harness}
            values["SOURCES"] = f"srcs='cand.i trusted/harness.sv'; top=replay_{suffix}"
        else:
            values["SOURCES"] = fill_script('srcs={SRCS}; top={TBTOP}', values)
        values["ALLOWED"] = str(stages["allow"][0])
        replays = recording is not None and not recording.fallback and stages["allow"][0] == 0
        job = VerilogJob(script=fill_script(REPLAY_SCRIPT if replays else _CHECKED_SCRIPT, values), files=files,
                         limits=limits, tag=tag, fmt=fmt, binds=self.sandbox_binds())
        outcome = backend.run(job)
        if outcome.status is JobStatus.SANDBOX_ERROR:
            return sandbox_error(task, candidate, outcome.error or "sandbox failed", outcome)
        stages.update(parse_stages(outcome.trusted))
        if recording is not None:
            stages["trace"] = (1, recording.fallback, True) if recording.fallback else (0, recording.encoded_trace, True)
        phases.update(_job_phases(stages))
        start = time.perf_counter()
        result = self._judge(task, candidate, job, outcome, stages, {})
        phases["compare"] = time.perf_counter() - start
        result.details["phase_s"] = {k: round(v, 6) for k, v in phases.items()}
        result.details.setdefault("backend", outcome.backend)
        return result

    batch_size = 8
    """Candidates simulated together on the replay path (:mod:`codealign.domains.verilog.batch`)."""
    batch_tasks = True

    def evaluate_batch(self, tasks, candidates, backend) -> list[ExecResult | None]:
        """Candidates of VerilogEval tasks in one simulation where they may share it, with the verdicts they get
        alone; None for each to be judged alone (:mod:`codealign.domains.verilog.batch`)."""
        from codealign.domains.verilog.batch import evaluate_batch

        return evaluate_batch(self, tasks, candidates, backend)

    def _checker(self, backend):
        """The warm check's worker pool for ``backend``, started on first use (see :func:`checker_spec`)."""
        from codealign.sandbox.worker import WorkerPool

        with self._lock:
            pool = self._pools.get(id(backend))
            if pool is None:
                pool = self._pools[id(backend)] = WorkerPool(backend, checker_spec(self.sandbox_binds()),
                                                               size=max(1, os.cpu_count() or 1))
            return pool

    def _recording(self, task: Task, backend):
        """The task's reference recording and the seconds spent recording it now (0 when it was known), or a
        harness fault's message."""
        from codealign.domains.verilog import reference

        key = reference.recording_key(task, self.fingerprint(backend.identity()), self.simulator)
        with self._lock:
            refs = self._references
            if refs is None:
                refs = self._references = reference.References(reference.ReferenceStore(self.reference_store))
        return refs.get(key, lambda: reference.record(task, key, backend, self.sandbox_binds(), self.limits_for(task)))

    def close(self) -> None:
        """Stop every checker worker this domain started (they also stop when the interpreter exits)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_pools={}, _lock=None, _references=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- judge -----------------------------------------------------------------------------------------------
    def judge(self, task: Task, candidate: Candidate, job: Job, result: JobResult) -> ExecResult:
        if task.assets.get("format") == "cocotb":
            from codealign.domains.verilog import cocotb

            return cocotb.judge(task, candidate, job, result)
        assert isinstance(job, VerilogJob)
        return self._judge(task, candidate, job, result, parse_stages(result.trusted), {})

    def _judge(self, task: Task, candidate: Candidate, job: "VerilogJob", result: JobResult, stages: dict,
               details: dict) -> ExecResult:
        """The verdict from the job's stage records (``stages``, see :func:`parse_stages`) and outcome."""
        details = {"simulator": self.simulator, **details}
        if "lint" in stages:
            details["lint"] = _lint_summary(*stages["lint"])

        def verdict(v: Verdict, failure: str, score: float = 0.0, log: str = "", **extra) -> ExecResult:
            out = _verdict(task, candidate, v, failure, {**details, **extra}, score)
            out.stdout = result.text("stdout").replace(job.tag, "")[-_SIM_OUT_CHARS:]
            out.stderr = log[-_LOG_CHARS:] if log else result.text("stderr")[-_LOG_CHARS:]
            out.wall_s, out.cpu_s, out.peak_memory_mb = result.wall_s, result.cpu_s, result.peak_memory_mb
            return out

        refused = _allowlist_verdict(stages, verdict)
        if refused is not None:
            return refused
        if "build" in stages and stages["build"][0] != 0:
            log = stages["build"][1]
            return verdict(Verdict.COMPILE_ERROR, classify_compile_log(log), log=log, stage="build")
        coerced = _COERCED.findall(stages.get("build", (0, ""))[1])
        if coerced:  # the compiler's own finding, whatever spelling drove the port past the allowlist
            names = list(dict.fromkeys(f"drives its own input {name}" for name in coerced))
            return verdict(Verdict.COMPILE_ERROR, "disallowed_construct", log=stages["build"][1], stage="build",
                           constructs=names, lines=[0] * len(names),
                           error=f"the design drives its input {coerced[0]} (the compiler made the port an inout), "
                                 "which designs may not do here")
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
        if job.fmt == "verilogeval" and stages.get("trace", (1,))[0] == 0:
            return self._judge_replay(result.text("stdout"), job.tag, sim_rc, stages["trace"], verdict)
        if job.fmt == "verilogeval":
            if "trace" in stages:
                details["replay_fallback"] = stages["trace"][1].strip()[:200] or f"exit {stages['trace'][0]}"
            return self._judge_verilogeval(lines, sim_rc, verdict)
        return self._judge_rtllm(lines, sim_rc, verdict, "trusted/ref.sv" in job.files)

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
        return verdict(Verdict.FAIL, "runtime_mismatch", max(0.0, 1.0 - mismatches / samples), **extra)

    @staticmethod
    def _judge_replay(output: str, tag: str, sim_rc: int, trace_stage: tuple[int, str, bool], verdict) -> ExecResult:
        """The design's tagged samples against the recorded reference's; the verdict's stdout is the design's
        own output followed by VerilogEval-worded per-output hints and summary. Where the testbench's own guard
        ended the reference's simulation (a guard trace), a design that runs as long gets ``tb_timeout``, as
        with the testbench (no hints: no sample is compared)."""
        from codealign.domains.verilog.replay import compare, decode_trace, design_samples, report

        try:
            trace = decode_trace(trace_stage[1]) if trace_stage[2] else None
        except ValueError:
            trace = None
        if trace is None:
            return verdict(Verdict.SANDBOX_ERROR, "trace_error", error="the recorded reference trace did not arrive")
        dut = design_samples(trace, tagged_lines(output, tag))
        if dut is None:
            failed = sim_rc != 0
            return verdict(Verdict.RUNTIME_ERROR if failed else Verdict.FAIL,
                           "simulator_error" if failed else "sample_count", samples=len(trace["samples"]))
        if trace.get("end") is not None:
            return verdict(Verdict.TIMEOUT, "tb_timeout", hints=[])
        result = compare(trace, dut)
        if result["mismatches"] == 0:
            out = verdict(Verdict.PASS, "", 1.0, **result)
        else:
            out = verdict(Verdict.FAIL, "runtime_mismatch", max(0.0, 1.0 - result["mismatches"] / result["samples"]),
                          **result)
        own = [ln for ln in output.splitlines() if tag not in ln]
        out.stdout = "\n".join(own[-100:] + report(result))[-_SIM_OUT_CHARS:]
        return out

    @staticmethod
    def _judge_rtllm(lines: list[str], sim_rc: int, verdict, shadowed: bool) -> ExecResult:
        x_counts = [int(m.group(1)) for m in (_X_RULE.match(ln) for ln in lines) if m]
        lines = [ln for ln in lines if not _X_RULE.match(ln)]
        passed = any("Your Design Passed" in ln for ln in lines)
        failing = [ln for ln in lines if _RTLLM_FAIL.search(ln)]
        counts = [m for m in (_RTLLM_COUNTS.search(ln) for ln in lines) if m]
        extra: dict = {"report": [ln.strip() for ln in (failing or lines)][-5:]}
        if passed and not failing:
            if shadowed and len(x_counts) != 1:
                return verdict(Verdict.FAIL, "no_summary", **extra, error="no X-rule summary from the shadow")
            if shadowed and x_counts[0] > 0:
                return verdict(Verdict.FAIL, "x_output", **extra, x_samples=x_counts[0])
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
    def reference_solution(self, task: Task) -> str | None:
        return reference_solution(task) if task.assets.get("ref") else None

    def benchmarks(self) -> tuple[Benchmark, ...]:
        from codealign.domains.verilog import cvdp, rtllm, verilogeval

        return (
            Benchmark("verilogeval", lambda path, task, model=None: verilogeval.load_verilogeval(path, task),
                      reference_solution, "VerilogEval v2 problems: JSONL or the upstream folder",
                      variants=verilogeval.TASKS, variant_flag="task", default_data=verilogeval.DEMO),
            Benchmark("rtllm", lambda path, model=None: rtllm.load_rtllm(path), reference_solution,
                      "an RTLLM problems JSONL"),
            Benchmark("cvdp", cvdp.load_cvdp, cvdp.oracle, "a CVDP problems JSONL (code generation, cocotb harnesses)",
                      options=(DomainOption("categories", "only problems of these categories or difficulties "
                                              "(cid003, easy; repeatable or comma-separated)", None, repeatable=True),),
                      score=cvdp.score, format=cvdp.format_report),
        )

    def selftest_cases(self) -> list[tuple[Task, Candidate, Verdict]]:
        from codealign.domains.verilog.tasks import bundled_tasks

        task = bundled_tasks("train")[0]
        good = self.reference_solution(task)
        bad = good.replace("endmodule", "").rstrip() + "\n"
        return [(task, Candidate(task.task_id, good), Verdict.PASS),
                (task, Candidate(task.task_id, bad), Verdict.COMPILE_ERROR)]

    def screen_answers(self, task: Task) -> dict[str, str]:
        """The test-strength screen's designs for ``task`` (:mod:`codealign.domains.verilog.screen`)."""
        from codealign.domains.verilog.screen import screen_answers

        return screen_answers(task)

    # -- negatives -------------------------------------------------------------------------------------------
    def mutate(self, solution: str, rng: random.Random) -> list[tuple[str, dict]]:
        try:
            from codealign.domains.verilog.mutate import mutate
        except ImportError:
            return []
        return mutate(solution, rng)