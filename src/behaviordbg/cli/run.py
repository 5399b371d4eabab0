"""CLI commands: `run` (probe a model with the suites) and `runs` (list what has been run).

Thin: turns options into `config.RunOptions`, shows progress, prints the summary.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from .. import pipeline
from ..config import resolve_db
from ..errors import EXIT_INTERRUPTED, EXIT_RUN_FAILED, EXIT_TERMINATED, BehaviordbgError
from ..pipeline.baseline import run_pair
from ..store import Store
from ._common import (
    NO_RUNS_HINT,
    ApiKeyEnvOption,
    BaseUrlOption,
    ClaimOption,
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
    RefreshOption,
    SamplesOption,
    StageProgress,
    SuitePathsArg,
    TemperatureOption,
    TimeoutOption,
    cell,
    console,
    emit_json,
    err_console,
    escape,
    run_options,
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
    label: str = LabelOption,
    limit: int | None = LimitOption,
    claim: list[str] | None = ClaimOption,
    refresh: bool = RefreshOption,
    max_failed: str = MaxFailedOption,
    resume: str | None = typer.Option(
        None, "--resume", help="Finish an interrupted run (RUN_ID or `latest`): asks only what has"
        " no answer yet, failed queries included.",
    ),
    prompted_baseline: bool = PromptedBaselineOption,
    baseline_prompt: str | None = BaselinePromptOption,
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

    A rerun with the same settings is answered from the cache and sends no requests. Exit codes:
    0 the run completed (at most --max-failed of its queries failed), 2 a usage, URL, database or
    endpoint error (e.g. a wrong key or model) with its fix, 3 more than --max-failed of the
    queries failed or none was answered (the most common error and its fix are printed), 130 on
    Ctrl-C and 143 on SIGTERM (the run is marked interrupted; the resume command is printed).
    """
    opts = run_options(suite_paths, base_url, model, api_key_env, samples, temperature,
                       max_tokens, concurrency, timeout, max_attempts, manifest, label, limit,
                       claim, refresh, max_failed, resume)
    progress = RichProgress() if not json_out else None
    if baseline_prompt is not None and not prompted_baseline:
        raise BehaviordbgError("--baseline-prompt needs --prompted-baseline",
                               "add --prompted-baseline, or drop --baseline-prompt")
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
    sides = [("run", summary)] + ([("prompted twin", twin)] if twin is not None
                                  and twin.run_id != summary.run_id else [])
    ok = all(s.ok for _, s in sides)
    if json_out:
        for _, side in sides:
            report_errors(side, db)
        doc = summary.to_json()
        doc["exit_code"] = 0 if ok else EXIT_RUN_FAILED
        if prompted_baseline:
            doc["prompted_run"] = twin.to_json() if len(sides) == 2 and twin else None
        emit_json(doc)
    else:
        for name, side in sides:
            console.print(
                f"{name} [bold]{side.run_id}[/]: {side.responses}/{side.queries} answered,"
                f" {side.errors} failed, {side.cache_hits} from cache,"
                f" {side.requests_sent} requests in {side.elapsed_s:.1f}s"
                f" ({escape(side.model)} at {escape(side.base_url)})",
                markup=True,
            )
            report_errors(side, db)
        if len(sides) == 2:
            console.print(f"then: behaviordbg analyze {summary.run_id}"
                          + (f" --db {shlex.quote(db)}" if db else "")
                          + "   (analyses both runs and gives each bug its verdict)",
                          markup=False)
    if not ok:
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
    table = Table("created", "status", "model", "answered", "failed", "cached", "label")
    table.add_column("run", no_wrap=True)
    for row in rows:
        table.add_row(
            cell(row["created_at"][:19]), cell(row["status"]), cell(row["model"]),
            f"{row['responses']}/{row['queries']}", str(row["errors"]), str(row["cache_hits"]),
            cell(row["label"]), cell(row["run_id"]),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("run")(run)
    app.command("runs")(runs)
