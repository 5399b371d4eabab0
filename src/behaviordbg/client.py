"""OpenAI-compatible async caller: bounded concurrency, one retry layer, per-attempt timeouts.

The `openai` SDK builds and sends requests (its own retries are OFF: `max_retries=0`), and exactly
one retry layer (tenacity) lives here, so backoff, Retry-After and attempt counts have one owner.
Response bodies are parsed here rather than by the SDK, so a server that returns a broken body is a
retryable "malformed" attempt instead of a crash, and the raw JSON can be stored as it came.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from .config import API_KEY_ENV
from .errors import EndpointAuthError, EndpointNotFoundError
from .urls import redact_url, scrub, url_secrets

ErrorKind = Literal["rate_limit", "server", "timeout", "connection", "malformed", "other"]
POOL_SHARD = 8  # connections per httpx pool (see ModelClient.__init__)
RETRYABLE: frozenset[str] = frozenset({"rate_limit", "server", "timeout", "connection", "malformed"})


@dataclass(frozen=True)
class ChatResult:
    """The answers to one logical chat call (`n` samples), with what was sent and received."""

    texts: list[str]
    finish_reasons: list[str | None]
    raw_request: dict[str, Any]
    raw_response: dict[str, Any]
    latency_ms: float
    attempts: int
    # per text: the response body it came from (differs from raw_response when `n` fell back)
    raw_responses: list[dict[str, Any]] = field(default_factory=list)


class RequestFailed(Exception):
    """One request that could not be answered (after retries, if the kind is retryable)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status_code: int | None = None,
        attempts: int = 1,
        retry_after: float | None = None,
        partial: ChatResult | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status_code = status_code
        self.attempts = attempts
        self.retry_after = retry_after
        self.partial = partial  # samples obtained before a fallback request failed

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    def __str__(self) -> str:
        code = f" (HTTP {self.status_code})" if self.status_code else ""
        return f"{self.kind}{code}: {self.message}"


