"""Bugs across runs: their triage records, occurrences per analysis and history.

The lifecycle (what a new analysis means for each known bug) is decided in behaviordbg.triage;
this module only reads and writes the rows it asks for.
"""

from __future__ import annotations

from typing import Any, cast

from ..errors import StoreError
from ..types import Bug, to_dict
from .connection import StoreBase, dumps, like_prefix, now_iso
from .records import BugRecord, HistoryEntry, PastOccurrence, TriagedBug, decode_bug, decode_found


class BugTables(StoreBase):
    """The bugs, bug_occurrences and bug_history tables."""

    def save_bug_occurrence(self, bug: Bug, *, run_id: str, analysis_id: str, model: str) -> bool:
        """Record that an analysis found this bug; creates the bug on first sight.

        Returns True when the fingerprint was new to this database.
        """
        ts = now_iso()
        with self.transaction():
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO bugs (fingerprint, kind, title, claims_json, status,"
                " first_seen_run, last_seen_run, created_at, updated_at)"
                " VALUES (?,?,?,?,'new',?,?,?,?)",
                (bug.fingerprint, bug.kind, bug.title, dumps(list(bug.claims)), run_id, run_id,
                 ts, ts),
            )
            created = cur.rowcount == 1
            if not created:
                self.conn.execute(
                    "UPDATE bugs SET last_seen_run = ?, title = ?, updated_at = ? WHERE fingerprint = ?",
                    (run_id, bug.title, ts, bug.fingerprint),
                )
            self.conn.execute(
                "INSERT OR REPLACE INTO bug_occurrences (fingerprint, run_id, analysis_id, model,"
                " severity, severity_score, rate, confidence, json) VALUES (?,?,?,?,?,?,?,?,?)",
                (bug.fingerprint, run_id, analysis_id, model, bug.severity, bug.severity_score,
                 bug.rate, bug.confidence, dumps(to_dict(bug))),
            )
        return created

    def bugs_for_analysis(self, analysis_id: str) -> list[Bug]:
        """The bugs an analysis found, with their current triage status."""
        rows = self.conn.execute(
            "SELECT o.json, b.status FROM bug_occurrences o JOIN bugs b USING (fingerprint)"
            " WHERE o.analysis_id = ? ORDER BY o.severity_score DESC, o.fingerprint",
            (analysis_id,),
        )
        return [decode_found(r[0], r[1]) for r in rows]

    def get_bug(self, fingerprint: str) -> BugRecord:
        """A bug's triage record; accepts a unique fingerprint prefix."""
        rows = self.conn.execute(  # exact first: uses the primary key, no table scan
            "SELECT * FROM bugs WHERE fingerprint = ?", (fingerprint,)
        ).fetchall() or self.conn.execute(
            "SELECT * FROM bugs WHERE fingerprint LIKE ? ESCAPE '\\' LIMIT 2",
            (like_prefix(fingerprint),),
        ).fetchall()
        if len(rows) != 1:
            raise StoreError(
                f"no bug {fingerprint!r} in {self.path}"
                + (" (prefix is ambiguous)" if rows else "") + ": see `behaviordbg bugs`"
            )
        return decode_bug(dict(rows[0]))

    def find_bug(self, fingerprint: str) -> BugRecord | None:
        """The triage record of exactly this fingerprint, or None when it is no known bug."""
        row = self.conn.execute(
            "SELECT * FROM bugs WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        return decode_bug(dict(row)) if row else None

    def bug_records(self) -> list[BugRecord]:
        """Every known bug, by fingerprint."""
        rows = self.conn.execute("SELECT * FROM bugs ORDER BY fingerprint")
        return [decode_bug(dict(r)) for r in rows]

    def bug_history(self, fingerprint: str) -> list[HistoryEntry]:
        rows = self.conn.execute(
            "SELECT * FROM bug_history WHERE fingerprint = ? ORDER BY id", (fingerprint,)
        )
        return [cast(HistoryEntry, dict(r)) for r in rows]

    def has_history(self, fingerprint: str, field: str, run_id: str) -> bool:
        """Whether a history entry of this field was recorded for the bug in this run."""
        return self.conn.execute(
            "SELECT 1 FROM bug_history WHERE fingerprint = ? AND field = ? AND run_id = ? LIMIT 1",
            (fingerprint, field, run_id),
        ).fetchone() is not None

    def fixed_at(self, fingerprint: str) -> str:
        """When the bug was last marked fixed (ISO time; "" when never)."""
        row = self.conn.execute(
            "SELECT MAX(at) FROM bug_history WHERE fingerprint = ? AND field = 'status'"
            " AND new = 'fixed'",
            (fingerprint,),
        ).fetchone()
        return str(row[0] or "") if row else ""

    def previous_occurrence(self, fingerprint: str, run_id: str) -> PastOccurrence | None:
        """The newest occurrence of a bug in a run other than `run_id`."""
        row = self.conn.execute(
            "SELECT o.run_id, o.analysis_id, o.json FROM bug_occurrences o"
            " JOIN runs r ON r.id = o.run_id WHERE o.fingerprint = ? AND o.run_id != ?"
            " ORDER BY r.created_at DESC, o.rowid DESC LIMIT 1",
            (fingerprint, run_id),
        ).fetchone()
        if row is None:
            return None
        return {"run_id": row["run_id"], "analysis_id": row["analysis_id"],
                "bug": decode_found(row["json"])}

    def triaged_bugs(self) -> list[TriagedBug]:
        """Bugs triaged confirmed or false_positive, once per judge setting that found them."""
        rows = self.conn.execute(
            "SELECT DISTINCT b.fingerprint, b.kind, b.status, a.judge FROM bugs b"
            " JOIN bug_occurrences o ON o.fingerprint = b.fingerprint"
            " JOIN analyses a ON a.id = o.analysis_id"
            " WHERE b.status IN ('confirmed', 'false_positive')"
        )
        return [cast(TriagedBug, dict(r)) for r in rows]

    def bug_status_counts(self) -> dict[str, int]:
        """How many known bugs have each triage status."""
        rows = self.conn.execute("SELECT status, COUNT(*) AS n FROM bugs GROUP BY status")
        return {str(r["status"]): int(r["n"]) for r in rows}

    def add_bug_history(
        self, fingerprint: str, field: str, old: Any, new: Any, *, note: str = "",
        run_id: str | None = None, actor: str = "",
    ) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO bug_history (fingerprint, at, field, old, new, note, run_id, actor)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (fingerprint, now_iso(), field, None if old is None else str(old),
                 None if new is None else str(new), note, run_id, actor),
            )

    def update_bug(self, fingerprint: str, **fields: Any) -> None:
        """Set triage columns (status, assignee, labels, notes, regression); no history here."""
        allowed = {"status", "assignee", "labels", "notes", "regression"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown bug fields: {sorted(unknown)}")
        cols = []
        values: list[Any] = []
        for key, value in fields.items():
            col = "labels_json" if key == "labels" else key
            cols.append(f"{col} = ?")
            values.append(dumps(list(value)) if key == "labels" else value)
        if not cols:
            return
        with self.transaction():
            self.conn.execute(
                f"UPDATE bugs SET {', '.join(cols)}, updated_at = ? WHERE fingerprint = ?",
                (*values, now_iso(), fingerprint),
            )
