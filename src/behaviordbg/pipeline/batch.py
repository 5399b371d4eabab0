"""Batch runs: a run's queries as OpenAI Batch JSONL, for OpenAI's Batch API or vLLM's batch runner.

Three ways in, one run and one cache, the same as a live run's:

- `--batch-file F`: write every unanswered query (one line per sample, the exact body a live run
  sends) and record the run as `awaiting_batch`; nothing is sent.
- `--resume RUN --batch-results F`: ingest an output file from either engine, in one transaction
  (a malformed line rolls it all back and names its line). Failed lines become failed queries,
  which a live `--resume` asks again; duplicates, other runs' lines and unknown ids are counted
  and never stored twice.
- `--batch`: upload, create, store the batch id, then poll with backoff; `--resume` after any
  crash polls the same batch (or adopts the one made from the uploaded file), never a second one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..batchfile import (
    OPENAI_MAX_BYTES,
    OPENAI_MAX_LINES,
    BatchFileError,
    parse_result_line,
    request_line,
    split_custom_id,
)
from ..config import RunOptions
from ..errors import BehaviordbgError, RunFailed
from ..locks import run_lock
from ..store import BatchRecord, Store
from ..types import GenParams, Query
from ..urls import check_base_url
from .probe import (
    RunInterrupted,
    RunSummary,
    create_planned_run,
    finish_run,
    gen_params,
    plan,
    response_id,
)
from .progress import NullProgress, ProgressSink

if TYPE_CHECKING:
    from ..batch_api import BatchClient

OFFLINE_URL = "batch://offline"
"""The base URL of a batch run written without --base-url (for vLLM's offline runner): what its
answers are cached under, and why finishing it live needs --base-url."""
MAX_POLL_S = 60.0
POLL_FAILURES = 8  # transient polling failures in a row before giving up (the batch id is kept)
CHUNK = 2000  # result rows per bulk insert


@dataclass
class IngestReport:
    """What an ingest did with each line of the results file(s)."""

    files: list[str] = field(default_factory=list)
    lines: int = 0
    answered: int = 0  # new answers stored
    failed: int = 0  # failed lines, stored as failed queries
    duplicates: int = 0  # a second line for a query this ingest already had
    already_answered: int = 0  # the query had an answer (or the same failure) before the ingest
    unknown: int = 0  # custom_ids that name no query of this run
    other_runs: dict[str, int] = field(default_factory=dict)  # run id -> lines of that run
    unknown_examples: list[str] = field(default_factory=list)
    missing: int = 0  # queries of the run still without an answer or a failure
    seconds: float = 0.0

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "lines_per_s": round(self.lines_per_s)}


def is_batch_run(store: Store, opts: RunOptions) -> bool:
    """Whether this run goes through a batch: a batch option, or a resume of a run whose API batch
    has not been ingested yet (which must poll that batch, never ask live or pay twice)."""
    if opts.batch_file or opts.batch_results or opts.batch:
        return True
    if opts.resume and store.has_table("batches"):
        return store.open_api_batch(store.get_run(opts.resume)["id"]) is not None
    return False


def run_batch(store: Store, opts: RunOptions, progress: ProgressSink | None = None) -> RunSummary:
    """Write, ingest or submit-and-poll, as the options say (see the module docstring)."""
    _check_options(opts)
    sink: ProgressSink = progress or NullProgress()
    t0 = time.perf_counter()
    if opts.resume:
        run = store.get_run(opts.resume)
        run_id = run["id"]
        with run_lock(store.path, run_id):
            params = gen_params(run)
            if opts.batch_results:
                report = ingest_files(store, run_id, params, results_paths(opts.batch_results),
                                      sink)
                return _after_ingest(store, run_id, params, opts, t0, report)
            if opts.batch_file:
                return _write(store, run_id, params, opts, t0)
            return _submit_or_poll(store, run_id, params, opts, t0, sink)
    planned_run = plan(opts)
    url = opts.base_url or OFFLINE_URL
    if opts.batch_file:
        _writable_target(opts.batch_file)
    run_id, params, planned = create_planned_run(store, opts, planned_run, url, str(opts.model),
                                                 None, status="awaiting_batch")
    with run_lock(store.path, run_id):
        if opts.batch_file:
            return _write(store, run_id, params, opts, t0, planned)
        return _submit_or_poll(store, run_id, params, opts, t0, sink)


def results_paths(given: str | list[str]) -> list[str]:
    """The results files named: paths, or glob patterns (`'out/part-*.results.jsonl'`, quoted) for
    the outputs of a file split over several nodes, in sorted order."""
    import glob

    paths: list[str] = []
    for item in [given] if isinstance(given, str) else given:
        if any(ch in item for ch in "*?["):
            found = sorted(glob.glob(item))
            if not found:
                raise BehaviordbgError(f"no results file matches {item}",
                                       hint="check the pattern (quote it, so behaviordbg expands"
                                       " it rather than the shell)")
            paths += found
        else:
            paths.append(item)
    return list(dict.fromkeys(paths))


def _check_options(opts: RunOptions) -> None:
    chosen = [name for name, on in (("--batch-file", opts.batch_file), ("--batch", opts.batch),
                                    ("--batch-results", opts.batch_results)) if on]
    if len(chosen) > 1:
        raise BehaviordbgError(f"{' and '.join(chosen)} do not go together",
                               hint="write a file (--batch-file), submit to a Batch API (--batch)"
                               " or ingest results (--resume RUN --batch-results), one at a time")
    if opts.batch_results and not opts.resume:
        raise BehaviordbgError("--batch-results needs the run it answers",
                               hint="pass --resume RUN --batch-results FILE (RUN is printed when"
                               " the batch file is written; see `behaviordbg runs`)")
    if opts.resume:
        return
    if not opts.model:
        raise BehaviordbgError(
            "--model is required for a batch run: it goes in every request body",
            hint="pass the model id the engine serves, e.g. --model gpt-4o-mini (OpenAI) or the"
            " --served-model-name of vLLM's run_batch")
    if opts.batch and not opts.base_url:
        raise BehaviordbgError("--batch needs --base-url: the endpoint whose Batch API runs it",
                               hint="e.g. --base-url https://api.openai.com/v1; for vLLM, write"
                               " the file with --batch-file and run vLLM's run_batch on it")
    if opts.base_url:
        check_base_url(opts.base_url)


def _writable_target(path: str) -> None:
    target = Path(path)
    if target.is_dir():
        raise BehaviordbgError(f"--batch-file {path} is a folder",
                               hint=f"pass a file path, e.g. {target / 'requests.jsonl'}")
    if not target.parent.is_dir():
        raise BehaviordbgError(f"folder {target.parent} does not exist (for --batch-file {path})",
                               hint=f"create it first (mkdir -p {target.parent}) or pass another"
                               " path")


def _pending(store: Store, run_id: str) -> list[tuple[Query, str]]:
    """Planned queries without an answer (failed ones included), in planned order."""
    answered = store.answered_query_ids(run_id)
    return [(q, k) for q, k in store.planned_queries(run_id) if q.id not in answered]


def request_lines(run_id: str, params: GenParams, pending: list[tuple[Query, str]]) -> Iterator[str]:
    """The input lines of these queries: each body is the client's own (client.chat_body)."""
    from ..client import chat_body

    for q, _ in pending:
        body = chat_body([{"role": m.role, "content": m.content} for m in q.messages],
                         model=params.model, temperature=params.temperature,
                         max_tokens=params.max_tokens)
        yield request_line(run_id, q, body)


def _write(store: Store, run_id: str, params: GenParams, opts: RunOptions, t0: float,
           new_run: list[tuple[Query, str]] | None = None) -> RunSummary:
    """--batch-file: write the pending queries (atomically: a temp file renamed into place);
    `new_run`: the planned queries of a run just made (all pending)."""
    assert opts.batch_file
    if store.open_api_batch(run_id) is not None:
        raise _in_flight(run_id)
    _writable_target(opts.batch_file)
    pending = new_run if new_run is not None else _pending(store, run_id)
    if not pending:
        raise BehaviordbgError(f"run {run_id} has no unanswered query to write",
                               hint=f"analyze it: behaviordbg analyze {run_id}")
    target = Path(opts.batch_file)
    size = 0
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, delete=False,
                                     prefix=f".{target.name}.", suffix=".tmp") as tmp:
        try:
            for line in request_lines(run_id, params, pending):
                tmp.write(line + "\n")
                size += len(line.encode()) + 1
        except BaseException:
            tmp.close()
            os.unlink(tmp.name)  # no half file left behind (disk full, Ctrl-C)
            raise
    os.replace(tmp.name, target)
    path = str(target.resolve())
    store.add_batch(run_id, "file", len(pending), status="written", path=path,
                    run_status="awaiting_batch")
    summary = finish_run(store, run_id, params, opts, t0, 0, {"batch_lines": len(pending)},
                         status="awaiting_batch")
    summary.batch = {"action": "written", "file": path, "lines": len(pending), "bytes": size,
                     "over_openai_limits": len(pending) > OPENAI_MAX_LINES or size > OPENAI_MAX_BYTES}
    return summary


