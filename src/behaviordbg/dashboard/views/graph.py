"""Graph: claims as nodes coloured by stance mix, contradictions as edges/marks coloured by kind.

Click a node or an edge (or pick one below the chart) to see the evidence behind it.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from behaviordbg.dashboard import data, ui
from behaviordbg.types import CONTRADICTION_KINDS, shown_answer

MIX_COLOURS = {"affirms": "#1f77b4", "denies": "#d62728", "contested": "#9467bd",
               "unclear/refused": "#7f7f7f", "no answers": "#c7c7c7", "open (values)": "#bcbd22"}
KIND_COLOURS = dict(zip(CONTRADICTION_KINDS,
                        ["#ff7f0e", "#2ca02c", "#e377c2", "#8c564b", "#17becf", "#000000",
                         "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#9467bd"]))

st.title("Contradiction graph")
analysis = ui.current_analysis()
graph = ui.load(data.graph_data, analysis)
nodes, edges, marks = graph.nodes, graph.edges, graph.marks

if nodes.empty:
    st.info("No claims in this analysis.")
    st.stop()

node_sel = alt.selection_point(name="node", fields=["claim"], on="click")
edge_sel = alt.selection_point(name="edge", fields=["edge"], on="click")
kind_scale = alt.Scale(domain=list(KIND_COLOURS), range=list(KIND_COLOURS.values()))
axis = alt.Axis(labels=False, ticks=False, grid=False, title=None, domain=False)

layers: list[Any] = []
edge_cols = ["edge", "kind", "claims", "count"]
if not edges.empty:
    layers.append(
        alt.Chart(edges[["x", "y", "x2", "y2", *edge_cols]]).mark_rule(strokeWidth=4, opacity=0.8)
        .encode(x=alt.X("x:Q", axis=axis), y=alt.Y("y:Q", axis=axis), x2="x2:Q", y2="y2:Q",
                color=alt.Color("kind:N", scale=kind_scale, title="contradiction kind",
                                legend=None if not marks.empty else alt.Legend()),
                tooltip=edge_cols)
        .add_params(edge_sel)
    )
if not marks.empty:
    layers.append(
        alt.Chart(marks[["x", "y", "edge", "kind", "claim", "count"]])
        .mark_point(shape="diamond", filled=True, size=160)
        .encode(x=alt.X("x:Q", axis=axis), y=alt.Y("y:Q", axis=axis),
                color=alt.Color("kind:N", scale=kind_scale, title="contradiction kind"),
                tooltip=["kind", "claim", "count"])
        .add_params(edge_sel)
    )
layers.append(
    alt.Chart(nodes).mark_circle(stroke="black", strokeWidth=1)
    .encode(x=alt.X("x:Q", axis=axis), y=alt.Y("y:Q", axis=axis),
            size=alt.Size("contradictions:Q", scale=alt.Scale(range=[300, 1500]), legend=None),
            color=alt.Color("mix:N", title="stance mix",
                            scale=alt.Scale(domain=list(MIX_COLOURS),
                                            range=list(MIX_COLOURS.values()))),
            tooltip=["claim", "mix", "p_affirm", "answers", "contradictions"])
    .add_params(node_sel)
)
layers.append(
    alt.Chart(nodes).mark_text(dy=-22, fontSize=12)
    .encode(x=alt.X("x:Q", axis=axis), y=alt.Y("y:Q", axis=axis), text="claim:N")
)
chart = (alt.layer(*layers).resolve_scale(color="independent", size="independent")
         .properties(height=520).configure_view(strokeWidth=0))
event = st.altair_chart(chart, width="stretch", key="graph_chart", on_select="rerun",
                        selection_mode=["node", "edge"])
st.caption("Circles are claims (size: contradictions touching them). Lines join claims whose "
           "answers break a rule; diamonds beside a claim are contradictions within that claim "
           "(for an open claim, a value_conflict: it names different values). Click one, or "
           "pick it below.")


def _picked(state: Any, name: str, field: str) -> str | None:
    """The first value selected in the chart for one selection parameter, if any."""
    try:
        points = state["selection"][name]
    except (KeyError, TypeError):
        return None
    if isinstance(points, list) and points and isinstance(points[0], dict):
        value = points[0].get(field)
        return str(value) if value is not None else None
    return None


all_edges = pd.concat([edges[["edge", "kind", "claims", "count", "fingerprints"]],
                       marks.rename(columns={"claim": "claims"})[["edge", "kind", "claims",
                                                                  "count", "fingerprints"]]]
                      ).drop_duplicates("edge")
edge_label = {r.edge: f"{r.kind}: {r.claims} ({r.count})" for r in all_edges.itertuples()}

left, right = st.columns(2)
with left:
    claim_pick = st.selectbox("Claim", ["(none)", *nodes["claim"]], key="graph_claim")
with right:
    edge_pick = st.selectbox("Contradiction", ["(none)", *edge_label],
                             format_func=lambda e: edge_label.get(e, e), key="graph_edge")

chart_edge = _picked(event, "edge", "edge")
chart_claim = _picked(event, "node", "claim")
edge_id = chart_edge or (edge_pick if edge_pick != "(none)" else None)
claim = None if edge_id else (chart_claim or (claim_pick if claim_pick != "(none)" else None))


def _show(found: list[Any]) -> None:
    """Contradictions with their evidence: summary, then one row per answer."""
    if not found:
        st.info("No contradictions here.")
    for fp, c in found:
        st.divider()
        st.text(f"{c.kind}  ·  {' / '.join(c.claims)}  ·  rate {c.rate:.2f}  ·  "
                f"fingerprint {fp}")
        ui.untrusted("Summary", c.summary)
        if c.witness:
            st.text("witness: " + " => ".join(c.witness))
        st.dataframe(
            pd.DataFrame([{"claim": e.claim_id, "framing": e.framing, "prompt": e.prompt,
                           "answer": shown_answer(e), "stance": e.stance, "judge": e.judge,
                           "confidence": e.confidence} for e in c.evidence]),
            hide_index=True, width="stretch",
        )


if edge_id:
    row = all_edges[all_edges["edge"] == edge_id]
    st.subheader("Evidence for the selected contradiction")
    if row.empty:
        st.warning("That contradiction is not in this analysis any more.")
    else:
        _show(ui.load(data.contradictions_for, analysis, None, tuple(row.iloc[0]["fingerprints"])))
elif claim:
    st.subheader("Evidence for the selected claim")
    node = nodes[nodes["claim"] == claim]
    st.dataframe(node.drop(columns=["x", "y"]), hide_index=True, width="stretch")
    _show(ui.load(data.contradictions_for, analysis, claim))
else:
    st.info("Select a claim or a contradiction to see its evidence.")
