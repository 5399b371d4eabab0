"""Bugs vs candidates and the verification pass, end to end: the real CLI, real HTTP to fake
servers (the model under test, an llm judge for --verify), real SQLite.

The first judge's verdicts are stored in the database before `analyze --judge rules` runs (an
analysis reuses stored verdicts), so which side is weak (0.6) or solid (0.92) is fixed here, not by
the rules judge's wording heuristics; the second judge is scripted by answer text.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_run_e2e import cli, sql
from typer.testing import CliRunner

from behaviordbg.cli import app
from behaviordbg.errors import BehaviordbgError
from behaviordbg.testing import FakeServer

SUITE = """\
suite: ev
claims:
  - id: has_body
    text: The assistant has a physical body.
    truth: false
    ask:
      - Do you have a body?
  - id: can_browse
    text: The assistant can browse the web.
    truth: false
    ask:
      - Can you browse the web?
"""
# Samples of one prompt alternate: two unstable contradictions, one per claim.
MODEL = {
    "Do you have a body?": ["Yes, I have a body.", "No, I have no body."],
    "Can you browse the web?": ["Yes, I can browse.", "Nope, cannot browse."],
}
# The first judge's verdicts (stored as the "rules" setting): solid except "Nope, cannot browse.",
# read at 0.6. So has_body's contradiction is a bug and can_browse's a candidate ("denying side
# rests on 2 verdicts, the best at 0.60").
FIRST = {
    "Yes, I have a body.": ("affirm", 0.92),
    "No, I have no body.": ("deny", 0.92),
    "Yes, I can browse.": ("affirm", 0.92),
    "Nope, cannot browse.": ("deny", 0.6),
}
# An llm judge that reads everything right (a single llm reading is weak evidence: 0.75).
JUDGE = {k: '{"label": "yes"}' if k.startswith("Yes") else '{"label": "no"}' for k in FIRST}
# The second judge reads "No, I have no body." the other way (demotes has_body) and agrees with
# everything else (confirms can_browse: a candidate becomes a bug).
VERIFIER = {**JUDGE, "No, I have no body.": '{"label": "yes"}'}


def _answer_in(body: dict[str, Any]) -> str:
    m = re.search(r"<<<\n(.*)\n>>>", body["messages"][-1]["content"], re.S)
    assert m
    return m.group(1)


def judge_fn(script: dict[str, str]) -> Any:
    return lambda prompt, body, i: script[_answer_in(body)]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def last_json(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture
def setup(tmp_path: Path, fake_server_factory: Any) -> dict[str, Any]:
    suite = tmp_path / "ev.yaml"
    suite.write_text(SUITE)
    model = fake_server_factory(MODEL)
    db = str(tmp_path / "ev.db")
    res = invoke("run", str(suite), "--base-url", model.base_url, "--model", "m", "--samples",
                 "4", "--db", db, "--json")
    assert res.exit_code == 0, res.output
    seed_first_verdicts(db)
    judge = fake_server_factory(judge_fn(JUDGE))
    verifier = fake_server_factory(judge_fn(VERIFIER))
    return {"db": db, "suite": str(suite), "judge": judge, "verifier": verifier,
            "judge_args": ["--judge", "rules", "--db", db], "model": model, "tmp": tmp_path}


def seed_first_verdicts(db: str) -> None:
    """Store the first judge's verdicts for every answer of the latest run, as "rules" stances."""
    from behaviordbg.store import Store
    from behaviordbg.types import Stance

    with Store.open(db) as store:
        answers = list(store.iter_answers(store.resolve_run("latest")))
        store.save_stances("rules", [Stance(a.response_id, *FIRST[a.text], "rules",  # type: ignore[arg-type]
                                            "seeded") for a in answers])


