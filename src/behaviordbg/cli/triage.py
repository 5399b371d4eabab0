"""CLI commands: bugs, triage, history, diff, stats, export (triage lifecycle and tickets).

Thin: each command opens the database, calls one function of behaviordbg.triage, behaviordbg.diff
or behaviordbg.export, and prints.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from .. import triage
from ..config import resolve_db
from ..diff import diff_runs, new_bug_records
from ..errors import BehaviordbgError
from ..escape import printable
from ..export import (
    FORMATS,
    LABELS_FORMAT,
    LABELS_HELP,
    export_bugs,
    gh_script_path,
    safe_out_path,
)
from ..store import Store
from ..types import BUG_STATUSES
from ._common import (
    DbOption,
    JsonOption,
    console,
    emit_json,
    err_console,
    escape,
    fail,
    plain_lines,
    plain_row,
    print_table,
)
from .baseline import verdict_text

STATUS_HELP = f"One of: {', '.join(BUG_STATUSES)}."
SurvivesPromptingOption = typer.Option(
    False, "--survives-prompting",
    help="Only the bugs that still reproduce under the run's prompted baseline (verdict survives"
         " or reduced; `check --prompted-baseline`): where a system prompt is not enough and"
         " training data is the fix. With --status confirmed: the confirmed ones among them.")
FORMAT_HELP = "; ".join([*(f"{name}: {fmt.help}" for name, fmt in FORMATS.items()),
                         f"{LABELS_FORMAT}: {LABELS_HELP}"])
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}


@contextlib.contextmanager
def _open(db: str | None, *, readonly: bool = False) -> Iterator[Store]:
    """Open the store; known errors become one clear message and exit code 2 (also in CliRunner)."""
    try:
        with Store.open(resolve_db(db), readonly=readonly) as store:
            yield store
    except BehaviordbgError as err:
        raise fail(err) from err


def _clip(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def bugs_cmd(
    run_id: str = typer.Argument("latest", help="Run id, unique prefix, or `latest`."),
    status: str | None = typer.Option(None, "--status", help="Only bugs with this status. " + STATUS_HELP),
    candidates: bool = typer.Option(
        False, "--candidates",
        help="Also list the candidates: contradictions held back because a side rests on weak"
             " verdicts (with --json, every row has `candidate`: true or false)."),
    survives_prompting: bool = SurvivesPromptingOption,
    db: str | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """List the bugs a run's newest analysis found, with their triage status.

    A run made with `check --prompted-baseline` also shows each bug's verdict: fixed by
    prompting, reduced, survives prompting (`--survives-prompting` keeps those and the reduced
    ones: where a prompt is not enough and training is the fix).

    Then: `behaviordbg triage FINGERPRINT --status confirmed`, or export them with
    `behaviordbg export RUN --format markdown --out bugs.md`.
    """
    with _open(db, readonly=True) as store:
        report = triage.bugs_report(store, run_id, status=status, candidates=candidates,
                                    survives_prompting=survives_prompting)
    verdict_of = {b["fingerprint"]: (b.get("prompting") or {}).get("verdict")
                  for b in report["bugs"]}
    has_verdicts = report.get("prompted_baseline") is not None
    if json_out:
        emit_json(report)
        return
    bugs = [b for b in report["bugs"] if not b.get("candidate")]
    held = [b for b in report["bugs"] if b.get("candidate")]
    if not bugs:
        console.print(f"no bugs in {escape(report['run_id'])}"
                      + (f" with status {escape(status)}" if status else ""))
    elif plain_lines():  # a CI log or a pipe: one bug per line, never wrapped
        typer.echo(plain_row(f"bugs in {report['run_id']} (judge {report['judge']}):",
                             f"{len(bugs)} bugs"))
        for b in bugs:
            status_txt = b["status"] + (" (regression)" if b["regression"] else "")
            extra = [f"{verdict_text(verdict_of[b['fingerprint']]):<24}"] if has_verdicts else []
            typer.echo(plain_row(b["fingerprint"], f"{b['severity']:<8}", f"{b['kind']:<10}",
                                 f"{status_txt:<14}", f"{b['rate']:>4.0%}", *extra, b["title"]))
        typer.echo("triage: behaviordbg triage FINGERPRINT --status " + "|".join(BUG_STATUSES))
    else:
        table = Table(title=f"bugs in {escape(report['run_id'])} (judge {escape(report['judge'])})")
        for col in ("fingerprint", "severity", "kind", "status", "rate"):
            table.add_column(col, no_wrap=True)
        if has_verdicts:
            table.add_column("prompting", no_wrap=True)
        table.add_column("title", overflow="fold", ratio=1)
        for b in bugs:
            sev = escape(b["severity"])
            status_txt = escape(b["status"]) + (" [magenta](regression)[/]" if b["regression"] else "")
            extra = [escape(verdict_text(verdict_of[b["fingerprint"]]))] if has_verdicts else []
            table.add_row(escape(b["fingerprint"]), f"[{SEVERITY_STYLE.get(b['severity'], '')}]{sev}[/]",
                          escape(b["kind"]), status_txt, f"{b['rate']:.0%}", *extra,
                          escape(_clip(b["title"], 80)))
        console.print(table)
        console.print("triage: behaviordbg triage FINGERPRINT --status " + "|".join(BUG_STATUSES),
                      soft_wrap=True)
    if has_verdicts:
        pb = report["prompted_baseline"]
        shown = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in pb["summary"].items() if n)
        console.print(f"prompted baseline: twin run {escape(pb['prompted_run'])}, prompt sha256"
                      f" {escape(pb['prompt_sha256'][:12])}: {escape(shown or 'no bugs either way')}"
                      + (" (shown: only the bugs that survive prompting)"
                         if survives_prompting else ""), soft_wrap=True)
    if held and plain_lines():
        typer.echo(f"candidates in {printable(report['run_id'])}: held back, not bugs")
        for b in held:
            typer.echo(plain_row(b["fingerprint"], f"{b['kind']:<10}", f"{b['rate']:>4.0%}",
                                 b["title"], f"(held back: {b['evidence_note']})"))
    elif held:
        table = Table(title=f"candidates in {escape(report['run_id'])}: held back, not bugs")
        for col in ("fingerprint", "kind", "rate"):
            table.add_column(col, no_wrap=True)
        table.add_column("title", overflow="fold", ratio=1)
        table.add_column("why held back", overflow="fold", ratio=1)
        for b in held:
            table.add_row(escape(b["fingerprint"]), escape(b["kind"]), f"{b['rate']:.0%}",
                          escape(_clip(b["title"], 80)), escape(_clip(b["evidence_note"], 160)))
        console.print(table)
    elif report["candidates_held_back"]:
        console.print(f"{report['candidates_held_back']} candidates held back (weak evidence):"
                      " list them with --candidates")


def triage_cmd(
    fingerprint: str = typer.Argument(..., help="Bug fingerprint (a unique prefix is enough)."),
    status: str | None = typer.Option(None, "--status", help=STATUS_HELP),
    note: str | None = typer.Option(None, "--note", help="Why; kept in the bug's history."),
    assignee: str | None = typer.Option(None, "--assignee", help="Who owns it ('' to unassign)."),
    label: list[str] | None = typer.Option(None, "--label", help="Set labels (repeat the option)."),
    actor: str = typer.Option("", "--actor", envvar="USER", help="Who made the change (env USER)."),
    db: str | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Set a bug's status, assignee, labels or add a note; every change is kept in its history.

    A bug marked `fixed` that a later run reproduces reopens as a regression by itself.
    Example: `behaviordbg triage 3fa2c1 --status false_positive --note "judge misread a refusal"`.
    """
    if status is None and note is None and assignee is None and not label:
        err_console.print("[bold red]error:[/] nothing to change\n  fix: pass --status, --note,"
                          " --assignee or --label")
        raise typer.Exit(2)
    with _open(db) as store:
        rec = triage.triage(store, fingerprint, status=status, note=note, assignee=assignee,
                                  labels=label or None, actor=actor)
    if json_out:
        emit_json(rec)
        return
    changed = ", ".join(rec["changed"]) or "nothing (already so)"
    console.print(f"{escape(rec['fingerprint'])}: status [bold]{escape(rec['status'])}[/];"
                  f" changed: {escape(changed)}")


