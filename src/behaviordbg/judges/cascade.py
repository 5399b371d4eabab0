"""The cascade judge: rules first, the LLM only where the rules are unsure.

The rules judge is right most of the time and costs nothing; the LLM is slower and better on the
open-ended answers the rules cannot read. Records the rules label with a confidence below
`threshold` (no signal found: "unclear" at 0.3; or a leading yes/no against the content) go to the
LLM; a hedge the rules *detected* is a confident "unclear" and stays (the small LLM judge almost
never says "unclear", so it would turn hedges into affirm), whose label then wins (unless it failed: then the rules' label
stands). Where both ran and differ, `disagreement` says so ("rules=deny llm=affirm").
"""

from __future__ import annotations

from collections.abc import Sequence

from ..types import Stance, StanceInput
from .llm import LLMJudge
from .rules import RulesJudge

NAME = "cascade"
# Chosen on the dev rows of both labelled sets (eval/measure.py --buckets): rules answers at
# confidence 0.6 and above were right 0.92 of the time on shared dev (84 rows at 0.6 exactly),
# above what a small LLM judge asked the easy question gets (~0.86); below it (no signal, or a leading yes/no
# that contradicts the content) the rules are near chance, so those go to the LLM.
DEFAULT_THRESHOLD = 0.58


class CascadeJudge:
    name = NAME
    needs_endpoint = True  # asks a model: an endpoint, or the embedded one

    def __init__(self, rules: RulesJudge, llm: LLMJudge, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.rules = rules
        self.llm = llm
        self.threshold = threshold
        self.last_routed = 0  # how many records the last call sent to the LLM

    async def __aenter__(self) -> CascadeJudge:
        """A session of the LLM judge: its endpoint starts at most once, on first use."""
        await self.llm.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.llm.aclose()

    def unsure(self, stance: Stance) -> bool:
        """Rules found no signal, or signals that disagree (low confidence), or failed."""
        return stance.label == "error" or stance.confidence < self.threshold

    async def judge(self, items: Sequence[StanceInput]) -> list[Stance]:
        first = await self.rules.judge(items)
        routed = [i for i, s in enumerate(first) if self.unsure(s)]
        self.last_routed = len(routed)
        second = await self.llm.judge([items[i] for i in routed]) if routed else []
        out = [
            Stance(s.response_id, s.label, s.confidence, NAME, f"rules: {s.rationale}")
            for s in first
        ]
        for i, llm_stance in zip(routed, second):
            out[i] = combine(first[i], llm_stance)
        return out


def combine(rules: Stance, llm: Stance) -> Stance:
    """The LLM decides where it could; the disagreement (or agreement) is kept either way.

    `agreement` records that two judges read the answer alike: behaviordbg.analysis.evidence counts such
    a verdict as solid evidence whatever its confidence."""
    differ = rules.label != llm.label and llm.label != "error"
    disagreement = f"rules={rules.label} llm={llm.label}" if differ else None
    agreement = (f"rules={rules.label} llm={llm.label}"
                 if llm.label != "error" and not differ else None)
    if llm.label == "error":
        return Stance(rules.response_id, rules.label, rules.confidence, NAME,
                      f"rules: {rules.rationale}; {llm.judge}: {llm.rationale}"[:200])  # fmt: skip
    conf = llm.confidence if not differ else round(llm.confidence * 0.9, 3)
    return Stance(rules.response_id, llm.label, conf, NAME,
                  f"{llm.judge}: {llm.rationale}"[:200], disagreement, agreement)  # fmt: skip
