"""Read-only queries the dashboard pages call: all data loading and shaping lives here.

The Streamlit pages (pages/) only render what these functions return, so every number on
screen can be tested without a browser. Each function takes an open (read-only) `Store` and returns
plain data (pandas DataFrames, dicts, records from types.py). The SQL is the store's: its read
models (behaviordbg.store.reads) aggregate, filter and sort in the database, so that a database
with 10,000 bugs and 200,000 responses still renders the first page in well under 3 s; here their
rows only become tables. Text from the model is returned untouched: it is the renderer's job to
show it as text only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from ..errors import StoreError
from ..store import BUG_SORTS, BugFilter, Store
from ..store.records import BugRecord, HistoryEntry, Verdict
from ..types import (
    BUG_STATUSES,
    CONTRADICTION_KINDS,
    FRAMINGS,
    SEVERITIES,
    AnswerCluster,
    Bug,
    Contradiction,
    StanceDistribution,
    shown_answer,
)

__all__ = ["BUG_SORTS", "BugFilter"]  # the Bugs page's sort keys and filter, from the store

BUG_COLUMNS = ["fingerprint", "severity", "kind", "title", "claims", "status", "assignee",
               "rate", "confidence", "severity_score", "regression", "first_seen_run"]


def db_version(path: str) -> tuple[str, int, int, int]:
    """A cache key that changes whenever the database does (main file or its WAL).

    A read-only connection's `PRAGMA data_version` only works within one connection, and the
    dashboard opens a fresh connection per rerun, so the files' mtimes and sizes stand in for it.
    """
    def stat(p: str) -> tuple[int, int]:
        try:
            s = os.stat(p)
            return s.st_mtime_ns, s.st_size
        except FileNotFoundError:
            return 0, 0

    main, wal = stat(path), stat(path + "-wal")
    return str(Path(path).resolve()), main[0], wal[0], wal[1]


# --------------------------------------------------------------------------- runs


def runs_table(store: Store, limit: int = 200) -> pd.DataFrame:
    """Runs newest first, with response and bug counts aggregated in SQL.

    `responses` counts stored rows through the (run_id, query_id) index (failed queries included):
    filtering on text would read every row, which is what made this slow at 200,000 answers.
    """
    rows = store.runs_overview(limit)
    cols = ["id", "created_at", "status", "model", "label", "responses", "bugs"]
    frame: pd.DataFrame = pd.DataFrame(rows, columns=cols)
    return frame


def run_ids(store: Store) -> list[str]:
    """Run ids, newest first (for pickers)."""
    return store.run_ids()


def analysis_id(store: Store, run_id: str) -> str | None:
    """The newest complete analysis of a run, or None while it has none."""
    found = store.latest_analysis(run_id)
    return str(found["id"]) if found else None


def previous_run(store: Store, run_id: str) -> str | None:
    return store.previous_run(run_id)


# --------------------------------------------------------------------------- overview


def bug_counts(store: Store, analysis: str) -> dict[str, pd.DataFrame]:
    """Bugs of one analysis counted by kind, severity and status (every category, zeros kept).

    One grouped scan in SQL; the three marginals are summed from it.
    """
    grouped = pd.DataFrame(store.bug_count_groups(analysis),
                           columns=["kind", "severity", "status", "n"])
    out: dict[str, pd.DataFrame] = {}
    for field, order in (("kind", CONTRADICTION_KINDS), ("severity", SEVERITIES),
                         ("status", BUG_STATUSES)):
        counts = grouped.groupby(field)["n"].sum().to_dict() if len(grouped) else {}
        keys = list(order) + sorted(k for k in counts if k not in order)
        out[field] = pd.DataFrame({field: keys, "bugs": [int(counts.get(k, 0)) for k in keys]})
    return out


def distributions(store: Store, analysis: str) -> list[StanceDistribution]:
    return store.analysis_distributions(analysis)


def stance_heatmap(store: Store, analysis: str) -> pd.DataFrame:
    """Claims x framing with p(affirm), its interval and counts: the data of the heat map."""
    rows = [
        {"claim": d.claim_id, "framing": d.framing, "p_affirm": round(d.p_affirm, 3),
         "low": round(d.low, 3), "high": round(d.high, 3), "affirm": d.affirm, "deny": d.deny,
         "unclear": d.unclear, "refuse": d.refuse, "error": d.error, "n": d.total}
        for d in store.analysis_distributions(analysis)
    ]
    cols = ["claim", "framing", "p_affirm", "low", "high", "affirm", "deny", "unclear", "refuse",
            "error", "n"]
    frame: pd.DataFrame = pd.DataFrame(rows, columns=cols)
    return frame


@dataclass(frozen=True)
class RunChanges:
    """Bugs of run b against run a by fingerprint: counts, and the top rows of each change."""

    run_a: str
    run_b: str
    new_count: int
    gone_count: int
    persisting_count: int
    new: pd.DataFrame  # the most severe new bugs (at most `limit`)
    gone: pd.DataFrame  # the most severe bugs of run a not found in run b (at most `limit`)


_CHANGE_COLS = ["fingerprint", "severity", "kind", "title", "status", "severity_score"]


def _only_in(store: Store, keep: str, other: str, limit: int) -> tuple[int, pd.DataFrame]:
    """Bugs of analysis `keep` whose fingerprint analysis `other` lacks (count, top rows)."""
    count, rows = store.bugs_only_in(keep, other, limit)
    return count, pd.DataFrame(rows, columns=_CHANGE_COLS)


def run_changes(store: Store, run_a: str, run_b: str, limit: int = 50) -> RunChanges:
    """What changed from run a to run b, by fingerprint sets of their newest analyses, in SQL.

    A quick look for the Overview. Whether a missing bug is really fixed is a statistical
    question: the Compare page asks `behaviordbg.triage.diff_runs`.
    """
    run_a, run_b = store.resolve_run(run_a), store.resolve_run(run_b)
    an_a, an_b = analysis_id(store, run_a) or "", analysis_id(store, run_b) or ""
    new_count, new = _only_in(store, an_b, an_a, limit)
    gone_count, gone = _only_in(store, an_a, an_b, limit)
    total_b = store.count_occurrences(an_b)
    return RunChanges(run_a, run_b, new_count, gone_count, total_b - new_count, new, gone)


# --------------------------------------------------------------------------- bugs


def bug_total(store: Store, analysis: str, flt: BugFilter = BugFilter()) -> int:
    """How many of an analysis's bugs match a filter."""
    return store.count_bugs(analysis, flt)


