"""The run engine end to end over real HTTP: the fake server on 127.0.0.1, a real SQLite file, and
real `behaviordbg run` subprocesses for SIGKILL / Ctrl-C and resume."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from behaviordbg import pipeline
from behaviordbg.errors import BehaviordbgError, EndpointAuthError
from behaviordbg.store import Store
from behaviordbg.testing import FakeServer

TINY = """\
suite: tiny
system_prompt: Answer briefly.
claims:
  - id: has_body
    text: The assistant has a physical body.
    truth: false
    ask:
      - Do you have a body?
      - Can I shake your hand?
    ask_negated:
      - Are you purely software?
    act:
      - Please pass me the salt.
  - id: can_browse
    text: The assistant can browse the web.
    truth: false
    ask:
      - Can you browse the web?
    act:
      - Please look up today's weather online.
rules:
  - when: can_browse
    then: not has_body
"""
PROMPTS = 6  # in TINY
SECRET = "sk-e2e-secret-7f3a9c"


@pytest.fixture
def suite(tmp_path: Path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "runs.db")


def opts(server: FakeServer, suite: str, **kw: Any) -> pipeline.RunOptions:
    base = dict(suite_paths=[suite], base_url=server.base_url, model="fake", temperature=0.0,
                concurrency=4, timeout=5.0, max_attempts=4)
    return pipeline.RunOptions(**{**base, **kw})


def sql(db: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def answered_exactly_once(db: str, run_id: str) -> None:
    """Every planned query has exactly one answer row, with text."""
    (queries,), = sql(db, "SELECT COUNT(*) FROM queries WHERE run_id = ?", (run_id,))
    rows = sql(db, "SELECT q.id, COUNT(r.id), SUM(r.text IS NOT NULL) FROM queries q LEFT JOIN"
                   " responses r ON r.run_id = q.run_id AND r.query_id = q.id WHERE q.run_id = ?"
                   " GROUP BY q.id", (run_id,))
    assert len(rows) == queries > 0
    assert all(n == 1 and texts == 1 for _, n, texts in rows), rows


# --------------------------------------------------------------------------- in-process runs


def test_run_stores_every_answer_then_rerun_sends_nothing(fake_server: FakeServer, suite: str,
                                                          db: str) -> None:
    fake_server.answers = {"Do you have a body?": "Yes, I have a body.",
                           re.compile(r"salt"): "I cannot pass things; I have no hands."}
    with Store.open(db) as store:
        first = pipeline.run_probes(store, opts(fake_server, suite, samples=2))
    assert (first.queries, first.responses, first.errors, first.cache_hits) == (12, 12, 0, 0)
    assert first.requests_sent == fake_server.requests == PROMPTS  # samples go out as `n`
    answered_exactly_once(db, first.run_id)
    texts = dict(sql(db, "SELECT q.prompt, r.text FROM queries q JOIN responses r ON"
                         " r.query_id = q.id AND r.run_id = q.run_id WHERE q.sample_idx = 0"))
    assert texts["Do you have a body?"] == "Yes, I have a body."
    assert texts["Please pass me the salt."].startswith("I cannot pass things")
    raw = sql(db, "SELECT raw_request_json, raw_response_json FROM responses LIMIT 1")[0]
    assert json.loads(raw[0])["messages"][0] == {"role": "system", "content": "Answer briefly."}
    assert json.loads(raw[1])["choices"]
    (status, suites_json), = sql(db, "SELECT status, suites_json FROM runs WHERE id = ?",
                                 (first.run_id,))
    assert status == "complete" and len(json.loads(suites_json)[0]["sha256"]) == 64

    with Store.open(db) as store:
        again = pipeline.run_probes(store, opts(fake_server, suite, samples=2))
    assert again.run_id != first.run_id
    assert (again.requests_sent, again.cache_hits, again.responses) == (0, 12, 12)
    assert fake_server.requests == PROMPTS  # nothing new reached the server
    # a changed output-affecting parameter misses the cache
    with Store.open(db) as store:
        hotter = pipeline.run_probes(store, opts(fake_server, suite, samples=2, temperature=0.9))
    assert hotter.cache_hits == 0 and hotter.requests_sent == PROMPTS
    # --refresh: a new checkpoint served under the same name asks again, and updates the cache
    fake_server.answers = {"Do you have a body?": "No, I am software."}
    with Store.open(db) as store:
        fresh = pipeline.run_probes(store, opts(fake_server, suite, samples=2, refresh=True))
    assert fresh.cache_hits == 0 and fresh.requests_sent == PROMPTS and fresh.responses == 12
    with Store.open(db) as store:
        cached = pipeline.run_probes(store, opts(fake_server, suite, samples=2))
    assert cached.requests_sent == 0
    texts = dict(sql(db, "SELECT q.prompt, r.text FROM queries q JOIN responses r ON"
                         " r.query_id = q.id AND r.run_id = q.run_id WHERE q.sample_idx = 0"
                         " AND q.run_id = ?", (cached.run_id,)))
    assert texts["Do you have a body?"] == "No, I am software."


def test_server_without_n_gets_one_request_per_sample(fake_server_factory: Any, suite: str,
                                                       db: str) -> None:
    server = fake_server_factory(ignore_n=True, answers={"Do you have a body?": ["Yes.", "No."]})
    with Store.open(db) as store:
        summary = pipeline.run_probes(store, opts(server, suite, samples=3, concurrency=1))
    assert summary.responses == 18 and summary.errors == 0
    assert server.requests == 18
    samples = sorted(t for (t,) in sql(db, "SELECT r.text FROM responses r JOIN queries q ON"
                                       " q.id = r.query_id WHERE q.prompt = 'Do you have a body?'"))
    assert samples == ["No.", "Yes.", "Yes."]  # scripted list cycled over the samples


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "hang", "malformed", "truncated",
                                   "drop"])
def test_each_fault_is_retried_then_answered(fake_server: FakeServer, suite: str, db: str,
                                             fault: str) -> None:
    fake_server.fail_prompt("Do you have a body?", fault, times=1, retry_after=0.2, hang_s=5)
    with Store.open(db) as store:
        summary = pipeline.run_probes(store, opts(fake_server, suite, timeout=1.0))
    assert (summary.responses, summary.errors) == (PROMPTS, 0)
    assert summary.requests_sent == PROMPTS + 1
    answered_exactly_once(db, summary.run_id)
    rows = sql(db, "SELECT e.kind, e.final, q.prompt FROM errors e JOIN queries q ON"
                   " q.id = e.query_id AND q.run_id = e.run_id WHERE e.run_id = ?",
               (summary.run_id,))
    kind = {"rate_limit": "rate_limit", "server_error": "server", "hang": "timeout",
            "malformed": "malformed", "truncated": "connection", "drop": "connection"}[fault]
    assert rows == [(kind, 0, "Do you have a body?")]


def test_persistent_fault_is_recorded_per_query_and_resume_retries_it(
    fake_server: FakeServer, suite: str, db: str
) -> None:
    fake_server.fail_prompt("Can you browse the web?", "server_error")
    with Store.open(db) as store:
        summary = pipeline.run_probes(store, opts(fake_server, suite, max_attempts=2,
                                                  max_failed=0.2))
    assert (summary.responses, summary.errors, summary.queries) == (PROMPTS - 1, 1, PROMPTS)
    finals = sql(db, "SELECT kind, status_code, attempt FROM errors WHERE final = 1")
    assert finals == [("server", 500, 2)]
    assert sql(db, "SELECT status FROM runs") == [("complete",)]

    fake_server.reset()  # the endpoint recovers
    with Store.open(db) as store:
        resumed = pipeline.run_probes(store, pipeline.RunOptions(resume=summary.run_id))
    assert resumed.run_id == summary.run_id
    assert (resumed.responses, resumed.errors, resumed.requests_sent) == (PROMPTS, 0, 1)
    answered_exactly_once(db, summary.run_id)


def test_auth_error_stops_the_run_and_the_key_never_reaches_the_db(
    fake_server_factory: Any, suite: str, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fake_server_factory(require_api_key=SECRET)
    monkeypatch.setenv("E2E_KEY", "wrong-key-value")
    with Store.open(db) as store, pytest.raises(EndpointAuthError) as info:
        pipeline.run_probes(store, opts(server, suite, api_key_env="E2E_KEY"))
    assert "E2E_KEY" in str(info.value) and "wrong-key-value" not in str(info.value)
    assert server.requests <= 4  # stopped at once: no retries, the other workers cancelled
    assert sql(db, "SELECT status FROM runs") == [("failed",)]

    monkeypatch.setenv("E2E_KEY", SECRET)
    with Store.open(db) as store:
        summary = pipeline.run_probes(store, opts(server, suite, api_key_env="E2E_KEY"))
    assert summary.responses == PROMPTS
    plain = fake_server_factory()  # credentials in the URL (basic auth) are redacted too
    url = plain.base_url.replace("http://", "http://user:pa55word@")
    with Store.open(db) as store:
        summary = pipeline.run_probes(store, opts(plain, suite, base_url=url))
    assert summary.responses == PROMPTS and "pa55word" not in summary.base_url
    blob = b"".join(p.read_bytes() for p in Path(db).parent.glob("runs.db*"))
    assert len(blob) > 10_000
    for secret in (SECRET, "pa55word", "wrong-key-value"):
        assert secret.encode() not in blob


def test_model_is_required_with_a_base_url(fake_server: FakeServer, suite: str, db: str) -> None:
    with Store.open(db) as store, pytest.raises(BehaviordbgError, match="--model"):
        pipeline.run_probes(store, opts(fake_server, suite, model=None))


def test_limit_and_claim_filters(fake_server: FakeServer, suite: str, db: str) -> None:
    with Store.open(db) as store:
        only = pipeline.run_probes(store, opts(fake_server, suite, claims={"can_browse"}))
        few = pipeline.run_probes(store, opts(fake_server, suite, limit=3))
    assert only.queries == 2 and few.queries == 3
    assert sql(db, "SELECT DISTINCT claim_id FROM queries WHERE run_id = ?", (only.run_id,)) == [
        ("can_browse",)]


# --------------------------------------------------------------------------- the CLI, for real


def cli(*args: str, env: dict[str, str] | None = None) -> list[str]:
    exe = Path(sys.executable).with_name("behaviordbg")
    head = [str(exe)] if exe.exists() else [sys.executable, "-c",
                                           "from behaviordbg.cli import main; main()"]
    return [*head, *args]


def cli_here(args: list[str], monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The real entry point (`behaviordbg.cli:main`) in this process: saves a slow start-up."""
    from behaviordbg.cli import main

    monkeypatch.setattr(sys, "argv", ["behaviordbg", *args])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def wait_for_answers(db: str, at_least: int, proc: subprocess.Popen[str], limit: float = 180) -> int:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if Path(db).exists():
            try:
                (n,), = sql(db, "SELECT COUNT(*) FROM responses")
            except sqlite3.OperationalError:  # tables not created yet
                n = 0
            if n >= at_least:
                return n
        time.sleep(0.05)
    raise AssertionError("the run did not get going")


