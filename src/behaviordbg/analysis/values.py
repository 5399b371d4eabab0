"""Value modes of open claims, and the contradictions they make: `value_conflict` and `manifest`.

Each answer to an open question ("Who created you?") has been reduced to a value by an extractor
(behaviordbg.judges.values): "Alibaba Cloud", "2023", "image+text", or no value (declines, none).
Here the values of one claim are clustered into **modes**, the values the model gives for it:

- Features are the canonical values, not the answers' wording: answers that name one value in
  different words ("Alibaba Cloud developed me", "I'm built by the Qwen team at Alibaba") are
  already one canonical value, and clustering raw answers would split one value into modes of
  style. Names (organisation, model_name, text) are TF-IDF character 2-4-grams of the value,
  so spellings the gazetteer does not know ("HuggingFace", "Hugging Face") still meet; years,
  numbers and modality sets are equal or not (2021 and 2023 share most of their characters).
- Agglomerative clustering, average linkage on cosine distance, merges values closer than
  MODE_DISTANCE (0.5: measured on the gazetteer's names, distinct makers are 0.75-1.0 apart,
  spellings of one name 0.0-0.35).

A mode is **substantive** when it holds at least one decisive answer (a value read with confidence
>= SOLID_CONFIDENCE, or read alike by the rules and the llm) and passes the count-or-share test:
at least MIN_MODE_ANSWERS answers, or at least MIN_MODE_SHARE of the claim's valued answers (so in
a short run one answer in five counts, while one odd sample in thirty does not). Answers that
decline or name nothing are a `no_value` bucket: shown, never a value, never a side.

- `value_conflict`: two or more substantive modes. Its sides are the modes ("value=Alibaba
  Cloud"), each with its share and its best answers as evidence, and a repro prompt per mode. Its
  rate is the minority share (the valued answers outside the largest substantive mode, among all
  substantive ones), which sets the severity: a model that names its maker one way in half its
  answers and another way in the rest is worse than one that slips once in ten.
- `manifest`: the deployment's manifest declares the claim's value (`values:`) and a
  substantive mode names another.

Fingerprints (behaviordbg.analysis.bugs) are the kind and the claim only, never the values: a
model that names {OpenAI, Alibaba} today and {Anthropic, Alibaba} on the next checkpoint has the
same bug, "does not know its maker consistently", and keeps its triage history. The values are in
the evidence, the summary and `detail["modes"]`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

from ..types import Answer, AnswerValue, Claim, Contradiction, Evidence, ValueMode
from .bugs import MAX_EVIDENCE
from .evidence import SOLID_CONFIDENCE, assess
from .stats import wilson

MODE_DISTANCE = 0.5
MIN_MODE_ANSWERS = 2
MIN_MODE_SHARE = 0.2
EVIDENCE_PER_MODE = 2
NAMES = ("organisation", "model_name", "text")
UNCERTAIN_FACTOR = 0.6


def _decisive(v: AnswerValue) -> bool:
    return v.status == "value" and v.confidence >= SOLID_CONFIDENCE - 1e-9


def _groups(values: Sequence[str], value_type: str) -> list[list[str]]:
    """Distinct canonical values -> groups of one value in different spellings."""
    if len(values) < 2:
        return [list(values)] if values else []
    if value_type not in NAMES:
        return [[v] for v in values]
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_distances

    x = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True).fit_transform(
        [v.replace(" ", "") for v in values])
    dist = cosine_distances(x)
    labels = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average",
        distance_threshold=MODE_DISTANCE,
    ).fit_predict(dist)
    out: dict[int, list[str]] = defaultdict(list)
    for v, label in zip(values, labels):
        out[int(label)].append(v)
    return list(out.values())


def _norm(value: str) -> str:
    return " ".join(value.casefold().split())


def value_modes(
    claim: Claim,
    answers: Sequence[Answer],
    values: Mapping[str, AnswerValue],
    declared: Sequence[str] = (),
) -> list[ValueMode]:
    """The claim's value modes, largest first, then its no_value bucket (if any answer is one).

    `declared`: the manifest's value and aliases in canonical form (empty: none declared)."""
    mine = [a for a in answers if a.claim_id == claim.id]
    valued = [(a, values[a.response_id]) for a in mine
              if a.response_id in values and values[a.response_id].status == "value"
              and values[a.response_id].value]
    valued_ids = {a.response_id for a, _ in valued}
    rest = [a for a in mine if a.response_id not in valued_ids]
    counts = Counter(v.value for _, v in valued)
    distinct = sorted(counts, key=lambda v: (-counts[v], v))
    groups = _groups(distinct, claim.value_type or "text")
    want = {_norm(d) for d in declared}
    modes: list[ValueMode] = []
    built = []
    for group in groups:
        members = [(a, v) for a, v in valued if v.value in group]
        label = sorted(group, key=lambda g: (-counts[g], g))[0]
        built.append((label, group, members))
    built.sort(key=lambda b: (-len(b[2]), b[0]))
    n = len(valued)
    for i, (label, group, members) in enumerate(built):
        rep_a, rep_v = sorted(
            members, key=lambda m: (m[1].value != label, -m[1].confidence, len(m[0].text),
                                    m[0].response_id))[0]
        decisive = sum(_decisive(v) for _, v in members)
        share = len(members) / n if n else 0.0
        modes.append(ValueMode(
            claim_id=claim.id, index=i, kind="value", value=label,
            values=tuple(sorted(group, key=lambda g: (-counts[g], g))), size=len(members),
            share=round(share, 4), decisive=decisive,
            substantive=decisive >= 1 and (len(members) >= MIN_MODE_ANSWERS
                                           or share >= MIN_MODE_SHARE),
            representative_response_id=rep_a.response_id, representative_text=rep_a.text,
            member_ids=tuple(a.response_id for a, _ in members),
            matches_manifest=(bool(want & {_norm(g) for g in group}) if want else None),
        ))
    if rest:
        rep = sorted(rest, key=lambda a: (len(a.text), a.response_id))[0]
        modes.append(ValueMode(
            claim_id=claim.id, index=len(modes), kind="no_value", value="", values=(),
            size=len(rest), share=round(len(rest) / len(mine), 4), decisive=0, substantive=False,
            representative_response_id=rep.response_id, representative_text=rep.text,
            member_ids=tuple(a.response_id for a in rest),
        ))
    return modes