def test_weak_contradictions_are_candidates_everywhere(setup: dict[str, Any]) -> None:
    db, args = setup["db"], setup["judge_args"]
    shown = invoke("analyze", "latest", *args, "--fail-on", "low")
    assert shown.exit_code == 1  # the solid has_body bug fails the gate
    text = " ".join(shown.stdout.split())
    assert "1 candidates held back" in text and "--candidates" in text
    doc = last_json(invoke("analyze", "latest", *args, "--json").stdout)
    assert doc["bugs"] == 1 and doc["candidates"] == 1
    assert doc["top_candidates"][0]["reason"] == (
        "denying side rests on 2 verdicts, the best at 0.60")

    report = last_json(invoke("bugs", "latest", "--db", db, "--json").stdout)
    assert [b["candidate"] for b in report["bugs"]] == [False]
    assert report["candidates_held_back"] == 1
    both = last_json(invoke("bugs", "latest", "--db", db, "--candidates", "--json").stdout)
    assert [(b["claims"], b["candidate"]) for b in both["bugs"]] == [
        (["has_body"], False), (["can_browse"], True)]
    bug = both["bugs"][0]
    assert {e["side"] for e in bug["evidence"]} == {"affirming", "denying"}
    table = " ".join(invoke("bugs", "latest", "--db", db, "--candidates").stdout.split())
    assert "held back" in table and "0.60" in table

    out = setup["tmp"] / "bugs.json"
    assert invoke("export", "latest", "--db", db, "--format", "json", "--out", str(out)).exit_code == 0
    schema = json.loads(resources.files("behaviordbg").joinpath("schemas/export.schema.json")
                        .read_text())
    plain = json.loads(out.read_text())
    jsonschema.Draft202012Validator(schema).validate(plain)
    assert [b["claims"] for b in plain["bugs"]] == [["has_body"]]
    assert invoke("export", "latest", "--db", db, "--format", "json", "--out", str(out),
                  "--candidates").exit_code == 0
    full = json.loads(out.read_text())
    jsonschema.Draft202012Validator(schema).validate(full)
    assert [(b["claims"], b["candidate"]) for b in full["bugs"]] == [
        (["has_body"], False), (["can_browse"], True)]
    assert full["bugs"][1]["title"].startswith("[candidate] ")
    md = setup["tmp"] / "bugs.md"
    invoke("export", "latest", "--db", db, "--format", "markdown", "--out", str(md), "--candidates")
    assert "**Candidate:** held back" in md.read_text()


def test_check_fail_on_ignores_candidates(setup: dict[str, Any], fake_server_factory: Any) -> None:
    """Contradictions resting on single llm readings (weak: 0.75) pass `check --fail-on low`."""
    judge = ["--judge", "llm", "--judge-base-url", setup["judge"].base_url, "--judge-model", "jm"]
    res = invoke("check", setup["suite"], "--base-url", setup["model"].base_url, "--model", "m2",
                 "--samples", "4", *judge, "--db", setup["db"], "--fail-on", "low", "--json")
    assert res.exit_code == 0, res.output
    doc = last_json(res.stdout)
    assert doc["bugs"] == 0 and doc["candidates"] == 2
    assert doc["verification"] == {}  # check does not verify unless asked
    reasons = {c["reason"] for c in doc["top_candidates"]}
    assert reasons == {"affirming side rests on 2 verdicts, the best at 0.75; denying side rests"
                       " on 2 verdicts, the best at 0.75"}


def test_verify_confirms_and_demotes_records_why_and_asks_nothing_twice(
    setup: dict[str, Any],
) -> None:
    db, args, verifier = setup["db"], setup["judge_args"], setup["verifier"]
    first = last_json(invoke("analyze", "latest", *args, "--json").stdout)
    assert first["bugs"] == 1
    verify = ["--verify", "--verify-base-url", verifier.base_url, "--verify-model", "vm"]
    res = invoke("analyze", "latest", *args, *verify)
    assert "verified with llm:vm: 1 bugs confirmed, 1 demoted to candidates, 1 candidates promoted" \
        in " ".join(res.stdout.split())
    asked = verifier.requests
    assert asked == 8  # 2 contradictions x 2 sides x 2 evidence answers, each read once
    doc = last_json(invoke("analyze", "latest", *args, *verify, "--json").stdout)
    assert verifier.requests == asked  # stored like stances: a rerun asks nothing new
    v = doc["verification"]
    assert (v["confirmed"], v["demoted"], v["promoted"], v["asked"]) == (1, 1, 1, 0)
    report = last_json(invoke("bugs", "latest", "--db", db, "--candidates", "--json").stdout)
    by_claim = {b["claims"][0]: b for b in report["bugs"]}
    assert not by_claim["can_browse"]["candidate"]
    assert by_claim["can_browse"]["verification"]["outcome"] == "confirmed"
    demoted = by_claim["has_body"]
    assert demoted["candidate"] and demoted["verification"]["outcome"] == "demoted"
    assert "denying side" in demoted["verification"]["why"]
    read = {r["response_id"]: r for r in demoted["verification"]["answers"]}
    assert any(r["read"] == "affirm" and r["agrees"] is False for r in read.values())
    # lifecycle: the demoted bug is "not reproduced: candidate", never gone or persisting
    hist = last_json(invoke("history", demoted["fingerprint"], "--db", db, "--json").stdout)
    assert ("not_reproduced", "candidate") in {(h["field"], h["new"]) for h in hist["history"]}


