"""Hostile designs mixed into batches of honest ones (:mod:`codealign.domains.verilog.batch`): every member's
verdict, the hostile one's included, equals its verdict alone. Each test also shows which way the batch went
(formed, or judged alone after a disturbance), so it cannot pass by never batching. bwrap and docker."""

import dataclasses

import pytest

from codealign.domains.verilog import VerilogDomain
from codealign.domains.verilog.batch import comparable
from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.types import Candidate, Verdict

pytestmark = pytest.mark.slow  # every test runs a batch and its members alone, under bwrap and docker

REG_HEAD = "module TopModule(input clk, input reset, input en, output reg [3:0] q);\n"
GOOD = REG_HEAD + ("always @(posedge clk) if (reset) q <= 4'd0; else if (en) q <= (q == 4'd11) ? 4'd0 : q + 4'd1;\n"
                   "endmodule\n")
WRONG = REG_HEAD + "always @(posedge clk) q <= reset ? 4'd0 : q + 4'd3;\nendmodule\n"
NO_WRAP = REG_HEAD + "always @(posedge clk) if (reset) q <= 4'd0; else if (en) q <= q + 4'd1;\nendmodule\n"
HONEST = [GOOD, WRONG, NO_WRAP]

HOSTILE = {
    # never returns at the first clock edge: TIMEOUT alone, so the batch times out and all are judged alone (a
    # blocking assignment: a nonblocking one queues an event per pass, and a fast machine runs out of memory first)
    "zero_delay_loop": REG_HEAD + "integer i;\nalways @(posedge clk) for (i = 0; i >= 0; i = i + 0) q = 0;\n"
                                  "endmodule\n",
    "output_flood": GOOD.replace("endmodule", 'always @(posedge clk) repeat (20000) $display("%0128d", 0);\n'
                                              "endmodule"),
    # the checker accepts it; only the compiler refuses it (an always without delay): the alone compile fails
    "fails_only_to_compile": GOOD.replace("endmodule", "reg t;\nalways t = ~t;\nendmodule"),
    # defines the module names a member gets (the suffix is random, so these are just its own modules)
    "defines_renamed_looking_modules": REG_HEAD + "TopModule_000000000000 u(.clk(clk), .q(q));\nendmodule\n"
                                       "module TopModule_000000000000(input clk, output reg [3:0] q);\n"
                                       "always @(posedge clk) q <= 4'd1;\nendmodule\n",
    "random_user": REG_HEAD + "integer s = 1;\nalways @(posedge clk) q <= $random(s);\nendmodule\n",
    "names_another_members_module": REG_HEAD + "Counter u(.clk(clk), .q(q));\nendmodule\n",
    "names_the_harness": REG_HEAD + "always @(posedge clk) q <= replay.o_q_0;\nendmodule\n",
    # Icarus allocates the whole array when the simulation starts: far past the 1 GiB memory limit
    "memory_hog": GOOD.replace("endmodule", "reg [7:0] m [0:(1<<27)-1];\ninitial m[0] = 1;\nendmodule"),
}
# which hostile designs share the simulation with the honest ones (the others disturb it or may not join)
JOINS = {"defines_renamed_looking_modules"}
DISTURBS = {"zero_delay_loop", "output_flood", "fails_only_to_compile", "memory_hog"}


@pytest.fixture(scope="module")
def task():
    demo = {t.task_id: t for t in load_verilogeval(None)}["Demo03_count_en"]
    return dataclasses.replace(demo, limits={"wall_s": 10.0, "cpu_s": 20.0})


@pytest.fixture(scope="module")
def domain(tmp_path_factory):
    dom = VerilogDomain(reference_store=str(tmp_path_factory.mktemp("refs")))
    yield dom
    dom.close()


def batch_and_alone(domain, task, texts, backend):
    cands = [Candidate(task.task_id, text, candidate_id=f"c{k}") for k, text in enumerate(texts)]
    batched = domain.evaluate_batch([task] * len(cands), cands, backend)
    alone = [domain.evaluate(task, c, backend) for c in cands]
    return batched, alone


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_member_changes_no_verdict_of_its_batch(domain, task, hiding_backend, name):
    texts = HONEST + [HOSTILE[name]]
    batched, alone = batch_and_alone(domain, task, texts, hiding_backend)
    assert [r.verdict for r in alone[:3]] == [Verdict.PASS, Verdict.FAIL, Verdict.FAIL]
    assert_hostile_last_changed_nothing(batched, alone, name)


def assert_hostile_last_changed_nothing(batched, alone, name):
    """Each verdict, the last (hostile) member's included, is its alone verdict, and the batch went the way
    ``name`` makes it go: judged alone after a disturbance, or formed with or without the hostile member."""
    settled = [a if b is None else b for b, a in zip(batched, alone)]  # a None is judged alone, as the executor does
    assert [comparable(r) for r in settled] == [comparable(r) for r in alone]
    honest = len(batched) - 1
    if name in DISTURBS:
        assert batched == [None] * len(batched)
    else:
        assert all(r is not None and r.details["batch"] == honest + (name in JOINS) for r in batched[:honest])
        assert (batched[honest] is not None) == (name in JOINS)


