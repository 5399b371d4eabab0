"""The Streamlit triage dashboard, inside the package so that `behaviordbg dashboard` works from an
installed wheel.

- app.py: the script Streamlit runs (navigation and the run picker);
- views/: one script per page, which only renders (not `pages/`: Streamlit turns a `pages/`
  folder next to the app script into pages of its own, run without app.py's run picker);
- data.py: what the pages show, shaped from the store's read models (testable without a browser);
- ui.py: what every page shares: which database, which run, cached reads, inert model text.
"""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).resolve().with_name("app.py")
"""The script `streamlit run` is given (`behaviordbg dashboard` does that)."""
PAGES = APP.with_name("views")
