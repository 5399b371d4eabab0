"""CLI command: `init` (a starter project configuration and probe suite).

Thin: the starter files and the overwrite rule live in `behaviordbg.starter`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import JsonOption, console, emit_json, escape


def init_cmd(
    folder: str = typer.Option(".", "--dir", help="Folder to write into (it must exist)."),
    force: bool = typer.Option(False, "--force", help="Replace existing starter files."),
    json_out: bool = JsonOption,
) -> None:
    """Write a starter behaviordbg.toml and probes/my_assistant.yaml (refuses to overwrite).

    The config holds every setting you would otherwise repeat as flags (endpoint, model,
    api-key-env, samples, judge, manifest, suites, db, fail-on), commented; commands run in that
    folder or below read it, and flags override it. Then:

      behaviordbg suites validate probes/       # the starter suite is valid
      behaviordbg check --show-config           # what applies, and where it came from
      behaviordbg check                         # run it
    """
    from ..starter import write_starter

    written = write_starter(Path(folder), force=force)
    if json_out:
        emit_json({"written": [str(p) for p in written]})
        return
    for path in written:
        console.print(f"wrote {escape(str(path))}")
    console.print("next: `behaviordbg check --show-config`, then `behaviordbg check`"
                  " (edit the endpoint and model in behaviordbg.toml to probe your own model)")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("init")(init_cmd)
