"""Read models of the dashboard: an analysis's bugs counted, filtered, sorted and paged; its
candidates, contradictions and judge verdicts as the pages show them.

Aggregation, filtering and sorting happen in SQL, so a database with 10,000 bugs and 200,000
responses still renders the first page well under 3 s; the dashboard (behaviordbg.dashboard.data)
only turns these rows into tables. Text from the model is returned untouched: showing it as text
only is the renderer's job.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from ..errors import StoreError
from ..types import CONTRADICTION_KINDS, Bug, Contradiction, contradiction_from_dict
from .connection import StoreBase
from .records import (
    BugFilter,
    BugRow,
    CandidateRow,
    ChangedBug,
    ContradictionGroup,
    Verdict,
    decode_found,
)

BUG_SORTS: dict[str, str] = {
    "severity": "o.severity_score DESC, o.fingerprint",
    "rate": "o.rate DESC, o.fingerprint",
    "confidence": "o.confidence DESC, o.fingerprint",
    "kind": "CASE b.kind "
    + " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(CONTRADICTION_KINDS))
    + " ELSE 99 END, o.severity_score DESC, o.fingerprint",
    "status": "b.status, o.severity_score DESC, o.fingerprint",
    "updated": "b.updated_at DESC, o.fingerprint",
}
"""Sort keys of the Bugs table -> ORDER BY clause (fixed strings: never user text in SQL)."""


def _bug_where(analysis_id: str, f: BugFilter) -> tuple[str, list[Any]]:
    where, params = ["o.analysis_id = ?"], [analysis_id]
    for col, values in (("b.kind", f.kinds), ("o.severity", f.severities),
                        ("b.status", f.statuses)):
        if values:
            where.append(f"{col} IN ({','.join('?' * len(values))})")
            params.extend(values)
    if f.text.strip():
        needle = f.text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{needle}%"
        where.append(
            "(b.title LIKE ? ESCAPE '\\' OR b.fingerprint LIKE ? ESCAPE '\\'"
            " OR b.claims_json LIKE ? ESCAPE '\\' OR COALESCE(b.assignee, '') LIKE ? ESCAPE '\\')"
        )
        params.extend([like] * 4)
    return " AND ".join(where), params


class DashboardReads(StoreBase):
    """Bug tables as the dashboard pages show them."""

    def bug_count_groups(self, analysis_id: str) -> list[tuple[str, str, str, int]]:
        """(kind, severity, status, bugs) for every combination an analysis has: one grouped
        scan, from which the Overview sums its three bar charts."""
        rows = self.conn.execute(
            "SELECT b.kind, o.severity, b.status, COUNT(*) FROM bug_occurrences o"
            " JOIN bugs b USING (fingerprint) WHERE o.analysis_id = ? GROUP BY 1, 2, 3",
            (analysis_id,),
        )
        return [(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]

    def count_occurrences(self, analysis_id: str) -> int:
        """How many bugs an analysis found."""
        return int(self.conn.execute(
            "SELECT COUNT(*) FROM bug_occurrences WHERE analysis_id = ?", (analysis_id,)
        ).fetchone()[0])

    def bugs_only_in(self, keep: str, other: str, limit: int) -> tuple[int, list[ChangedBug]]:
        """Bugs of analysis `keep` whose fingerprint analysis `other` lacks: how many, and the
        most severe `limit` of them."""
        where = (" FROM bug_occurrences o JOIN bugs b USING (fingerprint) WHERE o.analysis_id = ?"
                 " AND NOT EXISTS (SELECT 1 FROM bug_occurrences p"
                 " WHERE p.fingerprint = o.fingerprint AND p.analysis_id = ?)")
        count = int(self.conn.execute("SELECT COUNT(*)" + where, (keep, other)).fetchone()[0])
        rows = self.conn.execute(
            "SELECT o.fingerprint, o.severity, b.kind, b.title, b.status, o.severity_score" + where
            + " ORDER BY o.severity_score DESC, o.fingerprint LIMIT ?",
            (keep, other, limit),
        )
        return count, [{"fingerprint": r[0], "severity": r[1], "kind": r[2], "title": r[3],
                        "status": r[4], "severity_score": float(r[5])} for r in rows]

    def count_bugs(self, analysis_id: str, flt: BugFilter = BugFilter()) -> int:
        """How many of an analysis's bugs match a filter."""
        where, params = _bug_where(analysis_id, flt)
        return int(self.conn.execute(
            f"SELECT COUNT(*) FROM bug_occurrences o JOIN bugs b USING (fingerprint) WHERE {where}",
            params,
        ).fetchone()[0])

    def bug_page(
        self, analysis_id: str, flt: BugFilter = BugFilter(), limit: int = 200, offset: int = 0
    ) -> list[BugRow]:
        """One page of an analysis's bugs, filtered and sorted in SQL."""
        if flt.sort not in BUG_SORTS:
            raise ValueError(f"unknown sort {flt.sort!r}; one of {sorted(BUG_SORTS)}")
        where, params = _bug_where(analysis_id, flt)
        rows = self.conn.execute(
            "SELECT o.fingerprint, o.severity, b.kind, b.title, b.claims_json, b.status,"
            " b.assignee, o.rate, o.confidence, o.severity_score, b.regression, b.first_seen_run"
            f" FROM bug_occurrences o JOIN bugs b USING (fingerprint) WHERE {where}"
            f" ORDER BY {BUG_SORTS[flt.sort]} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [{
            "fingerprint": r["fingerprint"], "severity": r["severity"], "kind": r["kind"],
            "title": r["title"], "claims": list(json.loads(r["claims_json"])),
            "status": r["status"], "assignee": r["assignee"], "rate": float(r["rate"]),
            "confidence": float(r["confidence"]), "severity_score": float(r["severity_score"]),
            "regression": bool(r["regression"]), "first_seen_run": r["first_seen_run"],
        } for r in rows]

    def bug_occurrence(self, analysis_id: str, fingerprint: str) -> Bug:
        """The Bug record an analysis stored for a fingerprint, with its current triage status;
        when this analysis did not find it, its newest occurrence anywhere."""
        row = self.conn.execute(
            "SELECT o.json, b.status FROM bug_occurrences o JOIN bugs b USING (fingerprint)"
            " WHERE o.analysis_id = ? AND o.fingerprint = ?",
            (analysis_id, fingerprint),
        ).fetchone() or self.conn.execute(
            "SELECT o.json, b.status FROM bug_occurrences o JOIN bugs b USING (fingerprint)"
            " JOIN analyses a ON a.id = o.analysis_id WHERE o.fingerprint = ?"
            " ORDER BY a.created_at DESC LIMIT 1",
            (fingerprint,),
        ).fetchone()
        if row is None:
            raise StoreError(f"no bug {fingerprint!r} in {self.path}",
                             "pick a bug of this run on the Bugs page")
        return decode_found(row[0], row[1])

    def candidate_page(self, analysis_id: str, limit: int = 500) -> list[CandidateRow]:
        """An analysis's candidates, most severe first, with the triage status of those whose
        fingerprint is a known bug."""
        if not self.has_table("candidates"):
            return []
        rows = self.conn.execute(
            "SELECT c.fingerprint, c.severity, c.kind, c.title, c.json, c.rate, c.confidence,"
            " c.reason, COALESCE(b.status, '') AS status FROM candidates c"
            " LEFT JOIN bugs b USING (fingerprint) WHERE c.analysis_id = ?"
            " ORDER BY c.severity_score DESC, c.fingerprint LIMIT ?",
            (analysis_id, limit),
        )
        return [{
            "fingerprint": r["fingerprint"], "severity": r["severity"], "kind": r["kind"],
            "title": r["title"], "claims": list(json.loads(r["json"]).get("claims", [])),
            "rate": float(r["rate"]), "confidence": float(r["confidence"]),
            "reason": r["reason"], "status": r["status"],
        } for r in rows]

    def verdicts_on(self, response_ids: Sequence[str]) -> dict[str, list[Verdict]]:
        """Every stored verdict on these answers (one per judge setting), by response id."""
        ids = list(dict.fromkeys(response_ids))
        if not ids:
            return {}
        rows = self.conn.execute(
            "SELECT response_id, judge, label, confidence, judged_by, rationale, disagreement"
            f" FROM stances WHERE response_id IN ({','.join('?' * len(ids))}) ORDER BY judge",
            ids,
        )
        out: dict[str, list[Verdict]] = {}
        for r in rows:
            out.setdefault(r["response_id"], []).append(cast(Verdict, dict(r)))
        return out

    def claim_ids(self, analysis_id: str) -> list[str]:
        """The claims an analysis has stance distributions for."""
        rows = self.conn.execute(
            "SELECT DISTINCT claim_id FROM distributions WHERE analysis_id = ? ORDER BY claim_id",
            (analysis_id,),
        )
        return [str(r[0]) for r in rows]

    def contradiction_groups(self, analysis_id: str, limit: int = 2000) -> list[ContradictionGroup]:
        """An analysis's contradictions grouped by (claims, kind), the largest groups first:
        the edges of the contradiction graph, however many contradictions there are."""
        rows = self.conn.execute(
            "SELECT claims_json, kind, COUNT(*) AS n, GROUP_CONCAT(fingerprint, ' ') AS fps"
            " FROM contradictions WHERE analysis_id = ? GROUP BY claims_json, kind"
            " ORDER BY n DESC LIMIT ?",
            (analysis_id, limit),
        )
        return [{"claims": list(json.loads(r[0])), "kind": str(r[1]), "count": int(r[2]),
                 "fingerprints": str(r[3]).split()} for r in rows]

    def contradictions_for(
        self, analysis_id: str, claim: str | None = None, fingerprints: Sequence[str] = (),
        limit: int = 20,
    ) -> list[tuple[str, Contradiction]]:
        """Contradictions (with evidence) with the given fingerprints, or touching a claim."""
        if fingerprints:
            fps = list(fingerprints)[:limit]
            rows = self.conn.execute(
                "SELECT fingerprint, json FROM contradictions WHERE analysis_id = ?"
                f" AND fingerprint IN ({','.join('?' * len(fps))}) ORDER BY id LIMIT ?",
                [analysis_id, *fps, limit],
            )
        elif claim is not None:
            rows = self.conn.execute(
                "SELECT c.fingerprint, c.json FROM contradictions c, json_each(c.claims_json) j"
                " WHERE c.analysis_id = ? AND j.value = ? ORDER BY c.id LIMIT ?",
                (analysis_id, claim, limit),
            )
        else:
            return []
        return [(r[0], contradiction_from_dict(json.loads(r[1]))) for r in rows]