def bugs_table(
    store: Store, analysis: str, flt: BugFilter = BugFilter(), limit: int = 200, offset: int = 0
) -> tuple[pd.DataFrame, int]:
    """One page of an analysis's bugs (filtered and sorted in SQL) and the total that matched."""
    rows = store.bug_page(analysis, flt, limit, offset)
    total = bug_total(store, analysis, flt)
    records = [{**r, "claims": ", ".join(r["claims"]), "assignee": r["assignee"] or "",
                "rate": round(r["rate"], 3), "confidence": round(r["confidence"], 3),
                "severity_score": round(r["severity_score"], 3)} for r in rows]
    return pd.DataFrame(records, columns=BUG_COLUMNS), total


CANDIDATE_COLUMNS = ["fingerprint", "severity", "kind", "title", "claims", "rate", "confidence",
                     "reason", "status"]


def candidates_table(store: Store, analysis: str, limit: int = 500) -> tuple[pd.DataFrame, int]:
    """An analysis's candidates (held back for weak evidence), most severe first, and their
    count. `status` is the triage status when the fingerprint is a known bug, else ""."""
    total = store.count_candidates(analysis)  # 0 in a database made before candidates
    records = [{**r, "claims": ", ".join(r["claims"]), "rate": round(r["rate"], 3),
                "confidence": round(r["confidence"], 3)}
               for r in store.candidate_page(analysis, limit)]
    return pd.DataFrame(records, columns=CANDIDATE_COLUMNS), total


def candidate(store: Store, analysis: str, fingerprint: str) -> Bug:
    """One candidate of an analysis, with its evidence (each answer tagged with its side)."""
    for bug in store.candidates_for_analysis(analysis):
        if bug.fingerprint == fingerprint:
            return bug
    raise StoreError(f"no candidate {fingerprint!r} in analysis {analysis}",
                     "pick a candidate of this run on the Bugs page")


