"""`export --format labels`: people's stance labels as JSONL, one labelled answer per line.

Each line is a record `behaviordbg judge --input` reads (claim, prompt, response, framing,
identity, id) plus the person's `label` and `note`: the fields of the labelled sets in eval/, so
labelled answers can grow them and any judge can be scored on them (`eval/measure.py`).
`behaviordbg label --from` reads the file back (into any database: the content makes the label).
The answers are model output: json.dumps escapes them (quotes, control characters).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

FIELDS = ("id", "claim", "claim_id", "identity", "framing", "prompt", "response", "label", "note",
          "author", "labelled_at", "group", "run_id", "model")


def render(rows: Sequence[Mapping[str, Any]]) -> str:
    """One JSON object per line, in FIELDS order (pure)."""
    return "".join(json.dumps({k: r.get(k) for k in FIELDS}, ensure_ascii=False) + "\n"
                   for r in rows)
