"""Record and replay for VerilogEval-shaped testbenches: the candidate is simulated without the testbench.

Open-loop testbenches (VerilogEval v2, the procedural family) drive the reference and the design with the
same stimulus and compare them in a ``stats1.clocks++`` block. Instead of letting the candidate run inside
that simulation, a job

1. (trusted, no candidate code) simulates the testbench instrumented by :func:`instrument` with the reference
   and the oracle (the reference as the top module): every change of the reference instance's inputs prints
   an ``I`` line, every sample of the compare block an ``S`` line of the reference's outputs, in event order;
2. runs this file as ``python -I`` (:func:`main`): it reads that log, checks it against the testbench's own
   ``Mismatches: N in M samples`` count and writes a harness module (every name carrying a per-job random
   suffix) that replays the inputs into the candidate's top module and prints its outputs, tagged, at each
   sample (``#0`` after the inputs of its time step: after the design's active processes, before its
   non-blocking updates, where the compare block sampled), and the reference's samples for the judge; it
   replays the oracle through the harness and gives up (``race``) unless that reproduces every sample;
3. simulates the candidate with the harness only; the judge compares the samples in Python (:func:`compare`).

Stdlib only: the job runs it with ``python -I`` and no package on the path.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import zlib

MARK = "@rec@ "
_CLOCKS = re.compile(r"\bstats1\.clocks\s*\+\+\s*;")
_TIMESCALE = re.compile(r"`timescale\s+(\d+\s*[munpf]?s)\s*/\s*(\d+\s*[munpf]?s)")
_MISMATCH = re.compile(r"Mismatches:\s*(\d+)\s+in\s+(\d+)\s+samples")
_BITS = re.compile(r"[01xz]+")


def instrument(testbench: str, ref_module: str, inputs: list[str], outputs: list[str]) -> tuple[str, str] | None:
    """The testbench with the recording monitor and sampler, and its ``timescale`` (``"1 ps/1 ps"``); None
    when it is not in the shape replay needs: one ``stats1.clocks++;`` and one instance of ``ref_module``
    without parameter overrides in the same module, a timescale whose unit is its precision, an output."""
    scales = _TIMESCALE.findall(testbench)
    clocks = list(_CLOCKS.finditer(testbench))
    insts = list(re.finditer(rf"(?<![\w$.]){re.escape(ref_module)}\s*(#)?\s*([A-Za-z_][\w$]*)\s*\(", testbench))
    if (len(scales) != 1 or re.sub(r"\s", "", scales[0][0]) != re.sub(r"\s", "", scales[0][1]) or len(clocks) != 1
            or len(insts) != 1 or insts[0].group(1) or not outputs):
        return None
    starts = [m.start() for m in re.finditer(r"\b(?:module|macromodule)\b", testbench[:insts[0].start()])]
    end = testbench.find("endmodule", insts[0].end())
    if not starts or end < 0 or not starts[-1] < clocks[0].start() < end:
        return None
    inst = insts[0].group(2)

    def line(kind: str, names: list[str]) -> str:
        args = ", ".join(f"{inst}.{n}" for n in names)
        return f'$display("{MARK}{kind} %0d{" %b" * len(names)}", $time, {args});'

    # the initial line catches inputs that start at a declared value (no change event at time 0)
    monitor = (f"\ninitial #0 {line('I', inputs)}\n"
               f"always @({' or '.join(f'{inst}.{n}' for n in inputs)}) {line('I', inputs)}\n" if inputs else "")
    monitor += f'final $display("{MARK}E %0d", $time);\n'
    at = clocks[0].end()
    text = testbench[:at] + " " + line("S", outputs) + testbench[at:end] + monitor + testbench[end:]
    return text, "/".join(re.sub(r"\s+", " ", part) for part in scales[0])


def parse_record(log: str, n_inputs: int, n_outputs: int) -> tuple[list[tuple[str, int, list[str]]], str]:
    """The recorded events ``(kind, time, bits)`` of a phase-1 log, and why it cannot be replayed ("" when it
    can): ``timeout`` (the guard fired at no known time), ``no_summary``, ``no_samples``, ``sample_count`` (the
    testbench counted other samples), ``malformed``. Where the testbench's own guard fired (it printed
    ``TIMEOUT``, so every design that runs that long gets ``tb_timeout``), the events end with ``("E", time the
    simulation ended, [])``."""
    events, summaries, guard, end = [], [], False, None
    for raw in log.splitlines():
        if raw.startswith(MARK):
            kind, time, *bits = raw[len(MARK):].split()
            if kind == "E" and not bits and end is None:
                end = int(time)
                continue
            if end is not None or kind not in ("I", "S") or len(bits) != (n_inputs if kind == "I" else n_outputs) \
                    or not all(_BITS.fullmatch(b) for b in bits):
                return events, "malformed"
            events.append((kind, int(time), bits))
        elif raw.strip() == "TIMEOUT":
            guard = True
        elif m := _MISMATCH.search(raw):
            summaries.append(int(m.group(2)))
    samples = sum(kind == "S" for kind, _, _ in events)
    if guard and (end is None or (events and events[-1][1] > end)):
        return events, "timeout"
    if len(summaries) != 1:
        return events, "no_summary"
    if samples == 0:
        return events, "no_samples"
    if summaries[0] != samples:
        return events, "sample_count"
    return events + [("E", end, [])] if guard else events, ""


_FOLD_PERIOD = 8
_FOLD_MIN = 3


def program(events) -> list:
    """The harness's statements for ``events``: ``("delay", dt)``, ``("zero",)`` (``#0`` between two input
    changes of one time), ``("inputs", bits)``, ``("sample",)``, ``("end",)``, and a block of them repeated
    back to back folded into ``("repeat", count, block)`` (a clock of 10^5 cycles is one loop, not 10^5 lines
    to compile; a loop adds no time and no event, so the replay is the same). A guard recording's (ending in
    ``E``) has no samples: its verdict does not depend on the design's values, only on its running that long."""
    guard = bool(events) and events[-1][0] == "E"
    steps, now, previous = [], 0, ""
    for kind, time, bits in events:
        if kind == "S" and guard:
            continue
        if time > now:
            steps.append(("delay", time - now))
            now, previous = time, ""
        if kind == "S":
            steps.append(("sample",))
        elif kind == "E":
            steps.append(("end",))
        else:
            if previous == "I":
                steps.append(("zero",))
            steps.append(("inputs", tuple(bits)))
        previous = kind
    return _fold(steps)


