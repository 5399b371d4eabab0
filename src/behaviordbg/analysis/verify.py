"""The verification pass (`analyze --verify`): a second judge re-reads the decisive evidence.

Every contradiction (bug or candidate) names, per side, the answers it rests on. A second judge
reads those answers again; a side is confirmed when at least one of its answers is read alike by
two *different* judges. A contradiction whose sides are all confirmed is a bug ("confirmed");
otherwise it is a candidate ("demoted" if it was a bug before, "unconfirmed" if it already was a
candidate). The reason, and how each answer was read, is kept in `Contradiction.verification`.

Which judge is "different": the verdict's own decider never confirms itself. For a rules analysis
the decider is the rules judge; for an llm analysis, that llm; for a cascade, the rules judge,
except on answers where the cascade asked its llm too: there both judges already spoke, so an
agreement confirms at once and a disagreement cannot be undone by asking the same llm again.
Hence the default second judge: the llm judge (the embedded model unless --verify-base-url),
or the rules judge when the analysis judge is itself the llm.

This module decides; the pipeline (behaviordbg.pipeline.judging) asks the second judge and
stores its verdicts like stances, under "verify:<judge setting>", so a rerun asks it nothing new
(and llm calls are cached in the store as well).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import BehaviordbgError
from ..types import Claim, Contradiction, Evidence, Stance, StanceInput
from .evidence import DECISIVE, assess

VERIFY_JUDGES = ("auto", "llm", "rules")


@dataclass(frozen=True)
class VerifyPlan:
    """Who verifies, and who decided the verdicts being verified (as judge settings)."""

    kind: str  # rules | llm
    setting: str  # e.g. "llm", "llm:qwen", "rules": stored as "verify:<setting>"
    analysis_judge: str  # rules | llm | cascade
    analysis_llm: str  # the analysis's llm setting ("llm" or "llm:<model>"), "" for rules

    def decider(self, ev: Evidence) -> str:
        """The judge setting that gave this verdict its label."""
        if self.analysis_judge == "rules":
            return "rules"
        if self.analysis_judge == "llm":
            return self.analysis_llm
        return self.analysis_llm if ev.second_opinion else "rules"  # cascade: asked its llm?


def check_verify_judge(requested: str) -> str:
    """`requested` if it names a second judge (--verify-judge), else a BehaviordbgError."""
    if requested not in VERIFY_JUDGES:
        raise BehaviordbgError(f"unknown --verify-judge {requested!r}",
                               hint=f"use one of: {', '.join(VERIFY_JUDGES)}")
    return requested


def second_judge(analysis_judge: str, requested: str) -> str:
    """The kind of judge that verifies: --verify-judge, where `auto` is the llm judge, or the
    rules judge when the analysis judge is the llm itself."""
    check_verify_judge(requested)
    return requested if requested != "auto" else ("rules" if analysis_judge == "llm" else "llm")


def plan(analysis_judge: str, analysis_model: str | None, requested: str,
         verify_model: str | None) -> VerifyPlan:
    """Resolve --verify-judge (see second_judge) and refuse a second judge that is the first one
    again."""
    kind = second_judge(analysis_judge, requested)
    setting = "rules" if kind == "rules" else (f"llm:{verify_model}" if verify_model else "llm")
    analysis_llm = "" if analysis_judge == "rules" else (
        f"llm:{analysis_model}" if analysis_model else "llm")
    p = VerifyPlan(kind, setting, analysis_judge, analysis_llm)
    if setting == ("rules" if analysis_judge != "llm" else analysis_llm):
        raise BehaviordbgError(
            f"--verify-judge {requested} would check the {analysis_judge} judge with itself",
            hint="verify with another judge: --verify-judge llm (or rules for an llm analysis),"
                 " or another model: --verify-base-url URL --verify-model NAME",
        )
    return p


def _needs_call(p: VerifyPlan, ev: Evidence) -> bool:
    return ev.stance in DECISIVE and ev.agreed is not True and p.decider(ev) != p.setting


def to_verify(p: VerifyPlan, contradictions: Sequence[Contradiction]) -> dict[str, Evidence]:
    """The answers the second judge must read: decisive evidence not already read by two judges."""
    out: dict[str, Evidence] = {}
    for c in contradictions:
        for ev in c.evidence:
            if _needs_call(p, ev):
                out.setdefault(ev.response_id, ev)
    return out


def inputs(evidence: Mapping[str, Evidence], claims: Mapping[str, Claim]) -> list[StanceInput]:
    """What the second judge sees for each answer: the claim, the prompt, its framing, the answer."""
    return [
        StanceInput(claim=claims[e.claim_id].text if e.claim_id in claims else e.claim_id,
                    prompt=e.prompt, response=e.response, framing=e.framing,  # type: ignore[arg-type]
                    claim_id=e.claim_id, response_id=rid)
        for rid, e in evidence.items()
    ]


def _reread(p: VerifyPlan, ev: Evidence, second: Mapping[str, Stance]) -> tuple[Evidence, dict[str, Any]]:
    """One evidence answer after verification, and the record of how it was read."""
    row: dict[str, Any] = {"response_id": ev.response_id, "side": ev.side, "stance": ev.stance,
                           "judge": ev.judge, "confidence": ev.confidence}
    if ev.stance not in DECISIVE:
        return ev, {**row, "read": None, "agrees": None, "how": "not decisive"}
    if ev.agreed is True:
        return ev, {**row, "read": ev.stance, "agrees": True,
                    "how": f"two judges already agree ({ev.second_opinion})"}
    if p.decider(ev) == p.setting:
        return ev, {**row, "read": None, "agrees": False,
                    "how": f"judges already disagree ({ev.second_opinion}); the second judge is"
                           " the one that decided"}
    v = second.get(ev.response_id)
    if v is None or v.label == "error":
        why = v.rationale if v is not None else "no verdict"
        return replace(ev, second_opinion=f"verify {p.setting}=error", agreed=None), {
            **row, "read": "error", "agrees": False, "how": f"second judge failed: {why}"[:200]}
    agrees = v.label == ev.stance
    note = f"verify {v.judge}={v.label}"
    return replace(ev, second_opinion=note, agreed=agrees), {
        **row, "read": v.label, "agrees": agrees, "how": f"{v.judge} read it as {v.label}"}


def apply(p: VerifyPlan, contradictions: Sequence[Contradiction],
          second: Mapping[str, Stance]) -> list[Contradiction]:
    """Each contradiction re-assessed with the second judge's readings (see the module doc)."""
    out = []
    for c in contradictions:
        pairs = [_reread(p, ev, second) for ev in c.evidence]
        checked = assess(replace(c, evidence=tuple(ev for ev, _ in pairs)), need_agreement=True)
        outcome = ("confirmed" if not checked.candidate
                   else "unconfirmed" if c.candidate else "demoted")
        out.append(replace(checked, verification={
            "judge": p.setting, "outcome": outcome, "why": checked.evidence_note,
            "before": c.evidence_note, "answers": [row for _, row in pairs]}))
    return out
