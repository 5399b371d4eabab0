"""Stance labels by people: the answer_labels table (append-only; the newest row of a key wins).

A label is a person's reading of one answer, and it applies wherever the same answer shows up:
the *matching rule* is `answer_key(claim_id, framing, prompt, text)`, a sha256 of the claim id,
the framing, the prompt and the answer text exactly as stored (no normalisation: a cached answer
of a later run is byte-identical, a re-sampled one that differs by a comma is another answer).
See docs/review.md. The store does the matching, so every reader (analysis, stats, dashboard,
export) applies labels the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict, cast

from ..errors import StoreError
from ..types import Answer
from .connection import StoreBase, dumps, like_prefix, now_iso
from .records import AnalysisRecord

HUMAN_STANCES: tuple[str, ...] = ("affirm", "deny", "unclear", "refuse")
"""The stances a person can give (a judge's "error" is not a reading)."""


def answer_key(claim_id: str, framing: str, prompt: str, text: str) -> str:
    """The matching key of a label: same claim, framing, prompt and answer text, same key (the
    sha256 of the four fields, each as `<length>:<text>`)."""
    # each field length-prefixed: unambiguous whatever the text holds, and cheap at 100,000 rows
    doc = "".join(f"{len(x)}:{x}" for x in (claim_id, framing, prompt, text))
    return hashlib.sha256(doc.encode("utf-8", "surrogatepass")).hexdigest()


def key_of(a: Answer) -> str:
    return answer_key(a.claim_id, a.framing, a.prompt, a.text)


class NewLabel(TypedDict):
    """What `add_labels` writes (the key is computed here, never passed in)."""

    response_id: str
    run_id: str
    claim_id: str
    claim: str
    identity: str | None
    framing: str
    prompt: str
    response: str
    stance: str  # "" when the row clears the label (the judge decides again)
    note: str
    author: str


class LabelRecord(NewLabel):
    """One row of answer_labels: who read which answer how, and when."""

    id: int
    answer_key: str
    created_at: str


class LabelledVerdict(TypedDict):
    """A stored judge verdict on a labelled answer (the data of judge accuracy)."""

    answer_key: str
    judge: str  # the judge setting (rules, llm, cascade, verify:...)
    judge_label: str
    human: str
    claim_id: str
    framing: str


class ReviewRow(TypedDict):
    """An answer of a run with every stored verdict on it (the suggested-labels queue)."""

    response_id: str
    claim_id: str
    framing: str
    prompt: str
    response: str
    verdicts: list[tuple[str, str, float, str | None]]  # (setting, label, confidence, disagreement)
    label: LabelRecord | None  # the label in force on it (the matching rule)


class LabelTables(StoreBase):
    """The answer_labels table and the reads that match labels to answers."""

    def _labels_ready(self) -> bool:
        return self.has_table("answer_labels")  # a read-only database made before 0004 has none

    def add_labels(self, labels: Sequence[NewLabel]) -> list[LabelRecord]:
        """Append labels (all in one transaction); returns the rows written."""
        bad = [lab["stance"] for lab in labels if lab["stance"] not in (*HUMAN_STANCES, "")]
        if bad:
            raise StoreError(f"unknown stance {bad[0]!r}", f"use one of: {', '.join(HUMAN_STANCES)}")
        ts = now_iso()
        out: list[LabelRecord] = []
        with self.transaction():
            for lab in labels:
                key = answer_key(lab["claim_id"], lab["framing"], lab["prompt"], lab["response"])
                cur = self.conn.execute(
                    "INSERT INTO answer_labels (answer_key, response_id, run_id, claim_id, claim,"
                    " identity, framing, prompt, response, stance, note, author, created_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (key, lab["response_id"], lab["run_id"], lab["claim_id"], lab["claim"],
                     lab["identity"], lab["framing"], lab["prompt"], lab["response"],
                     lab["stance"], lab["note"], lab["author"], ts),
                )
                out.append({"id": int(cur.lastrowid or 0), "answer_key": key, **lab,
                            "created_at": ts})
        return out

    def current_labels(self, claim_ids: Iterable[str] | None = None) -> dict[str, LabelRecord]:
        """The label in force per answer key (newest row; cleared keys left out)."""
        if not self._labels_ready():
            return {}
        sql = ("SELECT * FROM answer_labels WHERE id IN"
               " (SELECT MAX(id) FROM answer_labels GROUP BY answer_key)")
        params: list[Any] = []
        if claim_ids is not None:
            ids = sorted(set(claim_ids))
            if not ids:
                return {}
            sql += f" AND claim_id IN ({','.join('?' * len(ids))})"
            params = list(ids)
        rows = self.conn.execute(sql, params)
        return {r["answer_key"]: _record(r) for r in rows if r["stance"]}

    def labels_for_answers(self, answers: Iterable[Answer]) -> dict[str, LabelRecord]:
        """response id -> the label in force for that answer (by the matching rule)."""
        answers = list(answers)
        labels = self.current_labels({a.claim_id for a in answers})
        if not labels:
            return {}
        out: dict[str, LabelRecord] = {}
        for a in answers:
            lab = labels.get(key_of(a))
            if lab is not None:
                out[a.response_id] = lab
        return out

    def set_analysis_summary(self, analysis_id: str, summary: dict[str, Any]) -> None:
        """Replace an analysis's summary (labels' effect on bugs is known only after the bugs
        are recorded, inside the same transaction)."""
        with self.transaction():
            self.conn.execute("UPDATE analyses SET summary_json = ? WHERE id = ?",
                              (dumps(summary), analysis_id))

    def labels_on(self, response_ids: Sequence[str]) -> dict[str, LabelRecord]:
        """response id -> the label in force, for these answers (two queries, any number)."""
        ids = list(dict.fromkeys(response_ids))
        if not ids or not self._labels_ready():
            return {}
        rows = self.conn.execute(
            "SELECT r.id, q.claim_id, q.framing, q.prompt, r.text FROM responses r JOIN queries q"
            " ON q.run_id = r.run_id AND q.id = r.query_id"
            f" WHERE r.text IS NOT NULL AND r.id IN ({','.join('?' * len(ids))})", ids).fetchall()
        labels = self.current_labels({r["claim_id"] for r in rows})
        out: dict[str, LabelRecord] = {}
        for r in rows:
            lab = labels.get(answer_key(r["claim_id"], r["framing"], r["prompt"], r["text"]))
            if lab is not None:
                out[r["id"]] = lab
        return out

    def analysis_by_id(self, analysis_id: str) -> AnalysisRecord | None:
        """One analysis (run, judge setting, summary with what labels did), or None."""
        row = self.conn.execute("SELECT * FROM analyses WHERE id = ?", (analysis_id,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["summary"] = json.loads(d.pop("summary_json") or "{}")
        return cast(AnalysisRecord, d)

    def label_corrections(self, analysis_id: str) -> dict[tuple[str, str, str], tuple[int, int]]:
        """(claim, framing, prompt) -> (affirm, deny) to add to an analysis's per-prompt judge
        counts so that they count people's labels instead of the judge where labels apply."""
        row = self.conn.execute("SELECT run_id, judge FROM analyses WHERE id = ?",
                                (analysis_id,)).fetchone()
        if row is None or not self._labels_ready():
            return {}
        run_id, setting = row[0], row[1]
        labels = self.current_labels()
        if not labels:
            return {}
        claims = sorted({lab["claim_id"] for lab in labels.values()})
        rows = self.conn.execute(
            "SELECT q.claim_id, q.framing, q.prompt, r.text, s.label FROM queries q"
            " JOIN responses r ON r.run_id = q.run_id AND r.query_id = q.id"
            " LEFT JOIN stances s ON s.response_id = r.id AND s.judge = ?"
            f" WHERE q.run_id = ? AND r.text IS NOT NULL AND q.claim_id IN"
            f" ({','.join('?' * len(claims))})", [setting, run_id, *claims])
        out: dict[tuple[str, str, str], list[int]] = {}
        for claim, framing, prompt, text, judged in rows:
            lab = labels.get(answer_key(claim, framing, prompt, text))
            if lab is None or lab["stance"] == judged:
                continue
            d = out.setdefault((claim, framing, prompt), [0, 0])
            for label, sign in ((judged, -1), (lab["stance"], 1)):
                if label in ("affirm", "deny"):
                    d[0 if label == "affirm" else 1] += sign
        return {k: (v[0], v[1]) for k, v in out.items() if v != [0, 0]}

    def label_history(self, key: str) -> list[LabelRecord]:
        """Every label ever given to an answer key, oldest first."""
        if not self._labels_ready():
            return []
        rows = self.conn.execute("SELECT * FROM answer_labels WHERE answer_key = ? ORDER BY id",
                                 (key,))
        return [_record(r) for r in rows]

    def answer(self, response_id: str) -> Answer:
        """One stored answer by response id (or a unique prefix), or a StoreError."""
        sql = ("SELECT r.id AS response_id, q.run_id, q.id AS query_id, q.suite, q.claim_id,"
               " q.framing, q.prompt_idx, q.prompt, q.sample_idx, r.text FROM responses r"
               " JOIN queries q ON q.run_id = r.run_id AND q.id = r.query_id WHERE ")
        rows = (self.conn.execute(sql + "r.id = ?", (response_id,)).fetchall()
                or self.conn.execute(sql + "r.id LIKE ? ESCAPE '\\' LIMIT 2",
                                     (like_prefix(response_id),)).fetchall())
        if len(rows) != 1:
            raise StoreError(
                f"no answer {response_id!r} in {self.path}"
                + (" (the prefix is ambiguous)" if rows else ""),
                "copy a response id from the evidence (`behaviordbg bugs latest --json`, the"
                " dashboard) or from `export --format labels`",
            )
        r = rows[0]
        if r["text"] is None:
            raise StoreError(f"answer {r['response_id']} has no text (its query failed)",
                             "label an answer that has text")
        return Answer(r["response_id"], r["run_id"], r["query_id"], r["suite"], r["claim_id"],
                      r["framing"], r["prompt_idx"], r["prompt"], r["sample_idx"], r["text"])

    def labelled_verdicts(self) -> list[LabelledVerdict]:
        """Every judge setting's newest stored verdict on each labelled answer key: one row per
        (answer key, judge setting), so a cached answer asked in ten runs counts once."""
        labels = self.current_labels()
        if not labels:
            return []
        claims = sorted({lab["claim_id"] for lab in labels.values()})
        rows = self.conn.execute(
            "SELECT s.judge, s.label, s.created_at, q.claim_id, q.framing, q.prompt, r.text"
            " FROM stances s JOIN responses r ON r.id = s.response_id"
            " JOIN queries q ON q.run_id = r.run_id AND q.id = r.query_id"
            f" WHERE r.text IS NOT NULL AND q.claim_id IN ({','.join('?' * len(claims))})"
            " ORDER BY s.created_at",
            claims,
        )
        newest: dict[tuple[str, str], LabelledVerdict] = {}
        for r in rows:
            key = answer_key(r["claim_id"], r["framing"], r["prompt"], r["text"])
            lab = labels.get(key)
            if lab is None:
                continue
            newest[(key, r["judge"])] = {
                "answer_key": key, "judge": r["judge"], "judge_label": r["label"],
                "human": lab["stance"], "claim_id": r["claim_id"], "framing": r["framing"]}
        return list(newest.values())

    def review_rows(self, run_id: str, claim_id: str | None = None) -> list[ReviewRow]:
        """A run's answers with every stored verdict on them, in two queries (no per-row SQL)."""
        run_id = self.resolve_run(run_id)
        where = "q.run_id = ? AND r.text IS NOT NULL" + (" AND q.claim_id = ?" if claim_id else "")
        params: list[Any] = [run_id, claim_id] if claim_id else [run_id]
        rows = self.conn.execute(
            "SELECT r.id, q.claim_id, q.framing, q.prompt, r.text FROM queries q JOIN responses r"
            f" ON r.run_id = q.run_id AND r.query_id = q.id WHERE {where}"
            " ORDER BY q.claim_id, q.framing, q.prompt_idx, q.sample_idx", params).fetchall()
        labels = self.current_labels({r[1] for r in rows})
        labelled_claims = {lab["claim_id"] for lab in labels.values()}
        out: dict[str, ReviewRow] = {}
        for rid, claim, framing, prompt, text in rows:
            lab = (labels.get(answer_key(claim, framing, prompt, text))
                   if claim in labelled_claims else None)  # no hashing where nothing can match
            out[rid] = {"response_id": rid, "claim_id": claim, "framing": framing,
                        "prompt": prompt, "response": text, "verdicts": [], "label": lab}
        verdicts = self.conn.execute(
            "SELECT s.response_id, s.judge, s.label, s.confidence, s.disagreement FROM stances s"
            " JOIN responses r ON r.id = s.response_id JOIN queries q ON q.run_id = r.run_id"
            f" AND q.id = r.query_id WHERE {where} ORDER BY s.judge", params)
        for rid, judge, label, conf, disagreement in verdicts:
            row = out.get(rid)
            if row is not None:
                row["verdicts"].append((judge, label, float(conf), disagreement))
        return list(out.values())


def _record(r: Any) -> LabelRecord:
    return {
        "id": int(r["id"]), "answer_key": r["answer_key"], "response_id": r["response_id"],
        "run_id": r["run_id"], "claim_id": r["claim_id"], "claim": r["claim"],
        "identity": r["identity"], "framing": r["framing"], "prompt": r["prompt"],
        "response": r["response"], "stance": r["stance"], "note": r["note"],
        "author": r["author"], "created_at": r["created_at"],
    }
