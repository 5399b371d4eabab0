"""SQLite storage: the source of truth for runs, answers, stances, analyses and bugs.

One file, WAL journal, a busy timeout and a migrations table. The pipeline holds the only writing
connection; the dashboard opens its own read-only connections (`Store.open(path, readonly=True)`),
which WAL lets read while a run writes. Every statement is parameterised. API keys never reach this
module: base URLs are redacted before they get here (see `redact_url`).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .types import Answer, GenParams, Query, Response

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
]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def redact_url(url: str) -> str:
    """Drop user:password@ from a URL and blank secret-looking query parameters."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if parts.username or parts.password:
        netloc = f"***@{netloc}"
    query = parts.query
    if query:
        kept = []
        for pair in query.split("&"):
            key = pair.split("=", 1)[0]
            if any(s in key.lower() for s in ("key", "token", "secret", "password", "sig")):
                kept.append(f"{key}=***")
            else:
                kept.append(pair)
        query = "&".join(kept)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def new_run_id() -> str:
    """Sortable by time, unique across machines."""
    return "run-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class StoreError(RuntimeError):
    """A problem with the database a person can act on (missing run, unknown id)."""


class Store:
    """One SQLite database. Use as a context manager or call close()."""

    def __init__(self, conn: sqlite3.Connection, path: str, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path | None = None, *, readonly: bool = False) -> Store:
        """Open (and migrate) the database; `readonly` never writes and never blocks the writer."""
        db = str(path or DEFAULT_DB)
        if readonly:
            if db != ":memory:" and not Path(db).exists():
                raise StoreError(f"no database at {db}: run `behaviordbg run` first or pass --db")
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        else:
            if db != ":memory:":
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(db, timeout=30, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = ON")
        store = cls(conn, db, readonly)
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            store.migrate()
        return store

    def migrate(self) -> list[str]:
        """Apply pending migrations in order; returns the names applied."""
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
            " applied_at TEXT NOT NULL)"
        )
        done = {r[0] for r in self.conn.execute("SELECT name FROM migrations")}
        applied = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.conn:
                for stmt in _split_sql(sql):
                    self.conn.execute(stmt)
                self.conn.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, now_iso())
                )
            applied.append(name)
        return applied

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
    ) -> str:
        run_id = run_id or new_run_id()
        params_doc = {**asdict(params), "base_url": redact_url(params.base_url), **(options or {})}
        with self.conn:
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
        return run_id

    def set_run_status(self, run_id: str, status: str, stats: dict[str, Any] | None = None) -> None:
        finished = now_iso() if status != "running" else None
        with self.conn:
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
                raise StoreError(f"no runs in {self.path}: run `behaviordbg run` first")
            return str(row[0])
        row = self.conn.execute("SELECT id FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row:
            return str(row[0])
        rows = self.conn.execute(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
            (run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
        ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        raise StoreError(
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
        with self.conn:
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
        with self.conn:
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
        with self.conn:
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
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO cache (key, kind, value_json, created_at) VALUES (?,?,?,?)",
                (key, kind, _dumps(value), now_iso()),
            )


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
