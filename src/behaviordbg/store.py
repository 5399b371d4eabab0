"""SQLite storage: the source of truth for runs, answers, stances, analyses and bugs.

One file, WAL journal, a busy timeout and a migrations table. The pipeline holds the only writing
connection; the dashboard opens its own read-only connections (`Store.open(path, readonly=True)`),
which WAL lets read while a run writes. Every statement is parameterised. API keys never reach this
module: base URLs are redacted before they get here (see `redact_url`).

Writes go through `Store.transaction()`, which nests: an analysis saves its clusters,
contradictions, bugs, candidates and lifecycle in ONE transaction, so a reader (or a process
killed mid-save) sees either the whole analysis or the one before it, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

from .types import (
    AnswerCluster,
    Answer,
    Bug,
    Contradiction,
    GenParams,
    Query,
    Response,
    Stance,
    StanceDistribution,
    bug_from_dict,
    cluster_from_dict,
    contradiction_from_dict,
    to_dict,
)
from .errors import StoreError, UnknownRunError
from .urls import redact_url

DEFAULT_DB = ".behaviordbg/behaviordbg.db"

# Append-only: never edit a migration that has shipped; add a new one.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_core",
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running',      -- running | complete | interrupted | failed
            model TEXT NOT NULL,
            base_url TEXT NOT NULL,                      -- redacted: no credentials
            params_json TEXT NOT NULL,                   -- GenParams and run options
            suites_json TEXT NOT NULL,                   -- [{name, path, sha256}]
            manifest_json TEXT NOT NULL DEFAULT '{}',
            local_model_json TEXT,                       -- embedded model facts when it was used
            label TEXT NOT NULL DEFAULT '',
            stats_json TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE queries (
            run_id TEXT NOT NULL REFERENCES runs(id),
            id TEXT NOT NULL,
            suite TEXT NOT NULL,
            claim_id TEXT NOT NULL,
            framing TEXT NOT NULL,
            prompt_idx INTEGER NOT NULL,
            prompt TEXT NOT NULL,
            messages_json TEXT NOT NULL,
            sample_idx INTEGER NOT NULL,
            cache_key TEXT NOT NULL,
            PRIMARY KEY (run_id, id)
        );
        CREATE INDEX queries_claim ON queries(run_id, claim_id);
        CREATE TABLE responses (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            query_id TEXT NOT NULL,
            cache_key TEXT NOT NULL,
            text TEXT,
            finish_reason TEXT,
            latency_ms REAL,
            from_cache INTEGER NOT NULL DEFAULT 0,
            raw_request_json TEXT,
            raw_response_json TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (run_id, query_id)
        );
        CREATE TABLE errors (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            query_id TEXT,
            attempt INTEGER NOT NULL DEFAULT 1,
            kind TEXT NOT NULL,                          -- rate_limit | server | timeout | connection | auth | malformed | other
            status_code INTEGER,
            message TEXT NOT NULL,
            final INTEGER NOT NULL DEFAULT 0,            -- 1: retries exhausted, query recorded as failed
            created_at TEXT NOT NULL
        );
        CREATE INDEX errors_run ON errors(run_id, query_id);
        CREATE TABLE cache (
            key TEXT PRIMARY KEY,                        -- sha256 of canonical JSON of the request
            kind TEXT NOT NULL,                          -- probe | judge | embed
            value_json TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    ),
    (
        "0002_analysis",
        """
        CREATE TABLE stances (
            response_id TEXT NOT NULL,
            judge TEXT NOT NULL,                         -- judge setting asked for: rules | llm | cascade
            label TEXT NOT NULL,
            confidence REAL NOT NULL,
            judged_by TEXT NOT NULL,                     -- who actually decided, e.g. llm:qwen
            rationale TEXT NOT NULL DEFAULT '',
            disagreement TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (response_id, judge)
        );
        CREATE TABLE analyses (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            judge TEXT NOT NULL,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'running',      -- running | complete
            summary_json TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX analyses_run ON analyses(run_id, created_at);
        CREATE TABLE clusters (
            analysis_id TEXT NOT NULL REFERENCES analyses(id),
            claim_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            size INTEGER NOT NULL,
            representative_response_id TEXT NOT NULL,
            representative_text TEXT NOT NULL,
            stance_counts_json TEXT NOT NULL,
            member_ids_json TEXT NOT NULL,
            mixed INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (analysis_id, claim_id, idx)
        );
        CREATE TABLE distributions (
            analysis_id TEXT NOT NULL REFERENCES analyses(id),
            claim_id TEXT NOT NULL,
            framing TEXT NOT NULL,
            json TEXT NOT NULL,
            PRIMARY KEY (analysis_id, claim_id, framing)
        );
        CREATE TABLE contradictions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            analysis_id TEXT NOT NULL REFERENCES analyses(id),
            fingerprint TEXT NOT NULL,
            kind TEXT NOT NULL,
            claims_json TEXT NOT NULL,
            json TEXT NOT NULL                           -- the whole Contradiction record
        );
        CREATE INDEX contradictions_analysis ON contradictions(analysis_id);
        CREATE TABLE bugs (
            fingerprint TEXT PRIMARY KEY,                -- stable across runs and models
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            claims_json TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'new',
            assignee TEXT,
            labels_json TEXT NOT NULL DEFAULT '[]',
            notes TEXT NOT NULL DEFAULT '',
            regression INTEGER NOT NULL DEFAULT 0,
            first_seen_run TEXT NOT NULL,
            last_seen_run TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE bug_occurrences (
            fingerprint TEXT NOT NULL REFERENCES bugs(fingerprint),
            run_id TEXT NOT NULL,
            analysis_id TEXT NOT NULL,
            model TEXT NOT NULL,
            severity TEXT NOT NULL,
            severity_score REAL NOT NULL,
            rate REAL NOT NULL,
            confidence REAL NOT NULL,
            json TEXT NOT NULL,                          -- the whole Bug record (evidence, repro)
            PRIMARY KEY (fingerprint, analysis_id)
        );
        CREATE INDEX bug_occurrences_run ON bug_occurrences(run_id);
        CREATE TABLE bug_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            fingerprint TEXT NOT NULL,
            at TEXT NOT NULL,
            field TEXT NOT NULL,                         -- status | assignee | labels | note | seen | not_reproduced | regression
            old TEXT,
            new TEXT,
            note TEXT NOT NULL DEFAULT '',
            run_id TEXT,
            actor TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX bug_history_fp ON bug_history(fingerprint, id);
        """,
    ),
    (
        "0003_candidates",
        """
        CREATE TABLE candidates (
            analysis_id TEXT NOT NULL REFERENCES analyses(id),
            fingerprint TEXT NOT NULL,                   -- the bug it would be (no bugs row needed)
            run_id TEXT NOT NULL,
            model TEXT NOT NULL,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            severity TEXT NOT NULL,
            severity_score REAL NOT NULL,
            rate REAL NOT NULL,
            confidence REAL NOT NULL,
            reason TEXT NOT NULL DEFAULT '',             -- why it was held back
            json TEXT NOT NULL,                          -- the whole Bug record (candidate=true)
            PRIMARY KEY (analysis_id, fingerprint)
        );
        CREATE INDEX candidates_run ON candidates(run_id);
        ALTER TABLE stances ADD COLUMN agreement TEXT;   -- cascade: both judges ran and agree
        """,
    ),
]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """Sortable by time, unique across machines."""
    return "run-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def database_error(err: sqlite3.Error, path: str) -> StoreError:
    """An SQLite failure as a StoreError that says what is wrong with the file and the fix."""
    text = str(err)
    low = text.lower()
    where = f"database {path}" if path else "the database"
    if "readonly" in low or "read-only" in low:
        return StoreError(f"{where} is read-only ({text})",
                          "make the file and its folder writable, or pass --db with a writable"
                          " path (reading commands such as `runs` and `bugs` work on it as is)")
    if "not a database" in low or "malformed" in low or "encrypted" in low:
        return StoreError(f"{where} is not a behaviordbg database ({text})",
                          "pass --db with the path of a behaviordbg database, or a new file name")
    if "unable to open" in low or "cannot open" in low:
        return StoreError(f"cannot open {where} ({text})",
                          "pass --db with a file path (not a folder) in an existing folder you"
                          " can write to")
    if "disk" in low and ("full" in low or "i/o" in low):
        return StoreError(f"{where} cannot be written ({text})",
                          "free disk space, or pass --db on another disk")
    if "locked" in low or "busy" in low:
        return StoreError(f"{where} stayed locked by another process ({text})",
                          "wait for the other behaviordbg command to finish, then retry")
    return StoreError(f"{where}: {text}",
                      "check the file, or pass --db with another path")


class Store:
    """One SQLite database. Use as a context manager or call close()."""

    def __init__(self, conn: sqlite3.Connection, path: str, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self._tx_depth = 0  # > 0 inside transaction(): store writes join it

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """One write transaction for a read-modify-write (BEGIN IMMEDIATE: the write lock is taken
        first, so another process's read-modify-write waits instead of interleaving). Store
        writes made inside join it, and so do nested calls: nothing is visible to other
        connections until the outermost block commits; any exception rolls it all back."""
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self
            finally:
                self._tx_depth -= 1
            return
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
        self._tx_depth = 1
        try:
            yield self
        except BaseException:
            self.conn.rollback()
            raise
        else:
            self.conn.commit()
        finally:
            self._tx_depth = 0

    def _write(self) -> Any:
        """`with self._write():` commits a write on its own, or joins transaction()."""
        return contextlib.nullcontext() if self._tx_depth else self.conn

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path | None = None, *, readonly: bool = False) -> Store:
        """Open (and migrate) the database; `readonly` never writes and never blocks the writer.

        Any file that is not a usable behaviordbg database (a folder, a text file, a read-only
        file for writing, one written by a newer behaviordbg) is a StoreError naming the fix."""
        db = str(path or DEFAULT_DB)
        if db != ":memory:" and Path(db).is_dir():
            raise StoreError(f"--db {db} is a folder, not a database file",
                             f"pass a file path, e.g. --db {Path(db) / 'behaviordbg.db'}")
        conn: sqlite3.Connection | None = None
        try:
            if readonly:
                if db != ":memory:" and not Path(db).exists():
                    raise StoreError(f"no database at {db}",
                                     "run `behaviordbg run` first, or pass --db with the"
                                     " database it wrote")
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30,
                                       check_same_thread=False)
            else:
                if db != ":memory:":
                    _ensure_folder(db)
                conn = sqlite3.connect(db, timeout=30, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA foreign_keys = ON")
            store = cls(conn, db, readonly)
            if readonly:
                if len(store.check_schema()) < len(MIGRATIONS) and _writable(db):
                    # an older database: bring its schema up to date once, then read it
                    conn.close()
                    conn = None
                    cls.open(db).close()
                    return cls.open(db, readonly=True)
            else:
                _enable_wal(conn)
                conn.execute("PRAGMA synchronous = NORMAL")
                store.migrate()
            return store
        except sqlite3.Error as err:
            if conn is not None:
                conn.close()
            raise database_error(err, db) from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise

    def applied_migrations(self) -> set[str]:
        """Names of the migrations this database has (empty for a new file)."""
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
        ).fetchone()
        if not exists:
            return set()
        return {r[0] for r in self.conn.execute("SELECT name FROM migrations")}

    def check_schema(self) -> set[str]:
        """Refuse a database written by a newer behaviordbg (it has migrations this version does
        not know: writing to it could corrupt it, reading it could mislead). Returns what it has."""
        done = self.applied_migrations()
        unknown = sorted(done - {name for name, _ in MIGRATIONS})
        if unknown:
            from . import __version__

            raise StoreError(
                f"database {self.path} was written by a newer behaviordbg: it has schema"
                f" migration(s) {', '.join(unknown)}, which behaviordbg {__version__} does not know",
                "upgrade behaviordbg (pip install -U behaviordbg) to use this database, or pass"
                " --db with another one",
            )
        return done

    def migrate(self) -> list[str]:
        """Apply pending migrations in order; returns the names applied. A database from a newer
        behaviordbg is refused (check_schema), never written to."""
        done = self.check_schema()
        if len(done) == len(MIGRATIONS):
            return []  # up to date: nothing to write (a read-only file opens fine)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
            " applied_at TEXT NOT NULL)"
        )
        applied = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            # Two processes may open a new database at once: take the write lock first and
            # re-check inside it, so one applies the migration (DDL included, atomically) and the
            # other waits (busy_timeout) and then skips it.
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                if self.conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                    self.conn.execute("COMMIT")
                    continue
                for stmt in _split_sql(sql):
                    self.conn.execute(stmt)
                self.conn.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, now_iso())
                )
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            applied.append(name)
        return applied

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has_table(self, name: str) -> bool:
        """Whether the schema has this table (a read-only open never migrates an old file)."""
        return self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone() is not None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read helper for views and reports (parameterised; never format values into SQL)."""
        return self.conn.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ runs

    def create_run(
        self,
        params: GenParams,
        suites: Iterable[dict[str, str]],
        *,
        options: dict[str, Any] | None = None,
        manifest: dict[str, Any] | None = None,
        local_model: dict[str, Any] | None = None,
        label: str = "",
        run_id: str | None = None,
        queries: Iterable[tuple[Query, str]] | None = None,
    ) -> str:
        """Record a new run, and with `queries` its planned (query, cache_key) pairs in the same
        transaction: a run killed while it is being created leaves nothing, never a run with
        no queries (which a resume could not finish and an analysis could not use)."""
        run_id = run_id or new_run_id()
        params_doc = {**asdict(params), "base_url": redact_url(params.base_url), **(options or {})}
        with self.transaction():
            self.conn.execute(
                "INSERT INTO runs (id, created_at, model, base_url, params_json, suites_json,"
                " manifest_json, local_model_json, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    now_iso(),
                    params.model,
                    redact_url(params.base_url),
                    _dumps(params_doc),
                    _dumps(list(suites)),
                    _dumps(manifest or {}),
                    _dumps(local_model) if local_model else None,
                    label,
                ),
            )
            if queries is not None:
                self._insert_queries(run_id, queries)
        return run_id

    def set_run_status(self, run_id: str, status: str, stats: dict[str, Any] | None = None) -> None:
        finished = now_iso() if status != "running" else None
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, stats_json = COALESCE(?, stats_json)"
                " WHERE id = ?",
                (status, finished, _dumps(stats) if stats is not None else None, run_id),
            )

    def get_run(self, run_id: str) -> dict[str, Any]:
        """A run as a plain dict (JSON columns decoded). Accepts "latest"."""
        run_id = self.resolve_run(run_id)
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run_dict(row)

    def list_runs(self, limit: int = 1000) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [_run_dict(r) for r in rows]

    def resolve_run(self, run_id: str) -> str:
        """Turn "latest" (or a unique prefix) into a run id, or raise StoreError with a hint."""
        if run_id in ("latest", "last", ""):
            row = self.conn.execute(
                "SELECT id FROM runs ORDER BY created_at DESC, id DESC LIMIT 1"
            ).fetchone()
            if row is None:
                raise UnknownRunError(f"no runs in {self.path}: run `behaviordbg run` first")
            return str(row[0])
        row = self.conn.execute("SELECT id FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row:
            return str(row[0])
        rows = self.conn.execute(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
            (_like_prefix(run_id),),
        ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        raise UnknownRunError(
            f"no run {run_id!r} in {self.path}" + (" (prefix is ambiguous)" if rows else "")
            + ": see `behaviordbg runs` or use `latest`"
        )

    def previous_run(self, run_id: str) -> str | None:
        """The run before this one (by creation time), for "what changed since last time"."""
        run = self.get_run(run_id)
        row = self.conn.execute(
            "SELECT id FROM runs WHERE created_at < ? OR (created_at = ? AND id < ?)"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            (run["created_at"], run["created_at"], run["id"]),
        ).fetchone()
        return str(row[0]) if row else None

    # ------------------------------------------------------------------ queries and responses

    def add_queries(self, run_id: str, queries: Iterable[tuple[Query, str]]) -> None:
        """Record the planned (query, cache_key) pairs of a run; idempotent for resumes."""
        with self.transaction():
            self._insert_queries(run_id, queries)

    def _insert_queries(self, run_id: str, queries: Iterable[tuple[Query, str]]) -> None:
        """The INSERTs of add_queries, inside the caller's transaction."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO queries (run_id, id, suite, claim_id, framing, prompt_idx,"
            " prompt, messages_json, sample_idx, cache_key) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    run_id,
                    q.id,
                    q.suite,
                    q.claim_id,
                    q.framing,
                    q.prompt_idx,
                    q.prompt,
                    _dumps([asdict(m) for m in q.messages]),
                    q.sample_idx,
                    key,
                )
                for q, key in queries
            ],
        )

    def add_response(
        self,
        response: Response,
        raw_request: dict[str, Any] | None = None,
        raw_response: dict[str, Any] | None = None,
    ) -> bool:
        """Store one answer the moment it arrives. Returns False if the query already had one."""
        with self.transaction():
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO responses (id, run_id, query_id, cache_key, text, finish_reason,"
                " latency_ms, from_cache, raw_request_json, raw_response_json, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    response.id,
                    response.run_id,
                    response.query_id,
                    response.cache_key,
                    response.text,
                    response.finish_reason,
                    response.latency_ms,
                    int(response.from_cache),
                    _dumps(raw_request) if raw_request is not None else None,
                    _dumps(raw_response) if raw_response is not None else None,
                    now_iso(),
                ),
            )
        return cur.rowcount == 1

    def add_error(
        self,
        run_id: str,
        query_id: str | None,
        kind: str,
        message: str,
        *,
        status_code: int | None = None,
        attempt: int = 1,
        final: bool = False,
    ) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO errors (run_id, query_id, attempt, kind, status_code, message, final,"
                " created_at) VALUES (?,?,?,?,?,?,?,?)",
                (run_id, query_id, attempt, kind, status_code, message[:4000], int(final), now_iso()),
            )

    def answered_query_ids(self, run_id: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT query_id FROM responses WHERE run_id = ? AND text IS NOT NULL", (run_id,)
        )
        return {r[0] for r in rows}

    def failed_query_ids(self, run_id: str) -> set[str]:
        """Queries whose retries ran out and that still have no answer."""
        rows = self.conn.execute(
            "SELECT DISTINCT e.query_id FROM errors e WHERE e.run_id = ? AND e.final = 1 AND"
            " NOT EXISTS (SELECT 1 FROM responses r WHERE r.run_id = e.run_id AND"
            " r.query_id = e.query_id AND r.text IS NOT NULL)",
            (run_id,),
        )
        return {r[0] for r in rows if r[0]}

    def top_error(self, run_id: str) -> dict[str, Any] | None:
        """The most common final error among the run's unanswered queries: its kind, HTTP
        status, one message as it was stored, and how many queries it failed (None if none)."""
        rows = self.conn.execute(
            "SELECT e.kind, e.status_code, e.message, COUNT(DISTINCT e.query_id) AS n"
            " FROM errors e WHERE e.run_id = ? AND e.final = 1 AND NOT EXISTS (SELECT 1 FROM"
            " responses r WHERE r.run_id = e.run_id AND r.query_id = e.query_id AND"
            " r.text IS NOT NULL) GROUP BY e.kind, e.status_code, e.message",
            (run_id,),
        ).fetchall()
        if not rows:
            return None
        by_kind: dict[tuple[str, Any], int] = {}
        for r in rows:
            by_kind[(r["kind"], r["status_code"])] = by_kind.get((r["kind"], r["status_code"]), 0) + r["n"]
        (kind, code), n = max(by_kind.items(), key=lambda kv: kv[1])
        message = max((r for r in rows if (r["kind"], r["status_code"]) == (kind, code)),
                      key=lambda r: r["n"])["message"]
        return {"kind": kind, "status_code": code, "message": message, "queries": n}

    def counts(self, run_id: str) -> dict[str, int]:
        def one(sql: str) -> int:
            return int(self.conn.execute(sql, (run_id,)).fetchone()[0])

        return {
            "queries": one("SELECT COUNT(*) FROM queries WHERE run_id = ?"),
            "responses": one("SELECT COUNT(*) FROM responses WHERE run_id = ? AND text IS NOT NULL"),
            "cache_hits": one("SELECT COUNT(*) FROM responses WHERE run_id = ? AND from_cache = 1"),
            "errors": len(self.failed_query_ids(run_id)),
            "error_events": one("SELECT COUNT(*) FROM errors WHERE run_id = ?"),
        }

    def iter_answers(self, run_id: str) -> Iterator[Answer]:
        """Every answered query of a run, joined with its prompt (ordered for determinism)."""
        rows = self.conn.execute(
            "SELECT r.id AS response_id, q.run_id, q.id AS query_id, q.suite, q.claim_id, q.framing,"
            " q.prompt_idx, q.prompt, q.sample_idx, r.text FROM queries q JOIN responses r"
            " ON r.run_id = q.run_id AND r.query_id = q.id WHERE q.run_id = ? AND r.text IS NOT NULL"
            " ORDER BY q.suite, q.claim_id, q.framing, q.prompt_idx, q.sample_idx",
            (run_id,),
        )
        for r in rows:
            yield Answer(
                response_id=r["response_id"],
                run_id=r["run_id"],
                query_id=r["query_id"],
                suite=r["suite"],
                claim_id=r["claim_id"],
                framing=r["framing"],
                prompt_idx=r["prompt_idx"],
                prompt=r["prompt"],
                sample_idx=r["sample_idx"],
                text=r["text"],
            )

    # ------------------------------------------------------------------ cache

    def cache_get(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT value_json FROM cache WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def cache_put(self, key: str, kind: str, value: dict[str, Any]) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO cache (key, kind, value_json, created_at) VALUES (?,?,?,?)",
                (key, kind, _dumps(value), now_iso()),
            )

    # ------------------------------------------------------------------ analysis (stances .. contradictions)

    def save_stances(self, judge: str, stances: Iterable[Stance]) -> None:
        """Store verdicts under the judge setting asked for (rules | llm | cascade); replaces old ones."""
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO stances (response_id, judge, label, confidence, judged_by,"
                " rationale, disagreement, agreement, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (s.response_id, judge, s.label, s.confidence, s.judge, s.rationale,
                     s.disagreement, s.agreement, now_iso())
                    for s in stances
                ],
            )

    def get_stances(self, run_id: str, judge: str) -> dict[str, Stance]:
        """Stored verdicts of one judge setting for a run's responses, by response id."""
        rows = self.conn.execute(
            "SELECT s.* FROM stances s JOIN responses r ON r.id = s.response_id"
            " WHERE r.run_id = ? AND s.judge = ?",
            (run_id, judge),
        )
        return {
            r["response_id"]: Stance(
                response_id=r["response_id"], label=r["label"], confidence=r["confidence"],
                judge=r["judged_by"], rationale=r["rationale"], disagreement=r["disagreement"],
                agreement=r["agreement"] if "agreement" in r.keys() else None,  # pre-0003
            )
            for r in rows
        }

    def start_analysis(self, run_id: str, judge: str) -> str:
        analysis_id = "an-" + uuid.uuid4().hex[:12]
        with self.transaction():
            self.conn.execute(
                "INSERT INTO analyses (id, run_id, judge, created_at) VALUES (?,?,?,?)",
                (analysis_id, run_id, judge, now_iso()),
            )
        return analysis_id

    def save_analysis(
        self,
        analysis_id: str,
        *,
        clusters: Iterable[AnswerCluster],
        distributions: Iterable[StanceDistribution],
        contradictions: Iterable[tuple[str, Contradiction]],
        summary: dict[str, Any],
    ) -> None:
        """Store an analysis's results in one transaction and mark it complete."""
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO clusters (analysis_id, claim_id, idx, size,"
                " representative_response_id, representative_text, stance_counts_json,"
                " member_ids_json, mixed) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (analysis_id, c.claim_id, c.index, c.size, c.representative_response_id,
                     c.representative_text, _dumps(c.stance_counts), _dumps(list(c.member_ids)),
                     int(c.mixed))
                    for c in clusters
                ],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO distributions (analysis_id, claim_id, framing, json)"
                " VALUES (?,?,?,?)",
                [(analysis_id, d.claim_id, d.framing, _dumps(to_dict(d))) for d in distributions],
            )
            self.conn.executemany(
                "INSERT INTO contradictions (analysis_id, fingerprint, kind, claims_json, json)"
                " VALUES (?,?,?,?,?)",
                [
                    (analysis_id, fp, c.kind, _dumps(list(c.claims)), _dumps(to_dict(c)))
                    for fp, c in contradictions
                ],
            )
            self.conn.execute(
                "UPDATE analyses SET status = 'complete', summary_json = ? WHERE id = ?",
                (_dumps(summary), analysis_id),
            )

    def latest_analysis(self, run_id: str, judge: str | None = None) -> dict[str, Any] | None:
        """The newest complete analysis of a run (optionally of one judge setting)."""
        run_id = self.resolve_run(run_id)
        sql = "SELECT * FROM analyses WHERE run_id = ? AND status = 'complete'"
        params: list[Any] = [run_id]
        if judge:
            sql += " AND judge = ?"
            params.append(judge)
        row = self.conn.execute(sql + " ORDER BY created_at DESC LIMIT 1", params).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["summary"] = json.loads(d.pop("summary_json"))
        return d

    def analysis_clusters(self, analysis_id: str, claim_id: str | None = None) -> list[AnswerCluster]:
        sql = "SELECT * FROM clusters WHERE analysis_id = ?"
        params: list[Any] = [analysis_id]
        if claim_id:
            sql += " AND claim_id = ?"
            params.append(claim_id)
        rows = self.conn.execute(sql + " ORDER BY claim_id, idx", params)
        return [
            cluster_from_dict({
                "claim_id": r["claim_id"], "index": r["idx"], "size": r["size"],
                "representative_response_id": r["representative_response_id"],
                "representative_text": r["representative_text"],
                "stance_counts": json.loads(r["stance_counts_json"]),
                "member_ids": json.loads(r["member_ids_json"]), "mixed": bool(r["mixed"]),
            })
            for r in rows
        ]

    def analysis_distributions(self, analysis_id: str) -> list[StanceDistribution]:
        rows = self.conn.execute(
            "SELECT json FROM distributions WHERE analysis_id = ? ORDER BY claim_id, framing",
            (analysis_id,),
        )
        return [StanceDistribution(**json.loads(r[0])) for r in rows]

    def analysis_contradictions(self, analysis_id: str) -> list[tuple[str, Contradiction]]:
        rows = self.conn.execute(
            "SELECT fingerprint, json FROM contradictions WHERE analysis_id = ? ORDER BY id",
            (analysis_id,),
        )
        return [(r[0], contradiction_from_dict(json.loads(r[1]))) for r in rows]

    # ------------------------------------------------------------------ bugs (lifecycle lives in triage.py)

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
                (bug.fingerprint, bug.kind, bug.title, _dumps(list(bug.claims)), run_id, run_id,
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
                 bug.rate, bug.confidence, _dumps(to_dict(bug))),
            )
        return created

    def save_candidates(
        self, candidates: Iterable[Bug], *, run_id: str, analysis_id: str, model: str
    ) -> None:
        """Store an analysis's candidates (never as bugs: no bugs row, no lifecycle)."""
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO candidates (analysis_id, fingerprint, run_id, model, kind,"
                " title, severity, severity_score, rate, confidence, reason, json)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (analysis_id, b.fingerprint, run_id, model, b.kind, b.title, b.severity,
                     b.severity_score, b.rate, b.confidence, b.evidence_note,
                     _dumps(to_dict(b)))
                    for b in candidates
                ],
            )

    def candidates_for_analysis(self, analysis_id: str) -> list[Bug]:
        """An analysis's candidates; status is the bug's triage status when that fingerprint is
        a known bug (e.g. "fixed"), else "new"."""
        if not self.has_table("candidates"):  # a read-only database made before 0003
            return []
        rows = self.conn.execute(
            "SELECT c.json, b.status FROM candidates c LEFT JOIN bugs b USING (fingerprint)"
            " WHERE c.analysis_id = ? ORDER BY c.severity_score DESC, c.fingerprint",
            (analysis_id,),
        )
        out = []
        for r in rows:
            d = json.loads(r[0])
            d["status"] = r[1] or "new"
            d["candidate"] = True
            out.append(bug_from_dict(d))
        return out

    def count_candidates(self, analysis_id: str) -> int:
        if not self.has_table("candidates"):
            return 0
        return int(self.conn.execute(
            "SELECT COUNT(*) FROM candidates WHERE analysis_id = ?", (analysis_id,)
        ).fetchone()[0])

    def bugs_for_analysis(self, analysis_id: str) -> list[Bug]:
        """The bugs an analysis found, with their current triage status."""
        rows = self.conn.execute(
            "SELECT o.json, b.status FROM bug_occurrences o JOIN bugs b USING (fingerprint)"
            " WHERE o.analysis_id = ? ORDER BY o.severity_score DESC, o.fingerprint",
            (analysis_id,),
        )
        out = []
        for r in rows:
            d = json.loads(r[0])
            d["status"] = r[1]
            out.append(bug_from_dict(d))
        return out

    def get_bug(self, fingerprint: str) -> dict[str, Any]:
        """A bug's triage record; accepts a unique fingerprint prefix."""
        rows = self.conn.execute(  # exact first: uses the primary key, no table scan
            "SELECT * FROM bugs WHERE fingerprint = ?", (fingerprint,)
        ).fetchall() or self.conn.execute(
            "SELECT * FROM bugs WHERE fingerprint LIKE ? ESCAPE '\\' LIMIT 2",
            (_like_prefix(fingerprint),),
        ).fetchall()
        if len(rows) != 1:
            raise StoreError(
                f"no bug {fingerprint!r} in {self.path}"
                + (" (prefix is ambiguous)" if rows else "") + ": see `behaviordbg bugs`"
            )
        d = dict(rows[0])
        d["claims"] = json.loads(d.pop("claims_json"))
        d["labels"] = json.loads(d.pop("labels_json"))
        return d

    def bug_history(self, fingerprint: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT * FROM bug_history WHERE fingerprint = ? ORDER BY id", (fingerprint,)
        )
        return [dict(r) for r in rows]

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
            values.append(_dumps(list(value)) if key == "labels" else value)
        if not cols:
            return
        with self.transaction():
            self.conn.execute(
                f"UPDATE bugs SET {', '.join(cols)}, updated_at = ? WHERE fingerprint = ?",
                (*values, now_iso(), fingerprint),
            )


