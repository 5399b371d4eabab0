"""The fake server's OpenAI Batch API (`/v1/files`, `/v1/batches`) and vLLM's offline runner, for
tests: the same scripted answers and prompt faults as the fake's live chat endpoint.

    with FakeServer(answers) as server:
        server.batch.polls = 3                  # in_progress for 3 polls, then done
        server.batch.expire_after = 5           # the next batch expires after 5 answers
        server.batch.fail_with = "bad line"     # the next batch fails validation
        server.batch.hold = True                # never finishes until set False (crash tests)
        server.fail_prompt("Please pass the salt.", "server_error")  # that line fails
        ... behaviordbg run --base-url server.base_url --model m --batch ...
        assert server.batch.created == 1

    run_vllm_batch(server, "requests.jsonl", "results.jsonl")   # what vLLM's run_batch writes

A batch is processed on the poll that ends it: every line is answered through the fake's own
answer script, failed lines (a prompt fault) go to the error file as OpenAI writes them, and an
expired batch keeps the answers it had and lists the rest as `batch_expired` in its error file.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .testing import FakeServer, _Handler

FAULT_STATUS = {"rate_limit": 429, "server_error": 500, "bad_request": 400, "auth": 401,
                "hang": 504, "drop": 502, "truncated": 502, "malformed": 502, "null_content": 200}


def chat_completion(fake: FakeServer, body: dict[str, Any], prompt: str) -> dict[str, Any]:
    """The chat completion the fake answers `body` with (honouring `n` unless ignore_n)."""
    n = 1 if fake.ignore_n else max(1, int(body.get("n") or 1))
    texts = [fake._answer(prompt, body) for _ in range(n)]
    choices = [{"index": i, "message": {"role": "assistant", "content": text},
                "finish_reason": "stop", "logprobs": None} for i, text in enumerate(texts)]
    words = sum(len(text.split()) for text in texts)
    return {
        "id": "chatcmpl-fake-" + hashlib.sha1(repr((prompt, time.time())).encode()).hexdigest()[:12],
        "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model") or fake.model, "choices": choices,
        "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": words,
                  "total_tokens": len(prompt.split()) + words},
    }


def _answer_line(fake: FakeServer, line: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) for one input line, through the fake's answers and prompt faults."""
    from .testing import last_user_prompt

    body = line.get("body") or {}
    prompt = last_user_prompt(body)
    fault = fake._take_fault(prompt)
    if fault is not None:
        status = FAULT_STATUS.get(fault.kind, 500)
        if fault.kind == "null_content":
            return 200, {"id": "chatcmpl-null", "object": "chat.completion", "model": fake.model,
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": None}}]}
        return status, {"error": {"message": fault.message or f"fake {fault.kind}",
                                  "type": fault.kind, "code": fault.kind}}
    if fake.models is not None and body.get("model") not in fake.models:
        return 404, {"error": {"message": f"The model `{body.get('model')}` does not exist",
                               "type": "invalid_request_error", "code": "model_not_found"}}
    return 200, chat_completion(fake, body, prompt)


class FakeBatchApi:
    """Files and batches held in memory; counters for tests (`created`, `uploads`, `polls`)."""

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake
        self.polls = 1  # retrieves that answer in_progress before the batch ends
        self.expire_after: int | None = None  # the next batch expires after this many answers
        self.fail_with: str | None = None  # the next batch fails validation with this message
        self.hold = False  # batches stay in_progress while True
        self.created = 0
        self.uploads = 0
        self.retrieves = 0
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._polled: dict[str, int] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ routing

    def handle(self, handler: _Handler, method: str, path: str, raw: bytes) -> None:
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        with self._lock:
            status, doc = self._route(method, parts, raw, handler.headers.get("Content-Type", ""))
        if isinstance(doc, bytes):
            handler._send_bytes(status, doc, "application/jsonl")
        else:
            handler._send_json(status, doc)

    def _route(self, method: str, parts: list[str], raw: bytes,
               ctype: str) -> tuple[int, dict[str, Any] | bytes]:
        if parts == ["files"] and method == "POST":
            return self._upload(raw, ctype)
        if len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
            data = self.files.get(parts[1])
            return (200, data) if data is not None else _missing("file", parts[1])
        if len(parts) == 2 and parts[0] == "files":
            data = self.files.get(parts[1])
            return ((200, _file_object(parts[1], data)) if data is not None
                    else _missing("file", parts[1]))
        if parts == ["batches"] and method == "POST":
            return self._create(raw)
        if parts == ["batches"]:
            items = sorted(self.batches.values(), key=lambda b: -int(b["created_at"]))
            return 200, {"object": "list", "data": items, "has_more": False}
        if len(parts) == 2 and parts[0] == "batches":
            return self._retrieve(parts[1])
        if len(parts) == 3 and parts[0] == "batches" and parts[2] == "cancel":
            batch = self.batches.get(parts[1])
            if batch is None:
                return _missing("batch", parts[1])
            batch["status"] = "cancelled"
            return 200, batch
        return 404, {"error": {"message": f"no route /v1/{'/'.join(parts)}"}}

    # ------------------------------------------------------------------ endpoints

    def _upload(self, raw: bytes, ctype: str) -> tuple[int, dict[str, Any]]:
        msg = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
        data, purpose = None, None
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            if name == "file":
                data = payload
            elif name == "purpose":
                purpose = payload.decode()
        if data is None or purpose != "batch":
            return 400, {"error": {"message": "multipart needs `file` and purpose=batch",
                                   "type": "invalid_request_error"}}
        file_id = "file-" + uuid.uuid4().hex[:16]
        self.files[file_id] = bytes(data)
        self.uploads += 1
        return 200, _file_object(file_id, self.files[file_id])

    def _create(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        req = json.loads(raw or b"{}")
        file_id = req.get("input_file_id")
        if file_id not in self.files:
            return _missing("file", str(file_id))
        lines = [ln for ln in self.files[file_id].decode().splitlines() if ln.strip()]
        batch_id = "batch_" + uuid.uuid4().hex[:16]
        self.batches[batch_id] = {
            "id": batch_id, "object": "batch", "endpoint": req.get("endpoint"),
            "errors": None, "input_file_id": file_id,
            "completion_window": req.get("completion_window", "24h"), "status": "validating",
            "output_file_id": None, "error_file_id": None, "created_at": int(time.time()),
            "in_progress_at": None, "expires_at": int(time.time()) + 86400,
            "completed_at": None, "failed_at": None, "expired_at": None,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": req.get("metadata"),
        }
        self._polled[batch_id] = 0
        self.created += 1
        return 200, self.batches[batch_id]

    def _retrieve(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return _missing("batch", batch_id)
        self.retrieves += 1
        if batch["status"] in ("validating", "in_progress"):
            self._polled[batch_id] += 1
            batch["status"] = "in_progress"
            if not self.hold and self._polled[batch_id] > self.polls:
                self._finish(batch)
        return 200, batch

    def _finish(self, batch: dict[str, Any]) -> None:
        """Answer every line (or fail, or expire part-way), writing output and error files."""
        if self.fail_with is not None:
            batch.update(status="failed", failed_at=int(time.time()), errors={
                "object": "list", "data": [{"code": "invalid_request", "line": 1,
                                            "message": self.fail_with, "param": None}]})
            self.fail_with = None
            return
        lines = [json.loads(ln) for ln in self.files[batch["input_file_id"]].decode().splitlines()
                 if ln.strip()]
        limit, self.expire_after = self.expire_after, None
        out: list[dict[str, Any]] = []
        err: list[dict[str, Any]] = []
        for i, line in enumerate(lines):
            if limit is not None and i >= limit:
                err.append(_result(line, None, {
                    "code": "batch_expired", "message": "This request could not be executed"
                    " before the completion window expired."}))
                continue
            status, body = _answer_line(self.fake, line)
            (out if status == 200 else err).append(_result(line, {
                "status_code": status, "request_id": "req_" + uuid.uuid4().hex[:12],
                "body": body}, None))
        for name, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                file_id = "file-" + uuid.uuid4().hex[:16]
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[name] = file_id
        done = len(out)
        batch["request_counts"] = {"total": len(lines), "completed": done,
                                   "failed": len(lines) - done}
        batch["status"] = "expired" if limit is not None and limit < len(lines) else "completed"
        batch["completed_at" if batch["status"] == "completed" else "expired_at"] = int(time.time())


def _result(line: dict[str, Any], response: dict[str, Any] | None,
            error: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": "batch_req_" + uuid.uuid4().hex[:16], "custom_id": line.get("custom_id"),
            "response": response, "error": error}


def _file_object(file_id: str, data: bytes) -> dict[str, Any]:
    return {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
            "filename": f"{file_id}.jsonl", "purpose": "batch", "status": "processed"}


def _missing(what: str, ident: str) -> tuple[int, dict[str, Any]]:
    return 404, {"error": {"message": f"No {what} with id '{ident}'",
                           "type": "invalid_request_error", "code": None}}


def run_vllm_batch(fake: FakeServer, input_path: str, output_path: str) -> int:
    """Do what `python -m vllm.entrypoints.openai.run_batch -i IN -o OUT` does, answering with
    the fake's script: one output line per input line, in order, in vLLM's shape (a failed
    request: status_code 400 or the error's code, no body, `error` set). Returns the lines."""
    rows = []
    with open(input_path, encoding="utf-8") as fh:
        for text in fh:
            if not text.strip():
                continue
            line = json.loads(text)
            status, body = _answer_line(fake, line)
            ok = status == 200
            rows.append({
                "id": f"vllm-{uuid.uuid4().hex}", "custom_id": line["custom_id"],
                "response": {"status_code": status, "request_id": f"vllm-batch-{uuid.uuid4().hex}",
                             "body": body if ok else None},
                "error": None if ok else {"object": "error", "message": body["error"]["message"],
                                          "type": body["error"]["type"], "code": status},
            })
    with open(output_path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return len(rows)
