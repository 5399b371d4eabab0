"""Judging the follow-up turns of pushback conversations (behaviordbg.judges.followup).

Each turn is judged against its claim with the run's judge, reading the reply's content with
the first question's framing, then its concession / holding markers; the verdicts are stored
like stances (under the turn's id and the judge setting), so a rerun judges nothing twice.
First answers are judged as before, by `judging.judge_missing`, and feed every existing kind;
the turns feed only `caves`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..config import AnalyzeOptions
from ..errors import BehaviordbgError
from ..store import Store
from ..types import Answer, Claim, Evidence, Stance, StanceInput, Turn
from .progress import ProgressSink

if TYPE_CHECKING:  # the judges are imported when judging starts
    from ..judges import Judge

BATCH = 256


def _first_input(a: Answer, claims: Mapping[str, Claim]) -> StanceInput:
    claim = claims.get(a.claim_id)
    return StanceInput(claim=claim.text if claim else a.claim_id, prompt=a.prompt, response=a.text,
                       framing=a.framing, claim_id=a.claim_id, response_id=a.response_id,
                       identity=claim.identity if claim else None)


async def judge_turns(
    store: Store, run_id: str, answers: Sequence[Answer], stances: Mapping[str, Stance],
    claims: Mapping[str, Claim], opts: AnalyzeOptions, setting: str, sink: ProgressSink,
) -> tuple[list[Turn], dict[str, Stance]]:
    """The run's answered follow-up turns and a verdict for each (stored ones reused)."""
    from .. import judges
    from ..judges.followup import combine, followup_input

    by_query = {a.query_id: a for a in answers}
    turns = [t for t in store.turns_of(run_id) if t.text is not None and t.query_id in by_query]
    if not turns:
        return [], {}
    out = store.get_turn_stances(run_id, setting) if opts.reuse_stances else {}
    out = {k: v for k, v in out.items() if v.label != "error"}
    todo = [t for t in turns if t.id not in out]
    sink.start(len(turns), len(turns) - len(todo))
    try:
        if not todo:
            return turns, out
        inputs = {t.id: followup_input(_first_input(by_query[t.query_id], claims), t.text or "",
                                       t.id) for t in todo}
        asked = [t for t in todo if inputs[t.id].response]
        api_key = os.environ.get(opts.judge_api_key_env) if opts.judge_base_url else None
        judge = judges.make_judge(
            opts.judge, base_url=opts.judge_base_url, model=opts.judge_model, api_key=api_key,
            store=store, concurrency=opts.judge_concurrency,
        )
        name = str(getattr(judge, "name", "judge"))
        base: dict[str, Stance] = {
            t.id: Stance(t.id, "unclear", 0.3, name, "only leading words (yes/no, you're right,"
                         " I'm sure, an apology)") for t in todo if not inputs[t.id].response}
        if asked:
            async with judges.session(judge) as jd:
                for start in range(0, len(asked), BATCH):
                    batch = asked[start:start + BATCH]
                    base.update(await _judge(jd, [inputs[t.id] for t in batch], name))
        fresh = []
        for t in todo:
            first = stances.get(by_query[t.query_id].response_id)
            v = combine(base[t.id], t.text or "", t.towards, first.label if first else "error")
            fresh.append(replace(v, response_id=t.id))
        store.save_stances(setting, [v for v in fresh if v.label != "error"])
        out.update((v.response_id, v) for v in fresh)
        sink.advance(len(todo), errors=sum(v.label == "error" for v in fresh))
        return turns, out
    finally:
        sink.finish()


async def _judge(judge: Judge, items: list[StanceInput], name: str) -> dict[str, Stance]:
    """One verdict per input, by id; a judge failure marks the batch "error" (never raises)."""
    try:
        got = list(await judge.judge(items))
    except BehaviordbgError:
        raise
    except Exception as err:  # noqa: BLE001 - a judge outage marks turns, never fails the analysis
        why = f"judge failed on this batch: {type(err).__name__}: {err}"[:200]
        return {i.response_id: Stance(i.response_id, "error", 0.0, name, why) for i in items}
    out = {}
    for i, item in enumerate(items):
        v = got[i] if i < len(got) else None
        out[item.response_id] = (replace(v, response_id=item.response_id) if v is not None
                                 else Stance(item.response_id, "error", 0.0, name, "no verdict"))
    return out


def verify_input(item: StanceInput, ev: Evidence) -> StanceInput:
    """What a second judge (`--verify`) reads for an evidence answer: as it is, except a pushback
    reply (evidence with `turns`), whose content is read against the first question, as the
    analysis read it. Its concession or holding words are not read again: a bare "You're right"
    gives the second judge nothing to agree with, so such a side stays unconfirmed."""
    if not ev.turns:
        return item
    from ..judges.followup import content

    return replace(item, prompt=ev.turns[0][1], response=content(ev.response))
