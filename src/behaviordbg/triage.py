"""Bug lifecycle across runs, triage actions, and judge feedback stats.

A bug is identified by its fingerprint (computed by the analysis stage), so the same bug found in a
later run or on another model lands on the same row of the `bugs` table. This module decides what a
new analysis means for each known bug (new, persisting, regression, not reproduced) and records it
in `bug_history`; whether a bug that was not reproduced is really gone is a test on the counts of
behaviordbg.diff.

Candidates (contradictions on weak evidence, behaviordbg.analysis.evidence) never enter the
lifecycle: they create no bug, raise no regression and do not count as persisting. A known bug
that a later analysis finds only as a candidate is "not reproduced" with the verdict "candidate"
(never "gone": the contradiction is still there, only not shown solidly enough); its status does
not change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from .analysis.stats import wilson
from .diff import ALPHA, MIN_DECISIVE_PER_CELL, fisher_p, paired_counts
from .errors import BehaviordbgError, StoreError
from .store import BugRecord, HistoryEntry, Store, now_iso
from .store.records import PastOccurrence
from .types import BUG_STATUSES, Bug, StanceDistribution, to_dict


class TriageError(BehaviordbgError):
    """Bad triage input (unknown status, unknown bug, unusable run)."""


def record_bugs(
    store: Store,
    *,
    run_id: str,
    analysis_id: str,
    model: str,
    bugs: Sequence[Bug],
    distributions: Sequence[StanceDistribution],
    candidates: Sequence[Bug] = (),
) -> dict[str, int]:
    """Record what an analysis found and what it means for every known bug.

    New fingerprints get a "seen" history entry; a bug marked fixed that shows up again reopens as a
    regression (status new, regression=1); known bugs whose claims were all probed here but that
    were not found get "not_reproduced", split into "gone" (enough samples and significantly fewer
    contradicting answers than last time) and "not sampled enough"; known bugs found here only as
    `candidates` get "not_reproduced" with the verdict "candidate" and the reason.
    """
    counts = {"new": 0, "regressions": 0, "persisting": 0, "not_reproduced_gone": 0,
              "not_reproduced_undersampled": 0, "not_reproduced_candidate": 0}
    held = {b.fingerprint: b for b in candidates}
    found = set()
    run_created = store.get_run(run_id)["created_at"]
    for bug in bugs:
        found.add(bug.fingerprint)
        before = store.find_bug(bug.fingerprint)
        created = store.save_bug_occurrence(bug, run_id=run_id, analysis_id=analysis_id, model=model)
        if created or before is None:
            counts["new"] += 1
            store.add_bug_history(bug.fingerprint, "seen", None, run_id, run_id=run_id,
                                  note=f"first seen on {model}", actor="behaviordbg")
        elif before["status"] == "fixed" and run_created > store.fixed_at(bug.fingerprint):
            # only a run made after the fix can show a regression; re-analysing an older run cannot
            counts["regressions"] += 1
            store.update_bug(bug.fingerprint, status="new", regression=1)
            store.add_bug_history(bug.fingerprint, "regression", 0, 1, run_id=run_id,
                                  note=f"marked fixed, reproduced again on {model}",
                                  actor="behaviordbg")
            store.add_bug_history(bug.fingerprint, "status", "fixed", "new", run_id=run_id,
                                  note="reopened as a regression", actor="behaviordbg")
        else:
            counts["persisting"] += 1
    probed = {d.claim_id for d in distributions if d.total > 0}
    for rec in store.bug_records():
        fp = rec["fingerprint"]
        if fp in found:
            continue
        if fp in held:
            if not store.has_history(fp, "not_reproduced", run_id):
                counts["not_reproduced_candidate"] += 1
                prev = store.previous_occurrence(fp, run_id)
                store.add_bug_history(fp, "not_reproduced", prev["run_id"] if prev else None,
                                      "candidate", note=f"only a candidate here: "
                                      f"{held[fp].evidence_note}"[:500], run_id=run_id,
                                      actor="behaviordbg")
            continue
        if not set(rec["claims"]) <= probed:
            continue
        prev = store.previous_occurrence(fp, run_id)
        if prev is None or store.has_history(fp, "not_reproduced", run_id):
            continue
        gone, note = _not_reproduced_verdict(store, prev["bug"], prev, analysis_id,
                                             distributions)
        counts["not_reproduced_gone" if gone else "not_reproduced_undersampled"] += 1
        store.add_bug_history(fp, "not_reproduced", prev["run_id"],
                              "gone" if gone else "not sampled enough", note=note, run_id=run_id,
                              actor="behaviordbg")
    return counts


def _not_reproduced_verdict(
    store: Store, old_bug: Bug, prev: PastOccurrence, analysis_id: str,
    new_dists: Sequence[StanceDistribution],
) -> tuple[bool, str]:
    """(gone?, the reason in words) for a known bug that this run did not reproduce."""
    old, new = paired_counts(
        store, old_bug, (prev["analysis_id"], store.analysis_distributions(prev["analysis_id"])),
        (analysis_id, new_dists),
    )
    lo, hi = wilson(new.contradicting, new.decisive)
    where = (f"{new.contradicting}/{new.decisive} contradicting now (95% CI {lo:.2f}-{hi:.2f}),"
             f" smallest cell {new.min_cell_decisive} decisive")
    if not new.enough:
        return False, (f"{where}; need >= {MIN_DECISIVE_PER_CELL} decisive answers in every"
                       " involved claim/framing: sample more (--samples) to decide")
    if old.decisive:
        p = fisher_p(old, new, alternative="greater")
        was = f"was {old.contradicting}/{old.decisive} in {prev['run_id']}"
        if p is not None and p < ALPHA:
            return True, f"{where}; {was}; Fisher p={p:.3g}"
        return False, f"{where}; {was}; Fisher p={p:.3g}: not a significant drop"
    if hi < old_bug.rate:  # no stored distributions for the old run: compare with its rate
        return True, f"{where}; interval below the old rate {old_bug.rate:.2f}"
    return False, f"{where}; interval includes the old rate {old_bug.rate:.2f}"


def triage(
    store: Store,
    fingerprint: str,
    *,
    status: str | None = None,
    note: str | None = None,
    assignee: str | None = None,
    labels: Sequence[str] | None = None,
    actor: str = "",
) -> dict[str, Any]:
    """Change a bug's triage fields (fingerprint prefix accepted); every change goes to history."""
    if status is not None and status not in BUG_STATUSES:
        raise TriageError(
            f"unknown status {status!r}", f"use one of: {', '.join(BUG_STATUSES)}"
        )
    # One transaction: the read of the notes, the append and the write cannot interleave with
    # another triage of the same bug (eight parallel notes kept three before), and the history
    # and the bug row change together or not at all.
    with store.transaction():
        return _triage_in_transaction(store, fingerprint, status=status, note=note,
                                      assignee=assignee, labels=labels, actor=actor)


