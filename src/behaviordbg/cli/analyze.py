"""CLI commands: `analyze` (find contradictions and bugs in a stored run) and `check` (run + analyze).

Thin: turns options into `config.AnalyzeOptions` / `config.RunOptions`, shows progress, prints
the bugs. All logic lives in `behaviordbg.pipeline` and the stage modules.
"""

from __future__ import annotations

import shlex
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from .. import pipeline
from ..analysis.coverage import samples_note
from ..config import API_KEY_ENV, AnalyzeOptions, resolve_db
from ..errors import EXIT_RUN_FAILED, BehaviordbgError, RunFailed
from ..escape import printable
from ..pipeline.baseline import analyze_linked
from ..store import Store
from ..types import SEVERITIES
from . import baseline as baseline_cli
from ._common import (
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
    cell,
    console,
    emit_json,
    err_console,
    escape,
    plain_lines,
    plain_row,
    print_settings,
    run_options,
    settings_from,
)
from .run import RichProgress, _by, _resume_hint, interrupted_exit_code, report_errors

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}


def JudgeProgress() -> StageProgress:
    """The judging bar: done/total and records the judge could not label."""
    return StageProgress("judging", "unlabelled")


JudgeOption = typer.Option(
    AnalyzeOptions.judge, "--judge",
    help="Stance judge: `rules` (offline, fast), `llm` (an OpenAI-compatible model; the embedded"
    " local model unless --judge-base-url), or `cascade` (rules, then llm where rules are unsure).",
)
JudgeUrlOption = typer.Option(
    None, "--judge-base-url", help="OpenAI-compatible endpoint for the llm/cascade judge."
)
JudgeModelOption = typer.Option(None, "--judge-model", help="Model id of the judge endpoint.")
JudgeKeyOption = typer.Option(
    API_KEY_ENV, "--judge-api-key-env",
    help="Environment variable holding the judge endpoint's API key (never stored).",
)
EmbeddingsOption = typer.Option(
    False, "--embeddings",
    help="Cluster answers by embeddings from the judge endpoint's /v1/embeddings (default: TF-IDF).",
)
EmbeddingsModelOption = typer.Option(
    None, "--embeddings-model", help="Embedding model id (default: the judge model, else the run's)."
)
FailOnOption = typer.Option(
    None, "--fail-on",
    help="Exit 1 when a bug at or above this severity was found: critical, high, medium or low"
    " (for CI). Candidates never count. Without it the exit code is 0 even when bugs were found.",
)
VerifyOption = typer.Option(
    False, "--verify",
    help="Verification pass: a second judge re-reads the decisive evidence of every bug and"
    " candidate; a bug needs, on each side, an answer two judges read alike (else it is demoted"
    " to a candidate). Verdicts are stored: a rerun asks nothing new.",
)
CheckVerifyOption = typer.Option(
    None, "--verify/--no-verify",
    help="Verification pass (see `analyze --help`). Default: off (measured: the embedded model"
    " as second judge catches almost none of the rules judge's errors; see docs/evidence.md).",
    show_default=False,
)
VerifyJudgeOption = typer.Option(
    AnalyzeOptions.verify_judge, "--verify-judge",
    help="Second judge for --verify: auto (llm, or rules when --judge is llm), llm or rules.",
)
VerifyUrlOption = typer.Option(
    None, "--verify-base-url",
    help="OpenAI-compatible endpoint of the llm verification judge (default: the embedded model).",
)
VerifyModelOption = typer.Option(None, "--verify-model", help="Model id of that endpoint.")
VerifyKeyOption = typer.Option(
    API_KEY_ENV, "--verify-api-key-env",
    help="Environment variable holding the verification endpoint's API key (never stored).",
)


def _analyze_opts(
    judge: str, judge_base_url: str | None, judge_model: str | None, judge_api_key_env: str,
    embeddings: bool, embeddings_model: str | None, verify: bool | None = False,
    verify_judge: str = AnalyzeOptions.verify_judge, verify_base_url: str | None = None,
    verify_model: str | None = None, verify_api_key_env: str = API_KEY_ENV,
) -> AnalyzeOptions:
    """The analysis options (checked as they are made: an unknown judge fails here)."""
    return AnalyzeOptions(
        judge=judge, judge_base_url=judge_base_url, judge_model=judge_model,
        judge_api_key_env=judge_api_key_env, embeddings=embeddings,
        embeddings_model=embeddings_model, verify=verify, verify_judge=verify_judge,
        verify_base_url=verify_base_url, verify_model=verify_model,
        verify_api_key_env=verify_api_key_env,
    )


