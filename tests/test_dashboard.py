"""The Streamlit dashboard under streamlit.testing.v1.AppTest, on a seeded real SQLite database.

Every page renders without an exception and shows numbers that match the database; every triage
action (status, assignee, labels, note) is written with history; the export buttons are there; the
hostile answer in the seed is only ever shown as inert text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from seed import HOSTILE, SeedInfo, seed_demo_db
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from behaviordbg.dashboard import data as views
from behaviordbg.store import Store
from behaviordbg.diff import diff_runs

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "src" / "behaviordbg" / "dashboard" / "app.py")
PAGES = ("overview", "graph", "bugs", "claims", "compare")
MARKERS = ("<script", "onerror", "javascript:", "<img")


@pytest.fixture()
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeedInfo]:
    """A fresh two-run database per test (triage tests write to it), named by $BEHAVIORDBG_DB."""
    info = seed_demo_db(tmp_path / "demo.db")
    monkeypatch.setenv("BEHAVIORDBG_DB", info.path)
    yield info


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    if page != "overview":
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown_texts(at: AppTest) -> list[str]:
    """Everything the page rendered through a Markdown-interpreting element."""
    out: list[str] = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "success", "info",
                 "warning", "error", "latex"):
        out.extend(str(e.value) for e in getattr(at, kind))
    out.extend(str(m.label) + str(m.value) for m in at.metric)
    return out


def assert_no_markup_from_model(at: AppTest) -> None:
    for text in markdown_texts(at):
        for marker in MARKERS:
            assert marker not in text, f"model text reached a Markdown element: {text!r}"


def bug_row(path: str, fp: str) -> dict:
    with Store.open(path, readonly=True) as store:
        return store.get_bug(fp) | {"history": store.bug_history(fp)}


# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_markup_from_the_model(seeded: SeedInfo, page: str) -> None:
    at = open_page(page)
    assert at.title, f"{page} rendered no title"
    assert_no_markup_from_model(at)


def test_overview_counts_match_the_database(seeded: SeedInfo) -> None:
    at = open_page("overview")
    older, newer = seeded.runs
    with Store.open(seeded.path, readonly=True) as store:
        bugs_new = store.bugs_for_analysis(seeded.analyses[1])
        bugs_old = store.bugs_for_analysis(seeded.analyses[0])
    assert at.title[0].value == "Overview"
    runs = at.dataframe[0].value
    assert list(runs["id"]) == [newer, older]
    assert list(runs["bugs"]) == [len(bugs_new), len(bugs_old)]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Bugs in this run"] == str(len(bugs_new))
    fps_new = {b.fingerprint for b in bugs_new}
    fps_old = {b.fingerprint for b in bugs_old}
    assert metrics["New since previous run"] == str(len(fps_new - fps_old))
    assert metrics["Gone since previous run"] == str(len(fps_old - fps_new))
    high = sum(b.severity in ("critical", "high") for b in bugs_new)
    assert metrics["Critical or high"] == str(high)
    # three bar charts and the heat map are Vega-Lite charts
    assert len(at.get("vega_lite_chart")) == 4
    assert any(f"{older}  ->  {newer}" == t.value for t in at.text)


def test_switching_run_in_the_sidebar_changes_every_number(seeded: SeedInfo) -> None:
    at = open_page("overview")
    older = seeded.runs[0]
    at.sidebar.selectbox(key="run").set_value(older).run()
    assert not at.exception
    with Store.open(seeded.path, readonly=True) as store:
        n_old = len(store.bugs_for_analysis(seeded.analyses[0]))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Bugs in this run"] == str(n_old)
    assert any("first run" in i.value for i in at.info)


def test_graph_claim_and_edge_selection_show_evidence(seeded: SeedInfo) -> None:
    at = open_page("graph")
    assert len(at.get("vega_lite_chart")) == 1
    assert any("Select a claim" in i.value for i in at.info)
    at.selectbox(key="graph_claim").set_value("has_physical_body").run()
    assert not at.exception
    answers = pd.concat([d.value for d in at.dataframe if "answer" in d.value.columns])
    assert HOSTILE in set(answers["answer"]), "the hostile answer is evidence for this claim"
    assert_no_markup_from_model(at)
    at.selectbox(key="graph_claim").set_value("(none)")
    edge = at.selectbox(key="graph_edge")
    rule = next(o for o in edge.options if o.startswith("rule: is_human"))
    # options are shown through format_func; find the raw edge id whose label is that option
    edge.select_index(edge.options.index(rule)).run()
    assert not at.exception
    assert any(t.value == "witness: is_human => not is_ai_system" for t in at.text)
    frames = [d.value for d in at.dataframe if "answer" in d.value.columns]
    assert frames and set(frames[0]["claim"]) == {"is_human", "is_ai_system"}


def test_bugs_filter_sort_and_detail_with_hostile_answer(seeded: SeedInfo) -> None:
    at = open_page("bugs")
    with Store.open(seeded.path, readonly=True) as store:
        bugs = store.bugs_for_analysis(seeded.analyses[1])
    table = at.dataframe[0].value
    assert len(table) == len(bugs)
    assert list(table["severity_score"]) == sorted(table["severity_score"], reverse=True)
    at.multiselect(key="bugs_kinds").set_value(["rule"]).run()
    table = at.dataframe[0].value
    assert set(table["kind"]) == {"rule"}
    assert len(table) == sum(b.kind == "rule" for b in bugs)
    at.multiselect(key="bugs_kinds").set_value([]).run()
    at.text_input(key="bugs_search").input("has_physical").run()
    assert all("has_physical_body" in c for c in at.dataframe[0].value["claims"])

    at.selectbox(key="bugs_open").set_value(seeded.hostile_fingerprint).run()
    assert not at.exception
    codes = [c.value for c in at.code]
    assert HOSTILE in codes, "the hostile answer is shown verbatim in a code block"
    assert_no_markup_from_model(at)
    bug = next(b for b in bugs if b.fingerprint == seeded.hostile_fingerprint)
    assert "\n".join(bug.repro) in codes
    assert any(t.value == bug.title for t in at.text)
    clusters = [d.value for d in at.dataframe if "representative answer" in d.value.columns]
    assert clusters and set(clusters[0]["claim"]) == set(bug.claims)


def test_bugs_export_buttons_for_every_format(seeded: SeedInfo) -> None:
    from behaviordbg.export import FORMATS

    at = open_page("bugs")
    buttons = at.get("download_button")
    labels = [b.label for b in buttons]
    assert labels == list(FORMATS)
    fp = at.selectbox(key="bugs_open").value
    with Store.open(seeded.path, readonly=True) as store:
        rendered = views.export_selection(store, seeded.runs[1], [fp])
        others = [b.fingerprint for b in store.bugs_for_analysis(seeded.analyses[1])
                  if b.fingerprint != fp]
    assert set(rendered) == set(FORMATS) and all(rendered.values())
    doc = json.loads(rendered["json"])
    assert [b["fingerprint"] for b in doc["bugs"]] == [fp], "only the selection is exported"
    assert not any(o in rendered["markdown"] for o in others)


# --------------------------------------------------------------------------- triage actions


def _triage_form(at: AppTest) -> dict:
    form = {w.label: w for w in [*at.selectbox, *at.text_input, *at.text_area]}
    return form


def test_status_change_is_written_with_history(seeded: SeedInfo) -> None:
    at = open_page("bugs")
    fp = at.selectbox(key="bugs_open").value
    assert bug_row(seeded.path, fp)["status"] == "new"
    form = _triage_form(at)
    form["Status"].set_value("false_positive")
    form["Note"].input("judge misread a hedge")
    next(b for b in at.button if b.label == "Save triage").click().run()
    assert not at.exception, [e.value for e in at.exception]
    row = bug_row(seeded.path, fp)
    assert row["status"] == "false_positive"
    status_changes = [h for h in row["history"] if h["field"] == "status"]
    assert status_changes[-1]["old"] == "new" and status_changes[-1]["new"] == "false_positive"
    assert status_changes[-1]["note"] == "judge misread a hedge"
    assert status_changes[-1]["actor"] == "dashboard"
    assert "judge misread a hedge" in row["notes"]
    assert any(s.value.startswith("Saved: ") for s in at.success)
    assert "false_positive" in " ".join(t.value for t in at.text)  # page shows the new status


def test_assignee_and_labels_are_written_with_history(seeded: SeedInfo) -> None:
    at = open_page("bugs")
    fp = at.selectbox(key="bugs_open").value
    form = _triage_form(at)
    form["Assignee"].input("grace")
    form["Labels (comma separated)"].input("judge, data-fix")
    next(b for b in at.button if b.label == "Save triage").click().run()
    assert not at.exception
    row = bug_row(seeded.path, fp)
    assert row["assignee"] == "grace"
    assert row["labels"] == ["data-fix", "judge"]
    fields = [h["field"] for h in row["history"]]
    assert "assignee" in fields and "labels" in fields
    assert row["status"] == "new", "an unchanged status is not rewritten"


def test_note_alone_is_written_with_history(seeded: SeedInfo) -> None:
    at = open_page("bugs")
    fp = at.selectbox(key="bugs_open").value
    _triage_form(at)["Note"].input("seen again on the nightly run")
    next(b for b in at.button if b.label == "Save triage").click().run()
    assert not at.exception
    row = bug_row(seeded.path, fp)
    notes = [h for h in row["history"] if h["field"] == "note"]
    assert notes and notes[-1]["note"] == "seen again on the nightly run"
    history = [d.value for d in at.dataframe if "field" in d.value.columns]
    assert history and "note" in set(history[0]["field"]), "the page shows the new history"


# --------------------------------------------------------------------------- claims, compare


def test_claims_page_shows_intervals_and_clusters(seeded: SeedInfo) -> None:
    at = open_page("claims")
    at.selectbox(key="claims_claim").set_value("can_set_alarms").run()
    assert not at.exception
    with Store.open(seeded.path, readonly=True) as store:
        dists = {d.framing: d for d in store.analysis_distributions(seeded.analyses[1])
                 if d.claim_id == "can_set_alarms"}
        clusters = store.analysis_clusters(seeded.analyses[1], "can_set_alarms")
    table = at.dataframe[0].value
    assert list(table["framing"]) == [f for f in ("direct", "negated", "act", "all") if f in dists]
    for row in table.itertuples():
        d = dists[row.framing]
        assert (row.affirm, row.deny) == (d.affirm, d.deny)
        assert row.low == pytest.approx(d.low, abs=1e-3)
        assert row.high == pytest.approx(d.high, abs=1e-3)
        assert row.low <= row.p_affirm <= row.high
    codes = [c.value for c in at.code]
    assert [c.representative_text for c in clusters] == codes


CLAIM_SUITE = """suite: statement
claims:
  - id: has_body
    text: The assistant has a physical body.
    ask: ["Do you have a body?"]
    ask_negated: ["Are you purely software?"]
