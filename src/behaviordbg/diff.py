"""Comparing runs bug by bug, without claiming "resolved" when the evidence cannot support it.

Contradiction counts: a bug's evidence names the (claim, framing) cells it rests on. In any run, the
stance distributions of those cells give how many decisive answers side with the contradiction
("contradicting") and how many do not ("consistent"); an unstable bug uses the counts of its own
prompts instead (from the stored stances), since pooling a framing would dilute it. Where the
evidence shows both affirm and deny on a claim (unstable, paraphrase, say_do), the minority stance
is the contradicting one; where it shows one stance only (rule, manifest), that stance is. These
counts feed Fisher's exact test, here (`diff_runs`) and in the lifecycle (behaviordbg.triage: is a
bug that a new run did not reproduce really gone?).

A candidate (a contradiction on weak evidence, behaviordbg.analysis.evidence) is never "resolved":
a bug found only as a candidate in run b is "not reproduced", with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .store import Store
from .types import Bug, StanceDistribution

MIN_DECISIVE_PER_CELL = 5
"""Decisive (affirm + deny) answers needed in every involved claim/framing before "gone" is said."""

ALPHA = 0.05
"""Significance level for "gone", "resolved" and "changed"."""


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


def fisher_p(
    a: Counts, b: Counts, alternative: Literal["two-sided", "less", "greater"] = "two-sided"
) -> float | None:
    """Fisher's exact test on [[contradicting, consistent]] of two runs; None without data."""
    if a.decisive == 0 or b.decisive == 0:
        return None
    import numpy as np
    from scipy.stats import fisher_exact  # lazy: scipy costs a second at every CLI start

    table = np.array([[a.contradicting, a.consistent], [b.contradicting, b.consistent]])
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
                found = prompt_counts.get((claim, cell[0], cell[1])) if prompt_counts else None
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
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["summary"] = {k: len(d[k]) for k in
                        ("new", "resolved", "not_reproduced", "persisting", "changed")}
        return d


def diff_runs(store: Store, run_a: str, run_b: str) -> RunDiff:
    """Compare the newest analyses of two runs bug by bug (run_a is the baseline). `warnings`
    says when the comparison cannot mean much (a run against itself)."""
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
    warnings = []
    if an_a["run_id"] == an_b["run_id"]:
        warnings.append(
            f"both sides are run {an_a['run_id']}: every bug persists by definition; compare two"
            " different runs (see `behaviordbg runs`)")
    return RunDiff(
        run_a=an_a["run_id"], run_b=an_b["run_id"], analysis_a=an_a["id"], analysis_b=an_b["id"],
        new=tuple(groups["new"]), resolved=tuple(groups["resolved"]),
        not_reproduced=tuple(groups["not_reproduced"]), persisting=tuple(groups["persisting"]),
        changed=tuple(groups["changed"]),
        meta={"candidates_a": len(cands_a), "candidates_b": len(cands_b)}, warnings=warnings,
    )


def new_bug_records(store: Store, diff: RunDiff) -> dict[str, Bug]:
    """The new bugs of a diff as run b's analysis stored them (evidence and repro included), by
    fingerprint: what a PR comment shows under each new bug."""
    wanted = {c.fingerprint for c in diff.new}
    return {b.fingerprint: b for b in store.bugs_for_analysis(diff.analysis_b)
            if b.fingerprint in wanted}
