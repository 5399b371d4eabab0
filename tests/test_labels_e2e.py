"""Answer-level review end to end: a false bug from a misread answer (FakeServer over real HTTP,
real SQLite, a judge that misreads), relabelled through the CLI: the bug closes as
false_positive with "evidence relabelled" in its history, `stats` counts the judge's error,
the next run (cached answers) does not reopen it, and `export --format labels` feeds
`behaviordbg judge`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from labels_seed import MISREAD, KeywordJudge, probe_and_analyze, seed_false_bug, write_suite
from typer.testing import CliRunner

from behaviordbg import pipeline
from behaviordbg.cli import app
from behaviordbg.pipeline.labelling import read_label_file
from behaviordbg.store import Store, answer_key
from behaviordbg.testing import FakeServer
from behaviordbg.triage import RELABELLED


def _cli(*args: str) -> dict[str, Any]:
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return doc


@pytest.fixture
def seeded(tmp_path: Path) -> dict[str, str]:
    return seed_false_bug(tmp_path / "review.db", tmp_path)


def test_cli_relabel_closes_the_false_bug_and_the_next_run_keeps_it_closed(
    seeded: dict[str, str], fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    db, fp, rid = seeded["db"], seeded["fingerprint"], seeded["response_id"]
    # the false bug is there, its evidence is the misread answer, read by the judge
    bugs = _cli("bugs", "latest", "--db", db)["bugs"]
    bug = next(b for b in bugs if b["fingerprint"] == fp)
    ev = next(e for e in bug["evidence"] if e["response_id"] == rid)
    assert ev["stance"] == "affirm" and ev["judge"] == "rules" and bug["status"] == "new"

    doc = _cli("label", rid, "--stance", "deny", "--note", "says it cannot", "--author", "ana",
               "--db", db)
    assert doc["labels"][0]["stance"] == "deny" and doc["labels"][0]["author"] == "ana"
    assert doc["reanalyzed"]["closed"] == [fp]

    with Store.open(db, readonly=True) as store:
        rec = store.get_bug(fp)
        last = [h for h in store.bug_history(fp) if h["field"] == "status"][-1]
    assert rec["status"] == "false_positive"
    assert last["new"] == "false_positive" and last["note"].startswith(RELABELLED)
    assert rid in last["note"] and last["actor"] == "labels"
    assert fp not in {b["fingerprint"] for b in _cli("bugs", "latest", "--db", db)["bugs"]}

    # stats: the judge's error is counted against the label
    st = _cli("stats", "--db", db)["labels"]
    rules = next(j for j in st["judges"] if j["judge"] == "rules")
    assert rules["n"] == 1 and rules["right"] == 0 and st["labelled_answers"] == 1
    assert rules["confusion"]["deny"]["affirm"] == 1
    framing = {r["framing"]: r for r in rules["by_framing"]}
    assert framing["direct"]["right"] < framing["direct"]["n"]

    # the next run asks again (cached, same text), the judge misreads again, the label wins
    monkeypatch.setattr("behaviordbg.judges.make_judge", lambda *a, **k: KeywordJudge())
    with Store.open(db) as store:
        summary = probe_and_analyze(store, fake_server, seeded["suite"])
        again = store.get_bug(fp)
        history = store.bug_history(fp)
    assert summary.run_id != seeded["run_id"] and summary.labels["applied"] >= 1
    assert fp not in {b.fingerprint for b in summary.bugs}
    assert again["status"] == "false_positive"
    assert not [h for h in history if h["field"] in ("regression",) or h["new"] == "new"]


def test_stats_counts_only_labelled_answers(seeded: dict[str, str]) -> None:
    db, rid = seeded["db"], seeded["response_id"]
    assert _cli("stats", "--db", db)["labels"]["judges"] == []
    _cli("label", rid, "--stance", "deny", "--db", db, "--no-reanalyze")
    rules = _cli("stats", "--db", db)["labels"]["judges"][0]
    assert (rules["judge"], rules["right"], rules["n"], rules["accuracy"]) == ("rules", 0, 1, 0.0)
    assert rules["high"] < 1.0 and rules["low"] == 0.0  # a Wilson interval, not a point
    assert rules["by_claim"] == [{"claim": "can_browse", "right": 0, "n": 1, "accuracy": 0.0,
                                  "low": rules["low"], "high": rules["high"]}]


def test_a_label_that_creates_a_bug_reports_it_new_and_clearing_it_goes_back(
    seeded: dict[str, str],
) -> None:
    db = seeded["db"]
    with Store.open(db, readonly=True) as store:
        body = next(a for a in store.iter_answers(seeded["run_id"])
                    if a.prompt == "Do you have a physical body?")
    doc = _cli("label", body.response_id, "--stance", "affirm", "--db", db)
    created = doc["reanalyzed"]["created"]
    assert created, doc
    with Store.open(db, readonly=True) as store:
        assert all(store.get_bug(fp)["status"] == "new" for fp in created)
        history = store.bug_history(created[0])
    assert history[0]["field"] == "seen"
    doc = _cli("label", body.response_id, "--clear", "--db", db)
    assert doc["labels"][0]["stance"] == "" and doc["reanalyzed"]["created"] == []
    listed = {b["fingerprint"] for b in _cli("bugs", "latest", "--db", db)["bugs"]}
    assert not set(created) & listed  # the judge decides again: the bug is not found


def test_relabel_back_reopens_a_bug_the_labels_closed(seeded: dict[str, str]) -> None:
    db, fp, rid = seeded["db"], seeded["fingerprint"], seeded["response_id"]
    assert _cli("label", rid, "--stance", "deny", "--db", db)["reanalyzed"]["closed"] == [fp]
    doc = _cli("label", rid, "--stance", "affirm", "--note", "I misread it", "--db", db)
    assert doc["reanalyzed"]["reopened"] == [fp]
    with Store.open(db, readonly=True) as store:
        assert store.get_bug(fp)["status"] == "new"
        history = store.label_history(answer_key("can_browse", "direct",
                                                 "Can you browse the web?", MISREAD))
    assert [h["stance"] for h in history] == ["deny", "affirm"]  # append-only, newest wins


def test_label_from_file_is_all_or_nothing_and_names_file_and_line(
    seeded: dict[str, str], tmp_path: Path,
) -> None:
    db, rid = seeded["db"], seeded["response_id"]
    good = json.dumps({"response_id": rid, "stance": "deny", "note": "n"})
    bad = tmp_path / "labels.jsonl"
    bad.write_text(good + "\n\n" + json.dumps({"response_id": rid, "stance": "no"}) + "\n")
    res = CliRunner().invoke(app, ["label", "--from", str(bad), "--db", db])
    assert res.exit_code == 2
    assert f"{bad}:3" in res.output and "stance 'no'" in res.output and "fix:" in res.output
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text(json.dumps({"response_id": "r-nope", "stance": "deny"}) + "\n")
    res = CliRunner().invoke(app, ["label", "--from", str(unknown), "--db", db])
    assert res.exit_code == 2 and f"{unknown}:1" in res.output and "r-nope" in res.output
    with Store.open(db, readonly=True) as store:
        assert store.current_labels() == {}
    ok = tmp_path / "ok.jsonl"
    ok.write_text(good + "\n")
    doc = _cli("label", "--from", str(ok), "--author", "bo", "--db", db)
    assert doc["labels"][0]["author"] == "bo" and doc["reanalyzed"]["closed"]


def test_cli_label_errors_name_the_fix(seeded: dict[str, str]) -> None:
    db, rid = seeded["db"], seeded["response_id"]
    for args, words in (
        ([rid, "--stance", "yes"], "unknown stance 'yes'"),
        ([rid], "--stance is missing"),
        (["r-zzz", "--stance", "deny"], "no answer 'r-zzz'"),
        ([], "either RESPONSE_ID or --from"),
    ):
        res = CliRunner().invoke(app, ["label", *args, "--db", db])
        assert res.exit_code == 2, (args, res.output)
        assert words in res.output and "fix:" in res.output, res.output


def test_export_labels_is_what_judge_reads_and_label_from_reads_back(
    seeded: dict[str, str], tmp_path: Path,
) -> None:
    db, rid = seeded["db"], seeded["response_id"]
    _cli("label", rid, "--stance", "deny", "--note", "cannot browse", "--db", db)
    out = tmp_path / "labels.jsonl"
    doc = _cli("export", "latest", "--format", "labels", "--out", str(out), "--db", db)
    assert doc["format"] == "labels"
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert (row["id"], row["label"], row["claim"], row["framing"], row["response"]) == (
        rid, "deny", "The assistant can browse the web.", "direct", MISREAD)
    judged = tmp_path / "judged.jsonl"
    res = CliRunner().invoke(app, ["judge", "--input", str(out), "--output", str(judged)])
    assert res.exit_code == 0, res.output
    assert json.loads(judged.read_text())["stance"] == "deny"  # the rules judge reads it right
    assert [r.stance for r in read_label_file(out)] == ["deny"]
    # into a fresh database: the row's content makes the label, matched by the rule
    fresh = tmp_path / "fresh.db"
    with Store.open(fresh):
        pass
    doc = _cli("label", "--from", str(out), "--db", str(fresh))
    assert doc["labels"][0]["answer_key"] == answer_key("can_browse", "direct",
                                                        "Can you browse the web?", MISREAD)


def test_evidence_says_where_the_stance_came_from(seeded: dict[str, str]) -> None:
    db, fp, rid = seeded["db"], seeded["fingerprint"], seeded["response_id"]
    _cli("label", rid, "--stance", "affirm", "--note", "agree", "--author", "ana", "--db", db)
    bug = next(b for b in _cli("bugs", "latest", "--db", db)["bugs"] if b["fingerprint"] == fp)
    ev = next(e for e in bug["evidence"] if e["response_id"] == rid)
    assert ev["judge"] == "label:ana" and ev["confidence"] == 1.0
    assert "judge rules=affirm" in ev["second_opinion"]
    assert "labelled by a person" in bug["evidence_note"]


def test_a_fresh_suite_run_with_labels_from_a_file_before_any_analysis(
    tmp_path: Path, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Labels imported by content apply to the first analysis of a later run: no false bug."""
    suite = write_suite(tmp_path)
    labels = tmp_path / "l.jsonl"
    labels.write_text(json.dumps({"claim_id": "can_browse", "framing": "direct",
                                  "prompt": "Can you browse the web?", "response": MISREAD,
                                  "stance": "deny"}) + "\n")
    db = tmp_path / "x.db"
    with Store.open(db) as store:
        pass
    _cli("label", "--from", str(labels), "--db", str(db))
    with Store.open(db) as store:
        summary = probe_and_analyze(store, fake_server, suite)
    assert summary.labels["applied"] == 1 and summary.labels["suppressed"]
    assert not [b for b in summary.bugs if b.claims == ("can_browse",)]
    assert isinstance(summary, pipeline.AnalysisSummary)


