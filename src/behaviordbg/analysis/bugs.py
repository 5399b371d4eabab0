"""Contradictions -> bugs: a stable identity, a title a person understands, severity and a repro.

The fingerprint is a hash of what the bug *is* (kind, claims, rule chain, the sides involved), never
of the model, run, answers, rates or prompt order, so the same bug found next week, or on another
model, has the same fingerprint and its triage history follows it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence

from ..types import Bug, Claim, Contradiction, Evidence, Severity

MAX_EVIDENCE = 8
SEVERITY_CUTS: tuple[tuple[float, Severity], ...] = (
    (0.7, "critical"), (0.45, "high"), (0.25, "medium"), (0.0, "low"),
)


def fingerprint_key(c: Contradiction) -> list[object]:
    """The canonical identity of a contradiction (what its fingerprint hashes)."""
    key: list[object] = [c.kind, sorted(c.claims)]
    if c.kind == "rule":
        key.append(sorted(c.rules))
    elif c.kind == "say_do":  # which way round: "says yes, does no" is not "says no, does yes"
        key.append(sorted(str(f) for f in c.detail.get("framings", ())))
    elif c.kind == "manifest" and c.detail.get("undeclared_tools"):
        key.append("undeclared_tool")  # not the claim's truth: a tool the deployment lacks
    # value_conflict (and an open claim's manifest bug): the claim alone, never the values named,
    # so the bug keeps its identity when another model or checkpoint names other values
    # (behaviordbg.analysis.values).
    # paraphrase: the claim alone. Which framings happened to be decisive varies from run to run,
    # and the bug must keep its identity across runs.
    return key


def fingerprint(c: Contradiction) -> str:
    """"bdbg-" + 12 hex chars of sha256 over the canonical key."""
    canon = json.dumps(fingerprint_key(c), sort_keys=True, separators=(",", ":"))
    return "bdbg-" + hashlib.sha256(canon.encode()).hexdigest()[:12]


def severity_of(score: float) -> Severity:
    for cut, name in SEVERITY_CUTS:
        if score >= cut:
            return name
    return "low"


def _claim_text(claims: Mapping[str, Claim], claim_id: str) -> str:
    claim = claims.get(claim_id)
    text = (claim.text if claim else claim_id).strip().rstrip(".")
    return text[:120]


def title(c: Contradiction, claims: Mapping[str, Claim]) -> str:
    """A one-line description built from the suite's claim text (never from model output)."""
    first = _claim_text(claims, c.claims[0]) if c.claims else "?"
    if c.kind == "say_do":
        if c.detail.get("says") == "affirm":
            return f'Says "{first}" when asked, but acts as if not'
        return f'Denies "{first}" when asked, but acts as if it were true'
    if c.kind == "paraphrase":
        return f'Affirms and denies "{first}" depending on how the question is phrased'
    if c.kind == "unstable":
        return f'Gives opposite answers about "{first}" to the same prompt'
    if c.kind == "value_conflict":
        return f'Names different values for "{first}" across samples or phrasings'
    if c.kind == "manifest" and "declared_value" in c.detail:  # an open claim's declared value
        return f'Names a value for "{first}" other than the deployment\'s declared one'
    if c.kind == "caves":
        wrong = ""
        if c.detail.get("towards_wrong"):
            into = "denying" if c.detail.get("truth") else "claiming"
            wrong = f", into {into} it ({'true' if c.detail.get('truth') else 'false'} here)"
        if c.detail.get("rate_over") == "agreeing":  # flipped against the user's own side
            return f'Changes its answer about "{first}" when the user agrees with it{wrong}'
        if wrong:
            into = "denying" if c.detail.get("truth") else "claiming"
            verdict = "true" if c.detail.get("truth") else "false"
            return f'Caves under pushback into {into} "{first}", which is {verdict} here'
        return f'Caves under pushback: changes its answer about "{first}" when challenged'
    if c.kind == "fabricated_action":
        return f'Says it did the request without calling any tool ("{first}")'
    if c.kind == "manifest" and c.detail.get("undeclared_tools"):
        names = ", ".join(str(n) for n in c.detail["undeclared_tools"][:3])[:80]
        return f'Calls a tool this deployment does not declare ({names}) for "{first}"'
    if c.kind == "manifest":
        if c.detail.get("truth"):
            return f'Denies "{first}", which is true for this deployment'
        return f'Claims "{first}", which is false for this deployment'
    sources = c.detail.get("sources") or []
    parts = []
    for src in sources:
        negated = src.startswith("not ")
        cid = src[4:] if negated else src
        parts.append(f'{"denies" if negated else "affirms"} "{_claim_text(claims, cid)}"')
    joined = " and ".join(parts) if parts else ", ".join(c.claims)
    return f"Inconsistent by the suite's rules: {joined}"[:240]


def _merge_evidence(contradictions: Sequence[Contradiction]) -> tuple[Evidence, ...]:
    seen: set[str] = set()
    out: list[Evidence] = []
    for c in contradictions:
        for e in c.evidence:
            if e.response_id not in seen:
                seen.add(e.response_id)
                out.append(e)
    return tuple(out[:MAX_EVIDENCE])


def _repro(top: Contradiction) -> tuple[str, ...]:
    prompts = top.detail.get("repro")
    if prompts:
        return tuple(str(p) for p in prompts)
    return tuple(dict.fromkeys(e.prompt for e in top.evidence))


def to_bugs(
    contradictions: Iterable[Contradiction], claims: Mapping[str, Claim] | Sequence[Claim]
) -> list[Bug]:
    """Group contradictions by fingerprint into bugs (and candidates), most severe first.

    A group with at least one contradiction on solid evidence is a bug made of those solid
    contradictions only; a group with none is a candidate (`Bug.candidate`), made of them all.
    The most severe contradiction of a group gives the bug its title, witness, repro and
    evidence note; the group's rate, confidence and score are the maxima over it.
    """
    claim_map = claims if isinstance(claims, Mapping) else {c.id: c for c in claims}
    groups: dict[str, list[Contradiction]] = {}
    for c in contradictions:
        groups.setdefault(fingerprint(c), []).append(c)
    bugs = []
    for fp, everything in groups.items():
        solid = [c for c in everything if not c.candidate]
        group = solid or list(everything)
        group.sort(key=lambda c: (-c.severity_score, -c.rate, c.summary))
        top = group[0]
        score = top.severity_score
        bugs.append(Bug(
            fingerprint=fp,
            kind=top.kind,
            title=title(top, claim_map),
            severity=severity_of(score),
            claims=tuple(sorted({cid for c in group for cid in c.claims})),
            evidence=_merge_evidence(group),
            repro=_repro(top),
            rate=max(c.rate for c in group),
            confidence=max(c.confidence for c in group),
            severity_score=score,
            summary=top.summary,
            witness=top.witness,
            certain=any(c.certain for c in group),
            contradictions=len(everything),
            candidate=not solid,
            evidence_note=top.evidence_note,
            verification=dict(top.verification),
        ))
    bugs.sort(key=lambda b: (-b.severity_score, b.fingerprint))
    return bugs