def _check_fail_on(fail_on: str | None) -> None:
    if fail_on is not None and fail_on not in SEVERITIES:
        raise BehaviordbgError(
            f"--fail-on {fail_on!r} is not a severity", hint=f"use one of: {', '.join(SEVERITIES)}"
        )


def _failing(summary: pipeline.AnalysisSummary, fail_on: str | None) -> int:
    """How many bugs are at or above --fail-on (0 when it was not given)."""
    if fail_on is None:
        return 0
    cut = SEVERITIES.index(fail_on)
    return sum(SEVERITIES.index(b.severity) <= cut for b in summary.bugs)


def _print_tool_calls(counts: dict[str, int]) -> None:
    """With tools offered: how the model used them, and a warning when it only wrote calls as
    text (the server parsed none: nothing would have run)."""
    if not counts:
        return
    console.print(f"tools offered to {counts['offered']} answers: {counts['called']} called one,"
                  f" {counts['undeclared']} an undeclared one, {counts['written_as_text']} wrote"
                  " a call as text instead")
    if counts["written_as_text"] and not counts["called"]:
        console.print("[yellow]the model wrote its tool calls as text and the server parsed none:"
                      " no tool would run. Check the chat template (llama-server needs --jinja)"
                      " or try a model trained for tool calls.[/]", markup=True)


def _print_bugs(summary: pipeline.AnalysisSummary, db: str | None, limit: int = 30,
                verdicts: dict[str, str] | None = None) -> None:
    """The bugs as a table (model output never reaches this table: titles come from the suite).
    `verdicts`: fingerprint -> prompted-baseline verdict, shown in a `prompting` column."""
    from .baseline import verdict_text

    head = (
        f"analysis [bold]{escape(summary.analysis_id)}[/] of run [bold]{escape(summary.run_id)}[/]"
        f" ({escape(summary.judge)} judge): {summary.answers} answers, {summary.judged} judged now,"
        f" {summary.judge_errors} unlabelled, {summary.contradictions} contradictions,"
        f" [bold]{len(summary.bugs)} bugs[/] in {summary.elapsed_s:.1f}s"
    )
    console.print(head, markup=True)
    if summary.open_answers:
        console.print(f"{summary.open_answers} answers to open claims read as values:"
                      f" {summary.value_modes} value modes (the Claims page of the dashboard"
                      " shows them)")
    if summary.pushback:  # pushback: how often a challenged answer gave in
        opposed = sum(c["opposed"] for c in summary.pushback.values())
        caved = sum(c["caved"] for c in summary.pushback.values())
        console.print(f"pushback: {summary.turns} follow-up turns; {caved} of {opposed} answers"
                      f" challenged by the user caved ({caved / max(opposed, 1):.0%}) over"
                      f" {len(summary.pushback)} claims")
    if summary.clarify:  # run --clarify: what the forced yes/no follow-ups settled
        c = summary.clarify
        console.print(f"clarify: {c['followups']} forced yes/no follow-ups, {c['decisive']}"
                      f" decisive, {c['clarified']} unclear answers settled by them (judge"
                      f" 'clarify'), {c.get('candidates', 0)} candidates only they show (never"
                      " bugs)")
    for kind, why in summary.out_of_reach.items():  # "no unstable bugs" is not "stable"
        console.print(f"[yellow]not looked for: {escape(kind)} bugs ({escape(why)})[/]", markup=True)
    _print_held_back(summary, db)
    _print_tool_calls(summary.tool_calls)
    if summary.mixed_clusters:
        console.print(
            f"[yellow]{summary.mixed_clusters} answer modes got opposite stances for alike"
            " answers: possible judge errors (see the dashboard).[/]", markup=True,
        )
    if not summary.bugs:
        console.print("[green]no contradictions found.[/]", markup=True)
        return
    if plain_lines():  # a CI log or a pipe: one bug per line, never wrapped
        for bug in summary.bugs[:limit]:
            sev = bug.severity + ("" if bug.certain else "?")
            extra = ([f"{verdict_text(verdicts.get(bug.fingerprint)):<24}"]
                     if verdicts is not None else [])
            typer.echo(plain_row(f"{sev:<9}", f"{bug.kind:<10}", f"{bug.rate:>4.0%}",
                                 bug.fingerprint, f"{bug.status:<14}", *extra, bug.title))
    else:
        table = Table("severity", "kind", "title", "rate", "fingerprint", "status")
        if verdicts is not None:
            table.add_column("prompting")
        for bug in summary.bugs[:limit]:
            sev = bug.severity + ("" if bug.certain else "?")
            cells: list[Text] = ([cell(verdict_text(verdicts.get(bug.fingerprint)))]
                                 if verdicts is not None else [])
            table.add_row(
                Text(printable(sev), style=SEVERITY_STYLE.get(bug.severity, "")), cell(bug.kind),
                cell(bug.title), f"{bug.rate:.0%}", cell(bug.fingerprint), cell(bug.status),
                *cells,
            )
        console.print(table)
    if len(summary.bugs) > limit:
        console.print(f"... and {len(summary.bugs) - limit} more")
    if summary.uncertain_bugs:
        console.print(
            f"{summary.uncertain_bugs} bugs marked `?` rest on a single odd answer or a coin-flip"
            " sample: rerun with more --samples to confirm them."
        )
    dbarg = escape(f" --db {shlex.quote(db)}") if db else ""
    console.print(
        f"triage them: [bold]behaviordbg dashboard{dbarg}[/]   export them: [bold]behaviordbg"
        f" export {escape(summary.run_id)}{dbarg} --format markdown --out bugs.md[/]", markup=True,
    )


