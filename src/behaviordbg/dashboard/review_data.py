"""What the dashboard's answer review shows: labels next to evidence, a claim's answers, the
suggested-labels queue, judge accuracy. Read-only, shaped from the store's reads in a few
queries each (never one query per answer), so a run of 10,000 answers stays quick.

Every row of a label control has the same fields (LabelRow), so the Bugs, Claims and Review
pages share one renderer (behaviordbg.dashboard.label_ui). Model text is returned untouched:
the renderer shows it as text only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

import pandas as pd

from ..analysis.labels import is_label, suggest
from ..store import LabelRecord, Store


class LabelRow(TypedDict):
    """One answer in a label control."""

    response_id: str
    run_id: str
    claim: str
    framing: str
    prompt: str
    answer: str
    stance: str  # the stance the analysis used
    source: str  # where it came from: "label:<author>" or the judge
    confidence: float
    label: str  # the label in force ("" when none)
    label_note: str
    why: str  # why it is shown (suggestions), else ""


def _row(rid: str, run_id: str, claim: str, framing: str, prompt: str, answer: str, stance: str,
         source: str, confidence: float, lab: LabelRecord | None, why: str = "") -> LabelRow:
    return {"response_id": rid, "run_id": run_id, "claim": claim, "framing": framing,
            "prompt": prompt, "answer": answer, "stance": stance, "source": source,
            "confidence": round(float(confidence), 3), "label": lab["stance"] if lab else "",
            "label_note": lab["note"] if lab else "", "why": why}


def evidence_rows(store: Store, analysis: str, fingerprint: str, *, candidate: bool = False
                  ) -> list[LabelRow]:
    """A bug's (or candidate's) evidence answers with the labels in force on them."""
    from .data import bug_occurrence
    from .data import candidate as candidate_of

    bug = (candidate_of(store, analysis, fingerprint) if candidate
           else bug_occurrence(store, analysis, fingerprint))
    found = store.analysis_by_id(analysis)
    run_id = found["run_id"] if found else ""
    labels = store.labels_on([e.response_id for e in bug.evidence])
    out: dict[str, LabelRow] = {}
    for e in bug.evidence:  # an answer that stands on two sides is labelled once
        if e.response_id not in out:
            out[e.response_id] = _row(e.response_id, run_id, e.claim_id, e.framing, e.prompt,
                                      e.response, e.stance, e.judge, e.confidence,
                                      labels.get(e.response_id),
                                      f"{e.side} side" if e.side else "")
    return list(out.values())


def _verdict_of(verdicts: Iterable[tuple[str, str, float, str | None]], setting: str
                ) -> tuple[str, str, float]:
    for judge, label, conf, _ in verdicts:
        if judge == setting:
            return label, judge, conf
    return "none", "no verdict", 0.0


def claim_answers(store: Store, run_id: str, claim: str, stance: str = "", offset: int = 0,
                  limit: int = 20) -> tuple[list[LabelRow], int]:
    """One claim's answers in a run, least confident verdict first, with labels in force; and
    how many match (for paging). `stance`: only answers the analysis read this way."""
    analysis = store.latest_analysis(run_id)
    setting = str(analysis["judge"]) if analysis else "rules"
    rows = store.review_rows(run_id, claim)
    out = []
    for r in rows:
        lab = r["label"]
        label, judge, conf = _verdict_of(r["verdicts"], setting)
        used, source = (lab["stance"], f"label:{lab['author'] or 'person'}") if lab else (label,
                                                                                        judge)
        if stance and used != stance:
            continue
        out.append(_row(r["response_id"], run_id, r["claim_id"], r["framing"], r["prompt"],
                        r["response"], used, source, 1.0 if lab else conf, lab))
    out.sort(key=lambda x: (x["label"] != "", x["confidence"], x["response_id"]))
    return out[offset:offset + limit], len(out)


def suggestions(store: Store, run_id: str, analysis: str, offset: int = 0, limit: int = 20
                ) -> tuple[list[LabelRow], int]:
    """Unlabelled answers of a run worth reading first (behaviordbg.analysis.labels.suggest):
    judges disagree, then bug and candidate evidence, then the lowest confidence."""
    found = store.analysis_by_id(analysis)
    setting = str(found["judge"]) if found else "rules"
    rows = store.review_rows(run_id)
    labelled = {r["response_id"] for r in rows if r["label"] is not None}
    evidence = {e.response_id for b in store.bugs_for_analysis(analysis) for e in b.evidence}
    evidence |= {e.response_id for b in store.candidates_for_analysis(analysis)
                 for e in b.evidence}
    ranked = suggest(rows, setting=setting, labelled=labelled, evidence=evidence,
                     limit=len(rows))
    page = [_row(d["response_id"], run_id, d["claim"], d["framing"], d["prompt"], d["answer"],
                 d["stance"], setting, d["confidence"], None, d["why"])
            for d in ranked[offset:offset + limit]]
    return page, len(ranked)


def removed_by_labels(store: Store, analysis: str) -> pd.DataFrame:
    """Bugs the labels took away in this analysis (closed now, or earlier and kept closed),
    with their current status and the reason in their history."""
    found = store.analysis_by_id(analysis)
    info: Mapping[str, Any] = (found["summary"].get("labels") or {}) if found else {}
    fps = list(dict.fromkeys([*info.get("closed", []), *info.get("suppressed", [])]))
    rows = []
    for fp in fps:
        rec = store.find_bug(fp)
        if rec is None:
            continue
        last = [h for h in store.bug_history(fp) if h["field"] == "status"][-1:]
        rows.append({"fingerprint": fp, "title": rec["title"], "status": rec["status"],
                     "reason": last[0]["note"] if last else "", "at": last[0]["at"] if last else ""})
    frame: pd.DataFrame = pd.DataFrame(rows, columns=["fingerprint", "title", "status", "reason",
                                                      "at"])
    return frame


def judge_scores(store: Store) -> dict[str, Any]:
    """Each judge's accuracy against the labels (behaviordbg.triage.label_stats) as tables."""
    from ..triage import label_stats

    st = label_stats(store)
    overall = pd.DataFrame(
        [{k: j[k] for k in ("judge", "right", "n", "accuracy", "low", "high")}
         for j in st["judges"]], columns=["judge", "right", "n", "accuracy", "low", "high"])
    detail = {}
    for j in st["judges"]:
        confusion = pd.DataFrame(j["confusion"]).T  # rows: the person's label
        confusion.index.name = "person \\ judge"
        detail[j["judge"]] = {
            "by_framing": pd.DataFrame(j["by_framing"]),
            "by_claim": pd.DataFrame(j["by_claim"]).sort_values(["accuracy", "n"],
                                                                ascending=[True, False])
            if j["by_claim"] else pd.DataFrame(),
            "confusion": confusion.reset_index(),
        }
    return {"labelled": st["labelled_answers"], "overall": overall, "detail": detail}


def labels_jsonl(store: Store, run_id: str) -> str:
    """`export --format labels` of a run, for the download button."""
    from ..export import label_rows, labels

    return labels.render(label_rows(store, run_id))


def sources(rows: Iterable[LabelRow]) -> dict[str, int]:
    """How many rows took their stance from a label, and how many from a judge."""
    out = {"label": 0, "judge": 0}
    for r in rows:
        out["label" if is_label(r["source"]) else "judge"] += 1
    return out
