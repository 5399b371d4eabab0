"""Analysis of a stored run: judge every answer (only what is not judged yet), cluster answers
into modes, count stance distributions, find contradictions, turn them into bugs and candidates
(optionally verified by a second judge), and record what that means for every known bug.

The stages are pure functions in behaviordbg.analysis; this module only feeds them the run's
answers and stores what they return, all of an analysis in one transaction.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import triage
from ..analysis.bugs import fingerprint, to_bugs
from ..analysis.coverage import out_of_reach
from ..analysis.labels import HumanLabel, apply_labels, is_label, label_outcome
from ..analysis.verify import apply as verify_apply
from ..config import AnalyzeOptions
from ..errors import BehaviordbgError
from ..store import Run, Store
from ..types import (
    Answer,
    Bug,
    Claim,
    Contradiction,
    Manifest,
    Stance,
    Suite,
    Turn,
    suite_from_dict,
    tools_from,
)
from . import judging
from . import values as values_stage
from .progress import NullProgress, ProgressSink

JUDGE_BATCH = 256  # stances are saved after every batch, so a killed analysis resumes


@dataclass
class AnalysisSummary:
    """What one analysis found; `bugs` carry their current triage status."""

    run_id: str
    analysis_id: str
    judge: str
    answers: int
    judged: int  # judged in this invocation (the rest were reused)
    judge_errors: int
    contradictions: int
    bugs: list[Bug]
    elapsed_s: float
    lifecycle: dict[str, Any]
    model: str = ""
    clusters: int = 0
    mixed_clusters: int = 0  # answer modes whose members got opposite stances: judge errors?
    uncertain_bugs: int = 0
    candidates: list[Bug] = field(default_factory=list)  # held back: evidence too weak
    verification: dict[str, Any] = field(default_factory=dict)  # --verify: judge and counts
    open_answers: int = 0  # answers to open claims: read for values, not judged for a stance
    value_modes: int = 0
    turns: int = 0  # pushback follow-up turns judged (they feed only the `caves` kind)
    # pushback, per claim: challenged conversations and flips (analysis.caves.cave_counts)
    pushback: dict[str, dict[str, int]] = field(default_factory=dict)
    # kinds this run cannot find, and why (one sample cannot be unstable: analysis.coverage)
    out_of_reach: dict[str, str] = field(default_factory=dict)
    # people's stance labels: applied, changed (differ from the judge), closed / reopened /
    # created bugs (see behaviordbg.analysis.labels and triage.record_label_outcome)
    labels: dict[str, Any] = field(default_factory=dict)
    # with a manifest that declares tools: answers offered them, calls made, calls written as text
    tool_calls: dict[str, Any] = field(default_factory=dict)
    # run --clarify: forced-choice follow-ups, decisive replies, unclear stances they settled
    clarify: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["bugs"] = len(self.bugs)
        d["candidates"] = len(self.candidates)
        d["candidate_fingerprints"] = [b.fingerprint for b in self.candidates]
        d["by_severity"] = {
            s: sum(b.severity == s for b in self.bugs) for s in ("critical", "high", "medium", "low")
        }
        d["fingerprints"] = [b.fingerprint for b in self.bugs]
        return d


def run_suites(run: Run) -> list[Suite]:
    """The suites a run was made with: its stored snapshots, else its suite files.

    Files are loaded together, as the run loaded them: a rule in one suite may name a claim of
    another, so one file alone may not validate."""
    from .. import suites as suites_mod

    refs = list(run.get("suites") or [])
    files = [r for r in refs if not r.get("snapshot")]
    by_name: dict[str, Suite] = {}
    if files:
        try:
            loaded = suites_mod.load_suites(list(dict.fromkeys(str(r["path"]) for r in files)))
        except BehaviordbgError as err:
            raise BehaviordbgError(
                f"run {run['id']}: its suites have no stored snapshot and the files cannot be"
                f" loaded:\n{err.message}",
                hint="restore the suite files as they were, or probe again with this version",
            ) from None
        by_name = {s.name: s for s in loaded}
    out: list[Suite] = []
    for ref in refs:
        if ref.get("snapshot"):
            out.append(suite_from_dict(ref["snapshot"]))
        elif ref.get("name") in by_name:
            out.append(by_name[ref["name"]])
        else:
            raise BehaviordbgError(
                f"run {run['id']}: suite {ref.get('name')!r} is no longer in {ref.get('path')}",
                hint="restore the suite file as it was when the run was made",
            )
    return out


def run_manifest(run: Run) -> Manifest:
    """The deployment manifest recorded with the run; a plain chat model when none was."""
    m = run.get("manifest") or {}
    return Manifest(
        name=str(m.get("name") or "chat"),
        capabilities={str(k): bool(v) for k, v in (m.get("capabilities") or {}).items()},
        claim_truth={str(k): bool(v) for k, v in (m.get("claim_truth") or {}).items()},
        path=m.get("path"),
        claim_values={str(k): tuple(str(x) for x in v)
                      for k, v in (m.get("claim_values") or {}).items() if v},
        tools=tools_from(m.get("tools")),
    )


def analyze_run(
    store: Store,
    run_id: str,
    opts: AnalyzeOptions,
    progress: ProgressSink | None = None,
    *,
    suites: list[Suite] | None = None,
    stored_only: bool = False,
) -> AnalysisSummary:
    """Judge (only what is not judged yet), apply people's stance labels over the verdicts,
    cluster, find contradictions and bugs; store it all.

    `suites`: the run's suites when the caller has them in hand (check(), the pytest plugin);
    otherwise they come from the run's stored snapshots, else from its suite files.
    `stored_only`: judge nothing, use the stored verdicts (answers without one count as "error"):
    re-analysing after a label never asks a model."""
    return asyncio.run(_analyze(store, run_id, opts, progress, suites, stored_only))


async def _analyze(
    store: Store, run_id: str, opts: AnalyzeOptions, progress: ProgressSink | None,
    suites: list[Suite] | None, stored_only: bool = False,
) -> AnalysisSummary:
    t0 = time.perf_counter()
    run = store.get_run(run_id)  # resolves "latest" and prefixes; StoreError names the fix
    run_id = run["id"]
    suites = suites if suites is not None else run_suites(run)
    # scikit-learn and networkx take seconds to import: load them only when an analysis runs, so
    # `behaviordbg --help`, `run` and the pytest plugin start fast.
    from ..analysis.cluster import cluster_answers
    from ..analysis.graph import distributions, find_contradictions

    claims: dict[str, Claim] = {c.id: c for s in suites for c in s.claims}
    answers = list(store.iter_answers(run_id))
    if not answers:
        raise BehaviordbgError(
            f"run {run_id} has no answers to analyze",
            hint=f"finish it first: behaviordbg run --resume {run_id}",
        )
    # Open claims are answered with values, not stances: they skip the stance judges, the answer
    # clusters and the stance kinds, and get value modes and value contradictions instead.
    open_answers = [a for a in answers if a.framing == "open"]
    answers = [a for a in answers if a.framing != "open"]
    setting = opts.judge_setting
    vplan = judging.plan_for(opts) if opts.verify else None  # a bad --verify-judge fails first
    analysis_id = store.start_analysis(run_id, setting)
    if stored_only:
        judged_stances, judged = store.get_stances(run_id, setting), 0
    else:
        judged_stances, judged = await judging.judge_missing(
            store, run_id, answers, claims, opts, setting, progress or NullProgress(),
            batch_size=JUDGE_BATCH)
    manifest = run_manifest(run)
    from ..analysis.tool_calls import call_counts, call_stances

    # an act answer that called a tool providing the claim did it: the call, not the text, decides
    # (people's labels still have the last word)
    judged_stances = {**judged_stances, **call_stances(answers, claims, manifest)}
    human = {rid: HumanLabel(lab["stance"], lab["author"], lab["note"])
             for rid, lab in store.labels_for_answers(answers).items()}
    stances, changed = apply_labels(judged_stances, human)
    judge_errors = sum(1 for a in answers if stances[a.response_id].label == "error")
    from .turn_judging import judge_turns  # pushback follow-ups: they feed only `caves`

    turns, turn_stances = await judge_turns(store, run_id, answers, stances, claims, opts,
                                            setting, progress or NullProgress())
    vectors = None
    if opts.embeddings:
        from .embeddings import embed

        vectors = await embed(answers, run, opts)
    clusters = cluster_answers(answers, stances, vectors=vectors)
    dists = distributions(answers, stances)
    contradictions = find_contradictions(suites, manifest, answers, stances,
                                         turns=turns, turn_stances=turn_stances)
    # run --clarify: unclear answers settled by a decisive forced yes/no reply add candidates only
    from . import clarify as clarify_stage

    replies = store.clarify_replies(run_id)
    clarify_info: dict[str, int] = {}
    if replies:
        clarified, clarify_info = clarify_stage.apply(answers, stances, replies, keep=human)
        if clarify_info["clarified"]:
            contradictions = clarify_stage.add_candidates(
                contradictions, find_contradictions(suites, manifest, answers, clarified,
                                                    turns=turns, turn_stances=turn_stances),
                answers, replies)
        clarify_info["candidates"] = sum(
            any(e.judge == "clarify" for e in c.evidence) for c in contradictions)
    pushback = _cave_counts(answers, stances, turns, turn_stances) if turns else {}
    removed, created = _label_effect(suites, run, answers, judged_stances, contradictions, claims,
                                     changed, turns=turns, turn_stances=turn_stances)
    verification: dict[str, Any] = {}
    if vplan is not None:
        before = {b.fingerprint: b.candidate for b in to_bugs(contradictions, claims)}
        if stored_only:  # the second judge's stored readings only; an unread answer confirms nothing
            contradictions = verify_apply(vplan, contradictions,
                                          store.get_stances(run_id, f"verify:{vplan.setting}"))
            verification = {"judge": vplan.setting, "stored_only": True}
        else:
            contradictions, verification = await judging.verify_with(
                store, run_id, contradictions, claims, vplan, opts)
    # value contradictions are not re-read by --verify: their evidence is values, not stances
    vals = await values_stage.analyse_values(store, run_id, open_answers, claims,
                                             run_manifest(run), opts, stored_only=stored_only)
    contradictions = sorted([*contradictions, *vals.contradictions],
                            key=lambda c: (-c.severity_score, c.kind, c.claims, c.witness))
    found = to_bugs(contradictions, claims)
    bugs = [b for b in found if not b.candidate]
    candidates = [b for b in found if b.candidate]
    if vplan is not None:
        verification.update(
            confirmed=len(bugs), demoted=sum(not before.get(b.fingerprint, True) for b in candidates),
            promoted=sum(before.get(b.fingerprint, False) for b in bugs),
            unconfirmed=sum(before.get(b.fingerprint, False) for b in candidates))
    mixed = sum(c.mixed for c in clusters)
    labels_info: dict[str, Any] = {"applied": len(human), "changed": len(changed),
                                   "created": created}
    summary = {
        "judge": setting, "answers": len(answers) + len(open_answers), "judged": judged,
        "judge_errors": judge_errors,
        "contradictions": len(contradictions), "bugs": len(bugs), "candidates": len(candidates),
        "mixed_clusters": mixed, "embeddings": bool(vectors), "turns": len(turns),
        "pushback": pushback,
        "verification": verification, "open_answers": len(open_answers),
        "value_modes": len(vals.modes), "value_llm_reads": vals.asked_llm,
        "labels": labels_info, "clarify": clarify_info,
    }
    # One transaction: readers (and `bugs latest`, `export latest`) see this analysis whole or
    # not at all, even if the process is killed mid-save.
    with store.transaction():
        store.save_analysis(
            analysis_id, clusters=clusters, distributions=dists,
            contradictions=[(fingerprint(c), c) for c in contradictions], summary=summary,
        )
        store.save_value_modes(analysis_id, vals.modes)
        store.save_candidates(candidates, run_id=run_id, analysis_id=analysis_id,
                              model=run["model"])
        lifecycle = triage.record_bugs(
            store, run_id=run_id, analysis_id=analysis_id, model=run["model"], bugs=bugs,
            distributions=dists, candidates=candidates,
        )
        if human:
            supported = {b.fingerprint for b in bugs if any(is_label(e.judge) for e in b.evidence)}
            outcome = triage.record_label_outcome(store, run_id=run_id, removed=removed,
                                                  restored=sorted(supported | set(created)),
                                                  changed=changed)
            labels_info.update(outcome,
                               suppressed=sorted(set(removed) - set(outcome["closed"])))
            store.set_analysis_summary(analysis_id, summary)
        _fault_point("analysis-save")
    stored = store.bugs_for_analysis(analysis_id)
    return AnalysisSummary(
        run_id=run_id, analysis_id=analysis_id, judge=setting, answers=len(answers) + len(open_answers),
        judged=judged, judge_errors=judge_errors, contradictions=len(contradictions),
        bugs=stored, elapsed_s=round(time.perf_counter() - t0, 3), lifecycle=dict(lifecycle),
        model=run["model"], clusters=len(clusters), mixed_clusters=mixed,
        uncertain_bugs=sum(not b.certain for b in stored),
        candidates=store.candidates_for_analysis(analysis_id), verification=verification,
        open_answers=len(open_answers), value_modes=len(vals.modes),
        turns=len(turns), pushback=pushback,
        labels=labels_info, clarify=clarify_info,
        out_of_reach=out_of_reach(int(run["params"].get("samples") or 1)),
        tool_calls=call_counts(answers, manifest, ("direct", "negated", "act")
                               if run["params"].get("tools_on_questions") else ("act",)),
    )


def _cave_counts(answers: list[Answer], stances: dict[str, Stance], turns: list[Turn],
                 turn_stances: dict[str, Stance]) -> dict[str, dict[str, int]]:
    """Per claim: challenged conversations (opposed / agreeing), flips and hedges."""
    from ..analysis.caves import cave_counts, conversations

    by_claim: dict[str, list[Any]] = {}
    for conv in conversations(answers, stances, turns, turn_stances):
        by_claim.setdefault(conv.first.claim_id, []).append(conv)
    return {claim: cave_counts(convs) for claim, convs in sorted(by_claim.items())}


def _label_effect(
    suites: list[Suite], run: Run, answers: list[Answer], judged: dict[str, Stance],
    contradictions: list[Contradiction], claims: dict[str, Claim],
    changed: dict[str, tuple[str, str]], *, turns: list[Turn] | None = None,
    turn_stances: dict[str, Stance] | None = None,
) -> tuple[dict[str, list[str]], list[str]]:
    """Which bugs the labels removed (with the relabelled answers among their evidence) and
    which they created: the bugs of the judge's verdicts alone against those with the labels
    (before any --verify pass, on both sides). Nothing to compare when no label changed a
    verdict."""
    if not changed:
        return {}, []
    from ..analysis.graph import find_contradictions

    before = {b.fingerprint: [e.response_id for e in b.evidence]
              for b in to_bugs(find_contradictions(suites, run_manifest(run), answers, judged,
                                                   turns=turns or (), turn_stances=turn_stances),
                               claims) if not b.candidate}
    after = {b.fingerprint for b in to_bugs(contradictions, claims) if not b.candidate}
    return label_outcome(before, after, changed)


def _fault_point(name: str) -> None:
    """Fault injection for the atomicity test: with BEHAVIORDBG_FAULT="<name>:<file>" the process
    writes <file> and hangs here, so a test can SIGKILL it at exactly this point. Unset (always,
    outside that test) it does nothing."""
    spec = os.environ.get("BEHAVIORDBG_FAULT", "")
    point, _, marker = spec.partition(":")
    if point != name or not marker:
        return
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(str(os.getpid()))
    time.sleep(3600)


def run_state(store: Store, run_id: str) -> dict[str, Any]:
    """A run's status and answer counts, for commands about to use it, with `partial`/`note` when
    it is not complete (interrupted, failed, or queries without an answer): its analysis must say
    so. A run that has no planned queries (killed while being created) is an error whose fix is a
    new run, not a resume."""
    run = store.get_run(run_id)
    counts = store.counts(run["id"])
    if counts["queries"] == 0:
        raise BehaviordbgError(
            f"run {run['id']} has no planned queries: it was stopped while it was being created,"
            " before anything was asked",
            hint="start a new run (behaviordbg run with the same options); this one cannot be"
            " resumed",
        )
    unanswered = counts["queries"] - counts["responses"]
    note = ""
    if run["status"] != "complete" or unanswered:
        finish = f"behaviordbg run --resume {run['id']}"
        if run["status"] == "awaiting_batch":  # its queries went out as a batch (pipeline/batch)
            finish += " --batch-results RESULTS.jsonl (or --resume alone for a --batch job)"
        note = (f"run {run['id']} is partial ({run['status']}): {unanswered} of"
                f" {counts['queries']} queries have no answer, so its bugs rest on the"
                f" {counts['responses']} answered; finish it first: {finish}")
    return {"run_id": run["id"], "status": run["status"], **counts, "unanswered": unanswered,
            "partial": bool(note), "note": note}