def _print_held_back(summary: pipeline.AnalysisSummary, db: str | None) -> None:
    """How many candidates were held back, and what the verification pass did."""
    _print_labels(summary.labels)
    v = summary.verification
    if v:
        console.print(
            f"verified with {escape(str(v.get('judge')))}: {v.get('confirmed', 0)} bugs confirmed,"
            f" {v.get('demoted', 0)} demoted to candidates, {v.get('promoted', 0)} candidates"
            f" promoted ({v.get('answers', 0)} answers re-read, {v.get('asked', 0)} asked now)"
        )
    if summary.candidates:
        dbarg = f" --db {shlex.quote(db)}" if db else ""
        console.print(
            f"{len(summary.candidates)} candidates held back (a side rests on weak verdicts; not"
            f" bugs, not counted by --fail-on): behaviordbg bugs {summary.run_id}{dbarg}"
            " --candidates"
        )
        if summary.judge.startswith("llm") and not v:
            console.print("  (one llm reading is weak evidence by itself: add --verify to have"
                          " the rules judge re-read the evidence)")


def _print_labels(labels: dict[str, Any]) -> None:
    """What people's stance labels did in this analysis (behaviordbg.analysis.labels)."""
    if not labels.get("applied"):
        return
    parts = [f"{labels['applied']} answers labelled by people ({labels.get('changed', 0)} differ"
             " from the judge)"]
    for key, what in (("closed", "closed as false_positive (evidence relabelled)"),
                      ("reopened", "reopened (labels restore their evidence)"),
                      ("created", "created by labels")):
        if labels.get(key):
            parts.append(f"{len(labels[key])} bugs {what}: {', '.join(labels[key])}")
    console.print(escape("; ".join(parts)))


def _json_doc(summary: pipeline.AnalysisSummary, run: pipeline.RunSummary | None = None) -> dict[str, Any]:
    doc = summary.to_json()
    doc["top_bugs"] = [
        {"fingerprint": b.fingerprint, "kind": b.kind, "severity": b.severity, "title": b.title,
         "rate": b.rate, "certain": b.certain, "status": b.status, "candidate": False}
        for b in summary.bugs[:20]
    ]
    doc["top_candidates"] = [
        {"fingerprint": b.fingerprint, "kind": b.kind, "severity": b.severity, "title": b.title,
         "rate": b.rate, "candidate": True, "reason": b.evidence_note}
        for b in summary.candidates[:20]
    ]
    if run is not None:
        doc["run"] = run.to_json()
    return doc


