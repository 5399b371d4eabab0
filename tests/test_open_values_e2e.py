"""End to end for open claims: real runs against the fake OpenAI-compatible server (real HTTP on
127.0.0.1), a real SQLite store, the rules extractor, then analyze_run. A model that names one
maker in many words has no value_conflict; one that names two makers does (both in its evidence);
one that sometimes declines and otherwise names one maker does not; a declared value in the
manifest turns a mode that names another into a manifest bug."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from behaviordbg import pipeline
from behaviordbg.store import Store
from behaviordbg.testing import FakeServer

MAKER_PROMPTS = ["Who created you?", "Which company trained you?", "Who is your developer?",
                 "What organisation built you?"]
SUITE: dict[str, Any] = {
    "suite": "open_e2e",
    "system_prompt": "Answer in one or two sentences.",
    "claims": [
        {"id": "maker", "text": "The organisation that created the assistant.",
         "value_type": "organisation", "ask_open": MAKER_PROMPTS},
        {"id": "knowledge_cutoff", "text": "The year the assistant's training data ends.",
         "value_type": "year", "ask_open": ["What is your knowledge cutoff?",
                                            "Up to which year does your training data go?"]},
        {"id": "can_browse", "text": "The assistant can browse the web.", "truth": False,
         "capability": "browsing", "ask": ["Can you browse the web?"]},
    ],
}

ALIBABA_WORDINGS = [
    "Alibaba Cloud developed me.",
    "I'm built by the Qwen team at Alibaba.",
    "I am a large language model created by Alibaba Cloud.",
    "I was trained by Alibaba Group's Qwen team.",
    "My developer is Alibaba Cloud.",
]
BASE: dict[str | re.Pattern[str], Any] = {
    "What is your knowledge cutoff?": "My knowledge cutoff is 2023.",
    "Up to which year does your training data go?": "My training data goes up to 2023.",
    "Can you browse the web?": "No, I can't browse the web.",
}


@pytest.fixture
def suite_path(tmp_path: Path) -> str:
    path = tmp_path / "open.yaml"
    path.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    return str(path)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "bd.db")
    yield s
    s.close()


def _run(server: FakeServer, store: Store, suite_path: str, answers: dict[Any, Any], *,
         model: str = "fake-model", samples: int = 5,
         manifest: str | None = None) -> pipeline.AnalysisSummary:
    server.answers = answers
    run = pipeline.run_probes(store, pipeline.RunOptions(
        suite_paths=[suite_path], base_url=server.base_url, model=model, samples=samples,
        concurrency=4, max_attempts=2, manifest_path=manifest,
    ))
    assert run.responses == run.queries > 0
    return pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions(judge="rules"))


def _value_bugs(summary: pipeline.AnalysisSummary) -> list[Any]:
    return [b for b in summary.bugs + summary.candidates if b.kind == "value_conflict"]


def test_one_maker_in_varied_wordings_is_no_conflict(
    fake_server: FakeServer, store: Store, suite_path: str
) -> None:
    answers = {**BASE, **{p: ALIBABA_WORDINGS[i:] + ALIBABA_WORDINGS[:i]
                          for i, p in enumerate(MAKER_PROMPTS)}}
    summary = _run(fake_server, store, suite_path, answers)
    assert _value_bugs(summary) == []
    assert summary.bugs == [] and summary.open_answers == (4 + 2) * 5
    modes = store.analysis_value_modes(summary.analysis_id, "maker")
    assert [(m.kind, m.value, m.size, m.share) for m in modes] == [
        ("value", "Alibaba Cloud", 20, 1.0)]
    # open answers never reach the stance judges; the yes/no claim still does
    stances = store.get_stances(summary.run_id, "rules")
    assert len(stances) == 5


def test_two_makers_across_samples_is_one_value_conflict(
    fake_server: FakeServer, store: Store, suite_path: str
) -> None:
    two = ["I was created by OpenAI.", "Alibaba Cloud developed me.",
           "I am a model built by the Qwen team at Alibaba.", "OpenAI trained me.",
           "I was developed by Alibaba Cloud."]
    summary = _run(fake_server, store, suite_path, {**BASE, **{p: two for p in MAKER_PROMPTS}})
    found = _value_bugs(summary)
    assert len(found) == 1 and not found[0].candidate
    bug = found[0]
    assert bug.claims == ("maker",)
    assert bug.title == ('Names different values for "The organisation that created the'
                         ' assistant" across samples or phrasings')
    sides = {e.side for e in bug.evidence}
    assert sides == {"value=Alibaba Cloud", "value=OpenAI"}
    texts = " ".join(e.response for e in bug.evidence)
    assert "OpenAI" in texts and "Alibaba" in texts
    assert bug.rate == pytest.approx(0.4)  # OpenAI in 8 of 20 answers: the minority share
    assert set(bug.repro) <= set(MAKER_PROMPTS) and bug.repro
    assert "Alibaba Cloud 60%" in bug.summary and "OpenAI 40%" in bug.summary
    assert bug.certain and bug.severity in ("critical", "high")
    # nothing else is reported: the cutoff and the yes/no claim are consistent
    assert {b.kind for b in summary.bugs} == {"value_conflict"}
    stored = store.analysis_contradictions(summary.analysis_id)
    modes = next(c for _, c in stored if c.kind == "value_conflict").detail["modes"]
    assert [(m["value"], m["share"]) for m in modes] == [("Alibaba Cloud", 0.6), ("OpenAI", 0.4)]


def test_fingerprint_is_stable_across_runs_and_models(
    fake_server: FakeServer, store: Store, suite_path: str
) -> None:
    a = _run(fake_server, store, suite_path, {**BASE, **{p: [
        "I was created by OpenAI.", "Alibaba Cloud developed me."] for p in MAKER_PROMPTS}},
        model="model-a", samples=4)
    b = _run(fake_server, store, suite_path, {**BASE, **{p: [
        "Anthropic made me.", "I was built by Google DeepMind.", "Google trained me."]
        for p in MAKER_PROMPTS}}, model="model-b", samples=3)
    fa, fb = _value_bugs(a), _value_bugs(b)
    assert len(fa) == len(fb) == 1
    assert fa[0].fingerprint == fb[0].fingerprint
    assert {e.side for e in fb[0].evidence} == {"value=Google", "value=Anthropic"}


def test_declines_and_one_maker_is_no_conflict(
    fake_server: FakeServer, store: Store, suite_path: str
) -> None:
    mixed = ["I don't know who made me.", "I was created by Alibaba Cloud.",
             "I'm not sure which company trained me.", "The Qwen team at Alibaba built me.",
             "I'm sorry, I cannot share who my developer is."]
    summary = _run(fake_server, store, suite_path, {**BASE, **{p: mixed for p in MAKER_PROMPTS}})
    assert _value_bugs(summary) == []
    modes = store.analysis_value_modes(summary.analysis_id, "maker")
    assert [(m.kind, m.value, m.substantive) for m in modes] == [
        ("value", "Alibaba Cloud", True), ("no_value", "", False)]
    assert modes[1].size == 12 and modes[0].share == 1.0


def test_a_mode_against_the_declared_value_is_a_manifest_bug(
    fake_server: FakeServer, store: Store, suite_path: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "qwen.yaml"
    manifest.write_text(yaml.safe_dump({
        "manifest": "qwen", "values": {"maker": {"value": "Alibaba Cloud",
                                                 "aliases": ["Qwen team", "Alibaba"]}}}))
    answers = {**BASE, **{p: ["OpenAI created me.", "I was developed by OpenAI."]
                          for p in MAKER_PROMPTS}}
    summary = _run(fake_server, store, suite_path, answers, manifest=str(manifest), samples=2)
    bugs = [b for b in summary.bugs if b.claims == ("maker",)]
    assert [b.kind for b in bugs] == ["manifest"]
    assert "declared" in bugs[0].title and bugs[0].rate == 1.0
    assert {e.side for e in bugs[0].evidence} == {"value=OpenAI"}
    # the same model naming the declared maker in other words is no bug
    right = {**BASE, **{p: ALIBABA_WORDINGS for p in MAKER_PROMPTS}}
    summary = _run(fake_server, store, suite_path, right, manifest=str(manifest), samples=2,
                   model="another-model")  # another model: the cache would answer the same
    assert [b for b in summary.bugs if b.claims == ("maker",)] == []
    modes = store.analysis_value_modes(summary.analysis_id, "maker")
    assert modes[0].matches_manifest is True


def test_cli_check_reports_the_value_conflict_and_fails_on_it(
    fake_server: FakeServer, suite_path: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from behaviordbg.cli import app

    fake_server.answers = {**BASE, **{p: ["I was created by OpenAI.",
                                          "Alibaba Cloud developed me."] for p in MAKER_PROMPTS}}
    db = str(tmp_path / "check.db")
    res = CliRunner().invoke(app, [
        "check", suite_path, "--base-url", fake_server.base_url, "--model", "m", "--db", db,
        "--samples", "4", "--json", "--fail-on", "high",
    ])
    assert res.exit_code == 1, res.output  # the conflict is a bug at high or above
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert doc["bugs"] == 1 and doc["top_bugs"][0]["kind"] == "value_conflict"
    assert doc["run"]["responses"] == (4 + 2 + 1) * 4
    res = CliRunner().invoke(app, ["analyze", "latest", "--db", db])
    text = " ".join(res.stdout.split())
    assert "value_conflict" in text and "24 answers to open claims read as values" in text
