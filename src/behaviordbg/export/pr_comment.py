"""A run diff as a compact pull-request comment (`behaviordbg diff A B --format markdown`).

A headline (new, resolved, persisting), a table of new bugs and one of resolved bugs with their
fingerprints, then a collapsed `<details>` section with the other groups (changed, not
reproduced, persisting) and the evidence of each new bug (its repro prompts and answers).

Every text from a suite, a database or the model goes through `escape.py`: titles, notes and
kinds with `md_inline` (HTML-escaped, Markdown punctuation escaped, one line), identifiers with
`md_code_inline`, prompts and answers inside fences they cannot close (`md_fence`). So nothing in
an answer can close the `<details>` element, add a link, an image or a tag, or break a table.

GitHub refuses a comment body over 65,536 characters. The comment is built piece by piece under
`BUDGET` (the limit minus room for the closing lines): rows and evidence that do not fit are left
out, and the comment says how many, and which command shows them all.
"""

from __future__ import annotations

from typing import Any

from ..escape import clip, md_code_inline, md_fence, md_inline
from ..types import shown_answer

GITHUB_LIMIT = 65_536  # GitHub's maximum comment body, in characters
BUDGET = GITHUB_LIMIT - 2_000  # what the pieces may use; the rest is for the closing lines
TITLE_LIMIT = 140  # a bug title in a table cell
NOTE_LIMIT = 200  # a diff note in a table cell
ANSWER_LIMIT = 800  # a prompt or answer in the evidence section
EVIDENCE_PER_BUG = 2  # answers shown per new bug
MARKER = "<!-- behaviordbg-diff -->"  # lets a workflow find (and edit) its own earlier comment


def _rate(rate: float | None, counts: Any) -> str:
    if rate is None:
        return "-"
    return f"{rate:.0%} ({counts[0]}/{counts[0] + counts[1]})"


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.3g}"


def headline(diff: dict[str, Any]) -> str:
    """One line: the counts a reviewer needs, and which runs were compared."""
    s = diff["summary"]
    extra = "".join(
        f", {s[k]} {label}" for k, label in (("changed", "changed"),
                                            ("not_reproduced", "not reproduced (inconclusive)"))
        if s.get(k))
    mark = "❌" if s["new"] else "✅"
    return (f"{mark} **behaviordbg:** {s['new']} new, {s['resolved']} resolved,"
            f" {s['persisting']} persisting bugs{extra}"
            f" ({md_code_inline(diff['run_a'])} → {md_code_inline(diff['run_b'])})")


def _new_row(c: dict[str, Any]) -> str:
    return (f"| {md_inline(c['severity_b'] or '-')} | {md_inline(c['kind'])} |"
            f" {md_inline(c['title'], TITLE_LIMIT)} | {md_code_inline(c['fingerprint'])} |"
            f" {_rate(c['rate_b'], c['counts_b'])} |")


def _resolved_row(c: dict[str, Any]) -> str:
    return (f"| {md_inline(c['severity_a'] or '-')} | {md_inline(c['kind'])} |"
            f" {md_inline(c['title'], TITLE_LIMIT)} | {md_code_inline(c['fingerprint'])} |"
            f" {_rate(c['rate_a'], c['counts_a'])} → {_rate(c['rate_b'], c['counts_b'])} |"
            f" {_p(c['p_value'])} |")


def _other_row(c: dict[str, Any]) -> str:
    return (f"| {md_inline(c['change'].replace('_', ' '))} |"
            f" {md_inline(c['severity_a'] or '-')} → {md_inline(c['severity_b'] or '-')} |"
            f" {md_inline(c['kind'])} | {md_inline(c['title'], TITLE_LIMIT)} |"
            f" {md_code_inline(c['fingerprint'])} |"
            f" {_rate(c['rate_a'], c['counts_a'])} → {_rate(c['rate_b'], c['counts_b'])} |"
            f" {md_inline(c['note'] or '', NOTE_LIMIT)} |")


