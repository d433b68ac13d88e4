"""Scorer adapters for online RL: the execution verdict as a reward, for verl, TRL GRPO and OpenRLHF.

* :func:`compute_score` — verl's custom reward signature ``compute_score(data_source, solution_str,
  ground_truth, extra_info)``; point ``custom_reward_function.path`` at this file and ``.name`` at
  ``compute_score``. ``data_source`` names the domain (``verilog`` or ``codealign/verilog``);
  ``ground_truth`` is a Task as a dict or JSON string (:func:`verl_row` writes such rows).
* :func:`grpo_reward` — a TRL ``reward_funcs`` entry: ``f(prompts, completions, task_id, **kw) -> [float]``,
  the dataset carrying a ``task_id`` column; completions may be strings or chat messages.
* :func:`make_reward_server` / :func:`serve` — an HTTP endpoint for OpenRLHF's ``--remote_rm_url``:
  ``POST /get_reward`` with ``{"query": [...], "prompts": [...], "labels": [...]}`` answers
  ``{"rewards": [...], "scores": [...], "extra_logs": {...}}``. ``query`` is prompt + response; the response
  is what follows the prompt. ``labels`` are task ids (looked up in the served tasks) or Task JSON.

The reward is the score pairs are ranked by (:func:`codealign.pairs.pool.effective_score`) of the model's answer
after code extraction (:func:`codealign.domains.candidates.make_candidate`); a SANDBOX_ERROR scores 0 and is
counted in the logs, never raised. Bad requests (unknown domain or task) raise UserError, or answer HTTP 400 on the server.
"""

from __future__ import annotations

import functools
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Mapping, Sequence

from codealign.errors import UserError
from codealign.pairs.pool import effective_score
from codealign.types import ExecResult, Task, Verdict


def _domain_name(data_source: str) -> str:
    from codealign.domains import domain_names

    name = data_source.replace(":", "/").rsplit("/", 1)[-1]
    if name not in domain_names():
        raise UserError(f"data_source {data_source!r} names no domain; use one of: {', '.join(domain_names())}")
    return name


def task_from_ground_truth(ground_truth: Any, domain: str, extra_info: Mapping | None = None) -> Task:
    """A Task from a ground truth: a Task dict / JSON string, or a bare assets dict."""
    if isinstance(ground_truth, str):
        try:
            ground_truth = json.loads(ground_truth)
        except json.JSONDecodeError as exc:
            raise UserError(f"ground_truth is not JSON: {exc.msg}") from None
    if not isinstance(ground_truth, Mapping):
        raise UserError(f"ground_truth must be a Task or assets object, got {type(ground_truth).__name__}")
    extra = dict(extra_info or {})
    if "assets" in ground_truth:
        row = {"task_id": extra.get("task_id", "task"), "domain": domain, "prompt": extra.get("prompt", ""),
               **ground_truth}
        return Task.from_dict(row)
    return Task(str(extra.get("task_id", "task")), domain, str(extra.get("prompt", "")), assets=dict(ground_truth))


class Scorer:
    """Judges model answers for one domain in the sandbox, in parallel through the executor."""

    def __init__(self, domain: str | Any, tasks: Iterable[Task] = (), backend: str = "auto", workers: int | None = None,
                 *, executor: str = "local", cache: Any = None):
        """``domain``: a domain name or a built domain; ``executor`` and ``cache`` as in
        :func:`codealign.execution.executor.execute` (None: no verdict cache)."""
        from codealign.domains import get_domain
        from codealign.sandbox.backends import get_backend

        self.domain = get_domain(domain) if isinstance(domain, str) else domain
        self.backend = get_backend(backend)
        self.workers = workers
        self.executor = executor
        self.cache = cache
        self.tasks = {t.task_id: t for t in tasks}

    def task(self, label: Any) -> Task:
        """The task a label names: a known task id, or a Task given inline (dict or JSON)."""
        if isinstance(label, str) and label in self.tasks:
            return self.tasks[label]
        if isinstance(label, str) and not label.lstrip().startswith("{"):
            raise UserError(f"unknown task id {label!r}")
        return task_from_ground_truth(label, self.domain.name)

    def judge(self, tasks: Sequence[Task], answers: Sequence[str]) -> list[ExecResult]:
        """One verdict per (task, answer), answers extracted as the generate stage does."""
        from codealign.domains.candidates import make_candidate
        from codealign.execution.executor import execute

        if len(tasks) != len(answers):
            raise UserError(f"{len(answers)} answers for {len(tasks)} tasks")
        candidates = [make_candidate(t, a, {"source": "reward"}) for t, a in zip(tasks, answers)]
        unique: dict[str, Task] = {}
        for task in tasks:
            if unique.setdefault(task.task_id, task) != task:
                raise UserError(f"two different tasks share task_id {task.task_id!r} in one batch")
        return execute(self.domain, list(unique.values()), candidates, backend=self.backend, executor=self.executor,
                       workers=self.workers, cache=self.cache, progress=False)

    def rewards(self, tasks: Sequence[Task], answers: Sequence[str]) -> list[float]:
        return [effective_score(r) for r in self.judge(tasks, answers)]