def _in_flight(run_id: str) -> BehaviordbgError:
    return BehaviordbgError(f"run {run_id} has a Batch API batch still out",
                            hint=f"wait for it: behaviordbg run --resume {run_id} polls it and"
                            " ingests its results")


# --------------------------------------------------------------------------- ingest


def ingest_files(store: Store, run_id: str, params: GenParams, paths: list[str],
                 sink: ProgressSink | None = None) -> IngestReport:
    """Store the results in these output files as the run's answers and failures, all in ONE
    transaction: a malformed line (BatchFileError, naming file and line) stores nothing."""
    from ..client import RequestFailed, chat_body, read_chat_doc

    sink = sink or NullProgress()
    t0 = time.perf_counter()
    for path in paths:
        if not Path(path).is_file():
            raise BehaviordbgError(f"no results file at {path}",
                                   hint="pass the output file of the batch (vLLM run_batch: its"
                                   " -o file; OpenAI: the file its output_file_id names)")
    planned = store.query_ids(run_id)
    answered = store.answered_query_ids(run_id)
    failed_before = store.failed_query_ids(run_id)
    # The raw request stored with each answer is the live client's body, spelled as a live run
    # stores it (sorted keys), with the query's messages as the store already holds them.
    template = _dumps(chat_body([], model=params.model, temperature=params.temperature,
                                max_tokens=params.max_tokens))
    head, tail = template.split('"messages": []', 1)
    report = IngestReport(files=[str(Path(p).resolve()) for p in paths])
    seen: dict[str, bool] = {}  # query id -> answered by this ingest
    got: list[tuple[str, str, str | None, dict[str, Any]]] = []  # (query id, text, reason, body)
    errors: list[tuple[str, str, str, int | None]] = []

    def flush() -> None:
        if got:
            meta = store.query_requests(run_id, [qid for qid, _, _, _ in got])
            rows, cache = [], []
            for qid, text, reason, body in got:
                key, messages_json = meta[qid]
                rows.append((response_id(run_id, qid), run_id, qid, key, text, reason,
                             f'{head}"messages": {messages_json}{tail}', _dumps(body)))
                cache.append((key, _dumps({"finish_reason": reason, "model": params.model,
                                           "text": text})))
            store.add_batch_answers(rows, cache)
        if errors:
            store.add_batch_errors(run_id, errors)
        got.clear()
        errors.clear()

    sink.start(sum(_count_lines(p) for p in paths))
    first_line: tuple[str, int] | None = None
    with store.bulk_cache(), store.transaction():
        for path in paths:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for lineno, raw in enumerate(fh, 1):
                    text = raw.strip()
                    if not text:
                        continue
                    first_line = first_line or (path, lineno)
                    item = parse_result_line(text, path, lineno, last=not raw.endswith("\n"))
                    report.lines += 1
                    if report.lines % 1000 == 0:
                        sink.advance(1000)
                    ids = split_custom_id(item.custom_id)
                    if ids is None or ids[0] != run_id or ids[1] not in planned:
                        if ids is not None and ids[0] != run_id:
                            report.other_runs[ids[0]] = report.other_runs.get(ids[0], 0) + 1
                        else:
                            report.unknown += 1
                            if len(report.unknown_examples) < 3:
                                report.unknown_examples.append(item.custom_id[:80])
                        continue
                    qid = ids[1]
                    if qid in seen and (seen[qid] or item.error is not None):
                        report.duplicates += 1
                        continue
                    if qid in answered or (qid in failed_before and item.error is not None):
                        report.already_answered += 1
                        seen[qid] = qid in answered
                        continue
                    if qid in seen:
                        report.duplicates += 1  # an answer after a failed line: the answer wins
                    if item.error is None and item.body is not None:
                        try:
                            texts, reasons = read_chat_doc(item.body)
                        except RequestFailed as err:
                            item_error: tuple[str, str, int | None] = (
                                "malformed", err.message, item.status_code)
                        else:
                            got.append((qid, texts[0], reasons[0], item.body))
                            seen[qid] = True
                            report.answered += 1
                            if len(got) >= CHUNK:
                                flush()
                            continue
                    else:
                        item_error = (item.error_kind or "other", item.error or "failed",
                                      item.status_code)
                    if qid not in seen:
                        seen[qid] = False
                        errors.append((qid, *item_error))
                        report.failed += 1
        flush()
        matched = report.answered + report.failed + report.duplicates + report.already_answered
        if report.lines and not matched:
            where = first_line or (paths[0], 1)
            others = ", ".join(sorted(report.other_runs))
            raise BatchFileError(
                where[0], where[1], f"none of its {report.lines} results belongs to run {run_id}"
                + (f" (they belong to {others})" if others else ""),
                hint=(f"ingest it into that run: behaviordbg run --resume {others.split(',')[0]}"
                      " --batch-results FILE" if others else
                      "pass the results of the file this run wrote (custom_id RUN/QUERY/SAMPLE);"
                      " nothing was stored"))
        if not report.lines:
            raise BatchFileError(paths[0], 1, "no results in the file (it is empty)",
                                 hint="wait until the batch has finished and pass its output"
                                 " file; nothing was stored")
    sink.advance(report.lines % 1000)
    sink.finish()
    done = answered | failed_before | seen.keys()
    report.missing = len(planned - done)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _dumps(value: Any) -> str:
    """JSON as the store spells it (sorted keys), so a batch row reads like a live one."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _count_lines(path: str) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def _after_ingest(store: Store, run_id: str, params: GenParams, opts: RunOptions, t0: float,
                  report: IngestReport, *, api: dict[str, Any] | None = None) -> RunSummary:
    """The run's status after an ingest: still awaiting while some queries have no result,
    else the --max-failed gate of a live run."""
    for record in reversed(store.batches(run_id)):
        if record["kind"] == "file" and record["status"] == "written" and api is None:
            store.update_batch(record["id"], status="ingested", report=report.to_json())
            break
    status = "awaiting_batch" if report.missing else None
    summary = finish_run(store, run_id, params, opts, t0, 0,
                         {"batch_ingest": report.to_json()}, status=status)
    summary.batch = {"action": "ingested", "report": report.to_json(), **(api or {})}
    return summary


# --------------------------------------------------------------------------- the Batch API


def _client(params: GenParams, opts: RunOptions, store: Store, run_id: str) -> BatchClient:
    from ..batch_api import BatchClient

    url = opts.base_url or params.base_url
    if url.startswith(("batch://", "local://")) or "***" in url:
        raise BehaviordbgError(f"run {run_id} has no Batch API endpoint on record",
                               hint="pass --base-url with the endpoint (e.g."
                               " https://api.openai.com/v1)")
    check_base_url(url)
    run = store.get_run(run_id)
    key_env = opts.api_key_env
    if key_env == RunOptions.api_key_env:
        key_env = run["params"]["api_key_env"] or key_env
    return BatchClient(url, os.environ.get(key_env) or None, api_key_env=key_env)


def _submit_or_poll(store: Store, run_id: str, params: GenParams, opts: RunOptions, t0: float,
                    sink: ProgressSink) -> RunSummary:
    """Poll the run's batches that are still out, or submit its unanswered queries as new ones."""
    records = store.open_api_batches(run_id)
    sent = 0
    with _client(params, opts, store, run_id) as client:
        if not records:
            records, sent = _submit(store, run_id, params, client, opts.batch_max_lines)
        records = [r if r["batch_id"] else _create(store, r, run_id, client) for r in records]
        try:
            with _sigterm_interrupts(run_id):
                batches = _poll(store, records, client, opts, sink)
        except RunInterrupted:
            raise
        except KeyboardInterrupt:
            raise RunInterrupted(run_id) from None
        return _collect(store, run_id, params, opts, t0, records, batches, client, sent)


