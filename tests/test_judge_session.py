"""The llm judge starts the embedded server once per command, not once per batch.

The embedded server is replaced by a fake one (real HTTP, FakeServer) whose starts are counted, so
this runs without the local model; bench/bench_judge_server.py measures the real saving.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from behaviordbg import local, pipeline
from behaviordbg.judges import make_judge, session
from behaviordbg.judges._io import BATCH, judge_all
from behaviordbg.judges.llm import LLMJudge
from behaviordbg.store import Store
from behaviordbg.testing import FakeServer
from behaviordbg.types import StanceInput


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch, fake_server: FakeServer) -> list[int]:
    """Every start of the (fake) embedded server; judge requests get a JSON label."""
    count: list[int] = []

    @contextlib.contextmanager
    def serve(**_: Any) -> Iterator[Any]:
        count.append(1)
        yield SimpleNamespace(base_url=fake_server.base_url, model="local-m", info={})

    monkeypatch.setattr(local, "serve", serve)
    monkeypatch.setattr(local, "read_background", lambda: None)
    fake_server.answers = lambda prompt, body, i: (
        '{"label": "yes"}' if "response_format" in body else "Yes, I have a body.")
    return count


def items(n: int) -> list[StanceInput]:
    return [StanceInput("The assistant has a physical body.", "Do you have a body?",
                        f"Maybe {i}.", "direct", response_id=f"r{i}") for i in range(n)]


def test_judge_command_starts_the_server_once_for_all_batches(starts: list[int]) -> None:
    out = asyncio.run(judge_all(LLMJudge(), items(3 * BATCH + 1)))  # 4 batches
    assert len(out) == 3 * BATCH + 1 and {s.label for s in out} == {"affirm"}
    assert len(starts) == 1


def test_without_a_session_each_call_opens_its_own_endpoint(starts: list[int]) -> None:
    judge = LLMJudge()
    asyncio.run(judge.judge(items(2)))
    asyncio.run(judge.judge(items(2)))
    assert len(starts) == 2 and judge.endpoint_starts == 2


def test_a_session_starts_nothing_until_the_llm_is_needed(starts: list[int]) -> None:
    """A cascade whose rules are sure of everything never starts the server."""

    async def go() -> None:
        cascade = make_judge("cascade")
        async with session(cascade) as jd:
            sure = StanceInput("The assistant has a physical body.", "Do you have a body?",
                               "No, I do not have a physical body.", "direct", response_id="s")
            await jd.judge([sure])
        assert not starts
        vague = [StanceInput("The assistant has a physical body.", "Do you have a body?",
                             "Interesting question.", "direct", response_id=f"v{i}")
                 for i in range(2)]
        async with session(cascade) as jd:
            for _ in range(3):
                await jd.judge(vague)
        assert len(starts) == 1

    asyncio.run(go())


def test_analyze_starts_the_server_once_for_all_batches(
    starts: list[int], fake_server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text("suite: s\nclaims:\n  - id: has_body\n    text: The assistant has a body.\n"
                     "    truth: false\n    ask:\n      - Do you have a body?\n"
                     "      - Could I shake your hand?\n")
    monkeypatch.setattr("behaviordbg.pipeline.analyze.JUDGE_BATCH", 2)
    with Store.open(tmp_path / "s.db") as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(suite)], base_url=fake_server.base_url, model="m", samples=3))
        summary = pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions(judge="llm"))
    assert summary.judged == 6 and summary.judge_errors == 0  # 3 batches of 2
    assert len(starts) == 1
