"""Fixed by prompting, or needs training? The verdict per bug from a run and its prompted twin.

A run with a prompted baseline (behaviordbg.pipeline.baseline) has a twin that asked the same
queries with the deployment's system prompt put first. Each bug gets one verdict, by the same
counts and the same Fisher's exact test that `diff` uses (behaviordbg.diff):

- `fixed`: fixed by prompting: not a bug under the prompt, and its rate dropped significantly
  (one-sided p < 0.05) with enough answers in every cell it rests on;
- `reduced`: still a bug (or a candidate) under the prompt, but its rate dropped significantly;
- `survives`: survives prompting: still there, no significant drop;
- `introduced`: introduced by prompting: a bug under the prompt only;
- `not_reproduced`: gone under the prompt, but too few answers (or too small a drop) to call it
  fixed: rerun with more --samples.

A bug that survives prompting is where training data (not a prompt change) is the fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .diff import ALPHA, MIN_DECISIVE_PER_CELL, PromptCounts, fisher_p, paired_counts
from .store import Store

Verdict = Literal["fixed", "reduced", "survives", "introduced", "not_reproduced"]
VERDICTS: tuple[Verdict, ...] = ("fixed", "reduced", "survives", "introduced", "not_reproduced")
VERDICT_LABELS: dict[str, str] = {
    "fixed": "fixed by prompting",
    "reduced": "reduced by prompting",
    "survives": "survives prompting",
    "introduced": "introduced by prompting",
    "not_reproduced": "not reproduced under the prompt (inconclusive)",
}
STILL_THERE: frozenset[str] = frozenset({"survives", "reduced"})
"""Verdicts of bugs that still reproduce under the prompt: what `--survives-prompting` keeps,
since a prompt was not enough for them."""


@dataclass(frozen=True)
class PromptVerdict:
    """One bug's verdict, with its rate and counts (contradicting, consistent) in both runs."""

    fingerprint: str
    kind: str
    title: str
    severity: str
    verdict: Verdict
    rate_base: float | None
    rate_prompted: float | None
    counts_base: tuple[int, int]
    counts_prompted: tuple[int, int]
    p_value: float | None  # one-sided Fisher: the rate is lower under the prompt
    note: str = ""

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self.verdict]

    @property
    def survives_prompting(self) -> bool:
        return self.verdict in STILL_THERE

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON, exports and the dashboard (the `prompting` field of a bug)."""
        d = asdict(self)
        d["label"] = self.label
        d["counts_base"], d["counts_prompted"] = list(self.counts_base), list(self.counts_prompted)
        return d

    def describe(self) -> str:
        """One line for a terminal or a pytest failure: the verdict and the rates behind it."""
        def rate(r: float | None, c: tuple[int, int]) -> str:
            return "-" if r is None else f"{r:.0%} ({c[0]}/{c[0] + c[1]})"
        p = "" if self.p_value is None else f", p={self.p_value:.3g}"
        text = (f"{self.label}: rate {rate(self.rate_base, self.counts_base)} as configured ->"
                f" {rate(self.rate_prompted, self.counts_prompted)} under the prompt{p}")
        return text + (f"; {self.note}" if self.note else "")


@dataclass(frozen=True)
class PromptComparison:
    """A run and its prompted twin, bug by bug. `pending` says why there are no verdicts yet
    (a side not analysed); verdicts are then empty."""

    base_run: str
    prompted_run: str
    prompt_sha256: str
    prompt_source: str
    analysis_base: str | None = None
    analysis_prompted: str | None = None
    verdicts: tuple[PromptVerdict, ...] = ()
    pending: str = ""
    alpha: float = ALPHA
    min_decisive_per_cell: int = MIN_DECISIVE_PER_CELL
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def by_fingerprint(self) -> dict[str, PromptVerdict]:
        return {v.fingerprint: v for v in self.verdicts}

    def counts(self) -> dict[str, int]:
        """How many bugs got each verdict (every verdict named, zeros included)."""
        return {v: sum(x.verdict == v for x in self.verdicts) for v in VERDICTS}

    def summary_line(self) -> str:
        """e.g. "prompted baseline (prompt 1a2b3c4d5e6f): 2 fixed by prompting, 1 reduced ..."."""
        if self.pending:
            return f"prompted baseline (prompt {self.prompt_sha256[:12]}): {self.pending}"
        parts = [f"{n} {VERDICT_LABELS[v].split(' (')[0]}" for v, n in self.counts().items() if n]
        return (f"prompted baseline (prompt {self.prompt_sha256[:12]}, run {self.prompted_run}): "
                + (", ".join(parts) if parts else "no bugs either way"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_run": self.base_run, "prompted_run": self.prompted_run,
            "prompt_sha256": self.prompt_sha256, "prompt_source": self.prompt_source,
            "analysis_base": self.analysis_base, "analysis_prompted": self.analysis_prompted,
            "pending": self.pending or None, "alpha": self.alpha,
            "min_decisive_per_cell": self.min_decisive_per_cell, "summary": self.counts(),
            "verdicts": [v.to_dict() for v in self.verdicts],
        }


def compare_prompted(store: Store, run_id: str) -> PromptComparison | None:
    """The verdicts for the pair `run_id` belongs to (either side, `latest` or a prefix); None
    when it has no prompted twin. Reads the newest analysis of each side; nothing is written."""
    run_id = store.resolve_run(run_id)
    link = store.run_link(run_id)
    if link is None:
        return None
    base, twin = link["base_run_id"], link["run_id"]
    an_b, an_p = store.latest_analysis(base), store.latest_analysis(twin)
    sha, source = link["prompt_sha256"], link["prompt_source"]
    missing = [r for r, a in ((base, an_b), (twin, an_p)) if a is None]
    if an_b is None or an_p is None:
        return PromptComparison(
            base, twin, sha, source, analysis_base=an_b["id"] if an_b else None,
            analysis_prompted=an_p["id"] if an_p else None,
            pending=f"not analysed yet: behaviordbg analyze {' and '.join(missing)}")
    return PromptComparison(
        base, twin, sha, source, analysis_base=an_b["id"], analysis_prompted=an_p["id"],
        verdicts=tuple(_verdicts(store, an_b["id"], an_p["id"])),
        meta={"judge_base": an_b["judge"], "judge_prompted": an_p["judge"]},
    )


def _verdicts(store: Store, analysis_base: str, analysis_prompted: str) -> Iterable[PromptVerdict]:
    bugs_b = {b.fingerprint: b for b in store.bugs_for_analysis(analysis_base)}
    bugs_p = {b.fingerprint: b for b in store.bugs_for_analysis(analysis_prompted)}
    cands_b = {b.fingerprint for b in store.candidates_for_analysis(analysis_base)}
    cands_p = {b.fingerprint: b for b in store.candidates_for_analysis(analysis_prompted)}
    side_b = (analysis_base, store.analysis_distributions(analysis_base))
    side_p = (analysis_prompted, store.analysis_distributions(analysis_prompted))
    cache: dict[str, PromptCounts] = {}
    for fp in sorted(set(bugs_b) | set(bugs_p)):
        ref = bugs_b.get(fp) or bugs_p[fp]
        cb, cp = paired_counts(store, ref, side_b, side_p, cache)
        p_drop = fisher_p(cb, cp, alternative="greater")
        dropped = p_drop is not None and p_drop < ALPHA
        verdict: Verdict
        if fp not in bugs_b:
            verdict = "introduced"
            note = "a candidate without the prompt" if fp in cands_b else ""
        elif fp in bugs_p or fp in cands_p:
            verdict = "reduced" if dropped else "survives"
            note = "only a candidate under the prompt" if fp not in bugs_p else ""
        elif dropped and cp.enough:
            verdict, note = "fixed", ""
        else:
            verdict = "not_reproduced"
            note = ("too few decisive answers under the prompt to call it fixed (every cell needs"
                    f" {MIN_DECISIVE_PER_CELL}; hedges and refusals do not count): rerun with"
                    " more --samples" if not cp.enough else "the drop is not significant")
        yield PromptVerdict(
            fingerprint=fp, kind=ref.kind, title=ref.title, severity=ref.severity,
            verdict=verdict, rate_base=cb.rate, rate_prompted=cp.rate,
            counts_base=(cb.contradicting, cb.consistent),
            counts_prompted=(cp.contradicting, cp.consistent), p_value=p_drop, note=note,
        )


def verdict_fields(store: Store, run_id: str) -> tuple[PromptComparison | None, dict[str, Any]]:
    """(the comparison, fingerprint -> its `prompting` field) for a run's rows in `bugs --json`
    and the exports; ({} when the run has no prompted twin)."""
    comparison = compare_prompted(store, run_id)
    if comparison is None:
        return None, {}
    return comparison, {fp: v.to_dict() for fp, v in comparison.by_fingerprint.items()}


def require_comparison(store: Store, run_id: str) -> PromptComparison:
    """The comparison for --survives-prompting, or an error that says how to make one."""
    from .errors import BehaviordbgError

    comparison = compare_prompted(store, run_id)
    resolved = store.resolve_run(run_id)
    if comparison is None:
        raise BehaviordbgError(
            f"--survives-prompting: run {resolved} has no prompted baseline",
            "probe it with one: behaviordbg check --prompted-baseline (or behaviordbg run"
            f" --resume {resolved} --prompted-baseline, then behaviordbg analyze {resolved})")
    if comparison.pending:
        raise BehaviordbgError(f"--survives-prompting: run {resolved}'s prompted baseline is"
                               f" {comparison.pending}", "analyse both runs, then retry")
    return comparison
