"""Fix datasets from bugs: the run's wrong answers paired with truthful ones, ready to render.

Wires the pure stage (behaviordbg.analysis.fixdata) to the store, a teacher endpoint and a judge:
the bugs of the run's newest analysis with the wanted triage status, the run's answers and the
stances of that analysis's judge, the exact conversation every query was sent as. For each wrong
answer the truthful one comes, in this order, from (1) the model's own words (another sample, then
another prompt of the claim in the same framing), (2) a teacher endpoint told the fact and kept
only when the judge reads the stance the fact requires on a solid verdict, (3) nowhere: skipped and
counted. Rendering is behaviordbg.export.fix_datasets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..analysis.fixdata import (
    Chosen,
    FixDataset,
    FixExample,
    Wrong,
    own_words,
    solid,
    teacher_instruction,
    wrong_answers,
)
from ..config import API_KEY_ENV
from ..errors import BehaviordbgError
from ..store import Store, now_iso
from ..types import BUG_STATUSES, Claim, Message, Query, StanceInput, Suite
from .analyze import run_manifest, run_suites
from .progress import NullProgress, ProgressSink

LOCAL = "local"  # --teacher-model local: the embedded model, told the fact, is the teacher
DEFAULT_STATUSES: tuple[str, ...] = ("confirmed",)
"""Only bugs a person confirmed make training data by default: an unreviewed bug may be a judge
error, and training on it would teach the model the judge's mistake."""


@dataclass(frozen=True)
class FixDataOptions:
    """What to export: which bugs (by triage status) and the optional teacher endpoint."""

    statuses: tuple[str, ...] = DEFAULT_STATUSES
    teacher_base_url: str | None = None
    teacher_model: str | None = None
    teacher_api_key_env: str = API_KEY_ENV
    teacher_temperature: float = 0.3
    teacher_max_tokens: int = 200
    judge: str = "rules"  # reads the teacher's answers; needs no endpoint
    survives_prompting: bool = False  # only bugs a prompted baseline did not fix (prompting.py)

    def __post_init__(self) -> None:
        bad = [s for s in self.statuses if s not in BUG_STATUSES]
        if bad or not self.statuses:
            raise BehaviordbgError(f"unknown bug status {', '.join(bad) or '(none)'}",
                                   hint=f"use --status with one or more of: {', '.join(BUG_STATUSES)}")
        if self.teacher_base_url and not self.teacher_model:
            raise BehaviordbgError("--teacher-base-url needs --teacher-model",
                                   hint="pass the endpoint's model id, e.g. --teacher-model gpt-4o")
        if self.teacher_model and not self.teacher_base_url and self.teacher_model != LOCAL:
            raise BehaviordbgError(f"--teacher-model {self.teacher_model} needs --teacher-base-url",
                                   hint=f"pass the endpoint too, or --teacher-model {LOCAL} for"
                                        " the embedded local model")
        if self.teacher_base_url:
            from ..urls import check_base_url

            check_base_url(self.teacher_base_url, "--teacher-base-url")


def build_fix_dataset(
    store: Store, run_id: str, opts: FixDataOptions, progress: ProgressSink | None = None,
) -> FixDataset:
    """The fix examples of a run's selected bugs (newest analysis). Asks the teacher, if one is
    named, only for wrong answers without a truthful answer in the model's own words."""
    analysis = store.require_analysis(run_id)
    run = store.get_run(analysis["run_id"])
    rid = run["id"]
    suites = run_suites(run)
    claims: dict[str, Claim] = {c.id: c for s in suites for c in s.claims}
    suite_of: dict[str, Suite] = {c.id: s for s in suites for c in s.claims}
    bugs = [b for b in store.bugs_for_analysis(analysis["id"]) if b.status in opts.statuses]
    if opts.survives_prompting:  # the bugs a system prompt does not fix are where training goes
        from ..prompting import STILL_THERE, require_comparison, verdict_fields

        require_comparison(store, rid)
        verdicts = verdict_fields(store, rid)[1]
        bugs = [b for b in bugs if (verdicts.get(b.fingerprint) or {}).get("verdict")
                in STILL_THERE]
    answers = list(store.iter_answers(rid))
    stances = store.get_stances(rid, analysis["judge"])
    queries: dict[str, Query] = {q.id: q for q, _ in store.planned_queries(rid)}
    wrongs, skipped = wrong_answers(bugs, claims, run_manifest(run), answers, stances)
    used: Counter[str] = Counter()
    examples: list[FixExample] = []
    need_teacher: list[Wrong] = []
    for w in wrongs:
        chosen = own_words(w, answers, stances, used)
        if chosen is None:
            need_teacher.append(w)
        else:
            examples.append(_example(w, chosen, queries, suite_of))
    teacher: dict[str, Any] = {}
    if need_teacher and opts.teacher_model:
        with _teacher_endpoint(opts) as (base_url, model, api_key):
            got, teacher = asyncio.run(_ask_teacher(need_teacher, claims, suite_of, queries, opts,
                                                    progress or NullProgress(), base_url, model,
                                                    api_key))
        for w in need_teacher:
            c = got.get(w.answer.response_id)
            if c is None:
                skipped["teacher answer not confirmed by the judge"] += 1
            else:
                examples.append(_example(w, c, queries, suite_of))
    elif need_teacher:
        skipped["no truthful answer of its own (no --teacher-model)"] += len(need_teacher)
    examples.sort(key=lambda e: (e.wrong.answer.claim_id, e.wrong.answer.framing,
                                 e.wrong.answer.prompt_idx, e.wrong.answer.sample_idx))
    return FixDataset(
        run_id=rid, analysis_id=analysis["id"], model=run["model"], judge=analysis["judge"],
        statuses=opts.statuses,
        bugs=[{"fingerprint": b.fingerprint, "kind": b.kind, "claims": list(b.claims),
               "status": b.status, "title": b.title} for b in bugs],
        examples=examples, skipped=skipped, teacher=teacher, created_at=now_iso(),
    )