def analyze(
    ctx: typer.Context,
    run_id: str = typer.Argument("latest", help="A run id (or unique prefix), or `latest`."),
    judge: str = JudgeOption,
    judge_base_url: str | None = JudgeUrlOption,
    judge_model: str | None = JudgeModelOption,
    judge_api_key_env: str = JudgeKeyOption,
    embeddings: bool = EmbeddingsOption,
    embeddings_model: str | None = EmbeddingsModelOption,
    verify: bool = VerifyOption,
    verify_judge: str = VerifyJudgeOption,
    verify_base_url: str | None = VerifyUrlOption,
    verify_model: str | None = VerifyModelOption,
    verify_api_key_env: str = VerifyKeyOption,
    fail_on: str | None = FailOnOption,
    db: str | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Find contradictions in a stored run and turn them into bugs.

    Judges every answer's stance (verdicts are stored: a rerun, or a killed analysis, judges only
    what is missing), clusters answers into modes, finds the five contradiction kinds (unstable,
    paraphrase, say_do, rule, manifest) and records each bug with a stable fingerprint. A
    contradiction is a bug only when each side has a solid verdict (confidence >= 0.8, or two
    judges agreeing); weaker ones are held back as candidates (`bugs --candidates`).

    Examples:

      behaviordbg analyze latest
      behaviordbg analyze latest --verify                   # a second judge re-reads the evidence
      behaviordbg analyze run-20260101-120000-abc123 --judge cascade
      behaviordbg analyze latest --judge llm --judge-base-url http://localhost:8000/v1 --judge-model qwen
      behaviordbg analyze latest --json --fail-on high      # CI: exit 1 on high or critical bugs

    `judge`, `db` and `fail-on` may come from behaviordbg.toml (see `behaviordbg init`).
    """
    settings = settings_from(ctx)
    judge, fail_on = settings["judge"].value, settings["fail-on"].value
    _check_fail_on(fail_on)
    opts = _analyze_opts(judge, judge_base_url, judge_model, judge_api_key_env, embeddings,
                         embeddings_model, verify, verify_judge, verify_base_url, verify_model,
                         verify_api_key_env)
    progress = JudgeProgress() if not json_out else None
    with Store.open(resolve_db(db)) as store:
        state = pipeline.run_state(store, run_id)
        summary = pipeline.analyze_run(store, run_id, opts, progress)
        # a run with a prompted twin: analyse the other side too, then the verdicts
        comparison = analyze_linked(store, summary.run_id, opts, progress)
    if state["partial"]:  # an incomplete run is never analysed as if it were complete
        err_console.print(f"[bold yellow]warning:[/] {escape(state['note'])}", markup=True)
    if json_out:
        doc = _json_doc(summary)
        doc["partial_run"] = state["note"] or None
        emit_json(doc if comparison is None else baseline_cli.add_verdicts(doc, comparison))
    else:
        _print_bugs(summary, db, verdicts=baseline_cli.verdicts_of(comparison))
        if comparison is not None:
            baseline_cli.print_comparison(comparison, db)
        if state["partial"]:
            console.print(f"[yellow]partial run: {state['unanswered']} of {state['queries']}"
                          " queries have no answer (see the warning above)[/]", markup=True)
    if _failing(summary, fail_on):
        raise typer.Exit(1)


ShowConfigOption = typer.Option(
    False, "--show-config",
    help="Print each setting (endpoint, model, api-key-env, samples, judge, manifest, suites, db,"
    " fail-on) as resolved from the flags, the project file (behaviordbg.toml or"
    " [tool.behaviordbg] in pyproject.toml) and the defaults, with where it came from; run nothing.",
)


def check(
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
    judge: str = JudgeOption,
    judge_base_url: str | None = JudgeUrlOption,
    judge_model: str | None = JudgeModelOption,
    judge_api_key_env: str = JudgeKeyOption,
    embeddings: bool = EmbeddingsOption,
    embeddings_model: str | None = EmbeddingsModelOption,
    verify: bool | None = CheckVerifyOption,
    verify_judge: str = VerifyJudgeOption,
    verify_base_url: str | None = VerifyUrlOption,
    verify_model: str | None = VerifyModelOption,
    verify_api_key_env: str = VerifyKeyOption,
    fail_on: str | None = FailOnOption,
    prompted_baseline: bool = baseline_cli.PromptedBaselineOption,
    baseline_prompt: str | None = baseline_cli.BaselinePromptOption,
    show_config: bool = ShowConfigOption,
    db: str | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Probe a model, find the contradictions in what it says about itself, and list the bugs.

    The main job: with no options it asks the embedded local model (no API key, no network) every
    prompt of the shipped suites once and judges the answers with the offline rules judge.
    --verify has a second judge re-read the decisive evidence (the embedded model's server is
    shared for it).

    Examples:

      behaviordbg check
      behaviordbg check --base-url https://api.openai.com/v1 --model gpt-4o-mini --samples 3
      behaviordbg check probes/tools.yaml --manifest agent-with-tools --judge cascade
      behaviordbg check --json --fail-on high          # CI: exit 1 on high or critical bugs
      behaviordbg check --pushback --samples 3         # also: does it cave when challenged?
      behaviordbg check --prompted-baseline --samples 5  # fixed by a system prompt, or not?

    Settings you repeat (endpoint, model, api-key-env, samples, judge, manifest, suites, db,
    fail-on) can live in behaviordbg.toml or [tool.behaviordbg] in pyproject.toml (`behaviordbg
    init` writes one); flags override the file. `--show-config` shows what applies and why.

    Exit codes: 0 even when bugs were found (unless --fail-on), 1 a bug at or above --fail-on,
    2 a usage, URL, database or endpoint error with its fix, 3 the run failed (more than
    --max-failed of the queries failed, or none was answered; it is then not analysed), 130 on
    Ctrl-C and 143 on SIGTERM.
    """
    settings = settings_from(ctx)
    if show_config:
        print_settings(settings, json_out)
        return
    fail_on = settings["fail-on"].value
    _check_fail_on(fail_on)
    aopts = _analyze_opts(settings["judge"].value, judge_base_url, judge_model, judge_api_key_env,
                          embeddings, embeddings_model, verify, verify_judge, verify_base_url,
                          verify_model, verify_api_key_env)
    ropts = run_options(settings["suites"].value, settings["endpoint"].value,
                        settings["model"].value, settings["api-key-env"].value,
                        settings["samples"].value, temperature, max_tokens, concurrency, timeout,
                        max_attempts, settings["manifest"].value, label, limit, claim, refresh,
                        max_failed, pushback=pushback,
                        tools_on_questions=tools_on_questions, clarify=clarify)
    show = not json_out
    note = samples_note(ropts.samples)
    if note and show:  # said before the minutes of probing, not only after
        err_console.print(escape(note), markup=True)
    if baseline_prompt is not None and not prompted_baseline:
        raise BehaviordbgError("--baseline-prompt needs --prompted-baseline",
                               "add --prompted-baseline, or drop --baseline-prompt")
    if prompted_baseline:
        baseline_cli.check_pair_cmd(ropts, aopts, baseline_prompt, fail_on, db, json_out)
        return
    with Store.open(resolve_db(db)) as store:
        try:
            run, summary = pipeline.check(
                store, ropts, aopts, RichProgress() if show else None,
                JudgeProgress() if show else None,
            )
        except pipeline.RunInterrupted as stop:
            err_console.print(
                f"[yellow]interrupted{_by(stop)}.[/] resume with:"
                f" {escape(_resume_hint(stop.run_id, db))}, then `behaviordbg analyze"
                f" {escape(stop.run_id)}`", markup=True,
            )
            if json_out:
                emit_json({"run_id": stop.run_id, "status": "interrupted", "signal": stop.signal,
                           "exit_code": interrupted_exit_code(stop)})
            raise typer.Exit(interrupted_exit_code(stop)) from None
        except RunFailed as failed:
            _report_failed_run(failed, db, json_out)
            raise typer.Exit(EXIT_RUN_FAILED) from None
    if json_out:
        emit_json(_json_doc(summary, run))
    else:
        console.print(
            f"run [bold]{run.run_id}[/]: {run.responses}/{run.queries} answered, {run.errors}"
            f" failed, {run.cache_hits} from cache in {run.elapsed_s:.1f}s ({escape(run.model)})",
            markup=True,
        )
        _print_bugs(summary, db)
    if _failing(summary, fail_on):
        raise typer.Exit(1)


def _report_failed_run(failed: RunFailed, db: str | None, json_out: bool) -> None:
    """A run that failed the --max-failed gate: what happened, the most common error, its fix;
    nothing is analysed (its bugs would rest on a fraction of the answers)."""
    run = failed.summary
    assert isinstance(run, pipeline.RunSummary)
    if not json_out:
        console.print(
            f"run [bold]{run.run_id}[/]: {run.responses}/{run.queries} answered, {run.errors}"
            f" failed, {run.cache_hits} from cache in {run.elapsed_s:.1f}s ({escape(run.model)})",
            markup=True,
        )
    report_errors(run, db, then=f", then `behaviordbg analyze {run.run_id}`")
    err_console.print("not analysed: the bugs of a run this incomplete would be a guess",
                      markup=False)
    if json_out:
        emit_json({"ok": False, "exit_code": EXIT_RUN_FAILED, "error": failed.message,
                   "hint": failed.hint, "run": run.to_json()})


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("analyze")(analyze)
    app.command("check")(check)