@contextlib.contextmanager
def _sigterm_interrupts(run_id: str) -> Iterator[None]:
    """While polling, SIGTERM (a cancelled CI job) stops like Ctrl-C: the batch ids are stored and
    the batches keep running, so the CLI prints the resume command and exits 143."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: object) -> None:
        raise RunInterrupted(run_id, "SIGTERM")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _parts(lines: Iterator[str], max_lines: int) -> Iterator[list[str]]:
    """The request lines in parts one batch takes: at most `max_lines` lines and OpenAI's bytes."""
    part: list[str] = []
    size = 0
    for line in lines:
        n = len(line.encode()) + 1
        if part and (len(part) >= max_lines or size + n > OPENAI_MAX_BYTES):
            yield part
            part, size = [], 0
        part.append(line)
        size += n
    if part:
        yield part


def _submit(store: Store, run_id: str, params: GenParams, client: BatchClient,
            max_lines: int) -> tuple[list[BatchRecord], int]:
    """Upload the unanswered queries (in parts of at most `max_lines`) and create a batch for
    each; every file id and batch id is stored the moment it exists."""
    pending = _pending(store, run_id)
    if not pending:
        raise BehaviordbgError(f"run {run_id} has no unanswered query to submit",
                               hint=f"analyze it: behaviordbg analyze {run_id}")
    records: list[BatchRecord] = []
    for i, part in enumerate(_parts(request_lines(run_id, params, pending), max(max_lines, 1)), 1):
        row_id = store.add_batch(run_id, "api", len(part), status="uploading",
                                 endpoint=client.base_url, run_status="awaiting_batch")
        file_id = client.upload(f"behaviordbg-{run_id}-part{i}.jsonl",
                                "".join(x + "\n" for x in part).encode())
        store.update_batch(row_id, status="uploaded", input_file_id=file_id)
        record = next(r for r in store.batches(run_id) if r["id"] == row_id)
        records.append(_create(store, record, run_id, client))
    return records, len(pending)


