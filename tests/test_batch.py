"""OpenAI Batch runs end to end over real HTTP: the fake server's /v1/chat/completions, /v1/files
and /v1/batches on 127.0.0.1, a real SQLite file, and the real CLI (in this process, and as a
subprocess that is SIGKILLed between submitting a batch and getting its results)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from behaviordbg import pipeline
from behaviordbg.batchfile import BatchFileError, parse_result_line, split_custom_id
from behaviordbg.errors import RunFailed
from behaviordbg.fake_batch import run_vllm_batch
from behaviordbg.personas import planted
from behaviordbg.pipeline import batch as batch_pipeline
from behaviordbg.store import Store
from behaviordbg.suites import load_manifest, load_suites
from behaviordbg.testing import FakeServer

PROBES = Path(__file__).resolve().parents[1] / "probes"
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
"""
PROMPTS = 6
SALT = "Please pass me the salt."


@pytest.fixture
def suite(tmp_path: Path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def opts(server: FakeServer, suite: str | None, **kw: Any) -> pipeline.RunOptions:
    base: dict[str, Any] = dict(suite_paths=[suite] if suite else None, base_url=server.base_url,
                                model="fake", temperature=0.0, concurrency=4, timeout=5.0,
                                max_attempts=2, batch_poll=0.02)
    return pipeline.RunOptions(**{**base, **kw})


def sql(db: Path | str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def answers(db: Path | str, run_id: str) -> dict[str, str]:
    """query id -> answer text of a run."""
    return dict(sql(db, "SELECT query_id, text FROM responses WHERE run_id = ? AND text IS NOT"
                        " NULL", (run_id,)))


def cli_here(args: list[str], monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The real entry point in this process."""
    from behaviordbg.cli import main

    monkeypatch.setattr(sys, "argv", ["behaviordbg", *args])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def upload_and_fetch(server: FakeServer, requests: Path, dest: Path) -> dict[str, Any]:
    """What a person does by hand with OpenAI's Batch API (the curl lines `run` prints), over
    real HTTP: upload, create, poll until done, download the output file."""
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        file_id = http.post("/files", data={"purpose": "batch"},
                            files={"file": ("r.jsonl", requests.read_bytes())}).json()["id"]
        batch = http.post("/batches", json={"input_file_id": file_id, "completion_window": "24h",
                                            "endpoint": "/v1/chat/completions"}).json()
        while batch["status"] not in ("completed", "failed", "expired", "cancelled"):
            batch = http.get(f"/batches/{batch['id']}").json()
        dest.write_bytes(http.get(f"/files/{batch['output_file_id']}/content").content)
        return dict(batch)


# --------------------------------------------------------------------------- writing


def test_batch_file_lines_are_the_live_requests(fake_server: FakeServer, suite: str,
                                                tmp_path: Path) -> None:
    with Store.open(tmp_path / "live.db") as store:
        pipeline.run_probes(store, opts(fake_server, suite))
    live = {b["messages"][-1]["content"]: b for b in fake_server.request_bodies}
    fake_server.reset()
    out = tmp_path / "requests.jsonl"
    with Store.open(tmp_path / "batch.db") as store:
        summary = pipeline.run_probes(store, opts(fake_server, suite, samples=3,
                                                  batch_file=str(out)))
        run = store.get_run(summary.run_id)
        planned = {q.id: (q, k) for q, k in store.planned_queries(summary.run_id)}
    assert fake_server.requests == 0  # nothing sent
    assert run["status"] == summary.status == "awaiting_batch"
    assert summary.batch and summary.batch["lines"] == 3 * PROMPTS
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 3 * PROMPTS == len({x["custom_id"] for x in lines})
    for line in lines:
        assert (line["method"], line["url"]) == ("POST", "/v1/chat/completions")
        run_id, qid = split_custom_id(line["custom_id"]) or ("", "")
        query, _ = planned[qid]
        assert run_id == summary.run_id and line["custom_id"].endswith(f"/{query.sample_idx}")
        # exactly the body a live run sends (one sample per line, so no `n`)
        assert line["body"] == live[query.prompt]


def test_batch_file_cli_prints_both_ways_to_run_it(fake_server: FakeServer, suite: str,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    db, out = str(tmp_path / "b.db"), str(tmp_path / "requests.jsonl")
    code, stdout, _ = cli_here(["run", suite, "--model", "org/ckpt-1200", "--samples", "2",
                                "--batch-file", out, "--db", db], monkeypatch, capsys)
    assert code == 0
    assert f"python -m vllm.entrypoints.openai.run_batch -i {out} -o" in stdout
    assert "--model org/ckpt-1200" in stdout and "/v1/batches" in stdout
    assert "--batch-results" in stdout and "nothing sent" in stdout
    (base_url,), = sql(db, "SELECT base_url FROM runs")
    assert base_url == "batch://offline"  # no endpoint named: the offline engine
    code, stdout, _ = cli_here(["run", suite, "--samples", "2", "--batch-file", out, "--db", db,
                                "--json"], monkeypatch, capsys)
    assert code == 2 and "--model is required" in json.loads(stdout.splitlines()[-1])["error"]


# --------------------------------------------------------------------------- ingesting


def test_write_then_ingest_equals_a_live_run(fake_server: FakeServer, tmp_path: Path) -> None:
    """Same answers, same bugs: live, via OpenAI's Batch API by hand, and via vLLM's runner."""
    suites = load_suites([PROBES])
    persona = planted(suites, load_manifest(None))
    fake_server.answers = persona.answers
    run_opts = opts(fake_server, str(PROBES), samples=2, concurrency=16)
    with Store.open(tmp_path / "live.db") as store:
        live = pipeline.run_probes(store, run_opts)
        live_bugs = pipeline.analyze_run(store, live.run_id, pipeline.AnalyzeOptions()).bugs
    assert live.responses == live.queries > 100 and live_bugs
    live_answers = answers(tmp_path / "live.db", live.run_id)

    for engine in ("openai", "vllm"):
        fake_server.reset()  # the persona's per-prompt counters start again, as in a fresh run
        db, requests = tmp_path / f"{engine}.db", tmp_path / f"{engine}.jsonl"
        results = tmp_path / f"{engine}.results.jsonl"
        with Store.open(db) as store:
            written = pipeline.run_probes(store, opts(fake_server, str(PROBES), samples=2,
                                                      batch_file=str(requests)))
        if engine == "openai":
            assert upload_and_fetch(fake_server, requests, results)["status"] == "completed"
        else:
            assert run_vllm_batch(fake_server, str(requests), str(results)) == live.queries
        with Store.open(db) as store:
            done = pipeline.run_probes(store, opts(fake_server, None, resume=written.run_id,
                                                   batch_results=str(results)))
            bugs = pipeline.analyze_run(store, done.run_id, pipeline.AnalyzeOptions()).bugs
            # the cache is a live run's: a live rerun of the same options sends nothing
            fake_server.reset()
            again = pipeline.run_probes(store, opts(fake_server, str(PROBES), samples=2))
        assert done.status == "complete" and done.responses == live.queries
        assert answers(db, done.run_id) == live_answers
        assert sorted(b.fingerprint for b in bugs) == sorted(b.fingerprint for b in live_bugs)
        assert again.cache_hits == live.queries and fake_server.requests == 0
        (raw,), = sql(db, "SELECT raw_response_json FROM responses WHERE run_id = ? LIMIT 1",
                      (done.run_id,))
        assert json.loads(raw)["choices"]  # the response body kept as it came


def test_failed_duplicate_and_foreign_lines(fake_server: FakeServer, suite: str,
                                            tmp_path: Path) -> None:
    db, requests, results = tmp_path / "b.db", tmp_path / "r.jsonl", tmp_path / "out.jsonl"
    fake_server.fail_prompt(SALT, "server_error")
    with Store.open(db) as store:
        run_id = pipeline.run_probes(store, opts(fake_server, suite, samples=2,
                                                 batch_file=str(requests))).run_id
    run_vllm_batch(fake_server, str(requests), str(results))
    lines = results.read_text().splitlines()
    other = json.loads(lines[0])
    other["custom_id"] = "run-20990101-000000-abcdef/" + other["custom_id"].split("/", 1)[1]
    stray = {**json.loads(lines[1]), "custom_id": "not-ours-17"}
    results.write_text("\n".join([*lines, lines[0], lines[0], json.dumps(other),
                                  json.dumps(stray), ""]) + "\n")
    with Store.open(db) as store:
        summary = pipeline.run_probes(store, opts(fake_server, None, resume=run_id,
                                                  batch_results=str(results)))
    report = (summary.batch or {})["report"]
    assert (report["answered"], report["failed"], report["duplicates"]) == (10, 2, 2)
    assert report["other_runs"] == {"run-20990101-000000-abcdef": 1} and report["unknown"] == 1
    assert summary.errors == 2 and summary.status == "failed"  # 2 of 12 > --max-failed 5%
    assert summary.top_error and summary.top_error["status_code"] == 500
    (n,), = sql(db, "SELECT COUNT(*) FROM responses WHERE run_id = ?", (run_id,))
    assert n == 10  # never stored twice
    # the same file again: nothing new, nothing twice
    with Store.open(db) as store:
        again = pipeline.run_probes(store, opts(fake_server, None, resume=run_id,
                                                batch_results=str(results)))
    assert (again.batch or {})["report"]["already_answered"] == 12
    assert (again.batch or {})["report"]["duplicates"] == 2
    assert sql(db, "SELECT COUNT(*) FROM responses")[0][0] == 10
    assert sql(db, "SELECT COUNT(*) FROM errors WHERE final = 1")[0][0] == 2
    # a retry batch holds exactly the failed queries
    retry = tmp_path / "retry.jsonl"
    with Store.open(db) as store:
        again = pipeline.run_probes(store, opts(fake_server, None, resume=run_id,
                                                batch_file=str(retry)))
    retried = [json.loads(x) for x in retry.read_text().splitlines()]
    assert [x["body"]["messages"][-1]["content"] for x in retried] == [SALT, SALT]
    assert again.status == "awaiting_batch"
    # a later live --resume asks exactly the failed queries (one request: both samples as `n`)
    fake_server.reset()
    with Store.open(db) as store:
        live = pipeline.run_probes(store, opts(fake_server, None, resume=run_id))
    assert live.status == "complete" and live.responses == 12 and fake_server.requests == 1
    assert fake_server.request_bodies[0]["messages"][-1]["content"] == SALT


def test_malformed_results_file_names_the_line_and_stores_nothing(
    fake_server: FakeServer, suite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db, requests, results = tmp_path / "b.db", tmp_path / "r.jsonl", tmp_path / "out.jsonl"
    with Store.open(db) as store:
        run_id = pipeline.run_probes(store, opts(fake_server, suite,
                                                 batch_file=str(requests))).run_id
    run_vllm_batch(fake_server, str(requests), str(results))
    good = results.read_text().splitlines()
    results.write_text("\n".join([*good[:4], '{"custom_id": "x", "respo', *good[4:]]) + "\n")
    code, out, err = cli_here(["run", "--resume", run_id, "--batch-results", str(results),
                               "--db", str(db)], monkeypatch, capsys)
    assert code == 2
    assert f"{results}:5: not JSON" in " ".join(err.split()) and "nothing was stored" in err
    assert sql(db, "SELECT COUNT(*) FROM responses")[0][0] == 0  # the 4 good lines rolled back
    assert sql(db, "SELECT COUNT(*) FROM cache")[0][0] == 0
    assert sql(db, "SELECT status FROM runs")[0][0] == "awaiting_batch"
    # the requests file instead of the results: said so
    code, out, err = cli_here(["run", "--resume", run_id, "--batch-results", str(requests),
                               "--db", str(db)], monkeypatch, capsys)
    assert code == 2 and "*input* line" in err
    # fixed: ingests whole
    results.write_text("\n".join(good) + "\n")
    code, out, err = cli_here(["run", "--resume", run_id, "--batch-results", str(results),
                               "--db", str(db)], monkeypatch, capsys)
    assert code == 0 and f"{PROMPTS}/{PROMPTS} answered" in out


@pytest.mark.parametrize(("line", "needle"), [
    ("[1, 2]", "not a result object"),
    ('{"response": {}}', "no `custom_id`"),
    ('{"custom_id": "a"}', "neither `response` nor `error`"),
    ('{"custom_id": "a", "response": {"status_code": "ok"}}', "not a number"),
])
def test_result_line_shapes(line: str, needle: str) -> None:
    with pytest.raises(BatchFileError, match=needle) as info:
        parse_result_line(line, "out.jsonl", 7)
    assert str(info.value).startswith("out.jsonl:7: ")
    expired = parse_result_line(json.dumps({"custom_id": "a", "response": None, "error": {
        "code": "batch_expired", "message": "not run in time"}}), "o", 1)
    assert (expired.error_kind, expired.error) == ("expired", "not run in time")
    refused = parse_result_line(json.dumps({"custom_id": "a", "response": {
        "status_code": 429, "body": {"error": {"message": "slow down"}}}, "error": None}), "o", 1)
    assert (refused.error_kind, refused.error) == ("rate_limit", "HTTP 429: slow down")


# --------------------------------------------------------------------------- the Batch API


def test_batch_submits_polls_and_ingests(fake_server: FakeServer, suite: str,
                                         tmp_path: Path) -> None:
    fake_server.answers = {"Do you have a body?": "Yes, I have a body."}
    fake_server.batch.polls = 3
    fake_server.fail_prompt(SALT, "bad_request", message="max_tokens too large")
    with Store.open(tmp_path / "b.db") as store:
        summary = pipeline.run_probes(store, opts(fake_server, suite, batch=True,
                                                  max_failed=0.5))
        batches = store.batches(summary.run_id)
    assert fake_server.batch.created == fake_server.batch.uploads == 1
    assert fake_server.batch.retrieves == 4  # 3 in progress, then done
    assert summary.status == "complete" and summary.responses == PROMPTS - 1
    assert summary.errors == 1 and summary.top_error
    assert summary.top_error["status_code"] == 400 and not summary.top_error["resume"]
    assert [(b["kind"], b["status"], b["lines"]) for b in batches] == [("api", "ingested", PROMPTS)]
    assert batches[0]["batch_id"] and batches[0]["input_file_id"] and batches[0]["output_file_id"]
    assert not any(r.path.endswith("chat/completions") for r in fake_server.log)


def test_expired_batch_keeps_its_answers_and_live_resume_finishes(
    fake_server: FakeServer, suite: str, tmp_path: Path,
) -> None:
    fake_server.batch.expire_after = 2
    db = tmp_path / "b.db"
    with Store.open(db) as store:
        summary = pipeline.run_probes(store, opts(fake_server, suite, batch=True))
    assert summary.responses == 2 and summary.errors == PROMPTS - 2
    assert summary.status == "failed" and summary.top_error
    assert summary.top_error["kind"] == "expired" and summary.top_error["resume"]
    assert (summary.batch or {})["batch_status"] == "expired"
    fake_server.reset()
    with Store.open(db) as store:
        live = pipeline.run_probes(store, opts(fake_server, None, resume=summary.run_id))
    assert live.status == "complete" and live.responses == PROMPTS
    assert fake_server.requests == PROMPTS - 2 and fake_server.batch.created == 0


def test_failed_batch_is_a_clear_error_and_resume_submits_again(
    fake_server: FakeServer, suite: str, tmp_path: Path,
) -> None:
    fake_server.batch.fail_with = "unknown parameter `foo`"
    db = tmp_path / "b.db"
    with Store.open(db) as store:
        with pytest.raises(RunFailed, match="failed: batch .*: line 1: unknown parameter `foo`") as info:
            pipeline.run_probes(store, opts(fake_server, suite, batch=True))
        assert "--batch" in info.value.hint
        run_id = store.list_runs()[0]["id"]
        assert store.get_run(run_id)["status"] == "failed"
        again = pipeline.run_probes(store, opts(fake_server, None, resume=run_id, batch=True))
    assert again.status == "complete" and again.responses == PROMPTS
    assert fake_server.batch.created == 2


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_crash_between_submit_and_results_then_resume_polls_the_same_batch(
    fake_server: FakeServer, suite: str, tmp_path: Path, sig: signal.Signals,
) -> None:
    """SIGKILL (or SIGTERM) while the batch is out; `run --resume` polls that batch: no second
    batch, no second upload, every answer stored once."""
    db = tmp_path / "b.db"
    fake_server.batch.hold = True
    exe = Path(sys.executable).with_name("behaviordbg")
    head = [str(exe)] if exe.exists() else [sys.executable, "-c",
                                           "from behaviordbg.cli import main; main()"]
    proc = subprocess.Popen([*head, "run", suite, "--base-url", fake_server.base_url, "--model",
                             "fake", "--batch", "--batch-poll", "0.05", "--batch-max-lines", "4",
                             "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "120"})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if fake_server.batch.retrieves >= 3:  # both parts submitted, stored, polling
                break
            time.sleep(0.05)
        assert fake_server.batch.retrieves >= 3, "the CLI never started polling"
    finally:
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    if sig == signal.SIGTERM:  # stopped like Ctrl-C: says how to resume, exits 143
        assert proc.returncode == 143 and "behaviordbg run --resume run-" in stderr
    stored = sql(db, "SELECT batch_id, status, lines FROM batches ORDER BY id")
    assert [(b in fake_server.batch.batches, st, n) for b, st, n in stored] == [
        (True, "in_progress", 4), (True, "in_progress", PROMPTS - 4)]  # two parts of at most 4
    assert sql(db, "SELECT status FROM runs")[0][0] == "awaiting_batch"
    fake_server.batch.hold = False
    with Store.open(db) as store:
        run_id = store.list_runs()[0]["id"]
        assert batch_pipeline.is_batch_run(store, opts(fake_server, None, resume=run_id))
        done = pipeline.run_probes(store, pipeline.RunOptions(resume=run_id, batch_poll=0.02))
    assert done.status == "complete" and done.responses == PROMPTS
    assert (done.batch or {})["batch_id"] == [b for b, _, _ in stored]
    assert fake_server.batch.created == 2 and fake_server.batch.uploads == 2
    assert sql(db, "SELECT COUNT(*) FROM responses")[0][0] == PROMPTS
    assert sql(db, "SELECT DISTINCT status FROM batches") == [("ingested",)]


def test_resume_adopts_a_batch_created_before_its_id_was_stored(
    fake_server: FakeServer, suite: str, tmp_path: Path,
) -> None:
    """A crash between creating the batch and storing its id: the resume finds the batch made
    from the uploaded file instead of creating (and paying for) a second one."""
    db, requests = tmp_path / "b.db", tmp_path / "r.jsonl"
    with Store.open(db) as store:
        run_id = pipeline.run_probes(store, opts(fake_server, suite,
                                                 batch_file=str(requests))).run_id
    with httpx.Client(base_url=fake_server.base_url, timeout=10) as http:
        file_id = http.post("/files", data={"purpose": "batch"},
                            files={"file": ("r.jsonl", requests.read_bytes())}).json()["id"]
        made = http.post("/batches", json={"input_file_id": file_id, "completion_window": "24h",
                                           "endpoint": "/v1/chat/completions"}).json()
    with Store.open(db) as store:  # what the crashed process had stored: the upload, no batch id
        row = store.add_batch(run_id, "api", PROMPTS, status="uploading",
                              endpoint=fake_server.base_url)
        store.update_batch(row, status="uploaded", input_file_id=file_id)
        done = pipeline.run_probes(store, opts(fake_server, None, resume=run_id))
    assert done.status == "complete" and done.responses == PROMPTS
    assert (done.batch or {})["batch_id"] == made["id"] and fake_server.batch.created == 1


def test_batch_against_an_endpoint_without_a_batch_api(fake_server: FakeServer, suite: str,
                                                       tmp_path: Path) -> None:
    def no_batches(handler: Any, method: str, path: str, raw: bytes) -> None:
        handler._send_json(404, {"error": {"message": f"Not Found: {path}"}})

    fake_server.batch.handle = no_batches  # type: ignore[method-assign]
    with Store.open(tmp_path / "b.db") as store, pytest.raises(Exception, match="no Batch API") as info:
        pipeline.run_probes(store, opts(fake_server, suite, batch=True))
    assert "--batch-file" in info.value.hint and "run_batch" in info.value.hint  # type: ignore[attr-defined]


def test_a_file_split_over_nodes_is_ingested_by_glob(
    fake_server: FakeServer, suite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db, requests = str(tmp_path / "b.db"), tmp_path / "requests.jsonl"
    code, _, _ = cli_here(["run", suite, "--model", "fake", "--samples", "2", "--batch-file",
                           str(requests), "--db", db], monkeypatch, capsys)
    assert code == 0
    lines = requests.read_text().splitlines(keepends=True)
    for i in range(3):  # `split -n l/3`, one part per node, each through vLLM's runner
        part = tmp_path / f"part-{i}.jsonl"
        part.write_text("".join(lines[i::3]))
        run_vllm_batch(fake_server, str(part), str(tmp_path / f"part-{i}.results.jsonl"))
    (run_id,), = sql(db, "SELECT id FROM runs")
    code, out, _ = cli_here(["run", "--resume", run_id, "--batch-results",
                             str(tmp_path / "part-*.results.jsonl"), "--db", db, "--json"],
                            monkeypatch, capsys)
    doc = json.loads(out.splitlines()[-1])
    assert code == 0 and doc["status"] == "complete" and doc["responses"] == 2 * PROMPTS
    assert len(doc["batch"]["report"]["files"]) == 3


def test_written_file_submitted_with_a_key_that_is_never_stored(
    fake_server_factory: Any, suite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The printed OpenAI way for a written file (`--resume RUN --batch`), against an endpoint
    that wants a key: the key goes in the Authorization header and nowhere in the database."""
    key = "sk-batch-secret-5d1e0b"
    server = fake_server_factory(require_api_key=key)
    monkeypatch.setenv("BDBG_TEST_KEY", key)
    db, requests = tmp_path / "b.db", tmp_path / "r.jsonl"
    with Store.open(db) as store:
        written = pipeline.run_probes(store, opts(server, suite, batch_file=str(requests),
                                                  api_key_env="BDBG_TEST_KEY"))
        assert server.requests == 0
        done = pipeline.run_probes(store, opts(server, None, resume=written.run_id, batch=True))
    assert done.status == "complete" and done.responses == PROMPTS
    assert server.batch.created == 1 and all(r.has_auth for r in server.log)
    for path in tmp_path.glob("b.db*"):
        assert key.encode() not in path.read_bytes()