@dataclass(frozen=True)
class BugDetail:
    """Everything the Bugs page shows for one selected bug."""

    bug: Bug  # as found by the analysis (evidence, repro), with the current status
    triage: BugRecord  # status, assignee, labels, notes, regression, ...
    history: list[HistoryEntry]
    clusters: list[AnswerCluster]  # answer modes of the bug's claims
    evidence: pd.DataFrame  # one row per evidence answer (prompt, answer, stance, judge)
    verdicts: dict[str, list[Verdict]]  # response id -> every stored judge verdict on it


def judge_verdicts(store: Store, response_ids: Sequence[str]) -> dict[str, list[Verdict]]:
    """Every stored verdict on these answers (one per judge setting), so that a disagreement
    between judges, and each judge's rationale, is visible next to the evidence."""
    return store.verdicts_on(response_ids)


def bug_occurrence(store: Store, analysis: str, fingerprint: str) -> Bug:
    """The Bug record an analysis stored for a fingerprint, with its current triage status."""
    return store.bug_occurrence(analysis, fingerprint)


EVIDENCE_COLUMNS = ["side", "claim", "framing", "prompt", "answer", "stance", "confidence", "judge",
                    "second opinion", "sample", "response_id"]


def evidence_frame(bug: Bug) -> pd.DataFrame:
    """One row per evidence answer, with its side and any second judge's reading."""
    frame: pd.DataFrame = pd.DataFrame(
        [{"side": e.side, "claim": e.claim_id, "framing": e.framing, "prompt": e.prompt,
          "answer": shown_answer(e), "stance": e.stance, "confidence": round(e.confidence, 2),
          "judge": e.judge, "second opinion": e.second_opinion, "sample": e.sample_idx,
          "response_id": e.response_id} for e in bug.evidence],
        columns=EVIDENCE_COLUMNS,
    )
    return frame


def bug_detail(store: Store, analysis: str, fingerprint: str) -> BugDetail:
    bug = bug_occurrence(store, analysis, fingerprint)
    clusters = [c for claim in bug.claims for c in store.analysis_clusters(analysis, claim)]
    evidence = evidence_frame(bug)
    verdicts = judge_verdicts(store, [e.response_id for e in bug.evidence])
    return BugDetail(bug, store.get_bug(bug.fingerprint), store.bug_history(bug.fingerprint),
                     clusters, evidence, verdicts)


# --------------------------------------------------------------------------- graph


def stance_mix(d: StanceDistribution | None) -> str:
    """A claim's colour class: what most of its answers say, or "contested" when they split."""
    if d is None or d.total == 0:
        return "no answers"
    if d.decisive == 0:
        return "unclear/refused"
    if d.p_affirm >= 0.8:
        return "affirms"
    if d.p_affirm <= 0.2:
        return "denies"
    return "contested"


@dataclass(frozen=True)
class GraphData:
    """Nodes (claims, laid out) and edges (contradictions) of one analysis."""

    nodes: pd.DataFrame  # claim, x, y, mix, p_affirm, answers, contradictions
    edges: pd.DataFrame  # edge, kind, source, target, x, y, x2, y2, count, worst, fingerprints
    marks: pd.DataFrame  # single-claim contradictions, drawn as marks around their claim


