"""Fail loudly, never half-write (issue 12): exit codes a CI job can trust, clear errors instead of
tracebacks, secrets, hostile files and signals. The real CLI (in-process through Typer, or a real
subprocess where signals and locks need one), `behaviordbg.testing.FakeServer` on 127.0.0.1 and
real SQLite files."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_run_e2e import PROMPTS, TINY, sql
from typer.testing import CliRunner

from behaviordbg.cli import app
from behaviordbg.store import Store
from behaviordbg.testing import FakeServer

ALL_BUT_ONE = re.compile(r"^(?!Do you have a body\?)")  # every TINY prompt but the first


@pytest.fixture
def suite(tmp_path: Path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "runs.db")


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    """The real Typer app in this process; known errors must end as exit codes, not exceptions."""
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def last_json(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


def n_runs(db: str) -> int:
    if not Path(db).exists():
        return 0
    return int(sql(db, "SELECT COUNT(*) FROM runs")[0][0])


# --------------------------------------------------------------------------- 1, 2: exit codes


def test_every_query_rejected_exits_3_with_the_error_and_its_fix(
    fake_server: FakeServer, suite: str, db: str
) -> None:
    """`run --temperature 9` against a server that rejects it: was `0/6 answered`, exit 0, the
    reason only in the errors table and a `--resume` hint that repeats the failure."""
    fake_server.fail_prompt(re.compile(""), "bad_request", message="temperature must be <= 2")
    res = invoke("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
                 "--temperature", "9", "--db", db)
    assert res.exit_code == 3, res.output
    out = " ".join(res.output.split())
    assert "nothing was answered" in out
    assert "HTTP 400: temperature must be <= 2" in out  # the reason, printed
    assert "fix:" in out and "--temperature" in out and "start a new run" in out
    assert "--resume" not in out  # resuming would send the same rejected request again
    assert sql(db, "SELECT status FROM runs") == [("failed",)]

    res = invoke("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
                 "--temperature", "9", "--db", db, "--json", "--max-failed", "100%")
    assert res.exit_code == 3, res.output  # nothing answered fails whatever --max-failed says
    doc = last_json(res.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 3 and doc["status"] == "failed"
    assert doc["top_error"]["status_code"] == 400 and doc["top_error"]["queries"] == PROMPTS


def test_a_share_of_failures_within_max_failed_passes_and_is_reported(
    fake_server: FakeServer, suite: str, db: str
) -> None:
    fake_server.fail_prompt("Can you browse the web?", "server_error")
    base = ("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
            "--max-attempts", "1", "--db", db)
    res = invoke(*base, "--max-failed", "20%")  # 1 of 6 = 16.7%
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "1 of 6 queries failed" in out and "HTTP 500: internal error" in out
    assert "behaviordbg run --resume" in out  # a server error may pass: resume is the fix
    res = invoke(*base, "--max-failed", "0.1", "--refresh")
    assert res.exit_code == 3, res.output
    assert "more than --max-failed 10.0%" in " ".join(res.output.split())
    res = invoke(*base, "--max-failed", "lots")
    assert res.exit_code == 2 and "--max-failed" in res.output


@pytest.mark.parametrize("url", ["127.0.0.1:{port}/v1", "ftp://127.0.0.1:{port}/v1",
                                 "http://[::1", "http:///v1", "localhost:{port}/v1"])
def test_a_base_url_that_is_not_http_is_refused_before_anything(
    fake_server: FakeServer, suite: str, db: str, url: str
) -> None:
    """No scheme / another scheme retried 5 times per query and exited 0; `http://[::1` was a
    ValueError traceback."""
    res = invoke("run", suite, "--base-url", url.format(port=fake_server.port), "--model", "fake",
                 "--db", db)
    assert res.exit_code == 2, res.output
    assert "--base-url" in res.output and "fix:" in res.output
    assert fake_server.requests == 0 and n_runs(db) == 0
    if "{port}" in url and "://" not in url:
        assert f"http://{url.split('{')[0]}" in res.output  # the fix names the full URL


def test_a_wrong_model_stops_at_the_first_404_and_names_the_served_models(
    fake_server_factory: Any, suite: str, db: str
) -> None:
    server = fake_server_factory(models=["fake", "other"])
    res = invoke("run", suite, "--base-url", server.base_url, "--model", "nope", "--db", db,
                 "--concurrency", "2", "--json")
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    assert "HTTP 404" in out and "The model `nope` does not exist" in out
    assert "serves: fake, other" in out
    assert server.requests <= 3  # no retries, no round per query: the run stopped at once
    assert sql(db, "SELECT status FROM runs") == [("failed",)]
    assert last_json(res.stdout)["exit_code"] == 2


def test_check_never_analyses_a_failed_run(fake_server: FakeServer, suite: str, db: str) -> None:
    fake_server.fail_prompt(ALL_BUT_ONE, "server_error")
    res = invoke("check", suite, "--base-url", fake_server.base_url, "--model", "fake",
                 "--max-attempts", "1", "--db", db, "--json")
    assert res.exit_code == 3, res.output
    doc = last_json(res.stdout)
    assert doc["exit_code"] == 3 and doc["run"]["responses"] == 1
    assert "not analysed" in res.output
    assert sql(db, "SELECT COUNT(*) FROM analyses") == [(0,)]


# --------------------------------------------------------------------------- 9: empty runs


def test_a_run_and_its_queries_are_created_in_one_transaction(tmp_path: Path) -> None:
    """kill -9 right after the run row was written left a run with no queries. Now the run row
    and its plan commit together: a failure (or a kill) in between leaves no run at all."""
    from behaviordbg.types import GenParams, Message, Query

    q = Query(id="q1", suite="s", claim_id="c", framing="ask", prompt_idx=0, prompt="p?",
              sample_idx=0, messages=(Message("user", "p?"),))

    def plan_that_dies() -> Any:
        yield q, "key-1"
        raise RuntimeError("killed mid-plan")

    db = str(tmp_path / "atomic.db")
    with Store.open(db) as store:
        with pytest.raises(RuntimeError):
            store.create_run(GenParams(model="m", base_url="http://h/v1"), [],
                             queries=plan_that_dies())
        assert store.list_runs() == []
        run_id = store.create_run(GenParams(model="m", base_url="http://h/v1"), [],
                                  queries=[(q, "key-1")])
        assert store.counts(run_id)["queries"] == 1


def test_a_run_with_no_queries_is_not_resumed_or_analysed_in_a_loop(
    fake_server: FakeServer, tmp_path: Path, db: str
) -> None:
    """What a kill -9 left behind before the fix: `--resume latest` said `0/0 answered`, exited 0
    and marked it complete; `analyze` then asked for `run --resume`, a loop."""
    from behaviordbg.types import GenParams

    with Store.open(db) as store:
        run_id = store.create_run(GenParams(model="fake", base_url=fake_server.base_url), [])
    res = invoke("run", "--resume", "latest", "--db", db, "--base-url", fake_server.base_url)
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    assert "no planned queries" in out and "start a new run" in out
    assert sql(db, "SELECT status FROM runs") == [("running",)]  # not marked complete
    res = invoke("analyze", run_id, "--db", db)
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    assert "no planned queries" in out and "start a new run" in out and "--resume" not in out
    assert fake_server.requests == 0


# --------------------------------------------------------------------------- 5: null content


def test_a_null_content_is_no_answer_and_never_poisons_the_cache(
    fake_server: FakeServer, suite: str, db: str
) -> None:
    """A null `content` was stored as "", counted as answered and cached, so a rerun against a
    healthy server served the empty answers with 0 requests."""
    fake_server.fail_prompt("Do you have a body?", "null_content")
    res = invoke("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
                 "--max-attempts", "2", "--max-failed", "50%", "--db", db, "--json")
    assert res.exit_code == 0, res.output
    doc = last_json(res.stdout)
    assert (doc["responses"], doc["errors"]) == (PROMPTS - 1, 1)
    assert "content is null" in doc["top_error"]["message"]
    assert sql(db, "SELECT COUNT(*) FROM responses WHERE text = ''") == [(0,)]
    assert sql(db, "SELECT COUNT(*) FROM cache WHERE value_json LIKE '%\"text\": \"\"%'") == [(0,)]

    fake_server.reset()  # healthy now: the rerun asks for that prompt again, and gets an answer
    res = invoke("run", suite, "--base-url", fake_server.base_url, "--model", "fake", "--db", db,
                 "--json")
    assert res.exit_code == 0, res.output
    again = last_json(res.stdout)
    assert (again["responses"], again["requests_sent"], again["cache_hits"]) == (
        PROMPTS, 1, PROMPTS - 1)


def test_a_refusal_with_null_content_is_the_answer() -> None:
    from behaviordbg.client import _parse_chat_body

    body = json.dumps({"choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": None, "refusal": "I can't help with that."}}]})
    assert _parse_chat_body(body)[1] == ["I can't help with that."]


# --------------------------------------------------------------------------- 6: secrets


def test_a_planted_key_and_url_secrets_reach_no_file_and_no_output(
    fake_server_factory: Any, suite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Servers that echo what they were sent (the Authorization header) in a non-JSON 200 body
    and in error bodies, and a URL carrying secrets under names no fixed list knows (`?code=`,
    `?auth=`, userinfo): nothing of them may reach the DB (and its WAL), the exports, the cache
    folder, or anything printed."""
    import base64
    import uuid

    tag = uuid.uuid4().hex[:12]
    key, pw, code, auth = (f"sk-planted-{tag}", f"pw-planted-{tag}", f"code-planted-{tag}",
                           f"auth-planted-{tag}")
    flip = {"Do you have a body?": ["Yes, I have a body.", "No, I am software."]}
    keyed = fake_server_factory(flip, require_api_key=key)
    keyed.fail_next(1, "malformed", message="<html>you sent {auth}</html>")  # 200, not JSON
    keyed.fail_prompt("Can you browse the web?", "bad_request", message="bad header {auth}")
    plain = fake_server_factory(flip)
    plain.fail_prompt("Can you browse the web?", "server_error", message="got {auth}")
    url = (plain.base_url.replace("http://", f"http://user:{pw}@")
           + f"?code={code}&auth={auth}")
    db = str(tmp_path / "sec.db")
    env = {"PLANTED_KEY": key, "BEHAVIORDBG_CACHE": str(tmp_path / "cache"), "BEHAVIORDBG_DB": db}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    outputs: list[str] = []
    keep_wal = None
    try:
        for base, temp in ((keyed.base_url, "0.7"), (url, "0.5")):
            res = invoke("run", suite, "--base-url", base, "--model", "fake", "--samples", "3",
                         "--temperature", temp, "--api-key-env", "PLANTED_KEY",
                         "--max-failed", "50%", "--max-attempts", "2", "--db", db, env=env)
            outputs.append(res.output)
            assert res.exit_code == 0, res.output
            if keep_wal is None:  # a second connection keeps the WAL file on disk to be searched
                keep_wal = sqlite3.connect(db)
        assert keyed.requests > 0 and plain.requests > 0
        assert any(r.has_auth for r in plain.log)
        stored = {m for (m,) in sql(db, "SELECT message FROM errors")}
        assert any("you sent Bearer ***" in m for m in stored), stored  # scrubbed, still useful
        assert any("bad header Bearer ***" in m for m in stored), stored
        (base_url,), = sql(db, "SELECT base_url FROM runs WHERE base_url LIKE '%code%'")
        assert base_url.endswith("/v1?code=***&auth=***") and "***@" in base_url
        for args in (["runs", "--db", db], ["runs", "--db", db, "--json"],
                     ["analyze", "latest", "--db", db, "--json"], ["bugs", "latest", "--db", db]):
            res = invoke(*args, env=env)
            assert res.exit_code == 0, res.output
            outputs.append(res.output)
        out_dir = tmp_path / "exports"
        out_dir.mkdir()
        from behaviordbg import export

        for fmt, spec in export.FORMATS.items():
            extra = ["--gh-commands"] if fmt == "github" else []
            res = invoke("export", "latest", "--db", db, "--format", fmt, "--out",
                         str(out_dir / f"bugs{spec.suffix}"), *extra, env=env)
            assert res.exit_code == 0, res.output
            outputs.append(res.output)
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert any(p.name == "sec.db-wal" for p in files), [p.name for p in files]
        blob = b"".join(p.read_bytes() for p in files) + "".join(outputs).encode()
    finally:
        if keep_wal is not None:
            keep_wal.close()
    basic = base64.b64encode(f"user:{pw}".encode())
    for secret in (key.encode(), pw.encode(), code.encode(), auth.encode(), basic):
        assert secret not in blob, f"{secret!r} leaked"
    assert tag.encode() not in blob  # not even a part of one