AttemptErrorHook = Callable[[RequestFailed, int], None]
SleepFn = Callable[[float], Awaitable[None]]


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms`, `retry-after` as seconds, or `retry-after` as a date."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _parse_chat_body(text: str) -> tuple[dict[str, Any], list[str], list[str | None]]:
    """Decode a chat completion body; anything unusable is a retryable "malformed" failure."""
    try:
        body = json.loads(text)
    except ValueError as err:
        raise RequestFailed("malformed", f"response body is not JSON ({err}): {text[:80]!r}") from None
    texts, reasons = read_chat_doc(body)
    return body, texts, reasons


def read_chat_doc(body: Any) -> tuple[list[str], list[str | None]]:
    """(texts, finish reasons) of a decoded chat completion, in choice order; a body without an
    answer is a "malformed" RequestFailed. A live call and a batch result are read alike."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices:
        raise RequestFailed("malformed", "response has no `choices`")
    texts: list[str] = []
    reasons: list[str | None] = []
    for choice in sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0):
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise RequestFailed("malformed", "a choice has no `message`")
        content = message.get("content")
        if content is None and isinstance(message.get("refusal"), str):
            content = message["refusal"]  # OpenAI puts a refusal here, with content null
        if content is None:
            # no answer at all (not an empty one): retried, then recorded as a failed query,
            # never stored or cached as "" (a rerun would serve the empty answer forever)
            raise RequestFailed("malformed", "a choice's message content is null (no answer)")
        if not isinstance(content, str):
            raise RequestFailed("malformed", "a choice's message content is not text")
        texts.append(content)
        reasons.append(choice.get("finish_reason"))
    return texts, reasons


def _error_text(body: str) -> str:
    """The message of an OpenAI-style error body (`{"error": {"message": ...}}`), else the body."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    err = doc.get("error", doc) if isinstance(doc, dict) else None
    if isinstance(err, dict) and isinstance(err.get("message"), str) and err["message"].strip():
        return str(err["message"])
    if isinstance(err, str) and err.strip():
        return err
    return body


def chat_body(
    messages: list[dict[str, Any]], *, model: str, temperature: float, max_tokens: int,
    response_format: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of one chat request (before `n`): a live call and an OpenAI Batch line
    (behaviordbg.batchfile) send exactly this, so both are the same request to the model."""
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    if response_format is not None:
        body["response_format"] = response_format
    return body


class ModelClient:
    """Talks to one OpenAI-compatible endpoint. Use `async with ModelClient(...) as client:`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_attempts: int = 5,
        backoff_cap: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        on_attempt_error: AttemptErrorHook | None = None,
        api_key_env: str = API_KEY_ENV,
        sleep: SleepFn | None = None,
        backoff_base: float = 0.5,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.base_url = base_url
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_cap = backoff_cap
        self.on_attempt_error = on_attempt_error
        self.api_key_env = api_key_env
        # only to scrub them from anything a server might echo (error text, odd bodies): the key
        # and whatever the URL carries (userinfo, query values)
        self._secrets = [s for s in [api_key or "", *url_secrets(base_url)] if s]
        self.requests_sent = 0
        self.n_supported: bool | None = None  # learnt from the first n>1 call
        self._sleep: SleepFn = sleep or asyncio.sleep
        self._jitter = wait_random_exponential(multiplier=backoff_base, max=backoff_cap)
        self._sem = asyncio.Semaphore(concurrency)
        self._owns_http = http_client is None
        if http_client is None:
            # httpcore's pool does O(requests x connections) work per request, so at high
            # concurrency several small pools cost far less CPU than one big one.
            shards = math.ceil(concurrency / POOL_SHARD)
            per = math.ceil(concurrency / shards) + 2
            tls = httpx.create_ssl_context()  # loading CA certs is slow: once, not per pool
            https = [
                httpx.AsyncClient(
                    verify=tls,
                    timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                    limits=httpx.Limits(max_connections=per, max_keepalive_connections=per),
                )
                for _ in range(shards)
            ]
        else:
            https = [http_client]
        for http in https:
            hooks = dict(http.event_hooks)
            hooks["request"] = [*hooks.get("request", []), self._count_request]
            http.event_hooks = hooks
        self._https = https
        # Query parameters of the base URL (e.g. Azure's ?api-version=) go with every request;
        # left in the base URL, the SDK would append the path after them.
        parts = urlsplit(base_url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        sdk_base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        self._sdks = [
            openai.AsyncOpenAI(
                base_url=sdk_base,
                default_query=query or None,
                api_key=api_key or "not-needed",
                max_retries=0,  # exactly one retry layer: ours
                timeout=timeout,
                # the SDK's own httpx fork is typed apart from httpx; it takes an httpx client
                http_client=http,  # type: ignore[arg-type]
            )
            for http in https
        ]
        self._inflight = [0] * len(self._sdks)

    async def _count_request(self, request: httpx.Request) -> None:
        self.requests_sent += 1

    async def aclose(self) -> None:
        for sdk in self._sdks:
            await sdk.close()
        if self._owns_http:
            for http in self._https:
                await http.aclose()

    async def __aenter__(self) -> ModelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ public calls

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        temperature: float = 0.0,
        max_tokens: int = 160,
        n: int = 1,
        extra: dict[str, Any] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> ChatResult:
        """`n` answers to one conversation; uses the `n` parameter while the server honours it."""
        body = chat_body(messages, model=model, temperature=temperature, max_tokens=max_tokens,
                         response_format=response_format)
        asked = n if (n > 1 and self.n_supported is not False) else 1
        try:
            first = await self._chat_once(body, asked, extra)
        except RequestFailed as err:
            # Some servers reject n above a limit (llama-server: n <= its slots) with a 400.
            if asked == 1 or err.status_code not in (400, 422):
                raise
            self.n_supported = False
            asked = 1
            first = await self._chat_once(body, 1, extra)
        if n <= 1:
            return first
        if asked > 1:
            if len(first.texts) >= n:
                self.n_supported = True
                return replace(first, texts=first.texts[:n], finish_reasons=first.finish_reasons[:n],
                               raw_responses=first.raw_responses[:n])
            self.n_supported = False  # fewer choices than asked: one request per sample from now on
        missing = n - len(first.texts)
        results = await asyncio.gather(
            *(self._chat_once(body, 1, extra) for _ in range(missing)), return_exceptions=True
        )
        merged = first
        failure: BaseException | None = None
        for res in results:
            if isinstance(res, ChatResult):
                merged = replace(
                    merged,
                    texts=merged.texts + res.texts,
                    finish_reasons=merged.finish_reasons + res.finish_reasons,
                    raw_responses=merged.raw_responses + res.raw_responses,
                    latency_ms=max(merged.latency_ms, res.latency_ms),
                    attempts=merged.attempts + res.attempts,
                )
            elif failure is None:
                failure = res
        if failure is not None:
            if isinstance(failure, RequestFailed):
                failure.partial = merged
            raise failure
        return merged

    async def embed(self, texts: list[str], *, model: str) -> list[list[float]]:
        """One embedding vector per text, in input order."""
        payload = {"model": model, "input": texts}

        async def once(sdk: openai.AsyncOpenAI) -> dict[str, Any]:
            raw = await sdk.post("/embeddings", body=payload, cast_to=httpx.Response)
            try:
                doc = json.loads(self._scrub_body(raw.text))
                data = sorted(doc["data"], key=lambda d: d.get("index", 0))
                if len(data) != len(texts):
                    raise ValueError(f"{len(data)} vectors for {len(texts)} inputs")
                return {"vectors": [list(map(float, d["embedding"])) for d in data]}
            except (ValueError, KeyError, TypeError) as err:
                raise RequestFailed("malformed", f"bad embeddings body: {err}") from None

        doc, _, _ = await self._with_retries(once, payload)
        vectors: list[list[float]] = doc["vectors"]
        return vectors

    # ------------------------------------------------------------------ internals

    async def _chat_once(self, body: dict[str, Any], n: int, extra: dict[str, Any] | None) -> ChatResult:
        request = {**body, **({"n": n} if n > 1 else {}), **(extra or {})}

        async def once(sdk: openai.AsyncOpenAI) -> dict[str, Any]:
            # The SDK's generic `post` (auth, base URL, error classes) without its typed-params
            # transform of typed params, a measured several ms of CPU per request.
            raw = await sdk.post("/chat/completions", body=request, cast_to=httpx.Response)
            doc, texts, reasons = _parse_chat_body(self._scrub_body(raw.text))
            return {"doc": doc, "texts": texts, "reasons": reasons}

        out, latency_ms, attempts = await self._with_retries(once, request)
        return ChatResult(
            texts=out["texts"],
            finish_reasons=out["reasons"],
            raw_request=request,
            raw_response=out["doc"],
            latency_ms=latency_ms,
            attempts=attempts,
            raw_responses=[out["doc"]] * len(out["texts"]),
        )

    async def _with_retries(
        self, once: Callable[[openai.AsyncOpenAI], Awaitable[dict[str, Any]]],
        request: dict[str, Any],
    ) -> tuple[dict[str, Any], float, int]:
        """Run `once` with the retry policy; returns (result, latency of the good attempt, attempts)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, RequestFailed) and e.retryable),
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        attempt_no = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempt_no = attempt.retry_state.attempt_number
                    start = time.perf_counter()
                    result = await self._attempt(once)
                    return result, (time.perf_counter() - start) * 1000.0, attempt_no
        except RequestFailed as err:
            err.attempts = attempt_no
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _attempt(
        self, once: Callable[[openai.AsyncOpenAI], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """One HTTP attempt under the semaphore and the per-attempt timeout, errors classified."""
        async with self._sem:
            shard = min(range(len(self._sdks)), key=self._inflight.__getitem__)
            self._inflight[shard] += 1
            try:
                return await asyncio.wait_for(once(self._sdks[shard]), timeout=self.timeout)
            except RequestFailed as err:
                err.message = self._scrub(err.message, 300)
                raise
            except openai.NotFoundError as err:
                served = await self._served_models(self._sdks[shard])
                raise EndpointNotFoundError(
                    f"{redact_url(str(err.request.url))} answered HTTP 404:"
                    f" {self._scrub(_error_text(err.response.text))}",
                    hint="check the model name and the base URL (it usually ends in /v1)"
                    + (f"; this endpoint serves: {', '.join(served)}" if served else
                       "; it lists the models it serves at GET /models"),
                ) from None
            except (openai.AuthenticationError, openai.PermissionDeniedError) as err:
                raise EndpointAuthError(
                    f"{redact_url(self.base_url)} refused the request with HTTP {err.status_code}"
                    " (authentication/permission)",
                    hint=f"check the API key in ${self.api_key_env} (or pass --api-key-env VAR)"
                    " and that it may use this model",
                ) from None
            except openai.RateLimitError as err:
                raise RequestFailed(
                    "rate_limit", "rate limited", status_code=429,
                    retry_after=parse_retry_after(err.response.headers),
                ) from None
            except openai.APIStatusError as err:
                code = err.status_code
                kind = "server" if code >= 500 or code in (408, 409) else "other"
                raise RequestFailed(
                    kind, f"HTTP {code}: {self._scrub(_error_text(err.response.text))}",
                    status_code=code,
                    retry_after=parse_retry_after(err.response.headers),
                ) from None
            except (asyncio.TimeoutError, openai.APITimeoutError, httpx.TimeoutException):
                raise RequestFailed("timeout", f"no answer within {self.timeout:g}s") from None
            except (openai.APIConnectionError, httpx.TransportError) as err:
                cause = err.__cause__ or err
                raise RequestFailed(
                    "connection", self._scrub(f"{type(cause).__name__}: {cause}")
                ) from None
            except openai.APIResponseValidationError as err:
                raise RequestFailed("malformed", self._scrub(str(err))) from None
            finally:
                self._inflight[shard] -= 1

    def _scrub(self, text: str, limit: int = 200) -> str:
        """Error text for logs and the DB: secrets blanked out first, then one short line."""
        return " ".join(scrub(text, self._secrets).split())[:limit]

    def _scrub_body(self, text: str) -> str:
        """A response body with the key (and URL secrets) blanked out, before it is parsed, kept
        or quoted in an error: a server that echoes the Authorization header leaks nothing."""
        if self._secrets and any(s in text for s in self._secrets):
            return scrub(text, self._secrets)
        return text

    async def _served_models(self, sdk: openai.AsyncOpenAI) -> list[str]:
        """Model ids from GET /models, for a 404's hint; [] when the endpoint does not say."""
        try:
            raw = await asyncio.wait_for(sdk.get("/models", cast_to=httpx.Response),
                                         timeout=min(self.timeout, 5.0))
            data = json.loads(raw.text).get("data") or []
            return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m][:20]
        except Exception:  # noqa: BLE001 - only a hint: any failure means "no list"
            return []

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the server gave one (capped), else jittered exponential backoff."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RequestFailed) and exc.retry_after is not None:
            return min(exc.retry_after, self.backoff_cap)
        return float(self._jitter(state))

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if self.on_attempt_error is not None and isinstance(exc, RequestFailed):
            self.on_attempt_error(exc, state.attempt_number)
