"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer
from rich.console import Console

from ..store import DEFAULT_DB

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def resolve_db(db: str | None) -> str:
    """--db, else $BEHAVIORDBG_DB, else .behaviordbg/behaviordbg.db."""
    return db or os.environ.get("BEHAVIORDBG_DB") or DEFAULT_DB


DbOption = typer.Option(
    None, "--db", help="SQLite database. Default: $BEHAVIORDBG_DB, else .behaviordbg/behaviordbg.db."
)
JsonOption = typer.Option(
    False, "--json", help="Quiet, machine-readable: the last line of stdout is one JSON object."
)


def emit_json(obj: Any) -> None:
    """Print one JSON object as the last line of stdout (the --json contract)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
