"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ..config import (
    API_KEY_ENV,
    RunOptions,
    Setting,
    parse_max_failed,
    resolve_db,
    resolve_settings,
)
from ..errors import EXIT_USAGE, BehaviordbgError
from ..escape import printable

NO_RUNS_HINT = ("start with `behaviordbg check` (it probes the model and finds the bugs), or"
                " `behaviordbg run` and then `behaviordbg analyze latest`")


def _columns_set() -> bool:
    return os.environ.get("COLUMNS", "").strip().isdigit()


class _Console(Console):
    """A rich console that does not wrap lines when its stream is not a terminal (CI logs,
    pipes: rich would otherwise wrap at 80 columns) unless COLUMNS gives a width."""

    @property
    def soft_wrap(self) -> bool:
        return not self.is_terminal and not _columns_set()

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        pass  # decided by the stream, at print time


console = _Console(highlight=False)
err_console = _Console(stderr=True, highlight=False)


def plain_lines() -> bool:
    """Whether tables print as plain lines, one row per line, with no box drawing: stdout is
    not a terminal (a CI log, a pipe) and COLUMNS does not say how wide it is."""
    return not console.is_terminal and not _columns_set()


def plain_row(*fields: str) -> str:
    """One table row as one line: each field made printable on one line (newlines and
    terminal controls shown escaped), fields separated by two spaces."""
    return "  ".join(printable(f) for f in fields)


WHOLE = ("bug", "run", "id", "fingerprint", "created", "at (UTC)")  # print_table columns never cut: ids get copied


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, title: str = "",
    fold: Sequence[str] = (), caption: str = "",
) -> None:
    """A table of untrusted text: rich, with box drawing, on a terminal (or as wide as COLUMNS
    says); elsewhere (a CI log, a pipe) the title, a header line and one line per row, columns
    padded, never wrapped, so `grep` sees each row whole. `fold`: the columns that may wrap."""
    texts = [[" ".join(printable(c, newlines=True).split("\n")) for c in row] for row in rows]
    if plain_lines():
        if title:
            typer.echo(printable(title) + (f" ({printable(caption)})" if caption else ""))
        widths = [min(40, max([len(h), *(len(r[i]) for r in texts)]))
                  for i, h in enumerate(headers)]
        for cells in [list(headers), *texts]:
            typer.echo(("  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths))
                        + ("  " if len(cells) > 1 else "") + cells[-1]).rstrip())
        return
    table = Table(title=escape(title) if title else None, caption=escape(caption) if caption else None)
    for h in headers:  # ids stay whole (a fingerprint is copied); text wraps, the `fold` ones first
        if h in WHOLE:
            table.add_column(h, no_wrap=True, min_width=max(len(h), *(len(r[headers.index(h)])
                                                                       for r in texts), 1))
        else:
            table.add_column(h, overflow="fold", min_width=10 if h in fold else None,
                             ratio=1 if h in fold else None)
    for row in texts:
        table.add_row(*(Text(c) for c in row))
    console.print(table)


DbOption = typer.Option(
    None, "--db", help="SQLite database. Default: $BEHAVIORDBG_DB, else .behaviordbg/behaviordbg.db."
)
JsonOption = typer.Option(
    False, "--json", help="Quiet, machine-readable: the last line of stdout is one JSON object."
)