def test_disturbing_designs_get_their_alone_limit_or_compile_verdicts(domain, task, bwrap_backend):
    verdicts = {name: domain.evaluate(task, Candidate(task.task_id, HOSTILE[name]), bwrap_backend).verdict
                for name in sorted(DISTURBS)}
    assert verdicts == {"fails_only_to_compile": Verdict.COMPILE_ERROR, "memory_hog": Verdict.MEMORY,
                        "output_flood": Verdict.OUTPUT_LIMIT, "zero_delay_loop": Verdict.TIMEOUT}


def test_a_batch_of_distinct_honest_designs_gives_exactly_the_alone_verdicts(domain, task, hiding_backend):
    texts = HONEST + ["`timescale 1ns/1ps\n" + GOOD, GOOD.replace("4'd11", "4'd12")]
    batched, alone = batch_and_alone(domain, task, texts, hiding_backend)
    assert all(r is not None and r.details["batch"] == 5 for r in batched)
    assert [comparable(r) for r in batched] == [comparable(r) for r in alone]
    assert [r.verdict for r in batched] == [Verdict.PASS, Verdict.FAIL, Verdict.FAIL, Verdict.PASS, Verdict.FAIL]


MUX_HEAD = ("module TopModule(input [3:0] a, input [3:0] b, input [3:0] c, input [3:0] d, input [1:0] sel,\n"
            "output [3:0] out);\n")
MUX_GOOD = MUX_HEAD + "assign out = sel == 2'd0 ? a : sel == 2'd1 ? b : sel == 2'd2 ? c : d;\nendmodule\n"
MUX_WRONG = MUX_HEAD + "assign out = sel[0] ? b : a;\nendmodule\n"


@pytest.fixture(scope="module")
def three_tasks(task):
    """Demo03, Demo01 and Demo03 with its own guard firing before its stimulus ends, all with Demo03's limits."""
    mux = {t.task_id: t for t in load_verilogeval(None)}["Demo01_mux4"]
    guarded = dataclasses.replace(task, task_id="Demo03_guarded",
                                  assets=dict(task.assets, test=task.assets["test"].replace("#1000000", "#50")))
    return task, dataclasses.replace(mux, limits=task.limits), guarded


def mixed_batch_and_alone(domain, pairs, backend):
    tasks = [t for t, _ in pairs]
    cands = [Candidate(t.task_id, text, candidate_id=f"c{k}") for k, (t, text) in enumerate(pairs)]
    batched = domain.evaluate_batch(tasks, cands, backend)
    return batched, [domain.evaluate(t, c, backend) for t, c in zip(tasks, cands)]


def test_a_batch_of_several_tasks_gives_exactly_the_alone_verdicts(domain, three_tasks, hiding_backend):
    count, mux, guarded = three_tasks
    pairs = [(count, GOOD), (mux, MUX_GOOD), (guarded, GOOD), (count, WRONG), (mux, MUX_WRONG), (guarded, WRONG)]
    batched, alone = mixed_batch_and_alone(domain, pairs, hiding_backend)
    assert all(r is not None and r.details["batch"] == 6 for r in batched)
    assert [comparable(r) for r in batched] == [comparable(r) for r in alone]
    assert [(r.verdict, r.details["failure"]) for r in batched] == [
        (Verdict.PASS, ""), (Verdict.PASS, ""), (Verdict.TIMEOUT, "tb_timeout"),
        (Verdict.FAIL, "runtime_mismatch"), (Verdict.FAIL, "runtime_mismatch"), (Verdict.TIMEOUT, "tb_timeout")]


@pytest.mark.parametrize("name", ["zero_delay_loop", "output_flood", "defines_renamed_looking_modules",
                                  "names_the_harness", "random_user"])
@pytest.mark.parametrize("host", ["count", "guarded"])
def test_a_hostile_member_changes_no_verdict_of_a_batch_of_several_tasks(domain, three_tasks, bwrap_backend, name,
                                                                         host):
    count, mux, guarded = three_tasks
    pairs = [(count, GOOD), (mux, MUX_GOOD), (guarded, GOOD), (mux, MUX_WRONG),
             (guarded if host == "guarded" else count, HOSTILE[name])]
    batched, alone = mixed_batch_and_alone(domain, pairs, bwrap_backend)
    assert_hostile_last_changed_nothing(batched, alone, name)


def test_tasks_with_other_limits_never_share_a_batch(domain, three_tasks, bwrap_backend):
    count, mux, _ = three_tasks
    other = dataclasses.replace(mux, limits={"wall_s": 20.0, "cpu_s": 20.0})
    batched, _ = mixed_batch_and_alone(domain, [(count, GOOD), (other, MUX_GOOD)], bwrap_backend)
    assert batched == [None, None]
