"""Judges: each judge's accuracy against people's labels, overall, per framing and per claim,
with 95% Wilson intervals and a confusion matrix; the labels as a download."""

from __future__ import annotations

import streamlit as st

from behaviordbg.dashboard import review_data, ui

st.title("Judges")
scores = ui.load(review_data.judge_scores)
st.caption(f"{scores['labelled']} answers labelled by people. Each judge's newest verdict on"
           " each labelled answer counts once (an answer asked again in later runs too).")
if scores["overall"].empty:
    st.info("No labelled answer has a judge verdict yet. Label answers on the Review, Bugs or"
            " Claims page, or with `behaviordbg label`.")
else:
    pct = {c: st.column_config.NumberColumn(c, format="%.2f") for c in ("accuracy", "low", "high")}
    st.dataframe(scores["overall"], hide_index=True, width="stretch", column_config=pct,
                 key="judges_overall")
    judge = st.selectbox("Judge", list(scores["detail"]), key="judges_pick")
    detail = scores["detail"][judge]
    st.subheader("Confusion matrix")
    st.caption("Rows: the person's label; columns: the judge's verdict.")
    st.dataframe(detail["confusion"], hide_index=True, width="stretch", key="judges_confusion")
    left, right = st.columns(2)
    with left:
        st.subheader("Per framing")
        st.dataframe(detail["by_framing"], hide_index=True, width="stretch", column_config=pct)
    with right:
        st.subheader("Per claim, worst first")
        st.dataframe(detail["by_claim"], hide_index=True, width="stretch", column_config=pct)

run = ui.current_run()
if run is not None:
    st.subheader("Export the labels")
    st.caption("JSONL in the schema `behaviordbg judge` reads (the eval/ sets): grow them, or"
               " score any judge on your labels. Same as `behaviordbg export RUN --format labels`.")
    body = ui.load(review_data.labels_jsonl, run)
    st.download_button("labels.jsonl", data=body.encode("utf-8"), file_name=f"labels-{run}.jsonl",
                       key="labels_download", on_click="ignore")
