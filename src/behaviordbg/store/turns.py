"""Follow-up turns of pushback conversations, and their stances.

A first answer lives in `responses`, as before, so every existing analysis reads exactly what it
read without pushback. Each follow-up (the user's challenge and the model's reply) is one row of
`turns`, stored the moment it arrives; a (query, side, turn) has at most one row, and an answered
row is never overwritten, so a resumed run completes the missing turns exactly once. The
challenges a query plans are in `queries.pushback_json`.

The forced-choice follow-up of `run --clarify` (pipeline/clarify.py) is stored here too, as the
one turn of side CLARIFY; it is not pushback, so the pushback reads (`turns_of`,
`answered_turns`, `turn_counts`) leave it out and `clarify_replies` / `clarify_counts` read it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from ..types import Message, Stance, Turn
from .connection import StoreBase, dumps, now_iso
from .records import decode_stance

CLARIFY = "clarify"
"""The `towards` of a forced-choice follow-up turn (`run --clarify`): a side no challenge has."""


def turn_id(run_id: str, query_id: str, towards: str, turn_idx: int) -> str:
    """The id a turn's stance is stored under (like a response id; "t-" keeps them apart)."""
    key = f"{run_id}\x00{query_id}\x00{towards}\x00{turn_idx}"
    return "t-" + hashlib.sha256(key.encode()).hexdigest()[:20]


class TurnTables(StoreBase):
    """The turns table."""

    def add_turn(
        self, run_id: str, query_id: str, towards: str, turn_idx: int, prompt: str,
        messages: Sequence[Message], cache_key: str, *, text: str | None,
        finish_reason: str | None = None, latency_ms: float | None = None,
        from_cache: bool = False, error: str | None = None,
    ) -> bool:
        """Store a turn's answer (or, with text None, its failure). An answered turn is never
        replaced: returns False when it already had an answer."""
        tid = turn_id(run_id, query_id, towards, turn_idx)
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO turns (id, run_id, query_id, towards, turn_idx, prompt, messages_json,"
                " cache_key, text, finish_reason, latency_ms, from_cache, error, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(run_id, query_id, towards, turn_idx) DO UPDATE SET"
                " text = excluded.text, finish_reason = excluded.finish_reason,"
                " latency_ms = excluded.latency_ms, from_cache = excluded.from_cache,"
                " error = excluded.error, messages_json = excluded.messages_json,"
                " cache_key = excluded.cache_key, created_at = excluded.created_at"
                " WHERE turns.text IS NULL",
                (tid, run_id, query_id, towards, turn_idx, prompt,
                 dumps([{"role": m.role, "content": m.content} for m in messages]), cache_key,
                 text, finish_reason, latency_ms, int(from_cache),
                 (error or "")[:4000] or None, now_iso()),
            )
        return cur.rowcount == 1

    def turns_of(self, run_id: str) -> list[Turn]:
        """Every stored follow-up turn of a run (answered or failed), in a stable order."""
        rows = self.conn.execute(
            "SELECT * FROM turns WHERE run_id = ? AND towards != ?"
            " ORDER BY query_id, towards, turn_idx", (run_id, CLARIFY)
        )
        return [
            Turn(id=r["id"], run_id=r["run_id"], query_id=r["query_id"], towards=r["towards"],
                 turn_idx=r["turn_idx"], prompt=r["prompt"], text=r["text"],
                 from_cache=bool(r["from_cache"]), error=r["error"])
            for r in rows
        ]

    def answered_turns(self, run_id: str, *, clarify: bool = False
                       ) -> dict[tuple[str, str, int], str]:
        """(query id, towards, turn index) -> the answer, for a run's answered pushback turns
        (`clarify=True`: its answered forced-choice follow-ups instead)."""
        rows = self.conn.execute(
            "SELECT query_id, towards, turn_idx, text FROM turns WHERE run_id = ?"
            f" AND text IS NOT NULL AND towards {'=' if clarify else '!='} ?", (run_id, CLARIFY)
        )
        return {(r[0], r[1], int(r[2])): str(r[3]) for r in rows}

    def turn_counts(self, run_id: str) -> dict[str, int]:
        """Planned follow-up turns of answered and unanswered queries, answered ones, failed
        ones (no answer after their retries) and cache hits."""
        planned = 0
        for (raw,) in self.conn.execute(
            "SELECT pushback_json FROM queries WHERE run_id = ? AND pushback_json != '[]'",
            (run_id,),
        ):
            planned += sum(len(c.get("turns", ())) for c in json.loads(raw))

        return {"planned": planned, **self._turn_tally(run_id, clarify=False)}

    def clarify_counts(self, run_id: str) -> dict[str, int]:
        """A run's forced-choice follow-ups (`run --clarify`): answered, failed, cache hits."""
        return self._turn_tally(run_id, clarify=True)

    def _turn_tally(self, run_id: str, *, clarify: bool) -> dict[str, int]:
        side = f"towards {'=' if clarify else '!='} ?"

        def one(sql: str) -> int:
            return int(self.conn.execute(sql + " AND " + side, (run_id, CLARIFY)).fetchone()[0])

        return {
            "answered": one("SELECT COUNT(*) FROM turns WHERE run_id = ? AND text IS NOT NULL"),
            "failed": one("SELECT COUNT(*) FROM turns WHERE run_id = ? AND text IS NULL"),
            "cache_hits": one("SELECT COUNT(*) FROM turns WHERE run_id = ? AND from_cache = 1"
                              " AND text IS NOT NULL"),
        }

    def clarify_replies(self, run_id: str) -> dict[str, tuple[str, str]]:
        """query id -> (the follow-up sent, the model's reply: untrusted), for a run's answered
        forced-choice follow-ups."""
        rows = self.conn.execute(
            "SELECT query_id, prompt, text FROM turns WHERE run_id = ? AND towards = ?"
            " AND turn_idx = 1 AND text IS NOT NULL", (run_id, CLARIFY)
        )
        return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}

    def turn_messages(self, run_id: str, query_id: str, towards: str) -> list[dict[str, Any]]:
        """The whole conversation of one branch as last sent (for a repro)."""
        row = self.conn.execute(
            "SELECT messages_json, text FROM turns WHERE run_id = ? AND query_id = ? AND"
            " towards = ? ORDER BY turn_idx DESC LIMIT 1", (run_id, query_id, towards)
        ).fetchone()
        if row is None:
            return []
        out: list[dict[str, Any]] = json.loads(row[0])
        if row[1] is not None:
            out.append({"role": "assistant", "content": row[1]})
        return out

    def get_turn_stances(self, run_id: str, judge: str) -> dict[str, Stance]:
        """Stored verdicts of one judge setting for a run's follow-up turns, by turn id."""
        rows = self.conn.execute(
            "SELECT s.* FROM stances s JOIN turns t ON t.id = s.response_id"
            " WHERE t.run_id = ? AND s.judge = ?",
            (run_id, judge),
        )
        return {r["response_id"]: decode_stance(r) for r in rows}
