"""The `behaviordbg` command. Thin: parses options, calls `behaviordbg.pipeline`, prints.

Each sub-module registers its commands on the one Typer app; none holds pipeline logic.
"""

from __future__ import annotations

import sys

import typer

from . import analyze, dashboard, judge, label, local, project, run, suites, triage
from ._common import exit_code_of, guarded, known_error, plain_type_labels

plain_type_labels()

app = typer.Typer(
    name="behaviordbg",
    help="Debug what a language model says about itself: probe it, find contradictions, triage bugs.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)



def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"behaviordbg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", "-V", callback=_print_version, is_eager=True,
        help="Print the behaviordbg version and exit (the same as `behaviordbg version`).",
    ),
) -> None:
    """Debug what a language model says about itself.

    Start with `behaviordbg check` (probe, analyze, show bugs; the embedded local model by default),
    then `behaviordbg dashboard` to triage, and `behaviordbg export latest --format markdown`.
    """


@app.command()
def version() -> None:
    """Print the behaviordbg version."""
    from .. import __version__

    typer.echo(__version__)


for module in (run, suites, local, analyze, judge, label, triage, dashboard, project):
    module.register(app)


def _guard_all(typer_app: typer.Typer) -> None:
    """Every command (sub-groups included) turns known errors into a message and exit code."""
    for info in typer_app.registered_commands:
        if info.callback is not None and not getattr(info.callback, "bdbg_guarded", False):
            info.callback = guarded(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _guard_all(group.typer_instance)


_guard_all(app)


def main() -> None:
    """Console-script entry point: known errors become a clear message and their exit code."""
    try:
        app()
    except Exception as err:
        known = known_error(err)
        if known is None:
            raise
        from ._common import emit_json, err_console, error_doc, escape, json_requested

        err_console.print(f"[bold red]error:[/] {escape(str(known))}", highlight=False)
        if json_requested():
            emit_json(error_doc(known))
        sys.exit(exit_code_of(known))