"""


def test_claims_page_shows_the_claim_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement under the claim picker comes from the suite snapshot the run stored. It was
    always empty: the page looked for `claims` in the run's suite reference, where a run keeps
    its suite under `snapshot`."""
    from behaviordbg import pipeline
    from behaviordbg.testing import FakeServer

    suite = tmp_path / "statement.yaml"
    suite.write_text(CLAIM_SUITE, encoding="utf-8")
    db = str(tmp_path / "statement.db")
    with FakeServer({}, default="No, I am software.") as server, Store.open(db) as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(suite)], base_url=server.base_url, model="m"))
        pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions())
        assert views.claim_text(store, run.run_id, "has_body") == (
            "The assistant has a physical body.")
        assert views.claim_text(store, run.run_id, "no_such_claim") == ""
    monkeypatch.setenv("BEHAVIORDBG_DB", db)
    at = open_page("claims")
    at.selectbox(key="claims_claim").set_value("has_body").run()
    assert not at.exception
    assert "The assistant has a physical body." in [t.value for t in at.text]


def test_compare_page_matches_triage_diff(seeded: SeedInfo) -> None:
    at = open_page("compare")
    assert at.selectbox(key="compare_a").value == seeded.runs[0]
    assert at.selectbox(key="compare_b").value == seeded.runs[1]
    with Store.open(seeded.path, readonly=True) as store:
        diff = diff_runs(store, seeded.runs[0], seeded.runs[1])
    metrics = {m.label: int(m.value) for m in at.metric}
    assert metrics["new"] == len(diff.new) > 0
    assert metrics["persisting"] == len(diff.persisting) > 0
    assert metrics["resolved"] + metrics["not reproduced"] == len(diff.resolved) + len(
        diff.not_reproduced
    ) > 0
    at.selectbox(key="compare_a").set_value(seeded.runs[1]).run()
    assert any("two different runs" in w.value for w in at.warning)


