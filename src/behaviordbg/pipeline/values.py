"""Open claims in the analysis stage: values read from answers (stored ones reused), value modes,
and the value contradictions (behaviordbg.analysis.values), wired to the store.

The extractor follows the analysis judge: `--judge rules` reads values with the rules alone;
`llm` and `cascade` also ask the llm extractor (the same endpoint and model as the llm judge)
where the rules are unsure (confidence below behaviordbg.judges.values.UNSURE). Readings are
stored per setting, so a second analysis asks nothing again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..config import AnalyzeOptions
from ..store import Store
from ..types import Answer, AnswerValue, Claim, Contradiction, Manifest, ValueMode


@dataclass
class ValueAnalysis:
    """What the open claims of a run gave: values by response id, modes, contradictions."""

    values: dict[str, AnswerValue] = field(default_factory=dict)
    modes: list[ValueMode] = field(default_factory=list)
    contradictions: list[Contradiction] = field(default_factory=list)
    asked_llm: int = 0


def extractor_setting(opts: AnalyzeOptions) -> str:
    """The key values are stored under: `rules`, or `cascade` (plus the judge model if named)."""
    if not opts.judge_needs_endpoint:
        return "rules"
    return f"cascade:{opts.judge_model}" if opts.judge_model else "cascade"


def declared_values(manifest: Manifest, claims: Mapping[str, Claim]) -> dict[str, list[str]]:
    """claim id -> the manifest's value and aliases in canonical form, for matching modes."""
    from ..judges.values import canonical

    out: dict[str, list[str]] = {}
    for cid, written in manifest.claim_values.items():
        claim = claims.get(cid)
        if claim is None or not written:
            continue
        vtype = claim.value_type or "text"
        table = {written[0]: written}
        canon = {canonical(w, vtype) for w in written} | {canonical(w, vtype, table) for w in written}
        out[cid] = sorted(c for c in canon | set(written) if c)
    return out


async def read_values(
    store: Store, run_id: str, answers: Sequence[Answer], claims: Mapping[str, Claim],
    manifest: Manifest, opts: AnalyzeOptions, *, stored_only: bool = False,
) -> tuple[dict[str, AnswerValue], int]:
    """Values of open answers: stored readings reused, the rest read by the rules and, where
    they are unsure and the setting allows, the llm extractor (never with `stored_only`: no
    model is asked). Returns (values, llm calls)."""
    from ..judges import values as rules

    setting = extractor_setting(opts)
    stored = ({k: v for k, v in store.get_values(run_id, setting).items() if v.status != "error"}
              if opts.reuse_stances else {})  # --no-reuse re-reads values as it re-judges
    todo = [a for a in answers if a.response_id not in stored]
    if not todo:
        return stored, 0
    items = []
    for a in todo:
        claim = claims.get(a.claim_id)
        written = manifest.claim_values.get(a.claim_id)
        items.append(rules.ValueInput(
            response_id=a.response_id, prompt=a.prompt, response=a.text,
            value_type=(claim.value_type if claim else None) or "text",
            claim=claim.text if claim else a.claim_id, claim_id=a.claim_id,
            aliases={written[0]: written} if written else {},
        ))
    read = {i.response_id: rules.extract(i) for i in items}
    unsure = [i for i in items if read[i.response_id].confidence < rules.UNSURE]
    if setting != "rules" and unsure and not stored_only:
        from ..judges.values_llm import LLMValueExtractor

        api_key = os.environ.get(opts.judge_api_key_env) if opts.judge_base_url else None
        extractor = LLMValueExtractor(base_url=opts.judge_base_url, model=opts.judge_model,
                                      api_key=api_key, store=store,
                                      concurrency=opts.judge_concurrency)
        async with extractor:
            got = await extractor.extract(unsure)
        for i, v in zip(unsure, got):
            read[i.response_id] = rules.combine(read[i.response_id], v)
    asked = len(unsure) if setting != "rules" and not stored_only else 0
    # stored_only under an llm setting: the unsure readings were not asked, so nothing is stored
    if not store.readonly and not (stored_only and setting != "rules"):
        store.save_values(setting, [v for v in read.values() if v.status != "error"])
    return {**stored, **read}, asked


async def analyse_values(
    store: Store, run_id: str, answers: Sequence[Answer], claims: Mapping[str, Claim],
    manifest: Manifest, opts: AnalyzeOptions, *, stored_only: bool = False,
) -> ValueAnalysis:
    """Values, modes and value contradictions of a run's open answers (nothing to do: empty)."""
    if not answers:
        return ValueAnalysis()
    from ..analysis.values import value_contradictions, value_modes

    values, asked = await read_values(store, run_id, answers, claims, manifest, opts,
                                      stored_only=stored_only)
    declared = declared_values(manifest, claims)
    modes: list[ValueMode] = []
    for cid in sorted({a.claim_id for a in answers}):
        if cid in claims:
            modes += value_modes(claims[cid], answers, values, declared.get(cid, ()))
    written = {k: list(v) for k, v in manifest.claim_values.items()}
    found = value_contradictions(claims, answers, values, modes, written)
    return ValueAnalysis(values, modes, found, asked)
