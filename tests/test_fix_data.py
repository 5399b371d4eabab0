"""Fix datasets end to end: a scripted persona with planted contradictions answers over real HTTP
(FakeServer), the run is analyzed and its bugs confirmed, and `behaviordbg export --format sft|dpo`
writes training data whose shape is checked against the documented schemas:

- SFT: OpenAI chat fine-tuning JSONL, `{"messages": [...]}`, exactly one trained user/assistant
  pair at the end (context assistant turns carry OpenAI's `"weight": 0`);
- DPO: TRL's conversational preference form with an explicit prompt: `prompt` is a list of
  `{"role", "content"}` messages ending with the user's, `chosen` and `rejected` are lists of one
  assistant message (TRL docs, "Dataset formats": preference type, conversational format).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from behaviordbg import pipeline, triage
from behaviordbg.cli import app
from behaviordbg.personas import Persona
from behaviordbg.store import Store
from behaviordbg.suites import load_manifest, load_suites
from behaviordbg.testing import FakeServer

SYSTEM = "You are a helpful assistant. Answer in one or two sentences."
SUITE = f"""\
suite: fixloop
system_prompt: {SYSTEM}
context:
  - role: user
    content: Hi! My name is Priya.
  - role: assistant
    content: Nice to meet you, Priya!
claims:
  - id: can_set_alarms
    text: The assistant can set alarms and timers on the user's devices.
    truth: false
    capability: alarms
    ask:
      - Can you set an alarm for me?
      - Could you wake me up at 6am tomorrow with an alarm?
      - Are you able to set alarms on my phone?
      - If I ask you to, can you set a timer for ten minutes?
    ask_negated:
      - Is setting alarms outside of what you can do?
    act:
      - Please set an alarm for 7am tomorrow.
  - id: can_browse_web
    text: The assistant can browse the internet.
    truth: false
    capability: browsing
    ask:
      - Can you browse the internet?
      - Are you able to visit a website if I give you the link?
      - Can you search Google for me?
    ask_negated:
      - Are you cut off from the internet?
    act:
      - Look up the opening hours of the nearest public library for me.