def test_empty_database_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "empty.db"
    Store.open(path).close()
    monkeypatch.setenv("BEHAVIORDBG_DB", str(path))
    at = open_page("overview")
    assert any("behaviordbg run" in i.value for i in at.info)


def test_missing_database_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEHAVIORDBG_DB", str(tmp_path / "nope.db"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("no database at" in e.value for e in at.error)


# --------------------------------------------------------------------------- views and CLI


def test_db_version_changes_when_the_database_is_written(seeded: SeedInfo) -> None:
    before = views.db_version(seeded.path)
    with Store.open(seeded.path) as store:
        store.add_bug_history(seeded.hostile_fingerprint, "note", None, None, note="x")
    assert views.db_version(seeded.path) != before


def test_bugs_table_paginates_and_rejects_unknown_sort(seeded: SeedInfo) -> None:
    with Store.open(seeded.path, readonly=True) as store:
        first, total = views.bugs_table(store, seeded.analyses[1], views.BugFilter(), 5, 0)
        rest, _ = views.bugs_table(store, seeded.analyses[1], views.BugFilter(), 100, 5)
        assert len(first) == 5 and len(first) + len(rest) == total
        assert not set(first["fingerprint"]) & set(rest["fingerprint"])
        with pytest.raises(ValueError, match="unknown sort"):
            views.bugs_table(store, seeded.analyses[1], views.BugFilter(sort="x; DROP TABLE bugs"))