def _triage_in_transaction(
    store: Store, fingerprint: str, *, status: str | None, note: str | None,
    assignee: str | None, labels: Sequence[str] | None, actor: str,
) -> dict[str, Any]:
    bug = _known_bug(store, fingerprint)
    fp = bug["fingerprint"]
    changes: dict[str, Any] = {}
    if status is not None and status != bug["status"]:
        changes["status"] = status
        store.add_bug_history(fp, "status", bug["status"], status, note=note or "", actor=actor)
    if assignee is not None and assignee != (bug["assignee"] or ""):
        changes["assignee"] = assignee or None
        store.add_bug_history(fp, "assignee", bug["assignee"], assignee, actor=actor)
    if labels is not None:
        new_labels = sorted({lab.strip() for lab in labels if lab.strip()})
        if new_labels != sorted(bug["labels"]):
            changes["labels"] = new_labels
            store.add_bug_history(fp, "labels", ",".join(bug["labels"]), ",".join(new_labels),
                                  actor=actor)
    if note:
        stamp = f"[{now_iso()}{' ' + actor if actor else ''}] {note}"
        changes["notes"] = (bug["notes"] + "\n" if bug["notes"] else "") + stamp
        if "status" not in changes:  # a status change already carries the note
            store.add_bug_history(fp, "note", None, None, note=note, actor=actor)
    if changes:
        store.update_bug(fp, **changes)
    return {**store.get_bug(fp), "changed": sorted(changes)}


