"""Scripted personas that answer differently when the system prompt lists their limits: one bug
per prompted-baseline verdict, for end-to-end tests over real HTTP (behaviordbg.testing).

    persona = prompt_sensitive(suites, manifest)
    with FakeServer(persona) as server:
        ... check --prompted-baseline against server.base_url, --samples 5 ...
        persona.expected  # fingerprint-free: verdict -> claim id

Each planted claim is answered by the truthful persona (behaviordbg.personas) except as its
`Reaction` says, with and without a system prompt that lists the claim's limit (the words the
manifest prompt uses for its capability, behaviordbg.suites.baseline_prompt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .personas import Override, Persona
from .suites.baseline_prompt import CAPABILITY_PHRASES
from .types import Claim, Manifest, Suite

Behaviour = Literal["truthful", "wrong", "mostly_wrong"]
"""How a planted claim is answered: `mostly_wrong` is wrong on four samples of five (the fifth
answer of every prompt is truthful), so the rate drops but the bug stays."""


@dataclass(frozen=True)
class Reaction:
    """A claim's answers without the prompt (`plain`) and with it (`prompted`). `trigger`: what
    the system prompt must list for the prompted behaviour: `capability` (the claim's own
    capability among the limits) or `any_limit` (a "You cannot:" list at all)."""

    plain: Behaviour
    prompted: Behaviour
    trigger: Literal["capability", "any_limit"] = "capability"


REACTIONS: dict[str, Reaction] = {
    "fixed": Reaction("wrong", "truthful"),
    "reduced": Reaction("wrong", "mostly_wrong"),
    "survives": Reaction("wrong", "wrong"),
    "introduced": Reaction("truthful", "wrong", trigger="any_limit"),
}
"""One reaction per verdict of behaviordbg.prompting."""

PREFER: dict[str, str] = {
    "fixed": "can_hear_audio",
    "reduced": "can_speak_aloud",
    "survives": "can_run_code",
    "introduced": "has_a_name",  # told its limits, it over-denies: "I have no name"
}
"""Homes of the planted bugs in the shipped suites: claims in no rule, so each bug is one
manifest bug and nothing else."""


def system_text(body: dict[str, Any]) -> str:
    """The system messages of a chat request, joined."""
    return "\n".join(str(m.get("content") or "") for m in body.get("messages") or []
                     if isinstance(m, dict) and m.get("role") == "system")


def lists_limit(system: str, claim: Claim) -> bool:
    """Whether a system prompt states this claim's limit: the manifest prompt's words for its
    capability under "You cannot:"."""
    phrase = CAPABILITY_PHRASES.get(claim.capability or "")
    if not phrase or "You cannot:" not in system:
        return False
    cannot = system.split("You cannot:", 1)[1]
    return phrase in cannot


@dataclass
class PromptSensitive:
    """A FakeServer AnswerFn: (prompt, body, counter) -> text. `expected`: verdict -> claim id."""

    suites: Sequence[Suite]
    manifest: Manifest
    planted: dict[str, tuple[str, Reaction]]  # verdict -> (claim id, reaction)
    _truthful: Persona = field(init=False)
    _wrong: Persona = field(init=False)
    _claim_of: dict[str, Claim] = field(init=False)

    def __post_init__(self) -> None:
        self._truthful = Persona(self.suites, self.manifest)
        claims = self._truthful.claims
        flipped: dict[str, Override] = {}
        self._claim_of = {}
        for claim_id, _ in self.planted.values():
            c = claims[claim_id]
            wrong: Override = "deny" if self._truthful.truthful_stance(c) == "affirm" else "affirm"
            for framing in ("direct", "negated", "act"):
                for p in c.prompts(framing):
                    flipped[p] = wrong
                    self._claim_of[" ".join(p.casefold().split())] = c
        self._wrong = Persona(self.suites, self.manifest, flipped)
        self._reaction = {cid: r for cid, r in self.planted.values()}

    @property
    def expected(self) -> dict[str, str]:
        return {verdict: cid for verdict, (cid, _) in self.planted.items()}

    def behaviour(self, claim: Claim, system: str) -> Behaviour:
        r = self._reaction.get(claim.id)
        if r is None:
            return "truthful"
        listed = ("You cannot:" in system if r.trigger == "any_limit"
                  else lists_limit(system, claim))
        return r.prompted if listed else r.plain

    def __call__(self, prompt: str, body: dict[str, Any], counter: int) -> str:
        claim = self._claim_of.get(" ".join(prompt.casefold().split()))
        how = self.behaviour(claim, system_text(body)) if claim is not None else "truthful"
        if how == "mostly_wrong":
            how = "truthful" if counter % 5 == 0 else "wrong"
        persona = self._wrong if how == "wrong" else self._truthful
        return persona.reply(prompt, counter).text


def prompt_sensitive(
    suites: Sequence[Suite], manifest: Manifest, homes: dict[str, str] | None = None,
) -> PromptSensitive:
    """The persona with one planted bug per verdict, on `homes` (verdict -> claim id; default
    PREFER). A `capability`-triggered claim needs a capability the manifest denies, so the
    manifest prompt lists it."""
    homes = {**PREFER, **(homes or {})}
    claims = {c.id: c for s in suites for c in s.claims}
    planted: dict[str, tuple[str, Reaction]] = {}
    for verdict, reaction in REACTIONS.items():
        cid = homes[verdict]
        if cid not in claims:
            raise ValueError(f"claim {cid!r} (home of the {verdict} bug) is in no loaded suite")
        c = claims[cid]
        if reaction.trigger == "capability" and (
                c.capability is None or manifest.capabilities.get(c.capability) is not False):
            raise ValueError(f"claim {cid!r} needs a capability the manifest denies")
        planted[verdict] = (cid, reaction)
    return PromptSensitive(suites, manifest, planted)
