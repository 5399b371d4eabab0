"""Bug lifecycle across runs, run diffs with a significance test, and judge feedback stats.

A bug is identified by its fingerprint (computed by the analysis stage), so the same bug found in a
later run or on another model lands on the same row of the `bugs` table. This module decides what a
new analysis means for each known bug (new, persisting, regression, not reproduced) and records it in
`bug_history`, and it compares runs without claiming "resolved" when the evidence cannot support it.

Contradiction counts: a bug's evidence names the (claim, framing) cells it rests on. In any run, the
stance distributions of those cells give how many decisive answers side with the contradiction
("contradicting") and how many do not ("consistent"); an unstable bug uses the counts of its own
prompts instead (from the stored stances), since pooling a framing would dilute it. Where the
evidence shows both affirm and deny on a claim (unstable, paraphrase, say_do), the minority stance
is the contradicting one; where it shows one stance only (rule, manifest), that stance is. These
counts feed Fisher's exact test.

Candidates (contradictions on weak evidence, behaviordbg.evidence) never enter the lifecycle: they
create no bug, raise no regression and do not count as persisting. A known bug that a later
analysis finds only as a candidate is "not reproduced" with the verdict "candidate" (never "gone":
the contradiction is still there, only not shown solidly enough); its status does not change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ._stats import wilson
from .errors import BehaviordbgError, StoreError
from .store import Store, now_iso
from .store.records import PastOccurrence
from .types import BUG_STATUSES, Bug, StanceDistribution

MIN_DECISIVE_PER_CELL = 5
"""Decisive (affirm + deny) answers needed in every involved claim/framing before "gone" is said."""

ALPHA = 0.05
"""Significance level for "gone", "resolved" and "changed"."""


class TriageError(BehaviordbgError):
    """Bad triage input (unknown status, unknown bug, unusable run)."""


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Counts:
    """Decisive answers in a bug's cells that side with the contradiction, and that do not."""

    contradicting: int = 0
    consistent: int = 0
    min_cell_decisive: int = 0  # the smallest decisive count over the involved cells
    cells: int = 0  # involved cells found in the run's distributions
    missing_cells: int = 0  # involved cells with no distribution in the run (not probed)

    @property
    def decisive(self) -> int:
        return self.contradicting + self.consistent

    @property
    def rate(self) -> float | None:
        return self.contradicting / self.decisive if self.decisive else None

    @property
    def enough(self) -> bool:
        """Every involved cell was probed, each with enough decisive answers."""
        return self.cells > 0 and self.missing_cells == 0 and (
            self.min_cell_decisive >= MIN_DECISIVE_PER_CELL
        )


def fisher_p(a: Counts, b: Counts, alternative: str = "two-sided") -> float | None:
    """Fisher's exact test on [[contradicting, consistent]] of two runs; None without data."""
    if a.decisive == 0 or b.decisive == 0:
        return None
    from scipy.stats import fisher_exact  # lazy: scipy costs a second at every CLI start

    table = [[a.contradicting, a.consistent], [b.contradicting, b.consistent]]
    return float(fisher_exact(table, alternative=alternative).pvalue)


PromptCounts = dict[tuple[str, str, str], tuple[int, int]]
"""(claim, framing, prompt) -> (affirm, deny): decisive answers per prompt in one analysis."""


def _evidence_cells(bug: Bug, per_prompt: bool) -> dict[str, dict[tuple[str, ...], set[str]]]:
    """claim -> cell -> decisive stances the evidence shows there.

    A cell is (framing,) or, for unstable bugs with per-prompt counts, (framing, prompt): an
    unstable bug is about samples of one prompt, and pooling its framing would dilute the rate.
    """
    out: dict[str, dict[tuple[str, ...], set[str]]] = defaultdict(lambda: defaultdict(set))
    for ev in bug.evidence:
        cell = (ev.framing or "all", ev.prompt) if per_prompt else (ev.framing or "all",)
        labels = out[ev.claim_id][cell]
        if ev.stance in ("affirm", "deny"):
            labels.add(ev.stance)
    if not out:  # no evidence recorded: fall back to the claims, pooled over framings
        for claim in bug.claims:
            out[claim][("all",)]
    return out