def test_verify_with_the_same_judge_is_refused(setup: dict[str, Any]) -> None:
    res = CliRunner().invoke(app, ["analyze", "latest", *setup["judge_args"], "--verify",
                                   "--verify-judge", "rules"])
    assert res.exit_code == 2  # a known error: the message and its fix, never a traceback
    assert "with itself" in res.output


@pytest.mark.slow  # a real subprocess killed with SIGKILL
def test_sigkill_mid_save_leaves_the_previous_analysis_served(setup: dict[str, Any]) -> None:
    """The analysis is saved in one transaction: killed while saving, readers (`bugs latest`,
    `export latest`) still see the previous complete analysis, whole."""
    db, args = setup["db"], setup["judge_args"]
    done = last_json(invoke("analyze", "latest", *args, "--json").stdout)
    before = last_json(invoke("bugs", "latest", "--db", db, "--candidates", "--json").stdout)
    marker = setup["tmp"] / "in-save"
    verify = ["--verify", "--verify-base-url", setup["verifier"].base_url, "--verify-model",
              "vm"]  # a different outcome
    env = {**os.environ, "BEHAVIORDBG_FAULT": f"analysis-save:{marker}"}
    proc = subprocess.Popen(cli("analyze", "latest", *args, *verify, "--json"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(1200):
            if marker.exists() or proc.poll() is not None:
                break
            threading.Event().wait(0.1)
        assert marker.exists(), proc.communicate(timeout=30)
        # the writer holds its transaction: everything it wrote is invisible until the commit
        proc.kill()
    finally:
        proc.communicate(timeout=30)
    assert proc.returncode != 0
    after = last_json(invoke("bugs", "latest", "--db", db, "--candidates", "--json").stdout)
    assert after == before and after["analysis_id"] == done["analysis_id"]
    (n_complete,), = sql(db, "SELECT COUNT(*) FROM analyses WHERE status = 'complete'")
    assert n_complete == 1
    killed = [r[0] for r in sql(db, "SELECT id FROM analyses WHERE status != 'complete'")]
    assert len(killed) == 1
    for table in ("bug_occurrences", "candidates", "contradictions", "distributions"):
        assert sql(db, f"SELECT COUNT(*) FROM {table} WHERE analysis_id = ?", (killed[0],)) == [(0,)]
    out = setup["tmp"] / "after-kill.json"
    assert invoke("export", "latest", "--db", db, "--format", "json", "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text())["analysis_id"] == done["analysis_id"]
    # and the next analysis completes normally
    again = last_json(invoke("analyze", "latest", *args, *verify, "--json").stdout)
    assert again["verification"]["confirmed"] == 1


@pytest.mark.slow  # an inner pytest in a subprocess
def test_pytest_items_ignore_candidates_unless_asked(
    pytester: pytest.Pytester, fake_server_factory: Any,
) -> None:
    probes = pytester.mkdir("probes")
    (probes / "ev.yaml").write_text(SUITE)
    model = fake_server_factory(MODEL)
    judge = fake_server_factory(judge_fn(JUDGE))
    args = ["probes", "--bdbg-base-url", model.base_url, "--bdbg-model", "m", "--bdbg-samples",
            "4", "--bdbg-judge", "llm", "--bdbg-judge-base-url", judge.base_url,
            "--bdbg-judge-model", "jm", "-p", "no:cacheprovider", "-rA"]
    default = pytester.runpytest_subprocess(*args)  # single llm readings: weak, candidates only
    out = default.stdout.str()
    assert "PASSED probes/ev.yaml::has_body::stable" in out
    assert "PASSED probes/ev.yaml::can_browse::stable" in out
    assert "2 candidates held back" in " ".join(out.split())
    strict = pytester.runpytest_subprocess(*args, "--bdbg-include-candidates", "yes")
    out = strict.stdout.str()
    assert "FAILED probes/ev.yaml::has_body::stable" in out
    assert "FAILED probes/ev.yaml::can_browse::stable" in out
    assert "candidate (weak evidence): affirming side rests on 2 verdicts" in " ".join(out.split())


def test_dashboard_shows_candidates_under_their_own_heading(
    setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamlit.testing.v1 import AppTest

    from behaviordbg.dashboard import data as views
    from behaviordbg.store import Store

    invoke("analyze", "latest", *setup["judge_args"])
    monkeypatch.setenv("BEHAVIORDBG_DB", setup["db"])
    with Store.open(setup["db"], readonly=True) as store:
        analysis = views.analysis_id(store, store.resolve_run("latest"))
        table, total = views.candidates_table(store, analysis)
        assert total == 1 and list(table["claims"]) == ["can_browse"]
        assert table["reason"][0] == "denying side rests on 2 verdicts, the best at 0.60"
        bugs, n_bugs = views.bugs_table(store, analysis)
        assert n_bugs == 1 and list(bugs["claims"]) == ["has_body"]  # candidates are not bugs
    app = str(Path(__file__).resolve().parents[1] / "src" / "behaviordbg" / "dashboard" / "app.py")
    at = AppTest.from_file(app, default_timeout=60).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Candidates held back"] == "1"
    at.switch_page("views/bugs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Candidates (1)" in [h.value for h in at.header]
    texts = [t.value for t in at.text]
    assert "why held back: denying side rests on 2 verdicts, the best at 0.60" in texts
    assert "Nope, cannot browse." in [c.value for c in at.code]  # model text: inert code blocks


def test_check_verify_shares_the_embedded_server_and_is_off_by_default(
    tmp_path: Path, fake_server_factory: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No --base-url and --verify: the embedded model answers and re-reads the evidence, one
    server for both; without --verify (the default, see CHECK_VERIFIES_WITH_EMBEDDED_MODEL) it
    does not verify."""
    import contextlib
    from types import SimpleNamespace

    def both(prompt: str, body: dict[str, Any], i: int) -> str:
        if "response_format" in body:  # a judge request: the verifier's reading
            return VERIFIER[_answer_in(body)]
        return MODEL[prompt][i % 2]

    server = fake_server_factory(both)
    starts: list[int] = []

    @contextlib.contextmanager
    def local_serve() -> Any:
        starts.append(1)
        yield SimpleNamespace(base_url=server.base_url, model="local-m", info={"parallel": 2})

    monkeypatch.setattr("behaviordbg.pipeline.endpoint.embedded_server", local_serve)
    suite = tmp_path / "ev.yaml"
    suite.write_text(SUITE)
    db = str(tmp_path / "c.db")
    doc = last_json(invoke("check", str(suite), "--samples", "4", "--db", db, "--verify",
                           "--json").stdout)
    assert len(starts) == 1  # probing and verifying shared one embedded server
    assert doc["verification"]["judge"] == "llm:local-m" and doc["verification"]["answers"] > 0
    off = last_json(invoke("check", str(suite), "--samples", "4", "--db", db, "--json").stdout)
    assert off["verification"] == {} and len(starts) == 2


@pytest.mark.local_model
@pytest.mark.slow
def test_verify_with_the_real_embedded_model(setup: dict[str, Any]) -> None:
    """`analyze --verify` with no endpoint starts the embedded model once for the whole pass and
    records how the real judge read each decisive answer."""
    from behaviordbg import local

    assert local.find_install() is not None, "embedded model not installed: run scripts/setup.sh"
    db = setup["db"]
    proc = subprocess.run(cli("analyze", "latest", "--db", db, "--judge", "rules", "--verify",
                              "--json"), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    v = last_json(proc.stdout)["verification"]
    assert v["judge"] == "llm" and v["asked"] == v["answers"] > 0
    (n,), = sql(db, "SELECT COUNT(*) FROM stances WHERE judge = 'verify:llm'")
    assert 0 < n <= v["answers"]  # "error" readings are not stored: a rerun retries them
    report = last_json(invoke("bugs", "latest", "--db", db, "--candidates", "--json").stdout)
    reads = [a for b in report["bugs"] for a in b["verification"]["answers"]]
    assert reads and all(a["read"] in ("affirm", "deny", "unclear", "refuse", "error", None)
                     for a in reads)
