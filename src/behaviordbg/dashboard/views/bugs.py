"""Bugs: filter and sort, read one bug's evidence side by side, triage it, export the selection;
then the candidates (held back for weak evidence) under their own heading."""

from __future__ import annotations

import streamlit as st

from behaviordbg.dashboard import data, label_ui, review_data, ui
from behaviordbg.errors import BehaviordbgError
from behaviordbg.types import (
    BUG_STATUSES,
    CONTRADICTION_KINDS,
    SEVERITIES,
    shown_answer,
    turns_heading,
)

st.title("Bugs")
ui.flash()
analysis = ui.current_analysis()
run = ui.selected_run()

f1, f2, f3 = st.columns(3)
kinds = f1.multiselect("Kind", CONTRADICTION_KINDS, key="bugs_kinds")
severities = f2.multiselect("Severity", SEVERITIES, key="bugs_severities")
statuses = f3.multiselect("Status", BUG_STATUSES, key="bugs_statuses")
f4, f5, f6 = st.columns([3, 2, 1])
text = f4.text_input("Search", key="bugs_search",
                     placeholder="title, fingerprint, claim or assignee")
sort = f5.selectbox("Sort by", list(data.BUG_SORTS), key="bugs_sort",
                    help="Sorted in the database, so it covers every page. Column headers sort "
                         "only the page shown.")
