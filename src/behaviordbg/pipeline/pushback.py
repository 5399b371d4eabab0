"""Probing with pushback: after a query's first answer, each of its challenges is sent in the same
conversation, with the model's own first answer as the assistant turn.

Each challenge is a branch of the conversation (system, context, prompt, first answer, challenge
turn 1, answer, challenge turn 2, ...). Every follow-up is cached by the whole conversation it
was sent with (so the cache key holds the model's own earlier answers) and stored the moment it
arrives, so a run killed between the turns of a conversation resumes with exactly the turns it
is missing: a branch restarts from its last stored answer, and a stored turn is never asked again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cache import probe_key
from ..config import RunOptions
from ..store import Store
from ..types import Challenge, Message, Query
from ._workers import in_parallel

if TYPE_CHECKING:
    from .probe import _Prober


@dataclass(frozen=True)
class Branch:
    """One challenge of one answered query: what is left to ask of it."""

    query: Query
    first: str  # the model's first answer
    challenge: Challenge


def planned_turns(planned: Sequence[tuple[Query, str]]) -> int:
    """How many follow-up turns a run plans (for progress)."""
    return sum(len(c.turns) for q, _ in planned for c in q.pushback)


def branches(store: Store, run_id: str, planned: Sequence[tuple[Query, str]]) -> list[Branch]:
    """The branches of the answered queries that still miss a turn, in plan order."""
    if not any(q.pushback for q, _ in planned):
        return []
    firsts = {a.query_id: a.text for a in store.iter_answers(run_id)}
    done = store.answered_turns(run_id)
    out = []
    for q, _ in planned:
        if q.id not in firsts:
            continue
        for c in q.pushback:
            if any((q.id, c.towards, i) not in done for i in range(1, len(c.turns) + 1)):
                out.append(Branch(q, firsts[q.id], c))
    return out


async def ask_followups(prober: _Prober, planned: Sequence[tuple[Query, str]],
                        opts: RunOptions) -> None:
    """Ask every missing follow-up turn, `opts.concurrency` branches at a time."""
    todo = branches(prober.store, prober.run_id, planned)
    if not todo:
        return
    done = prober.store.answered_turns(prober.run_id)
    await in_parallel(todo, opts.concurrency, lambda branch: _branch(prober, branch, done, opts))


async def _branch(prober: _Prober, b: Branch, done: dict[tuple[str, str, int], str],
                  opts: RunOptions) -> None:
    """Walk one challenge's branch (see `walk`)."""
    await walk(prober, b.query, b.first, b.challenge.towards, b.challenge.turns, done, opts)


async def walk(prober: _Prober, q: Query, first: str, side: str, says: Sequence[str],
               done: Mapping[tuple[str, str, int], str], opts: RunOptions) -> None:
    """Walk one branch turn by turn (`side` names it in the turns table: a challenge's
    "affirm"/"deny", or "clarify" for the forced-choice follow-up of pipeline/clarify.py):
    stored answers are replayed, missing ones asked, each cached by the whole conversation
    and stored the moment it arrives."""
    from ..client import RequestFailed
    from .probe import _current_query

    store = prober.store
    conv: tuple[Message, ...] = q.messages + (Message("assistant", first),)
    for idx, say in enumerate(says, 1):
        msgs = conv + (Message("user", say),)
        have = done.get((q.id, side, idx))
        if have is not None:
            conv = msgs + (Message("assistant", have),)
            continue
        key = probe_key(prober.params, msgs, q.sample_idx)
        hit = None if opts.refresh else store.cache_get(key)
        if hit is not None and hit.get("text") is not None:
            text = str(hit["text"])
            store.add_turn(prober.run_id, q.id, side, idx, say, msgs, key,
                           text=text, finish_reason=hit.get("finish_reason"), latency_ms=0.0,
                           from_cache=True)
            prober.counters["cached"] += 1
        else:
            assert prober.client is not None
            _current_query.set(q.id)
            try:
                result = await prober.client.chat(
                    [{"role": m.role, "content": m.content} for m in msgs],
                    model=prober.params.model, temperature=prober.params.temperature,
                    max_tokens=prober.params.max_tokens, n=1,
                )
            except RequestFailed as err:
                store.add_turn(prober.run_id, q.id, side, idx, say, msgs, key,
                               text=None, error=f"{err.kind}: {err.message}")
                prober.counters["failed"] += 1
                prober.sink.advance(errors=1)
                return  # later turns of this branch need this answer
            text = result.texts[0]
            store.add_turn(prober.run_id, q.id, side, idx, say, msgs, key,
                           text=text, finish_reason=result.finish_reasons[0],
                           latency_ms=round(result.latency_ms, 1))
            store.cache_put(key, "probe", {"text": text, "finish_reason": result.finish_reasons[0],
                                           "model": prober.params.model})
            prober.counters["asked"] += 1
        prober.sink.advance()
        conv = msgs + (Message("assistant", text),)
