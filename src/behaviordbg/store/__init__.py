"""SQLite storage: the source of truth for runs, answers, stances, analyses and bugs. The only
package that knows SQL: everything else asks it by name and gets typed records back (records.py).

One file, WAL journal, a busy timeout and a migrations table (schema.py). The pipeline holds the
only writing connection; the dashboard opens its own read-only connections
(`Store.open(path, readonly=True)`), which WAL lets read while a run writes. Every statement is
parameterised. API keys never reach this package: base URLs are redacted before they get here
(behaviordbg.urls).

Writes go through `Store.transaction()`, which nests: an analysis saves its clusters,
contradictions, bugs, candidates and lifecycle in ONE transaction, so a reader (or a process
killed mid-save) sees either the whole analysis or the one before it, never half of one.

`Store` is one class assembled from one part per group of tables, so each file stays short:
runs.py (runs, queries, responses, errors, cache), batches.py (OpenAI Batch files and jobs),
analyses.py (stances .. candidates), values.py (open claims' values and value modes), bugs.py
(bugs, their occurrences and history), labels.py (people's stance labels) and reads.py (the
dashboard's read models).
"""

from __future__ import annotations

from .analyses import AnalysisTables
from .batches import BatchResults, BatchTables
from .bugs import BugTables
from .connection import database_error, new_run_id, now_iso
from .labels import HUMAN_STANCES, LabelRecord, LabelTables, NewLabel, answer_key
from .links import LinkTables, RunLink
from .reads import BUG_SORTS, DashboardReads
from .records import (
    AnalysisRecord,
    BatchRecord,
    BugFilter,
    BugRecord,
    HistoryEntry,
    Run,
    RunCounts,
    TopError,
)
from .runs import RunTables
from .turns import TurnTables, turn_id
from .values import ValueTables


class Store(RunTables, TurnTables, AnalysisTables, ValueTables, BugTables, BatchTables,
            BatchResults, LabelTables, DashboardReads, LinkTables):
    """One behaviordbg database: `Store.open(path)` (or `readonly=True`), then close() or use it
    as a context manager."""


__all__ = [
    "BUG_SORTS",
    "HUMAN_STANCES",
    "AnalysisRecord",
    "BatchRecord",
    "BugFilter",
    "BugRecord",
    "HistoryEntry",
    "LabelRecord",
    "NewLabel",
    "Run",
    "RunCounts",
    "RunLink",
    "Store",
    "TopError",
    "answer_key",
    "database_error",
    "new_run_id",
    "now_iso",
    "turn_id",
]
