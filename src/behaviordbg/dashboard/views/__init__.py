"""The dashboard's pages: Streamlit runs each file as a script (see behaviordbg.dashboard.app)."""
