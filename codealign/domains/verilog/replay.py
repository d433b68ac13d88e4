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
    at = clocks[0].end()
    text = testbench[:at] + " " + line("S", outputs) + testbench[at:end] + monitor + testbench[end:]
    return text, "/".join(re.sub(r"\s+", " ", part) for part in scales[0])


def parse_record(log: str, n_inputs: int, n_outputs: int) -> tuple[list[tuple[str, int, list[str]]], str]:
    """The recorded events ``(kind, time, bits)`` of a phase-1 log, and why it cannot be replayed ("" when it
    can): ``timeout``, ``no_summary``, ``no_samples``, ``sample_count`` (the testbench counted other samples),
    ``malformed``."""
    events, summaries = [], []
    for raw in log.splitlines():
        if raw.startswith(MARK):
            kind, time, *bits = raw[len(MARK):].split()
            if kind not in ("I", "S") or len(bits) != (n_inputs if kind == "I" else n_outputs) \
                    or not all(_BITS.fullmatch(b) for b in bits):
                return events, "malformed"
            events.append((kind, int(time), bits))
        elif raw.strip() == "TIMEOUT":
            return events, "timeout"
        elif m := _MISMATCH.search(raw):
            summaries.append(int(m.group(2)))
    samples = sum(kind == "S" for kind, _, _ in events)
    if len(summaries) != 1:
        return events, "no_summary"
    if samples == 0:
        return events, "no_samples"
    return events, "" if summaries[0] == samples else "sample_count"


def harness(events, inputs: list[str], outputs: list[str], designs, timescale: str, suffix: str) -> str:
    """A module that replays ``events`` into each of ``designs`` (``(top module, tag)`` pairs) and prints one
    line per sample and design behind that design's tag (see :func:`read_samples`). Each design has its own
    input and output nets; every name the harness declares ends in ``suffix``."""
    widths = {}
    for kind, _, bits in events:
        for name, b in zip(inputs if kind == "I" else outputs, bits):
            widths[name] = max(widths.get(name, 1), len(b))
    total = sum(widths.get(n, 1) for n in outputs)
    decl, insts, samplers, regs = [], [], [], []
    for k, (top, tag) in enumerate(designs):
        ins = [f"i_{n}_{k}_{suffix}" for n in inputs]
        outs = [f"o_{n}_{k}_{suffix}" for n in outputs]
        regs.append(ins)
        decl += [f"reg [{widths.get(n, 1) - 1}:0] {v};" for n, v in zip(inputs, ins)]
        decl += [f"wire [{widths.get(n, 1) - 1}:0] {v};" for n, v in zip(outputs, outs)]
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
    body, now, previous = [], 0, ""
    for kind, time, bits in events:
        if time > now:
            body.append(f"#{time - now};")
            now, previous = time, ""
        if kind == "S":
            body.append(sample)
        else:
            if previous == "I":
                body.append("#0;")
            body.append(" ".join(f"{v} = {_literal(b)};" for ins in regs for v, b in zip(ins, bits)))
        previous = kind
    return (f"`timescale {timescale}\nmodule replay_{suffix};\n" + "\n".join(decl) + "\n" + "\n".join(insts)
            + "\n" + "".join(samplers) + "initial begin\n" + "\n".join(body) + "\n$finish;\nend\nendmodule\n")


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


def encode_trace(events, outputs: list[str]) -> str:
    """The reference's samples for the judge: compressed JSON ``{"outputs", "times", "samples"}``."""
    samples = [(t, bits) for kind, t, bits in events if kind == "S"]
    data = {"outputs": outputs, "times": [t for t, _ in samples], "samples": [b for _, b in samples]}
    return base64.b64encode(zlib.compress(json.dumps(data).encode(), 6)).decode()


def encode_events(events) -> str:
    """Phase 1's events ``(kind, time, bits)`` as compressed JSON (what a stored recording keeps)."""
    return base64.b64encode(zlib.compress(json.dumps([list(e) for e in events]).encode(), 6)).decode()


def decode_events(text: str) -> list[tuple[str, int, list[str]]]:
    """:func:`encode_events`'s events; ValueError when ``text`` is not such a list."""
    try:
        raw = json.loads(zlib.decompress(base64.b64decode(text)))
    except (zlib.error, ValueError, TypeError) as exc:
        raise ValueError(f"not recorded events: {exc}") from None
    if not isinstance(raw, list) or not all(
            isinstance(e, list) and len(e) == 3 and e[0] in ("I", "S") and isinstance(e[1], int)
            and isinstance(e[2], list) and all(isinstance(b, str) and _BITS.fullmatch(b) for b in e[2])
            for e in raw):
        raise ValueError("not recorded events: malformed")
    return [(kind, time, bits) for kind, time, bits in raw]


def decode_trace(text: str) -> dict:
    """:func:`encode_trace`'s data; ValueError when ``text`` is not such a trace."""
    try:
        return json.loads(zlib.decompress(base64.b64decode(text)))
    except zlib.error as exc:
        raise ValueError(f"not a recorded trace: {exc}") from None


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
            if any(rb == "z" or (rb != "x" and rb != db) for rb, db in zip(r, d)):
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
    trace = decode_trace(encode_trace(events, config["outputs"]))
    got = read_samples(lines, [len(b) for b in trace["samples"][0]])
    return got is not None and len(got) == len(trace["samples"]) and compare(trace, got)["mismatches"] == 0


def main(argv: list[str]) -> int:
    """``replay.py CONFIG LOG ORACLE HARNESS TOP [EVENTS]``: CONFIG is the job's JSON (``tag``, ``suffix``, ``top``,
    ``timescale``, ``inputs``, ``outputs``, ``iverilog``, ``vvp``), LOG phase 1's output, ORACLE the reference
    as the top module. Writes HARNESS and the harness's module name to TOP; prints the encoded trace and exits
    0, or prints why the log cannot be replayed (:func:`parse_record`'s reasons, ``race``) and exits 1. EVENTS,
    when given, receives the replayable events (:func:`encode_events`)."""
    config_path, log_path, oracle, harness_path, top_path, *events_path = argv
    with open(config_path) as fh:
        config = json.load(fh)
    with open(log_path, encoding="utf-8", errors="replace") as fh:
        events, problem = parse_record(fh.read(), len(config["inputs"]), len(config["outputs"]))
    if problem:
        print(problem)
        return 1
    with open(harness_path, "w") as fh:
        fh.write(harness(events, config["inputs"], config["outputs"], [(config["top"], config["tag"])],
                         config["timescale"], config["suffix"]))
    if not check_oracle(events, config, oracle, harness_path):
        print("race")
        return 1
    with open(top_path, "w") as fh:
        fh.write(f"replay_{config['suffix']}")
    for path in events_path:
        with open(path, "w") as fh:
            fh.write(encode_events(events))
    print(encode_trace(events, config["outputs"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