def _ensure_folder(db: str) -> None:
    """The database's folder must exist; only the default `.behaviordbg` folder is created (in
    an existing parent), so a mistyped --db never leaves a trail of new folders."""
    folder = Path(db).parent
    if folder.is_dir():
        return
    if folder.name == Path(DEFAULT_DB).parent.name:
        try:
            folder.mkdir()
            return
        except FileNotFoundError:
            pass
        except FileExistsError:
            return
    raise StoreError(f"folder {folder} does not exist (for the database {db})",
                     f"create it first (mkdir -p {folder}) or pass another --db")


def _writable(db: str) -> bool:
    return db != ":memory:" and os.access(db, os.W_OK) and os.access(Path(db).parent, os.W_OK)


def _like_prefix(text: str) -> str:
    """A LIKE pattern matching `text` as a literal prefix (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


@retry(retry=retry_if_exception(_is_locked), wait=wait_random(0.01, 0.1),
       stop=stop_after_delay(30), reraise=True)
def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch a database to WAL once. SQLite answers SQLITE_BUSY at once (no busy handler) when
    two processes switch a new file at the same moment, so that case is retried here."""
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our DDL strings)."""
    out = []
    for chunk in script.split(";"):
        lines = [ln.split("--", 1)[0] for ln in chunk.splitlines()]
        stmt = "\n".join(lines).strip()
        if stmt:
            out.append(stmt)
    return out


def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    for col in ("params_json", "suites_json", "manifest_json", "local_model_json", "stats_json"):
        value = d.pop(col)
        d[col[: -len("_json")]] = json.loads(value) if value else None
    return d
