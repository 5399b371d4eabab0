"""Runs and what they asked: planned queries, responses as they arrive, errors, the request cache."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any, cast

from ..types import (
    Answer,
    Challenge,
    GenParams,
    Message,
    Query,
    Response,
    SuiteRef,
    challenges_from_dict,
)
from ..urls import redact_url
from .connection import StoreBase, dumps, new_run_id, now_iso
from .records import Run, RunCounts, RunRow, TopError, decode_run


class RunTables(StoreBase):
    """The runs, queries, responses, errors and cache tables."""

    def create_run(
        self,
        params: GenParams,
        suites: Iterable[SuiteRef],
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
                    dumps(params_doc),
                    dumps(list(suites)),
                    dumps(manifest or {}),
                    dumps(local_model) if local_model else None,
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
                (status, finished, dumps(stats) if stats is not None else None, run_id),
            )

    def get_run(self, run_id: str) -> Run:
        """A run, its JSON columns decoded. Accepts "latest" and a unique prefix."""
        run_id = self.resolve_run(run_id)
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return decode_run(dict(row))

    def list_runs(self, limit: int = 1000) -> list[Run]:
        rows = self.conn.execute(
            "SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [decode_run(dict(r)) for r in rows]

    def run_ids(self) -> list[str]:
        """Run ids, newest first."""
        rows = self.conn.execute("SELECT id FROM runs ORDER BY created_at DESC, id DESC")
        return [str(r[0]) for r in rows]

    def runs_overview(self, limit: int = 200) -> list[RunRow]:
        """Runs newest first, with response and bug counts aggregated in SQL.

        `responses` counts stored rows through the (run_id, query_id) index (failed queries
        included): filtering on text would read every row, which is what made this slow at
        200,000 answers."""
        rows = self.conn.execute(
            "SELECT r.id, r.created_at, r.status, r.model, r.label,"
            " (SELECT COUNT(*) FROM responses x WHERE x.run_id = r.id) AS responses,"
            " (SELECT COUNT(*) FROM bug_occurrences o WHERE o.run_id = r.id"
            "   AND o.analysis_id = (SELECT a.id FROM analyses a WHERE a.run_id = r.id"
            "   AND a.status = 'complete' ORDER BY a.created_at DESC LIMIT 1)) AS bugs"
            " FROM runs r ORDER BY r.created_at DESC, r.id DESC LIMIT ?",
            (limit,),
        )
        return [cast(RunRow, dict(r)) for r in rows]

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

    def planned_queries(self, run_id: str) -> list[tuple[Query, str]]:
        """A run's planned (query, cache key) pairs, in the order they were planned: a resumed
        run asks exactly what it planned."""
        rows = self.conn.execute(
            "SELECT * FROM queries WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return [
            (
                Query(
                    id=r["id"], suite=r["suite"], claim_id=r["claim_id"], framing=r["framing"],
                    prompt_idx=r["prompt_idx"], prompt=r["prompt"], sample_idx=r["sample_idx"],
                    messages=tuple(Message(m["role"], m["content"])
                                   for m in json.loads(r["messages_json"])),
                    pushback=challenges_from_dict(json.loads(r["pushback_json"])) or (),
                ),
                r["cache_key"],
            )
            for r in rows
        ]

    def has_queries(self, run_id: str) -> bool:
        """Whether the run has any planned query (one killed while being created has none)."""
        return self.conn.execute(
            "SELECT 1 FROM queries WHERE run_id = ? LIMIT 1", (run_id,)
        ).fetchone() is not None

    def claim_suites(self, run_id: str) -> dict[str, str]:
        """claim id -> the suite it was asked from, for every claim a run asked."""
        rows = self.conn.execute(
            "SELECT DISTINCT suite, claim_id FROM queries WHERE run_id = ?", (run_id,)
        )
        return {r["claim_id"]: r["suite"] for r in rows}

    def _insert_queries(self, run_id: str, queries: Iterable[tuple[Query, str]]) -> None:
        """The INSERTs of add_queries, inside the caller's transaction."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO queries (run_id, id, suite, claim_id, framing, prompt_idx,"
            " prompt, messages_json, sample_idx, cache_key, pushback_json)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    run_id,
                    q.id,
                    q.suite,
                    q.claim_id,
                    q.framing,
                    q.prompt_idx,
                    q.prompt,
                    dumps([asdict(m) for m in q.messages]),
                    q.sample_idx,
                    key,
                    dumps([_challenge(c) for c in q.pushback]),
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
                    dumps(raw_request) if raw_request is not None else None,
                    dumps(raw_response) if raw_response is not None else None,
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

    def top_error(self, run_id: str) -> TopError | None:
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

    def counts(self, run_id: str) -> RunCounts:
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
                (key, kind, dumps(value), now_iso()),
            )


def _challenge(c: Challenge) -> dict[str, Any]:
    return {"towards": c.towards, "turns": list(c.turns)}
