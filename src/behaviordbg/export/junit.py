"""JUnit XML export for CI report viewers: a failing testcase per bug, a passing one per clean claim.

Built with ElementTree (which escapes <, > and &); characters XML 1.0 forbids are made visible
first, so a hostile answer cannot produce an unparsable report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ..escape import clip, xml_text
from ..types import shown_answer, turns_heading

ANSWER_LIMIT = 2_000  # an answer or prompt in a failure's text; the json export has the rest


def _failure_text(bug: dict[str, Any]) -> str:
    lines = [f"fingerprint: {bug['fingerprint']}", f"kind: {bug['kind']}",
             f"severity: {bug['severity']}  rate: {bug.get('rate', 0.0):.0%}"
             f"  status: {bug.get('status') or 'new'}",
             f"claims: {', '.join(bug['claims'])}", ""]
    if bug.get("summary"):
        lines += [clip(bug["summary"], ANSWER_LIMIT), ""]
    lines += ["repro:"] + [f"  - {clip(p, ANSWER_LIMIT)}" for p in bug.get("repro") or []]
    lines += ["", "evidence:"]
    for e in bug.get("evidence") or []:
        if e.get("turns"):  # pushback: the whole conversation, turn by turn
            after = turns_heading(e)
            lines.append(f"  [{e['stance']} {after}] ({e['claim_id']}, {e['framing']})")
            lines += [f"      {'user' if role == 'user' else 'model'}: {clip(text, ANSWER_LIMIT)}"
                      for role, text in e["turns"]]
            continue
        lines += [f"  [{e['stance']}] ({e['claim_id']}, {e['framing']})"
                  f" Q: {clip(e['prompt'], ANSWER_LIMIT)}",
                  f"      A: {clip(shown_answer(e), ANSWER_LIMIT)}"]
    lines += ["", f"triage: behaviordbg triage {bug['fingerprint']} --status confirmed|false_positive"]
    return xml_text("\n".join(lines))


def render(payload: dict[str, Any]) -> str:
    run = payload["run"]
    bugs = payload["bugs"]
    buggy = {c for b in bugs for c in b["claims"]}
    clean = [c["id"] for c in payload.get("claims", []) if c["id"] not in buggy]
    tests = len(bugs) + len(clean)
    root = ET.Element("testsuites", name="behaviordbg", tests=str(tests), failures=str(len(bugs)),
                      errors="0")
    suite = ET.SubElement(root, "testsuite", name=xml_text(f"behaviordbg.{run['run_id']}"),
                          tests=str(tests), failures=str(len(bugs)), errors="0", skipped="0",
                          timestamp=xml_text(str(run.get("created_at") or "")))
    props = ET.SubElement(suite, "properties")
    for key in ("model", "judge", "analysis_id"):
        ET.SubElement(props, "property", name=key, value=xml_text(str(run.get(key) or "")))
    for bug in bugs:
        case = ET.SubElement(suite, "testcase", classname=xml_text(f"behaviordbg.{bug['kind']}"),
                             name=xml_text(f"{'+'.join(bug['claims'])} [{bug['fingerprint'][:12]}]"))
        fail = ET.SubElement(case, "failure", type=xml_text(bug["kind"]),
                             message=xml_text(f"[{bug['severity']}] {bug['title']}"))
        fail.text = _failure_text(bug)
    for claim in clean:
        ET.SubElement(suite, "testcase", classname="behaviordbg.consistency",
                      name=xml_text(f"{claim} is consistent"))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
