"""Judging in the analysis stage: the judges wired to the store.

`judge_missing`: stances for a run's answers, stored verdicts reused, the rest judged in batches
and saved; a killed analysis loses no judge work, since every batch is stored as it comes back.
`verify_with`: the verification pass (`analyze --verify`), whose rules are in
behaviordbg.analysis.verify: a second judge re-reads the decisive evidence, stored verdicts first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..analysis.verify import VerifyPlan, apply, inputs, plan, second_judge, to_verify
from ..config import AnalyzeOptions
from ..errors import BehaviordbgError
from ..store import Store
from ..types import Answer, Claim, Contradiction, Stance, StanceInput
from .progress import ProgressSink

if TYPE_CHECKING:  # the judges are imported when judging starts: `behaviordbg --help` stays fast
    from ..judges import Judge

VERIFY_BATCH = 64


async def judge_missing(
    store: Store,
    run_id: str,
    answers: Sequence[Answer],
    claims: Mapping[str, Claim],
    opts: AnalyzeOptions,
    setting: str,
    sink: ProgressSink,
    *,
    batch_size: int,
) -> tuple[dict[str, Stance], int]:
    """Reuse stored verdicts of this judge setting; judge the rest in batches, saving each batch.

    "error" verdicts are kept for this analysis but not stored, so the next analysis retries them.
    A judge that raises on a whole batch marks that batch "error" instead of failing the run.
    """
    from .. import judges  # looked up at call time: tests replace judges.make_judge

    stances = store.get_stances(run_id, setting) if opts.reuse_stances else {}
    stances = {k: v for k, v in stances.items() if v.label != "error"}
    todo = [a for a in answers if a.response_id not in stances]
    sink.start(len(answers), len(answers) - len(todo))
    if todo:
        api_key = os.environ.get(opts.judge_api_key_env) if opts.judge_base_url else None
        judge = judges.make_judge(
            opts.judge, base_url=opts.judge_base_url, model=opts.judge_model, api_key=api_key,
            store=store, concurrency=opts.judge_concurrency,
        )
        try:  # one judge session: the embedded server, if needed, starts once for all batches
            async with judges.session(judge) as jd:
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
    judge: Judge, batch: Sequence[Answer], claims: Mapping[str, Claim]
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


async def verify(
    store: Store,
    run_id: str,
    contradictions: Sequence[Contradiction],
    claims: Mapping[str, Claim],
    p: VerifyPlan,
    judge: Judge,
) -> tuple[list[Contradiction], dict[str, Any]]:
    """Re-read the decisive evidence with `judge` (stored verdicts first) and re-assess.

    Returns the contradictions with their verification, and counts: answers read, asked now."""
    from .. import judges

    setting = f"verify:{p.setting}"
    wanted = to_verify(p, contradictions)
    stored = {k: v for k, v in store.get_stances(run_id, setting).items()
              if k in wanted and v.label != "error"}
    from .turn_judging import verify_input  # a pushback reply is read like its first answer

    todo = [verify_input(i, wanted[i.response_id]) for i in inputs(wanted, claims)
            if i.response_id not in stored]
    fresh: dict[str, Stance] = {}
    if todo:
        async with judges.session(judge) as jd:
            for start in range(0, len(todo), VERIFY_BATCH):
                batch = todo[start:start + VERIFY_BATCH]
                try:
                    got = list(await jd.judge(batch))
                except BehaviordbgError:
                    raise
                except Exception as err:  # noqa: BLE001 - an outage demotes, never crashes
                    why = f"verify judge failed: {type(err).__name__}: {err}"[:200]
                    got = [Stance(i.response_id, "error", 0.0, p.setting, why) for i in batch]
                got = [replace(v, response_id=i.response_id) for i, v in zip(batch, got)]
                store.save_stances(setting, [v for v in got if v.label != "error"])
                fresh.update((v.response_id, v) for v in got)
    checked = apply(p, contradictions, {**stored, **fresh})
    return checked, {"judge": p.setting, "answers": len(wanted), "asked": len(todo),
                     "reused": len(stored)}


def plan_for(opts: AnalyzeOptions) -> VerifyPlan:
    """The verification plan of these options (judge, judge_model, verify_judge, verify_model)."""
    return plan(opts.judge, opts.judge_model, opts.verify_judge, opts.verify_model)


def needs_local_llm(opts: AnalyzeOptions) -> bool:
    """Whether these AnalyzeOptions verify with the llm judge on the embedded model."""
    if not opts.verify or opts.verify_base_url:
        return False
    return second_judge(opts.judge, opts.verify_judge) == "llm"


async def verify_with(
    store: Store, run_id: str, contradictions: Sequence[Contradiction],
    claims: Mapping[str, Claim], p: VerifyPlan, opts: AnalyzeOptions,
) -> tuple[list[Contradiction], dict[str, Any]]:
    """`verify` with the second judge the AnalyzeOptions name (verify_base_url None + llm: the
    embedded model, started once for the pass if no server is running)."""
    from .. import judges

    api_key = os.environ.get(opts.verify_api_key_env) if opts.verify_base_url else None
    judge = judges.make_judge(p.kind, base_url=opts.verify_base_url, model=opts.verify_model,
                       api_key=api_key, store=store, concurrency=opts.judge_concurrency)
    return await verify(store, run_id, contradictions, claims, p, judge)