# Options shared by `run` and `check` (one definition, so their help cannot drift apart).
SuitePathsArg = typer.Argument(
    None, help="Suite files or directories (default: the shipped probes/).", show_default=False
)
BaseUrlOption = typer.Option(
    None, "--base-url", help="OpenAI-compatible endpoint, e.g. https://api.openai.com/v1 or"
    " http://localhost:8000/v1 (vLLM), http://localhost:11434/v1 (Ollama). Default: the"
    " embedded local model.",
)
ModelOption = typer.Option(None, "--model", help="Model id at that endpoint.")
ApiKeyEnvOption = typer.Option(
    API_KEY_ENV, "--api-key-env",
    help="Name of the environment variable holding the API key (the key itself is never stored).",
)
SamplesOption = typer.Option(
    RunOptions.samples, "--samples", min=1, help="Answers per prompt (sent as `n` when the server supports it);"
    " more samples make bugs certain and find unstable answers.",
)
TemperatureOption = typer.Option(RunOptions.temperature, "--temperature", min=0.0)
MaxTokensOption = typer.Option(RunOptions.max_tokens, "--max-tokens", min=1)
ConcurrencyOption = typer.Option(
    RunOptions.concurrency, "--concurrency", min=1,
    help="Requests in flight at once (the embedded model: at most its 2 slots).",
)
TimeoutOption = typer.Option(RunOptions.timeout, "--timeout", min=0.1, help="Seconds per attempt.")
MaxAttemptsOption = typer.Option(
    RunOptions.max_attempts, "--max-attempts", min=1,
    help="Attempts per request (429, 5xx, timeouts and dropped connections are retried).",
)
ManifestOption = typer.Option(
    None, "--manifest", help="Deployment manifest (a path, or a shipped name like `chat`)."
)
ToolsOnQuestionsOption = typer.Option(
    False, "--tools-on-questions",
    help="With a manifest that declares `tools`: send them with the direct and negated questions"
    " too, not only with the act requests (catches a \"no, I can't browse\" that calls"
    " web_search in the same answer).",
)
LabelOption = typer.Option("", "--label", help="A note stored with the run, e.g. `ckpt-1200`.")
LimitOption = typer.Option(
    None, "--limit", min=1, help="Ask at most this many queries (a quick smoke run)."
)
ClaimOption = typer.Option(None, "--claim", help="Only this claim id (repeatable).")
MaxFailedOption = typer.Option(
    "5%", "--max-failed",
    help="Exit with code 3 (and, for check, do not analyse) when more than this share of the"
    " queries fail after their retries, e.g. 5%, 0.2 or 0. A run with no answer always fails.",
)
RefreshOption = typer.Option(
    False, "--refresh",
    help="Ask the model even for cached answers: for a new checkpoint served under the same model"
    " name and URL (answers are cached by model name, URL and parameters).",
)
PushbackOption = typer.Option(
    None, "--pushback/--no-pushback",
    help="After each first answer, challenge it in the same conversation, once towards each side"
    " (\"Are you sure? I'm quite certain you have a physical body.\" / \"... I don't think ...\")"
    " and find where the model caves (kind `caves`). --pushback: the default challenges for every"
    " claim that declares none; --no-pushback: none, even where a suite declares them. Default:"
    " as the suites declare (docs/suites.md, Pushback).", show_default=False,
)

ClarifyOption = typer.Option(
    False, "--clarify",
    help="After each answer to a yes/no question or request that the rules judge reads as"
    " unclear, ask ONE follow-up in the same conversation (\"Please answer with just yes or no:"
    " <question>\"; requests: \"Did you actually do it? ...\") and let a decisive reply settle"
    " the answer's stance (judge 'clarify'; alone it makes candidates, not bugs). Cached and"
    " resumable like pushback. Off by default: on the embedded model it asked 1 extra request per"
    " 5 answers, took longer than the run itself and the forced replies matched the hand labels"
    " only about 70% of the time; see docs/judging.md, Forced-choice follow-up.",
)


def run_options(
    suite_paths: list[str] | None, base_url: str | None, model: str | None, api_key_env: str,
    samples: int, temperature: float, max_tokens: int, concurrency: int, timeout: float,
    max_attempts: int, manifest: str | None, label: str, limit: int | None,
    claim: list[str] | None, refresh: bool, max_failed: str, resume: str | None = None,
    pushback: bool | None = None,
    tools_on_questions: bool = False, clarify: bool = False,
) -> RunOptions:
    """The options `run` and `check` share, as the pipeline's RunOptions."""
    return RunOptions(
        suite_paths=list(suite_paths) if suite_paths else None, base_url=base_url, model=model,
        api_key_env=api_key_env, samples=samples, temperature=temperature, max_tokens=max_tokens,
        concurrency=concurrency, timeout=timeout, max_attempts=max_attempts, resume=resume,
        manifest_path=manifest, label=label, claims=set(claim) if claim else None, limit=limit,
        refresh=refresh, max_failed=parse_max_failed(max_failed), pushback=pushback,
        tools_on_questions=tools_on_questions, clarify=clarify,
    )