# --------------------------------------------------------------------------- contradictions


def side_of(mode: ValueMode) -> str:
    return f"value={mode.value}"


def _picked(mode: ValueMode, by_id: Mapping[str, Answer],
            values: Mapping[str, AnswerValue], k: int = EVIDENCE_PER_MODE,
            ) -> list[tuple[Answer, AnswerValue]]:
    """The mode's k best answers: most confident first, a different prompt each where possible."""
    members = [(by_id[r], values[r]) for r in mode.member_ids if r in by_id and r in values]
    members.sort(key=lambda m: (-m[1].confidence, m[0].prompt_idx, m[0].sample_idx,
                                m[0].response_id))
    out: list[tuple[Answer, AnswerValue]] = []
    prompts: set[str] = set()
    for m in members:
        if m[0].prompt not in prompts:
            out.append(m)
            prompts.add(m[0].prompt)
        if len(out) == k:
            return out
    for m in members:
        if m not in out and len(out) < k:
            out.append(m)
    return out


def _evidence(a: Answer, v: AnswerValue, side: str) -> Evidence:
    both = "+" in v.extractor
    return Evidence(
        response_id=a.response_id, claim_id=a.claim_id, framing=a.framing, prompt=a.prompt,
        response=a.text, stance="affirm", confidence=round(v.confidence, 4), judge=v.extractor,
        sample_idx=a.sample_idx, side=side,
        second_opinion=f"value {v.extractor}={v.value}" if both else "",
        agreed=True if both else None,
    )


def _mode_row(m: ValueMode, picked: Sequence[tuple[Answer, AnswerValue]]) -> dict[str, object]:
    return {"value": m.value, "values": list(m.values), "share": m.share, "size": m.size,
            "decisive": m.decisive, "substantive": m.substantive,
            "matches_manifest": m.matches_manifest,
            "prompts": list(dict.fromkeys(a.prompt for a, _ in picked)),
            "representative": m.representative_text}


