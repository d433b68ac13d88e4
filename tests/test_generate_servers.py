"""The OpenAI-compatible generator against a small HTTP server written for the test, and vLLM where present."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from codealign.errors import UserError
from codealign.generate import get_generator
from codealign.types import Task


class _Server(BaseHTTPRequestHandler):
    requests: list = []
    failures: list = []
    """HTTP statuses answered to the next requests, one per request, before answering normally."""
    in_flight = 0
    most_in_flight = 0
    lock = threading.Lock()

    def do_POST(self):
        cls = type(self)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with cls.lock:
            cls.requests.append((self.path, body, self.headers.get("Authorization")))
            status = cls.failures.pop(0) if cls.failures else None
            cls.in_flight += 1
            cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
        try:
            if body.get("model") == "slow":
                time.sleep(0.05)
            self._answer(body, status)
        finally:
            with cls.lock:
                cls.in_flight -= 1

    def _answer(self, body, status):
        if status is not None:
            payload = json.dumps({"error": {"message": f"status {status}\nsecond line"}}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if body.get("model") == "missing":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error": "model not found"}')
            return
        prompt = body.get("prompt") or body["messages"][-1]["content"]
        choices = []
        for i in range(body["n"]):
            text = f"```verilog\nmodule TopModule(output y); assign y = {i % 2}; endmodule\n```  // {prompt[:5]}"
            if "chat" in self.path:
                choices.append({"message": {"content": text}, "finish_reason": "stop"})
            else:
                choices.append({"text": text, "finish_reason": "length" if i == 2 else "stop"})
        payload = json.dumps({"choices": choices}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Server.requests, _Server.failures, _Server.most_in_flight = [], [], 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_completions_endpoint_returns_n_samples_per_prompt_with_settings_sent(server):
    gen = get_generator("openai", model="m", base_url=server, api_key="k")
    out = gen.generate(["spec one", "spec two"], n=3, temperature=0.7, top_p=0.9, max_new_tokens=64, seed=5,
                       stop=["endmodule"])
    assert [len(row) for row in out] == [3, 3]
    path, body, auth = _Server.requests[0]
    assert path == "/v1/completions" and auth == "Bearer k"
    assert (body["n"], body["temperature"], body["top_p"], body["max_tokens"], body["seed"], body["stop"]) == (
        3, 0.7, 0.9, 64, 5, ["endmodule"])


def test_length_finish_is_reported_as_truncation(server):
    gen = get_generator("openai", model="m", base_url=server)
    samples = gen.sample(["p"], 3, __import__("codealign.generate", fromlist=["SamplingParams"]).SamplingParams())
    assert [s.finish_reason for s in samples[0]] == ["eos", "eos", "length"]


def test_chat_mode_sends_messages_and_candidates_are_extracted(server):
    gen = get_generator("openai", model="m", base_url=server, chat=True, system="be terse")
    cands = gen.candidates([Task("t1", "verilog", "write y")], n=2)
    _, body, _ = _Server.requests[0]
    assert body["messages"][0] == {"role": "system", "content": "be terse"}
    assert cands[0].completion.startswith("module TopModule") and "```" not in cands[0].completion


def test_client_error_is_a_one_line_user_error(server):
    gen = get_generator("openai", model="missing", base_url=server)
    with pytest.raises(UserError, match="HTTP 404"):
        gen.generate(["p"], n=1)


def test_chat_mode_returns_n_samples_and_sends_the_domains_stop_sequences(server, tmp_path):
    from codealign.generate.command import generate_candidates, make_generator
    from codealign.jsonl import write_jsonl

    write_jsonl(tmp_path / "tasks.jsonl", [Task("t1", "verilog", "write y"), Task("t2", "verilog", "write z")])
    gen = make_generator("openai", model="m", base_url=server, chat=True)
    summary = generate_candidates(tmp_path / "tasks.jsonl", tmp_path / "c.jsonl", gen, n=3)
    assert summary["candidates"] == 6
    assert all(path == "/v1/chat/completions" and body["n"] == 3 and body["stop"] == ["endmodule"]
               for path, body, _ in _Server.requests)


def test_rate_limits_and_server_errors_are_retried_until_an_answer(server):
    _Server.failures = [429, 503]
    gen = get_generator("openai", model="m", base_url=server, chat=True, retries=2, backoff_s=0.01)
    assert len(gen.generate(["p"], n=2)[0]) == 2
    assert len(_Server.requests) == 3


def test_persistent_server_error_is_one_line_after_the_retries(server):
    _Server.failures = [500] * 10
    gen = get_generator("openai", model="m", base_url=server, retries=2, backoff_s=0.01)
    with pytest.raises(UserError, match=r"no answer after 3 tries \(last: HTTP 500: status 500 second line\)") as err:
        gen.generate(["p"], n=1)
    assert "\n" not in str(err.value) and len(_Server.requests) == 3


def test_requests_in_flight_never_exceed_the_concurrency_limit(server):
    gen = get_generator("openai", model="slow", base_url=server, concurrency=2)
    assert len(gen.generate([f"p{i}" for i in range(8)], n=1)) == 8
    assert _Server.most_in_flight == 2


def test_cli_generate_speaks_chat_completions_with_a_system_prompt(server, tmp_path, capsys):
    from codealign.cli import main
    from codealign.jsonl import write_jsonl

    write_jsonl(tmp_path / "tasks.jsonl", [Task("t1", "verilog", "write y")])
    code = main(["generate", "--json", "--generator", "openai", "--chat", "--system", "be terse", "--model", "m",
                 "--base-url", server, "--tasks", str(tmp_path / "tasks.jsonl"), "--out", str(tmp_path / "c.jsonl"),
                 "--n", "2"])
    assert code == 0 and json.loads(capsys.readouterr().out)["candidates"] == 2
    path, body, _ = _Server.requests[0]
    assert path == "/v1/chat/completions" and body["messages"][0] == {"role": "system", "content": "be terse"}


def test_unreachable_server_is_a_user_error_after_retries():
    gen = get_generator("openai", model="m", base_url="http://127.0.0.1:9/v1", retries=1, timeout_s=1, backoff_s=0.01)
    with pytest.raises(UserError, match="no answer"):
        gen.generate(["p"], n=1)


def test_vllm_generator_samples_on_a_gpu():
    pytest.importorskip("vllm", reason="vLLM is GPU-only and not installed on CPU machines")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a GPU")
    from codealign.train.models import build_tiny_model

    path = build_tiny_model(__import__("tempfile").mkdtemp())
    gen = get_generator("vllm", model=str(path))
    assert len(gen.generate(["module"], n=2, max_new_tokens=8)[0]) == 2
