"""A small OpenAI-compatible server for tests and demos: ``/v1/completions``, ``/v1/chat/completions`` and
``/v1/models`` on 127.0.0.1, answering a fixed Verilog module per choice (``assign y = i % 2``) with the
prompt's first characters in a comment. Class attributes steer it: ``failures`` (HTTP statuses answered to
the next requests), ``ignore_n`` (one choice whatever ``n`` asks, as some servers do), ``served`` (what
``/v1/models`` lists), ``text`` (a fixed answer instead). The model name ``slow`` answers after 50 ms,
``missing`` with 404.

Run alone: ``python tests/openai_standin.py --port 8011`` (a stand-in for ``vllm serve``)."""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StandIn(BaseHTTPRequestHandler):
    requests: list = []
    failures: list = []
    ignore_n = False
    served = ["stand-in"]
    text: str | None = None
    in_flight = 0
    most_in_flight = 0
    lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        cls.requests, cls.failures, cls.most_in_flight, cls.ignore_n = [], [], 0, False
        cls.served, cls.text = ["stand-in"], None

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": name, "object": "model"} for name in self.served]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

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
            self._send(status, {"error": {"message": f"status {status}\nsecond line"}})
            return
        if body.get("model") == "missing":
            self._send(404, {"error": "model not found"})
            return
        prompt = body.get("prompt") or body["messages"][-1]["content"]
        choices = []
        for i in range(1 if self.ignore_n else body.get("n", 1)):
            text = self.text if self.text is not None else (
                f"```verilog\nmodule TopModule(output y); assign y = {i % 2}; endmodule\n```  // {prompt[:5]}")
            if "chat" in self.path:
                choices.append({"message": {"content": text}, "finish_reason": "stop"})
            else:
                choices.append({"text": text, "finish_reason": "length" if i == 2 else "stop"})
        self._send(200, {"choices": choices})

    def _send(self, status: int, answer: dict) -> None:
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def serve(port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """A running stand-in on a daemon thread and its base URL (``http://127.0.0.1:PORT/v1``)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", port), StandIn)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/v1"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--ignore-n", action="store_true", help="answer one choice whatever n asks")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    StandIn.ignore_n = args.ignore_n
    if args.delay:
        answer = StandIn._answer
        StandIn._answer = lambda self, body, status: (time.sleep(args.delay), answer(self, body, status))[1]
    httpd, url = serve(args.port)
    print(f"serving {url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        httpd.shutdown()