def _create(store: Store, record: BatchRecord, run_id: str, client: BatchClient) -> BatchRecord:
    """Create the batch from the uploaded file, unless the endpoint already has one made from it
    (a crash between creating it and storing its id)."""
    assert record["input_file_id"]
    batch = client.find(record["input_file_id"]) or client.create(
        record["input_file_id"], {"behaviordbg_run": run_id})
    store.update_batch(record["id"], batch_id=str(batch["id"]), status=str(batch["status"]))
    return next(r for r in store.batches(run_id) if r["id"] == record["id"])


def _poll(store: Store, records: list[BatchRecord], client: BatchClient, opts: RunOptions,
          sink: ProgressSink) -> list[dict[str, Any]]:
    """Poll until every batch ends (backing off to MAX_POLL_S), with one progress bar over their
    request counts; returns the final batch objects, in the order of `records`."""
    from ..batch_api import TERMINAL, BatchApiError

    interval, failures, shown = max(opts.batch_poll, 0.01), 0, 0
    done_by: dict[int, int] = {}
    final: dict[int, dict[str, Any]] = {}
    sink.start(sum(r["lines"] for r in records))
    try:
        while True:
            for record in records:
                if record["id"] in final:
                    continue
                assert record["batch_id"]
                try:
                    batch = client.retrieve(record["batch_id"])
                except BatchApiError as err:
                    failures += 1
                    if not err.transient or failures >= POLL_FAILURES:
                        raise BehaviordbgError(
                            f"{err.message} (batch {record['batch_id']} of run"
                            f" {record['run_id']} is kept)", hint=f"{err.hint}; behaviordbg run"
                            f" --resume {record['run_id']} polls the same batch") from None
                    continue
                failures = 0
                counts = batch.get("request_counts") or {}
                done_by[record["id"]] = (int(counts.get("completed") or 0)
                                         + int(counts.get("failed") or 0))
                store.update_batch(record["id"], status=str(batch["status"]), counts=counts,
                                   output_file_id=batch.get("output_file_id"),
                                   error_file_id=batch.get("error_file_id"))
                if batch["status"] in TERMINAL:
                    final[record["id"]] = batch
            done = sum(done_by.values())
            if done > shown:
                sink.advance(done - shown, errors=0)
                shown = done
            if len(final) == len(records):
                return [final[r["id"]] for r in records]
            time.sleep(interval)
            interval = min(interval * 1.5, MAX_POLL_S)
    finally:
        sink.finish()


