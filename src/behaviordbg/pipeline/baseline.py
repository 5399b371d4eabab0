"""The prompted baseline: probe the same queries twice, as configured and with the deployment's
system prompt (made from its manifest, or --baseline-prompt) put before each suite's own, store
both runs linked, analyse both, and give each bug its verdict (behaviordbg.prompting).

Both runs are ordinary runs: cached (a rerun asks nothing), resumable (Ctrl-C on either one;
`run --resume RUN --prompted-baseline` finishes whichever side is unfinished and makes the twin
if it is missing), analysed like any other. The twin is planned from the base run's record (its
stored suites, manifest, claims, framings, limit and samples), so it asks exactly the base run's
queries with only the system message changed, however the base run was made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..config import AnalyzeOptions, PromptedTwin, RunOptions
from ..errors import BehaviordbgError
from ..prompting import PromptComparison, compare_prompted
from ..store import Run, Store
from ..suites.baseline_prompt import (
    BaselinePrompt,
    baseline_prompt,
    prompted_suites,
    read_prompt_file,
)
from .analyze import AnalysisSummary, analyze_run, run_manifest, run_state, run_suites
from .probe import RunSummary, run_probes
from .progress import ProgressSink
from .run_and_analyze import check

TWIN_LABEL = "prompted baseline"


@dataclass
class PairSummary:
    """Both runs of a prompted baseline (a side this call did not need to ask is summarised
    from the store, with requests_sent 0)."""

    base: RunSummary
    prompted: RunSummary
    prompt: BaselinePrompt

    @property
    def ok(self) -> bool:
        return self.base.ok and self.prompted.ok


@dataclass
class PairCheck:
    """`check --prompted-baseline`: both runs, both analyses, and the verdicts."""

    runs: PairSummary
    base: AnalysisSummary
    prompted: AnalysisSummary
    comparison: PromptComparison


def twin_options(
    base: Run, opts: RunOptions, prompt: BaselinePrompt, *, embedded: bool | None = None
) -> RunOptions:
    """The options of `base`'s prompted twin: the base run's queries (from its record) with the
    prompt put first; how to ask (concurrency, timeouts, key variable) from `opts`. `embedded`:
    whether the embedded model answers (default: whether it answered the base run; `check` with
    an llm judge serves it at a URL for the run, so the caller says)."""
    params = base["params"]
    local = base["base_url"].startswith("local://") if embedded is None else embedded
    label = f"{TWIN_LABEL} of {base['id']}" + (f" ({base['label']})" if base["label"] else "")
    return dataclasses.replace(
        opts, suites=prompted_suites(run_suites(base), prompt.text), suite_paths=None,
        base_url=None if local else (opts.base_url or base["base_url"]),
        model=None if local else (opts.model or base["model"]), samples=int(params["samples"]),
        temperature=float(params["temperature"]), max_tokens=int(params["max_tokens"]),
        claims=set(params["claims"]) or None, framings=set(params["framings"]) or None,
        limit=params["limit"], manifest_path=None, resume=None, label=label,
        prompted_twin=PromptedTwin(base["id"], prompt.text, prompt.sha256, prompt.source),
    )


def _prompt_for(base: Run, prompt_file: str | Path | None) -> BaselinePrompt:
    return baseline_prompt(run_manifest(base), run_suites(base), prompt_file)


def _manifest_for_new_run(opts: RunOptions) -> None:
    """A run's manifest must load before anything is asked (it also makes the prompt)."""
    from .. import suites as suites_mod

    suites_mod.load_manifest(opts.manifest_path)


