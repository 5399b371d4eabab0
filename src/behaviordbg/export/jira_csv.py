"""Jira CSV export for Jira's CSV importer: Summary, Description, Issue Type, Priority, Labels.

Jira imports several labels from repeated `Labels` columns. Every cell is neutralised against
spreadsheet formulas; model answers sit in {noformat} blocks so Jira markup in them stays text.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from ..escape import clip, csv_cell, jira_inline, jira_noformat

PRIORITY = {"critical": "Highest", "high": "High", "medium": "Medium", "low": "Low"}
ISSUE_TYPE = "Bug"
# Jira's default text-field limit (jira.text.field.character.limit), also Excel's cell limit: a
# longer Description fails the import. Long model answers are clipped; the json export has them.
DESCRIPTION_LIMIT = 32_767
ANSWER_LIMIT = 2_000


def _clip(text: str, limit: int = ANSWER_LIMIT) -> str:
    return clip(text, limit)


def _label(text: str) -> str:
    return re.sub(r"\s+", "_", text.strip())


def description(bug: dict[str, Any], run: dict[str, Any]) -> str:
    parts = [
        f"behaviordbg found a contradiction of kind {jira_inline(bug['kind'])} in model"
        f" {jira_inline(str(run.get('model') or ''))} (run {jira_inline(run['run_id'])}).",
        f"Fingerprint: {jira_inline(bug['fingerprint'])}",
        f"Claims: {jira_inline(', '.join(bug['claims']))}",
        f"Rate: {bug.get('rate', 0.0):.0%}, confidence {bug.get('confidence', 0.0):.2f},"
        f" status {jira_inline(bug.get('status') or 'new')}",
    ]
    if bug.get("prompting"):
        parts.append(f"Prompted baseline: {jira_inline(_prompting_line(bug['prompting']))}")
    if bug.get("summary"):
        parts.append(jira_inline(bug["summary"], ANSWER_LIMIT))
    parts.append("h3. Repro")
    parts += [jira_noformat(_clip(p)) for p in bug.get("repro") or []]
    parts.append("h3. Answers")
    triage = f"Triage: behaviordbg triage {jira_inline(bug['fingerprint'])} --status ..."
    evidence = bug.get("evidence") or []
    for i, e in enumerate(evidence, 1):
        item = [f"{i}. {jira_inline(e['framing'])} / stance *{jira_inline(e['stance'])}*"
                f" ({jira_inline(e['claim_id'])})",
                jira_noformat(_conversation(e) if e.get("turns") else
                              f"Q: {_clip(e['prompt'])}\nA: {_clip(e['response'])}")]
        if len("\n".join([*parts, *item, triage])) > DESCRIPTION_LIMIT - 200:
            parts.append(f"({len(evidence) - i + 1} more answers: see the json export)")
            break
        parts += item
    parts.append(triage)
    return "\n".join(parts)


def _prompting_line(p: dict[str, Any]) -> str:
    from .markdown import prompting_line

    return prompting_line(p)


def render(payload: dict[str, Any]) -> str:
    bugs = payload["bugs"]
    label_sets = [
        list(dict.fromkeys(_label(x) for x in [
            "behaviordbg", f"kind-{b['kind']}", *(b.get("labels") or []),
            *([f"prompting-{b['prompting']['verdict']}"] if b.get("prompting") else [])]
            if _label(x)))
        for b in bugs
    ]
    n_labels = max((len(s) for s in label_sets), default=1)
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(["Summary", "Description", "Issue Type", "Priority", *["Labels"] * n_labels])
    for bug, labels in zip(bugs, label_sets):
        summary = " ".join(f"[{bug['severity']}] {bug['title']}".split())[:250]
        row = [summary, description(bug, payload["run"]), ISSUE_TYPE,
               PRIORITY.get(bug["severity"], "Medium"), *labels, *[""] * (n_labels - len(labels))]
        writer.writerow([csv_cell(c) for c in row])
    return buf.getvalue()


def _conversation(e: dict[str, Any]) -> str:
    """A pushback conversation turn by turn (escaped by jira_noformat)."""
    return "\n".join(f"{'user' if role == 'user' else 'model'}: {_clip(text)}"
                     for role, text in e["turns"])
