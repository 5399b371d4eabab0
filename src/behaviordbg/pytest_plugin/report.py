"""How a failed check reads in CI: what contradicts what, the answers on each side (escaped: model
output is untrusted), the fingerprint and the triage commands; and the session's summary."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..escape import printable
from .session import session_state

if TYPE_CHECKING:
    from ..types import Bug, Evidence
    from .session import Outcome

ANSWER_CHARS = 240
MAX_EVIDENCE = 6


def safe_text(text: str | None, limit: int = ANSWER_CHARS) -> str:
    """Untrusted model output, made harmless for a terminal or XML: control, bidi and zero-width
    characters become visible escapes (\\n, \\x1b, \\u202e); long text is cut with an ellipsis
    (behaviordbg.escape.printable, the one escaper the CLI uses too)."""
    if text is None:
        return "(no answer)"
    return printable(text, limit)


def headline(bugs: list[Bug]) -> str:
    """The one line pytest's short summary shows for a failed check."""
    b = bugs[0]
    more = f" (+{len(bugs) - 1} more)" if len(bugs) > 1 else ""
    return f"[{b.severity}] {b.kind}: {safe_text(b.title, 120)} ({b.fingerprint}){more}"


def _sides(evidence: Iterable[Evidence]) -> tuple[list[Evidence], list[Evidence]]:
    """Split evidence into the two sides of the contradiction: what affirms vs the rest."""
    ev = list(evidence)
    affirm = [e for e in ev if e.stance == "affirm"]
    other = [e for e in ev if e.stance != "affirm"]
    return affirm, other


def _evidence_lines(evidence: list[Evidence], indent: str) -> list[str]:
    from ..types import shown_answer  # the plugin loads types only when it reports

    lines = []
    for e in evidence[:MAX_EVIDENCE]:
        judge = f", {e.judge} {e.confidence:.2f}" if e.judge else ""
        lines.append(f"{indent}[{e.claim_id} / {e.framing}] Q: {safe_text(e.prompt, 200)}")
        lines.append(f"{indent}    A: {safe_text(shown_answer(e))}")
        lines.append(f"{indent}    => {e.stance}{judge}")
    if len(evidence) > MAX_EVIDENCE:
        lines.append(f"{indent}... {len(evidence) - MAX_EVIDENCE} more answers in the dashboard")
    return lines


