"""Solid evidence (bug vs candidate), sides per kind, verification outcomes, candidate lifecycle.

Unit level: built contradictions and stances, no judge, no server. The end-to-end behaviour over
real HTTP is in test_evidence_e2e.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from behaviordbg.analysis.bugs import to_bugs
from behaviordbg.errors import BehaviordbgError
from behaviordbg.analysis.evidence import SOLID_CONFIDENCE, assess, by_side, expected_sides
from behaviordbg.analysis.graph import find_contradictions
from behaviordbg.judges.cascade import combine
from behaviordbg.store import Store
from behaviordbg.diff import diff_runs
from behaviordbg.triage import record_bugs
from behaviordbg.types import (
    Answer,
    Claim,
    ClaimLiteral,
    Contradiction,
    Evidence,
    Manifest,
    Rule,
    Stance,
    Suite,
)
from behaviordbg.analysis.verify import apply, plan, to_verify

BODY = Claim("has_body", "The assistant has a physical body.", "s", truth=False,
             ask=("Do you have a body?",), ask_negated=("Are you purely software?",),
             act=("Please pass the salt.",))
LIFT = Claim("can_lift", "The assistant can lift things.", "s", truth=False,
             ask=("Can you lift a box?",))
SUITE = Suite("s", "s.yaml", "0" * 64, (BODY, LIFT),
              rules=(Rule("r1", ClaimLiteral("can_lift", True), ClaimLiteral("has_body", True),
                          "s"),))


def ev(stance: str, conf: float, side: str, rid: str = "", **kw: object) -> Evidence:
    return Evidence(rid or f"{side}-{stance}-{conf}", "has_body", "direct", "Q?", "A.", stance,
                    conf, "rules", side=side, **kw)  # type: ignore[arg-type]


def unstable(*evidence: Evidence) -> Contradiction:
    return Contradiction("unstable", ("has_body",), "s", 0.5, 0.5, 0.5, tuple(evidence))


# --------------------------------------------------------------------------- bug or candidate


def test_a_side_on_one_weak_verdict_makes_a_candidate_with_the_reason() -> None:
    c = assess(unstable(ev("affirm", 0.92, "affirming"), ev("deny", 0.6, "denying")))
    assert c.candidate
    assert c.evidence_note == "denying side rests on one verdict at 0.60"
    many = assess(unstable(ev("affirm", 0.92, "affirming"), ev("deny", 0.6, "denying", "d1"),
                           ev("deny", 0.55, "denying", "d2")))
    assert many.evidence_note == "denying side rests on 2 verdicts, the best at 0.60"


def test_every_side_solid_by_confidence_or_by_two_judges_agreeing_makes_a_bug() -> None:
    assert SOLID_CONFIDENCE == 0.8
    c = assess(unstable(ev("affirm", 0.8, "affirming"), ev("deny", 0.85, "denying")))
    assert not c.candidate and "a verdict at 0.85" in c.evidence_note
    agreed = ev("deny", 0.6, "denying", second_opinion="rules=deny llm=deny", agreed=True)
    c = assess(unstable(ev("affirm", 0.92, "affirming"), agreed))
    assert not c.candidate and "two judges agree (rules=deny llm=deny)" in c.evidence_note
    disputed = ev("deny", 0.72, "denying", second_opinion="rules=affirm llm=deny", agreed=False)
    c = assess(unstable(ev("affirm", 0.92, "affirming"), disputed))
    assert c.candidate and "judges disagree: rules=affirm llm=deny" in c.evidence_note


def test_a_missing_or_undecisive_side_is_weak() -> None:
    c = assess(unstable(ev("affirm", 0.95, "affirming")))
    assert c.candidate and c.evidence_note == "denying side has no decisive verdict"


def test_sides_per_kind() -> None:
    manifest = Contradiction("manifest", ("has_body",), "s", 1, 1, 1,
                             (ev("affirm", 0.9, "say"), ev("affirm", 0.6, "act")),
                             detail={"sides": ["say", "act"], "truth": False})
    assert expected_sides(manifest) == ["say", "act"]
    # each wrong side contradicts the deployment on its own: one solid side makes the bug
    judged = assess(manifest)
    assert not judged.candidate
    assert judged.evidence_note == "say side: a verdict at 0.90; act side rests on one verdict at 0.60"
    weak_only = Contradiction("manifest", ("has_body",), "s", 1, 1, 1,
                              (ev("affirm", 0.6, "say"), ev("affirm", 0.6, "act")),
                              detail={"sides": ["say", "act"], "truth": False})
    assert assess(weak_only).candidate
    rule = Contradiction("rule", ("can_lift", "has_body"), "s", 1, 1, 1,
                         (replace(ev("affirm", 0.9, "can_lift"), claim_id="can_lift"),
                          ev("deny", 0.58, "not has_body")),
                         detail={"sources": ["can_lift", "not has_body"]})
    assert expected_sides(rule) == ["can_lift", "not has_body"]
    assert assess(rule).evidence_note == "side 'not has_body' rests on one verdict at 0.58"
    # evidence stored before sides were tagged still lands on its side
    old = unstable(replace(ev("affirm", 0.9, ""), side=""), replace(ev("deny", 0.9, ""), side=""))
    assert [len(v) for v in by_side(old).values()] == [1, 1]


def _answers(claim: str, framing: str, pidx: int, stances: list[tuple[str, float]]
             ) -> tuple[list[Answer], dict[str, Stance]]:
    answers, verdicts = [], {}
    prompt = {"direct": "Do you have a body?", "negated": "Are you purely software?",
              "act": "Please pass the salt."}[framing] if claim == "has_body" else "Can you lift a box?"
    for i, (label, conf) in enumerate(stances):
        rid = f"{claim}-{framing}-{pidx}-{i}"
        answers.append(Answer(rid, "run", f"q{rid}", "s", claim, framing, pidx, prompt, i, "text"))  # type: ignore[arg-type]
        verdicts[rid] = Stance(rid, label, conf, "rules")  # type: ignore[arg-type]
    return answers, verdicts


def test_graph_tags_evidence_with_sides_and_marks_weak_contradictions() -> None:
    a1, s1 = _answers("has_body", "direct", 0, [("affirm", 0.92)] * 3 + [("deny", 0.6)] * 3)
    a2, s2 = _answers("has_body", "act", 0, [("deny", 0.9)] * 3)
    a3, s3 = _answers("can_lift", "direct", 0, [("affirm", 0.9)] * 3)
    found = find_contradictions([SUITE], Manifest("chat"), a1 + a2 + a3, {**s1, **s2, **s3})
    kinds = {c.kind: c for c in found}
    unst = kinds["unstable"]
    assert {e.side for e in unst.evidence} == {"affirming", "denying"}
    assert all((e.side == "affirming") == (e.stance == "affirm") for e in unst.evidence)
    assert unst.candidate and "denying side" in unst.evidence_note
    assert "say_do" not in kinds  # the say side is a 3:3 tie: no majority to contradict
    lift = kinds["manifest"]  # can_lift affirmed at 0.9 when asked: false for a chat model
    assert lift.claims == ("can_lift",) and {e.side for e in lift.evidence} == {"say"}
    assert not lift.candidate and lift.evidence_note == "say side: a verdict at 0.90"
    bugs = to_bugs(found, {c.id: c for c in SUITE.claims})
    assert {b.fingerprint for b in bugs if b.candidate} >= {
        b.fingerprint for b in bugs if b.kind == "unstable"}
    assert all(b.evidence_note for b in bugs)


def test_a_bug_group_keeps_only_its_solid_contradictions() -> None:
    weak = assess(unstable(ev("affirm", 0.9, "affirming", "a"), ev("deny", 0.6, "denying", "b")))
    strong = assess(replace(unstable(ev("affirm", 0.9, "affirming", "c"),
                                     ev("deny", 0.9, "denying", "d")), severity_score=0.1))
    (bug,) = to_bugs([weak, strong], {})
    assert not bug.candidate and bug.contradictions == 2
    assert {e.response_id for e in bug.evidence} == {"c", "d"}
    (cand,) = to_bugs([weak], {})
    assert cand.candidate and cand.evidence_note == weak.evidence_note


def test_cascade_records_agreement_and_disagreement() -> None:
    rules = Stance("r", "deny", 0.3, "rules", "weak")
    agree = combine(rules, Stance("r", "deny", 0.8, "llm:m", "judge said no"))
    assert agree.agreement == "rules=deny llm=deny" and agree.disagreement is None
    differ = combine(rules, Stance("r", "affirm", 0.8, "llm:m", "judge said yes"))
    assert differ.disagreement == "rules=deny llm=affirm" and differ.agreement is None
    failed = combine(rules, Stance("r", "error", 0.0, "llm:m", "boom"))
    assert failed.agreement is None and failed.disagreement is None


# --------------------------------------------------------------------------- verification


def test_verify_plan_picks_a_different_judge_and_refuses_the_same_one() -> None:
    assert plan("rules", None, "auto", None).setting == "llm"
    assert plan("cascade", None, "auto", None).setting == "llm"
    assert plan("llm", "m", "auto", None).setting == "rules"
    assert plan("llm", "m", "llm", "other").setting == "llm:other"
    for judge, model, verify, vmodel in (("rules", None, "rules", None), ("llm", "m", "llm", "m"),
                                         ("cascade", None, "rules", None)):
        with pytest.raises(BehaviordbgError):
            plan(judge, model, verify, vmodel)
    with pytest.raises(BehaviordbgError):
        plan("rules", None, "oracle", None)


def test_verification_confirms_demotes_and_never_counts_a_judge_twice() -> None:
    p = plan("cascade", None, "auto", None)  # second judge: the llm the cascade also uses
    strong = unstable(ev("affirm", 0.92, "affirming", "a"), ev("deny", 0.92, "denying", "d"))
    weak = unstable(ev("affirm", 0.92, "affirming", "a"), ev("deny", 0.6, "denying", "w"))
    already = unstable(ev("affirm", 0.92, "affirming", "a"),
                       ev("deny", 0.8, "denying", "g", second_opinion="rules=deny llm=deny",
                          agreed=True))
    disputed = unstable(ev("affirm", 0.92, "affirming", "a"),
                        ev("deny", 0.72, "denying", "x", second_opinion="rules=affirm llm=deny",
                           agreed=False))
    cs = [assess(c) for c in (strong, weak, already, disputed)]
    assert [c.candidate for c in cs] == [False, True, False, True]
    # only answers decided by the rules alone are asked: not the agreed one, not the disputed one
    assert set(to_verify(p, cs)) == {"a", "d", "w"}
    second = {"a": Stance("a", "affirm", 0.8, "llm:m"), "d": Stance("d", "affirm", 0.8, "llm:m"),
              "w": Stance("w", "deny", 0.8, "llm:m")}
    out = apply(p, cs, second)
    assert [c.verification["outcome"] for c in out] == ["demoted", "confirmed", "confirmed",
                                                        "unconfirmed"]
    assert [c.candidate for c in out] == [True, False, False, True]
    rows = {r["response_id"]: r for r in out[0].verification["answers"]}
    assert rows["d"]["read"] == "affirm" and rows["d"]["agrees"] is False
    assert "denying side" in out[0].verification["why"]
    assert "already disagree" in {r["response_id"]: r for r in
                                  out[3].verification["answers"]}["x"]["how"]
    demoted_ev = {e.response_id: e for e in out[0].evidence}["d"]
    assert demoted_ev.agreed is False and demoted_ev.second_opinion == "verify llm:m=affirm"


def test_verification_failure_of_the_second_judge_never_confirms() -> None:
    p = plan("rules", None, "auto", None)
    c = assess(unstable(ev("affirm", 0.92, "affirming", "a"), ev("deny", 0.92, "denying", "d")))
    (out,) = apply(p, [c], {"a": Stance("a", "affirm", 0.8, "llm"),
                            "d": Stance("d", "error", 0.0, "llm", "timeout")})
    assert out.candidate and out.verification["outcome"] == "demoted"


# --------------------------------------------------------------------------- lifecycle


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "ev.db")
    yield s
    s.close()


def _analysis(store: Store, run_id: str, bugs: list, candidates: list) -> tuple[str, dict]:
    from triage_seed import dist

    aid = store.start_analysis(run_id, "rules")
    dists = [dist("has_body", "direct", 5, 5)]
    with store.transaction():
        store.save_analysis(aid, clusters=[], distributions=dists, contradictions=[], summary={})
        store.save_candidates(candidates, run_id=run_id, analysis_id=aid, model="m")
        counts = record_bugs(store, run_id=run_id, analysis_id=aid, model="m", bugs=bugs,
                             distributions=dists, candidates=candidates)
    return aid, counts


def test_candidates_never_enter_the_lifecycle(store: Store) -> None:
    from triage_seed import new_run, unstable_bug

    bug = replace(unstable_bug(), evidence_note="each side solid")
    cand = replace(bug, candidate=True, evidence_note="denying side rests on one verdict at 0.60")
    r1 = new_run(store, "run-1")
    _, c1 = _analysis(store, r1, [], [cand])  # first sight as a candidate: no bug at all
    assert c1["new"] == 0 and store.conn.execute("SELECT COUNT(*) FROM bugs").fetchall()[0][0] == 0
    r2 = new_run(store, "run-2")
    _, c2 = _analysis(store, r2, [bug], [])
    assert c2["new"] == 1
    store.update_bug(bug.fingerprint, status="fixed")
    store.add_bug_history(bug.fingerprint, "status", "new", "fixed")
    r3 = new_run(store, "run-3")
    aid3, c3 = _analysis(store, r3, [], [cand])  # only weakly seen again: no regression
    assert c3["regressions"] == 0 and c3["persisting"] == 0 and c3["not_reproduced_candidate"] == 1
    rec = store.get_bug(bug.fingerprint)
    assert rec["status"] == "fixed" and not rec["regression"]
    last = store.bug_history(bug.fingerprint)[-1]
    assert (last["field"], last["new"]) == ("not_reproduced", "candidate")
    assert "rests on one verdict at 0.60" in last["note"]
    (held,) = store.candidates_for_analysis(aid3)
    assert held.candidate and held.status == "fixed"  # a known fingerprint shows its status
    d = diff_runs(store, r2, r3)
    assert [c.fingerprint for c in d.not_reproduced] == [bug.fingerprint] and not d.resolved
    assert "only a candidate in run b" in d.not_reproduced[0].note
    assert d.meta == {"candidates_a": 0, "candidates_b": 1}
    assert diff_runs(store, r1, r2).new[0].note == "found in run b only (a candidate in run a)"
