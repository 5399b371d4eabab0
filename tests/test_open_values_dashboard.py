"""The dashboard and the exports on a run with an open claim: the Claims page shows its value
modes (a share bar and each mode's representative answer, as inert text), the graph marks its
value_conflict, and every export format carries the bug with both values."""

from __future__ import annotations

import json
from importlib import resources
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from streamlit.testing.v1 import AppTest

from behaviordbg import pipeline
from behaviordbg.dashboard import data as views
from behaviordbg.export import FORMATS, build_payload
from behaviordbg.store import Store
from behaviordbg.testing import FakeServer

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "src" / "behaviordbg" / "dashboard" / "app.py")
SUITE = """suite: facts
claims:
  - id: maker
    text: The organisation that created the assistant.
    value_type: organisation
    ask_open: ["Who created you?", "Which company trained you?"]
  - id: has_body
    text: The assistant has a physical body.
    ask: ["Do you have a body?"]
"""
HOSTILE = "I was created by OpenAI. <script>alert(1)</script>"
ANSWERS = {
    "Who created you?": [HOSTILE, "Alibaba Cloud developed me.", "OpenAI made me.",
                         "I'm built by the Qwen team at Alibaba.", "I don't know who made me."],
    "Which company trained you?": ["Alibaba Cloud trained me.", "OpenAI trained me."],
    "Do you have a body?": "No, I don't have a body.",
}


@pytest.fixture()
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    suite = tmp_path / "facts.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    path = str(tmp_path / "open.db")
    with FakeServer(ANSWERS) as server, Store.open(path) as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(suite)], base_url=server.base_url, model="m", samples=5))
        summary = pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions())
    monkeypatch.setenv("BEHAVIORDBG_DB", path)
    yield path, run.run_id, summary.analysis_id


def test_claims_page_shows_value_modes_and_graph_marks_the_conflict(
    db: tuple[str, str, str]
) -> None:
    path, run_id, analysis = db
    with Store.open(path, readonly=True) as store:
        modes = views.claim_value_modes(store, analysis, "maker")
        graph = views.graph_data(store, analysis)
        assert "maker" in views.claim_ids(store, analysis)
    assert list(modes["value"][:2]) == ["Alibaba Cloud", "OpenAI"]
    assert modes["answers"].sum() == 10 and modes["substantive"].tolist()[:2] == [True, True]
    assert "value_conflict" in set(graph.marks["kind"])
    node = graph.nodes.set_index("claim").loc["maker"]
    assert node["mix"] == "open (values)" and node["answers"] == 10

    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/claims.py").run()
    at.selectbox(key="claims_claim").set_value("maker").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.subheader] == ["Value modes"]
    codes = [c.value for c in at.code]
    assert list(modes["representative"]) == codes
    assert HOSTILE in codes or all("<script>" not in str(m.value) for m in at.markdown)
    for kind in ("markdown", "caption", "subheader"):
        assert all("<script" not in str(e.value) for e in getattr(at, kind))
    texts = [t.value for t in at.text]
    assert any(t.startswith("mode 0: Alibaba Cloud") for t in texts)


def test_exports_carry_the_value_conflict(db: tuple[str, str, str]) -> None:
    path, run_id, _ = db
    with Store.open(path, readonly=True) as store:
        payload = build_payload(store, run_id)
    bugs = [b for b in payload["bugs"] if b["kind"] == "value_conflict"]
    assert len(bugs) == 1
    sides = {e["side"] for e in bugs[0]["evidence"]}
    assert sides == {"value=Alibaba Cloud", "value=OpenAI"}
    for fmt in FORMATS.values():
        out = fmt.render(payload)
        assert "value_conflict" in out or "Names different values" in out, fmt.name
        if fmt.name == "json":
            got = json.loads(out)
            assert any(b["kind"] == "value_conflict" for b in got["bugs"])
            schema = json.loads(resources.files("behaviordbg").joinpath(
                "schemas/export.schema.json").read_text())
            jsonschema.Draft202012Validator(schema).validate(got)
        assert "OpenAI" in out and "Alibaba Cloud" in out, fmt.name  # both values, every format


def test_html_report_shows_the_value_conflict(db: tuple[str, str, str]) -> None:
    from behaviordbg.report import render_report

    path, run_id, _ = db
    with Store.open(path, readonly=True) as store:
        html = render_report(store, run_id)
    assert "value_conflict" in html and "Names different values" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("page", ["overview", "graph", "bugs", "claims", "compare"])
def test_every_page_renders_a_run_with_open_claims(db: tuple[str, str, str], page: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    if page != "overview":
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    for kind in ("markdown", "caption", "subheader", "title"):
        assert all("<script" not in str(e.value) for e in getattr(at, kind))
