"""Claims: per claim, the stance distribution per framing with intervals, answer clusters, and
the claim's answers with a label control; for an open claim, its value modes (a bar of shares and
the representative answer per mode)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from behaviordbg.dashboard import data, label_ui, review_data, ui
from behaviordbg.escape import printable

st.title("Claims")
ui.flash()
analysis = ui.current_analysis()
run = ui.selected_run()
claims = ui.load(data.claim_ids, analysis)
if not claims:
    st.info("No stance distributions or value modes in this analysis.")
    st.stop()

claim = st.selectbox("Claim", claims, key="claims_claim")
if claim is None:
    st.stop()
statement = ui.load(data.claim_text, run, claim)
if statement:
    st.text(statement)

modes = ui.load(data.claim_value_modes, analysis, claim)
if not modes.empty:
    st.subheader("Value modes")
    st.caption("An open claim: each answer is read as a value, and values that are one value in "
               "other words form one mode. Two or more substantive modes are a value_conflict. "
               "Values and answers are model output, shown as plain text.")
    bar = alt.Chart(modes).mark_bar().encode(
        x=alt.X("answers:Q", stack="normalize", title="share of answers",
                axis=alt.Axis(format="%")),
        color=alt.Color("value:N", title="value", sort=list(modes["value"])),
        order=alt.Order("mode:Q"),
        tooltip=["value", "answers", "share", "decisive", "substantive", "manifest"],
    )
    st.altair_chart(bar.properties(height=70), width="stretch")
    st.dataframe(modes.drop(columns=["representative"]), hide_index=True, width="stretch",
                 column_config={"share": st.column_config.NumberColumn("share", format="%.2f")})
    for row in modes.itertuples():
        st.text(f"mode {row.mode}: {printable(row.value, 120)}  ·  {row.answers} answers"
                f" ({row.share:.0%})"
                + ("  ·  substantive" if row.substantive else ""))
        ui.untrusted("Representative answer", str(row.representative))
    st.stop()

st.subheader("Stance per framing")
dist = ui.load(data.claim_distributions, analysis, claim)
st.dataframe(dist, hide_index=True, width="stretch",
             column_config={"p_affirm": st.column_config.NumberColumn("p(affirm)", format="%.2f"),
                            "low": st.column_config.NumberColumn("95% low", format="%.2f"),
                            "high": st.column_config.NumberColumn("95% high", format="%.2f")})
if not dist.empty:
    order = list(dist["framing"])
    base = alt.Chart(dist).encode(y=alt.Y("framing:N", sort=order, title=None))
    bars = base.mark_rule(strokeWidth=3).encode(
        x=alt.X("low:Q", scale=alt.Scale(domain=[0, 1]), title="p(affirm) with 95% interval"),
        x2="high:Q",
    )
    points = base.mark_point(filled=True, size=120).encode(
        x="p_affirm:Q", tooltip=["framing", "p_affirm", "low", "high", "affirm", "deny",
                                 "unclear", "refuse", "error"],
    )
    st.altair_chart((bars + points).properties(height=60 + 40 * len(dist)), width="stretch")
    st.caption("p(affirm) counts decisive answers only (affirm + deny); unclear and refused "
               "answers are listed but are not denials.")

st.subheader("Answer clusters")
clusters = ui.load(data.claim_clusters, analysis, claim)
if not clusters:
    st.info("No answer clusters stored for this claim.")
for c in clusters[:30]:
    stances = ", ".join(f"{k} {v}" for k, v in sorted(c.stance_counts.items()))
    st.text(f"cluster {c.index}: {c.size} answers  ·  {stances}"
            + ("  ·  MIXED stances: a likely judge error" if c.mixed else ""))
    ui.untrusted("Representative answer", c.representative_text)
if len(clusters) > 30:
    st.caption(f"{len(clusters) - 30} smaller clusters not shown.")

st.subheader("Answers")
st.caption("This claim's answers in the run, least confident verdict first (labelled ones last),"
           " with where each stance came from. Label any of them: labels win over the judges.")
only = st.selectbox("Only answers read as", ["any", "affirm", "deny", "unclear", "refuse", "error"],
                    key="claims_answers_stance")
stance_filter = "" if only == "any" else str(only)
n_answers = ui.load(review_data.claim_answers, run, claim, stance_filter, 0, 0)[1]
offset = label_ui.pager(n_answers, "claims_answers_page")
rows = ui.load(review_data.claim_answers, run, claim, stance_filter, offset, 20)[0]
label_ui.label_form(rows, f"lab-claim-{claim}")
