"""OpenAI's Batch API (`/v1/files` + `/v1/batches`) through the openai SDK, as client.py talks to
chat: the SDK builds and sends the requests, errors become BehaviordbgErrors with their fix, and
anything a server echoes is scrubbed of the key before it is shown.

The SDK's own retries stay off (as in client.py): the pipeline decides what a failed call means.
Uploading or creating is tried once (a retried create could pay twice); polling tolerates a run of
transient failures (pipeline/batch.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import openai

from .config import API_KEY_ENV
from .errors import BehaviordbgError, EndpointAuthError
from .urls import redact_url, scrub, url_secrets

TERMINAL = ("completed", "failed", "expired", "cancelled")


class BatchApiError(BehaviordbgError):
    """A Batch API call failed; `transient` when polling again later may succeed."""

    def __init__(self, message: str, hint: str = "", *, transient: bool = False) -> None:
        super().__init__(message, hint)
        self.transient = transient


class BatchClient:
    """One OpenAI-compatible endpoint's files and batches. Use as a context manager."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout: float = 120.0,
                 api_key_env: str = API_KEY_ENV) -> None:
        parts = urlsplit(base_url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.base_url = base_url
        self.api_key_env = api_key_env
        self._secrets = [s for s in [api_key or "", *url_secrets(base_url)] if s]
        self._sdk = openai.OpenAI(
            base_url=urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
            default_query=query or None, api_key=api_key or "not-needed", max_retries=0,
            timeout=timeout,
        )

    def __enter__(self) -> BatchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sdk.close()

    # ------------------------------------------------------------------ calls

    def upload(self, name: str, data: bytes) -> str:
        """POST /files (purpose batch): the input file's id."""
        made = self._call("upload the batch file", lambda: self._sdk.files.create(
            file=(name, data, "application/jsonl"), purpose="batch"))
        return str(made.id)

    def create(self, input_file_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        """POST /batches: the new batch object (24 h window, chat completions)."""
        made = self._call("create the batch", lambda: self._sdk.batches.create(
            input_file_id=input_file_id, endpoint="/v1/chat/completions", completion_window="24h",
            metadata=metadata))
        return dict(made.model_dump())

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        """GET /batches/{id}."""
        got = self._call("poll the batch", lambda: self._sdk.batches.retrieve(batch_id))
        return dict(got.model_dump())

    def find(self, input_file_id: str) -> dict[str, Any] | None:
        """The newest batch made from this input file, if the endpoint lists one: after a crash
        between creating a batch and storing its id, a resume adopts it instead of paying twice."""
        try:
            page = self._sdk.batches.list(limit=100)
        except openai.APIError:
            return None  # listing is a courtesy; a server without it just gets a new batch
        for batch in page.data:
            if batch.input_file_id == input_file_id:
                return dict(batch.model_dump())
        return None

    def download(self, file_id: str, dest: Path) -> Path:
        """GET /files/{id}/content, streamed to `dest` (results files can be large)."""
        def fetch() -> Path:
            with self._sdk.files.with_streaming_response.content(file_id) as resp:
                resp.stream_to_file(dest)
            return dest

        done: Path = self._call(f"download the results file {file_id}", fetch)
        return done

    # ------------------------------------------------------------------ errors

    def _call(self, what: str, fn: Any) -> Any:
        url = redact_url(self.base_url)
        try:
            return fn()
        except (openai.AuthenticationError, openai.PermissionDeniedError) as err:
            raise EndpointAuthError(
                f"{url} refused to {what} with HTTP {err.status_code} (authentication/permission)",
                hint=f"check the API key in ${self.api_key_env} (or pass --api-key-env VAR) and"
                " that it may use the Batch API") from None
        except openai.NotFoundError as err:
            if what.startswith(("upload", "create")):
                raise BatchApiError(
                    f"{url} has no Batch API: it answered HTTP 404 to {what}"
                    f" ({self._scrub(err.message)})",
                    hint="--batch needs an endpoint with /v1/files and /v1/batches (OpenAI's);"
                    " for vLLM write the file with --batch-file and run vLLM's run_batch on it"
                    " (docs/scale.md)") from None
            raise BatchApiError(f"{url} answered HTTP 404 to {what}: {self._scrub(err.message)}",
                                hint="check that the batch or file still exists on that"
                                " endpoint (and --base-url is the one it was made at)") from None
        except openai.APIStatusError as err:
            code = err.status_code
            raise BatchApiError(
                f"{url} answered HTTP {code} to {what}: {self._scrub(err.message)}",
                hint="resume later with the same command" if code >= 500 or code == 429 else
                "check the request the message names", transient=code >= 500 or code in (408, 429),
            ) from None
        except openai.APIConnectionError as err:  # timeouts included
            raise BatchApiError(
                f"could not {what} at {url}: {self._scrub(str(err.__cause__ or err))}",
                hint="check that the endpoint is up and --base-url is right, then resume",
                transient=True) from None

    def _scrub(self, text: str) -> str:
        return " ".join(scrub(str(text), self._secrets).split())[:300]