def run_pair(
    store: Store, opts: RunOptions, prompt_file: str | Path | None = None,
    progress: ProgressSink | None = None, twin_progress: ProgressSink | None = None,
) -> PairSummary:
    """Probe (or resume) a run and its prompted twin. `opts.resume` names either side: whatever
    is unfinished is finished, and a missing twin is made. A bad --baseline-prompt file fails
    before anything is asked. The twin is probed only when the base run passed --max-failed."""
    if prompt_file is not None:  # a missing or empty file fails before any model is asked
        read_prompt_file(prompt_file)
    if opts.resume:
        resolved = store.resolve_run(opts.resume)
        link = store.run_link(resolved)
        base_id = link["base_run_id"] if link and link["run_id"] == resolved else resolved
        base_opts = dataclasses.replace(opts, resume=base_id)
        base_summary = (run_probes(store, base_opts, progress)
                        if _unfinished(store, base_id) else _done(store, base_id))
    else:
        _manifest_for_new_run(opts)
        base_summary = run_probes(store, opts, progress)
    base = store.get_run(base_summary.run_id)
    prompt = _prompt_for(base, prompt_file)
    if not base_summary.ok:
        return PairSummary(base_summary, base_summary, prompt)
    link = store.run_link(base["id"])
    if link is not None and link["base_run_id"] == base["id"]:
        if prompt_file is not None and link["prompt_sha256"] != prompt.sha256:
            raise BehaviordbgError(
                f"run {base['id']} already has a prompted twin ({link['run_id']}) made with"
                f" another prompt (sha256 {link['prompt_sha256'][:12]}, this file"
                f" {prompt.sha256[:12]})",
                "start a new pair: behaviordbg check --prompted-baseline --baseline-prompt FILE")
        prompt = BaselinePrompt(link["prompt_text"], link["prompt_sha256"], link["prompt_source"])
        twin_id = link["run_id"]
        twin_summary = (run_probes(store, dataclasses.replace(opts, resume=twin_id),
                                   twin_progress)
                        if _unfinished(store, twin_id) else _done(store, twin_id))
    else:
        twin_summary = run_probes(store, twin_options(base, opts, prompt), twin_progress)
    return PairSummary(base_summary, twin_summary, prompt)


def _unfinished(store: Store, run_id: str) -> bool:
    state = run_state(store, run_id)
    return bool(state["partial"])


def _done(store: Store, run_id: str) -> RunSummary:
    """A finished run's summary, without asking anything."""
    run = store.get_run(run_id)
    counts = store.counts(run_id)
    share = counts["errors"] / counts["queries"] if counts["queries"] else 1.0
    return RunSummary(
        run_id=run_id, queries=counts["queries"], responses=counts["responses"],
        errors=counts["errors"], requests_sent=0, cache_hits=counts["cache_hits"],
        elapsed_s=0.0, model=run["model"], base_url=run["base_url"],
        status="complete" if run["status"] == "complete" else "failed",
        failed_share=round(share, 4),
    )


def analyze_linked(
    store: Store, run_id: str, opts: AnalyzeOptions, progress: ProgressSink | None = None,
) -> PromptComparison | None:
    """After `analyze RUN`: when RUN has a prompted twin (either side), analyse the other side
    too (its stances are reused: only what is missing is judged; an unfinished run is left as it
    is, so the comparison says it is pending) and compare them. None without a twin."""
    resolved = store.resolve_run(run_id)
    link = store.run_link(resolved)
    if link is None:
        return None
    other = link["run_id"] if link["base_run_id"] == resolved else link["base_run_id"]
    if not run_state(store, other)["partial"]:
        analyze_run(store, other, opts, progress)
    return compare_prompted(store, resolved)


def check_pair(
    store: Store, run_opts: RunOptions, analyze_opts: AnalyzeOptions,
    prompt_file: str | Path | None = None, progress: ProgressSink | None = None,
    twin_progress: ProgressSink | None = None, judge_progress: ProgressSink | None = None,
) -> PairCheck:
    """`check --prompted-baseline`: probe and analyse the run as configured, then its prompted
    twin (each through `check`, so an llm judge shares the embedded server as usual), then the
    verdicts. A bad --baseline-prompt file fails before anything is asked."""
    if prompt_file is not None:
        read_prompt_file(prompt_file)
    _manifest_for_new_run(run_opts)
    base_run, base = check(store, run_opts, analyze_opts, progress, judge_progress)
    base_record = store.get_run(base_run.run_id)
    prompt = _prompt_for(base_record, prompt_file)
    twin_opts = twin_options(base_record, run_opts, prompt,
                             embedded=None if run_opts.base_url else True)
    twin_run, twin = check(store, twin_opts, analyze_opts, twin_progress, judge_progress)
    comparison = compare_prompted(store, base_run.run_id)
    assert comparison is not None
    return PairCheck(PairSummary(base_run, twin_run, prompt), base, twin, comparison)
