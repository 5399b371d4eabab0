"""A run through a Batch API (`run --batch`): upload, create, store the ids, poll, ingest.

Every file id and batch id is stored the moment it exists, so `--resume` after any crash polls the
same batches (or adopts the one made from an uploaded file) instead of paying twice. A run over one
batch's limit (OpenAI: 50,000 requests, 200 MB) goes out as several batches, polled together.
Writing and ingesting the files themselves is pipeline/batch.py.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..batchfile import OPENAI_MAX_BYTES
from ..config import RunOptions
from ..errors import BehaviordbgError, RunFailed
from ..store import BatchRecord, Store
from ..types import GenParams
from ..urls import check_base_url
from .batch import IngestReport, after_ingest, ingest_files, pending_queries, request_lines
from .probe import RunInterrupted, RunSummary
from .progress import ProgressSink

if TYPE_CHECKING:
    from ..batch_api import BatchClient

MAX_POLL_S = 60.0
POLL_FAILURES = 8  # transient polling failures in a row before giving up (the batch id is kept)


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


def submit_or_poll(store: Store, run_id: str, params: GenParams, opts: RunOptions, t0: float,
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
    pending = pending_queries(store, run_id)
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
    summary = after_ingest(store, run_id, params, opts, t0, report, api=api)
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