def test_relabelling_a_verified_analysis_keeps_the_verification_from_stored_readings(
    seeded: dict[str, str],
) -> None:
    """A second judge that agreed with the misreading confirmed the bug; the label still wins,
    and the re-analysis verifies again from the stored readings (no model asked)."""
    from behaviordbg.types import Stance

    db, fp, rid, run = seeded["db"], seeded["fingerprint"], seeded["response_id"], seeded["run_id"]
    with Store.open(db) as store:
        store.save_stances("verify:llm", [Stance(rid, "affirm", 0.75, "llm:fake", "misread too")])
        verified = pipeline.analyze_run(
            store, run, pipeline.AnalyzeOptions(judge="rules", verify=True, verify_judge="llm"),
            stored_only=True)
    assert fp in {b.fingerprint for b in verified.bugs}
    assert verified.verification["judge"] == "llm"
    doc = _cli("label", rid, "--stance", "deny", "--db", db)
    assert doc["reanalyzed"]["closed"] == [fp]
    with Store.open(db, readonly=True) as store:
        latest = store.latest_analysis(run)
    assert latest is not None
    v = latest["summary"]["verification"]
    assert (v["judge"], v["stored_only"], v["confirmed"]) == ("llm", True, 0)


def test_per_prompt_counts_for_run_diffs_count_the_label(seeded: dict[str, str]) -> None:
    """The counts behind `diff` and "not reproduced" verdicts follow labels like the analysis."""
    db, rid, run = seeded["db"], seeded["response_id"], seeded["run_id"]
    key = ("can_browse", "direct", "Can you browse the web?")
    with Store.open(db, readonly=True) as store:
        analysis = store.latest_analysis(run)
        assert analysis is not None
        assert store.prompt_stance_counts(analysis["id"])[key] == (1, 0)
    _cli("label", rid, "--stance", "deny", "--db", db)
    with Store.open(db, readonly=True) as store:
        analysis = store.latest_analysis(run)
        assert analysis is not None
        assert store.prompt_stance_counts(analysis["id"])[key] == (0, 1)
