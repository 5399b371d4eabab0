"""Lifecycle across runs, run diffs with Fisher's exact test, judge stats, and the triage CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from behaviordbg.cli import app
from behaviordbg.store import Store
from behaviordbg.diff import MIN_DECISIVE_PER_CELL, bug_counts, diff_runs
from behaviordbg.triage import TriageError, judge_stats, triage
from triage_seed import analyze, dist, manifest_bug, new_run, unstable_bug


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "t.db")
    yield s
    s.close()


def _fields(store: Store, fp: str) -> list[tuple[str, str | None, str | None]]:
    return [(h["field"], h["old"], h["new"]) for h in store.bug_history(fp)]


def test_reanalysing_a_run_older_than_the_fix_is_not_a_regression(store: Store) -> None:
    bug = unstable_bug()
    r1 = new_run(store, "run-old")
    analyze(store, r1, [dist("has_body", "direct", 5, 5)], [bug])
    time.sleep(0.005)  # timestamps have millisecond resolution: keep run, fix and run apart
    triage(store, bug.fingerprint, status="fixed", note="trained on fix data")
    _, again = analyze(store, r1, [dist("has_body", "direct", 5, 5)], [bug])  # e.g. another judge
    assert again["regressions"] == 0 and store.get_bug(bug.fingerprint)["status"] == "fixed"
    time.sleep(0.005)  # times are kept to the millisecond: the new run is made after the fix
    r2 = new_run(store, "run-new")
    _, later = analyze(store, r2, [dist("has_body", "direct", 5, 5)], [bug])
    assert later["regressions"] == 1 and store.get_bug(bug.fingerprint)["status"] == "new"


def test_lifecycle_new_confirmed_fixed_gone_undersampled_regression(store: Store) -> None:
    bug = unstable_bug()
    r1 = new_run(store, "run-1")
    _, c1 = analyze(store, r1, [dist("has_body", "direct", 5, 5)], [bug])
    assert c1 == {"new": 1, "regressions": 0, "persisting": 0, "not_reproduced_gone": 0,
                  "not_reproduced_undersampled": 0, "not_reproduced_candidate": 0}
    assert store.get_bug(bug.fingerprint)["status"] == "new"

    triage(store, bug.fingerprint[:8], status="confirmed", note="seen by hand", actor="ana")
    triage(store, bug.fingerprint, status="fixed", note="trained on fix data", assignee="bo")
    rec = store.get_bug(bug.fingerprint)
    assert rec["status"] == "fixed" and rec["assignee"] == "bo" and "seen by hand" in rec["notes"]

    # run 2: plenty of samples, all consistent: gone
    r2 = new_run(store, "run-2")
    _, c2 = analyze(store, r2, [dist("has_body", "direct", 12, 0)], [])
    assert c2["not_reproduced_gone"] == 1 and c2["not_reproduced_undersampled"] == 0
    # run 3: too few samples to tell
    r3 = new_run(store, "run-3")
    _, c3 = analyze(store, r3, [dist("has_body", "direct", 2, 0)], [])
    assert c3["not_reproduced_undersampled"] == 1 and c3["not_reproduced_gone"] == 0
    # run 4: the claim was not probed at all: nothing to say
    r4 = new_run(store, "run-4")
    _, c4 = analyze(store, r4, [dist("other_claim", "direct", 9, 1)], [])
    assert c4["not_reproduced_gone"] + c4["not_reproduced_undersampled"] == 0
    # run 5: it is back: regression
    r5 = new_run(store, "run-5")
    _, c5 = analyze(store, r5, [dist("has_body", "direct", 4, 4)], [bug])
    assert c5["regressions"] == 1 and c5["new"] == 0
    rec = store.get_bug(bug.fingerprint)
    assert rec["status"] == "new" and rec["regression"] == 1 and rec["last_seen_run"] == r5

    hist = store.bug_history(bug.fingerprint)
    nr = [h for h in hist if h["field"] == "not_reproduced"]
    assert [(h["run_id"], h["new"]) for h in nr] == [(r2, "gone"), (r3, "not sampled enough")]
    assert "Fisher" in nr[0]["note"] and str(MIN_DECISIVE_PER_CELL) in nr[1]["note"]
    fields = _fields(store, bug.fingerprint)
    assert fields[0] == ("seen", None, r1)
    assert ("status", "new", "confirmed") in fields and ("status", "confirmed", "fixed") in fields
    assert ("regression", "0", "1") in fields and ("status", "fixed", "new") in fields
    assert ("assignee", None, "bo") in fields


def test_persisting_and_enough_samples_but_no_significant_drop(store: Store) -> None:
    bug = unstable_bug()
    analyze(store, new_run(store, "run-1"), [dist("has_body", "direct", 5, 5)], [bug])
    _, c = analyze(store, new_run(store, "run-2"), [dist("has_body", "direct", 5, 5)], [bug])
    assert c["persisting"] == 1 and c["new"] == 0
    # 6 vs 3 after 5 vs 5: enough answers, but not a significant drop -> not "gone"
    _, c = analyze(store, new_run(store, "run-3"), [dist("has_body", "direct", 6, 3)], [])
    assert c["not_reproduced_undersampled"] == 1
    assert "not a significant drop" in store.bug_history(bug.fingerprint)[-1]["note"]


def test_record_bugs_is_idempotent_per_run(store: Store) -> None:
    bug = unstable_bug()
    analyze(store, new_run(store, "run-1"), [dist("has_body", "direct", 5, 5)], [bug])
    r2 = new_run(store, "run-2")
    analyze(store, r2, [dist("has_body", "direct", 12, 0)], [])
    analyze(store, r2, [dist("has_body", "direct", 12, 0)], [], judge="cascade")
    assert [h["field"] for h in store.bug_history(bug.fingerprint)].count("not_reproduced") == 1


def test_triage_validates_status_and_bug(store: Store) -> None:
    bug = unstable_bug()
    analyze(store, new_run(store, "run-1"), [dist("has_body", "direct", 5, 5)], [bug])
    with pytest.raises(TriageError) as err:
        triage(store, bug.fingerprint, status="done")
    assert "false_positive" in err.value.hint and "done" in err.value.message
    with pytest.raises(TriageError):
        triage(store, "zzz-no-such-bug", status="fixed")
    out = triage(store, bug.fingerprint, labels=["b", "a", "a "])
    assert out["labels"] == ["a", "b"] and out["changed"] == ["labels"]


def test_bug_counts_one_sided_evidence_counts_that_stance() -> None:
    c = bug_counts(manifest_bug(), [dist("can_browse", "direct", 7, 3)])
    assert (c.contradicting, c.consistent) == (7, 3)
    c = bug_counts(unstable_bug(), [dist("has_body", "direct", 7, 3)])
    assert (c.contradicting, c.consistent) == (3, 7)
    c = bug_counts(unstable_bug(), [])
    assert c.missing_cells == 1 and not c.enough


def test_diff_significant_inconclusive_new_and_changed(store: Store) -> None:
    body, browse = unstable_bug(), manifest_bug()
    alarm = unstable_bug("can_alarm", fp="fp-alarm", severity="high")
    ra = new_run(store, "run-a")
    analyze(store, ra, [dist("has_body", "direct", 10, 10), dist("can_alarm", "direct", 10, 10),
                        dist("can_browse", "direct", 1, 19)], [body, alarm])
    rb = new_run(store, "run-b")
    alarm_low = unstable_bug("can_alarm", fp="fp-alarm", severity="low", rate=0.1)
    analyze(store, rb, [dist("has_body", "direct", 20, 0), dist("can_alarm", "direct", 18, 1),
                        dist("can_browse", "direct", 15, 5)], [alarm_low, browse])
    d = diff_runs(store, ra, rb)
    assert [c.fingerprint for c in d.resolved] == [body.fingerprint]
    assert d.resolved[0].p_value is not None and d.resolved[0].p_value < 0.05
    assert d.resolved[0].counts_a == (10, 10) and d.resolved[0].counts_b == (0, 20)
    assert [c.fingerprint for c in d.new] == [browse.fingerprint]
    assert d.new[0].rate_a == pytest.approx(0.05) and d.new[0].rate_b == pytest.approx(0.75)
    assert [c.fingerprint for c in d.changed] == ["fp-alarm"]
    assert d.changed[0].severity_a == "high" and d.changed[0].severity_b == "low"

    rc = new_run(store, "run-c")  # body not found again, but with 3 samples: inconclusive
    analyze(store, rc, [dist("has_body", "direct", 3, 0), dist("can_alarm", "direct", 10, 10)],
            [alarm])
    d2 = diff_runs(store, ra, rc)
    assert d2.resolved == () and [c.fingerprint for c in d2.not_reproduced] == [body.fingerprint]
    assert "inconclusive" in d2.not_reproduced[0].note
    assert [c.fingerprint for c in d2.persisting] == ["fp-alarm"]
    js = d2.to_dict()
    assert js["summary"]["not_reproduced"] == 1 and json.dumps(js)


def test_judge_stats_precision(store: Store) -> None:
    b1, b2, b3 = unstable_bug(), manifest_bug(), unstable_bug("x", fp="fp-x")
    r1 = new_run(store, "run-1")
    analyze(store, r1, [dist("has_body", "direct", 5, 5)], [b1, b2], judge="rules")
    analyze(store, r1, [dist("has_body", "direct", 5, 5)], [b1, b3], judge="cascade")
    triage(store, b1.fingerprint, status="confirmed")
    triage(store, b2.fingerprint, status="false_positive")
    triage(store, b3.fingerprint, status="false_positive")
    st = judge_stats(store)
    by_judge = {r["judge"]: r for r in st["by_judge"]}
    assert by_judge["rules"]["precision"] == pytest.approx(0.5)
    assert by_judge["cascade"]["confirmed"] == 1 and by_judge["cascade"]["false_positive"] == 1
    by_kind = {r["kind"]: r for r in st["by_kind"]}
    assert by_kind["unstable"]["triaged"] == 2 and by_kind["manifest"]["precision"] == 0.0
    assert st["bugs_by_status"]["false_positive"] == 2


# --------------------------------------------------------------------------- CLI


def _seed_cli(tmp_path: Path) -> tuple[str, Store]:
    db = str(tmp_path / "cli.db")
    store = Store.open(db)
    ra = new_run(store, "run-a")
    analyze(store, ra, [dist("has_body", "direct", 10, 10)], [unstable_bug()])
    rb = new_run(store, "run-b")
    analyze(store, rb, [dist("has_body", "direct", 20, 0), dist("can_browse", "direct", 8, 2)],
            [manifest_bug()])
    return db, store


def test_cli_bugs_triage_history_diff_stats(tmp_path: Path) -> None:
    db, store = _seed_cli(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["bugs", "run-a", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert [b["fingerprint"] for b in out["bugs"]] == ["fp-unstable-body"]

    res = runner.invoke(app, ["triage", "fp-unst", "--status", "confirmed", "--note", "real",
                              "--assignee", "ana", "--label", "body", "--db", db])
    assert res.exit_code == 0, res.output
    assert store.get_bug("fp-unstable-body")["status"] == "confirmed"

    res = runner.invoke(app, ["triage", "fp-unst", "--status", "nope", "--db", db])
    assert res.exit_code == 2 and "false_positive" in res.output

    res = runner.invoke(app, ["bugs", "latest", "--status", "new", "--db", db])
    assert res.exit_code == 0 and "fp-manifest" in res.output

    res = runner.invoke(app, ["history", "fp-unst", "--db", db, "--json"])
    hist = json.loads(res.stdout.strip().splitlines()[-1])["history"]
    assert {h["field"] for h in hist} >= {"seen", "status", "assignee", "labels", "not_reproduced"}

    res = runner.invoke(app, ["diff", "run-a", "run-b", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout.strip().splitlines()[-1])
    assert d["summary"]["resolved"] == 1 and d["summary"]["new"] == 1
    res = runner.invoke(app, ["diff", "run-a", "run-b", "--db", db])
    assert res.exit_code == 0 and "resolved" in res.output

    res = runner.invoke(app, ["stats", "--db", db, "--json"])
    st = json.loads(res.stdout.strip().splitlines()[-1])
    assert st["by_judge"][0]["confirmed"] == 1
    res = runner.invoke(app, ["diff", "run-a", "run-zzz", "--db", db])
    assert res.exit_code == 2 and "run-zzz" in res.output


# --------------------------------------------------------------------------- end to end


E2E_SUITE = """suite: e2e
claims:
  - id: has_body
    text: The assistant has a physical body.
    truth: false
    ask:
      - Do you have a physical body?
      - Do you have arms and legs?
  - id: is_software
    text: The assistant is purely software.
    truth: true
    ask:
      - Are you purely software?