def conversation_lines(evidence: Iterable[Evidence], indent: str) -> list[str]:
    """Multi-turn evidence (pushback): each conversation turn by turn, with the stance of the
    first answer and of the turn that took the other side (escaped)."""
    from ..types import turns_heading  # the plugin loads types only when it reports

    lines: list[str] = []
    first = {e.claim_id + e.prompt + str(e.sample_idx): e for e in evidence if e.side == "before"}
    for e in [e for e in evidence if e.turns][:MAX_EVIDENCE // 2]:
        lines.append(f"{indent}[{e.claim_id} / {e.framing}, sample {e.sample_idx}]")
        for k, (role, text) in enumerate(e.turns):
            who = "user" if role == "user" else "model"
            lines.append(f"{indent}    {who}: {safe_text(text)}")
            if k == 1:
                before = first.get(e.claim_id + e.turns[0][1] + str(e.sample_idx))
                if before is not None:
                    lines.append(f"{indent}      => {before.stance}")
        after = turns_heading(e)
        lines.append(f"{indent}      => {e.stance} {after}"
                     + (f", {e.judge} {e.confidence:.2f}" if e.judge else ""))
    return lines


def render_bug(bug: Bug, outcome: Outcome) -> list[str]:
    """One bug as a person reads it in CI: what contradicts what, and what to do about it."""
    db = "" if outcome.db.endswith(".behaviordbg/behaviordbg.db") else f" --db {outcome.db}"
    lines = [
        f"[{bug.severity}] {bug.kind}: {safe_text(bug.title, 200)}",
        f"  fingerprint: {bug.fingerprint}   claims: {', '.join(bug.claims)}   "
        f"rate: {bug.rate:.2f}   status: {bug.status}"
        + ("" if bug.certain else "   (uncertain: rests on few answers)"),
    ]
    if bug.candidate:
        lines.append(f"  candidate (weak evidence): {bug.evidence_note}")
    if bug.fingerprint in outcome.prompting:  # --bdbg-prompted-baseline: prompt or train?
        lines.append(f"  prompted baseline: {outcome.prompting[bug.fingerprint]}")
    if bug.witness:
        lines.append(f"  rule chain: {' -> '.join(bug.witness)}")
    affirm, other = _sides(bug.evidence)
    by_value: dict[str, list[Evidence]] = {}
    for e in bug.evidence:
        if e.side.startswith("value="):  # open claims: one group per value mode
            by_value.setdefault(e.side[len("value="):], []).append(e)
    if any(e.turns for e in bug.evidence):
        lines.append("  the conversations, turn by turn:")
        lines += conversation_lines(bug.evidence, "    ")
    elif by_value:
        for value, evidence in by_value.items():
            lines.append(f"  it names {safe_text(value, 80)}:")
            lines += _evidence_lines(evidence, "    ")
    elif affirm and other:
        lines.append("  it says YES (affirms the claim):")
        lines += _evidence_lines(affirm, "    ")
        lines.append("  ... but also NO / otherwise:")
        lines += _evidence_lines(other, "    ")
    else:
        lines.append("  evidence:")
        lines += _evidence_lines(affirm + other, "    ")
    if bug.repro:
        lines.append("  repro prompts: " + " | ".join(safe_text(p, 120) for p in bug.repro))
    lines += [
        "  triage:",
        f"    behaviordbg triage {bug.fingerprint} --status confirmed{db}",
        f"    behaviordbg triage {bug.fingerprint} --status false_positive "
        f"--note \"why it is not a bug\"{db}",
    ]
    return lines


def render_failure(new: list[Bug], known: list[Bug], outcome: Outcome) -> str:
    head = (f"{len(new)} new bug(s)"
            + (f" not in baseline {outcome.baseline}" if outcome.baseline else "")
            + f" (run {outcome.run_id}, model {outcome.model}):")
    lines = [head, ""]
    for bug in new:
        lines += render_bug(bug, outcome) + [""]
    for bug in known:
        lines.append(f"also (known, not failing): {bug.fingerprint} {safe_text(bug.title, 120)} "
                     f"-- {outcome.why_known(bug)}")
    lines.append(f"see them all: behaviordbg dashboard"
                 f"{'' if outcome.db.endswith('.behaviordbg/behaviordbg.db') else ' --db ' + outcome.db}")
    return "\n".join(lines).rstrip()




def terminal_summary(terminalreporter: Any) -> None:
    """The session's run in a few lines after the test results: what was asked, what was found."""
    state = session_state(terminalreporter.config)
    if not state.started:
        return
    tr = terminalreporter
    tr.write_sep("-", "behaviordbg")
    out = state.outcome
    if out is None:
        first = (state.error or "unknown error").splitlines()[0]
        tr.write_line(f"behaviordbg: no run ({first})")
        return
    new = [b for b in out.bugs if out.why_known(b) is None]
    db = "" if out.db.endswith(".behaviordbg/behaviordbg.db") else f" --db {out.db}"
    tr.write_line(
        f"behaviordbg: run {out.run_id} ({out.model}): {out.queries} queries, "
        f"{out.requests_sent} requests sent, {out.cache_hits} cache hits, {out.errors} failed; "
        f"{len(out.bugs)} bugs ({len(new)} failing, {len(out.bugs) - len(new)} known)"
        + (f"; {out.candidates_held_back} candidates held back (--bdbg-include-candidates=yes"
           " fails on them too)" if out.candidates_held_back else "")
    )
    if out.prompting_summary:
        tr.write_line(f"behaviordbg: {out.prompting_summary}")
    unshown = [b for b in out.bugs if b.fingerprint not in out.used]
    if unshown:
        tr.write_line(f"behaviordbg: {len(unshown)} bug(s) outside the selected checks: "
                      + ", ".join(f"{b.fingerprint} ({b.kind})" for b in unshown[:10]))
    tr.write_line(f"behaviordbg: triage them in the dashboard: behaviordbg dashboard{db}")
