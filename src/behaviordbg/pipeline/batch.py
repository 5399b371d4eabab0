"""Batch runs: a run's queries as OpenAI Batch JSONL, for OpenAI's Batch API or vLLM's batch runner.

Three ways in, one run and one cache, the same as a live run's:

- `--batch-file F`: write every unanswered query (one line per sample, the exact body a live run
  sends) and record the run as `awaiting_batch`; nothing is sent.
- `--resume RUN --batch-results F`: ingest an output file from either engine, in one transaction
  (a malformed line rolls it all back and names its line). Failed lines become failed queries,
  which a live `--resume` asks again; duplicates, other runs' lines and unknown ids are counted
  and never stored twice.
- `--batch`: upload, create, store the batch id, then poll with backoff; `--resume` after any
  crash polls the same batch (or adopts the one made from the uploaded file), never a second one
  (pipeline/batch_submit.py).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..batchfile import (
    OPENAI_MAX_BYTES,
    OPENAI_MAX_LINES,
    BatchFileError,
    parse_result_line,
    request_line,
    split_custom_id,
)
from ..config import RunOptions
from ..errors import BehaviordbgError
from ..locks import run_lock
from ..store import Store
from ..types import GenParams, Query
from ..urls import check_base_url
from .probe import (
    RunSummary,
    create_planned_run,
    finish_run,
    gen_params,
    plan,
    response_id,
)
from .progress import NullProgress, ProgressSink

OFFLINE_URL = "batch://offline"
"""The base URL of a batch run written without --base-url (for vLLM's offline runner): what its
answers are cached under, and why finishing it live needs --base-url."""
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
                return after_ingest(store, run_id, params, opts, t0, report)
            if opts.batch_file:
                return _write(store, run_id, params, opts, t0)
            from .batch_submit import submit_or_poll

            return submit_or_poll(store, run_id, params, opts, t0, sink)
    planned_run = plan(opts)
    url = opts.base_url or OFFLINE_URL
    if opts.batch_file:
        _writable_target(opts.batch_file)
    run_id, params, planned = create_planned_run(store, opts, planned_run, url, str(opts.model),
                                                 None, status="awaiting_batch")
    with run_lock(store.path, run_id):
        if opts.batch_file:
            return _write(store, run_id, params, opts, t0, planned)
        from .batch_submit import submit_or_poll

        return submit_or_poll(store, run_id, params, opts, t0, sink)


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


def pending_queries(store: Store, run_id: str) -> list[tuple[Query, str]]:
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
    pending = new_run if new_run is not None else pending_queries(store, run_id)
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


def after_ingest(store: Store, run_id: str, params: GenParams, opts: RunOptions, t0: float,
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


