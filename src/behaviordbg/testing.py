"""A fake OpenAI-compatible server for tests: real HTTP on 127.0.0.1, scripted answers, faults.

    from behaviordbg.testing import FakeServer

    with FakeServer({"Do you have a body?": "Yes, I have a body.",
                     re.compile(r"software"): ["Yes.", "No."]},   # cycled per sample / call
                    default="I am an AI.", latency=0.05) as server:
        server.fail_next(2, "rate_limit", retry_after=1)      # the next 2 requests get 429
        server.fail_prompt("Please pass the salt.", "drop")     # every request for this prompt
        ... point behaviordbg at server.base_url ...
        assert server.requests == ...

It implements POST /v1/chat/completions (honours `n` unless `ignore_n=True`), POST /v1/embeddings
(deterministic hashed bag-of-words vectors), GET /v1/models, GET /health, and OpenAI's Batch API
(/v1/files, /v1/batches: `server.batch`, see behaviordbg.fake_batch). `models=[...]` makes it
answer only those model names (404 `model_not_found` for others); faults may carry a `message`
(`{auth}` in it echoes the request's Authorization header, like a careless server). Each connection gets
its own daemon thread, so a hundred slow requests can sleep at once (the run benchmark needs 64+).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

FaultKind = Literal["rate_limit", "server_error", "hang", "malformed", "truncated", "drop", "auth",
                    "bad_request", "null_content"]
FAULT_KINDS: tuple[str, ...] = (
    "rate_limit", "server_error", "hang", "malformed", "truncated", "drop", "auth", "bad_request",
    "null_content",
)

AnswerFn = Callable[[str, dict[str, Any], int], str]
"""(last user prompt, request body, answer counter for this prompt) -> answer text."""
Answers = AnswerFn | dict[str | re.Pattern[str], str | list[str]] | None


@dataclass
class Fault:
    """One injectable failure. `times=None` means every matching request."""

    kind: FaultKind
    times: int | None = None
    retry_after: str | float = 1  # for rate_limit: seconds, or an HTTP date string
    hang_s: float = 30.0  # for hang: how long to sleep before closing without a reply
    # for server_error / bad_request: the error message; for malformed: the whole body. `{auth}`
    # in it becomes the request's Authorization header (a server that echoes what it got).
    message: str | None = None


@dataclass(frozen=True)
class LoggedRequest:
    path: str
    body: dict[str, Any]
    has_auth: bool
    at: float


def embed_text(text: str, dims: int = 64) -> list[float]:
    """A deterministic unit vector from hashed words: same words, same vector; similar, close."""
    vec = [0.0] * dims
    for word in re.findall(r"\w+", text.lower()):
        h = hashlib.blake2b(word.encode(), digest_size=8).digest()
        vec[h[0] % dims] += 1.0 if h[1] % 2 else -1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def last_user_prompt(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


class FakeServer:
    """A real HTTP server in a thread; use as a context manager (or start()/stop())."""

    def __init__(
        self,
        answers: Answers = None,
        *,
        default: str = "I am an AI language model.",
        latency: float = 0.0,
        ignore_n: bool = False,
        model: str = "fake-model",
        require_api_key: str | None = None,
        embed_dims: int = 64,
        models: list[str] | None = None,
    ) -> None:
        self.answers = answers
        self.default = default
        self.latency = latency
        self.ignore_n = ignore_n
        self.model = model
        self.require_api_key = require_api_key
        self.embed_dims = embed_dims
        # None: any model name is answered; a list: GET /v1/models lists them and a chat request
        # for another name gets a 404 like OpenAI's `model_not_found`
        self.models = models
        self.log: list[LoggedRequest] = []
        self._requests = 0
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self._next_faults: list[Fault] = []
        self._prompt_faults: list[tuple[str | re.Pattern[str], Fault]] = []
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        from .fake_batch import FakeBatchApi

        self.batch = FakeBatchApi(self)  # /v1/files and /v1/batches (behaviordbg.fake_batch)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeServer:
        handler = type("_Handler", (_Handler,), {"fake": self})
        server = _Server(("127.0.0.1", 0), handler)
        self._httpd = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ------------------------------------------------------------------ scripting

    @property
    def requests(self) -> int:
        """HTTP requests received on the API paths (faulted ones included)."""
        with self._lock:
            return self._requests

    @property
    def request_bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.log]

    def reset(self) -> None:
        """Forget counters, logs and faults (answers stay)."""
        with self._lock:
            self._requests = 0
            self.log.clear()
            self._counters.clear()
            self.batch.created = self.batch.uploads = self.batch.retrieves = 0
            self._next_faults.clear()
            self._prompt_faults.clear()

    def fail_next(self, k: int, kind: FaultKind, **options: Any) -> None:
        """The next `k` API requests (any prompt) fail with `kind`."""
        _check_kind(kind)
        with self._lock:
            self._next_faults.append(Fault(kind, times=k, **options))

    def fail_prompt(
        self, prompt: str | re.Pattern[str], kind: FaultKind, times: int | None = None, **options: Any
    ) -> None:
        """Requests whose last user prompt matches fail with `kind` (`times` of them, or all)."""
        _check_kind(kind)
        with self._lock:
            self._prompt_faults.append((prompt, Fault(kind, times=times, **options)))

    # ------------------------------------------------------------------ called by the handler

    def _record(self, path: str, body: dict[str, Any], has_auth: bool) -> None:
        with self._lock:
            self._requests += 1
            self.log.append(LoggedRequest(path, body, has_auth, time.time()))

    def _take_fault(self, prompt: str) -> Fault | None:
        with self._lock:
            for fault in self._next_faults:
                if fault.times is None or fault.times > 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
            for pattern, fault in self._prompt_faults:
                if _matches(pattern, prompt) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _answer(self, prompt: str, body: dict[str, Any]) -> str:
        with self._lock:
            i = self._counters.get(prompt, 0)
            self._counters[prompt] = i + 1
        if callable(self.answers):
            return str(self.answers(prompt, body, i))
        script = self._lookup(prompt)
        if script is None:
            return self.default
        if isinstance(script, list):
            return str(script[i % len(script)]) if script else self.default
        return str(script)

    def _lookup(self, prompt: str) -> str | list[str] | None:
        if not self.answers:
            return None
        if prompt in self.answers:  # type: ignore[operator]
            return self.answers[prompt]  # type: ignore[index]
        for key, value in self.answers.items():  # type: ignore[union-attr]
            if isinstance(key, re.Pattern) and key.search(prompt):
                return value
        return None


def _json_or_empty(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _check_kind(kind: str) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; use one of {', '.join(FAULT_KINDS)}")


def _matches(pattern: str | re.Pattern[str], prompt: str) -> bool:
    return bool(pattern.search(prompt)) if isinstance(pattern, re.Pattern) else pattern == prompt


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # many clients connect at once in the benchmark
    daemon_threads = True  # a hung request never blocks shutdown


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, so a pooled client reuses connections like with a real server."""

    protocol_version = "HTTP/1.1"
    fake: FakeServer  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read `fake.log` instead

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass  # the client gave up (timeout, cancelled run): nothing to answer

    # ------------------------------------------------------------------ routing

    def _batch_route(self, method: str, raw: bytes = b"") -> bool:
        """/v1/files and /v1/batches go to the fake Batch API (behaviordbg.fake_batch)."""
        path = self.path.split("?", 1)[0].rstrip("/")
        if not path.startswith(("/v1/files", "/v1/batches")):
            return False
        fake = self.fake
        auth = self.headers.get("Authorization", "")
        fake._record(path, {} if path == "/v1/files" else _json_or_empty(raw), bool(auth))
        if fake.require_api_key is not None and auth != f"Bearer {fake.require_api_key}":
            self._send_json(401, {"error": {"message": "invalid api key", "type": "auth"}})
        else:
            fake.batch.handle(self, method, path, raw)
        return True

    def do_GET(self) -> None:
        if self._batch_route("GET"):
            return
        if self.path.rstrip("/") in ("/health", "/v1/health"):
            self._send_json(200, {"status": "ok"})
        elif self.path.rstrip("/") == "/v1/models":
            self._send_json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": "behaviordbg-fake"}
                for m in (self.fake.models or [self.fake.model])]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self._batch_route("POST", raw):
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send_json(400, {"error": {"message": "request body is not JSON"}})
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path not in ("/v1/chat/completions", "/v1/embeddings"):
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        fake = self.fake
        auth = self.headers.get("Authorization", "")
        fake._record(path, body, bool(auth))
        if fake.require_api_key is not None and auth != f"Bearer {fake.require_api_key}":
            self._send_json(401, {"error": {"message": "invalid api key", "type": "auth"}})
            return
        if fake.models is not None and body.get("model") not in fake.models:
            self._send_json(404, {"error": {
                "message": f"The model `{body.get('model')}` does not exist",
                "type": "invalid_request_error", "code": "model_not_found"}})
            return
        prompt = last_user_prompt(body) if path.endswith("completions") else ""
        fault = fake._take_fault(prompt)
        if fault is not None and self._serve_fault(fault, body):
            return
        if fake.latency > 0 and fake._stopping.wait(fake.latency):
            self.close_connection = True
            return
        if path.endswith("embeddings"):
            self._embeddings(body)
        else:
            self._chat(body, prompt)

    # ------------------------------------------------------------------ answers

    def _chat(self, body: dict[str, Any], prompt: str) -> None:
        fake = self.fake
        n = 1 if fake.ignore_n else max(1, int(body.get("n") or 1))
        choices: list[dict[str, Any]] = []
        for i in range(n):
            text = fake._answer(prompt, body)
            choices.append({
                "index": i,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            })
        words = sum(len(c["message"]["content"].split()) for c in choices)
        self._send_json(200, {
            "id": "chatcmpl-fake-" + hashlib.sha1(repr((prompt, time.time())).encode()).hexdigest()[:12],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or fake.model,
            "choices": choices,
            "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": words,
                      "total_tokens": len(prompt.split()) + words},
        })

    def _embeddings(self, body: dict[str, Any]) -> None:
        inputs = body.get("input")
        items = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = [
            {"object": "embedding", "index": i, "embedding": embed_text(str(t), self.fake.embed_dims)}
            for i, t in enumerate(items)
        ]
        self._send_json(200, {"object": "list", "data": data, "model": body.get("model") or "fake-embed",
                              "usage": {"prompt_tokens": 0, "total_tokens": 0}})

    # ------------------------------------------------------------------ faults

    def _serve_fault(self, fault: Fault, body: dict[str, Any] | None = None) -> bool:
        """Misbehave as asked; returns True when the request is finished (no normal answer)."""
        kind = fault.kind
        message = (fault.message or "").replace("{auth}", self.headers.get("Authorization", ""))
        if kind == "rate_limit":
            self._send_json(429, {"error": {"message": "rate limited", "type": "rate_limit"}},
                            headers={"Retry-After": str(fault.retry_after)})
        elif kind == "server_error":
            self._send_json(500, {"error": {"message": message or "internal error",
                                            "type": "server"}})
        elif kind == "bad_request":
            self._send_json(400, {"error": {"message": message or "bad request",
                                            "type": "invalid_request_error"}})
        elif kind == "auth":
            self._send_json(401, {"error": {"message": "invalid api key", "type": "auth"}})
        elif kind == "null_content":
            n = 1 if self.fake.ignore_n else max(1, int((body or {}).get("n") or 1))
            self._send_json(200, {"id": "chatcmpl-null", "object": "chat.completion",
                                  "created": int(time.time()), "model": self.fake.model,
                                  "choices": [{"index": i, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": None}}
                                              for i in range(n)]})
        elif kind == "malformed":
            self._send_bytes(200, (message or "<html>this is not JSON</html>").encode(),
                             "application/json")
        elif kind == "truncated":
            payload = b'{"id": "x", "object": "chat.completion", "choices": [{"index": 0, "mess'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload) * 3))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            self._drop()
        elif kind == "drop":
            self._drop()
        elif kind == "hang":
            self.fake._stopping.wait(fault.hang_s)
            self._drop()
        return True

    def _drop(self) -> None:
        """Close the socket without (finishing) a reply."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ------------------------------------------------------------------ output

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(obj).encode(), "application/json", headers)

    def _send_bytes(
        self, status: int, payload: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def main(argv: list[str] | None = None) -> None:
    """`python -m behaviordbg.testing --latency 1`: serve until Ctrl-C (for manual tries, benches)."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m behaviordbg.testing", description=main.__doc__)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    ap.add_argument("--default", default="I am an AI language model.", help="the answer text")
    ap.add_argument("--ignore-n", action="store_true", help="answer one choice whatever `n` asks")
    ap.add_argument("--persona", choices=("truthful", "planted", "caver", "holder"),
                    help="answer the suites' prompts as a scripted persona (behaviordbg.personas)")
    ap.add_argument("--suites", nargs="*", help="suite files/folders for --persona (default: all)")
    ap.add_argument("--manifest", help="manifest path or shipped name for --persona (default chat)")
    ap.add_argument("--batch-polls", type=int, default=1,
                    help="polls a batch answers in_progress before it ends (its Batch API)")
    args = ap.parse_args(argv)
    answers: Answers = None
    if args.persona:
        from . import personas
        from .suites import load_manifest, load_suites

        suites, manifest = load_suites(args.suites), load_manifest(args.manifest)
        made = personas.PERSONAS[args.persona](suites, manifest)
        if isinstance(made, personas.Planted):  # say what a correct analysis must report
            print(json.dumps({"planted": made.planted, "incidental": made.incidental}),
                  file=sys.stderr)
            made = made.answers
        answers = made
    with FakeServer(answers, default=args.default, latency=args.latency,
                    ignore_n=args.ignore_n) as server:
        server.batch.polls = args.batch_polls
        print(server.base_url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