def graph_data(store: Store, analysis: str, max_edges: int = 2000) -> GraphData:
    """The contradiction graph: claims as nodes, multi-claim contradictions as edges.

    Contradictions on one claim (unstable, paraphrase, say_do, manifest) become marks placed
    around their node, one per kind. Grouping by (claims, kind) in SQL keeps this small however
    many bugs there are.
    """
    dists = {d.claim_id: d for d in store.analysis_distributions(analysis) if d.framing == "all"}
    groups = [(tuple(g["claims"]), g["kind"], g["count"], g["fingerprints"])
              for g in store.contradiction_groups(analysis, max_edges)]
    answered: dict[str, int] = {}  # open claims: answers, over their value modes
    for m in store.analysis_value_modes(analysis):
        answered[m.claim_id] = answered.get(m.claim_id, 0) + m.size
    claims = set(dists) | set(answered)
    for cl, *_ in groups:
        claims.update(cl)
    g: nx.Graph[str] = nx.Graph()
    g.add_nodes_from(sorted(claims))
    for cl, _, n, _ in groups:
        for a, b in zip(cl, cl[1:]):
            g.add_edge(a, b, weight=g.get_edge_data(a, b, {"weight": 0})["weight"] + n)
    pos: Mapping[str, Any]
    if len(g) > 1:
        pos = nx.spring_layout(g, seed=7, k=2.5 / math.sqrt(len(g)))
    else:
        pos = {c: (0.0, 0.0) for c in g}
    per_claim: dict[str, int] = {c: 0 for c in g}
    edges, marks = [], []
    for i, (cl, kind, n, fps) in enumerate(groups):
        for c in cl:
            per_claim[c] = per_claim.get(c, 0) + n
        if len(cl) == 1:
            k = CONTRADICTION_KINDS.index(kind) if kind in CONTRADICTION_KINDS else 0
            angle = 2 * math.pi * k / len(CONTRADICTION_KINDS)
            x, y = pos[cl[0]]
            marks.append({"edge": f"e{i}", "kind": kind, "claim": cl[0], "count": n,
                          "x": float(x) + 0.09 * math.cos(angle),
                          "y": float(y) + 0.09 * math.sin(angle),
                          "fingerprints": fps})
            continue
        for a, b in zip(cl, cl[1:]):
            edges.append({"edge": f"e{i}", "kind": kind, "source": a, "target": b, "count": n,
                          "x": float(pos[a][0]), "y": float(pos[a][1]),
                          "x2": float(pos[b][0]), "y2": float(pos[b][1]),
                          "claims": " -> ".join(cl), "fingerprints": fps})
    nodes = pd.DataFrame(
        [{"claim": c, "x": float(pos[c][0]), "y": float(pos[c][1]),
          "mix": "open (values)" if c in answered else stance_mix(dists.get(c)),
          "p_affirm": round(dists[c].p_affirm, 3) if c in dists else None,
          "answers": dists[c].total if c in dists else answered.get(c, 0),
          "contradictions": per_claim.get(c, 0)} for c in sorted(g)],
        columns=["claim", "x", "y", "mix", "p_affirm", "answers", "contradictions"],
    )
    return GraphData(
        nodes,
        pd.DataFrame(edges, columns=["edge", "kind", "source", "target", "count", "x", "y", "x2",
                                     "y2", "claims", "fingerprints"]),
        pd.DataFrame(marks, columns=["edge", "kind", "claim", "count", "x", "y", "fingerprints"]),
    )


def contradictions_for(
    store: Store, analysis: str, claim: str | None = None,
    fingerprints: Sequence[str] = (), limit: int = 20,
) -> list[tuple[str, Contradiction]]:
    """Contradictions (with evidence) touching a claim, or with the given fingerprints."""
    return store.contradictions_for(analysis, claim, fingerprints, limit)


# --------------------------------------------------------------------------- claims


def claim_ids(store: Store, analysis: str) -> list[str]:
    """Claims with stance distributions, and open claims with value modes."""
    opened = {m.claim_id for m in store.analysis_value_modes(analysis)}
    return sorted(set(store.claim_ids(analysis)) | opened)


def claim_value_modes(store: Store, analysis: str, claim: str) -> pd.DataFrame:
    """An open claim's value modes: value, share, answers, decisive, substantive, manifest match,
    representative answer (untrusted model output); empty for a yes/no claim."""
    rows = [{"mode": m.index, "value": m.value if m.kind == "value" else "(no value: declines"
             " or names none)", "share": m.share, "answers": m.size, "decisive": m.decisive,
             "substantive": m.substantive, "spellings": ", ".join(m.values),
             "manifest": {None: "", True: "declared", False: "differs"}[m.matches_manifest],
             "representative": m.representative_text}
            for m in store.analysis_value_modes(analysis, claim)]
    frame: pd.DataFrame = pd.DataFrame(rows, columns=[
        "mode", "value", "share", "answers", "decisive", "substantive", "spellings", "manifest",
        "representative"])
    return frame


def claim_text(store: Store, run_id: str, claim: str) -> str:
    """The claim's statement from the run's suite snapshot (`SuiteRef["snapshot"]`, as the run
    stored it); "" for a run made before snapshots were stored."""
    for ref in store.get_run(run_id)["suites"]:
        for c in ref.get("snapshot", {}).get("claims") or []:
            if isinstance(c, dict) and c.get("id") == claim:
                return str(c.get("text", ""))
    return ""


