"""Review: suggested labels, worst first: the answers where a person's reading does the most
good (judges disagree, bug evidence, lowest confidence), with the label control."""

from __future__ import annotations

import streamlit as st

from behaviordbg.dashboard import label_ui, review_data, ui

st.title("Review")
ui.flash()
analysis = ui.current_analysis()
run = ui.selected_run()
st.caption("Suggested labels, worst first: answers the judges read differently, then the"
           " evidence of bugs and candidates, then the lowest confidence. Labelled answers leave"
           " the queue. Tab to the next label, type its first letters, save once per page.")
total = ui.load(review_data.suggestions, run, analysis, 0, 0)[1]
offset = label_ui.pager(total, "review_page")
rows = ui.load(review_data.suggestions, run, analysis, offset, 20)[0]
label_ui.label_form(rows, "lab-review")
