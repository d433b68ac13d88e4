"""Sampling from any OpenAI-compatible server (vLLM's, TGI's, llama.cpp's, SGLang's, OpenAI's).

Uses the ``/v1/completions`` endpoint for plain or already formatted prompts and ``/v1/chat/completions``
for chat models (``chat=True``: the prompt becomes one user turn, plus an optional system turn; a system turn
without ``chat`` is refused, since the completions endpoint has no place for it). ``model`` is the name the
server serves; left empty, it is read from ``/v1/models`` when the server serves exactly one. The key is
``api_key``, else the ``OPENAI_API_KEY`` environment variable, sent as a bearer token. Requests go through
the standard library (no extra dependency), one per prompt with ``n`` choices, at most ``concurrency`` at a
time on daemon threads (an interrupt returns at once instead of waiting for answers in flight), retried on
connection errors, 429 (rate limit) and 5xx answers with exponential backoff (``backoff_s``, doubling, at most
8 s); any other answer, or the last failure, is a one-line :class:`~codealign.errors.UserError`. A server that
answers fewer than ``n`` choices (some ignore ``n``) gets a warning once and more requests until each prompt
has ``n``. Lone surrogates in an answer (no UTF-8 form) become U+FFFD. ``seed`` is sent; whether the server
honours it is the server's business (vLLM does, per request). The vLLM server path is the same HTTP protocol;
vLLM itself is GPU-only and is not installed on CPU machines, so only a stand-in server is tested here.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Sequence

from codealign.errors import UserError
from codealign.generate import Generator, Sample, SamplingParams
from codealign.jsonl import clean_text

log = logging.getLogger(__name__)

RETRIED = frozenset({408, 429})
"""HTTP statuses retried besides 5xx: the server is busy or rate-limiting, not refusing the request."""


class OpenAIGenerator(Generator):
    kind = "openai"

    def __init__(self, model: str = "", *, base_url: str = "http://127.0.0.1:8000/v1", api_key: str | None = None,
                 chat: bool = False, system: str | None = None, timeout_s: float = 300.0, retries: int = 3,
                 concurrency: int = 8, backoff_s: float = 0.5):
        if concurrency < 1 or retries < 0 or backoff_s < 0:
            raise UserError(f"openai generator: concurrency must be >= 1 and retries, backoff >= 0; got "
                            f"concurrency={concurrency}, retries={retries}, backoff_s={backoff_s}")
        if system and not chat:
            raise UserError("--system needs --chat: the completions endpoint has no system turn (put the "
                            "instruction in the prompt, or use a chat model with --chat)")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.chat = chat
        self.system = system
        self.timeout_s = timeout_s
        self.retries = retries
        self.concurrency = concurrency
        self.chunk_prompts = 4 * concurrency
        self.backoff_s = backoff_s
        self._warned_n = False
        self.model_name = model or self._served_model()

    def _served_model(self) -> str:
        """The one model ``/v1/models`` lists; a UserError naming them when there are several or none."""
        answer = self._request("/models", None)
        names = [m.get("id") for m in answer.get("data", []) if isinstance(m, dict)] \
            if isinstance(answer, dict) else []
        if len(names) != 1 or not isinstance(names[0], str):
            raise UserError(f"{self.base_url}/models lists {len(names)} models ({', '.join(map(str, names[:5]))}); "
                            "give --model NAME (the name the server serves)")
        return names[0]

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request(route, json.dumps(body).encode())

    def _request(self, route: str, data: bytes | None) -> Any:
        """The JSON answer of a POST of ``data`` (a GET when None), retried as the module says."""
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
        """``n`` samples of ``prompt``, asking again for the rest while the server answers fewer."""
        samples = self._ask(prompt, n, params)
        while samples and len(samples) < n:
            if not self._warned_n:
                self._warned_n = True
                log.warning("%s answered %d choice(s) where n=%d was asked (it ignores n); sending more requests",
                            self.base_url, len(samples), n)
            samples += self._ask(prompt, n - len(samples), params)
        if not samples:
            raise UserError(f"{self.base_url}: the answer has an empty 'choices' list")
        return samples[:n]

    def _ask(self, prompt: str, n: int, params: SamplingParams) -> list[Sample]:
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
        return [Sample(clean_text(text), "length" if reason == "length" else "eos") for text, reason in texts]

    def chat_turns(self) -> bool:
        return self.chat

    def sample(self, prompts: Sequence[str], n: int, params: SamplingParams) -> list[list[Sample]]:
        todo: queue.Queue = queue.Queue()
        done: queue.Queue = queue.Queue()
        for item in enumerate(prompts):
            todo.put(item)

        def work() -> None:
            while True:
                try:
                    index, prompt = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((index, self._one(prompt, n, params)))
                except BaseException as exc:  # handed to the caller's thread, which raises it
                    done.put((index, exc))
                    return

        for _ in range(min(self.concurrency, len(prompts))):
            threading.Thread(target=work, daemon=True, name="codealign-openai").start()
        rows: dict[int, list[Sample]] = {}
        while len(rows) < len(prompts):
            # A bounded wait keeps the caller's thread able to take a KeyboardInterrupt at once.
            try:
                index, row = done.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(row, BaseException):
                while not todo.empty():
                    todo.get_nowait()
                raise row
            rows[index] = row
            self.advance(1)
        return [rows[i] for i in range(len(prompts))]


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The server's error message on one line: ``error.message`` of an OpenAI-style JSON body, else the body."""
    body = exc.read().decode("utf-8", "replace")
    try:
        error = json.loads(body).get("error", body)
        body = error.get("message", body) if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        pass
    return " ".join(body.split())[:300] or exc.reason
