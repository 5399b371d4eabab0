"""Open claims: the values read from answers, and each analysis's value modes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..types import AnswerValue, ValueMode, to_dict, value_mode_from_dict
from .connection import StoreBase, dumps, now_iso


class ValueTables(StoreBase):
    """The answer_values and value_modes tables (migration 0008_open_values)."""

    def save_values(self, extractor: str, values: Iterable[AnswerValue]) -> None:
        """Store readings under the extractor setting asked for; replaces old ones."""
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO answer_values (response_id, extractor, status, value, raw,"
                " confidence, read_by, value_type, rationale, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(v.response_id, extractor, v.status, v.value, v.raw, v.confidence, v.extractor,
                  v.value_type, v.rationale, now_iso()) for v in values],
            )

    def get_values(self, run_id: str, extractor: str) -> dict[str, AnswerValue]:
        """Stored readings of one extractor setting for a run's responses, by response id."""
        if not self.has_table("answer_values"):  # a read-only database made before 0008
            return {}
        rows = self.conn.execute(
            "SELECT v.* FROM answer_values v JOIN responses r ON r.id = v.response_id"
            " WHERE r.run_id = ? AND v.extractor = ?",
            (run_id, extractor),
        )
        return {
            r["response_id"]: AnswerValue(
                response_id=r["response_id"], status=r["status"], value=r["value"], raw=r["raw"],
                confidence=r["confidence"], extractor=r["read_by"], value_type=r["value_type"],
                rationale=r["rationale"],
            )
            for r in rows
        }

    def save_value_modes(self, analysis_id: str, modes: Iterable[ValueMode]) -> None:
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO value_modes (analysis_id, claim_id, idx, json)"
                " VALUES (?,?,?,?)",
                [(analysis_id, m.claim_id, m.index, dumps(to_dict(m))) for m in modes],
            )

    def analysis_value_modes(self, analysis_id: str, claim_id: str | None = None) -> list[ValueMode]:
        """An analysis's value modes (all open claims, or one), in claim and mode order."""
        if not self.has_table("value_modes"):
            return []
        sql = "SELECT json FROM value_modes WHERE analysis_id = ?"
        params: list[Any] = [analysis_id]
        if claim_id:
            sql += " AND claim_id = ?"
            params.append(claim_id)
        rows = self.conn.execute(sql + " ORDER BY claim_id, idx", params)
        return [value_mode_from_dict(json.loads(r[0])) for r in rows]
