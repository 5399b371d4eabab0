"""JSON export: the analysis issue's schema plus triage status and history.

Validated against src/behaviordbg/schemas/export.schema.json (published with the package).
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_VERSION = 1
EVIDENCE_FIELDS = ("response_id", "framing", "prompt", "response", "stance", "confidence", "judge",
                   "sample_idx", "side", "second_opinion", "agreed", "turns")
BUG_FIELDS = ("fingerprint", "kind", "title", "summary", "severity", "severity_score", "status",
              "claims", "repro", "rate", "confidence", "certain", "witness", "regression",
              "assignee", "labels", "notes", "first_seen_run", "last_seen_run", "history",
              "candidate", "evidence_note", "verification", "prompting")


def document(payload: dict[str, Any]) -> dict[str, Any]:
    """The export document (plain data) for a payload."""
    run = payload["run"]
    bugs = []
    for b in payload["bugs"]:
        bug = {k: b.get(k) for k in BUG_FIELDS}
        bug["evidence"] = [
            {"claim": e["claim_id"], **{k: e.get(k) for k in EVIDENCE_FIELDS}}
            for e in b.get("evidence", [])
        ]
        bugs.append(bug)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run["run_id"],
        "model": run["model"],
        "created_at": run["created_at"],
        "judge": run.get("judge"),
        "analysis_id": run.get("analysis_id"),
        "run": run,
        "claims": payload.get("claims", []),
        "bugs": bugs,
    }


def render(payload: dict[str, Any]) -> str:
    """Pretty JSON; model text stays a JSON string (json.dumps escapes it), nothing else to do."""
    return json.dumps(document(payload), ensure_ascii=False, indent=2, sort_keys=False) + "\n"
