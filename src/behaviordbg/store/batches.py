"""Batches of a run: the OpenAI Batch files written for it and the Batch API jobs submitted for it.

A submitted batch's id is stored here *before* the first poll, so a resumed run (after a crash,
Ctrl-C or a closed laptop) polls the same batch instead of paying for a second one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any, cast

from ..urls import redact_url
from .connection import StoreBase, dumps, now_iso
from .records import BatchRecord

IN_FLIGHT = ("uploaded", "submitted", "validating", "in_progress", "finalizing", "cancelling",
             "completed")
"""Statuses of an API batch whose results are still to be fetched and ingested (`completed` too:
a crash between the end of the batch and the ingest leaves it there)."""


class BatchTables(StoreBase):
    """The batches table (and, in BatchResults, the bulk writes of an ingest)."""

    def add_batch(self, run_id: str, kind: str, lines: int, *, status: str,
                  path: str | None = None, endpoint: str | None = None,
                  run_status: str | None = None) -> int:
        """Record a batch of `lines` requests for a run (and, with `run_status`, set the run's
        status in the same transaction); returns its row id."""
        now = now_iso()
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO batches (run_id, kind, status, lines, path, endpoint, created_at,"
                " updated_at) VALUES (?,?,?,?,?,?,?,?)",
                (run_id, kind, status, lines, path,
                 redact_url(endpoint) if endpoint else None, now, now),
            )
            if run_status is not None:
                self.conn.execute("UPDATE runs SET status = ?, finished_at = NULL WHERE id = ?",
                                  (run_status, run_id))
        return int(cur.lastrowid or 0)

    def update_batch(self, row_id: int, **fields: Any) -> None:
        """Set some of: status, input_file_id, batch_id, output_file_id, error_file_id, counts
        (a dict), report (a dict)."""
        allowed = {"status", "input_file_id", "batch_id", "output_file_id", "error_file_id",
                   "counts", "report"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not a batch field: {', '.join(sorted(unknown))}")
        cols, values = [], []
        for name, value in fields.items():
            if name in ("counts", "report"):
                cols.append(f"{name}_json = ?")
                values.append(dumps(value or {}))
            else:
                cols.append(f"{name} = ?")
                values.append(value)
        cols.append("updated_at = ?")
        values.append(now_iso())
        with self.transaction():
            self.conn.execute(f"UPDATE batches SET {', '.join(cols)} WHERE id = ?",
                              (*values, row_id))

    def batches(self, run_id: str) -> list[BatchRecord]:
        """A run's batches, oldest first."""
        rows = self.conn.execute("SELECT * FROM batches WHERE run_id = ? ORDER BY id", (run_id,))
        return [_decode(dict(r)) for r in rows]

    def open_api_batches(self, run_id: str) -> list[BatchRecord]:
        """The run's API batches whose results have not been ingested yet, oldest first."""
        if not self.has_table("batches"):
            return []
        rows = self.conn.execute(
            "SELECT * FROM batches WHERE run_id = ? AND kind = 'api' AND status IN"
            f" ({', '.join('?' * len(IN_FLIGHT))}) ORDER BY id",
            (run_id, *IN_FLIGHT),
        )
        return [_decode(dict(r)) for r in rows]

    def open_api_batch(self, run_id: str) -> BatchRecord | None:
        """The run's API batch whose results have not been ingested yet, if any."""
        if not self.has_table("batches"):
            return None
        row = self.conn.execute(
            "SELECT * FROM batches WHERE run_id = ? AND kind = 'api' AND status IN"
            f" ({', '.join('?' * len(IN_FLIGHT))}) ORDER BY id DESC LIMIT 1",
            (run_id, *IN_FLIGHT),
        ).fetchone()
        return _decode(dict(row)) if row else None


def _decode(row: dict[str, Any]) -> BatchRecord:
    row["counts"] = json.loads(row.pop("counts_json") or "{}")
    row["report"] = json.loads(row.pop("report_json") or "{}")
    return cast(BatchRecord, row)


class BatchResults(StoreBase):
    """Bulk reads and writes of an ingest: many rows per statement, in the caller's transaction."""

    @contextlib.contextmanager
    def bulk_cache(self, mib: int = 64) -> Iterator[None]:
        """A bigger page cache for a bulk write: an ingest inserts into random places of three
        indexes, and with SQLite's default 2 MB cache it waits on the disk (measured: a quarter
        of the wall time of a 40,000-line ingest)."""
        before = self.conn.execute("PRAGMA cache_size").fetchone()[0]
        self.conn.execute(f"PRAGMA cache_size = {-1024 * int(mib)}")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA cache_size = {int(before)}")

    def query_ids(self, run_id: str) -> set[str]:
        """The ids of a run's planned queries (an ingest checks each line against them)."""
        return {r[0] for r in self.conn.execute("SELECT id FROM queries WHERE run_id = ?",
                                                (run_id,))}

    def query_requests(self, run_id: str, ids: list[str]) -> dict[str, tuple[str, str]]:
        """query id -> (cache key, messages as stored JSON) for some queries of a run: what an
        ingest stores with each answer, fetched a chunk at a time (not 1,000,000 held at once)."""
        out: dict[str, tuple[str, str]] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            rows = self.conn.execute(
                "SELECT id, cache_key, messages_json FROM queries WHERE run_id = ? AND id IN"
                f" ({', '.join('?' * len(part))})", (run_id, *part))
            out.update({r[0]: (r[1], r[2]) for r in rows})
        return out

    def add_batch_answers(self, rows: list[tuple[Any, ...]],
                          cache: list[tuple[str, str]]) -> None:
        """Store answers and their cache entries, the same rows a live run stores one by one:
        `rows` are (response id, run id, query id, cache key, text, finish reason, raw request
        JSON, raw response JSON), `cache` (key, value JSON). An answered query keeps its answer."""
        now = now_iso()
        with self.transaction():
            self.conn.executemany(
                "INSERT OR IGNORE INTO responses (id, run_id, query_id, cache_key, text,"
                " finish_reason, latency_ms, from_cache, raw_request_json, raw_response_json,"
                " created_at) VALUES (?,?,?,?,?,?,NULL,0,?,?,?)",
                [(*row, now) for row in rows],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO cache (key, kind, value_json, created_at)"
                " VALUES (?,'probe',?,?)",
                [(key, value, now) for key, value in cache],
            )

    def add_batch_errors(self, run_id: str,
                         errors: list[tuple[str, str, str, int | None]]) -> None:
        """Final errors (query id, kind, message, HTTP status) of queries a batch did not answer:
        failed queries, which a live `--resume` asks again."""
        now = now_iso()
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO errors (run_id, query_id, attempt, kind, status_code, message, final,"
                " created_at) VALUES (?,?,1,?,?,?,1,?)",
                [(run_id, qid, kind, code, message[:4000], now)
                 for qid, kind, message, code in errors],
            )
