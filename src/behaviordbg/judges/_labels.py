"""Labelled data for measuring judges: loading, and the deterministic dev/test split.

Rows are split by a hash of their *group* (the question, so that the two answer options of one
shared-set item, or the samples of one prompt, land on the same side). Judges are tuned on dev only;
test accuracy is what gets reported.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..types import FRAMINGS, StanceInput

DEV_SHARE = 40  # percent of groups in dev


@dataclass(frozen=True)
class LabelledRow:
    id: str
    claim: str
    prompt: str
    response: str
    label: str
    framing: str | None  # None: not declared (external data)
    group: str
    identity: str | None = None  # the claim's declared identity relation (docs/judging.md)

    @property
    def split(self) -> str:
        return split_of(self.group)

    def to_input(self) -> StanceInput:
        declared = self.framing in FRAMINGS
        return StanceInput(
            claim=self.claim,
            prompt=self.prompt,
            response=self.response,
            framing=self.framing if declared else "direct",  # type: ignore[arg-type]
            response_id=self.id,
            framing_declared=declared,
            identity=self.identity if self.identity in ("affirm", "deny") else None,  # type: ignore[arg-type]
        )


def split_of(group: str) -> str:
    """'dev' or 'test', stable for ever (sha256 of the group key)."""
    h = int(hashlib.sha256(group.encode()).hexdigest()[:8], 16)
    return "dev" if h % 100 < DEV_SHARE else "test"


def group_of(row: dict[str, object]) -> str:
    """An explicit `group` field if present (well_behaved: the claim id); else the shared set's item
    id without its -A/-B suffix, or our local set's prompt id."""
    if row.get("group"):
        return str(row["group"])
    if row.get("pid"):
        return str(row["pid"])
    return re.sub(r"-[AB]$", "", str(row["id"]))


def _shipped_identity(claim_id: object) -> str | None:
    """Rows written against the shipped suites name their claim: take its declared identity."""
    if not claim_id:
        return None
    from ..suites import load_suites

    global _SHIPPED
    if _SHIPPED is None:
        probes = Path(__file__).resolve().parents[3] / "probes"
        files = sorted(probes.glob("*.yaml")) if probes.is_dir() else []
        _SHIPPED = {c.id: c.identity for s in (load_suites(files) if files else []) for c in s.claims}
    return _SHIPPED.get(str(claim_id))


_SHIPPED: dict[str, str | None] | None = None


def load(path: str | Path) -> list[LabelledRow]:
    rows: list[LabelledRow] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            rows.append(
                LabelledRow(
                    id=str(d["id"]),
                    claim=d["claim"],
                    prompt=d["prompt"],
                    response=d["response"],
                    label=d["label"],
                    framing=d.get("framing"),
                    group=group_of(d),
                    identity=d.get("identity") or _shipped_identity(d.get("claim_id")),
                )
            )
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}:{n}: bad labelled row ({exc})") from exc
    return rows


def only(rows: Iterable[LabelledRow], split: str) -> list[LabelledRow]:
    return [r for r in rows if split == "all" or r.split == split]