def _fold(steps: list) -> list:
    """``steps`` with each run of at least :data:`_FOLD_MIN` back-to-back copies of a block of up to
    :data:`_FOLD_PERIOD` steps folded into a ``repeat`` (greedy, the longest run from each position)."""
    ids: dict = {}
    seq = [ids.setdefault(step, len(ids)) for step in steps]
    out, i, n = [], 0, len(seq)
    while i < n:
        covered, period = 0, 0
        for p in range(1, _FOLD_PERIOD + 1):
            if i + 2 * p > n:
                break
            block, count = seq[i:i + p], 1
            while seq[i + count * p:i + (count + 1) * p] == block:
                count += 1
            if count >= _FOLD_MIN and count * p > covered:
                covered, period = count * p, p
        if covered:
            out.append(("repeat", covered // period, tuple(steps[i:i + period])))
            i += covered
        else:
            out.append(steps[i])
            i += 1
    return out


def port_widths(events, inputs: list[str], outputs: list[str]) -> dict[str, int]:
    """Each port's width in ``events`` (1 where it never appears)."""
    widths = {n: 1 for n in inputs + outputs}
    for kind, _, bits in events:
        for name, b in zip(inputs if kind == "I" else outputs if kind == "S" else (), bits):
            widths[name] = max(widths[name], len(b))
    return widths


def harness(steps: list, widths: dict[str, int], inputs: list[str], outputs: list[str], designs, timescale: str,
            suffix: str, finish: bool = True) -> str:
    """A module that runs :func:`program`'s ``steps``, replaying the inputs into each of ``designs`` (``(top
    module, tag)`` pairs) and printing one line per sample and design behind that design's tag (see
    :func:`read_samples`), and a guard recording's end as ``E``. Each design has its own input and output nets;
    every name the harness declares ends in ``suffix``. After the last step it calls ``$finish``, or with
    ``finish=False`` sets its ``done_<suffix>`` to 1 (for a simulation that ends when several harnesses are
    done)."""
    total = sum(widths[n] for n in outputs)
    decl, insts, samplers, regs = [], [], [], []
    for k, (top, tag) in enumerate(designs):
        ins = [f"i_{n}_{k}_{suffix}" for n in inputs]
        outs = [f"o_{n}_{k}_{suffix}" for n in outputs]
        regs.append(ins)
        decl += [f"reg [{widths[n] - 1}:0] {v};" for n, v in zip(inputs, ins)]
        decl += [f"wire [{widths[n] - 1}:0] {v};" for n, v in zip(outputs, outs)]
        decl.append(f"reg [{total - 1}:0] p_{k}_{suffix};")
        ports = ", ".join(f".{n}({v})" for n, v in zip(inputs + outputs, ins + outs))
        insts.append(f"{top} dut_{k}_{suffix} ({ports});")
        joined = "{" + ", ".join(outs) + "}"
        # unchanged since the last sample: "="; known bits: hex; any x/z: binary (x/z per bit)
        samplers.append(f"task s_{k}_{suffix}; begin\n"
                        f'if ({joined} === p_{k}_{suffix}) $display("{tag}=");\n'
                        f'else if (^{joined} === 1\'bx) $display("{tag}S{" %b" * len(outs)}", {", ".join(outs)});\n'
                        f'else $display("{tag}H{" %h" * len(outs)}", {", ".join(outs)});\n'
                        f"p_{k}_{suffix} = {joined};\nend endtask\n")
    sample = "#0 begin " + " ".join(f"s_{k}_{suffix};" for k in range(len(designs))) + " end"
    ended = " ".join(f'$display("{tag}E");' for _, tag in designs)

    def render(items) -> list[str]:
        lines = []
        for item in items:
            if item[0] == "repeat":
                lines += [f"repeat ({item[1]}) begin", *render(item[2]), "end"]
            elif item[0] == "delay":
                lines.append(f"#{item[1]};")
            elif item[0] == "zero":
                lines.append("#0;")
            elif item[0] == "sample":
                lines.append(sample)
            elif item[0] == "end":
                lines.append(ended)
            else:
                lines.append(" ".join(f"{v} = {_literal(b)};" for ins in regs for v, b in zip(ins, item[1])))
        return lines

    if not finish:
        decl.append(f"reg done_{suffix} = 1'b0;")
    end = "$finish;" if finish else f"done_{suffix} = 1'b1;"
    return (f"`timescale {timescale}\nmodule replay_{suffix};\n" + "\n".join(decl) + "\n" + "\n".join(insts)
            + "\n" + "".join(samplers) + "initial begin\n" + "\n".join(render(steps)) + f"\n{end}\nend\nendmodule\n")


def _literal(bits: str) -> str:
    return f"{len(bits)}'h{int(bits, 2):x}" if set(bits) <= {"0", "1"} else f"{len(bits)}'b{bits}"


def read_samples(lines: list[str], widths: list[int]) -> list[list[str]] | None:
    """The design's samples from the harness's lines (``=``: as the previous sample, which starts all x;
    ``H`` hex values; ``S`` binary values), as bit strings of ``widths``; None when a line is malformed."""
    previous = ["x" * w for w in widths]
    out = []
    for line in lines:
        kind, *values = line.split()
        if kind == "=" and not values:
            out.append(previous)
            continue
        if len(values) != len(widths) or kind not in ("H", "S"):
            return None
        try:
            bits = [format(int(v, 16), f"0{w}b") if kind == "H" else v for v, w in zip(values, widths)]
        except ValueError:
            return None
        if any(len(b) != w or not _BITS.fullmatch(b) for b, w in zip(bits, widths)):
            return None
        out.append(previous := bits)
    return out


def trace_of(events, outputs: list[str]) -> dict:
    """The reference's samples as :func:`compare` takes them: ``{"outputs", "times", "samples"}``; for a guard
    recording no sample (none is compared) and ``"end"``, the time the testbench's guard ended the simulation."""
    if events and events[-1][0] == "E":
        return {"outputs": list(outputs), "times": [], "samples": [], "end": events[-1][1]}
    samples = [(t, bits) for kind, t, bits in events if kind == "S"]
    return {"outputs": list(outputs), "times": [t for t, _ in samples], "samples": [b for _, b in samples]}


def design_samples(trace: dict, lines: list[str]) -> list[list[str]] | None:
    """The design's samples from its tagged rows when they are whole (as many as the trace's; for a guard
    trace, no sample and the one ``E`` line), else None."""
    if trace.get("end") is not None:
        return [] if lines == ["E"] else None
    got = read_samples(lines, [len(b) for b in trace["samples"][0]])
    return got if got is not None and len(got) == len(trace["samples"]) else None


def _pack(data) -> str:
    return base64.b64encode(zlib.compress(json.dumps(data).encode(), 6)).decode()


def _unpack(text: str, what: str):
    try:
        return json.loads(zlib.decompress(base64.b64decode(text)))
    except (zlib.error, ValueError, TypeError) as exc:
        raise ValueError(f"not a recorded {what}: {exc}") from None


def encode_trace(trace: dict) -> str:
    """A :func:`trace_of` trace for the judge, as compressed JSON."""
    return _pack(trace)


def decode_trace(text: str, outputs: list[str] | None = None) -> dict:
    """:func:`encode_trace`'s trace; ValueError when ``text`` is not one (with ``outputs``: not one of these
    outputs, each sample one bit string per output)."""
    trace = _unpack(text, "trace")
    if outputs is not None and not (
            isinstance(trace, dict) and trace.get("outputs") == list(outputs)
            and isinstance(trace.get("times"), list) and isinstance(trace.get("samples"), list)
            and len(trace["times"]) == len(trace["samples"])
            and all(isinstance(s, list) and len(s) == len(outputs) and all(isinstance(b, str) and _BITS.fullmatch(b)
                                                                          for b in s) for s in trace["samples"])
            and (trace["samples"] or isinstance(trace.get("end"), int))):
        raise ValueError("not a recorded trace: malformed")
    return trace


def encode_program(steps: list, widths: dict[str, int]) -> str:
    """:func:`program`'s steps and :func:`port_widths`'s widths as compressed JSON (what a stored recording
    keeps of the stimulus)."""
    return _pack({"steps": steps, "widths": widths})


def decode_program(text: str, inputs: list[str], outputs: list[str]) -> tuple[list, dict[str, int]]:
    """:func:`encode_program`'s steps and widths; ValueError when ``text`` is not a program for these ports."""
    data = _unpack(text, "program")

    def valid(items, depth: int) -> bool:
        for item in items:
            if not isinstance(item, list) or not item:
                return False
            kind, rest = item[0], item[1:]
            if kind == "repeat":
                if (depth or len(rest) != 2 or not isinstance(rest[0], int) or rest[0] < 1
                        or not isinstance(rest[1], list) or not valid(rest[1], depth + 1)):
                    return False
            elif kind == "delay":
                if len(rest) != 1 or not isinstance(rest[0], int) or rest[0] < 1:
                    return False
            elif kind == "inputs":
                if len(rest) != 1 or not isinstance(rest[0], list) or len(rest[0]) != len(inputs) or not all(
                        isinstance(b, str) and _BITS.fullmatch(b) and len(b) <= widths.get(n, 0)
                        for n, b in zip(inputs, rest[0])):
                    return False
            elif kind not in ("zero", "sample", "end") or rest:
                return False
        return True

    widths = data.get("widths") if isinstance(data, dict) else None
    if (not isinstance(widths, dict) or sorted(widths) != sorted(set(inputs + outputs))
            or not all(isinstance(w, int) and w >= 1 for w in widths.values())
            or not isinstance(data.get("steps"), list) or not valid(data["steps"], 0)):
        raise ValueError("not a recorded program: malformed")
    return data["steps"], widths


def compare(trace: dict, dut: list[list[str]]) -> dict:
    """Per output, the samples where the design differs from the reference: a reference 0/1 bit must be the
    design's bit (X/Z in the design is a mismatch), a reference x is a don't-care and a reference z never
    matches (VerilogEval's ``ref === (ref ^ dut ^ ref)``). ``dut`` holds one list of bit strings per sample,
    as many samples as the trace."""
    per_output = {n: {"mismatches": 0, "first_time": None} for n in trace["outputs"]}
    mismatches = 0
    for time, ref, got in zip(trace["times"], trace["samples"], dut):
        bad = False
        for name, r, d in zip(trace["outputs"], ref, got):
            if (r != d or "z" in r) and any(rb == "z" or (rb != "x" and rb != db) for rb, db in zip(r, d)):
                row = per_output[name]
                row["mismatches"] += 1
                row["first_time"] = time if row["first_time"] is None else row["first_time"]
                bad = True
        mismatches += bad
    return {"mismatches": mismatches, "samples": len(trace["samples"]), "outputs": per_output}


def report(result: dict) -> list[str]:
    """:func:`compare`'s result in the words of VerilogEval's testbenches (their hints and summary line)."""
    lines = []
    for name, row in result["outputs"].items():
        if row["mismatches"]:
            lines.append(f"Hint: Output '{name}' has {row['mismatches']} mismatches. "
                         f"First mismatch occurred at time {row['first_time']}.")
        else:
            lines.append(f"Hint: Output '{name}' has no mismatches.")
    lines.append(f"Hint: Total mismatched samples is {result['mismatches']} out of {result['samples']} samples")
    return lines + [f"Mismatches: {result['mismatches']} in {result['samples']} samples"]


def check_oracle(events, config: dict, oracle: str, harness_path: str) -> bool:
    """True when the oracle (the reference as the top module) replayed through the harness gives exactly the
    recorded samples. False means the testbench's stimulus races the reference's processes (inputs written
    with blocking assignments at the clock edge, seen before or after the edge depending on the simulator's
    process order), which a replay cannot reproduce."""
    import os
    import subprocess

    folder = os.path.dirname(harness_path) or "."
    sim = os.path.join(folder, "check.vvp")
    built = subprocess.run([config["iverilog"], "-g2012", "-o", sim, oracle, harness_path], capture_output=True,
                           stdin=subprocess.DEVNULL)
    if built.returncode != 0:
        return False
    ran = subprocess.run([config["vvp"], "-n", sim], capture_output=True, stdin=subprocess.DEVNULL)
    tag = config["tag"]
    lines = [ln[ln.index(tag) + len(tag):] for ln in ran.stdout.decode("utf-8", "replace").splitlines() if tag in ln]
    trace = trace_of(events, config["outputs"])
    got = design_samples(trace, lines)
    return got is not None and compare(trace, got)["mismatches"] == 0


def main(argv: list[str]) -> int:
    """``replay.py CONFIG LOG ORACLE HARNESS TOP [PROGRAM]``: CONFIG is the job's JSON (``tag``, ``suffix``, ``top``,
    ``timescale``, ``inputs``, ``outputs``, ``iverilog``, ``vvp``), LOG phase 1's output, ORACLE the reference
    as the top module. Writes HARNESS and the harness's module name to TOP; prints the encoded trace and exits
    0, or prints why the log cannot be replayed (:func:`parse_record`'s reasons, ``race``) and exits 1. PROGRAM,
    when given, receives the stimulus (:func:`encode_program`)."""
    config_path, log_path, oracle, harness_path, top_path, *program_path = argv
    with open(config_path) as fh:
        config = json.load(fh)
    with open(log_path, encoding="utf-8", errors="replace") as fh:
        events, problem = parse_record(fh.read(), len(config["inputs"]), len(config["outputs"]))
    if problem:
        print(problem)
        return 1
    steps, widths = program(events), port_widths(events, config["inputs"], config["outputs"])
    with open(harness_path, "w") as fh:
        fh.write(harness(steps, widths, config["inputs"], config["outputs"], [(config["top"], config["tag"])],
                         config["timescale"], config["suffix"]))
    if not check_oracle(events, config, oracle, harness_path):
        print("race")
        return 1
    with open(top_path, "w") as fh:
        fh.write(f"replay_{config['suffix']}")
    for path in program_path:
        with open(path, "w") as fh:
            fh.write(encode_program(steps, widths))
    print(encode_trace(trace_of(events, config["outputs"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
