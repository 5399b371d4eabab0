"""People's stance labels at unit level: the pure stage (behaviordbg.analysis.labels) and the
store's matching rule (behaviordbg.store.labels) on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from behaviordbg.analysis.evidence import side_strength
from behaviordbg.analysis.labels import (
    HumanLabel,
    apply_labels,
    judge_accuracy,
    label_outcome,
    suggest,
)
from behaviordbg.errors import StoreError
from behaviordbg.store import NewLabel, Store, answer_key
from behaviordbg.types import Answer, Evidence, Stance


def test_a_label_wins_and_says_what_the_judge_read() -> None:
    judged = {"r1": Stance("r1", "affirm", 0.95, "rules"), "r2": Stance("r2", "deny", 0.9, "rules")}
    out, changed = apply_labels(judged, {"r1": HumanLabel("deny", "ana", "cannot"),
                                         "r2": HumanLabel("deny", "ana")})
    assert out["r1"].label == "deny" and out["r1"].judge == "label:ana"
    assert out["r1"].confidence == 1.0 and out["r1"].rationale == "cannot"
    assert out["r1"].agreement == "labelled deny; judge rules=affirm"
    assert changed == {"r1": ("affirm", "deny")}  # r2 agrees with the judge: not a change
    assert judged["r1"].label == "affirm"  # the input is not modified


def test_a_labelled_answer_is_solid_evidence_named_as_a_person() -> None:
    ev = Evidence("r1", "c", "direct", "p?", "No.", "deny", 1.0, "label:ana",
                  second_opinion="labelled deny; judge rules=affirm", agreed=True)
    assert side_strength([ev], need_agreement=True) == (True, "labelled by a person (ana)")


def test_judge_accuracy_confusion_and_intervals() -> None:
    rows = [
        {"judge": "rules", "judge_label": "affirm", "human": "deny", "claim_id": "a",
         "framing": "direct"},
        {"judge": "rules", "judge_label": "deny", "human": "deny", "claim_id": "a",
         "framing": "negated"},
        {"judge": "rules", "judge_label": "unclear", "human": "unclear", "claim_id": "b",
         "framing": "act"},
        {"judge": "llm", "judge_label": "error", "human": "refuse", "claim_id": "b",
         "framing": "act"},
    ]
    llm, rules = judge_accuracy(rows)
    assert (rules["judge"], rules["right"], rules["n"]) == ("rules", 2, 3)
    assert rules["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert 0 < rules["low"] < 2 / 3 < rules["high"] < 1
    assert rules["confusion"]["deny"] == {"affirm": 1, "deny": 1, "unclear": 0, "refuse": 0,
                                          "error": 0}
    assert {r["framing"]: (r["right"], r["n"]) for r in rules["by_framing"]} == {
        "act": (1, 1), "direct": (0, 1), "negated": (1, 1)}
    assert {r["claim"]: (r["right"], r["n"]) for r in rules["by_claim"]} == {"a": (1, 2),
                                                                             "b": (1, 1)}
    assert llm["confusion"]["refuse"]["error"] == 1 and llm["accuracy"] == 0.0


def test_suggestions_worst_first_and_labelled_ones_left_out() -> None:
    def row(rid: str, verdicts: list[tuple[str, str, float, str | None]]) -> dict[str, object]:
        return {"response_id": rid, "claim_id": "c", "framing": "direct", "prompt": "p",
                "response": "t", "verdicts": verdicts}

    rows = [
        row("sure", [("rules", "deny", 0.95, None)]),
        row("weak", [("rules", "deny", 0.55, None)]),
        row("split", [("rules", "deny", 0.9, None), ("llm", "affirm", 0.75, None)]),
        row("evidence", [("rules", "affirm", 0.9, None)]),
        row("done", [("rules", "deny", 0.5, "rules=deny llm=affirm")]),
    ]
    out = suggest(rows, setting="rules", labelled={"done"}, evidence={"evidence"})
    assert [d["response_id"] for d in out] == ["split", "evidence", "weak", "sure"]
    assert out[0]["why"].startswith("judges disagree: rules=deny, llm=affirm")
    assert suggest(rows, setting="rules", labelled=set(), limit=1)[0]["response_id"] == "done"


def test_label_outcome_names_the_relabelled_evidence() -> None:
    removed, created = label_outcome({"bug-a": ["r1", "r2"], "bug-b": ["r3"]}, {"bug-b", "bug-c"},
                                     {"r2": ("affirm", "deny")})
    assert removed == {"bug-a": ["r2"]} and created == ["bug-c"]


def _answer(rid: str, run: str, text: str, prompt: str = "Can you browse the web?") -> Answer:
    return Answer(rid, run, "q", "s", "can_browse", "direct", 0, prompt, 0, text)


def _new(a: Answer, stance: str) -> NewLabel:
    return {"response_id": a.response_id, "run_id": a.run_id, "claim_id": a.claim_id,
            "claim": "", "identity": None, "framing": a.framing, "prompt": a.prompt,
            "response": a.text, "stance": stance, "note": "", "author": "t"}


def test_matching_rule_same_claim_framing_prompt_and_exact_text(tmp_path: Path) -> None:
    first = _answer("r1", "run-1", "No, I can't.")
    with Store.open(tmp_path / "l.db") as store:
        store.add_labels([_new(first, "deny")])
        later = [_answer("r2", "run-2", "No, I can't."),  # a cached answer: same text
                 _answer("r3", "run-2", "No, I can't. "),  # one space more: another answer
                 _answer("r4", "run-2", "No, I can't.", prompt="Can you search online?")]
        found = store.labels_for_answers(later)
        assert set(found) == {"r2"} and found["r2"]["stance"] == "deny"
        store.add_labels([_new(first, "unclear")])  # newest wins, history kept
        assert store.labels_for_answers(later)["r2"]["stance"] == "unclear"
        store.add_labels([_new(first, "")])  # cleared: the judge decides again
        assert store.labels_for_answers(later) == {}
        key = answer_key("can_browse", "direct", "Can you browse the web?", "No, I can't.")
        assert [h["stance"] for h in store.label_history(key)] == ["deny", "unclear", ""]
        with pytest.raises(StoreError, match="unknown stance"):
            store.add_labels([_new(first, "maybe")])