def bug_counts(
    bug: Bug,
    distributions: Iterable[StanceDistribution],
    prompt_counts: PromptCounts | None = None,
) -> Counts:
    """Contradicting vs consistent decisive answers in `bug`'s cells, in one run.

    Cells come from the stance distributions (claim x framing); for unstable bugs, from per-prompt
    counts when the caller has them (see `prompt_counts`).
    """
    per_prompt = bug.kind == "unstable" and bool(prompt_counts)
    dist = {(d.claim_id, d.framing): (d.affirm, d.deny) for d in distributions}
    contradicting = consistent = cells = missing = 0
    min_dec: int | None = None
    for claim, claim_cells in _evidence_cells(bug, per_prompt).items():
        affirm = deny = 0
        labels: set[str] = set()
        for cell, shown in claim_cells.items():
            if per_prompt:
                found = prompt_counts.get((claim, *cell)) if prompt_counts else None
            else:
                found = dist.get((claim, cell[0])) or (
                    dist.get((claim, "all")) if cell[0] != "all" else None)
            if found is None:
                missing += 1
                continue
            cells += 1
            affirm += found[0]
            deny += found[1]
            labels |= shown
            min_dec = sum(found) if min_dec is None else min(min_dec, sum(found))
        if len(labels) == 1:  # one-sided evidence (rule, manifest): that stance is the problem
            bad = affirm if "affirm" in labels else deny
            good = deny if "affirm" in labels else affirm
        else:  # both sides shown (or none): the minority disagrees with the model's own majority
            bad, good = min(affirm, deny), max(affirm, deny)
        contradicting += bad
        consistent += good
    return Counts(contradicting, consistent, min_dec or 0, cells, missing)


def prompt_counts(store: Store, analysis_id: str) -> PromptCounts:
    """Decisive stances per (claim, framing, prompt) under the analysis's judge setting.

    Empty when the run's answers or stances are not in this database (then callers fall back to
    the stored distributions).
    """
    return store.prompt_stance_counts(analysis_id)


def paired_counts(
    store: Store,
    bug: Bug,
    side_a: tuple[str, Sequence[StanceDistribution]],
    side_b: tuple[str, Sequence[StanceDistribution]],
    cache: dict[str, PromptCounts] | None = None,
) -> tuple[Counts, Counts]:
    """A bug's counts in two analyses (id, distributions), at the same cell granularity in both."""
    cache = {} if cache is None else cache
    pcs = []
    for aid, _ in (side_a, side_b):
        if bug.kind == "unstable" and aid not in cache:
            cache[aid] = prompt_counts(store, aid)
        pcs.append(cache.get(aid) or {})
    use = all(pcs)  # per-prompt only when both sides have it
    return (bug_counts(bug, side_a[1], pcs[0] if use else None),
            bug_counts(bug, side_b[1], pcs[1] if use else None))


# --------------------------------------------------------------------------- lifecycle


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
    try:
        bug = store.get_bug(fingerprint)
    except StoreError as err:
        raise TriageError(str(err), "list bugs with `behaviordbg bugs latest`") from err
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


# --------------------------------------------------------------------------- diff


@dataclass(frozen=True)
class BugChange:
    """One bug in a run diff, with rates and counts from both runs."""

    fingerprint: str
    kind: str
    title: str
    change: str  # new | resolved | not_reproduced | persisting | changed
    status: str  # triage status now
    severity_a: str | None
    severity_b: str | None
    rate_a: float | None  # contradicting share of decisive answers in the bug's cells
    rate_b: float | None
    counts_a: tuple[int, int]  # (contradicting, consistent)
    counts_b: tuple[int, int]
    p_value: float | None  # Fisher's exact test, two-sided, a vs b
    note: str = ""


