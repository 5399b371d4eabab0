"""The prompted baseline on the dashboard (AppTest, real SQLite made over real HTTP): the Bugs page
shows each bug's verdict, the Compare page the verdict counts and table for the pair."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from behaviordbg import pipeline
from behaviordbg.dashboard import data
from behaviordbg.pipeline.baseline import check_pair
from behaviordbg.prompted_personas import prompt_sensitive
from behaviordbg.store import Store
from behaviordbg.suites import load_manifest, load_suites
from behaviordbg.testing import FakeServer

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "src" / "behaviordbg" / "dashboard" / "app.py")
PROBES = REPO / "probes"
CLAIMS = {"can_hear_audio", "can_speak_aloud", "can_run_code", "has_a_name"}


@pytest.fixture(scope="module")
def pair_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """(database, base run, prompted run) of one `check --prompted-baseline`."""
    path = str(tmp_path_factory.mktemp("pb") / "pair.db")
    persona = prompt_sensitive(load_suites([PROBES]), load_manifest(None))
    with FakeServer(persona) as server, Store.open(path) as store:
        result = check_pair(store, pipeline.RunOptions(
            suite_paths=[str(PROBES)], base_url=server.base_url, model="persona", samples=5,
            timeout=10.0, claims=set(CLAIMS)), pipeline.AnalyzeOptions())
        yield path, result.runs.base.run_id, result.runs.prompted.run_id


def _page(page: str, run: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    at.session_state["run"] = run
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_data_prompt_verdicts_either_side(pair_db: tuple[str, str, str]) -> None:
    path, base, twin = pair_db
    with Store.open(path, readonly=True) as store:
        a, b = data.prompt_verdicts(store, base), data.prompt_verdicts(store, twin)
        assert a is not None and b is not None and a.counts == b.counts
        assert (a.base_run, a.prompted_run) == (base, twin)
        assert a.counts["fixed"] == 1 and a.counts["survives"] == 1
        assert set(a.table["verdict"]) >= {"fixed by prompting", "survives prompting"}
        analysis = data.analysis_id(store, base)
        assert analysis is not None
        table, _ = data.bugs_table(store, analysis)
        shown = data.with_prompting(table, a.labels)
        assert list(shown.columns).index("prompting") == list(shown.columns).index("status") + 1
        assert set(shown["prompting"]) == {"fixed by prompting", "reduced by prompting",
                                           "survives prompting"}


def test_bugs_and_compare_pages_show_the_verdicts(
    pair_db: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, base, twin = pair_db
    monkeypatch.setenv("BEHAVIORDBG_DB", path)
    bugs = _page("bugs", base)
    frame = bugs.dataframe[0].value
    assert "prompting" in frame.columns
    assert "survives prompting" in set(frame["prompting"])
    captions = " ".join(str(c.value) for c in bugs.caption)
    assert f"twin run {twin}" in captions and "1 fixed" in captions
    assert any("prompted baseline: " in str(t.value) for t in bugs.text)
    compare = _page("compare", base)
    metrics = {m.label: m.value for m in compare.metric}
    assert metrics["fixed"] == "1" and metrics["survives"] == "1"
    assert metrics["introduced"] in {"1", "2"}
    table = compare.dataframe[0].value
    assert "fixed by prompting" in set(table["verdict"])
    # the run diff below defaults to the pair: a = as configured, b = prompted
    boxes = {s.label: s.value for s in compare.selectbox}
    assert boxes["Baseline run (a)"] == base and boxes["Compared run (b)"] == twin