def list_bugs(store: Store, run_id: str, status: str | None = None) -> list[Bug]:
    """Bugs of a run's newest analysis, with their current status, optionally filtered by status."""
    if status is not None and status not in BUG_STATUSES:
        raise TriageError(f"unknown status {status!r}", f"use one of: {', '.join(BUG_STATUSES)}")
    analysis = store.require_analysis(run_id)
    bugs = store.bugs_for_analysis(analysis["id"])
    return [b for b in bugs if status is None or b.status == status]


def bugs_report(
    store: Store, run_id: str, *, status: str | None = None, candidates: bool = False,
    survives_prompting: bool = False,
) -> dict[str, Any]:
    """A run's bugs (newest analysis) with triage fields, as plain data for `behaviordbg bugs`.

    Every row says whether it is a candidate; candidates (held back for weak evidence) are
    listed only when asked for, after the bugs, but always counted (`candidates_held_back`).
    A run with a prompted twin gives every row its verdict (`prompting`, behaviordbg.prompting;
    None elsewhere); `survives_prompting` keeps only the bugs a prompt did not fix."""
    from .prompting import STILL_THERE, require_comparison, verdict_fields

    if survives_prompting:
        require_comparison(store, run_id)
    comparison, verdicts = verdict_fields(store, run_id)
    analysis = store.require_analysis(run_id)
    rows = []
    for bug in list_bugs(store, analysis["run_id"], status):
        rec = store.get_bug(bug.fingerprint)
        rows.append({**to_dict(bug), "assignee": rec["assignee"], "labels": rec["labels"],
                     "regression": bool(rec["regression"]), "first_seen_run": rec["first_seen_run"]})
    held = store.candidates_for_analysis(analysis["id"])
    if candidates:
        for bug in held:
            if status is None or bug.status == status:
                rows.append({**to_dict(bug), "assignee": None, "labels": [], "regression": False,
                             "first_seen_run": None})
    for row in rows:
        row["prompting"] = verdicts.get(row["fingerprint"])
    if survives_prompting:
        rows = [r for r in rows if r["prompting"] and r["prompting"]["verdict"] in STILL_THERE]
    return {"run_id": analysis["run_id"], "analysis_id": analysis["id"], "judge": analysis["judge"],
            "status_filter": status, "bugs": rows, "candidates_held_back": len(held),
            "verification": analysis["summary"].get("verification") or {},
            "prompted_baseline": comparison.to_dict() if comparison is not None else None,
            "survives_prompting_filter": survives_prompting}


def bug_history(store: Store, fingerprint: str) -> dict[str, Any]:
    """A bug's triage record and its full history (`behaviordbg history`)."""
    bug = _known_bug(store, fingerprint)
    history: list[HistoryEntry] = store.bug_history(bug["fingerprint"])
    return {"bug": bug, "history": history}


def _known_bug(store: Store, fingerprint: str) -> BugRecord:
    """The bug a fingerprint (or unique prefix) names, or a TriageError that says where to look."""
    try:
        return store.get_bug(fingerprint)
    except StoreError as err:
        hint = ("list bugs with `behaviordbg bugs latest`" if store.list_runs(1) else
                "no runs yet: start with `behaviordbg check` (it probes the model and finds the bugs)")
        raise TriageError(str(err), hint) from err


# --------------------------------------------------------------------------- judge feedback