@functools.lru_cache(maxsize=8)
def _cached_scorer(domain: str) -> Scorer:
    return Scorer(domain, workers=1)


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping | None = None) -> float:
    """verl's custom reward function: the reward of ``solution_str`` for the task in ``ground_truth``."""
    scorer = _cached_scorer(_domain_name(data_source))
    task = task_from_ground_truth(ground_truth, scorer.domain.name, extra_info)
    return scorer.rewards([task], [solution_str])[0]


def verl_row(task: Task, ability: str = "code") -> dict[str, Any]:
    """A verl RL dataset row for ``task`` (chat prompt, rule reward whose ground truth is the Task JSON)."""
    return {
        "data_source": f"codealign/{task.domain}",
        "prompt": [{"role": "user", "content": task.prompt}],
        "ability": ability,
        "reward_model": {"style": "rule", "ground_truth": json.dumps(task.to_dict())},
        "extra_info": {"task_id": task.task_id},
    }


def _completion_text(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], Mapping):
        return str(completion[-1].get("content", ""))
    raise UserError(f"completion must be a string or chat messages, got {type(completion).__name__}")


def grpo_reward(domain: str | Any, tasks: Iterable[Task], backend: str = "auto", workers: int | None = None, *,
                executor: str = "local", cache: Any = None, stop: Sequence[str] = ()) -> Callable:
    """A TRL GRPO reward function scoring completions by execution; the dataset needs a ``task_id`` column
    naming one of ``tasks``. ``stop``: a completion is judged up to the first of these strings, as sampling
    with them would have kept it."""
    scorer = Scorer(domain, tasks, backend, workers, executor=executor, cache=cache)

    def cut(text: str) -> str:
        ends = [i for i in (text.find(s) for s in stop) if i >= 0]
        return text[: min(ends)] if ends else text

    def reward(prompts: list, completions: list, task_id: list[str] | None = None, **kwargs) -> list[float]:
        if task_id is None:
            raise UserError("the GRPO dataset needs a 'task_id' column for the execution reward")
        return scorer.rewards([scorer.task(t) for t in task_id], [cut(_completion_text(c)) for c in completions])

    reward.__name__ = f"codealign_{scorer.domain.name}_reward"
    return reward


def _response(query: str, prompt: str | None) -> str:
    if prompt and query.startswith(prompt):
        return query[len(prompt):]
    return query


def make_reward_server(scorer: Scorer, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An OpenRLHF remote reward server (not started; call ``serve_forever``). Port 0 picks a free port,
    readable from ``server.server_address``."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") != "/get_reward":
                self._send(404, {"error": f"no endpoint {self.path}; POST /get_reward"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                queries = body.get("query")
                if not isinstance(queries, list):
                    raise UserError("request needs 'query': a list of prompt+response strings")
                prompts = body.get("prompts") or [None] * len(queries)
                labels = body.get("labels")
                if not isinstance(labels, list) or len(labels) != len(queries) or len(prompts) != len(queries):
                    raise UserError("'labels' (and 'prompts' when given) must be lists as long as 'query'")
                tasks = [scorer.task(label) for label in labels]
                results = scorer.judge(tasks, [_response(q, p) for q, p in zip(queries, prompts)])
            except (UserError, json.JSONDecodeError, ValueError, TypeError) as exc:
                self._send(400, {"error": str(exc)})
                return
            rewards = [effective_score(r) for r in results]
            self._send(200, {
                "rewards": rewards,
                "scores": rewards,
                "extra_logs": {
                    "pass": [float(r.verdict is Verdict.PASS) for r in results],
                    "sandbox_error": [float(r.verdict is Verdict.SANDBOX_ERROR) for r in results],
                },
            })

        def log_message(self, format: str, *args) -> None:
            print(f"reward-server {self.address_string()} {format % args}", file=sys.stderr)

    return ThreadingHTTPServer((host, port), Handler)


def serve(scorer: Scorer, host: str = "127.0.0.1", port: int = 5000) -> None:
    """Serve until interrupted."""
    server = make_reward_server(scorer, host, port)
    print(f"codealign reward server for {scorer.domain.name} on http://{host}:{server.server_address[1]}/get_reward",
          file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

