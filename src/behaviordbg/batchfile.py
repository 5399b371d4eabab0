"""The OpenAI Batch JSONL format, which OpenAI's Batch API and vLLM's batch runner
(`python -m vllm.entrypoints.openai.run_batch`) both read and write.

Input, one request per line:

    {"custom_id": "<run>/<query id>/<sample>", "method": "POST", "url": "/v1/chat/completions",
     "body": {...exactly the body a live run sends (client.chat_body)...}}

Output, one result per line, in any order, from either engine:

    {"id": ..., "custom_id": ..., "response": {"status_code": 200, "request_id": ...,
     "body": {...a chat completion...}}, "error": null}

A failed request has a non-200 `status_code` (its body an OpenAI error, or none) and/or an `error`:
an object with `code` and `message` (OpenAI: `batch_expired`, `batch_cancelled`), a string (vLLM)
or vLLM's ErrorResponse. The run id in `custom_id` keeps one run's results out of another run,
even when both asked the same query (query ids are content hashes).

Pure functions only: the pipeline (pipeline/batch.py) reads and writes the files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import BehaviordbgError
from .types import Query

CHAT_URL = "/v1/chat/completions"
OPENAI_MAX_LINES = 50_000  # requests per batch that OpenAI's Batch API accepts
OPENAI_MAX_BYTES = 200 * 1024 * 1024  # and bytes per input file


class BatchFileError(BehaviordbgError):
    """A results file that is not an OpenAI Batch output file: names the file and line."""

    def __init__(self, path: str, line: int, message: str, hint: str = "") -> None:
        super().__init__(f"{path}:{line}: {message}", hint or (
            "pass the output file of the batch (OpenAI: the file `output_file_id` names, or"
            " its `error_file_id`; vLLM run_batch: its -o file) unchanged; nothing was stored,"
            " so fix or regenerate the file and ingest it again"))
        self.path = path
        self.line = line


@dataclass(frozen=True)
class ResultLine:
    """One line of an output file: an answer (`body`, status 200) or a failure (`error`)."""

    custom_id: str
    status_code: int | None
    body: dict[str, Any] | None
    error: str | None  # why the request failed; None for an answer
    error_kind: str = ""  # rate_limit | server | timeout | expired | cancelled | other


def custom_id(run_id: str, query: Query) -> str:
    return f"{run_id}/{query.id}/{query.sample_idx}"


def split_custom_id(cid: str) -> tuple[str, str] | None:
    """(run id, query id) of one of our custom ids, else None."""
    parts = cid.rsplit("/", 2)
    if len(parts) != 3 or not parts[0] or not parts[1].startswith("q-"):
        return None
    return parts[0], parts[1]


def request_line(run_id: str, query: Query, body: dict[str, Any]) -> str:
    """One input line (no newline)."""
    return json.dumps({"custom_id": custom_id(run_id, query), "method": "POST", "url": CHAT_URL,
                       "body": body}, ensure_ascii=False, separators=(",", ":"))


def _error_message(value: Any) -> tuple[str, str]:
    """(message, code) of an `error` field or an error body, whatever shape the engine gave."""
    if isinstance(value, str):
        return value, ""
    if isinstance(value, dict):
        inner = value.get("error")
        if isinstance(inner, (dict, str)):  # {"error": {...}} (OpenAI body, vLLM ErrorResponse)
            return _error_message(inner)
        message = value.get("message")
        code = value.get("code")
        return (str(message) if message else json.dumps(value)[:300],
                str(code) if code is not None else "")
    return json.dumps(value)[:300], ""


def _kind(status: int | None, code: str) -> str:
    if code in ("batch_expired", "expired"):
        return "expired"
    if code in ("batch_cancelled", "cancelled"):
        return "cancelled"
    if status == 429 or code == "rate_limit_exceeded":
        return "rate_limit"
    if status == 408:
        return "timeout"
    if status is not None and status >= 500:
        return "server"
    return "other"


def parse_result_line(text: str, path: str, line: int, *, last: bool = False) -> ResultLine:
    """One output line; a line that is no batch result at all is a BatchFileError (file, line)."""
    try:
        doc = json.loads(text)
    except ValueError as err:
        cut = " (the file looks cut short: an interrupted download?)" if last else ""
        raise BatchFileError(path, line, f"not JSON{cut}: {err}; it starts {text[:60]!r}") from None
    if not isinstance(doc, dict):
        raise BatchFileError(path, line, f"a JSON {type(doc).__name__}, not a result object")
    cid = doc.get("custom_id")
    if not isinstance(cid, str) or not cid:
        raise BatchFileError(path, line, "no `custom_id`: not an OpenAI Batch output line")
    if "response" not in doc and "error" not in doc:
        if "body" in doc and "method" in doc:
            raise BatchFileError(path, line, "this is a batch *input* line (it has `method` and"
                                 " `body`), not a result", "pass the output file the batch"
                                 " wrote (vLLM: its -o file), not the requests file")
        raise BatchFileError(path, line, "neither `response` nor `error`: not a batch result")
    response, error = doc.get("response"), doc.get("error")
    if response is not None and not isinstance(response, dict):
        raise BatchFileError(path, line, "`response` is not an object")
    status = (response or {}).get("status_code")
    if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
        raise BatchFileError(path, line, f"`status_code` is not a number: {status!r}")
    body = (response or {}).get("body")
    if body is not None and not isinstance(body, dict):
        raise BatchFileError(path, line, "`response.body` is not an object")
    if error is None and status == 200 and body is not None:
        return ResultLine(cid, status, body, None)
    if error is not None:
        message, code = _error_message(error)
    elif body is not None:
        message, code = _error_message(body)
    else:
        message, code = ("no response body" if status == 200 else f"HTTP {status}"), ""
    if status not in (None, 200) and not message.startswith("HTTP"):
        message = f"HTTP {status}: {message}"
    return ResultLine(cid, status, None, message[:2000], _kind(status, code))
