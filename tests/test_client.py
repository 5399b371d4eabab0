"""ModelClient unit tests over httpx.MockTransport (the SDK's retries off: one retry layer), and
the cache keys."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from behaviordbg.cache import canonical_json, probe_key, request_key
from behaviordbg.client import ModelClient, RequestFailed, parse_retry_after
from behaviordbg.errors import EndpointAuthError
from behaviordbg.types import GenParams, Message

MSGS = [{"role": "user", "content": "Do you have a body?"}]
SECRET = "sk-test-0123456789abcdef"


def completion(*texts: str) -> httpx.Response:
    return httpx.Response(200, json={
        "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
            for i, t in enumerate(texts)
        ],
    })


class Script:
    """A MockTransport handler that plays responses in order and records request bodies."""

    def __init__(self, *steps: httpx.Response | Exception | Callable[[httpx.Request], Any]) -> None:
        self.steps = list(steps)
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content or b"{}"))
        self.auth.append(request.headers.get("authorization", ""))
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        if callable(step) and not isinstance(step, httpx.Response):
            result = step(request)
            return await result if asyncio.iscoroutine(result) else result
        return step


def make_client(script: Script, **kwargs: Any) -> tuple[ModelClient, list[float], list[tuple[str, int]]]:
    sleeps: list[float] = []
    seen: list[tuple[str, int]] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    http = httpx.AsyncClient(transport=httpx.MockTransport(script))
    client = ModelClient(
        "http://model.test/v1", kwargs.pop("api_key", SECRET), http_client=http, sleep=fake_sleep,
        on_attempt_error=lambda err, n: seen.append((err.kind, n)), **kwargs,
    )
    return client, sleeps, seen


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --------------------------------------------------------------------------- retries


def test_429_honours_retry_after_seconds() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {}}),
                    completion("yes"))
    client, sleeps, seen = make_client(script)
    result = run(client.chat(MSGS, model="m"))
    assert result.texts == ["yes"]
    assert result.attempts == 2
    assert sleeps == [7.0]
    assert seen == [("rate_limit", 1)]
    assert client.requests_sent == 2


def test_429_retry_after_http_date_and_cap() -> None:
    date = formatdate(time.time() + 5, usegmt=True)
    script = Script(httpx.Response(429, headers={"Retry-After": date}), completion("a"))
    client, sleeps, _ = make_client(script)
    run(client.chat(MSGS, model="m"))
    assert len(sleeps) == 1 and 3.0 <= sleeps[0] <= 5.5

    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}), completion("a"))
    client, sleeps, _ = make_client(script, backoff_cap=2.5)
    run(client.chat(MSGS, model="m"))
    assert sleeps == [2.5]


def test_500_then_success_uses_capped_jittered_backoff() -> None:
    script = Script(httpx.Response(500, json={"error": {"message": "boom"}}),
                    httpx.Response(503, text="busy"), completion("ok"))
    client, sleeps, seen = make_client(script, backoff_cap=0.75)
    result = run(client.chat(MSGS, model="m"))
    assert result.texts == ["ok"] and result.attempts == 3
    assert len(sleeps) == 2 and all(0.0 <= s <= 0.75 for s in sleeps)
    assert seen == [("server", 1), ("server", 2)]
    assert client.requests_sent == 3


def test_transport_timeout_then_success() -> None:
    script = Script(httpx.ReadTimeout("slow"), completion("late"))
    client, _, seen = make_client(script)
    assert run(client.chat(MSGS, model="m")).texts == ["late"]
    assert seen == [("timeout", 1)]


def test_per_attempt_timeout_cuts_a_hanging_attempt() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return completion("never")

    script = Script(hang, completion("fast"))
    client, _, seen = make_client(script, timeout=0.2)
    start = time.perf_counter()
    assert run(client.chat(MSGS, model="m")).texts == ["fast"]
    assert time.perf_counter() - start < 3.0
    assert seen == [("timeout", 1)]


def test_connection_errors_exhaust_attempts() -> None:
    script = Script(httpx.ConnectError("refused"))
    client, sleeps, seen = make_client(script, max_attempts=3)
    with pytest.raises(RequestFailed) as info:
        run(client.chat(MSGS, model="m"))
    assert info.value.kind == "connection"
    assert info.value.attempts == 3
    assert client.requests_sent == 3
    assert len(sleeps) == 2  # no sleep after the last attempt
    assert [k for k, _ in seen] == ["connection", "connection"]


@pytest.mark.parametrize("bad", [
    httpx.Response(200, text="<html>not json</html>"),
    httpx.Response(200, json={"id": "x", "object": "chat.completion"}),  # no choices
    httpx.Response(200, json={"choices": [{"index": 0}]}),  # no message
])
def test_malformed_body_is_retried(bad: httpx.Response) -> None:
    script = Script(bad, completion("fine"))
    client, _, seen = make_client(script)
    result = run(client.chat(MSGS, model="m"))
    assert result.texts == ["fine"]
    assert seen == [("malformed", 1)]


@pytest.mark.parametrize("status", [401, 403])
def test_auth_error_stops_at_once_without_leaking_the_key(status: int) -> None:
    script = Script(httpx.Response(status, json={"error": {"message": f"bad key {SECRET}"}}))
    client, sleeps, _ = make_client(script, api_key_env="MY_KEY_VAR")
    with pytest.raises(EndpointAuthError) as info:
        run(client.chat(MSGS, model="m"))
    text = str(info.value)
    assert "MY_KEY_VAR" in text and "model.test" in text
    assert SECRET not in text
    assert client.requests_sent == 1 and sleeps == []
    assert script.auth == [f"Bearer {SECRET}"]  # the key is sent, only to the endpoint


def test_400_is_not_retried_and_scrubs_the_key() -> None:
    script = Script(httpx.Response(400, json={"error": {"message": f"bad param, key {SECRET}"}}))
    client, _, _ = make_client(script)
    with pytest.raises(RequestFailed) as info:
        run(client.chat(MSGS, model="m"))
    assert info.value.kind == "other" and info.value.status_code == 400
    assert info.value.attempts == 1 and client.requests_sent == 1
    assert SECRET not in str(info.value) and "***" in str(info.value)


# --------------------------------------------------------------------------- samples (n)


def test_n_is_used_when_honoured() -> None:
    script = Script(lambda req: completion(*[f"s{i}" for i in range(json.loads(req.content)["n"])]))
    client, _, _ = make_client(script)
    result = run(client.chat(MSGS, model="m", n=3, temperature=0.7))
    assert result.texts == ["s0", "s1", "s2"]
    assert client.n_supported is True and client.requests_sent == 1
    assert script.bodies[0]["n"] == 3 and script.bodies[0]["temperature"] == 0.7


def test_n_falls_back_to_one_request_per_sample() -> None:
    counter = iter(range(100))
    script = Script(lambda req: completion(f"a{next(counter)}"))  # ignores n
    client, _, _ = make_client(script)
    result = run(client.chat(MSGS, model="m", n=3))
    assert sorted(result.texts) == ["a0", "a1", "a2"] and len(result.raw_responses) == 3
    assert client.n_supported is False and client.requests_sent == 3
    run(client.chat(MSGS, model="m", n=2))  # detected once: no more `n` in bodies
    assert client.requests_sent == 5
    assert "n" not in script.bodies[-1] and "n" not in script.bodies[-2]


def test_n_rejected_with_400_falls_back_to_one_request_per_sample() -> None:
    counter = iter(range(100))

    def answer(req: httpx.Request) -> httpx.Response:
        if json.loads(req.content).get("n", 1) > 2:  # llama-server: n must not exceed its slots
            return httpx.Response(400, json={"error": {"message": "n must be <= 2"}})
        return completion(f"a{next(counter)}")

    script = Script(answer)
    client, _, _ = make_client(script)
    result = run(client.chat(MSGS, model="m", n=4))
    assert sorted(result.texts) == ["a0", "a1", "a2", "a3"]
    assert client.n_supported is False and client.requests_sent == 5
    assert all("n" not in body for body in script.bodies[1:])


def test_fallback_failure_keeps_the_samples_obtained() -> None:
    script = Script(completion("first"), httpx.Response(400, json={}))
    client, _, _ = make_client(script)
    with pytest.raises(RequestFailed) as info:
        run(client.chat(MSGS, model="m", n=2))
    assert info.value.partial is not None and info.value.partial.texts == ["first"]


def test_extra_and_response_format_reach_the_body() -> None:
    script = Script(completion('{"label": "yes"}'))
    client, _, _ = make_client(script)
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    result = run(client.chat(MSGS, model="m", extra={"seed": 3}, response_format=fmt))
    assert script.bodies[0]["seed"] == 3 and script.bodies[0]["response_format"] == fmt
    assert result.raw_request["seed"] == 3 and result.raw_response["choices"]
    assert "api_key" not in json.dumps(result.raw_request) and SECRET not in json.dumps(result.raw_request)


def test_embed_returns_vectors_in_input_order() -> None:
    body = {"object": "list", "data": [{"index": 1, "embedding": [0.0, 1.0]},
                                        {"index": 0, "embedding": [1.0, 0.0]}]}
    script = Script(httpx.Response(500), httpx.Response(200, json=body))
    client, _, _ = make_client(script)
    assert run(client.embed(["a", "b"], model="e")) == [[1.0, 0.0], [0.0, 1.0]]
    assert client.requests_sent == 2


def test_concurrency_is_bounded() -> None:
    live = {"now": 0, "peak": 0}

    async def slow(request: httpx.Request) -> httpx.Response:
        live["now"] += 1
        live["peak"] = max(live["peak"], live["now"])
        await asyncio.sleep(0.02)
        live["now"] -= 1
        return completion("x")

    script = Script(slow)
    client, _, _ = make_client(script, concurrency=3)

    async def many() -> None:
        await asyncio.gather(*(client.chat(MSGS, model="m") for _ in range(12)))

    run(many())
    assert live["peak"] == 3 and client.requests_sent == 12


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "garbage"}) is None
    assert parse_retry_after({}) is None
    past = formatdate(time.time() - 60, usegmt=True)
    assert parse_retry_after({"retry-after": past}) == 0.0


# --------------------------------------------------------------------------- cache keys


def test_canonical_json_is_order_and_space_free() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    assert request_key("probe", {"x": 1, "y": 2}) == request_key("probe", {"y": 2, "x": 1})
    assert request_key("probe", {"x": 1}) != request_key("judge", {"x": 1})


def test_probe_key_covers_every_output_affecting_parameter() -> None:
    base = GenParams(model="m", base_url="http://h/v1", temperature=0.7, max_tokens=160)
    msgs = [Message("user", "Do you have a body?")]
    key = probe_key(base, msgs, 0)
    assert probe_key(base, [{"role": "user", "content": "Do you have a body?"}], 0) == key
    variants = [
        probe_key(GenParams(**{**base.__dict__, "model": "m2"}), msgs, 0),
        probe_key(GenParams(**{**base.__dict__, "base_url": "http://other/v1"}), msgs, 0),
        probe_key(GenParams(**{**base.__dict__, "temperature": 0.0}), msgs, 0),
        probe_key(GenParams(**{**base.__dict__, "max_tokens": 20}), msgs, 0),
        probe_key(GenParams(**{**base.__dict__, "top_p": 0.9}), msgs, 0),
        probe_key(GenParams(**{**base.__dict__, "seed": 1}), msgs, 0),
        probe_key(GenParams(**{**base.__dict__, "extra": (("stop", ["\n"]),)}), msgs, 0),
        probe_key(base, [Message("user", "Do you have a body??")], 0),
        probe_key(base, [Message("system", "Be brief."), *msgs], 0),
        probe_key(base, msgs, 1),
    ]
    assert len({key, *variants}) == len(variants) + 1
    # credentials in the URL never reach the key
    with_creds = GenParams(**{**base.__dict__, "base_url": "http://user:pw@h/v1"})
    other_creds = GenParams(**{**base.__dict__, "base_url": "http://user:other@h/v1"})
    assert probe_key(with_creds, msgs, 0) == probe_key(other_creds, msgs, 0)
