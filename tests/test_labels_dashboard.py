"""Answer review in the dashboard (streamlit AppTest on real SQLite): relabelling a misread
answer on the Bugs page closes the false bug, stats and the Judges page count the judge's error,
the next run does not reopen it; the Review page suggests worst first; the Claims page labels
too; and the review reads stay quick on 10,000 answers."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from labels_seed import MISREAD, KeywordJudge, probe_and_analyze, seed_false_bug
from seed import seed_demo_db
from streamlit.testing.v1 import AppTest

from behaviordbg.dashboard import review_data
from behaviordbg.store import Store
from behaviordbg.testing import FakeServer
from behaviordbg.triage import RELABELLED, label_stats

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "src" / "behaviordbg" / "dashboard" / "app.py")
SAVE = "Save labels and re-analyse"


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    info = seed_false_bug(tmp_path / "review.db", tmp_path)
    monkeypatch.setenv("BEHAVIORDBG_DB", info["db"])
    return info


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _save(at: AppTest) -> None:
    next(b for b in at.button if b.label == SAVE).click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_relabel_on_the_bugs_page_closes_the_bug_and_the_next_run_keeps_it_closed(
    seeded: dict[str, str], fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    fp, rid, db = seeded["fingerprint"], seeded["response_id"], seeded["db"]
    at = open_page("bugs")
    at.selectbox(key="bugs_open").set_value(fp).run()
    picker = at.selectbox(key=f"lab-{fp}:{rid}")
    assert picker.value == "judge decides"
    # the evidence says where its stance came from: the judge
    assert any(f"{rid} · can_browse · direct · stance affirm (0.95) from rules" in t.value
               for t in at.text)
    picker.set_value("deny")
    at.text_input(key=f"lab-{fp}:note").input("says it cannot browse")
    _save(at)
    flash = " ".join(s.value for s in at.success)
    assert f"Bug {fp} closed as false_positive (evidence relabelled)." in flash
    assert "Removed by labels (1)" in [h.value for h in at.subheader]
    removed = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert list(removed["fingerprint"]) == [fp] and list(removed["status"]) == ["false_positive"]
    with Store.open(db, readonly=True) as store:
        assert store.get_bug(fp)["status"] == "false_positive"
        last = [h for h in store.bug_history(fp) if h["field"] == "status"][-1]
        assert last["note"].startswith(RELABELLED) and rid in last["note"]
        label = store.labels_on([rid])[rid]
        assert (label["stance"], label["note"], label["author"]) == (
            "deny", "says it cannot browse", "dashboard")
        rules = label_stats(store)["judges"][0]
    assert (rules["judge"], rules["right"], rules["n"]) == ("rules", 0, 1)

    # the Judges page shows the same accuracy and the error in the confusion matrix
    at.switch_page("views/judges.py").run()
    assert not at.exception
    overall = next(d.value for d in at.dataframe if "accuracy" in d.value.columns)
    assert list(overall["judge"]) == ["rules"] and list(overall["accuracy"]) == [0.0]
    confusion = next(d.value for d in at.dataframe if "person \\ judge" in d.value.columns
                     ).set_index("person \\ judge")
    assert confusion.loc["deny", "affirm"] == 1

    # next run: cached answers, the judge misreads again, the label wins, the bug stays closed
    monkeypatch.setattr("behaviordbg.judges.make_judge", lambda *a, **k: KeywordJudge())
    with Store.open(db) as store:
        summary = probe_and_analyze(store, fake_server, seeded["suite"])
        assert fp not in {b.fingerprint for b in summary.bugs}
        assert store.get_bug(fp)["status"] == "false_positive"
        assert summary.labels["suppressed"] == [fp]


def test_review_page_suggests_the_bug_evidence_first_and_labels_it(seeded: dict[str, str]) -> None:
    fp, rid, db = seeded["fingerprint"], seeded["response_id"], seeded["db"]
    at = open_page("review")
    first = next(t.value for t in at.text if t.value.startswith("r-"))
    assert first.startswith(rid) and "evidence of a bug or candidate" in first
    at.selectbox(key=f"lab-review:{rid}").set_value("deny")
    _save(at)
    assert any(f"Bug {fp} closed" in s.value for s in at.success)
    assert not any(t.value.startswith(rid) for t in at.text)  # labelled: left the queue
    with Store.open(db, readonly=True) as store:
        assert store.get_bug(fp)["status"] == "false_positive"


def test_claims_page_lists_answers_with_their_source_and_labels_them(
    seeded: dict[str, str],
) -> None:
    fp, rid, db = seeded["fingerprint"], seeded["response_id"], seeded["db"]
    at = open_page("claims")
    at.selectbox(key="claims_claim").set_value("can_browse").run()
    assert any(MISREAD in t.value for t in at.text)
    at.selectbox(key=f"lab-claim-can_browse:{rid}").set_value("deny")
    _save(at)
    with Store.open(db, readonly=True) as store:
        assert store.get_bug(fp)["status"] == "false_positive"
    at.selectbox(key="claims_claim").set_value("can_browse").run()
    assert any(f"{rid} · can_browse · direct · stance deny (1.00) from label:dashboard" in t.value
               for t in at.text)
    assert at.selectbox(key=f"lab-claim-can_browse:{rid}").value == "deny"


@pytest.mark.parametrize("page", ["review", "judges"])
def test_new_pages_render_on_the_demo_database_without_markup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str,
) -> None:
    info = seed_demo_db(tmp_path / "demo.db")
    monkeypatch.setenv("BEHAVIORDBG_DB", info.path)
    at = open_page(page)
    assert at.title[0].value == page.capitalize()
    shown = " ".join(m.value for m in at.markdown)
    assert "<script" not in shown and "onerror" not in shown


def test_review_reads_are_quick_on_10000_answers(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from bench_dashboard import seed_large
    finally:
        sys.path.remove(str(REPO / "bench"))
    path = tmp_path / "large.db"
    info = seed_large(path, bugs=50, responses=20000, claims=10)
    run = info["runs"][1] if "runs" in info else None
    with Store.open(path) as store:
        run = run or store.run_ids()[0]
        analysis = store.latest_analysis(run)
        assert analysis is not None
        answers = list(store.iter_answers(run))
        assert len(answers) == 10000
        store.add_labels([{"response_id": a.response_id, "run_id": a.run_id,
                           "claim_id": a.claim_id, "claim": "", "identity": None,
                           "framing": a.framing, "prompt": a.prompt, "response": a.text,
                           "stance": "deny", "note": "", "author": "bench"}
                          for a in answers[:1000]])
        t0 = time.perf_counter()
        page, total = review_data.suggestions(store, run, analysis["id"], 0, 20)
        t_suggest = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows, n_claim = review_data.claim_answers(store, run, "claim_003", "", 0, 20)
        t_claim = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores = review_data.judge_scores(store)
        t_scores = time.perf_counter() - t0
    assert total == 9000 and len(page) == 20 and n_claim == 1000 and len(rows) == 20
    assert int(scores["overall"]["n"].sum()) == 1000
    assert t_suggest < 3.0 and t_claim < 3.0 and t_scores < 3.0, (t_suggest, t_claim, t_scores)