def history_cmd(
    fingerprint: str = typer.Argument(..., help="Bug fingerprint (a unique prefix is enough)."),
    db: str | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Show a bug's triage record and every change: status, notes, runs that saw or missed it."""
    with _open(db, readonly=True) as store:
        report = triage.bug_history(store, fingerprint)
    if json_out:
        emit_json(report)
        return
    bug = report["bug"]
    console.print(f"[bold]{escape(bug['fingerprint'])}[/] {escape(bug['title'])}\n"
                  f"status {escape(bug['status'])}, assignee {escape(str(bug['assignee'] or '-'))},"
                  f" first seen {escape(bug['first_seen_run'])}, last seen {escape(bug['last_seen_run'])}")
    print_table(
        ("at (UTC)", "field", "old -> new", "run", "note"),
        [(str(h["at"])[:19].replace("T", " "), h["field"], f"{h['old'] or '-'} -> {h['new'] or '-'}",
          h["run_id"] or "", h["note"] or "") for h in report["history"]],
        fold=("old -> new", "note"),
    )


def diff_cmd(
    run_a: str = typer.Argument(..., help="Baseline run (id, prefix or `latest`)."),
    run_b: str = typer.Argument(..., help="Run to compare with the baseline."),
    fmt: str = typer.Option(
        "table", "--format", "-f",
        help="table: for a terminal; markdown: a compact pull-request comment (headline, new and"
             " resolved bugs, the rest and the evidence collapsed; within GitHub's 65,536"
             " characters), e.g. `... --format markdown > comment.md && gh pr comment"
             " --body-file comment.md`."),
    db: str | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Compare two runs bug by bug: new, resolved, not reproduced, persisting, changed.

    Rates are the share of decisive answers in each bug's claim/framing cells that side with the
    contradiction. "resolved" needs a significant drop (Fisher's exact test, p < 0.05) and enough
    answers; otherwise a missing bug is "not reproduced (inconclusive)".
    """
    if fmt not in ("table", "markdown"):
        raise fail(BehaviordbgError(f"unknown --format {fmt!r}", "use table or markdown"))
    if json_out and fmt != "table":
        raise fail(BehaviordbgError("--json and --format markdown exclude each other",
                                    "pass one of them"))
    with _open(db, readonly=True) as store:
        diff = diff_runs(store, run_a, run_b)
        d = diff.to_dict()
        records = new_bug_records(store, diff) if fmt == "markdown" else {}
    for warning in d.get("warnings") or []:
        err_console.print(f"[bold yellow]warning:[/] {escape(warning)}", markup=True)
    if json_out:
        emit_json(d)
        return
    if fmt == "markdown":
        from ..export.pr_comment import render
        from ..types import to_dict

        dbarg = f" --db {shlex.quote(db)}" if db else ""
        sys.stdout.write(render(d, {fp: to_dict(b) for fp, b in records.items()},
                                command=f"behaviordbg diff {d['run_a']} {d['run_b']}{dbarg}"))
        sys.stdout.flush()
        return
    print_table(
        ("change", "bug", "kind", "severity a -> b", "rate a -> b", "p", "note"),
        [(group.replace("_", " "), c["fingerprint"], c["kind"],
          f"{c['severity_a'] or '-'} -> {c['severity_b'] or '-'}",
          f"{_rate(c['rate_a'], c['counts_a'])} -> {_rate(c['rate_b'], c['counts_b'])}",
          "-" if c["p_value"] is None else f"{c['p_value']:.3g}", c["note"])
         for group in ("new", "resolved", "not_reproduced", "changed", "persisting")
         for c in d[group]],
        title=f"{d['run_a']} -> {d['run_b']}", fold=("note",),
    )
    console.print(", ".join(f"{k}: {v}" for k, v in d["summary"].items()))


def _rate(rate: float | None, counts: Any) -> str:
    return "-" if rate is None else f"{rate:.0%} ({counts[0]}/{counts[0] + counts[1]})"


def stats_cmd(db: str | None = DbOption, json_out: bool = JsonOption) -> None:
    """Judge quality: accuracy against people's stance labels, and precision from your triage.

    Accuracy: each judge's verdicts against the answers people labelled (`behaviordbg label`,
    the dashboard), overall, per framing and per claim, with a confusion matrix and 95% Wilson
    intervals. Precision: confirmed vs false_positive bugs, per judge and per kind; every
    `behaviordbg triage --status confirmed|false_positive` makes it better.
    """
    with _open(db, readonly=True) as store:
        st = triage.judge_stats(store)
        st["labels"] = triage.label_stats(store)
    if json_out:
        emit_json(st)
        return
    _print_label_stats(st["labels"])
    for key, title in (("by_judge", "judge"), ("by_kind", "kind")):
        print_table(
            (title, "confirmed", "false_positive", "precision", "95% interval"),
            [(r[title], r["confirmed"], r["false_positive"],
              "-" if r["precision"] is None else f"{r['precision']:.2f}",
              f"{r['low']:.2f}-{r['high']:.2f}") for r in st[key]],
            title=f"precision by {title}",
        )
    console.print("bugs by status: " + ", ".join(f"{k} {v}" for k, v in st["bugs_by_status"].items()))


def _print_label_stats(st: dict[str, Any]) -> None:
    """Judge accuracy against labels: one table of judges, then each judge's confusion matrix."""
    if not st["judges"]:
        console.print(f"judge accuracy: {st['labelled_answers']} answers labelled, none judged"
                      " yet (label answers with `behaviordbg label` or the dashboard)")
        return
    table = Table(title=f"judge accuracy against {st['labelled_answers']} labelled answers")
    for col in ("judge", "right", "labelled", "accuracy", "95% interval", "worst framing",
                "worst claim"):
        table.add_column(col)

    def worst(rows: list[dict[str, Any]], key: str) -> str:
        rows = [r for r in rows if r["n"]]
        if not rows:
            return "-"
        r = min(rows, key=lambda r: (r["accuracy"], -r["n"]))
        return f"{r[key]} {r['right']}/{r['n']}"

    for j in st["judges"]:
        acc = "-" if j["accuracy"] is None else f"{j['accuracy']:.2f}"
        table.add_row(escape(j["judge"]), str(j["right"]), str(j["n"]), acc,
                      f"{j['low']:.2f}-{j['high']:.2f}", escape(worst(j["by_framing"], "framing")),
                      escape(worst(j["by_claim"], "claim")))
    console.print(table)
    for j in st["judges"]:
        cols = list(next(iter(j["confusion"].values())))
        matrix = Table(title=f"{escape(j['judge'])}: person (rows) vs judge (columns)")
        for col in ("person", *cols):
            matrix.add_column(col)
        for human, row in j["confusion"].items():
            if any(row.values()):
                matrix.add_row(human, *(str(row[c]) for c in cols))
        console.print(matrix)


def export_cmd(
    run_id: str = typer.Argument("latest", help="Run id, unique prefix, or `latest`."),
    fmt: str = typer.Option(..., "--format", "-f", help=FORMAT_HELP),
    out: str = typer.Option(..., "--out", "-o", help="File to write (its folder must exist)."),
    base_dir: str | None = typer.Option(
        None, "--base-dir",
        help="Keep exports inside this folder: a relative --out is taken from here, and any path"
             " that resolves outside it ('..', absolute, symlinks) is refused."),
    gh_commands: bool = typer.Option(
        False, "--gh-commands",
        help="github only: write each issue body next to --out and print `gh issue create` lines."),
    candidates: bool = typer.Option(
        False, "--candidates",
        help="Also export the candidates (held back for weak evidence), marked as such."),
    survives_prompting: bool = SurvivesPromptingOption,
    db: str | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Export a run's bugs as tickets. Nothing is sent anywhere; model output is escaped per format.

    Example: `behaviordbg export latest --format sarif --out bugs.sarif`.
    """
    safe_out_path(out, base_dir)  # a refused path is refused before the database is opened
    with _open(db, readonly=True) as store:
        path = export_bugs(store, run_id, fmt, out, base_dir=base_dir, gh_commands=gh_commands,
                           candidates=candidates, survives_prompting=survives_prompting)
        result = {"format": fmt, "path": str(path), "run_id": store.resolve_run(run_id)}
    if gh_commands:
        result["gh_script"] = str(gh_script_path(path))
    script = result.get("gh_script")
    if script and not json_out:
        typer.echo(Path(script).read_text(encoding="utf-8"), nl=False)  # unwrapped: copy-paste
    if json_out:
        emit_json(result)
        return
    console.print(f"wrote {escape(result['format'])} export of {escape(result['run_id'])} to"
                  f" {escape(result['path'])}" + (f" (commands in {escape(script)})" if script else ""))


def report_cmd(
    run_id: str = typer.Argument("latest", help="Run id, unique prefix, or `latest`."),
    out: str = typer.Option("report.html", "--out", "-o", help="HTML file to write (its folder must exist)."),
    baseline: str | None = typer.Option(
        None, "--baseline",
        help="Also show what changed since this run (id, prefix or `latest`): new, resolved, not"
             " reproduced, changed and persisting bugs, as `behaviordbg diff BASELINE RUN`."),
    db: str | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Write one self-contained HTML report of a run: open it in any browser, offline.

    Summary, the contradiction graph (inline SVG), stances per claim, and every bug with its
    evidence and repro; with --baseline, the diff against that run. All model text escaped,
    nothing loaded from the network.
    Example: `behaviordbg report latest --baseline run-20260101-120000-abc123 --out report.html`.
    """
    from ..report import render_report

    path = safe_out_path(out, None)
    with _open(db, readonly=True) as store:
        page = render_report(store, run_id, baseline=baseline)
        resolved = store.resolve_run(run_id)
        base = store.resolve_run(baseline) if baseline is not None else None
    path.write_text(page, encoding="utf-8")
    if json_out:
        emit_json({"path": str(path), "run_id": resolved, "baseline": base,
                   "bytes": len(page.encode("utf-8"))})
        return
    console.print(f"wrote the report of {escape(resolved)}"
                  + (f" (compared with {escape(base)})" if base else "")
                  + f" to {escape(str(path))}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("bugs")(bugs_cmd)
    app.command("triage")(triage_cmd)
    app.command("history")(history_cmd)
    app.command("diff")(diff_cmd)
    app.command("stats")(stats_cmd)
    app.command("export")(export_cmd)
    app.command("report")(report_cmd)
