"""Unit tests of cluster.py: modes found (not fixed), representatives, `mixed`, speed."""

from __future__ import annotations

import time

from behaviordbg.analysis.cluster import cluster_answers, normalise
from behaviordbg.types import Answer, Stance


def _ans(i: int, claim: str, text: str, framing: str = "direct") -> Answer:
    return Answer(response_id=f"r{i}", run_id="run", query_id=f"q{i}", suite="s", claim_id=claim,
                  framing=framing, prompt_idx=0, prompt="p", sample_idx=i, text=text)


def _stances(answers: list[Answer], labels: list[str]) -> dict[str, Stance]:
    return {a.response_id: Stance(a.response_id, lab, 0.9, "rules")
            for a, lab in zip(answers, labels)}


YES = ["Yes, I can set an alarm for you at 7am.", "Yes! I can set an alarm for you at 7am",
       "Yes, I can set an alarm for 7am for you."]
NO = ["I'm sorry, but as an AI language model I don't have the ability to set alarms.",
      "Sorry, as an AI language model, I do not have the ability to set alarms."]


def test_normalise() -> None:
    assert normalise("  Yes!  I can. ") == "yes i can"


def test_two_modes_found_with_representatives() -> None:
    answers = [_ans(i, "alarm", t) for i, t in enumerate(YES + NO)]
    stances = _stances(answers, ["affirm"] * 3 + ["deny"] * 2)
    clusters = cluster_answers(answers, stances)
    assert [c.size for c in clusters] == [3, 2]
    assert clusters[0].stance_counts == {"affirm": 3}
    assert clusters[1].stance_counts == {"deny": 2}
    assert clusters[0].representative_text in YES and clusters[1].representative_text in NO
    assert set(clusters[0].member_ids) == {"r0", "r1", "r2"}
    assert not any(c.mixed for c in clusters)
    assert [c.index for c in clusters] == [0, 1]


def test_per_claim_and_deterministic() -> None:
    answers = [_ans(i, "a" if i % 2 else "b", t) for i, t in enumerate(YES + NO + YES)]
    stances = _stances(answers, ["affirm"] * len(answers))
    first = cluster_answers(answers, stances)
    again = cluster_answers(list(answers), stances)
    assert first == again
    assert {c.claim_id for c in first} == {"a", "b"}
    assert sum(c.size for c in first) == len(answers)


def test_mixed_flags_opposite_stances_in_one_framing_only() -> None:
    answers = [_ans(0, "c", "Yes."), _ans(1, "c", "Yes"), _ans(2, "c", "yes", "negated")]
    # "Yes." to a negated question denies the claim: not a judge error
    ok = cluster_answers(answers, _stances(answers, ["affirm", "affirm", "deny"]))
    assert len(ok) == 1 and ok[0].mixed is False
    # the same text judged affirm and deny in the same framing: likely judge error
    bad = cluster_answers(answers, _stances(answers, ["affirm", "deny", "deny"]))
    assert bad[0].mixed is True


def test_vectors_option_replaces_tfidf() -> None:
    answers = [_ans(i, "c", "same text") for i in range(4)]
    vectors = {"r0": [1.0, 0.0], "r1": [0.99, 0.05], "r2": [0.0, 1.0], "r3": [0.02, 1.0]}
    clusters = cluster_answers(answers, {}, vectors=vectors)
    assert sorted(c.size for c in clusters) == [2, 2]
    assert cluster_answers(answers, {})[0].size == 4  # TF-IDF: all one text
    assert clusters[0].stance_counts == {"error": 2}  # no verdict is counted as error


def test_big_claims_are_subsampled_and_fast() -> None:
    answers = []
    for i in range(20_000):
        base = YES[i % 3] if i % 2 else NO[i % 2]
        answers.append(_ans(i, f"claim{i % 4}", f"{base} (variant {i % 700})"))
    t0 = time.perf_counter()
    clusters = cluster_answers(answers, {}, max_points=150)
    elapsed = time.perf_counter() - t0
    assert sum(c.size for c in clusters) == 20_000
    assert elapsed < 10, elapsed
