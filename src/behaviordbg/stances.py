"""Stances for a run's answers: stored verdicts reused, the rest judged in batches and saved.

The analysis stage of the pipeline (pipeline.analyze_run) calls `judge_missing`; a killed
analysis loses no judge work, since every batch is stored as it comes back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from .errors import BehaviordbgError
from .store import Store
from .types import Answer, Claim, Stance, StanceInput


async def judge_missing(
    store: Store,
    run_id: str,
    answers: Sequence[Answer],
    claims: Mapping[str, Claim],
    opts: Any,
    setting: str,
    sink: Any,
    *,
    batch_size: int,
) -> tuple[dict[str, Stance], int]:
    """Reuse stored verdicts of this judge setting; judge the rest in batches, saving each batch.

    "error" verdicts are kept for this analysis but not stored, so the next analysis retries them.
    A judge that raises on a whole batch marks that batch "error" instead of failing the run.
    """
    from .judges import make_judge, session

    stances = store.get_stances(run_id, setting) if opts.reuse_stances else {}
    stances = {k: v for k, v in stances.items() if v.label != "error"}
    todo = [a for a in answers if a.response_id not in stances]
    sink.start(len(answers), len(answers) - len(todo))
    if todo:
        api_key = os.environ.get(opts.judge_api_key_env) if opts.judge_base_url else None
        judge = make_judge(
            opts.judge, base_url=opts.judge_base_url, model=opts.judge_model, api_key=api_key,
            store=store, concurrency=opts.judge_concurrency,
        )
        try:  # one judge session: the embedded server, if needed, starts once for all batches
            async with session(judge) as jd:
                for start in range(0, len(todo), batch_size):
                    batch = todo[start : start + batch_size]
                    verdicts = await judge_batch(jd, batch, claims)
                    store.save_stances(setting, [v for v in verdicts if v.label != "error"])
                    stances.update((v.response_id, v) for v in verdicts)
                    sink.advance(len(batch), errors=sum(v.label == "error" for v in verdicts))
        finally:
            sink.finish()
    else:
        sink.finish()
    return stances, len(todo)


async def judge_batch(
    judge: Any, batch: Sequence[Answer], claims: Mapping[str, Claim]
) -> list[Stance]:
    """One verdict per answer, in order; a judge failure becomes "error" verdicts."""
    items = [
        StanceInput(
            claim=claims[a.claim_id].text if a.claim_id in claims else a.claim_id,
            prompt=a.prompt, response=a.text, framing=a.framing, claim_id=a.claim_id,
            response_id=a.response_id,
            identity=claims[a.claim_id].identity if a.claim_id in claims else None,
        )
        for a in batch
    ]
    name = str(getattr(judge, "name", "judge"))
    try:
        verdicts = list(await judge.judge(items))
    except BehaviordbgError:
        raise  # setup problems (no local model, bad key) need the person, not "error" labels
    except Exception as err:  # noqa: BLE001 - a judge outage marks records, never fails the run
        why = f"judge failed on this batch: {type(err).__name__}: {err}"[:200]
        return [Stance(a.response_id, "error", 0.0, name, why) for a in batch]
    out = []
    for i, a in enumerate(batch):
        v = verdicts[i] if i < len(verdicts) else None
        if v is None or v.label not in ("affirm", "deny", "unclear", "refuse", "error"):
            label = getattr(v, "label", None)
            out.append(Stance(a.response_id, "error", 0.0, name,
                              f"judge returned no usable label ({str(label)[:40]!r})"))
        else:
            out.append(v if v.response_id == a.response_id
                       else replace(v, response_id=a.response_id))
    return out