@dataclass(frozen=True)
class RunDiff:
    """What changed between two runs, with "resolved" only where the evidence supports it."""

    run_a: str
    run_b: str
    analysis_a: str
    analysis_b: str
    new: tuple[BugChange, ...] = ()
    resolved: tuple[BugChange, ...] = ()
    not_reproduced: tuple[BugChange, ...] = ()  # gone from run b, but inconclusive
    persisting: tuple[BugChange, ...] = ()
    changed: tuple[BugChange, ...] = ()  # persisting with a significant change in rate/severity
    alpha: float = ALPHA
    min_decisive_per_cell: int = MIN_DECISIVE_PER_CELL
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["summary"] = {k: len(d[k]) for k in
                        ("new", "resolved", "not_reproduced", "persisting", "changed")}
        return d


def diff_runs(store: Store, run_a: str, run_b: str) -> RunDiff:
    """Compare the newest analyses of two runs bug by bug (run_a is the baseline)."""
    an_a, an_b = store.require_analysis(run_a), store.require_analysis(run_b)
    bugs_a = {b.fingerprint: b for b in store.bugs_for_analysis(an_a["id"])}
    bugs_b = {b.fingerprint: b for b in store.bugs_for_analysis(an_b["id"])}
    cands_a = {b.fingerprint: b for b in store.candidates_for_analysis(an_a["id"])}
    cands_b = {b.fingerprint: b for b in store.candidates_for_analysis(an_b["id"])}
    side_a = (an_a["id"], store.analysis_distributions(an_a["id"]))
    side_b = (an_b["id"], store.analysis_distributions(an_b["id"]))
    cache: dict[str, PromptCounts] = {}
    groups: dict[str, list[BugChange]] = defaultdict(list)
    for fp in sorted(set(bugs_a) | set(bugs_b)):
        ref = bugs_a.get(fp) or bugs_b[fp]
        ca, cb = paired_counts(store, ref, side_a, side_b, cache)
        p = fisher_p(ca, cb)
        a, b = bugs_a.get(fp), bugs_b.get(fp)
        if a is None:
            change, note = "new", "found in run b only" + (
                " (a candidate in run a)" if fp in cands_a else "")
        elif b is None and fp in cands_b:  # still there, only on weak evidence: never "resolved"
            change, note = "not_reproduced", f"only a candidate in run b: {cands_b[fp].evidence_note}"
        elif b is None:
            p_drop = fisher_p(ca, cb, alternative="greater")
            if cb.enough and p_drop is not None and p_drop < ALPHA:
                change, note = "resolved", f"significant drop (one-sided p={p_drop:.3g})"
            else:
                why = "too few samples" if not cb.enough else "drop not significant"
                change, note = "not_reproduced", f"not reproduced (inconclusive: {why})"
        elif a.severity != b.severity and p is not None and p < ALPHA:
            change, note = "changed", f"severity {a.severity} -> {b.severity}"
        else:
            change, note = "persisting", ""
            if a.severity != b.severity:
                note = f"severity {a.severity} -> {b.severity}, not significant"
        status = (b or a).status  # type: ignore[union-attr]
        groups[change].append(BugChange(
            fingerprint=fp, kind=ref.kind, title=ref.title, change=change, status=status,
            severity_a=a.severity if a else None, severity_b=b.severity if b else None,
            rate_a=ca.rate, rate_b=cb.rate, counts_a=(ca.contradicting, ca.consistent),
            counts_b=(cb.contradicting, cb.consistent), p_value=p, note=note,
        ))
    return RunDiff(
        run_a=an_a["run_id"], run_b=an_b["run_id"], analysis_a=an_a["id"], analysis_b=an_b["id"],
        **{k: tuple(v) for k, v in groups.items()},
        meta={"candidates_a": len(cands_a), "candidates_b": len(cands_b)},
    )


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