def _collect(store: Store, run_id: str, params: GenParams, opts: RunOptions, t0: float,
             records: list[BatchRecord], batches: list[dict[str, Any]], client: BatchClient,
             sent: int) -> RunSummary:
    """Finished batches: download each one's output and error files and ingest them; an expired
    or cancelled batch's unanswered queries become failed queries (a live --resume finishes
    them); a failed batch is an error with the batch's own reasons."""
    report = IngestReport()
    failed: list[str] = []
    ended = {str(b["status"]) for b in batches}
    for record, batch in zip(records, batches):
        if batch["status"] == "failed":
            store.update_batch(record["id"], status="failed")
            errs = ((batch.get("errors") or {}).get("data") or [])
            failed.append(f"batch {batch['id']}: " + ("; ".join(
                f"line {e.get('line')}: {e.get('message')}" if e.get("line") else
                str(e.get("message")) for e in errs[:3]) or "no reason given"))
            continue
        with tempfile.TemporaryDirectory(prefix="bdbg-batch-") as tmp:
            paths = [str(client.download(str(batch[name]), Path(tmp) / f"{name}.jsonl"))
                     for name in ("output_file_id", "error_file_id") if batch.get(name)]
            paths = [p for p in paths if Path(p).stat().st_size > 0]
            if paths:
                part = ingest_files(store, run_id, params, paths)
                store.update_batch(record["id"], status="ingested", report=part.to_json())
                report = _merge(report, part)
            else:
                store.update_batch(record["id"], status="ingested")
    done = store.answered_query_ids(run_id) | store.failed_query_ids(run_id)
    left = [q.id for q, _ in store.planned_queries(run_id) if q.id not in done]
    gone = next((s for s in ("expired", "cancelled") if s in ended), None)
    if gone and left:
        with store.transaction():
            store.add_batch_errors(run_id, [
                (qid, gone, f"the batch was {gone} before this request ran", None) for qid in left])
        report.failed += len(left)
        left = []
    report.missing = len(left)
    if failed:
        store.set_run_status(run_id, "failed")
        raise RunFailed(f"{len(failed)} of {len(batches)} batches of run {run_id} failed: "
                        + "; ".join(failed),
                        hint=f"fix what it names, then submit what is left: behaviordbg run"
                        f" --resume {run_id} --batch (or ask it live: --resume {run_id}"
                        " --base-url URL)")
    api = {"batch_id": batches[0]["id"] if len(batches) == 1 else [b["id"] for b in batches],
           "batch_status": "/".join(sorted(ended)), "batches": len(batches),
           "lines_submitted": sent,
           "request_counts": [b.get("request_counts") or {} for b in batches]}
    summary = _after_ingest(store, run_id, params, opts, t0, report, api=api)
    summary.requests_sent = sent
    return summary


def _merge(a: IngestReport, b: IngestReport) -> IngestReport:
    """Two ingest reports as one (the batches of one run)."""
    others = dict(a.other_runs)
    for k, v in b.other_runs.items():
        others[k] = others.get(k, 0) + v
    return IngestReport(
        files=a.files + b.files, lines=a.lines + b.lines, answered=a.answered + b.answered,
        failed=a.failed + b.failed, duplicates=a.duplicates + b.duplicates,
        already_answered=a.already_answered + b.already_answered, unknown=a.unknown + b.unknown,
        other_runs=others, unknown_examples=(a.unknown_examples + b.unknown_examples)[:3],
        missing=b.missing, seconds=round(a.seconds + b.seconds, 3))
