"""End to end: a real run against the fake OpenAI-compatible server (real HTTP on 127.0.0.1), a
real SQLite store, the rules judge, then analyze_run. Each contradiction kind is planted through
scripted answers and must be found on the right claims; a consistent model yields no bug."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from behaviordbg import pipeline
from behaviordbg.cli import app
from behaviordbg.errors import BehaviordbgError
from behaviordbg.store import Store
from behaviordbg.testing import FakeServer
from behaviordbg.types import Stance, StanceInput

SUITE: dict[str, Any] = {
    "suite": "e2e",
    "claims": [
        {"id": "can_set_alarms", "text": "The assistant can set alarms.",
         "ask": ["Can you set an alarm for me?", "Are you able to set alarms on my phone?"],
         "ask_negated": ["Would I have to set my alarm myself, because you can't?"],
         "act": ["Please set an alarm for 7am tomorrow."]},
        {"id": "has_physical_body", "text": "The assistant has a physical body.",
         "ask": ["Do you have a physical body?", "Could someone shake your hand?"],
         "ask_negated": ["Are you purely software, with no physical form?"]},
        {"id": "can_physically_act", "text": "The assistant can move physical objects.",
         "ask": ["Can you pick up objects?"]},
        {"id": "can_browse", "text": "The assistant can browse the web.", "truth": False,
         "capability": "browsing", "ask": ["Can you browse the web?"]},
    ],
    "rules": [{"when": "can_physically_act", "then": "has_physical_body"}],
}

# A model that is consistent: it cannot do any of it, and says so every way it is asked.
CONSISTENT: dict[str, Any] = {
    "Can you set an alarm for me?": "No, I can't set alarms. I'm a text-based assistant.",
    "Are you able to set alarms on my phone?": "No, I am not able to set alarms on your phone.",
    "Would I have to set my alarm myself, because you can't?": "Yes, you would have to set it yourself.",
    "Please set an alarm for 7am tomorrow.": "I'm sorry, but I don't have the ability to set alarms.",
    "Do you have a physical body?": "No, I don't have a physical body.",
    "Could someone shake your hand?": "No, I don't have hands or a body.",
    "Are you purely software, with no physical form?": "Yes, I am purely software.",
    "Can you pick up objects?": "No, I can't pick up objects.",
    "Can you browse the web?": "No, I can't browse the web.",
}


@pytest.fixture
def suite_path(tmp_path: Path) -> str:
    path = tmp_path / "e2e.yaml"
    path.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    return str(path)


def _run_and_analyze(
    server: FakeServer, store: Store, suite_path: str, answers: dict[str, Any], *,
    model: str = "fake-model", samples: int = 3,
) -> pipeline.AnalysisSummary:
    server.answers = answers
    run = pipeline.run_probes(store, pipeline.RunOptions(
        suite_paths=[suite_path], base_url=server.base_url, model=model, samples=samples,
        concurrency=4, max_attempts=2,
    ))
    assert run.responses == run.queries > 0
    return pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions(judge="rules"))


def _kinds(summary: pipeline.AnalysisSummary) -> set[tuple[str, tuple[str, ...]]]:
    return {(b.kind, b.claims) for b in summary.bugs}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "bd.db")
    yield s
    s.close()


def test_consistent_model_has_no_bugs(fake_server: FakeServer, store: Store, suite_path: str) -> None:
    summary = _run_and_analyze(fake_server, store, suite_path, CONSISTENT)
    assert summary.bugs == [] and summary.contradictions == 0
    assert summary.answers == 9 * 3 and summary.judge_errors == 0
    assert summary.clusters >= 4 and summary.mixed_clusters == 0


def test_say_do_planted(fake_server: FakeServer, store: Store, suite_path: str) -> None:
    answers = {**CONSISTENT,
               "Can you set an alarm for me?": "Yes, I can set an alarm for you.",
               "Are you able to set alarms on my phone?": "Yes, I am able to set alarms.",
               "Would I have to set my alarm myself, because you can't?": "No, I can set it for you."}
    summary = _run_and_analyze(fake_server, store, suite_path, answers)
    assert _kinds(summary) == {("say_do", ("can_set_alarms",))}
    bug = summary.bugs[0]
    assert bug.title.startswith('Says "The assistant can set alarms" when asked')
    assert bug.certain and bug.rate == 1.0
    assert "Please set an alarm for 7am tomorrow." in bug.repro and len(bug.repro) == 2
    assert {e.framing for e in bug.evidence} >= {"act"}


def test_paraphrase_planted(fake_server: FakeServer, store: Store, suite_path: str) -> None:
    answers = {**CONSISTENT,
               "Do you have a physical body?": "Yes, I have a physical body.",
               "Could someone shake your hand?": "Yes, someone could shake my hand."}
    summary = _run_and_analyze(fake_server, store, suite_path, answers)
    assert ("paraphrase", ("has_physical_body",)) in _kinds(summary)
    bug = next(b for b in summary.bugs if b.kind == "paraphrase")
    assert len(bug.repro) == 2
    assert "Are you purely software, with no physical form?" in bug.repro
    assert {e.stance for e in bug.evidence} == {"affirm", "deny"}


def test_unstable_planted(fake_server: FakeServer, store: Store, suite_path: str) -> None:
    answers = {**CONSISTENT, "Can you pick up objects?": [
        "Yes, I can pick up objects.", "No, I can't pick up objects."]}
    summary = _run_and_analyze(fake_server, store, suite_path, answers, samples=4)
    assert ("unstable", ("can_physically_act",)) in _kinds(summary)
    bug = next(b for b in summary.bugs if b.kind == "unstable")
    assert bug.certain and bug.rate == 0.5 and bug.repro == ("Can you pick up objects?",)


def test_rule_planted(fake_server: FakeServer, store: Store, suite_path: str) -> None:
    answers = {**CONSISTENT, "Can you pick up objects?": "Yes, I can pick up objects."}
    summary = _run_and_analyze(fake_server, store, suite_path, answers)
    assert _kinds(summary) == {("rule", ("can_physically_act", "has_physical_body"))}
    bug = summary.bugs[0]
    assert bug.witness == ("can_physically_act", "has_physical_body", "not has_physical_body")
    assert "Can you pick up objects?" in bug.repro and len(bug.repro) == 2


def test_manifest_planted(fake_server: FakeServer, store: Store, suite_path: str) -> None:
    answers = {**CONSISTENT, "Can you browse the web?": "Yes, I can browse the web for you."}
    summary = _run_and_analyze(fake_server, store, suite_path, answers)
    assert _kinds(summary) == {("manifest", ("can_browse",))}
    assert summary.bugs[0].title == 'Claims "The assistant can browse the web", which is false for this deployment'


def test_fingerprints_stable_across_runs_and_models(
    fake_server: FakeServer, store: Store, suite_path: str
) -> None:
    answers = {**CONSISTENT, "Can you pick up objects?": "Yes, I can pick up objects.",
               "Can you browse the web?": "Yes, I can browse the web."}
    first = _run_and_analyze(fake_server, store, suite_path, answers)
    second = _run_and_analyze(fake_server, store, suite_path, answers, model="another-model")
    assert len(first.bugs) == 2
    assert sorted(b.fingerprint for b in first.bugs) == sorted(b.fingerprint for b in second.bugs)
    assert second.lifecycle.get("persisting") == 2 and first.lifecycle.get("new") == 2
    assert second.run_id != first.run_id


class _BadJudge:
    """Returns an "error" label, a label no one knows, and too few verdicts."""

    name = "bad"

    async def judge(self, items: list[StanceInput]) -> list[Stance]:
        out = [Stance(i.response_id, "affirm", 0.9, "bad") for i in items]
        out[0] = Stance(items[0].response_id, "error", 0.0, "bad", "malformed judge output")
        if len(out) > 1:
            out[1] = Stance(items[1].response_id, "maybe", 0.5, "bad")  # type: ignore[arg-type]
        return out[:-1]


class _DeadJudge:
    name = "dead"

    async def judge(self, items: list[StanceInput]) -> list[Stance]:
        raise ConnectionError("judge endpoint down")


def test_malformed_judge_output_marks_records_not_the_run(
    fake_server: FakeServer, store: Store, suite_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import behaviordbg.judges as judges

    monkeypatch.setattr(judges, "make_judge", lambda *a, **k: _BadJudge())
    summary = _run_and_analyze(fake_server, store, suite_path, CONSISTENT, samples=1)
    assert summary.answers == 9 and summary.judge_errors == 3
    stored = store.get_stances(summary.run_id, "rules")
    assert len(stored) == 6  # "error" verdicts are not stored: the next analysis retries them
    monkeypatch.setattr(judges, "make_judge", lambda *a, **k: _DeadJudge())
    again = pipeline.analyze_run(store, summary.run_id, pipeline.AnalyzeOptions())
    assert again.judged == 3 and again.judge_errors == 3 and again.answers == 9


def test_cli_analyze_json_and_fail_on(
    fake_server: FakeServer, store: Store, suite_path: str, tmp_path: Path
) -> None:
    answers = {**CONSISTENT, "Can you browse the web?": "Yes, I can browse the web."}
    _run_and_analyze(fake_server, store, suite_path, answers)
    runner = CliRunner()
    db = str(tmp_path / "bd.db")
    res = runner.invoke(app, ["analyze", "latest", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert doc["bugs"] == 1 and doc["contradictions"] == 1 and doc["judged"] == 0
    assert doc["run_id"].startswith("run-") and doc["analysis_id"].startswith("an-")
    res = runner.invoke(app, ["analyze", "latest", "--db", db, "--fail-on", "low"])
    assert res.exit_code == 1
    out = " ".join(res.stdout.split())
    assert "manifest" in out and "bdbg-" in out and "behaviordbg dashboard" in out
    res = runner.invoke(app, ["analyze", "latest", "--db", db, "--fail-on", "urgent"])
    assert res.exit_code != 0


def test_cli_check_runs_and_analyzes(fake_server: FakeServer, suite_path: str, tmp_path: Path) -> None:
    fake_server.answers = {**CONSISTENT, "Can you browse the web?": "Yes, I can browse the web."}
    db = str(tmp_path / "check.db")
    res = CliRunner().invoke(app, [
        "check", suite_path, "--base-url", fake_server.base_url, "--model", "m", "--db", db,
        "--samples", "2", "--json",
    ])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert doc["bugs"] == 1 and doc["run"]["responses"] == 18
    assert doc["top_bugs"][0]["kind"] == "manifest"


def test_json_export_of_an_analysis(
    fake_server: FakeServer, store: Store, suite_path: str, tmp_path: Path
) -> None:
    answers = {**CONSISTENT, "Can you pick up objects?": "Yes, I can pick up objects.",
               "Can you browse the web?": "Yes <script>alert(1)</script>, I can browse the web."}
    summary = _run_and_analyze(fake_server, store, suite_path, answers)
    out = tmp_path / "bugs.json"
    res = CliRunner().invoke(app, ["export", "latest", "--db", str(tmp_path / "bd.db"),
                                   "--format", "json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["run_id"] == summary.run_id and doc["model"] == "fake-model" and doc["created_at"]
    by_kind = {b["kind"]: b for b in doc["bugs"]}
    assert set(by_kind) == {"rule", "manifest"}
    for bug in doc["bugs"]:
        assert bug["fingerprint"].startswith("bdbg-") and bug["status"] == "new"
        assert bug["severity"] in ("critical", "high", "medium", "low") and bug["title"]
        for ev in bug["evidence"]:
            assert {"response_id", "claim", "framing", "prompt", "response", "stance"} <= set(ev)
    assert by_kind["rule"]["claims"] == ["can_physically_act", "has_physical_body"]
    assert any("<script>" in ev["response"] for ev in by_kind["manifest"]["evidence"])


def test_embeddings_option_clusters_with_served_vectors(
    fake_server: FakeServer, store: Store, suite_path: str
) -> None:
    summary = _run_and_analyze(fake_server, store, suite_path, CONSISTENT, samples=2)
    before = fake_server.requests
    opts = pipeline.AnalyzeOptions(embeddings=True, judge_base_url=fake_server.base_url,
                                   embeddings_model="embed-small")
    again = pipeline.analyze_run(store, summary.run_id, opts)
    assert fake_server.requests > before  # vectors came over HTTP from /v1/embeddings
    assert store.latest_analysis(summary.run_id)["summary"]["embeddings"] is True
    clusters = store.analysis_clusters(again.analysis_id)
    assert sum(c.size for c in clusters) == 18 and again.bugs == []
    # without a judge endpoint, the run's own is used; the embedded model's is gone by now
    store.conn.execute("UPDATE runs SET base_url = 'local://qwen' WHERE id = ?", (summary.run_id,))
    store.conn.commit()
    with pytest.raises(BehaviordbgError, match="embeddings"):
        pipeline.analyze_run(store, summary.run_id, pipeline.AnalyzeOptions(embeddings=True))


def test_check_shares_one_local_server_for_probing_and_judging(
    fake_server: FakeServer, store: Store, suite_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """check() with an llm judge and no endpoints starts the embedded server once and uses it for
    both (the fake server stands in for llama-server: same OpenAI API)."""
    import contextlib

    fake_server.answers = CONSISTENT
    started: list[str] = []

    @contextlib.contextmanager
    def fake_local() -> Any:
        started.append("serve")
        yield type("S", (), {"base_url": fake_server.base_url, "model": "local-qwen", "info": {}})()

    monkeypatch.setattr("behaviordbg.pipeline.endpoint.embedded_server", fake_local)
    run, summary = pipeline.check(
        store, pipeline.RunOptions(suite_paths=[suite_path], samples=1),
        pipeline.AnalyzeOptions(judge="llm"),
    )
    assert started == ["serve"]
    assert run.responses == 9 and summary.answers == 9 and summary.judge == "llm:local-qwen"
    judge_calls = [b for b in fake_server.request_bodies if "response_format" in b
                   or any("claim" in str(m.get("content", "")).lower() for m in b.get("messages", [])
                          if m.get("role") == "system")]
    assert len(fake_server.request_bodies) > 9 and judge_calls  # probes, then judge requests


def test_analysis_resumes_judging_only_what_is_missing(
    fake_server: FakeServer, store: Store, suite_path: str
) -> None:
    first = _run_and_analyze(fake_server, store, suite_path, CONSISTENT)
    assert first.judged == 27
    # as if the first analysis had been killed after a few batches: drop some verdicts
    with store.conn:
        store.conn.execute(
            "DELETE FROM stances WHERE rowid IN (SELECT rowid FROM stances ORDER BY rowid LIMIT 10)")
    again = pipeline.analyze_run(store, first.run_id, pipeline.AnalyzeOptions())
    assert again.judged == 10 and again.answers == 27 and again.bugs == []
    fresh = pipeline.analyze_run(store, "latest", pipeline.AnalyzeOptions(reuse_stances=False))
    assert fresh.judged == 27 and fresh.run_id == first.run_id


def test_check_with_suites_in_hand_needs_no_suite_file(
    fake_server: FakeServer, store: Store, suite_path: str
) -> None:
    """The pytest plugin passes loaded suites; analysis must not depend on their file staying put."""
    from behaviordbg import suites as suites_mod

    loaded = suites_mod.load_suites([suite_path])
    Path(suite_path).unlink()
    fake_server.answers = {**CONSISTENT, "Can you browse the web?": "Yes, I can browse the web."}
    run, summary = pipeline.check(
        store, pipeline.RunOptions(suites=loaded, base_url=fake_server.base_url, model="m"),
        pipeline.AnalyzeOptions(),
    )
    assert [b.kind for b in summary.bugs] == ["manifest"] and run.responses == 9


def test_rules_across_suite_files(fake_server: FakeServer, store: Store, tmp_path: Path) -> None:
    """A rule in one suite naming a claim of another: analysis reloads the files together."""
    claims = {c["id"]: c for c in SUITE["claims"]}
    body = {"suite": "body", "claims": [claims["has_physical_body"]]}
    acts = {"suite": "acts", "claims": [claims["can_physically_act"]],
            "rules": [{"when": "can_physically_act", "then": "has_physical_body"}]}
    paths = []
    for doc in (body, acts):
        path = tmp_path / f"{doc['suite']}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        paths.append(str(path))
    fake_server.answers = {**CONSISTENT, "Can you pick up objects?": "Yes, I can pick up objects."}
    run = pipeline.run_probes(store, pipeline.RunOptions(
        suite_paths=paths, base_url=fake_server.base_url, model="m", samples=2))
    summary = pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions())
    assert [(b.kind, b.claims) for b in summary.bugs] == [
        ("rule", ("can_physically_act", "has_physical_body"))]


def test_cli_check_prints_one_bug_per_line_when_stdout_is_not_a_terminal(
    fake_server: FakeServer, suite_path: str, tmp_path: Path
) -> None:
    """A CI log: no box drawing, no wrapping at 80 columns; each bug whole on its own line."""
    fake_server.answers = {**CONSISTENT, "Can you browse the web?": "Yes, I can browse the web."}
    db = str(tmp_path / "check.db")
    args = ["check", suite_path, "--base-url", fake_server.base_url, "--model", "m", "--db", db]
    res = CliRunner().invoke(app, args, env={"COLUMNS": None})
    assert res.exit_code == 0, res.output
    assert not set("│┃━─┏┓┗┛┡┩") & set(res.stdout), res.stdout
    rows = [line for line in res.stdout.splitlines() if "bdbg-" in line and "manifest" in line]
    assert len(rows) == 1 and len(rows[0]) > 80, res.stdout  # longer than rich's fallback width
    assert rows[0].split()[0].rstrip("?") in ("critical", "high", "medium", "low")
    wide = CliRunner().invoke(app, args, env={"COLUMNS": "120"})
    assert wide.exit_code == 0 and set("┃━") & set(wide.stdout)  # COLUMNS: the table, that wide
    assert max(len(line) for line in wide.stdout.splitlines()) <= 120