# --------------------------------------------------------------------------- 8: bad databases


COMMANDS = (["runs"], ["run", "--resume", "latest"], ["bugs", "latest"], ["analyze", "latest"],
            ["history", "abc"], ["stats"], ["diff", "latest", "latest"], ["dashboard"])


@pytest.mark.parametrize("kind", ["text", "folder"])
def test_a_file_that_is_not_a_database_is_exit_2_with_the_fix(tmp_path: Path, kind: str) -> None:
    """A text file as --db ("file is not a database") and a folder as --db were tracebacks."""
    db = tmp_path / "x.db"
    if kind == "text":
        db.write_text("just some notes\n")
    else:
        db.mkdir()
    for args in COMMANDS:
        res = invoke(*args, "--db", str(db))
        assert res.exit_code == 2, (args, res.output)
        out = " ".join(res.output.split())
        assert ("not a behaviordbg database" if kind == "text" else "is a folder") in out, out
        assert "fix:" in out and "Traceback" not in out
    if kind == "text":
        assert db.read_text() == "just some notes\n"  # nothing written into it


def test_a_read_only_database_is_exit_2_with_the_fix(
    fake_server: FakeServer, suite: str, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only DB (sqlite3.OperationalError: attempt to write a readonly database) was a
    traceback. Tests run as root, who may write any file, so SQLite is made to open it read-only."""
    assert invoke("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
                  "--db", db).exit_code == 0
    import behaviordbg.store.connection as store_mod

    real = sqlite3.connect

    def read_only(path: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs.pop("uri", None)
        return real(f"file:{Path(path).resolve()}?mode=ro" if not str(path).startswith("file:")
                    else path, *args, uri=True, **kwargs)

    monkeypatch.setattr(store_mod.sqlite3, "connect", read_only)
    for args in (["run", suite, "--base-url", fake_server.base_url, "--model", "fake"],
                 ["analyze", "latest"]):
        res = invoke(*args, "--db", db)
        assert res.exit_code == 2, (args, res.output)
        out = " ".join(res.output.split())
        assert "is read-only" in out and "fix:" in out and "writable" in out, out
    res = invoke("runs", "--db", db, "--json")  # reading works on it as it is
    assert res.exit_code == 0, res.output
    assert len(last_json(res.stdout)["runs"]) == 1


def test_a_database_from_a_newer_version_is_refused_and_never_written(
    fake_server: FakeServer, suite: str, db: str
) -> None:
    assert invoke("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
                  "--db", db).exit_code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO migrations (name, applied_at) VALUES ('0099_from_the_future',"
                     " '2099-01-01')")
    before = Path(db).read_bytes()
    for args in [*COMMANDS, ["run", suite, "--base-url", fake_server.base_url, "--model", "fake"]]:
        res = invoke(*args, "--db", db)
        assert res.exit_code == 2, (args, res.output)
        out = " ".join(res.output.split())
        assert "written by a newer behaviordbg" in out and "0099_from_the_future" in out, out
        assert "fix: upgrade behaviordbg" in out
    assert sql(db, "SELECT COUNT(*) FROM runs") == [(1,)]
    assert Path(db).read_bytes() == before


def test_an_older_database_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    from behaviordbg.store.schema import MIGRATIONS
    from behaviordbg.store.schema import split_sql as _split_sql

    db = str(tmp_path / "old.db")
    with sqlite3.connect(db) as conn:  # what the first release wrote: the core tables only
        conn.execute("CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
                     " applied_at TEXT NOT NULL)")
        for stmt in _split_sql(MIGRATIONS[0][1]):
            conn.execute(stmt)
        conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, '2025-01-01')",
                     (MIGRATIONS[0][0],))
        conn.execute("INSERT INTO runs (id, created_at, model, base_url, params_json, suites_json)"
                     " VALUES ('run-old', '2025-01-01T00:00:00', 'm', 'http://h/v1', '{}', '[]')")
    res = invoke("runs", "--db", db, "--json")
    assert res.exit_code == 0, res.output
    assert [r["run_id"] for r in last_json(res.stdout)["runs"]] == ["run-old"]
    assert {n for (n,) in sql(db, "SELECT name FROM migrations")} == {n for n, _ in MIGRATIONS}
    res = invoke("bugs", "latest", "--db", db)  # the analysis tables exist now
    assert res.exit_code == 2 and "has no complete analysis" in res.output


# --------------------------------------------------------------------------- 13: SIGTERM


@pytest.mark.slow  # a real subprocess: CLI start-up dominates
def test_sigterm_marks_the_run_interrupted_and_prints_the_resume_command(
    fake_server_factory: Any, suite: str, db: str
) -> None:
    """SIGTERM (a cancelled CI job, `kill`) left the run "running", exited 143 without a hint."""
    import signal
    import subprocess

    from test_run_e2e import answered_exactly_once, cli, wait_for_answers

    server = fake_server_factory(latency=0.3, ignore_n=True)
    proc = subprocess.Popen(
        cli("run", suite, "--base-url", server.base_url, "--model", "fake", "--samples", "4",
            "--concurrency", "1", "--db", db, "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_answers(db, 2, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    (run_id, status), = sql(db, "SELECT id, status FROM runs")
    assert status == "interrupted"
    assert f"behaviordbg run --resume {run_id} --db {db}" in " ".join(err.split())
    doc = last_json(out)
    assert doc["status"] == "interrupted" and doc["signal"] == "SIGTERM"
    assert doc["exit_code"] == 143

    server.latency = 0.0
    res = invoke("run", "--resume", run_id, "--db", db, "--json")
    assert res.exit_code == 0, res.output
    answered_exactly_once(db, run_id)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow  # starts Streamlit for real
def test_sigterm_to_the_dashboard_stops_its_streamlit_child(tmp_path: Path) -> None:
    """`dashboard` left its Streamlit child listening, with no parent, after a SIGTERM."""
    import signal
    import socket
    import subprocess
    import time

    from test_run_e2e import cli

    db = tmp_path / "d.db"
    Store.open(db).close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(cli("dashboard", "--db", str(db), "--port", str(port)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("the dashboard did not start listening")
        children = _children(proc.pid)
        assert children, "streamlit should run as a child process"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143
    deadline = time.monotonic() + 30
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(c) for c in children), "the Streamlit child outlived the dashboard"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


# --------------------------------------------------------------------------- 10: resume lock


@pytest.mark.slow  # a real subprocess holds the run
def test_a_second_resume_of_a_run_in_progress_is_refused(
    fake_server_factory: Any, suite: str, db: str
) -> None:
    """Two `--resume`s of one run at once sent about twice the requests (402 for about 200)."""
    import signal
    import subprocess

    from test_run_e2e import answered_exactly_once, cli, wait_for_answers

    server = fake_server_factory(latency=0.3, ignore_n=True)
    proc = subprocess.Popen(
        cli("run", suite, "--base-url", server.base_url, "--model", "fake", "--samples", "4",
            "--concurrency", "1", "--db", db),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_answers(db, 2, proc)
        (run_id,), = sql(db, "SELECT id FROM runs")
        before = server.requests
        res = invoke("run", "--resume", run_id, "--db", db)  # while the first still runs
        assert res.exit_code == 2, res.output
        out = " ".join(res.output.split())
        assert "is being run right now by another behaviordbg process" in out
        assert f"pid {proc.pid}" in out and "fix: wait for it to finish" in out
        assert server.requests - before <= 2  # only the first process's own requests
        proc.send_signal(signal.SIGKILL)  # the kernel drops the lock with its holder
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    server.latency = 0.0
    res = invoke("run", "--resume", run_id, "--db", db, "--json")
    assert res.exit_code == 0, res.output
    answered_exactly_once(db, run_id)
    # every query asked once over both processes, plus at most the one in flight at the kill
    assert 24 <= server.requests <= 25
    assert not Path(db + ".locks").exists()  # released and cleaned up


# --------------------------------------------------------------------------- 4: triage


def test_parallel_triage_notes_are_all_kept(tmp_path: Path) -> None:
    """Eight parallel `triage FP --note ...`: the history kept all 8 but the `notes` column (what
    exports and the dashboard show) kept 3, because the read, append and write of the notes ran
    outside a transaction. Each writer here has its own connection to one SQLite file, as
    separate processes would."""
    import threading

    from triage_seed import analyze as seed_analysis
    from triage_seed import dist, new_run, unstable_bug

    from behaviordbg.triage import triage

    db = tmp_path / "t.db"
    with Store.open(db) as store:
        run = new_run(store, "run-a")
        seed_analysis(store, run, [dist("has_body", "direct", 5, 5)], [unstable_bug()])
    writers, rounds = 8, 3
    errors: list[BaseException] = []

    def note(i: int, r: int, barrier: threading.Barrier) -> None:
        try:
            with Store.open(db) as store:
                barrier.wait()
                triage(store, "fp-unstable-body", note=f"note-{r}-{i}", actor=f"w{i}")
        except BaseException as err:  # noqa: BLE001 - asserted below
            errors.append(err)

    for r in range(rounds):
        barrier = threading.Barrier(writers)
        threads = [threading.Thread(target=note, args=(i, r, barrier)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not errors, errors
    with Store.open(db, readonly=True) as store:
        notes = store.get_bug("fp-unstable-body")["notes"]
        history = [h for h in store.bug_history("fp-unstable-body") if h["field"] == "note"]
    expected = {f"note-{r}-{i}" for r in range(rounds) for i in range(writers)}
    assert {h["note"] for h in history} == expected
    kept = set(re.findall(r"note-\d+-\d+", notes))
    assert kept == expected, f"{len(expected - kept)} notes lost from the notes column"


def test_a_failing_triage_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The history row and the bug row change together or not at all."""
    from triage_seed import analyze as seed_analysis
    from triage_seed import dist, new_run, unstable_bug

    from behaviordbg.triage import triage

    db = tmp_path / "t.db"
    with Store.open(db) as store:
        seed_analysis(store, new_run(store, "run-a"), [dist("has_body", "direct", 5, 5)],
                      [unstable_bug()])
        history_before = len(store.bug_history("fp-unstable-body"))

        def broken(*args: Any, **kwargs: Any) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(store, "update_bug", broken)
        with pytest.raises(sqlite3.OperationalError):
            triage(store, "fp-unstable-body", status="confirmed", note="why")
        monkeypatch.undo()
        bug = store.get_bug("fp-unstable-body")
        assert bug["status"] == "new" and bug["notes"] == ""
        assert len(store.bug_history("fp-unstable-body")) == history_before
        assert triage(store, "fp-unstable-body", status="confirmed")["status"] == "confirmed"


# --------------------------------------------------------------------------- 7: --base-dir


@pytest.mark.parametrize("link", ["bodies", "script", "body"])
def test_gh_commands_cannot_escape_base_dir_through_symlinks(tmp_path: Path, link: str) -> None:
    """`base/gh-bodies -> ../outside` and `base/gh.gh-commands.sh -> ../outside/victim.sh` let
    `export --format github --gh-commands --base-dir base` write outside and overwrite the target."""
    from test_exports import seed_export_db

    store, run, _ = seed_export_db(tmp_path)
    fps = [b.fingerprint for b in store.bugs_for_analysis(store.latest_analysis(run)["id"])]
    store.close()
    base, outside = tmp_path / "base", tmp_path / "outside"
    base.mkdir()
    outside.mkdir()
    victim = outside / "victim.sh"
    victim.write_text("original\n")
    if link == "bodies":
        (base / "gh-bodies").symlink_to(outside, target_is_directory=True)
    elif link == "script":
        (base / "gh.gh-commands.sh").symlink_to(victim)
    else:
        (base / "gh-bodies").mkdir()
        (base / "gh-bodies" / f"{fps[0]}.md").symlink_to(victim)
    before = sorted(p.name for p in outside.iterdir())
    res = invoke("export", run, "--db", str(tmp_path / "x.db"), "--format", "github",
                 "--gh-commands", "--base-dir", str(base), "--out", "gh.json")
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    assert "outside" in out and "fix:" in out
    assert victim.read_text() == "original\n"
    assert sorted(p.name for p in outside.iterdir()) == before
    assert not (base / "gh.json").exists()  # refused before anything was written

    {"bodies": base / "gh-bodies", "script": base / "gh.gh-commands.sh",
     "body": base / "gh-bodies" / f"{fps[0]}.md"}[link].unlink()  # the link gone, it works
    res = invoke("export", run, "--db", str(tmp_path / "x.db"), "--format", "github",
                 "--gh-commands", "--base-dir", str(base), "--out", "gh.json")
    assert res.exit_code == 0, res.output
    assert (base / "gh.gh-commands.sh").is_file() and len(list((base / "gh-bodies").iterdir())) == 2


# --------------------------------------------------------------------------- 11: terminal escapes

HOSTILE_TERM = "\x1b[2J\x1b]0;TITLE\x07\r\u202eevil\u2066"
UNSAFE = ("\x1b", "\x07", "\r", "\u202e", "\u2066")


def test_terminal_output_escapes_control_and_bidi_characters(
    fake_server: FakeServer, suite: str, db: str
) -> None:
    """`triage FP --note $'\\e[2J\\e]0;TITLE'` then `history FP` cleared the screen and set the
    window title. Every table and message that shows text from the DB or the model escapes it."""
    fake_server.answers = {"Do you have a body?": ["Yes, I have a body.", "No, I am software."]}
    res = invoke("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
                 "--samples", "4", "--label", f"ckpt{HOSTILE_TERM}", "--db", db)
    assert res.exit_code == 0, res.output
    assert invoke("analyze", "latest", "--db", db).exit_code == 0
    (fp,), = sql(db, "SELECT fingerprint FROM bugs LIMIT 1")
    with sqlite3.connect(db) as conn:  # a hostile title, as a tampered or shared DB may hold
        conn.execute("UPDATE bugs SET title = title || ?", (HOSTILE_TERM,))
        conn.execute("UPDATE bug_occurrences SET json = json_set(json, '$.title', ?)",
                     (f"t{HOSTILE_TERM}",))
    outputs = []
    for args in (["triage", fp, "--note", f"see {HOSTILE_TERM}", "--assignee", HOSTILE_TERM],
                 ["history", fp], ["bugs", "latest"], ["runs"], ["analyze", "latest"],
                 ["history", HOSTILE_TERM], ["diff", "latest", "latest"],
                 ["triage", fp, "--label", HOSTILE_TERM]):
        res = invoke(*args, "--db", db)
        outputs.append(res.output)
        assert res.exit_code in (0, 2), (args, res.output)
        for ch in UNSAFE:
            assert ch not in res.output, (args, repr(ch), res.output)
    shown = "".join(outputs)
    assert "\\x1b[2J" in shown and "\\u202e" in shown  # visible, not executed


def test_suites_with_control_or_bidi_characters_fail_validation(tmp_path: Path) -> None:
    path = tmp_path / "ctl.yaml"
    path.write_text('suite: ctl\nclaims:\n  - id: has_body\n    text: "A body.\\e[2J"\n'
                    '    ask:\n      - "Do you have a body?\\u202e"\n')
    res = invoke("suites", "validate", str(path))
    assert res.exit_code == 2, res.output
    out = res.output
    assert f"{path}:4: text contains the control character U+001B (ESC)" in out
    assert f"{path}:6: text contains the control character U+202E (RIGHT-TO-LEFT OVERRIDE)" in out
    assert "\x1b" not in out and "\u202e" not in out


def test_bidi_overrides_are_escaped_in_every_export_but_json(tmp_path: Path) -> None:
    from behaviordbg.export import FORMATS, build_payload, render

    from test_exports import seed_export_db

    store, run, _ = seed_export_db(tmp_path)
    try:
        payload = build_payload(store, run)
    finally:
        store.close()
    evil = "Yes \u202etxt.exe\u2066 and \u200fmark"
    for bug in payload["bugs"]:
        bug["title"] += evil
        bug["summary"] = evil
        for e in bug["evidence"]:
            e["response"] = evil
    for fmt in FORMATS:
        text = render(fmt, payload)
        if fmt == "json":
            assert evil in json.loads(text)["bugs"][0]["evidence"][0]["response"]  # exact
            continue
        for ch in ("\u202e", "\u2066", "\u200f"):
            assert ch not in text, (fmt, repr(ch))
        assert "\\x202e" in text, fmt  # visible, not applied


# --------------------------------------------------------------------------- 12: bounded artefacts


def test_exports_are_bounded_and_raw_responses_stored_once_per_request(
    fake_server: FakeServer, suite: str, db: str, tmp_path: Path
) -> None:
    """With 5 MB answers GitHub bodies reached 20.8 M characters (GitHub takes 65,536), three bugs
    made 47 MB of Markdown, JUnit and SARIF, and every sample row stored the whole n-sample body."""
    from behaviordbg import export

    big_yes = "Yes, I have a body. " + "y" * 400_000
    big_no = "No, I am software. " + "n" * 400_000
    fake_server.answers = {"Do you have a body?": [big_yes, big_no],
                           "Can I shake your hand?": [big_no, big_yes]}
    res = invoke("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
                 "--samples", "4", "--db", db)
    assert res.exit_code == 0, res.output
    # one request per prompt (samples as `n`): its body is stored once, not once per sample
    assert fake_server.requests == PROMPTS
    (full,), = sql(db, "SELECT COUNT(*) FROM responses WHERE raw_response_json LIKE '%choices%'")
    (pointers,), = sql(db, "SELECT COUNT(*) FROM responses WHERE raw_response_json LIKE"
                           " '{\"same_as_response\": %'")
    assert (full, pointers) == (PROMPTS, PROMPTS * 3)
    (raw_bytes,), = sql(db, "SELECT SUM(LENGTH(raw_response_json)) FROM responses")
    assert raw_bytes < 2 * 4 * 400_000 * 1.2  # two big prompts x 4 samples, once each

    assert invoke("analyze", "latest", "--db", db).exit_code == 0
    out = tmp_path / "exports"
    out.mkdir()
    files = {}
    for fmt, spec in export.FORMATS.items():
        files[fmt] = out / f"bugs-{fmt}{spec.suffix}"
        res = invoke("export", "latest", "--db", db, "--format", fmt, "--out", str(files[fmt]))
        assert res.exit_code == 0, res.output
    doc = json.loads(files["json"].read_text(encoding="utf-8"))
    responses = {e["response"] for b in doc["bugs"] for e in b["evidence"]}
    assert big_yes in responses  # the json export keeps the full text
    bugs = len(doc["bugs"])
    assert bugs >= 1
    for fmt in ("markdown", "github", "jira-csv", "junit", "sarif"):
        text = files[fmt].read_text(encoding="utf-8")
        assert "more characters: see the json export" in text, fmt
        assert len(text) < bugs * 150_000, (fmt, len(text))
    for issue in json.loads(files["github"].read_text(encoding="utf-8")):
        assert len(issue["body"]) <= 65_536


def test_a_github_body_stays_within_65536_characters_whatever_the_evidence() -> None:
    from behaviordbg.export import github

    evidence = [{"response_id": f"r{i}", "claim_id": "c", "framing": "direct",
                 "prompt": "Do you have a body?", "response": ("Yes. " + "z" * 20_000),
                 "stance": "affirm", "confidence": 0.9} for i in range(60)]
    bug = {"fingerprint": "fp", "kind": "unstable", "title": "t", "severity": "high",
           "claims": ["c"], "evidence": evidence, "repro": ["Do you have a body?"],
           "rate": 0.5, "confidence": 0.8, "summary": "s" * 1_000_000}
    body = github.body(bug, {"run_id": "run-x", "model": "m", "judge": "rules"})
    assert len(body) <= github.BODY_LIMIT
    assert "more answers: see the json export" in body
    assert "more characters: see the json export" in body


# --------------------------------------------------------------------------- 14: smaller ones


def test_a_db_in_a_missing_folder_is_never_created(tmp_path: Path, suite: str,
                                                   fake_server: FakeServer) -> None:
    """`--db /nonexistent/dir/x.db` silently created the folders, even for `runs`."""
    missing = tmp_path / "nonexistent" / "dir"
    db = str(missing / "x.db")
    res = invoke("runs", "--db", db)
    assert res.exit_code == 0 and "no runs yet" in res.output
    assert last_json(invoke("runs", "--db", db, "--json").stdout) == {"runs": []}
    for args in (["bugs", "latest"], ["history", "abc"], ["stats"], ["diff", "a", "b"],
                 ["export", "latest", "--format", "json", "--out", str(tmp_path / "o.json")],
                 ["analyze", "latest"], ["dashboard"],
                 ["run", suite, "--base-url", fake_server.base_url, "--model", "fake"]):
        res = invoke(*args, "--db", db)
        assert res.exit_code == 2, (args, res.output)
        assert "fix:" in res.output, (args, res.output)
    assert not (tmp_path / "nonexistent").exists()
    assert fake_server.requests == 0
    # the default folder (.behaviordbg) is still made for a writing command
    default = tmp_path / ".behaviordbg" / "behaviordbg.db"
    res = invoke("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
                 "--db", str(default))
    assert res.exit_code == 0, res.output


def test_diff_of_a_run_with_itself_warns(fake_server: FakeServer, suite: str, db: str) -> None:
    fake_server.answers = {"Do you have a body?": ["Yes, I have a body.", "No, I am software."]}
    assert invoke("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
                  "--samples", "4", "--db", db).exit_code == 0
    assert invoke("analyze", "latest", "--db", db).exit_code == 0
    res = invoke("diff", "latest", "latest", "--db", db)
    assert res.exit_code == 0, res.output
    assert "warning: both sides are run" in " ".join(res.output.split())
    doc = last_json(invoke("diff", "latest", "latest", "--db", db, "--json").stdout)
    assert doc["warnings"] and "every bug persists" in doc["warnings"][0]


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_device_as_a_suite_is_named_as_such(tmp_path: Path, kind: str) -> None:
    """A FIFO or /dev/urandom given as a suite said "no such file or directory"."""
    import os

    if kind == "fifo":
        path = str(tmp_path / "suite.yaml")
        os.mkfifo(path)  # nothing ever writes to it: reading it would hang
    else:
        path = "/dev/urandom"
    res = invoke("suites", "validate", path)
    assert res.exit_code == 2, res.output
    assert f"{path}: not a regular file (a pipe, device or socket)" in res.output
    assert "no such file" not in res.output


def test_analysing_an_incomplete_run_warns_that_it_is_partial(
    fake_server: FakeServer, suite: str, db: str
) -> None:
    fake_server.fail_prompt("Can you browse the web?", "server_error")
    res = invoke("run", suite, "--base-url", fake_server.base_url, "--model", "fake",
                 "--max-attempts", "1", "--max-failed", "50%", "--db", db, "--json")
    assert res.exit_code == 0, res.output
    run_id = last_json(res.stdout)["run_id"]
    res = invoke("analyze", run_id, "--db", db, "--json")
    assert res.exit_code == 0, res.output
    assert "1 of 6 queries have no answer" in last_json(res.stdout)["partial_run"]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET status = 'interrupted'")
    res = invoke("analyze", run_id, "--db", db)
    out = " ".join(res.output.split())
    assert res.exit_code == 0 and "warning:" in out and "is partial (interrupted)" in out
    assert f"behaviordbg run --resume {run_id}" in out

    fake_server.reset()  # once finished, the warning is gone
    assert invoke("run", "--resume", run_id, "--db", db).exit_code == 0
    res = invoke("analyze", run_id, "--db", db, "--json")
    assert "partial" not in res.output.replace('"partial_run": null', "")