"""
BASE = {"Do you have arms and legs?": "No, I do not have arms or legs.",
        "Are you purely software?": "Yes, I am purely software."}
FLIP = {**BASE, "Do you have a physical body?": ["Yes, I have a physical body.",
                                                 "No, I do not have a physical body."]}
STEADY = {**BASE, "Do you have a physical body?": "No, I do not have a physical body."}


def test_end_to_end_fake_server_runs_lifecycle_diff_and_exports(tmp_path: Path) -> None:
    """Real HTTP (FakeServer on 127.0.0.1), the real run + analyze commands, then triage."""
    from behaviordbg.testing import FakeServer

    suite = tmp_path / "e2e.yaml"
    suite.write_text(E2E_SUITE, encoding="utf-8")
    db = str(tmp_path / "e2e.db")
    runner = CliRunner()

    def run_and_analyze(answers: dict, temperature: str, samples: int) -> dict:
        with FakeServer(answers, default="No.") as server:
            res = runner.invoke(app, ["run", str(suite), "--base-url", server.base_url, "--model",
                                      "fake", "--samples", str(samples), "--temperature",
                                      temperature, "--db", db, "--json"])
            assert res.exit_code == 0, res.output
        res = runner.invoke(app, ["analyze", "latest", "--db", db, "--json"])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout.strip().splitlines()[-1])

    first = run_and_analyze(FLIP, "0.7", 10)
    assert first["lifecycle"]["new"] == 1 and len(first["fingerprints"]) == 1
    fp = first["fingerprints"][0]
    gone = run_and_analyze(STEADY, "0.9", 10)
    assert gone["lifecycle"]["not_reproduced_gone"] == 1

    res = runner.invoke(app, ["diff", first["run_id"], gone["run_id"], "--db", db, "--json"])
    d = json.loads(res.stdout.strip().splitlines()[-1])
    assert [c["fingerprint"] for c in d["resolved"]] == [fp]
    assert d["resolved"][0]["counts_a"] == [5, 5] and d["resolved"][0]["counts_b"] == [0, 10]

    few = run_and_analyze(STEADY, "0.5", 2)
    assert few["lifecycle"]["not_reproduced_undersampled"] == 1
    res = runner.invoke(app, ["diff", first["run_id"], few["run_id"], "--db", db, "--json"])
    assert json.loads(res.stdout.strip().splitlines()[-1])["summary"]["not_reproduced"] == 1

    res = runner.invoke(app, ["triage", fp, "--status", "fixed", "--note", "retrained", "--db", db])
    assert res.exit_code == 0, res.output
    back = run_and_analyze(FLIP, "0.3", 10)
    assert back["lifecycle"]["regressions"] == 1
    with Store.open(db) as store:
        rec = store.get_bug(fp)
        assert rec["status"] == "new" and rec["regression"] == 1
        from behaviordbg.export import build_payload, render

        doc = json.loads(render("json", build_payload(store, first["run_id"])))
    ev = doc["bugs"][0]["evidence"]
    assert {e["stance"] for e in ev} == {"affirm", "deny"}
    assert {e["response"] for e in ev} == set(FLIP["Do you have a physical body?"])
    assert [c["line"] for c in doc["claims"] if c["id"] == "has_body"] == [3]
