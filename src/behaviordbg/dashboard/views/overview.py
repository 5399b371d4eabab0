"""Overview: runs and models, bugs by kind/severity/status, the stance heat map, changes."""

from __future__ import annotations

import altair as alt
import streamlit as st

from behaviordbg.dashboard import data, ui

st.title("Overview")

st.subheader("Runs")
runs = ui.load(data.runs_table)
st.dataframe(runs, hide_index=True, width="stretch",
             column_config={"id": "run", "responses": st.column_config.NumberColumn("responses"),
                            "bugs": st.column_config.NumberColumn("bugs")})

analysis = ui.current_analysis()
run = ui.selected_run()
previous = ui.load(data.previous_run, run)
counts = ui.load(data.bug_counts, analysis)
total = int(counts["kind"]["bugs"].sum())

diff = ui.load(data.run_changes, previous, run) if previous else None
_, held_back = ui.load(data.candidates_table, analysis, 1)
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Bugs in this run", total)
c2.metric("Critical or high", int(counts["severity"].set_index("severity")["bugs"]
                                  .reindex(["critical", "high"]).fillna(0).sum()))
c3.metric("New since previous run", diff.new_count if diff else total)
c4.metric("Gone since previous run", diff.gone_count if diff else 0)
c5.metric("Candidates held back", held_back,
          help="Contradictions on weak evidence: listed on the Bugs page, not counted as bugs.")

st.subheader("Bugs by kind, severity and status")
cols = st.columns(3)
for col, field in zip(cols, ("kind", "severity", "status")):
    with col:
        st.caption(f"by {field}")
        chart = (
            alt.Chart(counts[field])
            .mark_bar()
            .encode(x=alt.X(f"{field}:N", sort=list(counts[field][field]), title=None),
                    y=alt.Y("bugs:Q", title="bugs", axis=alt.Axis(format="d", tickMinStep=1)),
                    tooltip=[field, "bugs"])
            .properties(height=220)
        )
        st.altair_chart(chart, width="stretch")

st.subheader("Stances: p(affirm) per claim and framing")
heat = ui.load(data.stance_heatmap, analysis)
if heat.empty:
    st.info("No stance distributions in this analysis.")
else:
    base = alt.Chart(heat).encode(
        x=alt.X("framing:N", sort=["direct", "negated", "act", "all"], title="framing"),
        y=alt.Y("claim:N", title=None),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("p_affirm:Q", scale=alt.Scale(domain=[0, 1], scheme="redblue"),
                        title="p(affirm)"),
        tooltip=["claim", "framing", "p_affirm", "low", "high", "affirm", "deny", "unclear",
                 "refuse", "error", "n"],
    )
    text = base.mark_text(fontSize=11).encode(text=alt.Text("p_affirm:Q", format=".2f"))
    st.altair_chart((rect + text).properties(height=alt.Step(26)), width="stretch")
    st.caption("Blue: the model affirms the claim; red: it denies it. Hover for the 95% interval.")

st.subheader("What changed since the previous run")
if diff is None:
    st.info("This is the first run in the database: nothing to compare with.")
else:
    st.text(f"{diff.run_a}  ->  {diff.run_b}")
    left, right = st.columns(2)
    with left:
        st.caption(f"New bugs ({diff.new_count}; the {len(diff.new)} most severe)")
        st.dataframe(diff.new, hide_index=True, width="stretch")
    with right:
        st.caption(f"Bugs no longer found ({diff.gone_count}; the {len(diff.gone)} most severe)")
        st.dataframe(diff.gone, hide_index=True, width="stretch")
    st.caption("The Compare page tests whether a bug that is gone is significantly gone.")
