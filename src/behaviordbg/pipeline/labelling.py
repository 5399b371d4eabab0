"""People's stance labels wired to the store: label an answer, read a labels file, re-analyse.

`behaviordbg label`, `label --from FILE` and the dashboard's label controls all come here. A
label is stored with the answer's claim, framing, prompt and text (so it matches the same answer
in later runs, and exports on its own: behaviordbg.store.labels); re-analysing a run after a
label uses the stored verdicts only (`analyze_run(stored_only=True)`), so it never asks a model.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import AnalyzeOptions
from ..errors import BehaviordbgError, StoreError
from ..store import HUMAN_STANCES, LabelRecord, NewLabel, Store
from ..types import Answer, Claim
from .analyze import AnalysisSummary, analyze_run, run_suites

LABEL_FIELDS_HINT = (
    'each line must be a JSON object like {"response_id": "r-...", "stance": "deny",'
    ' "note": "...", "author": "..."} (or, for an answer not in this database, {"claim_id",'
    ' "framing", "prompt", "response", "stance"}); `label` may stand for `stance` and `id` for'
    ' `response_id`, as in `export --format labels`'
)


class LabelError(BehaviordbgError):
    """A label that cannot be stored as given (unknown stance, unknown answer, bad file row)."""


def default_author() -> str:
    """Who is labelling when --author is not given: the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "cli"


def check_stance(stance: str, where: str = "--stance") -> str:
    if stance not in HUMAN_STANCES:
        raise LabelError(f"{where}: unknown stance {stance!r}",
                         hint=f"use one of: {', '.join(HUMAN_STANCES)}")
    return stance


def _claims_of(store: Store, run_id: str, cache: dict[str, dict[str, Claim]]) -> dict[str, Claim]:
    """The run's claims (statement, identity) for the label row; {} when its suites are gone."""
    if run_id not in cache:
        try:
            cache[run_id] = {c.id: c for s in run_suites(store.get_run(run_id)) for c in s.claims}
        except BehaviordbgError:
            cache[run_id] = {}
    return cache[run_id]


def _new_label(a: Answer, claim: Claim | None, stance: str, note: str, author: str) -> NewLabel:
    return {"response_id": a.response_id, "run_id": a.run_id, "claim_id": a.claim_id,
            "claim": claim.text if claim else "", "identity": claim.identity if claim else None,
            "framing": a.framing, "prompt": a.prompt, "response": a.text, "stance": stance,
            "note": note, "author": author}


def label_answers(
    store: Store, items: Iterable[tuple[str, str, str]], *, author: str | None = None,
) -> list[LabelRecord]:
    """Label stored answers: (response id or unique prefix, stance or "" to clear, note).
    All or nothing: an unknown answer or stance stores none of them."""
    cache: dict[str, dict[str, Claim]] = {}
    rows: list[NewLabel] = []
    who = author or default_author()
    for rid, stance, note in items:
        if stance:
            check_stance(stance)
        try:
            a = store.answer(rid)
        except StoreError as err:
            raise LabelError(err.message, hint=err.hint) from None
        rows.append(_new_label(a, _claims_of(store, a.run_id, cache).get(a.claim_id), stance,
                               note, who))
    return store.add_labels(rows)


@dataclass(frozen=True)
class FileLabel:
    """One row of a labels file, validated: a stored answer's id, or the answer's content."""

    line: int
    stance: str
    note: str
    author: str
    response_id: str = ""
    content: tuple[str, str, str, str, str, str | None] | None = None
    # (claim_id, framing, prompt, response, claim, identity)


def read_label_file(path: str | Path) -> list[FileLabel]:
    """Parse and validate a labels JSONL file; the first bad row raises an error naming
    file:line and the fix."""
    p = Path(path)
    if not p.is_file():
        raise LabelError(f"{p}: no such file", hint="pass --from with a JSONL file of labels")
    out: list[FileLabel] = []
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                out.append(_parse_row(p, n, line))
    return out


