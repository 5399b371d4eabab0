"""SARIF 2.1.0 export: one rule per contradiction kind, one result per bug.

partialFingerprints carry the bug fingerprint, so code-scanning tools track a bug across runs the
way behaviordbg does. Locations point at the suite file (and the claim's line when found).
Messages are plain text (no `markdown` property), so viewers do not render model output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import __version__
from ..escape import clip, strip_controls
from ..types import CONTRADICTION_KINDS, shown_answer

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "behaviordbg/v1"
ANSWER_LIMIT = 2_000  # an answer or prompt in a result's properties (the message shows 200)
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
RULE_TEXT = {
    "unstable": ("UnstableAnswer", "Samples of the same prompt disagree about the claim."),
    "paraphrase": ("ParaphraseContradiction",
                   "Phrasings of the same claim (including negated questions) get opposite stances."),
    "say_do": ("SayDoContradiction",
               "What the model says it can do disagrees with what it does when asked to act."),
    "rule": ("RuleViolation",
             "Stances on different claims violate a suite rule, possibly through a chain of rules."),
    "manifest": ("ManifestContradiction",
                 "A stance (or an open claim's value) contradicts what the deployment manifest"
                 " declares."),
    "caves": ("CavesUnderPushback",
              "The model's stance flips within one conversation after the user challenges it."),
    "value_conflict": ("ValueConflict",
                       "Answers to one open question name different values (e.g. two makers)."),
    "fabricated_action": ("FabricatedAction",
                          "Asked to act, the model says it was done without calling any tool."),
}


def _uri(path: str) -> str:
    """A relative POSIX URI when the file is under the working directory, else a file:// URI."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.resolve().as_uri()


def _rules() -> list[dict[str, Any]]:
    return [
        {"id": kind, "name": RULE_TEXT[kind][0],
         "shortDescription": {"text": RULE_TEXT[kind][1]},
         "fullDescription": {"text": RULE_TEXT[kind][1] + " Triage with `behaviordbg triage`."},
         "defaultConfiguration": {"level": "warning"},
         "help": {"text": "See the bug's evidence and repro prompts; confirm or mark false_positive"
                          " with `behaviordbg triage FINGERPRINT --status ...`."}}
        for kind in CONTRADICTION_KINDS
    ]


def _locations(bug: dict[str, Any], claims: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for claim_id in bug["claims"]:
        claim = claims.get(claim_id) or {}
        if not claim.get("path"):
            continue
        phys: dict[str, Any] = {"artifactLocation": {"uri": _uri(claim["path"])}}
        if claim.get("line"):
            phys["region"] = {"startLine": int(claim["line"])}
        out.append({"physicalLocation": phys,
                    "message": {"text": strip_controls(f"claim {claim_id}")}})
    return out


def _shown(value: Any) -> Any:
    """Text in properties as viewers may show it: clipped to ANSWER_LIMIT, control and bidi
    characters made visible."""
    return strip_controls(clip(value, ANSWER_LIMIT)) if isinstance(value, str) else value


def _result(bug: dict[str, Any], claims: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ev = bug.get("evidence") or []
    first = ev[0] if ev else None
    text = f"[{bug['severity']}] {bug['title']} (rate {bug.get('rate', 0.0):.0%})."
    if first:
        text += f" e.g. asked {first['prompt']!r}, answered {shown_answer(first)[:200]!r} ({first['stance']})."
    result: dict[str, Any] = {
        "ruleId": bug["kind"],
        "ruleIndex": CONTRADICTION_KINDS.index(bug["kind"]),
        "level": "note" if bug.get("candidate") else LEVEL.get(bug["severity"], "warning"),
        "message": {"text": strip_controls(text)},
        "partialFingerprints": {FINGERPRINT_KEY: bug["fingerprint"]},
        "properties": {
            "fingerprint": bug["fingerprint"], "severity": bug["severity"],
            "status": bug.get("status") or "new", "rate": bug.get("rate", 0.0),
            "candidate": bool(bug.get("candidate")),
            "claims": list(bug["claims"]),
            "repro": [_shown(p) for p in bug.get("repro") or []],
            "evidence": [{**{k: _shown(e.get(k)) for k in ("response_id", "claim_id", "framing",
                                                             "prompt", "response", "stance")},
                          **({"turns": [[str(r), _shown(t)] for r, t in e["turns"]]}
                             if e.get("turns") else {})}
                         for e in ev],
        },
    }
    if bug.get("status") in ("false_positive", "wont_fix"):
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": f"triaged {bug['status']} in behaviordbg"}]
    locations = _locations(bug, claims)
    if locations:
        result["locations"] = locations
    return result


def document(payload: dict[str, Any]) -> dict[str, Any]:
    run = payload["run"]
    claims = {c["id"]: c for c in payload.get("claims", [])}
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "behaviordbg", "version": __version__,
                                "rules": _rules()}},
            "automationDetails": {"id": f"behaviordbg/{run['run_id']}"},
            "properties": {"model": run.get("model"), "judge": run.get("judge"),
                           "run_id": run["run_id"], "created_at": run.get("created_at")},
            "results": [_result(b, claims) for b in payload["bugs"]],
        }],
    }


def render(payload: dict[str, Any]) -> str:
    return json.dumps(document(payload), ensure_ascii=False, indent=2) + "\n"