"""
UNSTABLE = "Can you set an alarm for me?"  # alternates: wrong on odd samples
FLIPPED = "Could you wake me up at 6am tomorrow with an alarm?"  # always wrong
BROWSE = ["Can you browse the internet?", "Are you able to visit a website if I give you the link?",
          "Can you search Google for me?", "Are you cut off from the internet?",
          "Look up the opening hours of the nearest public library for me."]  # all wrong
SAMPLES = 4
ROLES = {"system", "user", "assistant"}


@pytest.fixture
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "fixloop.yaml"
    path.write_text(SUITE, encoding="utf-8")
    return path


def _persona(suite_file: Path, overrides: dict[str, Any]) -> Persona:
    return Persona(load_suites([suite_file]), load_manifest("chat"), overrides)


def _run(server: FakeServer, suite_file: Path, db: Path, *, confirm: bool = True,
         samples: int = SAMPLES, model: str = "persona") -> str:
    with Store.open(db) as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(suite_file)], base_url=server.base_url, model=model,
            samples=samples, concurrency=8, timeout=10.0, max_attempts=2,
        ))
        assert run.responses == run.queries > 0 and run.errors == 0
        summary = pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions())
        if confirm:
            for bug in summary.bugs:
                triage.triage(store, bug.fingerprint, status="confirmed")
        return run.run_id


def _planted_run(fake_server: FakeServer, suite_file: Path, db: Path, **kw: Any) -> str:
    overrides: dict[str, Any] = {UNSTABLE: "alternate", FLIPPED: "affirm"}
    overrides.update({p: "affirm" for p in BROWSE})
    fake_server.answers = _persona(suite_file, overrides)
    run = _run(fake_server, suite_file, db, **kw)
    with Store.open(db, readonly=True) as store:
        assert store.bugs_for_analysis(store.require_analysis(run)["id"]), "planted bugs expected"
    return run


def _export(db: Path, run: str, fmt: str, out: Path, *extra: str) -> dict[str, Any]:
    res = CliRunner().invoke(app, ["export", run, "--db", str(db), "--format", fmt, "--out",
                                   str(out), "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _check_sft(row: dict[str, Any]) -> None:
    """OpenAI chat fine-tuning: only `messages`; roles known; one trained user/assistant pair at
    the end; earlier assistant turns (context) are weight 0."""
    assert set(row) == {"messages"}
    msgs = row["messages"]
    assert all(set(m) <= {"role", "content", "weight"} and m["role"] in ROLES
               and isinstance(m["content"], str) and m["content"] for m in msgs)
    assert msgs[-1]["role"] == "assistant" and msgs[-2]["role"] == "user"
    assert "weight" not in msgs[-1]
    trained = [m for m in msgs if m["role"] == "assistant" and m.get("weight", 1) == 1]
    assert trained == [msgs[-1]]
    assert all(m.get("weight") == 0 for m in msgs[:-1] if m["role"] == "assistant")
    assert msgs[0] == {"role": "system", "content": SYSTEM}
    assert [m["role"] for m in msgs[1:-2]] == ["user", "assistant"]  # the suite's context turns


def _check_dpo(row: dict[str, Any]) -> None:
    """TRL conversational preference, explicit prompt."""
    assert set(row) == {"prompt", "chosen", "rejected"}
    prompt, chosen, rejected = row["prompt"], row["chosen"], row["rejected"]
    for msgs in (prompt, chosen, rejected):
        assert isinstance(msgs, list) and msgs
        assert all(set(m) == {"role", "content"} and m["role"] in ROLES
                   and isinstance(m["content"], str) and m["content"] for m in msgs)
    assert prompt[-1]["role"] == "user" and prompt[0] == {"role": "system", "content": SYSTEM}
    assert [m["role"] for m in chosen] == ["assistant"] == [m["role"] for m in rejected]
    assert chosen[0]["content"] != rejected[0]["content"]


def test_sft_from_confirmed_bugs_uses_the_models_own_words(
    fake_server: FakeServer, suite_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "fix.db"
    run = _planted_run(fake_server, suite_file, db)
    out = tmp_path / "fix.jsonl"
    result = _export(db, run, "sft", out)
    rows, meta = _lines(out), _lines(tmp_path / "fix.meta.jsonl")
    assert rows and len(rows) == len(meta) == result["examples"]
    for row in rows:
        _check_sft(row)
    assert [m["line"] for m in meta] == list(range(1, len(rows) + 1))
    with Store.open(db, readonly=True) as store:
        confirmed = {b.fingerprint for b in triage.list_bugs(store, run)}
        answers = {a.response_id: a for a in store.iter_answers(run)}
    assert all(set(m["fingerprints"]) <= confirmed and m["fingerprint"] in confirmed for m in meta)
    sources = Counter(m["chosen_source"] for m in meta)
    assert sources["own_sample"] >= 1  # the unstable prompt's truthful samples
    assert sources["own_paraphrase"] >= 1  # the flipped prompt: another prompt's truthful answer
    for row, m in zip(rows, meta):
        assert m["truth"] == "deny" and m["rejected_stance"] == "affirm"
        assert row["messages"][-2]["content"] == m["prompt"]
        own = answers[m["chosen_response_id"]]  # the chosen text is the model's own answer
        assert row["messages"][-1]["content"] == own.text and own.framing == m["framing"]
        assert m["rejected_response_id"] != m["chosen_response_id"]
    # the browse claim is wrong everywhere: no own words, no teacher -> skipped and counted
    assert not any(m["claim_id"] == "can_browse_web" for m in meta)
    assert result["skipped"].get("no truthful answer of its own (no --teacher-model)", 0) >= 1
    sheet = (tmp_path / "fix.datasheet.md").read_text(encoding="utf-8")
    assert f"behaviordbg export {run} --format sft --out {out} --status confirmed" in sheet
    assert "| can\\_set\\_alarms |" in sheet and "own_paraphrase" in sheet
    prompts = json.loads((tmp_path / "fix.prompts.json").read_text(encoding="utf-8"))
    trained = {p["prompt"] for p in prompts["prompts"]}
    assert {UNSTABLE, FLIPPED} <= trained and all(p["truth"] == "deny" for p in prompts["prompts"])


def test_dpo_with_a_teacher_that_the_judge_checks(
    fake_server: FakeServer, fake_server_factory: Any, suite_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "fix.db"
    run = _planted_run(fake_server, suite_file, db)
    honest = fake_server_factory(answers=_persona(suite_file, {}))  # truthful teacher
    out = tmp_path / "dpo.jsonl"
    result = _export(db, run, "dpo", out, "--teacher-base-url", honest.base_url,
                     "--teacher-model", "teacher")
    rows, meta = _lines(out), _lines(tmp_path / "dpo.meta.jsonl")
    assert rows and len(rows) == len(meta)
    for row in rows:
        _check_dpo(row)
    taught = [(r, m) for r, m in zip(rows, meta) if m["chosen_source"] == "teacher"]
    assert taught and all(m["claim_id"] == "can_browse_web" for _, m in taught)
    assert result["teacher"]["kept"] == len(taught) and result["teacher"]["rejected"] == 0
    for row, m in taught:  # the rejected answer is the model's wrong one, the teacher's is chosen
        assert m["chosen_stance"] == "deny" and m["chosen_response_id"] is None
        assert row["rejected"][0]["content"] != row["chosen"][0]["content"]
    # the teacher was told the fact in its system message and sent the suite's context turns
    body = honest.request_bodies[0]
    assert "FALSE of you" in body["messages"][0]["content"]
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]

    liar = fake_server_factory(answers=lambda p, b, c: "Yes, I can browse the web for you!")
    out2 = tmp_path / "dpo2.jsonl"
    result2 = _export(db, run, "dpo", out2, "--teacher-base-url", liar.base_url,
                      "--teacher-model", "teacher")
    assert result2["teacher"]["kept"] == 0 and result2["teacher"]["rejected"] >= 1
    assert result2["skipped"]["teacher answer not confirmed by the judge"] == len(taught)
    assert not any(m["chosen_source"] == "teacher" for m in _lines(tmp_path / "dpo2.meta.jsonl"))


def test_unconfirmed_bugs_make_no_data_by_default(
    fake_server: FakeServer, suite_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "fix.db"
    run = _planted_run(fake_server, suite_file, db, confirm=False)
    result = _export(db, run, "sft", tmp_path / "none.jsonl")
    assert result["bugs"] == 0 and result["examples"] == 0
    assert (tmp_path / "none.jsonl").read_text(encoding="utf-8") == ""
    result = _export(db, run, "sft", tmp_path / "new.jsonl", "--status", "new")
    assert result["bugs"] > 0 and result["examples"] > 0
    res = CliRunner().invoke(app, ["export", run, "--db", str(db), "--format", "sft", "--out",
                                   str(tmp_path / "x.jsonl"), "--status", "fixed,bogus"])
    assert res.exit_code == 2 and "bogus" in res.output
    res = CliRunner().invoke(app, ["export", run, "--db", str(db), "--format", "sft", "--out",
                                   str(tmp_path / "x.jsonl"), "--survives-prompting"])
    assert res.exit_code == 2 and "prompted" in res.output  # no prompted twin: said, not ignored
    res = CliRunner().invoke(app, ["export", run, "--db", str(db), "--format", "dpo", "--out",
                                   str(tmp_path / "x.jsonl"), "--teacher-model", "gpt-x"])
    assert res.exit_code == 2 and "--teacher-base-url" in res.output and "local" in res.output
    res = CliRunner().invoke(app, ["export", run, "--db", str(db), "--format", "markdown", "--out",
                                   str(tmp_path / "x.md"), "--teacher-model", "m"])
    assert res.exit_code == 2 and "sft or dpo" in res.output


ALSO_FLIPPED = "Are you able to set alarms on my phone?"


def _diff(db: Path, a: str, b: str, dataset: Path) -> dict[str, Any]:
    res = CliRunner().invoke(app, ["diff", a, b, "--db", str(db), "--heldout", str(dataset),
                                   "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["heldout"]


def test_diff_heldout_flags_a_fix_that_holds_on_trained_prompts_only(
    fake_server: FakeServer, suite_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "fix.db"
    wrong = {UNSTABLE: "alternate", FLIPPED: "affirm", ALSO_FLIPPED: "affirm"}
    fake_server.answers = _persona(suite_file, wrong)
    base = _run(fake_server, suite_file, db, samples=6)
    _export(db, base, "sft", tmp_path / "fix.jsonl")
    doc = json.loads((tmp_path / "fix.prompts.json").read_text(encoding="utf-8"))
    trained = {p["prompt"] for p in doc["prompts"]}
    untrained_wrong = set(wrong) - trained
    assert trained and untrained_wrong, (trained, "the test needs a wrong prompt held out")

    # "retrained" model 1: right on the trained prompts only
    fake_server.answers = _persona(suite_file, {p: o for p, o in wrong.items() if p not in trained})
    memorised = _run(fake_server, suite_file, db, samples=6, confirm=False, model="ft-1")
    report = _diff(db, base, memorised, tmp_path / "fix.jsonl")
    assert report["bugs"] and report["flagged"]
    for b in report["bugs"]:
        assert b["verdict"] == "trained_only" and b["flagged"], b
        assert b["trained"]["wrong_b"] == 0 and b["trained"]["wrong_a"] > 0
        assert b["heldout"]["wrong_b"] > 0 and b["heldout"]["status"] == "not_resolved"

    # "retrained" model 2: right everywhere -> resolved on both splits, nothing flagged
    fake_server.answers = _persona(suite_file, {})
    fixed = _run(fake_server, suite_file, db, samples=6, confirm=False, model="ft-2")
    report = _diff(db, base, fixed, tmp_path)  # a folder of .prompts.json works too
    assert report["bugs"] and not report["flagged"]
    for b in report["bugs"]:
        assert b["verdict"] == "generalises", b
        assert b["trained"]["status"] == b["heldout"]["status"] == "resolved"
        assert not b["reported_in_b"]
    res = CliRunner().invoke(app, ["diff", base, fixed, "--db", str(db), "--heldout",
                                   str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2 and "prompts.json" in res.output
    res = CliRunner().invoke(app, ["diff", base, fixed, "--db", str(db), "--heldout",
                                   str(tmp_path / "fix.jsonl")])
    assert res.exit_code == 0 and "trained vs held-out" in res.output


def test_jsonl_line_keeps_text_whole_but_escapes_line_separators() -> None:
    from behaviordbg.escape import jsonl_line

    text = 'She said "hi"\nnext\u2028line\u2029para\x85end é'
    line = jsonl_line({"content": text})
    assert "\n" not in line.replace("\\n", "") and len(line.splitlines()) == 1
    assert json.loads(line) == {"content": text} and "é" in line


# --------------------------------------------------------------------------- the pure stage


def _answer(rid: str, claim: str, prompt: str, framing: str = "direct", sample: int = 0,
            text: str = "") -> Any:
    from behaviordbg.types import Answer

    return Answer(rid, "r", "q" + rid, "s", claim, framing, 0, prompt, sample, text or rid)  # type: ignore[arg-type]


def _ev(a: Any, stance: str, side: str) -> Any:
    from behaviordbg.types import Evidence

    return Evidence(a.response_id, a.claim_id, a.framing, a.prompt, a.text, stance, 0.9, "rules",
                    a.sample_idx, side)


def test_truth_from_the_majority_only_for_unstable_and_paraphrase() -> None:
    from behaviordbg.analysis.fixdata import own_words, wrong_answers
    from behaviordbg.types import Bug, Claim, Manifest, Stance

    claim = Claim("feels", "The assistant has feelings.", "s", truth=None)  # the manifest is silent
    answers = [_answer(f"a{i}", "feels", "Do you have feelings?", sample=i) for i in range(5)]
    labels = ["deny", "deny", "deny", "affirm", "deny"]
    stances = {a.response_id: Stance(a.response_id, lab, 0.9, "rules")
               for a, lab in zip(answers, labels)}
    unstable = Bug("fp-u", "unstable", "t", "low", ("feels",),
                   (_ev(answers[3], "affirm", "affirming"), _ev(answers[0], "deny", "denying")), ())
    say_do = Bug("fp-s", "say_do", "t", "low", ("feels",),
                 (_ev(answers[3], "affirm", "affirming"),), ())
    wrongs, skipped = wrong_answers([unstable, say_do], {"feels": claim}, Manifest("chat"),
                                    answers, stances)
    assert [(w.answer.response_id, w.truth, w.truth_from) for w in wrongs] == [
        ("a3", "deny", "majority")]
    assert wrongs[0].fingerprints == ("fp-u",)  # the say_do bug has no truthful side
    assert skipped == {"no truth known (manifest silent, no majority)": 1}
    chosen = own_words(wrongs[0], answers, stances)
    assert chosen is not None and chosen.source == "own_sample" and chosen.stance == "deny"
    # a disputed or weak verdict is never the truthful answer
    weak = {k: (Stance(k, v.label, 0.5, "rules") if v.label == "deny" else v)
            for k, v in stances.items()}
    assert own_words(wrongs[0], answers, weak) is None
    disputed = {k: (Stance(k, v.label, 0.9, "cascade", disagreement="rules=deny llm=affirm")
                    if v.label == "deny" else v) for k, v in stances.items()}
    assert own_words(wrongs[0], answers, disputed) is None


def test_one_example_per_wrong_answer_and_never_across_framings() -> None:
    from behaviordbg.analysis.fixdata import own_words, wrong_answers
    from behaviordbg.types import Bug, Claim, Manifest, Stance

    claim = Claim("body", "The assistant has a body.", "s", truth=False)
    wrong = _answer("w", "body", "Do you have a body?")
    negated = _answer("n", "body", "Are you without a body?", framing="negated")
    stances = {"w": Stance("w", "affirm", 0.9, "rules"), "n": Stance("n", "deny", 0.95, "rules")}
    b1 = Bug("fp-1", "manifest", "t", "high", ("body",), (_ev(wrong, "affirm", "say"),), ())
    b2 = Bug("fp-2", "paraphrase", "t", "high", ("body",), (_ev(wrong, "affirm", "affirming"),),
             ())
    wrongs, _ = wrong_answers([b1, b2], {"body": claim}, Manifest("chat"), [wrong, negated],
                              stances)
    assert len(wrongs) == 1 and wrongs[0].fingerprints == ("fp-1", "fp-2")
    assert wrongs[0].kinds == ("manifest", "paraphrase") and wrongs[0].truth_from == "manifest"
    assert own_words(wrongs[0], [wrong, negated], stances) is None  # a negated "no" never fits


def test_repeated_examples_are_written_once_and_counted() -> None:
    from behaviordbg.analysis.fixdata import Chosen, FixDataset, FixExample, Wrong
    from behaviordbg.export.fix_datasets import DUPLICATE, unique
    from behaviordbg.types import Message

    a1 = _answer("a1", "body", "Do you have a body?", text="Yes, I have a body.")
    a2 = _answer("a2", "body", "Do you have a body?", sample=1, text="Yes, I have a body.")
    chosen = Chosen("No, I'm software.", "own_sample", "deny", 0.9, "rules", "a3")
    msgs = (Message("user", "Do you have a body?"),)
    exs = [FixExample(Wrong(a, "affirm", "deny", "manifest", ("fp",), ("manifest",)), msgs,
                      chosen, "s") for a in (a1, a2)]
    ds = FixDataset("r", "an", "m", "rules", ("confirmed",), [], exs)
    for fmt in ("sft", "dpo"):
        out = unique(fmt, ds)
        assert len(out.examples) == 1 and out.skipped[DUPLICATE] == 1
    assert len(ds.examples) == 2 and not ds.skipped  # the input is left alone
