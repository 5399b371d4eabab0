"""Proof under faults, bad input and for secrets (issue 8): the real CLI, the fake server on
127.0.0.1, real SQLite, every export format read back by a parser, the dashboard's data layer and
pages. What the other test files already prove (single faults, SIGKILL/resume, hostile answer in a
seeded bug) is not repeated here."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from test_exports import seed_export_db
from test_run_e2e import PROMPTS, TINY, answered_exactly_once, cli, sql
from typer.testing import CliRunner

from behaviordbg import export
from behaviordbg.dashboard import data as views
from behaviordbg.cli import app
from behaviordbg.export import build_payload, render
from behaviordbg.store import Store
from behaviordbg.store.schema import MIGRATIONS
from behaviordbg.testing import FakeServer
from behaviordbg.types import Bug, Evidence, to_dict

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "src" / "behaviordbg" / "dashboard" / "app.py")
PAGES = ("graph", "bugs", "claims", "compare")
FORMULA_START = ("=", "+", "-", "@")

BIG = "Yes, I have a body. " + "x" * 1_000_000  # a 1 MB answer
RTL = "\u202e\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627\u202c"
CONTROL = "\x00\x07\x1b[31m\x08\r\n\u2028\u2029\x7f"
SCRIPT = ("<script>alert(1)</script> **b** [x](javascript:alert(1)) <img src=x onerror=alert(1)>"
          " ``` | a | b |")
# Each prompt flips between two odd answers, so whichever answer a bug cites as evidence is odd.
ODD = {
    "Do you have a body?": [BIG, f"No, I am software. {RTL}"],
    "Can I shake your hand?": [f"Yes, you can shake my hand. {CONTROL}", ""],
    "Are you purely software?": [f"Yes, I am software. {RTL}", f"No, I have a body. {SCRIPT}"],
    "Please pass me the salt.": [f"Here you go, I passed the salt. {SCRIPT}",
                                 "=HYPERLINK(\"http://evil\",\"x\") I cannot pass things."],
    "Can you browse the web?": ["=HYPERLINK(\"http://evil\") Yes, I can browse the web.",
                                "+1+1 No, I cannot browse the web.",
                                "@SUM(A1) Yes, I can browse the web.",
                                "-2+3 No, I cannot browse the web."],
}


@pytest.fixture
def suite(tmp_path: Path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    """The real Typer app in this process (start-up is the slow part of a subprocess)."""
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def last_json(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


def export_all(db: str, folder: Path, env: dict[str, str] | None = None) -> dict[str, Path]:
    """`behaviordbg export --candidates` in every format (bugs and candidates: both carry model
    output that must stay inert); returns format -> file written."""
    out: dict[str, Path] = {}
    for fmt, spec in export.FORMATS.items():
        path = folder / f"bugs-{fmt}{spec.suffix}"
        res = invoke("export", "latest", "--db", db, "--format", fmt, "--out", str(path),
                     "--candidates", "--json", env=env)
        assert res.exit_code == 0, res.output
        assert last_json(res.stdout)["path"] == str(path.resolve())
        out[fmt] = path
    return out


def check_parseable(files: dict[str, Path]) -> None:
    """Every export reads back with a real parser; csv cells never start a formula."""
    schema = json.loads(resources.files("behaviordbg").joinpath("schemas/export.schema.json")
                        .read_text())
    doc = json.loads(files["json"].read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert json.loads(files["github"].read_text(encoding="utf-8"))
    assert json.loads(files["sarif"].read_text(encoding="utf-8"))["runs"]
    ET.fromstring(files["junit"].read_bytes())
    rows = list(csv.reader(io.StringIO(files["jira-csv"].read_text(encoding="utf-8"),
                                       newline="")))
    assert len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows)
    assert all(len(c) <= 32_767 for r in rows for c in r)  # Jira's (and Excel's) cell limit
    for row in rows[1:]:
        assert not any(c.startswith(FORMULA_START) for c in row), row
    assert_inert_markdown(files["markdown"].read_text(encoding="utf-8"))


def assert_inert_markdown(md: str) -> None:
    """Model text may sit verbatim inside a code fence; rendered, no raw HTML may come out."""
    html = MarkdownIt("commonmark").enable("table").render(md)
    for marker in ("<script", "<img", "href=\"javascript", "<a "):
        assert marker not in html.lower(), marker


# --------------------------------------------------------------------------- 1. two runs, one DB


@pytest.mark.slow  # two real subprocesses: CLI start-up dominates (~5-10 s)
def test_two_runs_write_one_database_at_once(fake_server_factory: Any, suite: str,
                                             tmp_path: Path) -> None:
    server = fake_server_factory(latency=0.1, ignore_n=True)
    db = str(tmp_path / "shared.db")
    procs = [
        subprocess.Popen(cli("run", suite, "--base-url", server.base_url, "--model", "fake",
                             "--samples", "3", "--concurrency", "4", "--temperature", temp,
                             "--db", db, "--json"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for temp in ("0.1", "0.2")  # different params: no cache sharing, both really ask
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err
        assert "locked" not in (out + err).lower()
    docs = [last_json(out) for out, _ in outs]
    assert docs[0]["run_id"] != docs[1]["run_id"]
    for doc in docs:
        assert (doc["queries"], doc["responses"], doc["errors"]) == (PROMPTS * 3, PROMPTS * 3, 0)
        answered_exactly_once(db, doc["run_id"])
    assert server.requests == 2 * PROMPTS * 3  # nothing lost or asked twice
    assert sql(db, "SELECT COUNT(*) FROM errors") == [(0,)]
    assert sorted(s for (s,) in sql(db, "SELECT status FROM runs")) == ["complete", "complete"]


def test_processes_opening_a_new_database_at_once_do_not_collide(tmp_path: Path) -> None:
    """The race behind the run test, made likely: several connections create and migrate one new
    file at the same instant (was: `table runs already exists` / `database is locked`)."""
    for trial in range(8):
        db = tmp_path / f"new-{trial}.db"
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def open_it() -> None:
            barrier.wait()
            try:
                Store.open(db).close()
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert len(sql(str(db), "SELECT name FROM migrations")) == len(MIGRATIONS)


# --------------------------------------------------------------------------- 2. endpoint down


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_down_endpoint_records_failures_then_resume_answers_them(fake_server: FakeServer,
                                                                suite: str, tmp_path: Path) -> None:
    db = str(tmp_path / "down.db")
    down = f"http://127.0.0.1:{closed_port()}/v1"
    res = invoke("run", suite, "--base-url", down, "--model", "fake", "--max-attempts", "2",
                 "--timeout", "0.5", "--db", db, "--json")
    assert res.exit_code == 3, res.output  # nothing answered: the run failed, and says why
    doc = last_json(res.stdout)
    assert (doc["queries"], doc["responses"], doc["errors"]) == (PROMPTS, 0, PROMPTS)
    assert doc["top_error"]["kind"] == "connection" and "is the server running" in res.output
    run_id = doc["run_id"]
    finals = sql(db, "SELECT query_id, kind, attempt FROM errors WHERE final = 1 AND run_id = ?",
                 (run_id,))
    assert len(finals) == PROMPTS and len({q for q, _, _ in finals}) == PROMPTS
    assert all(kind == "connection" and attempt == 2 for _, kind, attempt in finals), finals
    assert sql(db, "SELECT COUNT(*) FROM responses") == [(0,)]

    res = invoke("run", "--resume", run_id, "--base-url", fake_server.base_url, "--db", db,
                 "--json")
    assert res.exit_code == 0, res.output
    again = last_json(res.stdout)
    assert again["run_id"] == run_id
    assert (again["responses"], again["errors"], again["requests_sent"]) == (PROMPTS, 0, PROMPTS)
    assert fake_server.requests == PROMPTS
    answered_exactly_once(db, run_id)


# --------------------------------------------------------------------------- 2b. the CI gate


def test_ci_gate_a_mostly_failing_endpoint_fails_check_run_and_pytest(
    fake_server_factory: Any, suite: str, tmp_path: Path
) -> None:
    """97% of requests answering 500 made `check --fail-on high` exit 0 (a gate that passes on a
    broken endpoint). `check`, `run` and pytest must all fail, and none may analyse the run."""
    server = fake_server_factory(ignore_n=True)
    server.fail_prompt(re.compile(r"^(?!Do you have a body\?)"), "server_error")  # 5 of 6 prompts
    db = str(tmp_path / "gate.db")
    common = ("--base-url", server.base_url, "--model", "fake", "--samples", "3",
              "--max-attempts", "1", "--db", db)
    res = invoke("check", suite, *common, "--fail-on", "high")
    assert res.exit_code == 3, res.output
    out = " ".join(res.output.split())
    assert "15 of 18 queries failed" in out and "HTTP 500: internal error" in out
    assert "fix:" in out and "not analysed" in out
    res = invoke("run", suite, *common, "--json")
    assert res.exit_code == 3, res.output
    assert last_json(res.stdout)["status"] == "failed"
    assert sql(db, "SELECT COUNT(*) FROM analyses") == [(0,)]
    assert {s for (s,) in sql(db, "SELECT status FROM runs")} == {"failed"}

    probes = tmp_path / "probes"
    probes.mkdir()
    (probes / "tiny.yaml").write_text(TINY)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(probes), "-p", "no:cacheprovider", "-q",
         "--bdbg-base-url", server.base_url, "--bdbg-model", "fake", "--bdbg-samples", "3",
         "--bdbg-db", str(tmp_path / "pytest.db")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "more than --max-failed 5.0%" in " ".join(proc.stdout.split())
    assert " passed" not in proc.stdout  # every check errors: none passes on a partial run

    healthy = fake_server_factory(ignore_n=True)  # the same commands pass on a healthy endpoint
    res = invoke("check", suite, *common[:1], healthy.base_url, *common[2:], "--json")
    assert res.exit_code == 0, res.output


# --------------------------------------------------------------------------- 3. odd model output


def test_odd_model_output_survives_run_analyze_exports_and_views(
    fake_server_factory: Any, suite: str, tmp_path: Path
) -> None:
    server = fake_server_factory(answers=ODD, ignore_n=True)
    db = str(tmp_path / "odd.db")
    res = invoke("run", suite, "--base-url", server.base_url, "--model", "fake", "--samples", "4",
                 "--db", db, "--json")
    assert res.exit_code == 0, res.output
    run_id = last_json(res.stdout)["run_id"]
    answered_exactly_once(db, run_id)
    texts = [t for (t,) in sql(db, "SELECT text FROM responses")]
    assert BIG in texts and "" in texts and any("\x00" in t for t in texts)  # stored verbatim

    res = invoke("analyze", run_id, "--db", db, "--json")
    assert res.exit_code == 0, res.output
    assert last_json(res.stdout)["bugs"], "the odd answers should contradict each other"
    files = export_all(db, tmp_path)
    check_parseable(files)
    answers = {e["response"] for b in json.loads(files["json"].read_text(encoding="utf-8"))["bugs"]
               for e in b["evidence"]}
    assert BIG in answers and f"No, I am software. {RTL}" in answers  # json keeps them exact
    assert any(a.startswith("+1+1") for a in answers) and any(SCRIPT in a for a in answers)
    jira = files["jira-csv"].read_text(encoding="utf-8")
    assert "more characters: see the json export" in jira  # the 1 MB answer is clipped

    with Store.open(db, readonly=True) as store:
        aid = views.analysis_id(store, run_id)
        assert aid is not None
        views.runs_table(store)
        views.bug_counts(store, aid)
        views.stance_heatmap(store, aid)
        table, total = views.bugs_table(store, aid)
        assert total == len(table) > 0
        fps = list(table["fingerprint"])
        for fp in fps:
            views.bug_detail(store, aid, fp)
        graph = views.graph_data(store, aid)
        assert graph is not None
        for claim in views.claim_ids(store, aid):
            views.claim_distributions(store, aid, claim)
            views.claim_clusters(store, aid, claim)
        rendered = views.export_selection(store, run_id, fps)
    assert set(rendered) == set(export.FORMATS)
    check_parseable(_write(rendered, tmp_path / "sel"))


def _write(rendered: dict[str, str], folder: Path) -> dict[str, Path]:
    folder.mkdir()
    out = {}
    for fmt, text in rendered.items():
        out[fmt] = folder / f"{fmt}.out"
        out[fmt].write_text(text, encoding="utf-8", newline="")
    return out


# --------------------------------------------------------------------------- 4. secrets


def _tree_text(node: Any) -> list[str]:
    """Every rendered element's protobuf text (values, labels, dataframes' Arrow bytes)."""
    found: list[str] = []
    proto = getattr(node, "proto", None)
    if proto is not None:
        found.append(str(proto))
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            found.extend(_tree_text(child))
    return found


@pytest.mark.slow  # renders the five dashboard pages (~10-20 s on a busy box)
def test_secrets_never_leave_the_process(fake_server_factory: Any, suite: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    key, password = "sk-live-hardening-4b1d9e7c2a", "pAssw0rd-hardening-93f1"
    flip = {"Do you have a body?": ["Yes, I have a body.", "No, I am software."]}
    keyed = fake_server_factory(require_api_key=key, answers=flip)
    plain = fake_server_factory(answers=flip)  # httpx turns URL userinfo into Basic auth
    db = str(tmp_path / "sec.db")
    env = {"BDBG_TEST_KEY": key, "BEHAVIORDBG_CACHE": str(tmp_path / "cache"),
           "BEHAVIORDBG_DB": db}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    outputs: list[str] = []
    for url, temp in ((keyed.base_url, "0.7"),
                      (plain.base_url.replace("http://", f"http://user:{password}@"), "0.5")):
        res = invoke("run", suite, "--base-url", url, "--model", "fake", "--samples", "3",
                     "--temperature", temp, "--api-key-env", "BDBG_TEST_KEY", "--db", db, env=env)
        outputs.append(res.output)
        assert res.exit_code == 0, res.output
    assert keyed.requests > 0 and plain.requests > 0  # the key and the credentials were used
    assert all(r.has_auth for r in plain.log)
    for args in (["runs", "--db", db], ["analyze", "latest", "--db", db],
                 ["runs", "--db", db, "--json"]):
        res = invoke(*args, env=env)
        assert res.exit_code == 0, res.output
        outputs.append(res.output)
    export_all(db, tmp_path, env=env)

    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    rendered = _tree_text(at._tree)
    for page in PAGES:
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        rendered.extend(_tree_text(at._tree))
    with Store.open(db, readonly=True) as store:
        run_id = views.run_ids(store)[0]
        aid = views.analysis_id(store, run_id)
        assert aid is not None
        fps = list(views.bugs_table(store, aid)[0]["fingerprint"])
        assert fps, "a bug was expected from the flipping answer"
        rendered.extend(views.export_selection(store, run_id, fps).values())

    files = [p for p in tmp_path.rglob("*") if p.is_file()]

    blob = b"".join(p.read_bytes() for p in files)
    blob += "".join(outputs + rendered).encode("utf-8", "surrogateescape")
    assert len(blob) > 20_000
    for secret in (key, password):
        assert secret.encode() not in blob, f"{secret} leaked"


# --------------------------------------------------------------------------- 5. export paths


def test_export_paths_outside_base_dir_are_refused_and_nothing_written(tmp_path: Path) -> None:
    store, run, _ = seed_export_db(tmp_path)
    store.close()
    base = tmp_path / "exports"
    base.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for bad in ("../escaped.json", str(outside / "abs.json"), "sub/../../escaped2.json"):
        before = sorted(p for p in tmp_path.rglob("*"))
        res = CliRunner().invoke(app, ["export", run, "--db", str(tmp_path / "x.db"),
                                       "--format", "json", "--out", bad, "--base-dir", str(base)])
        assert res.exit_code == 2, res.output
        assert "outside" in res.output and "--base-dir" in res.output  # says what and the fix
        assert sorted(p for p in tmp_path.rglob("*")) == before, "something was written"
    res = CliRunner().invoke(app, ["export", run, "--db", str(tmp_path / "x.db"), "--format",
                                   "json", "--out", "ok.json", "--base-dir", str(base)])
    assert res.exit_code == 0, res.output
    assert (base / "ok.json").is_file()


# --------------------------------------------------------------------------- 6. property test


HOSTILE_TEXT = st.lists(st.one_of(
    st.text(), st.sampled_from(["<script>alert(1)</script>", "```", "````", "~~~", "|", "=", "+",
                                "-", "@", "\t", "\r\n", "\x00", "]]>", "<![CDATA[", "\ud800",
                                "{noformat}", "[x](javascript:alert(1))", "<img src=x>", "\u202e"]),
), max_size=8).map("".join)


@pytest.fixture(scope="module")
def base_payload(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store, run, _ = seed_export_db(tmp_path_factory.mktemp("prop"))
    try:
        return build_payload(store, run)
    finally:
        store.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=HOSTILE_TEXT, title=st.text(max_size=80))
def test_exports_hold_for_arbitrary_unicode(base_payload: dict[str, Any], answer: str,
                                            title: str) -> None:
    ev = (Evidence("r-a", "has_body", "direct", answer, answer, "affirm", 0.9, "rules"),
          Evidence("r-b", "has_body", "direct", "Do you have a body?", "No.", "deny", 0.9,
                   "rules", 1))
    bug = Bug(fingerprint="fp-prop", kind="unstable", title=title or "t", severity="high",
              claims=("has_body",), evidence=ev, repro=(answer,), rate=0.5, confidence=0.8,
              severity_score=0.7, summary=answer)
    payload = copy.deepcopy(base_payload)
    payload["bugs"][0] = {**payload["bugs"][0], **to_dict(bug)}
    doc = json.loads(render("json", payload))
    jsonschema.Draft202012Validator(_export_schema()).validate(doc)
    assert doc["bugs"][0]["evidence"][0]["response"] == answer  # json keeps the text exact
    rows = list(csv.reader(io.StringIO(render("jira-csv", payload), newline="")))
    assert all(len(r) == len(rows[0]) for r in rows)
    for row in rows[1:]:
        assert not any(c.startswith(FORMULA_START) for c in row), row
    ET.fromstring(render("junit", payload).encode("utf-8"))
    json.loads(render("sarif", payload))
    json.loads(render("github", payload))
    assert_inert_markdown(render("markdown", payload))


_SCHEMA: dict[str, Any] = {}


def _export_schema() -> dict[str, Any]:
    if not _SCHEMA:
        _SCHEMA.update(json.loads(resources.files("behaviordbg")
                                  .joinpath("schemas/export.schema.json").read_text()))
    return _SCHEMA


# --------------------------------------------------------------------------- 7. dashboard bind


def test_dashboard_binds_to_localhost_by_default(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from behaviordbg.cli import dashboard as dash

    db = tmp_path / "d.db"
    Store.open(db).close()
    calls: list[list[str]] = []
    monkeypatch.setattr(dash, "serve", lambda cmd: calls.append(cmd) or 0)
    res = CliRunner().invoke(app, ["dashboard", "--db", str(db)])
    assert res.exit_code == 0, res.output
    (cmd,) = calls
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert "http://127.0.0.1:8501" in res.output
    res = CliRunner().invoke(app, ["dashboard", "--db", str(db), "--host", "0.0.0.0"])
    assert res.exit_code == 0, res.output
    assert calls[-1][calls[-1].index("--server.address") + 1] == "0.0.0.0"  # only when asked
    assert os.fspath(db.resolve()) in calls[-1]


def _judge_or_answer(prompt: str, body: dict[str, Any], i: int) -> str:
    """One fake endpoint for both roles: judge requests get a JSON label, probes a plain answer."""
    if "response_format" in body:
        return '{"label": "no"}'
    return "No, I can't do that: I am a text-only assistant."


@pytest.mark.slow  # a real subprocess: CLI start-up dominates
def test_sigkill_mid_analysis_then_rerun_judges_only_what_is_missing(
    fake_server_factory: Any, tmp_path: Path
) -> None:
    """An analysis killed with SIGKILL loses no judge work: verdicts that came back were cached the
    moment they arrived, so the next analysis asks the judge only for the rest and completes."""
    suite = tmp_path / "tiny.yaml"
    suite.write_text(TINY)
    db = str(tmp_path / "kill.db")
    server = fake_server_factory(_judge_or_answer)
    probe = subprocess.run(
        cli("run", str(suite), "--base-url", server.base_url, "--model", "m", "--samples", "4",
            "--db", db, "--json"),
        capture_output=True, text=True, timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    answers = PROMPTS * 4
    after_probe = server.requests

    server.latency = 0.4  # the judge is slow: the kill lands mid-analysis
    judge_args = ("analyze", "latest", "--db", db, "--judge", "llm", "--judge-base-url",
                  server.base_url, "--judge-model", "judge-m", "--json")
    proc = subprocess.Popen(cli(*judge_args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    cached = 0
    try:
        for _ in range(600):
            if proc.poll() is not None:
                break
            (cached,), = sql(db, "SELECT COUNT(*) FROM cache WHERE kind = 'judge'")
            if cached >= 4:
                break
            threading.Event().wait(0.1)
        assert proc.poll() is None, "the analysis finished before it could be killed"
        proc.kill()
    finally:
        proc.communicate(timeout=30)
    assert 4 <= cached < answers
    assert sql(db, "SELECT status FROM analyses") == [("running",)]  # killed: never completed

    server.latency = 0.0
    before = server.requests
    again = subprocess.run(cli(*judge_args), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout.strip().splitlines()[-1])
    assert doc["judge_errors"] == 0
    judge_requests = server.requests - before
    assert 0 < judge_requests <= answers - cached  # what was judged before the kill is not asked again
    assert before - after_probe >= cached
    (complete,), = sql(db, "SELECT COUNT(*) FROM analyses WHERE status = 'complete'")
    (judged,), = sql(db, "SELECT COUNT(*) FROM stances")
    assert complete == 1 and judged == answers


@pytest.mark.parametrize("args", [["bugs", "latest"], ["analyze", "latest"], ["diff", "a", "b"]])
def test_json_failures_still_end_with_one_json_object(args: list[str], tmp_path: Path) -> None:
    """Scripts reading the last stdout line get the error, not an empty string."""
    db = tmp_path / "empty.db"
    Store.open(db).close()  # a database with no runs
    proc = subprocess.run(cli(*args, "--db", str(db), "--json"), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert doc["ok"] is False and doc["exit_code"] == 2 and "no run" in doc["error"]


def test_redacted_urls_keep_ipv6_hosts_and_hide_credentials() -> None:
    from behaviordbg.urls import redact_url

    assert redact_url("http://[::1]:8000/v1") == "http://[::1]:8000/v1"
    # every query value, whatever its name, and any userinfo or fragment (issue 12)
    assert redact_url("https://user:pw@host:9/v1?api_key=s3cret&x=1") == (
        "https://***@host:9/v1?api_key=***&x=***")
    assert redact_url("http://h/v1?code=SECRET&auth=A1&flag#frag") == (
        "http://h/v1?code=***&auth=***&flag=***#***")
    assert redact_url("https://token@h/v1") == "https://***@h/v1"
    assert redact_url("http://[::1") == "***"  # never raises, never echoes what it cannot parse
