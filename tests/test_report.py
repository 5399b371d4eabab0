"""`behaviordbg report RUN --out report.html`: one self-contained page that parses, draws a node
per claim of the contradiction graph, and shows hostile model text as text."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path

from typer.testing import CliRunner

from behaviordbg.cli import app
from behaviordbg.report import render_report
from behaviordbg.store import Store
from seed import HOSTILE, seed_demo_db

VOID = {"meta", "br", "img", "input", "link", "hr", "circle", "line"}
ALLOWED = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "p", "table",
           "tr", "th", "td", "code", "pre", "div", "span", "b", "a", "svg", "g", "circle", "line",
           "text"}


class _Checker(HTMLParser):
    """Every tag, every attribute, and whether each element is closed where it was opened."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    return checker


def _report(tmp_path: Path) -> tuple[str, str]:
    info = seed_demo_db(tmp_path / "s.db")
    out = tmp_path / "report.html"
    res = CliRunner().invoke(app, ["report", "latest", "--db", info.path, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return info.path, out.read_text(encoding="utf-8")


def test_report_parses_and_is_self_contained(tmp_path: Path) -> None:
    db, page = _report(tmp_path)
    checker = _parse(page)
    assert not checker.errors and not checker.stack, (checker.errors, checker.stack)
    tags = {t for t, _ in checker.tags}
    assert tags <= ALLOWED, tags - ALLOWED
    for tag, attrs in checker.tags:  # nothing is fetched: no src, no external href
        assert "src" not in attrs, (tag, attrs)
        assert all(not (v or "").lower().startswith(("http", "javascript", "//", "data:"))
                   for k, v in attrs.items() if k != "xmlns"), (tag, attrs)
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    with Store.open(db, readonly=True) as store:
        analysis = store.require_analysis("latest")
        bugs = store.bugs_for_analysis(analysis["id"])
    text = " ".join(checker.text)
    assert "Summary" in text and "Stances per claim" in text and "Contradiction graph" in text
    for bug in bugs:  # every bug with its repro
        assert f'id="bug-{bug.fingerprint}"' in page
        assert all(html.escape(p) in page for p in bug.repro[:1])
    assert page.count('class="bug"') == len(bugs) > 0


def test_report_svg_has_one_node_per_claim_in_the_graph(tmp_path: Path) -> None:
    db, page = _report(tmp_path)
    with Store.open(db, readonly=True) as store:
        analysis = store.require_analysis("latest")
        claims = {d.claim_id for d in store.analysis_distributions(analysis["id"])
                  if d.framing == "all"}
        for grp in store.contradiction_groups(analysis["id"]):
            claims.update(grp["claims"])
    checker = _parse(page)
    nodes = [a["data-claim"] for t, a in checker.tags if t == "g" and a.get("class") == "claim"]
    assert sorted(nodes) == sorted(claims) and len(nodes) == len(set(nodes)) > 3
    assert sum(1 for t, _ in checker.tags if t == "circle") == len(claims)
    svg = page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "<line" in svg  # the rule contradictions join two claims
    rows = [a for t, a in checker.tags if t == "tr" and a.get("class") == "stance-row"]
    assert len(rows) == len({c for c in claims if f"<code>{c}</code>" in page}) > 0


def test_hostile_model_text_is_escaped(tmp_path: Path) -> None:
    db, _ = _report(tmp_path)
    with Store.open(db, readonly=True) as store:
        page = render_report(store, "run-20261121-120000-seed01")
    checker = _parse(page)
    assert "script" not in {t for t, _ in checker.tags} and "img" not in {t for t, _ in checker.tags}
    assert html.escape(HOSTILE) in page  # shown as text, whole
    assert HOSTILE in " ".join(checker.text).replace("  ", " ") or HOSTILE in "".join(checker.text)


def test_report_on_an_empty_database_says_what_to_run(tmp_path: Path) -> None:
    db = str(tmp_path / "e.db")
    Store.open(db).close()
    res = CliRunner().invoke(app, ["report", "--db", db, "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "behaviordbg check" in " ".join(res.output.split())
    assert not (tmp_path / "r.html").exists()


def test_report_with_a_baseline_shows_the_diff(tmp_path: Path) -> None:
    from behaviordbg.diff import diff_runs

    info = seed_demo_db(tmp_path / "s.db")
    base, run = info.runs
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", run, "--baseline", base, "--db", info.path,
                                   "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    checker = _parse(page)
    assert not checker.errors and not checker.stack, (checker.errors, checker.stack)
    assert {t for t, _ in checker.tags} <= ALLOWED
    with Store.open(info.path, readonly=True) as store:
        d = diff_runs(store, base, run).to_dict()
    assert d["summary"]["new"] and d["summary"]["resolved"] + d["summary"]["not_reproduced"]
    rows = [a["class"] for t, a in checker.tags if t == "tr" and a.get("class", "").startswith("change-")]
    for group, n in d["summary"].items():  # one row per bug of the diff, in its group
        assert rows.count(f"change-{group}") == n, group
    for c in d["new"]:  # new bugs link to their evidence further down the page
        assert f'href="#bug-{c["fingerprint"]}"' in page
    assert "Changes since the baseline" in " ".join(checker.text) and base in page
    # without --baseline there is no diff section
    with Store.open(info.path, readonly=True) as store:
        plain = render_report(store, run)
    assert "change-new" not in plain and "Changes since the baseline" not in plain


def test_baseline_section_escapes_what_it_shows() -> None:
    from behaviordbg.report import baseline_html

    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>"\''
    change = {"fingerprint": "f" * 16, "kind": "say_do", "title": evil, "severity_a": None,
              "severity_b": "high", "rate_a": None, "rate_b": 0.5, "counts_a": (0, 0),
              "counts_b": (2, 2), "p_value": None, "note": evil}
    d = {"run_a": evil, "analysis_a": "an-1", "alpha": 0.05, "warnings": [evil],
         "summary": {"new": 1, "resolved": 0, "changed": 0, "not_reproduced": 0,
                     "persisting": 0},
         "new": [change], "resolved": [], "changed": [], "not_reproduced": [], "persisting": []}
    section = baseline_html(d, {"f" * 16})
    checker = _parse(section)
    assert not checker.errors and {t for t, _ in checker.tags} <= ALLOWED
    assert "<script" not in section and "<img" not in section
    assert section.count(html.escape(evil)) == 4  # run, title, note, warning: all text
    assert all(not any(k.startswith("on") for k in a) for _, a in checker.tags)


def test_report_with_an_unknown_baseline_is_an_error(tmp_path: Path) -> None:
    info = seed_demo_db(tmp_path / "s.db")
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", "latest", "--baseline", "nosuchrun", "--db",
                                   info.path, "--out", str(out)])
    assert res.exit_code == 2 and "nosuchrun" in res.output and not out.exists()