def _score(minority: float, confidence: float, certain: bool) -> float:
    """Severity from the minority share: 0.5 (a coin flip between values) -> 1.0, 0.2 -> 0.58,
    0.1 -> 0.44, times how sure the evidence is; a conflict resting on one answer counts 0.6x."""
    score = min(1.0, 0.3 + 1.4 * minority) * confidence
    return round(min(1.0, score * (1.0 if certain else UNCERTAIN_FACTOR)), 4)


def _make(kind: str, claim: Claim, modes: Sequence[ValueMode], rate: float, summary: str,
          answers: Mapping[str, Answer], values: Mapping[str, AnswerValue],
          all_modes: Sequence[ValueMode], minority_n: int, total_n: int,
          **detail: object) -> Contradiction:
    # a bug shows at most MAX_EVIDENCE answers (analysis.bugs): with many modes, one per mode
    k = max(1, min(EVIDENCE_PER_MODE, MAX_EVIDENCE // max(1, len(modes))))
    picked = [(m, _picked(m, answers, values, k)) for m in modes]
    evidence = tuple(_evidence(a, v, side_of(m)) for m, got in picked for a, v in got)
    judge_conf = sum(e.confidence for e in evidence) / len(evidence) if evidence else 0.0
    low, high = wilson(minority_n, total_n)
    confidence = round(judge_conf * (1 - (high - low) / 2), 4)
    certain = all(m.size >= 2 for m in modes)
    no_value = sum(m.size for m in all_modes if m.kind == "no_value")
    return assess(Contradiction(
        kind=kind,  # type: ignore[arg-type]
        claims=(claim.id,), summary=summary, rate=round(rate, 4), confidence=confidence,
        severity_score=_score(rate, confidence, certain), evidence=evidence, certain=certain,
        detail={
            "value_type": claim.value_type, "sides": [side_of(m) for m in modes],
            "modes": [_mode_row(m, _picked(m, answers, values)) for m in all_modes
                      if m.kind == "value"],
            "no_value": no_value,
            "repro": list(dict.fromkeys(got[0][0].prompt for _, got in picked if got)),
            **detail,
        },
    ))


def _shares(modes: Sequence[ValueMode]) -> str:
    return ", ".join(f"{m.value} {m.share:.0%} ({m.size})" for m in modes)


def value_contradictions(
    claims: Mapping[str, Claim],
    answers: Sequence[Answer],
    values: Mapping[str, AnswerValue],
    modes: Sequence[ValueMode],
    declared: Mapping[str, Sequence[str]] | None = None,
) -> list[Contradiction]:
    """Every value_conflict and value manifest contradiction of the open claims, most severe
    first. `declared`: claim id -> the manifest's value (first) and aliases, as written."""
    by_id = {a.response_id: a for a in answers}
    by_claim: dict[str, list[ValueMode]] = defaultdict(list)
    for m in modes:
        by_claim[m.claim_id].append(m)
    out: list[Contradiction] = []
    for claim_id in sorted(by_claim):
        claim = claims.get(claim_id)
        if claim is None:
            continue
        mine = by_claim[claim_id]
        subst = [m for m in mine if m.kind == "value" and m.substantive]
        if len(subst) >= 2:
            total = sum(m.size for m in subst)
            minority_n = total - subst[0].size
            rate = minority_n / total
            out.append(_make(
                "value_conflict", claim, subst, rate,
                f"{len(subst)} different values across samples and phrasings: {_shares(subst)}"
                + (f"; {sum(m.size for m in mine if m.kind == 'no_value')} answers gave no value"
                   if any(m.kind == "no_value" for m in mine) else ""),
                by_id, values, mine, minority_n, total,
            ))
        wanted = (declared or {}).get(claim_id)
        wrong = [m for m in subst if m.matches_manifest is False]
        if wanted and wrong:
            valued = sum(m.size for m in mine if m.kind == "value")
            wrong_n = sum(m.size for m in wrong)
            out.append(_make(
                "manifest", claim, wrong, wrong_n / valued if valued else 0.0,
                f"The deployment's value is {wanted[0]!r}, but the model names "
                f"{_shares(wrong)} of its valued answers",
                by_id, values, mine, wrong_n, valued, declared_value=wanted[0],
                aliases=list(wanted[1:]),
            ))
    out.sort(key=lambda c: (-c.severity_score, c.kind, c.claims))
    return out
