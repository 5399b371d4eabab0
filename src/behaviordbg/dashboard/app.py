"""behaviordbg triage dashboard (Streamlit). Start it with `behaviordbg dashboard [--db PATH]`.

This script only sets up navigation and the run picker; each page lives in views/<page>.py and
reads data through behaviordbg.dashboard.data. Model output is shown as text only
(st.code/st.dataframe). Streamlit runs it as a script, top to bottom, on every interaction.
"""

from __future__ import annotations

import streamlit as st

from behaviordbg.dashboard import PAGES, data, ui

st.set_page_config(page_title="behaviordbg", layout="wide")
page = st.navigation([
    st.Page(str(PAGES / "overview.py"), title="Overview", url_path="overview", default=True),
    st.Page(str(PAGES / "graph.py"), title="Graph", url_path="graph"),
    st.Page(str(PAGES / "bugs.py"), title="Bugs", url_path="bugs"),
    st.Page(str(PAGES / "claims.py"), title="Claims", url_path="claims"),
    st.Page(str(PAGES / "review.py"), title="Review", url_path="review"),
    st.Page(str(PAGES / "judges.py"), title="Judges", url_path="judges"),
    st.Page(str(PAGES / "compare.py"), title="Compare", url_path="compare"),
])

with st.sidebar:
    st.header("behaviordbg")
    st.caption("Database")
    st.text(ui.db_path())
    runs = ui.load(data.run_ids)
    if runs:
        if st.session_state.get("run") not in runs:
            st.session_state["run"] = runs[0]
        st.selectbox("Run", runs, key="run", help="Newest first. Every page shows this run.")
    else:
        st.session_state.pop("run", None)
    st.caption("Refreshes on every interaction; a run that is writing shows up as it goes.")

page.run()
