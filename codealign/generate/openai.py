"""Sampling from any OpenAI-compatible server (vLLM's, TGI's, llama.cpp's, SGLang's, OpenAI's).

Uses the ``/v1/completions`` endpoint for plain or already formatted prompts and ``/v1/chat/completions``
for chat models (``chat=True``: the prompt becomes one user turn, plus an optional system turn). Requests go
through the standard library (no extra dependency), one per prompt with ``n`` choices, retried on
connection errors and 5xx answers with backoff. ``seed`` is sent; whether the server honours it is the
server's business (vLLM does, per request).
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

class OpenAIGenerator(Generator):
    kind = "openai"

    def __init__(self, model: str, *, base_url: str = "http://127.0.0.1:8000/v1", api_key: str | None = None,
                 chat: bool = False, system: str | None = None, timeout_s: float = 300.0, retries: int = 3,
                 concurrency: int = 8):
        if not model:
            raise UserError("the openai generator needs --model (the name the server serves)")
        self.model_name = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.chat = chat
        self.system = system
        self.timeout_s = timeout_s
        self.retries = retries
        self.concurrency = concurrency

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(f"{self.base_url}{route}", data=data, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    detail = exc.read().decode("utf-8", "replace")[:300]
                    raise UserError(f"{self.base_url}{route}: HTTP {exc.code}: {detail}") from None
                last = exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = exc
            time.sleep(min(8.0, 0.5 * 2**attempt))
        raise UserError(f"{self.base_url}{route}: no answer after {self.retries + 1} tries ({last})")

    def _one(self, prompt: str, n: int, params: SamplingParams) -> list[Sample]:
        body: dict[str, Any] = {"model": self.model_name, "n": n, "temperature": params.temperature,
                                "top_p": params.top_p, "max_tokens": params.max_new_tokens, "seed": params.seed}
        if params.stop:
            body["stop"] = list(params.stop)
        if self.chat:
            messages = ([{"role": "system", "content": self.system}] if self.system else [])
            body["messages"] = messages + [{"role": "user", "content": prompt}]
            answer = self._post("/chat/completions", body)
            texts = [(c.get("message", {}).get("content") or "", c.get("finish_reason")) for c in answer["choices"]]
        else:
            body["prompt"] = prompt
            answer = self._post("/completions", body)
            texts = [(c.get("text") or "", c.get("finish_reason")) for c in answer["choices"]]
        # OpenAI's "stop" covers both the model's end of text and a stop string; only "length" means cut off.
        return [Sample(text, "length" if reason == "length" else "eos") for text, reason in texts]

    def sample(self, prompts: Sequence[str], n: int, params: SamplingParams) -> list[list[Sample]]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda p: self._one(p, n, params), prompts))
