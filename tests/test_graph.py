"""Unit tests of graph.py: Wilson intervals, distributions, the five kinds, witnesses, certainty."""

from __future__ import annotations

import pytest

from behaviordbg.analysis.graph import (
    distributions,
    find_contradictions,
    implication_graph,
    observed_value,
    rule_conflicts,
    wilson,
)
from behaviordbg.types import Answer, Claim, ClaimLiteral, Manifest, Rule, Stance, Suite

PLAIN = Manifest(name="plain chat model")


def _answers(spec: list[tuple[str, str, int, int, str]]) -> tuple[list[Answer], dict[str, Stance]]:
    """(claim, framing, prompt_idx, sample_idx, label) -> answers and stances."""
    answers, stances = [], {}
    for i, (claim, framing, pidx, sidx, label) in enumerate(spec):
        rid = f"r{i}"
        answers.append(Answer(
            response_id=rid, run_id="run", query_id=f"q{i}", suite="s", claim_id=claim,
            framing=framing, prompt_idx=pidx, prompt=f"{claim} {framing} prompt {pidx}",
            sample_idx=sidx, text=f"answer {label} {i}",
        ))
        stances[rid] = Stance(response_id=rid, label=label, confidence=0.9, judge="rules")
    return answers, stances


def _suite(claims: list[Claim], rules: list[Rule] = ()) -> Suite:
    return Suite(name="s", path="s.yaml", sha256="x", claims=tuple(claims), rules=tuple(rules))


def _claim(cid: str, truth: bool | None = None) -> Claim:
    return Claim(id=cid, text=f"The assistant {cid}.", suite="s", truth=truth,
                 ask=("a", "b"), ask_negated=("n",), act=("x",))


def _rule(when: str, then: str, wv: bool = True, tv: bool = True) -> Rule:
    return Rule(id=f"{when}->{then}", when=ClaimLiteral(when, wv), then=ClaimLiteral(then, tv),
                suite="s")


def test_wilson_known_values() -> None:
    low, high = wilson(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-3) and high == pytest.approx(0.7634, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(10, 10)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-3)
    assert wilson(1, 1)[0] < 0.5  # one answer never excludes 0.5


def test_distributions_never_count_refusals_as_denials() -> None:
    answers, stances = _answers([
        ("c", "direct", 0, 0, "affirm"), ("c", "direct", 0, 1, "refuse"),
        ("c", "direct", 0, 2, "unclear"), ("c", "act", 0, 0, "deny"),
    ])
    del stances["r2"]  # a missing verdict counts as error
    dists = {(d.claim_id, d.framing): d for d in distributions(answers, stances)}
    direct = dists[("c", "direct")]
    assert (direct.affirm, direct.deny, direct.refuse, direct.error) == (1, 0, 1, 1)
    assert direct.p_affirm == 1.0
    every = dists[("c", "all")]
    assert every.decisive == 2 and every.p_affirm == 0.5 and every.total == 4


def test_observed_value_needs_a_decisive_side() -> None:
    answers, stances = _answers([("c", "direct", 0, i, "affirm") for i in range(9)]
                                + [("c", "direct", 1, 0, "deny")])
    d = [x for x in distributions(answers, stances) if x.framing == "all"][0]
    assert observed_value(d) is True  # 9/10 with an interval above 0.5
    answers, stances = _answers([("c", "direct", 0, 0, "affirm"), ("c", "direct", 1, 0, "deny")])
    d = [x for x in distributions(answers, stances) if x.framing == "all"][0]
    assert observed_value(d) is None


def test_unstable_single_odd_sample_is_not_certain() -> None:
    answers, stances = _answers([("c", "direct", 0, i, "affirm") for i in range(4)]
                                + [("c", "direct", 0, 4, "deny")])
    found = [c for c in find_contradictions([_suite([_claim("c")])], PLAIN, answers, stances)
             if c.kind == "unstable"]
    assert len(found) == 1
    assert found[0].certain is False and found[0].rate == pytest.approx(0.2)
    answers, stances = _answers([("c", "direct", 0, i, "affirm") for i in range(3)]
                                + [("c", "direct", 0, 3 + i, "deny") for i in range(3)])
    found = [c for c in find_contradictions([_suite([_claim("c")])], PLAIN, answers, stances)
             if c.kind == "unstable"]
    assert found[0].certain is True and found[0].rate == pytest.approx(0.5)
    assert {e.stance for e in found[0].evidence} == {"affirm", "deny"}