def _parse_row(p: Path, n: int, line: str) -> FileLabel:
    def bad(why: str) -> LabelError:
        return LabelError(f"{p}:{n}: {why}", hint=LABEL_FIELDS_HINT)

    try:
        raw = json.loads(line)
    except ValueError as err:
        raise bad(f"not JSON ({str(err).splitlines()[0][:120]})") from None
    if not isinstance(raw, dict):
        raise bad("a line must be a JSON object")
    stance = raw.get("stance", raw.get("label"))
    if not isinstance(stance, str) or stance not in HUMAN_STANCES:
        raise bad(f"stance {stance!r} is not one of {', '.join(HUMAN_STANCES)}")
    note, author = raw.get("note", ""), raw.get("author", "")
    if not isinstance(note, str) or not isinstance(author, str):
        raise bad("note and author must be strings")
    rid = raw.get("response_id", raw.get("id", ""))
    content = None
    fields = ("claim_id", "framing", "prompt", "response")
    if all(isinstance(raw.get(f), str) and raw.get(f) for f in fields):
        content = (str(raw["claim_id"]), str(raw["framing"]), str(raw["prompt"]),
                   str(raw["response"]), str(raw.get("claim") or ""),
                   raw.get("identity") if raw.get("identity") in ("affirm", "deny") else None)
    if not (isinstance(rid, str) and rid) and content is None:
        raise bad("no response_id, and not all of claim_id, framing, prompt, response")
    return FileLabel(n, stance, note, author, rid if isinstance(rid, str) else "", content)


def label_from_file(store: Store, path: str | Path, *, author: str | None = None
                    ) -> list[LabelRecord]:
    """Store every label of a file (all or nothing). A row whose response id is in this
    database labels that answer; otherwise its content (claim_id, framing, prompt, response)
    makes the label, which then applies to that answer in any run that has it."""
    rows = read_label_file(path)
    who = author or default_author()
    cache: dict[str, dict[str, Claim]] = {}
    out: list[NewLabel] = []
    for r in rows:
        a = None
        if r.response_id:
            try:
                a = store.answer(r.response_id)
            except StoreError:
                if r.content is None:
                    raise LabelError(f"{path}:{r.line}: no answer {r.response_id!r} in"
                                     f" {store.path}", hint="label answers of this database, or"
                                     " give the answer's claim_id, framing, prompt and response"
                                     ) from None
        if a is not None:
            out.append(_new_label(a, _claims_of(store, a.run_id, cache).get(a.claim_id),
                                  r.stance, r.note, r.author or who))
        elif r.content is not None:
            claim_id, framing, prompt, response, claim, identity = r.content
            out.append({"response_id": "", "run_id": "", "claim_id": claim_id, "claim": claim,
                        "identity": identity, "framing": framing, "prompt": prompt,
                        "response": response, "stance": r.stance, "note": r.note,
                        "author": r.author or who})
    return store.add_labels(out)


def reanalyze(store: Store, run_ids: Sequence[str]) -> list[AnalysisSummary]:
    """Re-analyse runs with their newest analysis's judge setting (and its verification pass, if
    it had one), from stored verdicts only (no model is asked), so the labels just given take
    effect. Runs never analysed are skipped."""
    out = []
    for run_id in dict.fromkeys(r for r in run_ids if r):
        found = store.latest_analysis(run_id)
        if found is None:
            continue
        kind, _, model = str(found["judge"]).partition(":")
        verified = str((found["summary"].get("verification") or {}).get("judge") or "")
        vkind, _, vmodel = verified.partition(":")
        opts = AnalyzeOptions(judge=kind, judge_model=model or None, verify=bool(verified),
                              verify_judge=vkind if verified else "auto",
                              verify_model=vmodel or None)
        out.append(analyze_run(store, run_id, opts, stored_only=True))
    return out


def label_effect(summaries: Sequence[AnalysisSummary]) -> dict[str, Any]:
    """What re-analysing did to the bugs, summed over runs (for messages and --json)."""
    out: dict[str, list[str]] = {"closed": [], "reopened": [], "created": []}
    for s in summaries:
        for k in out:
            out[k].extend(s.labels.get(k, []))
    return {"runs": [s.run_id for s in summaries], **{k: sorted(set(v)) for k, v in out.items()}}
