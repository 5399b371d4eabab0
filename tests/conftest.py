"""Shared fixtures. Keep them generic: every area's tests may use them.

`fake_server`: a started `behaviordbg.testing.FakeServer` (real HTTP on 127.0.0.1, port 0), reset
for each test. Script it in the test:

    def test_x(fake_server):
        fake_server.answers = {"Do you have a body?": "Yes."}
        fake_server.fail_next(1, "server_error")
        ... use fake_server.base_url ...

`fake_server_factory(**kwargs)`: more servers, or one with constructor options (ignore_n,
require_api_key, latency, ...); all are stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from behaviordbg.testing import FakeServer


@pytest.fixture
def fake_server_factory() -> Iterator[Callable[..., FakeServer]]:
    servers: list[FakeServer] = []

    def make(*args: Any, **kwargs: Any) -> FakeServer:
        server = FakeServer(*args, **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def fake_server(fake_server_factory: Callable[..., FakeServer]) -> FakeServer:
    """A running fake OpenAI-compatible endpoint with default answers and no faults."""
    return fake_server_factory()