def test_paraphrase_and_say_do() -> None:
    spec = [("c", "direct", 0, i, "affirm") for i in range(3)]
    spec += [("c", "negated", 0, i, "deny") for i in range(3)]
    spec += [("c", "direct", 1, i, "affirm") for i in range(3)]
    answers, stances = _answers(spec)
    kinds = {c.kind for c in find_contradictions([_suite([_claim("c")])], PLAIN, answers, stances)}
    assert kinds == {"paraphrase"}
    spec = [("c", "direct", 0, i, "affirm") for i in range(3)]
    spec += [("c", "act", 0, i, "deny") for i in range(3)]
    answers, stances = _answers(spec)
    found = find_contradictions([_suite([_claim("c")])], PLAIN, answers, stances)
    assert [c.kind for c in found] == ["say_do"]
    assert found[0].detail["says"] == "affirm" and found[0].detail["does"] == "deny"
    assert found[0].rate == 1.0 and found[0].certain
    assert found[0].detail["repro"] == ["c direct prompt 0", "c act prompt 0"]


def test_refusals_do_not_make_say_do() -> None:
    spec = [("c", "direct", 0, i, "affirm") for i in range(3)]
    spec += [("c", "act", 0, i, "refuse") for i in range(3)]
    answers, stances = _answers(spec)
    assert find_contradictions([_suite([_claim("c")])], PLAIN, answers, stances) == []


def test_manifest_truth() -> None:
    spec = [("browse", "direct", 0, i, "affirm") for i in range(3)]
    answers, stances = _answers(spec)
    suite = _suite([Claim(id="browse", text="can browse", suite="s", truth=False,
                          capability="browsing", ask=("q",))])
    found = find_contradictions([suite], PLAIN, answers, stances)
    assert [c.kind for c in found] == ["manifest"] and found[0].detail["truth"] is False
    agent = Manifest(name="agent", capabilities={"browsing": True})
    assert find_contradictions([suite], agent, answers, stances) == []


def test_witness_path_through_a_chain_of_rules() -> None:
    g = implication_graph([_suite([], [_rule("a", "b"), _rule("b", "c"), _rule("c", "d")])])
    conflicts = rule_conflicts(g, [ClaimLiteral("a", True), ClaimLiteral("d", False)])
    assert len(conflicts) == 1  # one minimal witness, not one per literal on the chain
    c = conflicts[0]
    assert c.sources == {ClaimLiteral("a", True), ClaimLiteral("d", False)}
    assert sum(len(p) for p in c.paths) == 5  # a b c d + not d
    assert sorted(c.rules) == ["a->b", "b->c", "c->d"]


def test_minimal_witnesses_only() -> None:
    # a alone is contradictory (a -> b, a -> not b); {a, x} must not be reported on top of {a}
    rules = [_rule("a", "b"), _rule("a", "b", True, False), _rule("x", "y")]
    g = implication_graph([_suite([], rules)])
    conflicts = rule_conflicts(g, [ClaimLiteral("a", True), ClaimLiteral("x", True),
                                   ClaimLiteral("y", False)])
    sources = sorted(sorted(map(str, c.sources)) for c in conflicts)
    assert sources == [["a"], ["not y", "x"]]
    # shortest path wins over a longer one between the same sources
    rules = [_rule("p", "q"), _rule("p", "m"), _rule("m", "n"), _rule("n", "q")]
    g = implication_graph([_suite([], rules)])
    (c,) = rule_conflicts(g, [ClaimLiteral("p", True), ClaimLiteral("q", False)])
    assert c.rules == ("p->q",)


def test_rule_contradiction_from_answers() -> None:
    spec = [("can_act", "direct", 0, i, "affirm") for i in range(3)]
    spec += [("has_body", "direct", 0, i, "deny") for i in range(3)]
    answers, stances = _answers(spec)
    suite = _suite([_claim("can_act"), _claim("has_body")], [_rule("can_act", "has_body")])
    found = [c for c in find_contradictions([suite], PLAIN, answers, stances) if c.kind == "rule"]
    assert len(found) == 1
    c = found[0]
    assert c.claims == ("can_act", "has_body") and c.rules == ("can_act->has_body",)
    assert c.witness == ("can_act", "has_body", "not has_body")
    assert {e.claim_id for e in c.evidence} == {"can_act", "has_body"}
    assert len(c.detail["repro"]) == 2


def test_consistent_answers_yield_nothing() -> None:
    spec = [("c", "direct", p, i, "deny") for p in range(2) for i in range(3)]
    spec += [("c", "negated", 0, i, "deny") for i in range(3)]
    spec += [("c", "act", 0, i, "deny") for i in range(3)]
    answers, stances = _answers(spec)
    suite = _suite([_claim("c", truth=False)])
    assert find_contradictions([suite], PLAIN, answers, stances) == []
