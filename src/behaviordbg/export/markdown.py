"""Markdown export: one paste-ready ticket per bug.

Model answers appear twice: escaped into a side-by-side table (HTML-escaped, Markdown punctuation
and pipes backslash-escaped) and in full inside fenced blocks whose fence is longer than any
backtick run in the answer, so no answer can inject links, images, HTML or break the layout.
"""

from __future__ import annotations

from typing import Any

from ..escape import clip, md_code_inline, md_fence, md_inline
from ..types import BUG_STATUSES, shown_answer, turns_heading

CELL_LIMIT = 240  # an answer or prompt in the side-by-side table
ANSWER_LIMIT = 4_000  # an answer or prompt in full (fenced); longer ones say the json export has it


def ticket(bug: dict[str, Any], run: dict[str, Any], *, heading: bool = True,
           answer_limit: int = ANSWER_LIMIT, max_evidence: int | None = None) -> str:
    """One bug as a Markdown ticket (the body of a GitHub issue when heading=False).

    Answers, prompts and the summary are clipped to `answer_limit` characters; with
    `max_evidence`, only that many answers are shown (the count of the rest is named)."""
    fp = md_code_inline(bug["fingerprint"])
    claims = ", ".join(md_code_inline(c) for c in bug["claims"])
    lines: list[str] = []
    if heading:
        lines += [f"## [{bug['severity']}] {md_inline(bug['title'])}", ""]
    lines += [
        f"- **Fingerprint:** {fp}",
        f"- **Kind:** {md_inline(bug['kind'])}  **Severity:** {md_inline(bug['severity'])}"
        f"  **Status:** {md_inline(bug.get('status') or 'new')}"
        + ("  **Regression**" if bug.get("regression") else ""),
        f"- **Claims:** {claims}",
        *([f"- **Candidate:** held back, not a bug: {md_inline(bug.get('evidence_note') or '')}"]
          if bug.get("candidate") else
          [f"- **Evidence:** {md_inline(bug['evidence_note'])}"] if bug.get("evidence_note")
          else []),
        *([f"- **Verified:** {md_inline(str(bug['verification'].get('outcome')))} by"
           f" {md_inline(str(bug['verification'].get('judge')))}"] if bug.get("verification")
          else []),
        *([f"- **Prompted baseline:** {md_inline(prompting_line(bug['prompting']))}"]
          if bug.get("prompting") else []),
        f"- **Rate:** {bug.get('rate', 0.0):.0%} of answers contradict"
        f" (confidence {bug.get('confidence', 0.0):.2f}"
        + ("" if bug.get("certain", True) else ", rests on a single odd sample") + ")",
        f"- **Model:** {md_inline(str(run.get('model') or ''))}  **Run:** {md_code_inline(run['run_id'])}"
        f"  **Judge:** {md_inline(str(run.get('judge') or ''))}",
        "",
    ]
    if bug.get("summary"):
        lines += ["### Summary", "", md_inline(bug["summary"], answer_limit), ""]
    if bug.get("witness"):
        lines += ["Witness: " + " → ".join(md_inline(w) for w in bug["witness"]), ""]
    lines += ["### Repro", "", "Send each prompt in a fresh conversation:" if not any(
        e.get("turns") for e in bug.get("evidence") or []) else
        "Send the first prompt in a fresh conversation, then the challenge in the same one:", ""]
    for i, prompt in enumerate(bug.get("repro") or [], 1):
        lines += [f"Prompt {i}:", "", md_fence(clip(prompt, answer_limit)), ""]
    evidence = bug.get("evidence") or []
    hidden = 0
    if max_evidence is not None and len(evidence) > max_evidence:
        evidence, hidden = evidence[:max_evidence], len(evidence) - max_evidence
    if hidden:
        lines += [f"({hidden} more answers: see the json export)", ""]
    if evidence:
        lines += ["### Answers side by side", "",
                  "| # | side | claim | framing | prompt | answer | stance | conf. |",
                  "|---|---|---|---|---|---|---|---|"]
        for i, e in enumerate(evidence, 1):
            lines.append(
                f"| {i} | {md_inline(e.get('side') or '')} | {md_inline(e['claim_id'])} |"
                f" {md_inline(e['framing'])} | "
                f"{md_inline(e['prompt'], CELL_LIMIT)} | {md_inline(shown_answer(e), CELL_LIMIT)} | "
                f"**{md_inline(e['stance'])}** | {float(e.get('confidence', 0.0)):.2f} |"
            )
        lines += ["", "<details><summary>Full answers (untrusted model output)</summary>", ""]
        for i, e in enumerate(evidence, 1):
            lines += [f"**{i}. {md_inline(e['stance'])}** ({md_code_inline(e['response_id'])})", "",
                      md_fence(clip(shown_answer(e), answer_limit)), ""]
        lines += ["</details>", ""]
    talks = [e for e in evidence if e.get("turns")]
    if talks:  # pushback (`caves`): the conversation that flipped, turn by turn
        lines += ["### Conversations, turn by turn (untrusted model output)", ""]
        for i, e in enumerate(talks, 1):
            lines += [f"**Conversation {i}** ({md_inline(e['claim_id'])},"
                      f" {md_inline(e['framing'])}, sample {int(e.get('sample_idx') or 0)}):", ""]
            for role, text in e["turns"]:
                who = "user" if role == "user" else "model"
                lines.append(f"- **{who}:** {md_inline(text, CELL_LIMIT)}")
            after = turns_heading(e)
            lines += ["", f"Stance {after}: **{md_inline(e['stance'])}**", ""]
    lines += [
        "### How to triage", "",
        md_fence(f"behaviordbg triage {bug['fingerprint']} --status confirmed --note \"...\"\n"
                 f"# statuses: {' | '.join(BUG_STATUSES)}\n"
                 f"behaviordbg history {bug['fingerprint']}", "sh"),
        "",
    ]
    return "\n".join(lines)


def prompting_line(p: dict[str, Any]) -> str:
    """A bug's prompted-baseline verdict in words, with the rates and p-value behind it."""
    def rate(r: float | None, c: list[int]) -> str:
        return "-" if r is None else f"{r:.0%} ({c[0]}/{c[0] + c[1]})"
    p_value = "" if p.get("p_value") is None else f", p={p['p_value']:.3g}"
    note = f"; {p['note']}" if p.get("note") else ""
    return (f"{p['label']}: rate {rate(p.get('rate_base'), p['counts_base'])} as configured,"
            f" {rate(p.get('rate_prompted'), p['counts_prompted'])} with the system prompt"
            f"{p_value}{note}")


def render(payload: dict[str, Any]) -> str:
    """All bugs of the run, newest analysis, one ticket each, separated by rules."""
    run = payload["run"]
    head = [
        f"# behaviordbg bugs: {md_inline(run['run_id'])}", "",
        f"{len(payload['bugs'])} bug(s) in model {md_inline(str(run.get('model') or ''))},"
        f" run created {md_inline(str(run.get('created_at') or ''))}, judge"
        f" {md_inline(str(run.get('judge') or ''))}.", "",
    ]
    tickets = [ticket(b, run) for b in payload["bugs"]]
    return "\n".join(head) + "\n" + "\n---\n\n".join(tickets) + ("\n" if tickets else "")