def _conversation(w: Wrong, queries: dict[str, Query], suite_of: dict[str, Suite]
                  ) -> tuple[Message, ...]:
    """The conversation the wrong answer replied to: as sent (stored with the query), else
    rebuilt from the suite (system prompt, context turns, prompt)."""
    q = queries.get(w.answer.query_id)
    if q is not None and q.messages:
        return q.messages
    suite = suite_of.get(w.answer.claim_id)
    head = [Message("system", suite.system_prompt)] if suite and suite.system_prompt else []
    return (*head, *(suite.context if suite else ()), Message("user", w.answer.prompt))


def _example(w: Wrong, chosen: Chosen, queries: dict[str, Query], suite_of: dict[str, Suite]
             ) -> FixExample:
    suite = suite_of.get(w.answer.claim_id)
    return FixExample(w, _conversation(w, queries, suite_of), chosen,
                      suite.name if suite else w.answer.suite)


async def _ask_teacher(
    wrongs: Sequence[Wrong], claims: dict[str, Claim], suite_of: dict[str, Suite],
    queries: dict[str, Query], opts: FixDataOptions, sink: ProgressSink, base_url: str,
    model: str, api_key: str | None,
) -> tuple[dict[str, Chosen], dict[str, Any]]:
    """Ask the teacher each wrong answer's conversation under the fact it must respect; keep the
    answers the judge reads with the truthful stance on a solid verdict."""

    texts, failed = await _teacher_texts(wrongs, claims, suite_of, queries, opts, sink,
                                         base_url, model, api_key)
    return await _judged(wrongs, claims, texts, failed, opts, model)


@contextlib.contextmanager
def _teacher_endpoint(opts: FixDataOptions) -> Iterator[tuple[str, str, str | None]]:
    """(URL, model, API key) of the teacher: the endpoint named, or the embedded model."""
    if opts.teacher_base_url:
        yield (opts.teacher_base_url, str(opts.teacher_model),
               os.environ.get(opts.teacher_api_key_env))
        return
    from .endpoint import embedded_server

    with embedded_server() as server:
        yield server.base_url, server.model, None


async def _teacher_texts(
    wrongs: Sequence[Wrong], claims: dict[str, Claim], suite_of: dict[str, Suite],
    queries: dict[str, Query], opts: FixDataOptions, sink: ProgressSink, base_url: str,
    model: str, api_key: str | None,
) -> tuple[dict[str, str], int]:
    from ..client import ModelClient, RequestFailed

    texts: dict[str, str] = {}
    failed = 0
    sink.start(len(wrongs))
    async with ModelClient(base_url, api_key, concurrency=2 if opts.teacher_base_url is None
                           else 4, timeout=300.0, api_key_env=opts.teacher_api_key_env) as client:

        async def one(w: Wrong) -> None:
            nonlocal failed
            claim = claims.get(w.answer.claim_id)
            suite = suite_of.get(w.answer.claim_id)
            convo = [m for m in _conversation(w, queries, suite_of) if m.role != "system"]
            system = teacher_instruction(claim.text if claim else w.answer.claim_id, w.truth,
                                         suite.system_prompt if suite else None)
            messages = [{"role": "system", "content": system},
                        *({"role": m.role, "content": m.content} for m in convo)]
            try:
                res = await client.chat(messages, model=model,
                                        temperature=opts.teacher_temperature,
                                        max_tokens=opts.teacher_max_tokens)
                text = (res.texts[0] if res.texts else "") or ""
                if text.strip():
                    texts[w.answer.response_id] = text.strip()
            except RequestFailed:
                failed += 1
            sink.advance(1)

        await asyncio.gather(*(one(w) for w in wrongs))
    sink.finish()
    return texts, failed


async def _judged(wrongs: Sequence[Wrong], claims: dict[str, Claim], texts: dict[str, str],
                  failed: int, opts: FixDataOptions, model: str
                  ) -> tuple[dict[str, Chosen], dict[str, Any]]:
    """The teacher's answers the judge reads with the truthful stance on a solid verdict."""
    from .. import judges

    items = [StanceInput(
        claim=claims[w.answer.claim_id].text if w.answer.claim_id in claims else w.answer.claim_id,
        prompt=w.answer.prompt, response=texts[w.answer.response_id], framing=w.answer.framing,
        claim_id=w.answer.claim_id, response_id=w.answer.response_id,
        identity=claims[w.answer.claim_id].identity if w.answer.claim_id in claims else None,
    ) for w in wrongs if w.answer.response_id in texts]
    kept: dict[str, Chosen] = {}
    if items:
        judge = judges.make_judge(opts.judge)
        async with judges.session(judge) as jd:
            verdicts = list(await jd.judge(items))
        truth = {w.answer.response_id: w.truth for w in wrongs}
        for item, v in zip(items, verdicts):
            if solid(v, truth[item.response_id]):
                kept[item.response_id] = Chosen(item.response, "teacher", v.label,
                                                float(v.confidence), v.judge, None, item.prompt)
    return kept, {"model": model, "asked": len(wrongs), "answered": len(texts),
                  "failed": failed, "kept": len(kept), "rejected": len(texts) - len(kept)}