def judge_stats(store: Store) -> dict[str, Any]:
    """Precision per judge and per contradiction kind, from bugs triaged confirmed/false_positive.

    A bug counts for every judge setting whose analyses found it. Precision comes with a Wilson
    interval, since a handful of triaged bugs says little.
    """
    rows = store.triaged_bugs()
    per_judge: dict[str, dict[str, int]] = defaultdict(lambda: {"confirmed": 0, "false_positive": 0})
    per_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"confirmed": 0, "false_positive": 0})
    per_pair: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"confirmed": 0, "false_positive": 0})
    seen_kind: set[str] = set()
    for r in rows:
        per_judge[r["judge"]][r["status"]] += 1
        per_pair[(r["judge"], r["kind"])][r["status"]] += 1
        if r["fingerprint"] not in seen_kind:
            seen_kind.add(r["fingerprint"])
            per_kind[r["kind"]][r["status"]] += 1
    totals = store.bug_status_counts()
    return {
        "by_judge": [_precision_row({"judge": j}, c) for j, c in sorted(per_judge.items())],
        "by_kind": [_precision_row({"kind": k}, c) for k, c in sorted(per_kind.items())],
        "by_judge_kind": [_precision_row({"judge": j, "kind": k}, c)
                          for (j, k), c in sorted(per_pair.items())],
        "bugs_by_status": {s: int(totals.get(s, 0)) for s in BUG_STATUSES},
    }


def _precision_row(key: dict[str, str], c: dict[str, int]) -> dict[str, Any]:
    n = c["confirmed"] + c["false_positive"]
    lo, hi = wilson(c["confirmed"], n)
    return {**key, "confirmed": c["confirmed"], "false_positive": c["false_positive"],
            "triaged": n, "precision": c["confirmed"] / n if n else None,
            "low": lo, "high": hi}



# --------------------------------------------------------------------------- labels


RELABELLED = "evidence relabelled"
"""The reason a bug closes when people's stance labels take away its evidence (its history)."""


def record_label_outcome(
    store: Store, *, run_id: str, removed: Mapping[str, Sequence[str]], restored: Sequence[str],
    changed: Mapping[str, tuple[str, str]],
) -> dict[str, list[str]]:
    """What stance labels mean for known bugs (behaviordbg.analysis.labels.label_outcome).

    A bug (new or confirmed) that the judge's verdicts give but the labels take away is closed as
    false_positive, with "evidence relabelled" and the answers in its history; the next run that
    meets the same answers applies the same labels, so it is not found and stays closed. A bug the
    labels create is new (record_bugs reported it); one the labels had closed and now restore
    (a label changed back) reopens. Triaged states a person chose (wont_fix, fixed, a
    false_positive not set by labels) are left alone.

    `restored`: bugs found now that the labels create or support (a labelled answer among their
    evidence): one that labels had closed reopens, since a person's reading now shows it. A bug
    the labels closed that shows up again only on new, unlabelled answers stays closed, like any
    false_positive."""
    closed: list[str] = []
    reopened: list[str] = []
    for fp, rids in removed.items():
        rec = store.find_bug(fp)
        if rec is None or rec["status"] not in ("new", "confirmed"):
            continue
        detail = "; ".join(f"answer {rid}: judge read {changed[rid][0]}, labelled {changed[rid][1]}"
                           for rid in rids if rid in changed)
        note = f"{RELABELLED}: " + (detail or "relabelled answers change its stance counts")
        store.update_bug(fp, status="false_positive")
        store.add_bug_history(fp, "status", rec["status"], "false_positive", note=note[:500],
                              run_id=run_id, actor="labels")
        closed.append(fp)
    for fp in restored:
        rec = store.find_bug(fp)
        if rec is None or rec["status"] != "false_positive":
            continue
        last = [h for h in store.bug_history(fp) if h["field"] == "status"][-1:]
        if last and last[0]["note"].startswith(RELABELLED):
            store.update_bug(fp, status="new")
            store.add_bug_history(fp, "status", "false_positive", "new", run_id=run_id,
                                  note="labels restore its evidence", actor="labels")
            reopened.append(fp)
    return {"closed": closed, "reopened": reopened}


def label_stats(store: Store) -> dict[str, Any]:
    """Each judge setting's accuracy and confusion matrix against people's stance labels,
    overall, per framing and per claim, with Wilson intervals (behaviordbg.analysis.labels).
    One row per labelled answer (by the matching rule) and judge setting: an answer asked again
    in later runs counts once, with the judge's newest verdict."""
    from .analysis.labels import judge_accuracy

    rows = store.labelled_verdicts()
    return {"labelled_answers": len(store.current_labels()),
            "judges": judge_accuracy(rows)}