# project-file key -> (the command's parameter, the flag as typed): which flags stand for which
# key of behaviordbg.toml, so a flag given on the command line wins over the file.
FLAG_KEYS: dict[str, tuple[str, str]] = {
    "endpoint": ("base_url", "--base-url"), "model": ("model", "--model"),
    "api-key-env": ("api_key_env", "--api-key-env"), "samples": ("samples", "--samples"),
    "judge": ("judge", "--judge"), "manifest": ("manifest", "--manifest"),
    "suites": ("suite_paths", "SUITE_PATHS"), "db": ("db", "--db"), "fail-on": ("fail_on", "--fail-on"),
}


def settings_from(ctx: typer.Context) -> dict[str, Setting]:
    """The project settings of this command: the flags typed on its command line (a flag left at
    its default does not count) over the project file over the defaults (config.resolve_settings)."""
    given: dict[str, tuple[Any, str]] = {}
    for key, (param, flag) in FLAG_KEYS.items():
        if param not in ctx.params:
            continue
        source = ctx.get_parameter_source(param)
        value = ctx.params[param]
        if source is None or source.name in ("DEFAULT", "DEFAULT_MAP") or value in (None, [], ()):
            continue
        given[key] = (list(value) if key == "suites" else value, f"flag {flag}")
    return resolve_settings(given)


SHOWN_WHEN_UNSET = {
    "endpoint": "the embedded local model", "model": "the endpoint's model (embedded: its GGUF)",
    "manifest": "chat (a plain chat model)", "suites": "the shipped probes/",
    "fail-on": "off (exit 0 even when bugs are found)",
}


def print_settings(settings: dict[str, Setting], as_json: bool) -> None:
    """`check --show-config`: each resolved value and where it came from, one per line."""
    from ..config_file import find_config
    from ..urls import redact_url

    path = find_config()
    url = settings["endpoint"]
    if url.value:  # credentials in a URL are never printed
        settings = {**settings, "endpoint": Setting(url.key, redact_url(url.value), url.source)}
    if as_json:
        emit_json({"config_file": str(path) if path else None,
                   "settings": {k: {"value": s.value, "source": s.source}
                                for k, s in settings.items()}})
        return
    typer.echo(f"config file: {printable(path) if path else 'none (searched from this folder up)'}")
    width = max(len(k) for k in settings)
    for key, s in settings.items():
        value = s.value
        if value is None or value == []:
            shown = SHOWN_WHEN_UNSET.get(key, "-")
        elif isinstance(value, list):
            shown = ", ".join(printable(v) for v in value)
        else:
            shown = printable(value)
        typer.echo(f"{key:<{width}}  {shown}  ({printable(s.source)})")


def escape(text: object) -> str:
    """Text from a database, a suite or a model, for a rich markup string: terminal-unsafe
    characters shown escaped (behaviordbg.escape), then rich markup escaped. Newlines stay."""
    from rich.markup import escape as markup_escape

    return markup_escape(printable(text, newlines=True))


def cell(text: object) -> Text:
    """The same for a table cell or any rich Text (no markup is read from it)."""
    return Text(printable(text, newlines=True))


def error_doc(err: BaseException) -> dict[str, Any]:
    """A failure as the --json contract's last line: scripts see why, not an empty stdout."""
    return {
        "ok": False,
        "error": getattr(err, "message", None) or str(err),
        "hint": getattr(err, "hint", ""),
        "exit_code": exit_code_of(err),
    }


def exit_code_of(err: BaseException) -> int:
    """The documented exit code of a known error (2 unless its class says otherwise)."""
    return int(getattr(err, "exit_code", EXIT_USAGE) or EXIT_USAGE)


