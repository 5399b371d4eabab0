"""The only package that connects the stages:

    suites -> queries -> client -> store -> judges -> cluster -> graph -> bugs -> triage

The CLI, the pytest plugin and the dashboard call the functions here and hold no logic of their
own. Each takes the options of behaviordbg.config and an open `Store`, and returns a small typed
summary. One module per stage:

- endpoint.py: which model answers (an endpoint, or the embedded local model);
- probe.py: `run_probes` asks every query of the suites and stores each answer as it arrives;
- analyze.py: `analyze_run` judges (judging.py), clusters, finds contradictions and bugs, and
  records the bugs' lifecycle (behaviordbg.triage);
- run_and_analyze.py: `check`, both of them in one call;
- fix_data.py: fix datasets from a run's confirmed bugs (own words, else a teacher the judge
  checks), rendered by behaviordbg.export.fix_datasets;
- generate.py: `suites generate` / `suites augment`, a model writing filtered prompts.

The stage logic itself lives in behaviordbg.analysis (pure functions) and behaviordbg.judges.
"""

from __future__ import annotations

from ..config import AnalyzeOptions, RunOptions, parse_max_failed
from .analyze import (
    AnalysisSummary,
    analyze_run,
    run_manifest,
    run_state,
    run_suites,
)
from .probe import RunInterrupted, RunSummary, run_probes
from .progress import NullProgress, ProgressSink
from .run_and_analyze import check

__all__ = [
    "AnalysisSummary",
    "AnalyzeOptions",
    "NullProgress",
    "ProgressSink",
    "RunInterrupted",
    "RunOptions",
    "RunSummary",
    "analyze_run",
    "check",
    "parse_max_failed",
    "run_manifest",
    "run_probes",
    "run_state",
    "run_suites",
]
