"""The prompted baseline in the CLI: `check --prompted-baseline`, `run --prompted-baseline`, and
`analyze` of a run that has a prompted twin. Thin: options -> behaviordbg.pipeline.baseline,
then print the verdicts (behaviordbg.prompting)."""

from __future__ import annotations

import shlex
from typing import Any

import typer
from rich.table import Table

from .. import pipeline
from ..config import AnalyzeOptions, RunOptions, resolve_db
from ..errors import EXIT_RUN_FAILED, RunFailed
from ..pipeline.baseline import check_pair
from ..prompting import VERDICT_LABELS, PromptComparison
from ..store import Store
from ._common import cell, console, emit_json, err_console, escape, plain_lines, plain_row

PromptedBaselineOption = typer.Option(
    False, "--prompted-baseline",
    help="Also probe the same queries with the deployment's system prompt put first (made from"
    " the manifest: what it can and cannot do; see docs/prompted-baseline.md), store both runs"
    " linked, and give every bug a verdict: fixed by prompting, reduced, survives prompting, or"
    " introduced by prompting (Fisher's exact test, as `diff`). Use --samples 5 or more: a bug is"
    " called fixed only with 5 decisive answers in each of its cells.",
)
BaselinePromptOption = typer.Option(
    None, "--baseline-prompt", metavar="FILE",
    help="With --prompted-baseline: use this file's text as the system prompt instead of the one"
    " made from the manifest (its sha256 is stored with the twin run).",
)

VERDICT_STYLE = {"fixed": "green", "reduced": "cyan", "survives": "bold red",
                 "introduced": "magenta", "not_reproduced": "yellow"}


def verdict_text(verdict: str | None) -> str:
    """The short verdict shown in a table cell ("-" when the bug has none)."""
    if not verdict:
        return "-"
    return VERDICT_LABELS[verdict].split(" (")[0] + ("?" if verdict == "not_reproduced" else "")


def print_comparison(comparison: PromptComparison, db: str | None, *,
                     show_introduced: bool = True) -> None:
    """The verdicts' summary, the bugs the prompt introduced, and what to do next."""
    console.print(escape(comparison.summary_line()), markup=True)
    if comparison.pending:
        return
    intro = [v for v in comparison.verdicts if v.verdict == "introduced"]
    if intro and show_introduced:
        if plain_lines():
            typer.echo(f"introduced by prompting (bugs of run {comparison.prompted_run} only):")
            for v in intro:
                typer.echo(plain_row(f"{v.severity:<9}", f"{v.kind:<10}", v.fingerprint, v.title))
        else:
            table = Table("severity", "kind", "title", "fingerprint",
                          title=f"introduced by prompting (run {escape(comparison.prompted_run)})")
            for v in intro:
                table.add_row(cell(v.severity), cell(v.kind), cell(v.title), cell(v.fingerprint))
            console.print(table)
    counts = comparison.counts()
    if counts["not_reproduced"]:
        console.print(f"{counts['not_reproduced']} bugs marked `not reproduced?` are gone under"
                      " the prompt, on too few decisive answers (or too small a drop) to call them"
                      " fixed: rerun with more --samples (bugs --json has each one's note)")
    dbarg = f" --db {shlex.quote(db)}" if db else ""
    console.print(
        "prompt or train? bugs a prompt does not fix: "
        f"behaviordbg bugs {comparison.base_run}{dbarg} --survives-prompting", markup=False)


def add_verdicts(doc: dict[str, Any], comparison: PromptComparison) -> dict[str, Any]:
    """A check/analyze --json document with `prompted_baseline` and each top bug's verdict."""
    by_fp = comparison.by_fingerprint
    doc["prompted_baseline"] = comparison.to_dict()
    for row in doc.get("top_bugs", []):
        v = by_fp.get(row["fingerprint"])
        row["prompting"] = v.verdict if v else None
    return doc


def verdicts_of(comparison: PromptComparison | None) -> dict[str, str] | None:
    """fingerprint -> verdict, for the bug table's `prompting` column (None: no column)."""
    if comparison is None or comparison.pending:
        return None
    return {v.fingerprint: v.verdict for v in comparison.verdicts}


def check_pair_cmd(
    ropts: RunOptions, aopts: AnalyzeOptions, prompt_file: str | None, fail_on: str | None,
    db: str | None, json_out: bool,
) -> None:
    """`check --prompted-baseline`: probe and analyse both runs, print the verdicts."""
    from .analyze import JudgeProgress, _failing, _json_doc, _print_bugs, _report_failed_run
    from .run import RichProgress, _by, interrupted_exit_code

    show = not json_out
    with Store.open(resolve_db(db)) as store:
        try:
            result = check_pair(store, ropts, aopts, prompt_file,
                                RichProgress() if show else None,
                                RichProgress() if show else None,
                                JudgeProgress() if show else None)
        except pipeline.RunInterrupted as stop:
            hint = resume_pair_hint(stop.run_id, db)
            err_console.print(f"[yellow]interrupted{_by(stop)}.[/] resume both runs with:"
                              f" {escape(hint)}, then `behaviordbg analyze"
                              f" {escape(stop.run_id)}`", markup=True)
            if json_out:
                emit_json({"run_id": stop.run_id, "status": "interrupted",
                           "signal": stop.signal, "resume": hint,
                           "exit_code": interrupted_exit_code(stop)})
            raise typer.Exit(interrupted_exit_code(stop)) from None
        except RunFailed as failed:
            _report_failed_run(failed, db, json_out)
            raise typer.Exit(EXIT_RUN_FAILED) from None
    comparison = result.comparison
    if json_out:
        doc = add_verdicts(_json_doc(result.base, result.runs.base), comparison)
        doc["prompted_run"] = result.runs.prompted.to_json()
        doc["prompted_analysis"] = {"analysis_id": result.prompted.analysis_id,
                                    "bugs": len(result.prompted.bugs),
                                    "candidates": len(result.prompted.candidates)}
        emit_json(doc)
    else:
        for name, run in (("run", result.runs.base), ("prompted twin", result.runs.prompted)):
            console.print(
                f"{name} [bold]{escape(run.run_id)}[/]: {run.responses}/{run.queries} answered,"
                f" {run.errors} failed, {run.cache_hits} from cache in {run.elapsed_s:.1f}s"
                f" ({escape(run.model)})", markup=True)
        console.print(f"system prompt of the twin: {escape(result.runs.prompt.source)}, sha256"
                      f" {result.runs.prompt.short}", markup=True)
        _print_bugs(result.base, db, verdicts=verdicts_of(comparison))
        print_comparison(comparison, db)
    if _failing(result.base, fail_on):
        raise typer.Exit(1)


def resume_pair_hint(run_id: str, db: str | None) -> str:
    cmd = ["behaviordbg", "run", "--resume", run_id, "--prompted-baseline"]
    if db:
        cmd += ["--db", db]
    return shlex.join(cmd)