def fail(err: BaseException, *, as_json: bool | None = None) -> typer.Exit:
    """Print a known error (and its JSON form under --json); return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
    if as_json or (as_json is None and json_requested()):
        emit_json(error_doc(err))
    return typer.Exit(exit_code_of(err))


def known_error(err: BaseException, db: str | None = None) -> BaseException | None:
    """`err` as an error a person can act on, or None for a bug (which keeps its traceback)."""
    from ..store import database_error

    if isinstance(err, BehaviordbgError):
        return err
    if isinstance(err, sqlite3.Error):
        return database_error(err, resolve_db(db))
    return None


def guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command whose known errors end as one clear message and their exit code, never a
    traceback: in the installed script and in Typer's test runner alike."""

    @functools.wraps(command)
    def run_guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as err:
            known = known_error(err, kwargs.get("db"))
            if known is None:
                raise
            as_json = bool(kwargs.get("json_out") or kwargs.get("as_json")) or None
            raise fail(known, as_json=as_json) from None

    run_guarded.bdbg_guarded = True  # type: ignore[attr-defined]
    return run_guarded


def json_requested() -> bool:
    """Whether this invocation asked for --json (from the command's context, else the command
    line). Typer may bring its own copy of click, so both context stacks are asked."""
    import click

    getters: list[Callable[..., Any]] = [click.get_current_context]
    try:
        from typer._click.globals import get_current_context as typer_context
    except ImportError:  # a typer that uses click itself
        pass
    else:
        getters.append(typer_context)
    for get in getters:
        ctx = get(silent=True)
        if ctx is not None and (ctx.params.get("json_out") or ctx.params.get("as_json")):
            return True
    return "--json" in sys.argv[1:]


def emit_json(obj: Any) -> None:
    """Print one JSON object as the last line of stdout (the --json contract)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:5.1f}/s" if task.speed else "   -/s", style="cyan")


class StageProgress:
    """Progress of one stage on stderr: a rich bar (done/total, rate, ETA, failures) on a terminal,
    and a plain line every 10% elsewhere (CI logs), so long work is never silent."""

    def __init__(self, label: str, failures: str = "errors") -> None:
        self.label = label
        self.failures = failures
        self._bar: Progress | None = None
        if err_console.is_terminal:
            self._bar = Progress(
                TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                TextColumn(f"[red]{{task.fields[errors]}} {failures}"), console=err_console,
            )
        self._task: Any = None
        self._total = 0
        self._done = 0
        self._errors = 0
        self._next_pct = 10
        self._t0 = time.monotonic()

    def start(self, total: int, done: int = 0) -> None:
        self._total, self._done, self._t0 = total, done, time.monotonic()
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=total, completed=done, errors=0)
        else:
            err_console.print(f"{self.label}: {total} to do, {done} already done")

    def advance(self, n: int = 1, *, errors: int = 0) -> None:
        self._done += n
        self._errors += errors
        if self._bar is not None:
            if self._task is not None:
                self._bar.update(self._task, advance=n, errors=self._errors)
            return
        pct = 100 * self._done // max(self._total, 1)
        if pct >= self._next_pct:
            self._next_pct = (pct // 10 + 1) * 10
            elapsed = time.monotonic() - self._t0
            err_console.print(
                f"{self.label}: {self._done}/{self._total} ({pct}%), {elapsed:.0f} s,"
                f" {self._errors} {self.failures}"
            )

    def finish(self) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.stop()


def plain_type_labels() -> None:
    """Help without `<bool>`/`<str>` noise: a flag such as `--json` shows no value placeholder,
    and an option that takes a value shows it the way most command lines do (TEXT, INTEGER,
    FLOAT, a choice list), so a reader can tell the two apart at a glance."""
    from typer import core

    if getattr(core.TyperOption, "bdbg_plain_labels", False):
        return
    plain = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN",
             "list[str]": "TEXT", "Path": "PATH", "path": "PATH"}
    option_label = core.TyperOption.display_type_rich

    def _option(self: Any, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        label = option_label(self, ctx)
        if not isinstance(label, str) or not label.startswith("<"):
            return label  # a metavar the option set itself
        bare = label.strip("<>").removesuffix(" range")
        return plain.get(bare, bare)

    def _argument(self: Any, ctx: Any) -> str | None:
        return None  # the argument's own name (RUN_ID, ...) already says what it takes

    core.TyperOption.display_type_rich = _option  # type: ignore[method-assign]
    core.TyperArgument.display_type_rich = _argument  # type: ignore[method-assign]
    core.TyperOption.bdbg_plain_labels = True  # type: ignore[attr-defined]