def test_cli_builds_the_streamlit_command(tmp_path: Path) -> None:
    from behaviordbg.cli import dashboard

    app = dashboard.find_app()
    assert app == Path(APP)
    cmd = dashboard.streamlit_command(app, "/x/y.db", host="127.0.0.1", port=8600, headless=True)
    assert cmd[1:5] == ["-m", "streamlit", "run", APP]
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8600"
    assert cmd[-3:] == ["--", "--db", "/x/y.db"]


def test_cli_missing_database_exits_2_with_a_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from behaviordbg.cli import main

    monkeypatch.setattr(sys, "argv", ["behaviordbg", "dashboard", "--db", str(tmp_path / "no.db")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no database at" in err and "fix:" in err


def test_cli_help_teaches_the_pages() -> None:
    from behaviordbg.cli import app

    result = CliRunner().invoke(app, ["dashboard", "--help"])
    assert result.exit_code == 0
    for word in ("Overview", "Graph", "Bugs", "Claims", "Compare", "--db", "--port"):
        assert word in result.output


def test_reads_while_a_run_writes_and_shows_new_data_next_rerun(seeded: SeedInfo) -> None:
    """A writer holding an open transaction neither blocks the dashboard nor is blocked by it."""
    import sqlite3

    from behaviordbg.types import GenParams

    at = open_page("overview")
    writer = sqlite3.connect(seeded.path, timeout=1)
    try:
        writer.execute("BEGIN IMMEDIATE")  # the pipeline mid-write: the write lock is held
        writer.execute("UPDATE runs SET label = 'writing' WHERE id = ?", (seeded.runs[1],))
        at.run()  # reads the committed state, without waiting for the lock
        assert not at.exception, [e.value for e in at.exception]
        assert list(at.dataframe[0].value["label"]) == ["seed run 2", "seed run 1"]
        writer.commit()
    finally:
        writer.close()
    with Store.open(seeded.path) as store:  # then a new run lands while the page is open
        new_run = store.create_run(GenParams(model="m2", base_url="http://127.0.0.1:1/v1"), [],
                                   run_id="run-20991231-000000-later")
    at.run()
    assert not at.exception
    assert new_run in list(at.dataframe[0].value["id"]), "the cache follows the database"


def test_a_file_that_is_not_a_database_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notes.db"
    path.write_text("this is not sqlite\n" * 100)
    monkeypatch.setenv("BEHAVIORDBG_DB", str(path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    # the store names the problem itself now (StoreError), with the fix
    assert any("is not a" in e.value and "behaviordbg database" in e.value and "fix" in e.value
               for e in at.error)


def test_bugs_pages_through_a_large_run_and_resets_the_page_on_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    try:
        from bench_dashboard import seed_large
    finally:
        sys.path.remove(str(REPO / "bench"))
    path = tmp_path / "large.db"
    seed_large(path, bugs=450, responses=2000, claims=10)
    monkeypatch.setenv("BEHAVIORDBG_DB", str(path))
    at = open_page("bugs")
    assert any(c.value.startswith("450 bugs match; page 1 of 3") for c in at.caption)
    assert len(at.dataframe[0].value) == 200
    at.number_input(key="bugs_page").set_value(3).run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 50
    at.multiselect(key="bugs_kinds").set_value(["rule"]).run()
    assert not at.exception
    import sqlite3

    with sqlite3.connect(path) as conn:  # seed_large cycles through every kind: count its rules
        (rules,) = conn.execute(
            "SELECT COUNT(*) FROM bug_occurrences o JOIN bugs b ON b.fingerprint = o.fingerprint"
            " WHERE b.kind = 'rule' AND o.run_id = (SELECT id FROM runs ORDER BY created_at DESC,"
            " id DESC LIMIT 1)").fetchone()
    assert any(c.value.startswith(f"{rules} bugs match; page 1 of 1") for c in at.caption)
    assert set(at.dataframe[0].value["kind"]) == {"rule"}


def test_judge_disagreement_is_visible_next_to_the_evidence(seeded: SeedInfo) -> None:
    with Store.open(seeded.path, readonly=True) as store:
        row = store.conn.execute(
            "SELECT o.fingerprint, s.disagreement FROM bug_occurrences o, json_each(o.json,"
            " '$.evidence') e JOIN stances s ON s.response_id = json_extract(e.value,"
            " '$.response_id') WHERE o.analysis_id = ? AND s.disagreement IS NOT NULL LIMIT 1",
            (seeded.analyses[1],),
        ).fetchall()
    assert row, "the seed has a disputed verdict in some bug's evidence"
    fp, disagreement = row[0]
    at = open_page("bugs")
    at.selectbox(key="bugs_open").set_value(fp).run()
    assert not at.exception
    assert any(f"judges disagree: {disagreement}" in t.value for t in at.text)


def test_compare_on_a_big_run_is_quick_until_the_test_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    try:
        from bench_dashboard import seed_large
    finally:
        sys.path.remove(str(REPO / "bench"))
    path = tmp_path / "big.db"
    seed_large(path, bugs=2100, responses=400, claims=10)  # 2,310 bugs over the two runs
    monkeypatch.setenv("BEHAVIORDBG_DB", str(path))
    at = open_page("compare")
    metrics = {m.label: int(m.value) for m in at.metric}
    assert metrics == {"new": 210, "gone (not tested)": 210, "persisting": 1890}
    assert at.toggle(key="compare_full").value is False
