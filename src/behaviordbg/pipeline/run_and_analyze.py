"""`check`: probe, then analyze the new run, the whole job in one call (the CLI's `check` and the
pytest plugin). With an llm/cascade judge (or an llm verification) and no endpoints given, one
embedded local server answers the probes and judges them, not two servers side by side.
"""

from __future__ import annotations

from dataclasses import replace

from ..config import AnalyzeOptions, RunOptions
from ..errors import RunFailed
from ..store import Store
from . import endpoint, judging
from .analyze import AnalysisSummary, analyze_run
from .probe import RunSummary, run_probes
from .progress import ProgressSink

CHECK_VERIFIES_WITH_EMBEDDED_MODEL = False
"""Whether `check` runs the verification pass by default when it probes the embedded model (no
--base-url, so its server is up anyway). Measured (BENCHMARKS.md, "Verification pass"): no. The
embedded 1.5B model as second judge confirmed 22 of the rules judge's 23 wrong solid verdicts on
the labelled rows (and 95% of the right ones), so it removes almost no false bug and turns
candidates into bugs. --verify turns it on; a stronger second judge (--verify-base-url) is where
it pays. The switch stays, for a better local model."""


def check(
    store: Store,
    run_opts: RunOptions,
    analyze_opts: AnalyzeOptions,
    progress: ProgressSink | None = None,
    judge_progress: ProgressSink | None = None,
) -> tuple[RunSummary, AnalysisSummary]:
    """Probe, then analyze the new run. With an llm/cascade judge (or an llm verification) and no
    endpoints given, one embedded local server answers the probes and judges them (not two
    servers side by side). `analyze_opts.verify=None`: verify when the embedded model answers."""
    if analyze_opts.verify is None:
        analyze_opts = replace(analyze_opts, verify=(
            CHECK_VERIFIES_WITH_EMBEDDED_MODEL and not run_opts.base_url and not run_opts.resume))
    judge_local = analyze_opts.judge_needs_endpoint and not analyze_opts.judge_base_url
    shared = ((judge_local or judging.needs_local_llm(analyze_opts))
              and not run_opts.base_url and not run_opts.resume)
    if not shared:
        summary = _gate(run_probes(store, run_opts, progress))
        return summary, analyze_run(store, summary.run_id, analyze_opts, judge_progress,
                                    suites=run_opts.suites)
    with endpoint.embedded_server() as server:
        run_opts = replace(run_opts, base_url=server.base_url, model=server.model)
        if judge_local:
            analyze_opts = replace(
                analyze_opts, judge_base_url=server.base_url,
                judge_model=analyze_opts.judge_model or server.model,
            )
        if judging.needs_local_llm(analyze_opts):
            analyze_opts = replace(
                analyze_opts, verify_base_url=server.base_url,
                verify_model=analyze_opts.verify_model or server.model,
            )
        summary = _gate(run_probes(store, run_opts, progress))
        return summary, analyze_run(store, summary.run_id, analyze_opts, judge_progress,
                                    suites=run_opts.suites)


def _gate(summary: RunSummary) -> RunSummary:
    """A run that failed --max-failed is never analysed as if it were complete: RunFailed."""
    if summary.ok:
        return summary
    top = summary.top_error or {}
    hint = top.get("hint") or "check the endpoint, then resume the run"
    if top.get("resume", True):
        hint += f"; then: behaviordbg run --resume {summary.run_id}"
    raise RunFailed(summary.failure_message(), hint, summary=summary)
