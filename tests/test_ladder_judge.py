"""The ladder judge's drawn stimuli (issue 28): per-job seeds from a key the job never sees, traces that reach every
state of the reference, score = fraction of draws passed, references PASS on every draw."""

import itertools

import pytest

from codealign.domains import draws
from codealign.domains.ladder import LadderDomain
from codealign.domains.ladder.equivalence import covering_traces, random_traces
from codealign.domains.ladder.parser import parse_program
from codealign.domains.ladder.scoring import DRAWN_STEPS, DRAWN_TRACES, score_candidate
from codealign.domains.ladder.simulator import Simulator
from codealign.domains.ladder.assets import LadderTask
from codealign.domains.ladder.tasks import FAMILIES, bundled_tasks
from codealign.types import Candidate

DRAWS = 20


def one_task_per_family():
    tasks = bundled_tasks("train") + bundled_tasks("heldout")
    return [next(t for t in tasks if t.metadata["family"] == f) for f in FAMILIES]


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEALIGN_HOME", str(tmp_path / "home"))
    draws._load.cache_clear()
    yield tmp_path / "home"
    draws._load.cache_clear()


def test_job_carries_the_seed_and_never_the_key(fresh_home):
    task = bundled_tasks("train")[0]
    candidate = Candidate(task.task_id, task.metadata["solution"])
    domain = LadderDomain()
    job = domain.prepare(task, candidate)
    key = draws.judge_key()
    assert job.files["seed.txt"] == str(domain.draw_seed(task, candidate))
    assert all(key.hex() not in text and str(key) not in text for text in job.files.values())
    assert "judge.key" not in job.script and not any(str(fresh_home) in b for b in job.binds)


def reachable_states(sim: Simulator, inputs: list[str]) -> set:
    vectors = [dict(zip(inputs, bits)) for bits in itertools.product((False, True), repeat=len(inputs))]
    sim.reset()
    start = sim.state()
    seen, todo = {start}, [start]
    while todo:
        state = todo.pop()
        for vector in vectors:
            sim.load(state)
            sim.assign(vector)
            sim.scan()
            if sim.state() not in seen:
                seen.add(sim.state())
                todo.append(sim.state())
    return seen - {start}


@pytest.mark.parametrize("task", one_task_per_family(), ids=FAMILIES)
def test_drawn_and_covering_traces_reach_every_reachable_state_of_the_reference(task):
    reference, inputs, outputs = parse_program(task.assets["reference"]), task.assets["inputs"], task.assets["outputs"]
    sim = Simulator(reference)
    for seed in range(3):
        visited: set = set()
        for trace in random_traces((reference,), inputs, outputs, {}, 100, seed, DRAWN_TRACES, DRAWN_STEPS):
            sim.run(trace, visited)
        for trace in covering_traces(sim, inputs, outputs, visited, seed):
            sim.run(trace, visited)
        assert reachable_states(sim, inputs) <= visited


def test_covering_traces_reach_the_states_a_single_trace_missed():
    task = next(t for t in bundled_tasks("train") if t.metadata["family"] == "delayed_start")
    reference, inputs, outputs = parse_program(task.assets["reference"]), task.assets["inputs"], task.assets["outputs"]
    sim = Simulator(reference)
    visited: set = set()
    sim.run(random_traces((reference,), inputs, outputs, {}, 100, 0, 1, 2)[0], visited)
    cover = covering_traces(sim, inputs, outputs, visited, 0)
    assert cover
    for trace in cover:
        sim.run(trace, visited)
    assert reachable_states(sim, inputs) <= visited


@pytest.mark.slow
@pytest.mark.parametrize("task", one_task_per_family(), ids=FAMILIES)
def test_family_reference_passes_on_twenty_draws(task):
    lt = LadderTask.from_task(task)
    for seed in range(DRAWS):
        verdict = score_candidate(lt, task.metadata["solution"], seed=seed)
        assert (verdict["verdict"], verdict["score"]) == ("PASS", 1.0), (seed, verdict["details"])


def on_delay_one_second():
    return next(t for t in bundled_tasks("train") if t.task_id.startswith("ld-timer-names1-on_delay-scans10"))


def test_candidate_that_passes_only_some_draws_fails_with_the_fraction_passed():
    task = on_delay_one_second()
    wrong = task.metadata["solution"].replace("PT=1s", "PT=800ms")
    verdict = score_candidate(LadderTask.from_task(task), wrong, seed=1)
    details = verdict["details"]
    assert verdict["verdict"] == "FAIL" and 0 < verdict["score"] < 1
    assert verdict["score"] == details["traces_passed"] / details["traces_run"]


def test_draws_differ_between_seeds_but_not_between_runs():
    task = one_task_per_family()[0]
    reference, inputs, outputs = parse_program(task.assets["reference"]), task.assets["inputs"], task.assets["outputs"]

    def drawn(seed):
        return [t.to_dict() for t in random_traces((reference,), inputs, outputs, {}, 100, seed, DRAWN_TRACES,
                                                   DRAWN_STEPS)]

    assert drawn(1) == drawn(1) and drawn(1) != drawn(2)


def test_in_process_and_sandboxed_judges_use_the_same_draw(backend):
    import codealign

    task = on_delay_one_second()
    candidate = Candidate(task.task_id, task.metadata["solution"].replace("PT=1s", "PT=800ms"))
    fast = LadderDomain(in_process=True).evaluate(task, candidate, backend)
    [slow] = codealign.execute([task], [candidate], domain=LadderDomain(), backend=backend, progress=False,
                               cache=None)
    assert (fast.verdict, fast.score) == (slow.verdict, slow.score)