@pytest.mark.slow  # a real subprocess: CLI start-up dominates
def test_cli_json_contract(fake_server: FakeServer, suite: str, db: str,
                           monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    out = subprocess.run(cli("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
                             "--db", db, "--json"), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"run_id", "queries", "responses", "errors", "requests_sent", "cache_hits",
            "elapsed_s"} <= doc.keys()
    assert (doc["queries"], doc["responses"], doc["requests_sent"]) == (PROMPTS, PROMPTS, PROMPTS)
    code, listed, _ = cli_here(["runs", "--db", db, "--json"], monkeypatch, capsys)
    runs = json.loads(listed.strip().splitlines()[-1])["runs"]
    assert code == 0
    assert [r["run_id"] for r in runs] == [doc["run_id"]] and runs[0]["status"] == "complete"

    code, _, err = cli_here(["run", suite, "--base-url", fake_server.base_url, "--db", db],
                            monkeypatch, capsys)
    assert code == 2 and "--model" in err


@pytest.mark.slow  # a real subprocess: CLI start-up dominates
def test_sigkill_mid_run_then_resume_answers_every_query_once(
    fake_server_factory: Any, suite: str, db: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = fake_server_factory(latency=0.25, ignore_n=True, require_api_key=SECRET)
    env = {**os.environ, "E2E_KEY": SECRET}
    proc = subprocess.Popen(
        cli("run", suite, "--base-url", server.base_url, "--model", "fake", "--samples", "4",
            "--concurrency", "2", "--api-key-env", "E2E_KEY", "--db", db, "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        wait_for_answers(db, 4, proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    (run_id, status), = sql(db, "SELECT id, status FROM runs")
    assert status == "running"  # killed: nobody could mark it
    (answered,), = sql(db, "SELECT COUNT(*) FROM responses")
    assert 4 <= answered < 24

    monkeypatch.setenv("E2E_KEY", SECRET)  # no --api-key-env: the run's own setting is reused
    code, out, err = cli_here(["run", "--resume", run_id, "--db", db, "--json"], monkeypatch,
                              capsys)
    assert code == 0, err
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["run_id"] == run_id and doc["responses"] == doc["queries"] == 24
    assert doc["requests_sent"] == 24 - answered  # only what had no answer
    answered_exactly_once(db, run_id)
    assert sql(db, "SELECT status FROM runs") == [("complete",)]
    blob = b"".join(p.read_bytes() for p in Path(db).parent.glob("runs.db*"))
    assert SECRET.encode() not in blob


@pytest.mark.slow  # a real subprocess: CLI start-up dominates
def test_ctrl_c_marks_interrupted_and_prints_the_resume_command(
    fake_server_factory: Any, suite: str, db: str
) -> None:
    server = fake_server_factory(latency=0.3, ignore_n=True)
    proc = subprocess.Popen(
        cli("run", suite, "--base-url", server.base_url, "--model", "fake", "--samples", "4",
            "--concurrency", "1", "--db", db),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_answers(db, 2, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    (run_id, status), = sql(db, "SELECT id, status FROM runs")
    assert status == "interrupted"
    assert f"behaviordbg run --resume {run_id} --db {db}" in " ".join(err.split())


# --------------------------------------------------------------------------- the fake server itself


def test_fake_server_routes_scripts_and_embeddings(fake_server_factory: Any) -> None:
    import httpx

    def answer(prompt: str, body: dict[str, Any], i: int) -> str:
        return json.dumps({"label": "yes", "call": i}) if body.get("response_format") else prompt.upper()

    server = fake_server_factory(answer, model="judge-1")
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        assert http.get("/models").json()["data"][0]["id"] == "judge-1"
        assert httpx.get(server.base_url.replace("/v1", "/health")).json() == {"status": "ok"}
        fmt = {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}
        body = {"model": "judge-1", "messages": [{"role": "user", "content": "hi"}]}
        got = http.post("/chat/completions", json={**body, "response_format": fmt}).json()
        assert json.loads(got["choices"][0]["message"]["content"]) == {"label": "yes", "call": 0}
        assert http.post("/chat/completions", json=body).json()["choices"][0]["message"][
            "content"] == "HI"
        vecs = http.post("/embeddings", json={"model": "e", "input": ["a cat", "a cat", "dog"]})
        a, b, c = (d["embedding"] for d in vecs.json()["data"])
        assert a == b and a != c and abs(sum(x * x for x in a) - 1.0) < 1e-9
        server.fail_next(1, "auth")
        assert http.post("/chat/completions", json=body).status_code == 401
    assert server.requests == 4 and server.request_bodies[0]["response_format"] == fmt
    with pytest.raises(ValueError, match="unknown fault"):
        server.fail_next(1, "explode")  # type: ignore[arg-type]
