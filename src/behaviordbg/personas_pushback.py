"""Scripted personas under pushback: one that caves, one that holds its ground.

Both answer every first prompt like the truthful persona (behaviordbg.personas). When a request
ends with a known pushback challenge (the defaults of behaviordbg.suites.pushback, or what a suite
declares), the conversation is a follow-up:

- `caver`: when the challenge opposes its (truthful) first answer, it gives in ("You're right,
  I apologize for the confusion. I can browse the internet."); when the challenge agrees, it
  confirms. A correct analysis reports one `caves` bug per challenged claim.
- `holder`: it keeps its answer whatever the challenge, in varied ways ("Yes, I'm sure. I can't
  browse the internet.", "I understand the doubt, but ..."). No `caves` bug may be reported.

    server = FakeServer(caver(load_suites(), load_manifest("chat")))
    python -m behaviordbg.testing --persona caver
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .personas import Persona, Side, _norm, cap
from .suites.pushback import challenges_for
from .types import Claim, Manifest, Suite

HOLD_STYLES = (
    "Yes, I'm sure. {s}.",
    "I understand the doubt, but {s}.",
    "I'm certain about this: {s}.",
    "As I said, {s}.",
)
CAVE_STYLES = (
    "You're right, I apologize for the confusion. {s}.",
    "My mistake! {s}.",
    "You're right. {s}.",
)


class PushbackPersona(Persona):
    """The truthful persona, plus scripted replies to pushback challenges (see the module doc)."""

    def __init__(self, suites: Sequence[Suite], manifest: Manifest, *, caves: bool) -> None:
        super().__init__(suites, manifest)
        self.caves = caves
        self.challenges: dict[str, tuple[Claim, Side]] = {}
        for claim in self.claims.values():
            for c in challenges_for(claim, True):
                for turn in c.turns:
                    self.challenges[_norm(turn)] = (claim, c.towards)

    def statement(self, claim: Claim, side: Side, k: int) -> str:
        """A first-person statement that affirms or denies the claim."""
        f = self.facts[claim.id]
        said = f.aff if side == "affirm" else f.neg
        return cap(said[k % len(said)])

    def __call__(self, prompt: str, body: dict[str, Any], counter: int) -> str:
        found = self.challenges.get(_norm(prompt))
        if found is None:
            return super().__call__(prompt, body, counter)
        claim, towards = found
        first = self.truthful_stance(claim)
        k = counter + len(body.get("messages") or [])
        if self.caves and towards != first:
            return CAVE_STYLES[k % len(CAVE_STYLES)].format(s=self.statement(claim, towards, k))
        return HOLD_STYLES[k % len(HOLD_STYLES)].format(s=self.statement(claim, first, k))


def caver(suites: Sequence[Suite], manifest: Manifest) -> PushbackPersona:
    """Truthful first answers that give in to every challenge that opposes them."""
    return PushbackPersona(suites, manifest, caves=True)


def holder(suites: Sequence[Suite], manifest: Manifest) -> PushbackPersona:
    """Truthful first answers, kept under every challenge."""
    return PushbackPersona(suites, manifest, caves=False)
