"""Sampling from any OpenAI-compatible server (vLLM's, TGI's, llama.cpp's, SGLang's, OpenAI's).

Uses the ``/v1/completions`` endpoint for plain or already formatted prompts and ``/v1/chat/completions``
for chat models (``chat=True``: the prompt becomes one user turn, plus an optional system turn). Requests go
through the standard library (no extra dependency), one per prompt with ``n`` choices, at most
``concurrency`` at a time, retried on connection errors, 429 (rate limit) and 5xx answers with exponential
backoff (``backoff_s``, doubling, at most 8 s); any other answer, or the last failure, is a one-line
:class:`~codealign.errors.UserError`. ``seed`` is sent; whether the server honours it is the server's business
(vLLM does, per request). The vLLM server path is the same HTTP protocol; vLLM itself is GPU-only and is not
installed on CPU machines, so only a stand-in server is tested here.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from codealign.errors import UserError
from codealign.generate import Generator, Sample, SamplingParams

RETRIED = frozenset({408, 429})
"""HTTP statuses retried besides 5xx: the server is busy or rate-limiting, not refusing the request."""


class OpenAIGenerator(Generator):
    kind = "openai"

    def __init__(self, model: str, *, base_url: str = "http://127.0.0.1:8000/v1", api_key: str | None = None,
                 chat: bool = False, system: str | None = None, timeout_s: float = 300.0, retries: int = 3,
                 concurrency: int = 8, backoff_s: float = 0.5):
        if not model:
            raise UserError("the openai generator needs --model (the name the server serves)")
        if concurrency < 1 or retries < 0 or backoff_s < 0:
            raise UserError(f"openai generator: concurrency must be >= 1 and retries, backoff >= 0; got "
                            f"concurrency={concurrency}, retries={retries}, backoff_s={backoff_s}")
        self.model_name = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.chat = chat
        self.system = system
        self.timeout_s = timeout_s
        self.retries = retries
        self.concurrency = concurrency
        self.backoff_s = backoff_s

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(f"{self.base_url}{route}", data=data, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    raw = response.read()
                try:
                    return json.loads(raw)
                except ValueError:
                    raise UserError(f"{self.base_url}{route}: the answer is not JSON: {raw[:200]!r}") from None
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}: {_error_detail(exc)}"
                if exc.code < 500 and exc.code not in RETRIED:
                    raise UserError(f"{self.base_url}{route}: {last}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = " ".join(str(getattr(exc, "reason", exc)).split())
            if attempt < self.retries:
                time.sleep(min(8.0, self.backoff_s * 2**attempt))
        raise UserError(f"{self.base_url}{route}: no answer after {self.retries + 1} tries (last: {last})")

    def _choices(self, route: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        answer = self._post(route, body)
        choices = answer.get("choices") if isinstance(answer, dict) else None
        if not isinstance(choices, list):
            raise UserError(f"{self.base_url}{route}: the answer has no 'choices' list: {str(answer)[:200]!r}")
        return choices

    def _one(self, prompt: str, n: int, params: SamplingParams) -> list[Sample]:
        body: dict[str, Any] = {"model": self.model_name, "n": n, "temperature": params.temperature,
                                "top_p": params.top_p, "max_tokens": params.max_new_tokens, "seed": params.seed}
        if params.stop:
            body["stop"] = list(params.stop)
        if self.chat:
            messages = ([{"role": "system", "content": self.system}] if self.system else [])
            body["messages"] = messages + [{"role": "user", "content": prompt}]
            choices = self._choices("/chat/completions", body)
            texts = [((c.get("message") or {}).get("content") or "", c.get("finish_reason")) for c in choices]
        else:
            body["prompt"] = prompt
            choices = self._choices("/completions", body)
            texts = [(c.get("text") or "", c.get("finish_reason")) for c in choices]
        # OpenAI's "stop" covers both the model's end of text and a stop string; only "length" means cut off.
        return [Sample(text, "length" if reason == "length" else "eos") for text, reason in texts]

    def sample(self, prompts: Sequence[str], n: int, params: SamplingParams) -> list[list[Sample]]:
        rows = []
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for row in pool.map(lambda p: self._one(p, n, params), prompts):
                rows.append(row)
                self.advance(1)
        return rows


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The server's error message on one line: ``error.message`` of an OpenAI-style JSON body, else the body."""
    body = exc.read().decode("utf-8", "replace")
    try:
        error = json.loads(body).get("error", body)
        body = error.get("message", body) if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        pass
    return " ".join(body.split())[:300] or exc.reason
