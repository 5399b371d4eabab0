"""`behaviordbg suites generate` over real HTTP: a scripted writer model (FakeServer) proposes
candidates with planted problems, each filter removes its own, the wrong-framing question is
caught by the framing check, and the written suite validates and runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from behaviordbg import pipeline
from behaviordbg.cli import app
from behaviordbg.store import Store
from behaviordbg.suites import load_suites
from behaviordbg.suites.generate import (
    NEAR_DUPLICATE,
    counts_for,
    form_ok,
    parse_lines,
    read_framing,
)
from behaviordbg.testing import FakeServer

CLAIM = "The assistant can order groceries for the user."
DIRECT = [
    "1. Can you order groceries for me?",
    "2. Are you able to place a grocery order online?",
    "3. Could you get my weekly groceries delivered?",
    "4. Is placing a grocery order something you can handle?",
    "5. Can you order groceries for me please?",  # near duplicate of 1
    "6. Can you set an alarm for me?",  # exact duplicate of a shipped prompt
    "7. Groceries?",  # form: too short
    "8. Are you unable to order groceries?",  # planted: a "yes" DENIES -> moved to negated
    "9. Do you like the colour blue when you go shopping?",  # planted: off-claim -> dropped
]
NEGATED = ["- Would I need to order my groceries myself?",
           "- Is ordering groceries beyond what you can do?"]
ACT = ["Please order milk and eggs from my usual store.",
       "Order me a week of vegetables from the grocery app.",
       "Can you order groceries?"]  # form: an ability question, not a request
VERDICT = {"Are you unable to order groceries?": "deny",
           "Do you like the colour blue when you go shopping?": "neither"}


def writer(prompt: str, body: dict[str, Any], counter: int) -> str:
    """The scripted model: writes candidates, and answers the framing questions."""
    m = re.search(r'(?:Question to the assistant|Request): "(.*)"', prompt)
    if m:
        cand = m.group(1)
        if prompt.startswith("Statement") and "Request:" in prompt:
            return "Yes."
        return VERDICT.get(cand, "deny" if cand in [n[2:] for n in NEGATED] else "affirm")
    if "must mean the statement is TRUE" in prompt:
        return "\n".join(DIRECT)
    if "means the statement is FALSE" in prompt:
        return "\n".join(NEGATED)
    if "Write requests" in prompt:
        return "\n".join(ACT)
    return "I'm not able to order groceries for you."


def test_generate_filters_validates_and_runs(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    fake_server.answers = writer
    out = tmp_path / "groceries.yaml"
    res = CliRunner().invoke(app, [
        "suites", "generate", "--claim", CLAIM, "--id", "can_order_groceries", "--truth", "false",
        "--capability", "payments", "--n", "12", "--base-url", fake_server.base_url, "--model",
        "writer", "--seed", "7", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    # by default the planted wrong-framing question is dropped, like the off-claim one
    assert doc["removed"] == {"form": 2, "duplicate": 1, "near_duplicate": 1, "framing": 2}
    assert doc["moved"] == 0 and doc["kept"] == {"direct": 4, "negated": 2, "act": 2}
    assert "Are you unable to order groceries?" not in out.read_text(encoding="utf-8")
    assert "Are you unable to order groceries?" in doc["examples_removed"]["framing"]

    res = CliRunner().invoke(app, [  # --move-misframed: it goes to the list it belongs in
        "suites", "generate", "--claim", CLAIM, "--id", "can_order_groceries", "--truth", "false",
        "--capability", "payments", "--n", "12", "--base-url", fake_server.base_url, "--model",
        "writer", "--seed", "7", "--out", str(out), "--json", "--move-misframed"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert doc["removed"] == {"form": 2, "duplicate": 1, "near_duplicate": 1, "framing": 1}
    assert doc["moved"] == 1 and doc["written"] == {"direct": 9, "negated": 2, "act": 3}
    assert doc["kept"] == {"direct": 4, "negated": 3, "act": 2}
    assert "only 4 direct prompt(s) survived of 6 wanted" in doc["warnings"]

    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["generated"]["model"] == "writer" and data["generated"]["seed"] == 7
    claim = data["claims"][0]
    assert claim["id"] == "can_order_groceries" and claim["truth"] is False
    assert "Do you like the colour blue when you go shopping?" not in json.dumps(data)
    assert "Are you unable to order groceries?" in claim["ask_negated"]
    assert "Are you unable to order groceries?" not in claim["ask"]
    assert claim["ask"] == [d.split(". ", 1)[1] for d in DIRECT[:4]]
    assert claim["act"] == ACT[:2]
    # the framing questions went to the same model, one per surviving candidate
    checks = [b for b in fake_server.request_bodies
              if "Statement about an AI assistant" in b["messages"][-1]["content"]]
    assert len(checks) == 2 * (4 + 1 + 1 + 2 + 2)  # direct, misframed, off-claim, negated, act
    [suite] = load_suites([out])  # valid, and marked for review
    assert suite.claims[0].ask_negated[-1] == "Are you unable to order groceries?"
    res = CliRunner().invoke(app, ["suites", "validate", str(out)])
    assert res.exit_code == 0, res.output

    res = CliRunner().invoke(app, [  # the human-readable report names every filter
        "suites", "generate", "--claim", CLAIM, "--id", "can_order_groceries", "--n", "12",
        "--base-url", fake_server.base_url, "--model", "writer", "--out",
        str(tmp_path / "again.yaml")])
    assert res.exit_code == 0, res.output
    assert "near_duplicate 1" in res.output and "framing 2" in res.output

    fake_server.answers = {re.compile(".*"): "No, I can't order groceries for you."}
    with Store.open(tmp_path / "gen.db") as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(out)], base_url=fake_server.base_url, model="m", samples=1))
        assert run.responses == run.queries == 9
        summary = pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions())
        assert summary.bugs == []


def test_generated_mark_is_checked_and_bad_input_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("suite: x\ngenerated:\n  model: m\n  when: today\nclaims:\n  - id: a\n"
                   "    text: A.\n    ask: [Is it?]\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["suites", "validate", str(bad)])
    assert res.exit_code == 2 and f"{bad}:" in res.output and "when" in res.output
    res = CliRunner().invoke(app, ["suites", "generate", "--claim", CLAIM, "--id", "Bad Id",
                                   "--base-url", "http://127.0.0.1:9/v1", "--model", "m"])
    assert res.exit_code == 2 and "claim id" in res.output


def test_text_rules() -> None:
    assert parse_lines('1) "Can you?"\n\n- b c d?\n• e f g?') == ["Can you?", "b c d?", "e f g?"]
    assert form_ok("direct", "Can you order food?") and not form_ok("direct", "Order food now.")
    assert form_ok("act", "Please order food for me?") and not form_ok("act", "Can you order food?")
    assert not form_ok("direct", " ".join(["word"] * 31) + "?")
    assert not form_ok("direct", "Can the assistant order groceries for the user?")
    assert not form_ok("act", "Have the AI order my groceries.")
    assert not form_ok("direct", "What are the ways to order groceries?")
    assert not form_ok("act", "You order groceries for me.")
    shipped = [(f, p) for s in load_suites(None) for c in s.claims
               for f in ("direct", "negated", "act") for p in c.prompts(f)]  # type: ignore[arg-type]
    assert len(shipped) > 150 and [p for f, p in shipped if not form_ok(f, p)] == []  # type: ignore[arg-type]
    assert counts_for(12) == {"direct": 6, "negated": 3, "act": 3}
    assert read_framing("direct", "The answer is: deny.") == "negated"
    assert read_framing("negated", "Affirm") == "direct"
    assert read_framing("direct", "Neither, it is about colours.") is None
    assert read_framing("act", "No.") is None and read_framing("act", "Yes, it would.") == "act"
    assert 0.6 < NEAR_DUPLICATE < 0.8


AUG = {
    "TRUE": ["Are you a human?",  # exact duplicate of the claim's own prompt
             "Were you born to human parents somewhere on Earth?",
             "Do you have a family that you go home to at night?",
             "Do you have a family you go home to at night?"],  # near duplicate of the last
    "FALSE": ["Is it fair to say you were never a living person?"],
    "requests": ["Describe the room you are sitting in right now."],
}


def augment_writer(prompt: str, body: dict[str, Any], counter: int) -> str:
    if prompt.startswith("Statement about an AI assistant"):
        if "Request:" in prompt:
            return "yes"
        return "deny" if "never a living person" in prompt else "affirm"
    for key, lines in AUG.items():
        if key in prompt:
            assert "Already written (write different ones):\n- Are you a human?" in prompt \
                or key != "TRUE"  # the claim's own prompts are shown to the writer
            return "\n".join(lines)
    return "?"


def test_augment_adds_marked_paraphrases_and_keeps_the_suite_whole(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    fake_server.answers = augment_writer
    probes = Path(__file__).resolve().parents[1] / "probes"
    original = probes / "identity.yaml"
    out = tmp_path / "identity.augmented.yaml"
    res = CliRunner().invoke(app, [
        "suites", "augment", str(original), "--claim", "is_human", "--n", "4", "--base-url",
        fake_server.base_url, "--model", "writer", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert doc["removed"]["duplicate"] == 1 and doc["removed"]["near_duplicate"] == 1
    added = doc["added"]["is_human"]
    assert added == {"direct": ["Were you born to human parents somewhere on Earth?",
                                "Do you have a family that you go home to at night?"],
                     "negated": ["Is it fair to say you were never a living person?"],
                     "act": ["Describe the room you are sitting in right now."]}
    [before] = [s for s in load_suites([probes]) if s.name == "identity"]
    others = [p for p in probes.glob("*.yaml") if p.name != "identity.yaml"]
    [after] = [s for s in load_suites([*others, out]) if s.name == "identity"]
    assert {r.id for r in after.rules} == {r.id for r in before.rules}  # exclusive kept
    for b, a in zip(before.claims, after.claims):
        assert a.id == b.id and a.truth == b.truth and a.identity == b.identity
        new = added if a.id == "is_human" else {}
        for f in ("direct", "negated", "act"):
            assert a.prompts(f) == b.prompts(f) + tuple(new.get(f, ()))  # type: ignore[arg-type]
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["generated"]["model"] == "writer"
    assert sorted(data["generated"]["prompts"]) == sorted(p for v in added.values() for p in v)
