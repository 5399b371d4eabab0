"""One configuration for every front end: the CLI, the pytest plugin and the dashboard.

Each front end turns its own options (typer options, `--bdbg-*` / ini keys, the dashboard's `--db`)
into these records and hands them to the pipeline, triage, export or the store's read models. So a
default (the temperature, the API key variable, the database path) is written once, here, and a
judge name is checked once, by the judge registry (`behaviordbg.judges.judge_kind`).

Only the standard library is imported at module level: the pytest plugin reads this module in
every pytest run of a project that has behaviordbg installed, and must cost nothing there.
"""

from __future__ import annotations

import os

DEFAULT_DB = ".behaviordbg/behaviordbg.db"
DB_ENV = "BEHAVIORDBG_DB"
API_KEY_ENV = "OPENAI_API_KEY"  # the variable an endpoint's key is read from unless told otherwise


def resolve_db(db: str | None = None) -> str:
    """The database path: the option given, else $BEHAVIORDBG_DB, else .behaviordbg/behaviordbg.db."""
    return db or os.environ.get(DB_ENV) or DEFAULT_DB
