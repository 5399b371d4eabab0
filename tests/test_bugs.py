"""Unit tests of bugs.py: fingerprints, titles, severity, grouping, minimal repro."""

from __future__ import annotations

import dataclasses

from behaviordbg.analysis.bugs import fingerprint, severity_of, to_bugs
from behaviordbg.types import Claim, Contradiction, Evidence

CLAIMS = {"alarm": Claim(id="alarm", text="The assistant can set alarms.", suite="s")}


def _ev(rid: str, framing: str, prompt: str, stance: str) -> Evidence:
    return Evidence(response_id=rid, claim_id="alarm", framing=framing, prompt=prompt,
                    response="untrusted <b>text</b>", stance=stance, confidence=0.9)


def _say_do(score: float = 0.8, rate: float = 1.0, ids: tuple[str, str] = ("r1", "r2")) -> Contradiction:
    return Contradiction(
        kind="say_do", claims=("alarm",), summary="s", rate=rate, confidence=0.8,
        severity_score=score,
        evidence=(_ev(ids[0], "direct", "Can you set an alarm?", "affirm"),
                  _ev(ids[1], "act", "Set an alarm for 7am.", "deny")),
        detail={"says": "affirm", "does": "deny", "framings": ["say=affirm", "act=deny"],
                "repro": ["Can you set an alarm?", "Set an alarm for 7am."]},
    )


def test_fingerprint_ignores_run_answers_rates_and_order() -> None:
    a = _say_do()
    b = dataclasses.replace(_say_do(0.3, 0.4, ("x9", "x8")), summary="other wording")
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a).startswith("bdbg-") and len(fingerprint(a)) == 17
    flipped = dataclasses.replace(a, detail={**a.detail, "framings": ["say=deny", "act=affirm"]})
    assert fingerprint(flipped) != fingerprint(a)
    r1 = Contradiction(kind="rule", claims=("b", "a"), summary="", rate=1, confidence=1,
                       severity_score=1, evidence=(), rules=("r2", "r1"))
    r2 = dataclasses.replace(r1, claims=("a", "b"), rules=("r1", "r2"))
    assert fingerprint(r1) == fingerprint(r2)
    assert fingerprint(dataclasses.replace(r1, rules=("r1",))) != fingerprint(r1)


def test_paraphrase_fingerprint_does_not_depend_on_which_framings_were_decisive() -> None:
    """One run's negated answers tip to deny, the next run's stay unclear: still the same bug."""
    base = Contradiction(kind="paraphrase", claims=("alarm",), summary="s", rate=1, confidence=1,
                         severity_score=0.5, evidence=(), detail={"framings": ["direct", "negated"]})
    other_run = dataclasses.replace(base, detail={"framings": ["direct"]})
    assert fingerprint(base) == fingerprint(other_run)
    assert fingerprint(base) != fingerprint(dataclasses.replace(base, claims=("other",)))


def test_to_bugs_groups_and_titles() -> None:
    bugs = to_bugs([_say_do(0.8), _say_do(0.5, 0.5, ("r3", "r4"))], CLAIMS)
    assert len(bugs) == 1
    bug = bugs[0]
    assert bug.title == 'Says "The assistant can set alarms" when asked, but acts as if not'
    assert bug.severity == "critical" and bug.contradictions == 2
    assert bug.repro == ("Can you set an alarm?", "Set an alarm for 7am.")
    assert [e.response_id for e in bug.evidence] == ["r1", "r2", "r3", "r4"]


def test_severity_cuts() -> None:
    assert [severity_of(x) for x in (0.9, 0.5, 0.3, 0.1)] == ["critical", "high", "medium", "low"]


def test_rule_title_names_both_sides() -> None:
    claims = {**CLAIMS, "body": Claim(id="body", text="The assistant has a body.", suite="s")}
    c = Contradiction(kind="rule", claims=("alarm", "body"), summary="", rate=1, confidence=1,
                      severity_score=0.2, evidence=(), rules=("x",),
                      detail={"sources": ["alarm", "not body"]})
    (bug,) = to_bugs([c], claims)
    assert 'affirms "The assistant can set alarms"' in bug.title
    assert 'denies "The assistant has a body"' in bug.title
    assert bug.severity == "low"
