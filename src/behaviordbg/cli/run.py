"""CLI commands: `run` (probe a model with the suites) and `runs` (list what has been run).

Thin: turns options into `config.RunOptions`, shows progress, prints the summary.
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Any

import typer

from .. import pipeline
from ..analysis.coverage import samples_note
from ..config import resolve_db
from ..errors import EXIT_INTERRUPTED, EXIT_RUN_FAILED, EXIT_TERMINATED, BehaviordbgError
from ..pipeline.baseline import run_pair
from ..store import Store
from ._batch import batch_commands, print_batch
from ._common import (
    NO_RUNS_HINT,
    ApiKeyEnvOption,
    BaseUrlOption,
    ClaimOption,
    ClarifyOption,
    ConcurrencyOption,
    DbOption,
    JsonOption,
    LabelOption,
    LimitOption,
    ManifestOption,
    MaxAttemptsOption,
    MaxFailedOption,
    MaxTokensOption,
    ModelOption,
    PushbackOption,
    RefreshOption,
    SamplesOption,
    StageProgress,
    SuitePathsArg,
    TemperatureOption,
    TimeoutOption,
    ToolsOnQuestionsOption,
    console,
    emit_json,
    err_console,
    escape,
    print_table,
    run_options,
    settings_from,
)
from .baseline import BaselinePromptOption, PromptedBaselineOption


def RichProgress() -> StageProgress:
    """The probing bar (kept as a name the other commands use)."""
    return StageProgress("probing", "errors")


def _resume_hint(run_id: str, db: str | None) -> str:
    cmd = ["behaviordbg", "run", "--resume", run_id]
    if db:
        cmd += ["--db", db]
    return shlex.join(cmd)


def interrupted_exit_code(stop: pipeline.RunInterrupted) -> int:
    """130 for Ctrl-C, 143 for SIGTERM (the shells' 128 + signal number)."""
    return EXIT_TERMINATED if stop.signal == "SIGTERM" else EXIT_INTERRUPTED


def _by(stop: pipeline.RunInterrupted) -> str:
    return " by SIGTERM" if stop.signal == "SIGTERM" else ""


def report_errors(summary: pipeline.RunSummary, db: str | None, *, then: str = "") -> None:
    """On stderr: the most common error of a run and its fix, and whether the run failed the
    --max-failed gate (so a CI log says why, not only the errors table)."""
    top = summary.top_error
    if not summary.errors or top is None:
        if not summary.ok:
            err_console.print(f"[bold red]{escape(summary.failure_message())}[/]", markup=True)
        return
    style = "bold red" if not summary.ok else "yellow"
    head = (escape(summary.failure_message()) if not summary.ok else
            f"{summary.errors} of {summary.queries} queries failed after retries"
            f" ({summary.failed_share:.1%}, within --max-failed {summary.max_failed:.1%});"
            f" most common error ({top['queries']} queries): {escape(top['shown'])}")
    err_console.print(f"[{style}]{head}[/]", markup=True)
    err_console.print(f"  fix: {escape(top['hint'])}", markup=True)
    if top.get("resume", True):
        err_console.print(f"  then ask the failed queries again: {_resume_hint(summary.run_id, db)}"
                          + then, markup=False)


def run(
    ctx: typer.Context,
    suite_paths: list[str] | None = SuitePathsArg,
    base_url: str | None = BaseUrlOption,
    model: str | None = ModelOption,
    api_key_env: str = ApiKeyEnvOption,
    samples: int = SamplesOption,
    temperature: float = TemperatureOption,
    max_tokens: int = MaxTokensOption,
    concurrency: int = ConcurrencyOption,
    timeout: float = TimeoutOption,
    max_attempts: int = MaxAttemptsOption,
    manifest: str | None = ManifestOption,
    tools_on_questions: bool = ToolsOnQuestionsOption,
    label: str = LabelOption,
    limit: int | None = LimitOption,
    claim: list[str] | None = ClaimOption,
    refresh: bool = RefreshOption,
    max_failed: str = MaxFailedOption,
    pushback: bool | None = PushbackOption,
    clarify: bool = ClarifyOption,
    resume: str | None = typer.Option(
        None, "--resume", help="Finish an interrupted run (RUN_ID or `latest`): asks only what has"
        " no answer yet, failed queries included.",
    ),
    prompted_baseline: bool = PromptedBaselineOption,
    baseline_prompt: str | None = BaselinePromptOption,
    batch_file: str | None = typer.Option(
        None, "--batch-file", help="Write every query as OpenAI Batch JSONL to this file and send"
        " nothing; the run awaits its results (run the file with OpenAI's Batch API or vLLM's"
        " run_batch, both printed). Needs --model; --base-url names the endpoint the answers are"
        " cached under. With --resume: the run's unanswered queries.",
    ),
    batch_results: list[str] | None = typer.Option(
        None, "--batch-results", help="With --resume RUN: ingest a Batch output file (OpenAI's or"
        " vLLM's) into the run, as a live run would have stored it. Failed lines become failed"
        " queries (a later --resume asks them live); a malformed line stores nothing. Repeatable,"
        " or a quoted glob ('part-*.results.jsonl') for a file run in parts.",
    ),
    batch: bool = typer.Option(
        False, "--batch", help="Submit the queries to the endpoint's Batch API (/v1/files,"
        " /v1/batches; e.g. OpenAI's, half price, 24 h), wait with a progress bar and ingest the"
        " results. The batch id is stored first: --resume after any crash polls the same batch.",
    ),
    batch_poll: float = typer.Option(
        5.0, "--batch-poll", min=0.01, help="Seconds between the first polls of a --batch"
        " (backing off to 60).",
    ),
    batch_max_lines: int = typer.Option(
        50_000, "--batch-max-lines", min=1, help="At most this many requests per submitted batch"
        " (OpenAI's limit is 50,000 and 200 MB); a bigger run goes out as several batches.",
    ),
    db: str | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Probe a model with the suites and store every answer (cached and resumable).

    Examples:

      behaviordbg run                                      # the embedded local model
      behaviordbg run --base-url https://api.openai.com/v1 --model gpt-4o-mini --samples 3
      behaviordbg run probes/embodiment.yaml --base-url http://localhost:8000/v1 --model qwen
      behaviordbg run --resume latest                      # after Ctrl-C or a crash
      behaviordbg run --prompted-baseline --samples 5      # and its twin with the system prompt
      behaviordbg run --resume RUN --prompted-baseline     # finish a pair, or add a twin to RUN
      behaviordbg run --pushback --claim can_browse_web    # challenge each answer: does it cave?
      behaviordbg run --clarify                            # one yes/no follow-up per unclear answer
      behaviordbg run --model my-ckpt --samples 10 --batch-file requests.jsonl   # vLLM / OpenAI Batch
      behaviordbg run --resume RUN --batch-results results.jsonl                 # ...then ingest
      behaviordbg run --base-url https://api.openai.com/v1 --model gpt-4o-mini --batch

    A rerun with the same settings is answered from the cache and sends no requests. Exit codes:
    0 the run completed (at most --max-failed of its queries failed), 2 a usage, URL, database or
    endpoint error (e.g. a wrong key or model) with its fix, 3 more than --max-failed of the
    queries failed or none was answered (the most common error and its fix are printed), 130 on
    Ctrl-C and 143 on SIGTERM (the run is marked interrupted; the resume command is printed).
    Batch runs (docs/scale.md): --batch-file exits 0 once the file is written; an ingest or a
    --batch passes the same --max-failed gate (3 also for a failed batch).
    The endpoint, model, api-key-env, samples, manifest, suites and db may come from
    behaviordbg.toml (see `behaviordbg init` and `behaviordbg check --show-config`).
    """
    s = settings_from(ctx)
    opts = run_options(s["suites"].value, s["endpoint"].value, s["model"].value,
                       s["api-key-env"].value, s["samples"].value, temperature, max_tokens,
                       concurrency, timeout, max_attempts, s["manifest"].value, label, limit,
                       claim, refresh, max_failed, resume, pushback,
                       tools_on_questions=tools_on_questions, clarify=clarify)
    opts = dataclasses.replace(opts, batch_file=batch_file,
                               batch_results=list(batch_results) if batch_results else None,
                               batch=batch, batch_poll=batch_poll,
                               batch_max_lines=batch_max_lines)
    batched = bool(batch_file or batch_results or batch)
    progress = (StageProgress("batch", "failed") if batched else RichProgress()) if not json_out else None
    note = samples_note(opts.samples)
    if note and not json_out and not resume:  # what `analyze` will not be able to find
        err_console.print(escape(note), markup=True)
    if baseline_prompt is not None and not prompted_baseline:
        raise BehaviordbgError("--baseline-prompt needs --prompted-baseline",
                               "add --prompted-baseline, or drop --baseline-prompt")
    if prompted_baseline and batched:
        raise BehaviordbgError("--prompted-baseline does not work with batch runs yet",
                               "run the pair live (drop --batch/--batch-file/--batch-results)")
    with Store.open(resolve_db(db)) as store:
        try:
            if prompted_baseline:
                pair = run_pair(store, opts, baseline_prompt, progress,
                                RichProgress() if not json_out else None)
                summary, twin = pair.base, pair.prompted
            else:
                summary, twin = pipeline.run_probes(store, opts, progress), None
        except pipeline.RunInterrupted as stop:
            err_console.print(
                f"[yellow]interrupted{_by(stop)}.[/] resume with:"
                f" {escape(_resume_hint(stop.run_id, db))}",
                markup=True,
            )
            if json_out:
                emit_json({"run_id": stop.run_id, "status": "interrupted", "signal": stop.signal,
                           "resume": _resume_hint(stop.run_id, db),
                           "exit_code": interrupted_exit_code(stop)})
            raise typer.Exit(interrupted_exit_code(stop)) from None
    if twin is not None and twin.run_id == summary.run_id:  # the base run failed: no twin
        twin = None
    twin_ok = twin is None or twin.ok
    written = (summary.batch or {}).get("action") == "written"
    if json_out:
        if summary.batch is not None:
            summary.batch.update(batch_commands(summary, db))
        if not written:
            report_errors(summary, db)
        doc = summary.to_json()
        if twin is not None:
            report_errors(twin, db)
            doc["prompted_run"] = twin.to_json()
        doc["exit_code"] = 0 if (summary.ok or written) and twin_ok else EXIT_RUN_FAILED
        emit_json(doc)
    elif summary.batch is not None:
        print_batch(summary, db)
        if not written:
            report_errors(summary, db)
    else:
        for name, side in [("run", summary)] + ([("prompted twin", twin)] if twin else []):
            console.print(
                f"{name} [bold]{side.run_id}[/]: {side.responses}/{side.queries} answered,"
                f" {side.errors} failed, {side.cache_hits} from cache,"
                + (f" {side.turns_answered}/{side.turns} follow-up turns,"
                   if side.turns else "")
                + (f" {side.clarify.get('answered', 0)} clarify follow-ups"
                   f" ({side.clarify.get('failed', 0)} failed),"
                   if side.clarify.get("answered") or side.clarify.get("failed") else "") +
                f" {side.requests_sent} requests in {side.elapsed_s:.1f}s"
                f" ({escape(side.model)} at {escape(side.base_url)})",
                markup=True,
            )
            report_errors(side, db)
        if twin is not None:
            console.print(f"then: behaviordbg analyze {summary.run_id}"
                          + (f" --db {shlex.quote(db)}" if db else "")
                          + "   (analyses both runs and gives each bug its verdict)",
                          markup=False)
    if (not summary.ok and not written) or not twin_ok:
        raise typer.Exit(EXIT_RUN_FAILED)


def runs(
    db: str | None = DbOption,
    json_out: bool = JsonOption,
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many (newest first)."),
) -> None:
    """List probe runs, newest first, with their status and answer counts."""
    path = resolve_db(db)
    rows: list[dict[str, Any]] = []
    if path != ":memory:" and not Path(path).exists():  # reading never creates a database
        if json_out:
            emit_json({"runs": []})
            return
        console.print(f"no runs yet (no database at {escape(path)}): {NO_RUNS_HINT}")
        return
    with Store.open(path, readonly=True) as store:
        linked = store.linked_run_ids()  # a run and its prompted-baseline twin name each other
        for r in store.list_runs(limit):
            counts = store.counts(r["id"])
            rows.append({
                "run_id": r["id"], "created_at": r["created_at"], "status": r["status"],
                "model": r["model"], "base_url": r["base_url"], "label": r["label"],
                "queries": counts["queries"], "responses": counts["responses"],
                "errors": counts["errors"], "cache_hits": counts["cache_hits"],
                "linked_run": linked.get(r["id"]),
            })
    if json_out:
        emit_json({"runs": rows})
        return
    if not rows:
        console.print(f"no runs yet in {escape(path)}: {NO_RUNS_HINT}")
        return
    print_table(
        ("created", "status", "model", "answered", "failed", "cached", "label", "run"),
        [(row["created_at"][:19], row["status"], row["model"], f"{row['responses']}/{row['queries']}",
          row["errors"], row["cache_hits"], row["label"], row["run_id"]) for row in rows],
        fold=("model", "label"),
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("run")(run)
    app.command("runs")(runs)
