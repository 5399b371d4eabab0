"""The `behaviordbg` command. Thin: parses options, calls `behaviordbg.pipeline`, prints.

Each sub-module registers its commands on the one Typer app; none holds pipeline logic.
"""

from __future__ import annotations

import sys

import typer

from ..errors import BehaviordbgError
from ..store import StoreError
from . import analyze, dashboard, judge, local, run, suites, triage

app = typer.Typer(
    name="behaviordbg",
    help="Debug what a language model says about itself: probe it, find contradictions, triage bugs.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)



@app.callback()
def _root() -> None:
    """Debug what a language model says about itself.

    Start with `behaviordbg check` (probe, analyze, show bugs; the embedded local model by default),
    then `behaviordbg dashboard` to triage, and `behaviordbg export latest --format markdown`.
    """


@app.command()
def version() -> None:
    """Print the behaviordbg version."""
    from .. import __version__

    typer.echo(__version__)


for module in (run, suites, local, analyze, judge, triage, dashboard):
    module.register(app)


def main() -> None:
    """Console-script entry point: known errors become a clear message and exit code 2."""
    try:
        app()
    except (BehaviordbgError, StoreError) as err:
        from rich.markup import escape

        from ._common import emit_json, err_console, error_doc, json_requested

        err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        if json_requested():
            emit_json(error_doc(err))
        sys.exit(2)
