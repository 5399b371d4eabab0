"""Every export format, read back by a real parser or validator, with a hostile model answer."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from behaviordbg import export
from behaviordbg.cli import app
from behaviordbg.export import ExportError, build_payload, export_bugs, render, safe_out_path
from behaviordbg.escape import csv_cell, md_fence, xml_text
from behaviordbg.store import Store
from behaviordbg.triage import triage
from behaviordbg.types import CONTRADICTION_KINDS, GenParams, Message, Query
from triage_seed import HOSTILE, analyze, dist, manifest_bug, unstable_bug

SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
SUITE_YAML = """suite: embodiment
claims:
  - id: has_body
    text: The assistant has a physical body.
    ask:
      - Do you have a physical body?
  - id: can_browse
    text: The assistant can browse the web.
  - id: is_ai
    text: The assistant is an AI system.
"""


@pytest.fixture()
def seeded(tmp_path: Path) -> tuple[Store, str, Path]:
    store, run, path = seed_export_db(tmp_path)
    yield store, run, path
    store.close()


def seed_export_db(tmp_path: Path) -> tuple[Store, str, Path]:
    """A run with a hostile unstable bug (triaged), a manifest bug and one clean claim."""
    suite = tmp_path / "probes" / "embodiment.yaml"
    suite.parent.mkdir()
    suite.write_text(SUITE_YAML, encoding="utf-8")
    db = tmp_path / "x.db"
    store = Store.open(db)
    params = GenParams(model="qwen<b>", base_url="http://private-host.internal:9/v1", temperature=0.2)
    run = store.create_run(params, suites=[{"name": "embodiment", "path": str(suite),
                                            "sha256": "ab"}],
                           run_id="run-exp", options={"api_key_env": "SECRET_ENV_NAME"})
    store.add_queries(run, [
        (Query(id=f"q{i}", suite="embodiment", claim_id=c, framing="direct", prompt_idx=0,
               prompt="p", messages=(Message("user", "p"),)), f"k{i}")
        for i, c in enumerate(("has_body", "can_browse", "is_ai"))
    ])
    hostile = unstable_bug(response=HOSTILE)
    hostile = type(hostile)(**{**hostile.__dict__, "title": "=HYPERLINK(\"x\") '; rm -rf / `x`"})
    analyze(store, run, [dist("has_body", "direct", 5, 5), dist("can_browse", "direct", 8, 2),
                         dist("is_ai", "direct", 10, 0)], [hostile, manifest_bug()])
    triage(store, hostile.fingerprint, status="confirmed", note="real <b>bug</b>",
           labels=["=cmd()", "body"])
    return store, run, tmp_path


def _schema(name: str) -> dict:
    return json.loads(resources.files("behaviordbg").joinpath(f"schemas/{name}").read_text())


def test_json_export_matches_published_schema(seeded: tuple[Store, str, Path]) -> None:
    store, run, tmp = seeded
    path = export_bugs(store, run, "json", tmp / "bugs.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(_schema("export.schema.json")).validate(doc)
    assert doc["run_id"] == run and doc["model"] == "qwen<b>" and len(doc["bugs"]) == 2
    bug = next(b for b in doc["bugs"] if b["kind"] == "unstable")
    assert bug["status"] == "confirmed" and bug["evidence"][0]["response"] == HOSTILE
    assert bug["evidence"][0]["claim"] == "has_body"
    assert [h["field"] for h in bug["history"]][:2] == ["seen", "status"]
    text = path.read_text(encoding="utf-8")
    assert "SECRET_ENV_NAME" not in text and "private-host" not in text  # params are whitelisted
    bad = dict(doc, bugs=[{**bug, "status": "done"}])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, _schema("export.schema.json"))


def test_markdown_escapes_hostile_answer(seeded: tuple[Store, str, Path]) -> None:
    store, run, _ = seeded
    md = render("markdown", build_payload(store, run))
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert 'href="javascript' not in html and "<a " not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text
    # the answer table keeps its 8 columns: pipes in the answer are escaped
    rows = [ln for ln in md.splitlines() if ln.startswith("| 1 |")]
    assert rows and all(len(re.findall(r"(?<!\\)\|", r)) == 9 for r in rows)
    # the full answer sits in a fence longer than its longest backtick run, verbatim but controls
    assert "````` text\n" not in md and "`````text\n" in md and "\\x07" in md
    assert md_fence("a ```` b").startswith("`````text")
    assert "fp-unstable-body" in md and "behaviordbg triage fp-unstable-body" in md


def test_github_payloads_and_gh_commands(seeded: tuple[Store, str, Path]) -> None:
    store, run, tmp = seeded
    out = tmp / "gh" / "issues.json"
    out.parent.mkdir()
    path = export_bugs(store, run, "github", out, gh_commands=True)
    issues = json.loads(path.read_text(encoding="utf-8"))
    assert len(issues) == 2 and all(set(i) == {"title", "body", "labels"} for i in issues)
    hostile = next(i for i in issues if "HYPERLINK" in i["title"])
    assert "kind:unstable" in hostile["labels"] and "=cmd()" in hostile["labels"]
    assert "<script>" not in hostile["body"].split("<details>")[0]
    lines = export.gh_script_path(path).read_text(encoding="utf-8").splitlines()
    cmds = [shlex.split(ln) for ln in lines if ln.startswith("gh ")]
    assert len(cmds) == 2
    cmd = next(c for c in cmds if "HYPERLINK" in c[c.index("--title") + 1])
    assert cmd[c_i := cmd.index("--title") + 1] == hostile["title"], c_i  # quoting round-trips
    body_file = Path(cmd[cmd.index("--body-file") + 1])
    assert body_file.parent.parent == out.parent and body_file.read_text() == hostile["body"]
    with pytest.raises(ExportError):
        export_bugs(store, run, "json", tmp / "x.json", gh_commands=True)


def test_jira_csv_parses_and_neutralises_formulas(seeded: tuple[Store, str, Path]) -> None:
    store, run, _ = seeded
    text = render("jira-csv", build_payload(store, run))
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Summary", "Description", "Issue Type", "Priority"]
    assert set(header[4:]) == {"Labels"} and len(body) == 2
    assert all(len(r) == len(header) for r in body)
    for row in body:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)
    hostile = next(r for r in body if "HYPERLINK" in r[0])
    assert hostile[2] == "Bug" and hostile[3] == "High" and "'=cmd()" in hostile[4:]
    assert HOSTILE.replace("\x07", "\\x07").replace("\x1b", "\\x1b") in hostile[1]
    assert hostile[1].count("{noformat}") % 2 == 0
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("\tx") == "'\tx" and csv_cell("ok") == "ok"


def test_junit_is_valid_xml_with_a_case_per_check(seeded: tuple[Store, str, Path]) -> None:
    store, run, _ = seeded
    xml = render("junit", build_payload(store, run))
    root = ET.fromstring(xml.encode("utf-8"))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == 2 and int(suite.get("failures", "0")) == 2
    passing = [c.get("name") for c in cases if c.find("failure") is None]
    assert passing == ["is_ai is consistent"] and int(suite.get("tests", "0")) == 3
    text = "".join(f.find("failure").text or "" for f in failures)  # type: ignore[union-attr]
    assert "<script>alert(1)</script>" in text and "\\x07" in text  # parsed back as text
    assert xml_text("a\x00b\ud800c") == "a\\x00b\\xd800c"


def test_sarif_valid_stable_fingerprints_and_locations(seeded: tuple[Store, str, Path]) -> None:
    store, run, tmp = seeded
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    docs = [json.loads(render("sarif", build_payload(store, run))) for _ in range(2)]
    validator = jsonschema.validators.validator_for(schema)(schema)
    validator.validate(docs[0])
    run0 = docs[0]["runs"][0]
    assert [r["id"] for r in run0["tool"]["driver"]["rules"]] == list(CONTRADICTION_KINDS)
    fps = [[r["partialFingerprints"]["behaviordbg/v1"] for r in d["runs"][0]["results"]]
           for d in docs]
    assert fps[0] == fps[1] and set(fps[0]) == {"fp-unstable-body", "fp-manifest-browse"}
    res = next(r for r in run0["results"] if r["ruleId"] == "unstable")
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("embodiment.yaml")
    assert loc["region"]["startLine"] == 3  # "  - id: has_body"
    assert res["level"] == "error"
    broken = json.loads(json.dumps(docs[0]))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_export_paths_cannot_escape(tmp_path: Path) -> None:
    base = tmp_path / "out"
    base.mkdir()
    assert safe_out_path("a.md", base) == (base / "a.md").resolve()
    for bad in ("../a.md", str(tmp_path / "a.md"), "sub/../../a.md"):
        with pytest.raises(ExportError) as err:
            safe_out_path(bad, base)
        assert "outside" in err.value.message and err.value.hint
    with pytest.raises(ExportError, match="does not exist"):
        safe_out_path(tmp_path / "nope" / "a.md")
    (base / "link").symlink_to(tmp_path)
    with pytest.raises(ExportError):
        safe_out_path("link/a.md", base)


def test_cli_export_every_format(seeded: tuple[Store, str, Path]) -> None:
    store, run, tmp = seeded
    db = store.path
    runner = CliRunner()
    for fmt in export.FORMATS:
        out = tmp / f"cli-{fmt}{export.FORMATS[fmt].suffix}"
        res = runner.invoke(app, ["export", "latest", "--db", db, "--format", fmt, "--out",
                                  str(out), "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout.strip().splitlines()[-1])["path"] == str(out.resolve())
        assert out.stat().st_size > 200
    res = runner.invoke(app, ["export", run, "--db", db, "--format", "github", "--out",
                              str(tmp / "gh.json"), "--gh-commands"])
    assert res.exit_code == 0 and "gh issue create --title" in res.stdout
    res = runner.invoke(app, ["export", run, "--db", db, "--format", "pdf", "--out",
                              str(tmp / "x.pdf")])
    assert res.exit_code == 2 and "jira-csv" in res.output
    res = runner.invoke(app, ["export", run, "--db", db, "--format", "json", "--out", "../x.json",
                              "--base-dir", str(tmp)])
    assert res.exit_code == 2 and "outside" in res.output
