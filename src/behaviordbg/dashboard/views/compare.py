"""Compare: two runs side by side: new, resolved (significantly gone), not reproduced, kept."""

from __future__ import annotations

import streamlit as st

from behaviordbg.dashboard import data, ui
from behaviordbg.errors import BehaviordbgError

st.title("Compare runs")
runs = ui.load(data.run_ids)
if len(runs) < 2:
    st.info("Compare needs two runs; this database has fewer.")
    st.stop()

current = ui.current_run() or runs[0]
before = ui.load(data.previous_run, current) or runs[min(1, len(runs) - 1)]
prompting = ui.load(data.prompt_verdicts, current)
if prompting is not None:  # the run and its prompted twin: fixed by a prompt, or not?
    st.subheader("Prompted baseline")
    st.caption(f"Run {prompting.base_run} as configured vs its twin {prompting.prompted_run},"
               f" asked the same queries with the system prompt {prompting.prompt_sha256[:12]}"
               f" ({prompting.prompt_source}) first. Fixed and reduced need a significant drop"
               " (Fisher's exact test, one-sided, p < 0.05); fixed also needs 5 decisive answers"
               " in every cell. Survives prompting: a prompt is not enough; training is the fix.")
    if prompting.pending:
        st.info(prompting.pending)
    else:
        for col, (name, n) in zip(st.columns(len(prompting.counts)), prompting.counts.items()):
            col.metric(name.replace("_", " "), n)
        st.dataframe(prompting.table, hide_index=True, width="stretch", key="prompting_table")
    st.divider()
    before, current = prompting.base_run, prompting.prompted_run
c1, c2 = st.columns(2)
run_a = c1.selectbox("Baseline run (a)", runs, index=runs.index(before), key="compare_a")
run_b = c2.selectbox("Compared run (b)", runs, index=runs.index(current), key="compare_b")
if run_a == run_b:
    st.warning("Pick two different runs.")
    st.stop()

QUICK_ABOVE = 2000
"""Above this many bugs in the two runs, the significance-tested diff waits for a click (it takes
about a minute at 10,000 bugs); the fingerprint diff below is instant at any size."""

quick = ui.load(data.run_changes, run_a, run_b)
big = quick.new_count + quick.persisting_count + quick.gone_count > QUICK_ABOVE
if big and not st.toggle("Test which missing bugs are really resolved (slow on big runs)",
                         key="compare_full"):
    q1, q2, q3 = st.columns(3)
    q1.metric("new", quick.new_count)
    q2.metric("gone (not tested)", quick.gone_count)
    q3.metric("persisting", quick.persisting_count)
    st.caption("By fingerprint only. Switch on the test above to split the gone bugs into "
               "resolved (a significant drop) and not reproduced.")
    st.subheader("New (most severe)")
    st.dataframe(quick.new, hide_index=True, width="stretch")
    st.subheader("Gone (most severe)")
    st.dataframe(quick.gone, hide_index=True, width="stretch")
    st.stop()

try:
    with st.spinner("Comparing runs bug by bug..."):
        diff = ui.load(data.compare_runs, run_a, run_b)
except BehaviordbgError as err:
    st.error(str(err))
    st.stop()

cols = st.columns(len(diff))
for col, (name, frame) in zip(cols, diff.items()):
    col.metric(name.replace("_", " "), len(frame))
st.caption("Resolved means gone with a significant drop (Fisher's exact test); a bug that is "
           "merely absent with too few samples is 'not reproduced'.")
for name, frame in diff.items():
    st.subheader(name.replace("_", " ").capitalize())
    if frame.empty:
        st.text("none")
    else:
        st.dataframe(frame, hide_index=True, width="stretch")
