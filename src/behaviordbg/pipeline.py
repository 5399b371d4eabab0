"""The only module that connects the stages.

    suites -> queries -> client -> store -> judges -> cluster -> graph -> bugs -> triage

The CLI, the pytest plugin and the dashboard call the functions here and hold no logic of their own.
Each function takes plain options and an open `Store`, and returns a small typed summary.

Sections (each owned by one area; edit only your own section):
  1. probing   (run_probes)
  2. analysis  (analyze_run, check)
  3. triage    (lifecycle hooks, diff, exports)
"""

from __future__ import annotations

# =========================================================================== 1. probing


# =========================================================================== 2. analysis


# =========================================================================== 3. triage
