"""Analyses: stances, clusters, stance distributions, contradictions and candidates."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, cast

from ..errors import StoreError
from ..types import (
    AnswerCluster,
    Bug,
    Contradiction,
    Stance,
    StanceDistribution,
    cluster_from_dict,
    contradiction_from_dict,
    to_dict,
)
from .connection import StoreBase, dumps, now_iso
from .records import AnalysisRecord, decode_found, decode_stance


class AnalysisTables(StoreBase):
    """The stances, analyses, clusters, distributions, contradictions and candidates tables."""

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
        return {r["response_id"]: decode_stance(r) for r in rows}

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
                     c.representative_text, dumps(c.stance_counts), dumps(list(c.member_ids)),
                     int(c.mixed))
                    for c in clusters
                ],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO distributions (analysis_id, claim_id, framing, json)"
                " VALUES (?,?,?,?)",
                [(analysis_id, d.claim_id, d.framing, dumps(to_dict(d))) for d in distributions],
            )
            self.conn.executemany(
                "INSERT INTO contradictions (analysis_id, fingerprint, kind, claims_json, json)"
                " VALUES (?,?,?,?,?)",
                [
                    (analysis_id, fp, c.kind, dumps(list(c.claims)), dumps(to_dict(c)))
                    for fp, c in contradictions
                ],
            )
            self.conn.execute(
                "UPDATE analyses SET status = 'complete', summary_json = ? WHERE id = ?",
                (dumps(summary), analysis_id),
            )

    def latest_analysis(self, run_id: str, judge: str | None = None) -> AnalysisRecord | None:
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
        return cast(AnalysisRecord, d)

    def require_analysis(self, run_id: str) -> AnalysisRecord:
        """The newest complete analysis of a run, or a StoreError that says to run `analyze`."""
        run_id = self.resolve_run(run_id)
        analysis = self.latest_analysis(run_id)
        if analysis is None:
            raise StoreError(
                f"run {run_id} has no complete analysis in {self.path}",
                f"run `behaviordbg analyze {run_id}` first",
            )
        return analysis

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

    def prompt_stance_counts(self, analysis_id: str) -> dict[tuple[str, str, str], tuple[int, int]]:
        """(claim, framing, prompt) -> (affirm, deny): decisive stances per prompt under the
        analysis's judge setting, people's labels in place of its verdicts where they apply. Empty when the run's answers or stances are not in this
        database."""
        rows = self.conn.execute(
            "SELECT q.claim_id, q.framing, q.prompt, s.label, COUNT(*) AS n FROM analyses a"
            " JOIN queries q ON q.run_id = a.run_id"
            " JOIN responses r ON r.run_id = q.run_id AND r.query_id = q.id AND r.text IS NOT NULL"
            " JOIN stances s ON s.response_id = r.id AND s.judge = a.judge"
            " WHERE a.id = ? AND s.label IN ('affirm', 'deny')"
            " GROUP BY q.claim_id, q.framing, q.prompt, s.label",
            (analysis_id,),
        )
        out: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
        for r in rows:
            key = (r["claim_id"], r["framing"], r["prompt"])
            out[key][0 if r["label"] == "affirm" else 1] += r["n"]
        fix = getattr(self, "label_corrections", None)  # people's labels win (store.labels)
        for key, (da, dd) in (fix(analysis_id) if fix is not None else {}).items():
            out[key][0] += da
            out[key][1] += dd
        return {k: (v[0], v[1]) for k, v in out.items()}

    # ------------------------------------------------------------------ candidates

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
                     dumps(to_dict(b)))
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
        return [decode_found(r[0], r[1], candidate=True) for r in rows]

    def count_candidates(self, analysis_id: str) -> int:
        if not self.has_table("candidates"):
            return 0
        return int(self.conn.execute(
            "SELECT COUNT(*) FROM candidates WHERE analysis_id = ?", (analysis_id,)
        ).fetchone()[0])
