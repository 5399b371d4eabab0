"""The forced-choice follow-up (`run --clarify`), wired: which first answers get one, asking it,
and what the analysis does with the reply.

At run time, once the first answers are in, every answer to a yes/no question or a request that
the rules judge reads as "unclear" (and that called no tool) gets ONE follow-up in the same
conversation: system, context, prompt, the model's own first answer as the assistant turn, then
"Please answer with just yes or no: <question>" (requests: "Did you actually do it? ...";
behaviordbg.judges.clarify). It goes through the pushback machinery (`pushback.walk`): cached by
the whole conversation, stored in the turns table (side "clarify") the moment it arrives, and a
resumed run asks only the follow-ups it has no reply for.

At analysis time, an answer the analysis judge read as "unclear" whose follow-up reply is
decisive is read with the reply's stance (`apply`: judge "clarify", judges.clarify.CONFIDENCE;
people's labels still win), and the contradictions that only these clarified stances show are
added as candidates (`add_candidates`): a forced reply never adds, removes or changes a bug.
Their clarified evidence carries the whole conversation (`with_conversations`), so every export
and the dashboard show the first answer and the reply.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..config import RunOptions
from ..store import Store
from ..store.turns import CLARIFY
from ..types import Answer, Contradiction, Evidence, Query, Stance

_JUDGE = "clarify"  # judges.clarify.JUDGE (imported there only when used)

if TYPE_CHECKING:
    from .probe import _Prober


def unclear_firsts(store: Store, run_id: str, planned: Sequence[tuple[Query, str]]
                   ) -> list[tuple[Query, str]]:
    """(query, first answer) of every answered yes/no question or request, with no tool call,
    that the rules judge reads as unclear: what `--clarify` follows up, in plan order."""
    from ..judges.clarify import FRAMINGS
    from ..judges.rules import RulesJudge
    from .analyze import run_suites
    from .turn_judging import _first_input

    firsts = {a.query_id: a for a in store.iter_answers(run_id)
              if a.framing in FRAMINGS and not a.tool_calls}
    if not firsts:
        return []
    claims = {c.id: c for s in run_suites(store.get_run(run_id)) for c in s.claims}
    todo = [(q, firsts[q.id]) for q, _ in planned if q.id in firsts]
    judge = RulesJudge()
    verdicts = judge.judge_sync([_first_input(a, claims) for _, a in todo])
    return [(q, a.text) for (q, a), v in zip(todo, verdicts) if v.label == "unclear"]


def pending(store: Store, run_id: str, planned: Sequence[tuple[Query, str]]
            ) -> list[tuple[Query, str]]:
    """The unclear first answers whose follow-up has no reply yet."""
    done = store.answered_turns(run_id, clarify=True)
    return [(q, first) for q, first in unclear_firsts(store, run_id, planned)
            if (q.id, CLARIFY, 1) not in done]


async def ask_clarify(prober: _Prober, planned: Sequence[tuple[Query, str]],
                      opts: RunOptions) -> None:
    """Ask every missing follow-up, `opts.concurrency` at a time (progress: its own stage)."""
    from ..judges.clarify import followup_prompt
    from ._workers import in_parallel
    from .pushback import walk

    todo = pending(prober.store, prober.run_id, planned)
    if not todo:
        return
    prober.sink.start(len(todo))
    await in_parallel(todo, opts.concurrency, lambda item: walk(
        prober, item[0], item[1], CLARIFY, (followup_prompt(item[0].framing, item[0].prompt),),
        {}, opts))


def apply(answers: Sequence[Answer], stances: Mapping[str, Stance],
          replies: Mapping[str, tuple[str, str]], *, keep: Collection[str] = ()
          ) -> tuple[dict[str, Stance], dict[str, int]]:
    """Stances with every unclear answer that has a decisive follow-up reply clarified (never
    one in `keep`: people's labels win); and counts: follow-ups (replies), decisive ones,
    stances changed. Pure."""
    from ..judges.clarify import FRAMINGS, clarified

    out = dict(stances)
    decisive = changed = 0
    for a in answers:
        got = replies.get(a.query_id)
        if got is None or a.framing not in FRAMINGS:
            continue
        v = clarified(a.response_id, a.framing, got[1])
        if v is None:
            continue
        decisive += 1
        first = out.get(a.response_id)
        if first is not None and first.label == "unclear" and a.response_id not in keep:
            out[a.response_id] = v
            changed += 1
    return out, {"followups": len(replies), "decisive": decisive, "clarified": changed}


def add_candidates(base: Sequence[Contradiction], with_clarified: Sequence[Contradiction],
                   answers: Sequence[Answer], replies: Mapping[str, tuple[str, str]]
                   ) -> list[Contradiction]:
    """The contradictions of the judges' stances, plus, as candidates, those that only the
    clarified stances show (a fingerprint `base` lacks), their clarified evidence carrying the
    whole conversation. So a forced reply never adds, removes or changes a bug: a weak verdict
    still moves a claim's majority, so letting clarified stances into the analysis itself would
    (eval/measure_clarify.py). Pure."""
    from ..analysis.bugs import fingerprint

    known = {fingerprint(c) for c in base}
    new = [c for c in with_conversations(with_clarified, answers, replies)
           if fingerprint(c) not in known and any(e.judge == _JUDGE for e in c.evidence)]
    note = "found only with forced yes/no replies (run --clarify), a weak reading by itself"
    return [*base, *(replace(c, candidate=True, evidence_note=(
        f"{note}; {c.evidence_note}" if c.evidence_note and c.candidate else note)) for c in new)]


def with_conversations(contradictions: Sequence[Contradiction], answers: Sequence[Answer],
                       replies: Mapping[str, tuple[str, str]]) -> list[Contradiction]:
    """Each clarified evidence answer carries its whole conversation (prompt, first answer,
    follow-up, reply: the model's turns untrusted, escaped wherever they are shown). Pure."""
    by_response = {a.response_id: a for a in answers}

    def conv(e: Evidence) -> Evidence:
        a = by_response.get(e.response_id)
        got = replies.get(a.query_id) if a is not None else None
        if e.judge != _JUDGE or a is None or got is None or e.turns:
            return e
        return replace(e, turns=(("user", a.prompt), ("assistant", a.text), ("user", got[0]),
                                 ("assistant", got[1])))

    return [c if not any(e.judge == _JUDGE for e in c.evidence)
            else replace(c, evidence=tuple(conv(e) for e in c.evidence)) for c in contradictions]