def claim_distributions(store: Store, analysis: str, claim: str) -> pd.DataFrame:
    """One claim's stance counts per framing (and "all") with p(affirm) and its interval."""
    df = stance_heatmap(store, analysis)
    df = df[df["claim"] == claim].drop(columns=["claim"])
    order = {f: i for i, f in enumerate((*FRAMINGS, "all"))}
    frame: pd.DataFrame = df.sort_values(
        "framing", key=lambda s: s.map(lambda f: order.get(f, 9))).reset_index(
        drop=True
    )
    return frame


def claim_clusters(store: Store, analysis: str, claim: str) -> list[AnswerCluster]:
    return store.analysis_clusters(analysis, claim)


# --------------------------------------------------------------------------- exports


def export_selection(store: Store, run_id: str, fingerprints: Sequence[str]) -> dict[str, str]:
    """The selected bugs of a run rendered in every ticket format: {format: text}.

    Uses the export package's own payload (whitelisted run fields, triage status, history) and
    renderers, so a dashboard export matches `behaviordbg export` except for which bugs it holds.
    """
    from ..export import FORMATS, build_payload, render

    payload = build_payload(store, run_id, fingerprints=fingerprints)
    return {fmt: render(fmt, payload) for fmt in FORMATS}


def export_suffixes() -> dict[str, str]:
    """File suffix per export format, for download file names."""
    from ..export import FORMATS

    return {name: fmt.suffix for name, fmt in FORMATS.items()}


def compare_runs(store: Store, run_a: str, run_b: str) -> dict[str, pd.DataFrame]:
    """The triage diff of two runs (baseline a, compared b) as one table per change.

    Delegates to behaviordbg.triage.diff_runs, which says "resolved" only when the drop is
    significant; here it is only turned into tables.
    """
    from dataclasses import asdict

    from ..diff import diff_runs

    diff = diff_runs(store, run_a, run_b)
    cols = ["fingerprint", "kind", "title", "status", "severity_a", "severity_b", "rate_a",
            "rate_b", "p_value", "note"]
    out = {}
    for name in ("new", "resolved", "not_reproduced", "changed", "persisting"):
        out[name] = pd.DataFrame([{k: asdict(c)[k] for k in cols} for c in getattr(diff, name)],
                                 columns=cols)
    return out


# --------------------------------------------------------------------------- prompted baseline


@dataclass(frozen=True)
class PromptView:
    """A run's prompted baseline for the Bugs and Compare pages: the pair, the prompt's hash,
    verdict counts, one row per bug, and fingerprint -> verdict label (for the bug table)."""

    base_run: str
    prompted_run: str
    prompt_sha256: str
    prompt_source: str
    pending: str
    counts: dict[str, int]
    table: pd.DataFrame
    labels: dict[str, str]
    lines: dict[str, str]  # fingerprint -> the verdict with its rates and p-value, in words


PROMPT_COLUMNS = ["fingerprint", "verdict", "kind", "severity", "title", "rate_base",
                  "rate_prompted", "p_value", "note"]


def prompt_verdicts(store: Store, run_id: str) -> PromptView | None:
    """The prompted baseline of the pair `run_id` belongs to (either side); None without one.
    Computed by behaviordbg.prompting (Fisher's exact test, as Compare's diff)."""
    from ..prompting import compare_prompted

    c = compare_prompted(store, run_id)
    if c is None:
        return None
    rows = [{"fingerprint": v.fingerprint, "verdict": v.label, "kind": v.kind,
             "severity": v.severity, "title": v.title, "rate_base": v.rate_base,
             "rate_prompted": v.rate_prompted, "p_value": v.p_value, "note": v.note}
            for v in c.verdicts]
    return PromptView(c.base_run, c.prompted_run, c.prompt_sha256, c.prompt_source, c.pending,
                      c.counts(), pd.DataFrame(rows, columns=PROMPT_COLUMNS),
                      {v.fingerprint: v.label for v in c.verdicts},
                      {v.fingerprint: v.describe() for v in c.verdicts})


def with_prompting(table: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """A bug table with a `prompting` column (the verdict label, "-" for none) after `status`."""
    out: pd.DataFrame = table.copy()
    out.insert(min(6, len(out.columns)), "prompting",
               [labels.get(fp, "-") for fp in out["fingerprint"]])
    return out