def _evidence(c: dict[str, Any], bug: dict[str, Any] | None) -> str:
    """A new bug's repro prompts and first answers, each in a fence it cannot close."""
    lines = [f"**{md_code_inline(c['fingerprint'])}** {md_inline(c['title'], TITLE_LIMIT)}", ""]
    if bug is None:
        return "\n".join([*lines, "(no evidence stored)", ""])
    for i, prompt in enumerate(bug.get("repro") or [], 1):
        lines += [f"Repro prompt {i}:", "", md_fence(clip(prompt, ANSWER_LIMIT)), ""]
    evidence = bug.get("evidence") or []
    for ev in evidence[:EVIDENCE_PER_BUG]:
        lines += [f"Prompt ({md_inline(ev.get('framing') or '')},"
                  f" {md_code_inline(ev.get('claim_id') or '')}):", "",
                  md_fence(clip(ev.get("prompt") or "", ANSWER_LIMIT)), "",
                  f"Answer (judged {md_inline(ev.get('stance') or '')}):", "",
                  md_fence(clip(shown_answer(ev), ANSWER_LIMIT)), ""]
    if len(evidence) > EVIDENCE_PER_BUG:
        lines += [f"... and {len(evidence) - EVIDENCE_PER_BUG} more answers.", ""]
    return "\n".join(lines)


class _Comment:
    """Lines added while they fit the budget; what did not fit is counted."""

    def __init__(self, budget: int) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.budget = budget
        self.left_out = 0

    def add(self, text: str) -> bool:
        if self.size + len(text) + 1 > self.budget:
            self.left_out += 1
            return False
        self.lines.append(text)
        self.size += len(text) + 1
        return True

    def table(self, head: str, rows: list[str]) -> None:
        sep = "|" + "---|" * head.count(" | ") + "---|"
        if not self.add(f"{head}\n{sep}"):
            self.left_out += len(rows)
            return
        for i, row in enumerate(rows):
            if not self.add(row):
                self.left_out += len(rows) - i - 1
                return


def render(diff: dict[str, Any], bugs: dict[str, dict[str, Any]] | None = None, *,
           command: str = "behaviordbg diff RUN_A RUN_B", budget: int = BUDGET) -> str:
    """The PR comment for `diff` (`RunDiff.to_dict()`); `bugs` maps a fingerprint to its bug
    (`types.to_dict(Bug)`), for the evidence of new bugs. `command` is named when rows were left
    out. The result is at most `budget` + 2,000 characters (GitHub's limit by default)."""
    bugs = bugs or {}
    out = _Comment(budget)
    out.add(MARKER)
    out.add(headline(diff))
    out.add("")
    for warning in diff.get("warnings") or []:
        out.add(f"> **Warning:** {md_inline(warning, NOTE_LIMIT)}\n")
    new, resolved = diff["new"], diff["resolved"]
    if new:
        out.add(f"#### New bugs ({len(new)})\n")
        out.table("| severity | kind | bug | fingerprint | rate |", [_new_row(c) for c in new])
        out.add("")
    if resolved:
        out.add(f"#### Resolved bugs ({len(resolved)})\n")
        out.table("| severity before | kind | bug | fingerprint | rate before → after | p |",
                  [_resolved_row(c) for c in resolved])
        out.add("")
    if not new and not resolved:
        out.add("No new and no resolved bugs.\n")
    others = [*diff["changed"], *diff["not_reproduced"], *diff["persisting"]]
    s = diff["summary"]
    out.add("<details>")
    out.add(f"<summary>{s['changed']} changed, {s['not_reproduced']} not reproduced,"
            f" {s['persisting']} persisting; evidence of the new bugs</summary>\n")
    if others:
        out.table("| change | severity | kind | bug | fingerprint | rate before → after | note |",
                  [_other_row(c) for c in others])
        out.add("")
    if new:
        out.add("##### Evidence of the new bugs\n")
        for c in new:
            out.add(_evidence(c, bugs.get(c["fingerprint"])))
    tail = ["</details>", ""]
    if out.left_out:
        tail.append(f"{out.left_out} rows or sections were left out to stay within GitHub's"
                    f" {GITHUB_LIMIT:,}-character comment limit: {md_code_inline(command)}"
                    " shows them all.")
    tail.append(f"Rates: the share of decisive answers in the bug's claim/framing cells that"
                f" side with the contradiction; resolved means a significant drop (Fisher's exact"
                f" test, p < {diff.get('alpha', 0.05)}).")
    return "\n".join([*out.lines, *tail]) + "\n"
