"""Stance judges: what an answer says toward a claim, given the prompt and its framing.

    judge = make_judge("cascade", base_url=None, store=store)   # None: the embedded local model
    stances = await judge.judge(items)                          # same order, never raises per item

`rules` is offline and deterministic, `llm` asks any OpenAI-compatible model the easy question
(yes or no to this question; complied or declined this request), `cascade` asks the LLM only where
the rules are unsure. Accuracy of each is measured by eval/measure.py, not assumed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import BehaviordbgError
from ..store import Store
from ..types import Stance, StanceInput
from .cascade import CascadeJudge
from .llm import LLMJudge
from .rules import RulesJudge


class Judge(Protocol):
    name: str
    needs_endpoint: bool  # asks a model (an endpoint, or the embedded local model)

    async def judge(self, items: Sequence[StanceInput]) -> list[Stance]: ...


@dataclass(frozen=True)
class JudgeKind:
    """A registry entry: the judge class (which declares whether it needs an endpoint) and how
    to build one from make_judge's arguments."""

    cls: type[Judge]
    build: Callable[..., Judge]

    @property
    def needs_endpoint(self) -> bool:
        return bool(self.cls.needs_endpoint)


def _rules(**_: object) -> Judge:
    return RulesJudge()


def _llm(
    *, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
    store: Store | None = None, concurrency: int = 2,
) -> Judge:  # fmt: skip
    return LLMJudge(base_url=base_url, model=model, api_key=api_key, store=store,
                    concurrency=concurrency)  # fmt: skip


def _cascade(**kw: object) -> Judge:
    return CascadeJudge(RulesJudge(), _llm(**kw))  # type: ignore[arg-type]


JUDGES: dict[str, JudgeKind] = {
    "rules": JudgeKind(RulesJudge, _rules),
    "llm": JudgeKind(LLMJudge, _llm),
    "cascade": JudgeKind(CascadeJudge, _cascade),
}
"""The judge registry: the only list of judge names, and the only place they are checked
(`judge_kind`). A new judge is one entry here."""


def judge_kind(kind: str, option: str = "--judge") -> str:
    """`kind` if the registry has it, else a BehaviordbgError naming the option and the choices.
    Every front end (CLI options, pytest options, config) checks judge names here."""
    if kind not in JUDGES:
        raise BehaviordbgError(
            f"unknown judge {kind!r}", hint=f"use {option} with one of: {', '.join(JUDGES)}"
        )
    return kind


def needs_endpoint(kind: str) -> bool:
    """Whether the judge of this name asks a model (so a command may have to start one)."""
    return JUDGES[judge_kind(kind)].needs_endpoint


def make_judge(
    kind: str = "rules",
    *,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    store: Store | None = None,
    concurrency: int = 2,
) -> Judge:
    """A judge by name. `base_url=None` means the embedded local model (llm and cascade only)."""
    return JUDGES[judge_kind(kind)].build(base_url=base_url, model=model, api_key=api_key, store=store,
                        concurrency=concurrency)  # fmt: skip


@contextlib.asynccontextmanager
async def session(judge: Judge) -> AsyncIterator[Judge]:
    """Hold a judge's endpoint for the whole block: a command that judges in many batches starts
    the embedded server (or opens its HTTP client) once, not once per batch. Judges without an
    endpoint (rules) pass through."""
    if not hasattr(judge, "__aenter__"):
        yield judge
        return
    async with judge:  # type: ignore[attr-defined]
        yield judge


__all__ = ["JUDGES", "CascadeJudge", "Judge", "JudgeKind", "LLMJudge", "RulesJudge", "judge_kind", "make_judge",
           "needs_endpoint", "session"]
