"""behaviordbg triage dashboard (Streamlit). Start it with `behaviordbg dashboard [--db PATH]`.

This script only sets up navigation and the run picker; each page lives in views/<page>.py and
reads data through `behaviordbg.views`. Model output is shown as text only (st.code/st.dataframe).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # so pages can `from views import _ui` under AppTest too
    sys.path.insert(0, str(HERE))

from views import _ui  # noqa: E402

st.set_page_config(page_title="behaviordbg", layout="wide")

PAGES = [
    st.Page(str(HERE / "views" / "overview.py"), title="Overview", url_path="overview",
            default=True),
    st.Page(str(HERE / "views" / "graph.py"), title="Graph", url_path="graph"),
    st.Page(str(HERE / "views" / "bugs.py"), title="Bugs", url_path="bugs"),
    st.Page(str(HERE / "views" / "claims.py"), title="Claims", url_path="claims"),
    st.Page(str(HERE / "views" / "compare.py"), title="Compare", url_path="compare"),
]
page = st.navigation(PAGES)

with st.sidebar:
    st.header("behaviordbg")
    st.caption("Database")
    st.text(_ui.db_path())
    runs = _ui.load("run_ids")
    if runs:
        if st.session_state.get("run") not in runs:
            st.session_state["run"] = runs[0]
        st.selectbox("Run", runs, key="run", help="Newest first. Every page shows this run.")
    else:
        st.session_state.pop("run", None)
    st.caption("Refreshes on every interaction; a run that is writing shows up as it goes.")

page.run()
