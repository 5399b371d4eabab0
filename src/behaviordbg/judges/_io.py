"""Judging records from a JSONL file: validation with line numbers, batching, write-back.

Used by `behaviordbg judge`; kept here (not in the CLI) so it is testable without a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import BehaviordbgError
from ..types import Framing, Stance, StanceInput

BATCH = 32


class JudgeRecord(BaseModel):
    """One input line: claim, prompt, response; framing optional (inferred from wording if absent)."""

    model_config = ConfigDict(extra="allow")
    claim: str
    prompt: str
    response: str
    framing: Optional[Framing] = None  # noqa: UP045 - pydantic on 3.10 wants Optional here
    id: Optional[str] = None  # noqa: UP045
    identity: Optional[Literal["affirm", "deny"]] = None  # noqa: UP045 - see Claim.identity


def read_records(path: str | Path) -> list[tuple[dict[str, Any], StanceInput]]:
    """Parse and validate every line; the first bad line raises an error naming file and line."""
    p = Path(path)
    if not p.is_file():
        raise BehaviordbgError(f"{p}: no such file", hint="pass --input with a JSONL file")
    out: list[tuple[dict[str, Any], StanceInput]] = []
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                if not isinstance(raw, dict):
                    raise ValueError("a line must be a JSON object")
                rec = JudgeRecord.model_validate(raw)
            except (ValueError, ValidationError) as exc:
                msg = _short(exc)
                raise BehaviordbgError(
                    f"{p}:{n}: malformed record: {msg}",
                    hint='each line must be a JSON object like {"claim": "...", "prompt": "...", '
                    '"response": "...", "framing": "direct|negated|act" (optional)}',
                ) from None
            rid = str(rec.id) if rec.id is not None else f"line-{n}"
            item = StanceInput(
                claim=rec.claim, prompt=rec.prompt, response=rec.response,
                framing=rec.framing or "direct", response_id=rid,
                framing_declared=rec.framing is not None, identity=rec.identity,
            )  # fmt: skip
            out.append((raw, item))
    return out


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc).splitlines()[0][:200]


async def judge_all(
    judge: Any, items: Sequence[StanceInput], on_batch: Callable[[int], None] | None = None
) -> list[Stance]:
    """Judge in batches so progress can be shown; order is kept. One judge session for all
    batches: the embedded server, if the judge needs it, starts once."""
    from . import session

    out: list[Stance] = []
    async with session(judge) as jd:
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            out.extend(await jd.judge(batch))
            if on_batch:
                on_batch(len(batch))
    return out


def write_records(
    path: str | Path, rows: Sequence[dict[str, Any]], stances: Sequence[Stance]
) -> None:
    """Each input record back, with stance, confidence, judge and rationale added."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for raw, st in zip(rows, stances):
            rec = dict(raw)
            rec.update(stance=st.label, confidence=round(st.confidence, 3), judge=st.judge,
                       rationale=st.rationale)  # fmt: skip
            if st.disagreement:
                rec["disagreement"] = st.disagreement
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    tmp.replace(p)
