"""The dashboard's label control: one form per table of answers (a bug's evidence, a claim's
answers, the suggested labels), the same on every page.

Keyboard-friendly: Tab moves from one answer's label to the next, typing a stance's first
letters picks it, and one button saves every change on the page. Saving stores the labels
(behaviordbg.pipeline.labelling), then re-analyses the labelled answers' runs from the stored
verdicts (no model is asked), so the bugs follow before the page shows again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from ..errors import BehaviordbgError
from ..store import HUMAN_STANCES, Store
from . import ui
from .review_data import LabelRow

JUDGE_DECIDES = "judge decides"
CHOICES = (JUDGE_DECIDES, *HUMAN_STANCES)


def save_labels(items: Sequence[tuple[str, str, str]], author: str) -> dict[str, Any]:
    """Store (response id, stance or "" to clear, note) labels and re-analyse their runs on a
    short-lived writable Store; returns what happened to the bugs."""
    from ..pipeline.labelling import label_answers, label_effect, reanalyze

    with Store.open(ui.db_path()) as store:
        written = label_answers(store, items, author=author or "dashboard")
        effect = label_effect(reanalyze(store, [w["run_id"] for w in written]))
    return {"saved": len(written), **effect}


def effect_message(effect: dict[str, Any]) -> str:
    """What saving did, in words (fingerprints and counts only: no model text)."""
    parts = [f"Saved {effect['saved']} label(s)."]
    if effect.get("runs"):
        parts.append(f"Re-analysed {', '.join(effect['runs'])} from stored verdicts (no model"
                     " asked).")
    for key, what in (("closed", "closed as false_positive (evidence relabelled)"),
                      ("reopened", "reopened (labels restore its evidence)"),
                      ("created", "new (created by labels)")):
        for fp in effect.get(key, []):
            parts.append(f"Bug {fp} {what}.")
    return " ".join(parts)


def label_form(rows: Sequence[LabelRow], key: str, *, show_prompt: bool = True) -> None:
    """Each answer with its stance, where the stance came from, and a label picker; one Save."""
    if not rows:
        st.info("No answers to label here.")
        return
    with st.form(key, border=True):
        for r in rows:
            left, right = st.columns([4, 1])
            with left:
                head = (f"{r['response_id']} · {r['claim']} · {r['framing']} · stance"
                        f" {r['stance']} ({r['confidence']:.2f}) from {r['source']}")
                st.text(head + (f" · {r['why']}" if r["why"] else ""))
                # st.text: inert text (never Markdown or HTML), lighter than a code block per row
                st.text((f"Q: {r['prompt']}\nA: {r['answer']}" if show_prompt else r["answer"])
                        + (f"\nlabel note: {r['label_note']}" if r["label_note"] else ""))
            current = r["label"] or JUDGE_DECIDES
            right.selectbox("Label", CHOICES, index=CHOICES.index(current),
                            key=f"{key}:{r['response_id']}",
                            help="Your reading of this answer's stance toward the claim; it wins"
                                 " over every judge, here and for the same answer in later runs.")
        n1, n2 = st.columns([3, 1])
        note = n1.text_input("Note (kept with each label saved)", key=f"{key}:note",
                             placeholder="why: e.g. says it cannot browse; the judge misread")
        author = n2.text_input("Author", key=f"{key}:author",
                               value=st.session_state.get("label_author", "dashboard"))
        submitted = st.form_submit_button("Save labels and re-analyse", type="primary")
    if not submitted:
        return
    items = []
    for r in rows:
        picked = st.session_state.get(f"{key}:{r['response_id']}", JUDGE_DECIDES)
        new = "" if picked == JUDGE_DECIDES else str(picked)
        if new != r["label"]:
            items.append((r["response_id"], new, note.strip()))
    if not items:
        st.info("No label changed.")
        return
    st.session_state["label_author"] = author.strip() or "dashboard"
    try:
        effect = save_labels(items, st.session_state["label_author"])
    except BehaviordbgError as err:
        st.error(str(err))
        return
    ui.flash(effect_message(effect))
    st.rerun()


def pager(total: int, key: str, size: int = 20) -> int:
    """A page number input for `total` rows; returns the offset of the page shown."""
    pages = max(1, -(-total // size))
    if st.session_state.get(key, 1) > pages:
        st.session_state[key] = 1
    page = int(st.number_input("Page", min_value=1, max_value=pages, key=key))
    st.caption(f"{total} answers; page {page} of {pages} ({size} per page).")
    return (page - 1) * size