flt = data.BugFilter(tuple(kinds), tuple(severities), tuple(statuses), text, sort or "severity")
pages = max(1, -(-ui.load(data.bug_total, analysis, flt) // ui.PAGE_SIZE))
if st.session_state.get("bugs_page", 1) > pages:  # a narrower filter has fewer pages
    st.session_state["bugs_page"] = 1
page_no = int(f6.number_input("Page", min_value=1, max_value=pages, key="bugs_page"))
table, total = ui.load(data.bugs_table, analysis, flt, ui.PAGE_SIZE, (page_no - 1) * ui.PAGE_SIZE)
st.caption(f"{total} bugs match; page {page_no} of {pages}. Select rows to export them; the "
           "first selected row opens below.")
prompting = ui.load(data.prompt_verdicts, run)  # a prompted baseline: fixed by a prompt, or not?
if prompting is not None:
    table = data.with_prompting(table, prompting.labels)
    verdict_counts = ", ".join(f"{n} {k.replace('_', ' ')}"
                               for k, n in prompting.counts.items() if n)
    st.caption(f"Prompted baseline: twin run {prompting.prompted_run}, system prompt"
               f" {prompting.prompt_sha256[:12]} ({prompting.prompt_source}): "
               f"{prompting.pending or verdict_counts or 'no bugs either way'}. A bug that survives"
               " prompting needs training data; `behaviordbg bugs RUN --survives-prompting`"
               " lists them.")

event = st.dataframe(
    table, hide_index=True, width="stretch", key="bugs_table", on_select="rerun",
    selection_mode="multi-row",
    column_config={
        "severity_score": st.column_config.ProgressColumn("score", min_value=0, max_value=1),
        "rate": st.column_config.NumberColumn("rate", format="%.2f"),
        "confidence": st.column_config.NumberColumn("confidence", format="%.2f"),
    },
)
rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
selected = [table.iloc[i]["fingerprint"] for i in rows if i < len(table)]



def show_removed() -> None:
    """Bugs that people's labels took away in this analysis, with their status now."""
    removed = ui.load(review_data.removed_by_labels, analysis)
    if removed.empty:
        return
    st.subheader(f"Removed by labels ({len(removed)})")
    st.caption("The judge's verdicts alone give these bugs; the labels in force take their"
               " evidence away. Change a label back (Claims page) to restore one.")
    st.dataframe(removed, hide_index=True, width="stretch", key="removed_table")


def show_candidates() -> None:
    """Contradictions held back because a side rests on weak verdicts: listed, never counted."""
    cands, n = ui.load(data.candidates_table, analysis)
    st.divider()
    st.header(f"Candidates ({n})")
    st.caption("Held back, not bugs: some side of the contradiction rests only on verdicts below"
               " the solid confidence, with no second judge agreeing. They do not fail"
               " `check --fail-on` or pytest and are not exported unless asked"
               " (`behaviordbg bugs --candidates`, `export --candidates`). `analyze --verify`"
               " has a second judge re-read them.")
    if cands.empty:
        st.info("No candidates in this analysis.")
        return
    st.dataframe(cands, hide_index=True, width="stretch", key="candidates_table")
    names = dict(zip(cands["fingerprint"], cands["title"]))
    fp = st.selectbox("Open candidate", list(names), key="candidates_open",
                      format_func=lambda f: f"{f}  {names.get(f, '')}")
    cand = ui.load(data.candidate, analysis, fp)
    st.text(cand.title)
    st.text(f"why held back: {cand.evidence_note}")  # built from verdicts, never model text
    if cand.verification:
        st.text(f"verification: {cand.verification.get('outcome')} by"
                f" {cand.verification.get('judge')}")
    for col, e in zip(st.columns(max(1, min(4, len(cand.evidence)))), cand.evidence[:4]):
        with col:
            st.text(f"{e.side or '-'} side · {e.claim_id} · {e.framing}")
            ui.untrusted("Prompt", e.prompt)
            ui.untrusted("Answer", shown_answer(e))
            st.text(f"stance: {e.stance} ({e.confidence:.2f}) by {e.judge}"
                    + (f"\nsecond opinion: {e.second_opinion}" if e.second_opinion else ""))
    label_ui.label_form(ui.load(review_data.evidence_rows, analysis, fp, candidate=True),
                        f"lab-cand-{fp}")


if table.empty:
    st.info("No bugs match these filters.")
    show_removed()
    show_candidates()
    st.stop()

titles = dict(zip(table["fingerprint"], table["title"]))
picked = st.selectbox("Open bug", list(titles), key="bugs_open",
                      format_func=lambda fp: f"{fp}  {titles.get(fp, '')}",
                      help="Or select a row in the table above.")
fingerprint = selected[0] if selected else picked
detail = ui.load(data.bug_detail, analysis, fingerprint)
bug, rec = detail.bug, detail.triage

st.divider()
st.subheader("Selected bug")
st.text(bug.title)
st.text(f"fingerprint {bug.fingerprint}  ·  {bug.kind}  ·  severity {bug.severity} "
        f"({bug.severity_score:.2f})  ·  rate {bug.rate:.2f}  ·  status {rec['status']}"
        f"  ·  assignee {rec['assignee'] or '-'}"
        + ("  ·  REGRESSION" if rec.get("regression") else ""))
if bug.summary:
    ui.untrusted("Summary", bug.summary)
if bug.evidence_note:
    st.text(f"evidence: {bug.evidence_note}")
if prompting is not None and bug.fingerprint in prompting.lines:
    st.text(f"prompted baseline: {prompting.lines[bug.fingerprint]}")
if bug.verification:
    st.text(f"verification: {bug.verification.get('outcome')} by {bug.verification.get('judge')}")

st.subheader("Evidence")
shown = list(bug.evidence[:4])
for col, e in zip(st.columns(max(1, len(shown))), shown):
    with col:
        st.text(f"{e.claim_id} · {e.framing} · sample {e.sample_idx}")
        ui.untrusted("Prompt", e.prompt)
        ui.untrusted("Answer", shown_answer(e))
        st.text(f"{e.side or '-'} side · stance: {e.stance} ({e.confidence:.2f})\njudge: {e.judge}"
                + (f"\nsecond opinion: {e.second_opinion}" if e.second_opinion else ""))
        for v in detail.verdicts.get(e.response_id, []):
            # judge output (an LLM's rationale included) is untrusted text too
            st.text(f"{v['judge']} -> {v['label']} ({v['confidence']:.2f}) by {v['judged_by']}"
                    + (f"\n  judges disagree: {v['disagreement']}" if v["disagreement"] else "")
                    + (f"\n  why: {v['rationale']}" if v["rationale"] else ""))
if len(bug.evidence) > len(shown):
    st.dataframe(detail.evidence, hide_index=True, width="stretch")
talks = [e for e in bug.evidence if e.turns]
if talks:  # pushback (`caves`): each conversation that flipped, turn by turn
    st.subheader("Conversations, turn by turn")
    for e in talks:
        after = turns_heading(e)
        st.text(f"{e.claim_id} · {e.framing} · sample {e.sample_idx} · {after}: {e.stance}")
        ui.conversation(e.turns)

st.subheader("Label the evidence")
st.caption("Misread answer? Set its stance: labels win over the judges, here and for the same"
           " answer in later runs. Saving re-analyses the run from stored verdicts; a bug whose"
           " evidence the labels take away is closed as false_positive (evidence relabelled).")
label_ui.label_form(ui.load(review_data.evidence_rows, analysis, bug.fingerprint),
                    f"lab-{bug.fingerprint}")

left, right = st.columns(2)
with left:
    st.subheader("Minimal repro")
    st.caption("Send these prompts (each in a fresh chat) to reproduce the bug.")
    st.code("\n".join(bug.repro) or "(no repro recorded)", language=None, wrap_lines=True)
    if bug.witness:
        st.text("witness: " + " => ".join(bug.witness))
with right:
    st.subheader("Answer clusters")
    if detail.clusters:
        st.dataframe(
            [{"claim": c.claim_id, "cluster": c.index, "size": c.size,
              "stances": ", ".join(f"{k} {v}" for k, v in sorted(c.stance_counts.items())),
              "mixed": c.mixed, "representative answer": c.representative_text}
             for c in detail.clusters],
            hide_index=True, width="stretch",
        )
    else:
        st.info("No answer clusters for this bug's claims.")

st.subheader("Triage")
with st.form("triage_form"):
    t1, t2 = st.columns(2)
    status = t1.selectbox("Status", BUG_STATUSES, index=BUG_STATUSES.index(rec["status"])
                          if rec["status"] in BUG_STATUSES else 0)
    assignee = t2.text_input("Assignee", value=rec["assignee"] or "")
    labels = st.text_input("Labels (comma separated)", value=", ".join(rec["labels"]))
    note = st.text_area("Note", placeholder="why: e.g. judge error, fixed by data batch 12")
    if st.form_submit_button("Save triage", type="primary"):
        try:
            result = ui.apply_triage(
                bug.fingerprint, status=status, assignee=assignee.strip(),
                labels=[x for x in labels.split(",")], note=note.strip() or None,
            )
        except BehaviordbgError as err:
            st.error(str(err))
        else:
            changed = ", ".join(result.get("changed", [])) or "nothing (no change)"
            ui.flash(f"Saved: {changed}.")
            st.rerun()

if detail.history:
    st.caption("History")
    st.dataframe(detail.history, hide_index=True, width="stretch",
                 column_order=["at", "field", "old", "new", "note", "actor", "run_id"])

st.subheader("Export")
export_fps = selected or [bug.fingerprint]
st.caption(f"{len(export_fps)} bug(s): " + ("the selected rows." if selected else
                                          "the open bug (select rows to export several)."))
try:
    rendered = ui.load(data.export_selection, run, tuple(export_fps))
    suffixes = data.export_suffixes()
except ImportError as err:
    st.warning(f"Exports are unavailable: {err}")
else:
    cols = st.columns(len(rendered))
    for col, (fmt, body) in zip(cols, rendered.items()):
        col.download_button(fmt, data=body.encode("utf-8"),
                            file_name=f"bugs-{run}{suffixes.get(fmt, '.txt')}",
                            key=f"export_{fmt}", on_click="ignore")

show_removed()
show_candidates()
