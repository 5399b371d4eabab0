"""Stance distributions and the contradiction graph: where the model's answers cannot all be right.

Stances are counted, not taken one at a time: per claim and framing a distribution of affirm / deny /
unclear / refuse with a Wilson interval on p(affirm) among decisive answers. Refusals and hedges are
never counted as denials. From the distributions come the five contradiction kinds:

- unstable:   the same prompt gets affirm and deny across samples;
- paraphrase: one saying prompt (direct or negated) mostly affirms, another mostly denies;
- say_do:     what it says (direct + negated) and what it does (act) point opposite ways;
- rule:       observed literals imply both X and not X through the suites' rules (networkx
              implication graph with contrapositives); reported with a minimal witness;
- manifest:   a side's observed stance contradicts the deployment's declared truth;
- caves:      the stance flips after pushback in one conversation (behaviordbg.analysis.caves;
              the only kind that reads follow-up turns).

A contradiction that rests on one odd answer, or on intervals that all straddle 0.5, is reported
with certain=False and a lower severity, so a single unlucky sample never looks like a sure bug.
Each evidence answer is tagged with its side, and a contradiction whose sides lack a solid verdict
is marked a candidate (behaviordbg.analysis.evidence), which is not reported as a bug.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import networkx as nx

from ..types import (
    Answer,
    Claim,
    ClaimLiteral,
    Contradiction,
    ContradictionKind,
    Evidence,
    Manifest,
    Rule,
    Stance,
    StanceDistribution,
    Suite,
    Turn,
)
from .evidence import assess
from .stats import wilson

EVIDENCE_PER_SIDE = 2
KIND_WEIGHT: dict[str, float] = {
    "manifest": 1.0, "say_do": 1.0, "rule": 0.95, "paraphrase": 0.8, "unstable": 0.6,
    "caves": 0.8,  # x1.25 caving into the wrong side of a known truth (analysis.caves)
}
UNCERTAIN_FACTOR = 0.6  # severity multiplier when a contradiction is not certain
SAYING = ("direct", "negated")


class _Judged(NamedTuple):
    """An answer with its verdict (label "error" when no judge verdict exists). A NamedTuple:
    built once per answer, so it must be cheap at 100,000 answers."""

    answer: Answer
    label: str
    confidence: float
    judge: str
    second: str = ""  # a second judge's reading (cascade agreement or disagreement)
    agreed: bool | None = None


# --------------------------------------------------------------------------- statistics


def _distribution(claim_id: str, framing: str, labels: Iterable[str]) -> StanceDistribution:
    counts = {"affirm": 0, "deny": 0, "unclear": 0, "refuse": 0, "error": 0}
    for label in labels:
        counts[label if label in counts else "error"] += 1
    decisive = counts["affirm"] + counts["deny"]
    low, high = wilson(counts["affirm"], decisive)
    p = counts["affirm"] / decisive if decisive else 0.0
    return StanceDistribution(
        claim_id=claim_id, framing=framing, **counts, p_affirm=round(p, 6),
        low=round(low, 6), high=round(high, 6),
    )


def observed_value(dist: StanceDistribution) -> bool | None:
    """The claim's value as the model states it, when decisive enough, else None.

    Decisive enough: the interval on p(affirm) lies on one side of 0.5, or every decisive answer
    went one way.
    """
    if dist.decisive == 0:
        return None
    if dist.low > 0.5 or dist.deny == 0:
        return True
    if dist.high < 0.5 or dist.affirm == 0:
        return False
    return None


def _judge_all(answers: Iterable[Answer], stances: Mapping[str, Stance]) -> list[_Judged]:
    out = []
    for a in answers:
        s = stances.get(a.response_id)
        if s is None:
            out.append(_Judged(a, "error", 0.0, ""))
        elif s.agreement:
            out.append(_Judged(a, s.label, float(s.confidence), s.judge, s.agreement, True))
        elif s.disagreement:
            out.append(_Judged(a, s.label, float(s.confidence), s.judge, s.disagreement, False))
        else:
            out.append(_Judged(a, s.label, float(s.confidence), s.judge))
    return out


def distributions(
    answers: Sequence[Answer], stances: Mapping[str, Stance]
) -> list[StanceDistribution]:
    """Per claim: one distribution per framing present, plus "all" (answers without a stance count
    as error, never as a side)."""
    by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    for j in _judge_all(answers, stances):
        by_key[(j.answer.claim_id, j.answer.framing)].append(j.label)
        by_key[(j.answer.claim_id, "all")].append(j.label)
    order = {"direct": 0, "negated": 1, "act": 2, "all": 3}
    keys = sorted(by_key, key=lambda k: (k[0], order.get(k[1], 9), k[1]))
    return [_distribution(c, f, by_key[(c, f)]) for c, f in keys]


# --------------------------------------------------------------------------- shared helpers


def _pick(items: Iterable[_Judged], label: str, k: int = EVIDENCE_PER_SIDE) -> list[_Judged]:
    """The k most confident answers with this label, in a stable order."""
    chosen = [j for j in items if j.label == label]
    chosen.sort(
        key=lambda j: (-j.confidence, j.answer.framing, j.answer.prompt_idx, j.answer.sample_idx,
                       j.answer.response_id)
    )
    return chosen[:k]


def _evidence(j: _Judged, side: str) -> Evidence:
    a = j.answer
    return Evidence(
        response_id=a.response_id, claim_id=a.claim_id, framing=a.framing, prompt=a.prompt,
        response=a.text, stance=j.label, confidence=round(j.confidence, 4), judge=j.judge,
        sample_idx=a.sample_idx, side=side, second_opinion=j.second, agreed=j.agreed,
    )


Sides = Sequence[tuple[str, Sequence[_Judged]]]
"""(side name, its evidence answers), in order; see behaviordbg.analysis.evidence for the names."""


def _count(items: Iterable[_Judged]) -> tuple[int, int]:
    a = d = 0
    for j in items:
        if j.label == "affirm":
            a += 1
        elif j.label == "deny":
            d += 1
    return a, d


def _majority(items: Sequence[_Judged]) -> str | None:
    a, d = _count(items)
    return "affirm" if a > d else "deny" if d > a else None


def _certain(sides: Sequence[tuple[int, int]]) -> bool:
    """Each side (support, decisive) rests on >= 2 answers and the pooled interval of support
    excludes 0.5: one odd answer, or coin-flip sides, is never certain."""
    if not sides or any(support < 2 for support, _ in sides):
        return False
    return wilson(sum(s for s, _ in sides), sum(n for _, n in sides))[0] > 0.5


def _confidence(evidence: Sequence[_Judged], k: int, n: int) -> float:
    """Judge confidence of the evidence times a sample-size factor from the Wilson interval."""
    judge_conf = sum(j.confidence for j in evidence) / len(evidence) if evidence else 0.0
    low, high = wilson(k, n)
    return round(judge_conf * (1 - (high - low) / 2), 4)


def severity_score(kind: str, rate: float, confidence: float, certain: bool) -> float:
    """0..1 from how often it contradicts itself, how sure we are, and how bad the kind is."""
    score = KIND_WEIGHT.get(kind, 0.5) * (0.5 + 0.5 * rate) * confidence
    if not certain:
        score *= UNCERTAIN_FACTOR
    return round(min(1.0, max(0.0, score)), 4)


def _disagreement(p: float, q: float) -> float:
    """Chance that one answer from each of two sides (affirm shares p, q) disagree."""
    return p * (1 - q) + (1 - p) * q


def _make(
    kind: ContradictionKind,
    claims: Sequence[str],
    summary: str,
    rate: float,
    sides: Sides,
    certain: bool,
    conf_counts: tuple[int, int],
    **extra: object,
) -> Contradiction:
    """A contradiction with its evidence tagged by side, assessed as a bug or a candidate."""
    evidence = [j for _, picked in sides for j in picked]
    confidence = _confidence(evidence, *conf_counts)
    return assess(Contradiction(
        kind=kind,
        claims=tuple(claims),
        summary=summary,
        rate=round(rate, 4),
        confidence=confidence,
        severity_score=severity_score(kind, rate, confidence, certain),
        evidence=tuple(_evidence(j, side) for side, picked in sides for j in picked),
        certain=certain,
        **extra,  # type: ignore[arg-type]
    ))


def _repro(*sides: Sequence[_Judged]) -> list[str]:
    """One prompt per side: the prompt of its most decisive answer (deduplicated, in order)."""
    prompts: list[str] = []
    for side in sides:
        if side and side[0].answer.prompt not in prompts:
            prompts.append(side[0].answer.prompt)
    return prompts


# --------------------------------------------------------------------------- the five kinds


def _unstable(claim_id: str, items: list[_Judged]) -> list[Contradiction]:
    by_prompt: dict[tuple[str, int], list[_Judged]] = defaultdict(list)
    for j in items:
        by_prompt[(j.answer.framing, j.answer.prompt_idx)].append(j)
    out = []
    for (framing, pidx), group in sorted(by_prompt.items()):
        a, d = _count(group)
        if not (a and d):
            continue
        aff, den = _pick(group, "affirm"), _pick(group, "deny")
        minority = min(a, d)
        certain = minority >= 2
        prompt = group[0].answer.prompt
        out.append(_make(
            "unstable", [claim_id],
            f"The same {framing} prompt got {a} affirming and {d} denying answers",
            minority / (a + d), [("affirming", aff), ("denying", den)], certain, (minority, a + d),
            detail={"framing": framing, "prompt_idx": pidx, "affirm": a, "deny": d,
                    "repro": [prompt]},
        ))
    return out


def _paraphrase(claim_id: str, items: list[_Judged]) -> list[Contradiction]:
    by_prompt: dict[tuple[str, int], list[_Judged]] = defaultdict(list)
    for j in items:
        if j.answer.framing in SAYING:
            by_prompt[(j.answer.framing, j.answer.prompt_idx)].append(j)
    pro = [g for _, g in sorted(by_prompt.items()) if _majority(g) == "affirm"]
    con = [g for _, g in sorted(by_prompt.items()) if _majority(g) == "deny"]
    if not (pro and con):
        return []
    pro_items = [j for g in pro for j in g]
    con_items = [j for g in con for j in g]
    pa, pd = _count(pro_items)
    ca, cd = _count(con_items)
    rate = _disagreement(pa / (pa + pd), ca / (ca + cd))
    aff, den = _pick(pro_items, "affirm"), _pick(con_items, "deny")
    certain = _certain([(pa, pa + pd), (cd, ca + cd)])
    framings = sorted({g[0].answer.framing for g in pro + con})
    return [_make(
        "paraphrase", [claim_id],
        f"{len(pro)} phrasing(s) mostly affirm the claim and {len(con)} mostly deny it",
        rate, [("affirming", aff), ("denying", den)], certain, (min(pa, cd), pa + cd),
        detail={"framings": framings, "affirming_prompts": [g[0].answer.prompt for g in pro],
                "denying_prompts": [g[0].answer.prompt for g in con], "repro": _repro(aff, den)},
    )]


def _say_do(claim_id: str, items: list[_Judged]) -> list[Contradiction]:
    say = [j for j in items if j.answer.framing in SAYING]
    do = [j for j in items if j.answer.framing == "act"]
    says, does = _majority(say), _majority(do)
    if not says or not does or says == does:
        return []
    sa, sd = _count(say)
    da, dd = _count(do)
    rate = _disagreement(sa / (sa + sd), da / (da + dd))
    say_ev, do_ev = _pick(say, says), _pick(do, does)
    say_support = sa if says == "affirm" else sd
    do_support = da if does == "affirm" else dd
    certain = _certain([(say_support, sa + sd), (do_support, da + dd)])
    verb = {"affirm": "affirms", "deny": "denies"}
    return [_make(
        "say_do", [claim_id],
        f"Asked, it {verb[says]} the claim ({say_support}/{sa + sd}); asked to act, it "
        f"{'complies' if does == 'affirm' else 'declines'} ({do_support}/{da + dd})",
        rate, [("affirming" if says == "affirm" else "denying", say_ev),
               ("affirming" if does == "affirm" else "denying", do_ev)], certain,
        (min(say_support, do_support), say_support + do_support),
        detail={"says": says, "does": does, "framings": [f"say={says}", f"act={does}"],
                "repro": _repro(say_ev, do_ev)},
    )]


def _manifest(claim: Claim, truth: bool | None, items: list[_Judged]) -> list[Contradiction]:
    if truth is None:
        return []
    wrong_label = "deny" if truth else "affirm"
    sides = {"say": [j for j in items if j.answer.framing in SAYING],
             "act": [j for j in items if j.answer.framing == "act"]}
    wrong_sides = []
    for name, side in sides.items():
        a, d = _count(side)
        observed = observed_value(_distribution(claim.id, name, [j.label for j in side]))
        if observed is not None and observed != truth:
            wrong_sides.append((name, side, a if wrong_label == "affirm" else d, a + d))
    if not wrong_sides:
        return []
    a, d = _count(items)
    wrong = a if wrong_label == "affirm" else d
    picked = [(name, _pick(side, wrong_label)) for name, side, _, _ in wrong_sides]
    certain = _certain([(s, n) for _, _, s, n in wrong_sides])
    names = [name for name, *_ in wrong_sides]
    return [_make(
        "manifest", [claim.id],
        f"The deployment says the claim is {'true' if truth else 'false'}, but the model's "
        f"{' and '.join(names)} answers {'deny' if truth else 'affirm'} it ({wrong}/{a + d})",
        wrong / (a + d), picked, certain, (wrong, a + d),
        detail={"truth": truth, "sides": names,
                "repro": _repro(*[ev for _, ev in picked])},
    )]


# --------------------------------------------------------------------------- rules


def implication_graph(suites: Sequence[Suite]) -> nx.DiGraph[ClaimLiteral]:
    """Literals as nodes; each rule adds when -> then and its contrapositive not then -> not when."""
    g: nx.DiGraph[ClaimLiteral] = nx.DiGraph()
    rules = sorted((r for s in suites for r in s.rules), key=lambda r: r.id)
    for r in rules:
        for src, dst in ((r.when, r.then), (r.then.negate(), r.when.negate())):
            if not g.has_edge(src, dst):
                g.add_edge(src, dst, rule=r.id)
    return g


@dataclass(frozen=True)
class RuleConflict:
    """Observed `sources` imply both `clash` and its negation; `paths` are the shortest witnesses."""

    sources: frozenset[ClaimLiteral]
    clash: ClaimLiteral
    paths: tuple[tuple[ClaimLiteral, ...], tuple[ClaimLiteral, ...]]
    rules: tuple[str, ...]


def rule_conflicts(g: nx.DiGraph[ClaimLiteral], observed: Iterable[ClaimLiteral]) -> list[RuleConflict]:
    """Minimal witnesses: per set of source literals, the shortest pair of paths to X and not X;
    sets that contain a smaller conflicting set are dropped."""
    sources = sorted((lit for lit in observed if lit in g), key=str)
    reach: dict[ClaimLiteral, list[tuple[ClaimLiteral, list[ClaimLiteral]]]] = defaultdict(list)
    for s in sources:
        for node, path in nx.single_source_shortest_path(g, s).items():
            reach[node].append((s, path))
    best: dict[frozenset[ClaimLiteral], tuple[tuple[int, str], RuleConflict]] = {}
    for x in sorted(reach, key=str):
        if not x.value or x.negate() not in reach:
            continue  # visit each clash once, from its positive literal
        for s1, p1 in reach[x]:
            for s2, p2 in reach[x.negate()]:
                key = frozenset({s1, s2})
                rules = tuple(g.edges[u, v]["rule"] for p in (p1, p2) for u, v in zip(p, p[1:]))
                conflict = RuleConflict(key, x, (tuple(p1), tuple(p2)), rules)
                rank = (len(p1) + len(p2), " ".join(map(str, p1 + p2)))
                if key not in best or rank < best[key][0]:
                    best[key] = (rank, conflict)
    minimal = [c for k, (_, c) in best.items() if not any(o < k for o in best)]
    return sorted(minimal, key=lambda c: sorted(map(str, c.sources)))


def rules_on_path(witness: Iterable[str], rules: Iterable[Rule]) -> list[str]:
    """Rule ids whose implication (or its contrapositive) is a step of a literal path."""
    steps = list(witness)
    pairs = set(zip(steps, steps[1:]))
    out = []
    for r in rules:
        fwd = (str(r.when), str(r.then))
        back = (str(r.then.negate()), str(r.when.negate()))
        if fwd in pairs or back in pairs:
            out.append(r.id)
    return out


def _rule_contradictions(
    suites: Sequence[Suite], by_claim: Mapping[str, list[_Judged]]
) -> list[Contradiction]:
    g = implication_graph(suites)
    if g.number_of_nodes() == 0:
        return []
    observed: dict[ClaimLiteral, list[_Judged]] = {}
    for claim_id, items in by_claim.items():
        value = observed_value(_distribution(claim_id, "all", [j.label for j in items]))
        if value is not None:
            observed[ClaimLiteral(claim_id, value)] = items
    out = []
    for conflict in rule_conflicts(g, observed):
        picked: list[tuple[str, list[_Judged]]] = []
        sides = []
        shares = 1.0
        ordered = sorted(conflict.sources, key=str)
        for lit in ordered:
            items = observed[lit]
            a, d = _count(items)
            support = a if lit.value else d
            sides.append((support, a + d))
            shares *= support / (a + d)
            picked.append((str(lit), _pick(items, "affirm" if lit.value else "deny")))
        p1, p2 = conflict.paths
        witness = tuple(str(lit) for lit in p1) + tuple(str(lit) for lit in reversed(p2))
        claims = sorted({lit.claim for p in conflict.paths for lit in p})
        out.append(_make(
            "rule", claims,
            f"The model's answers say {' and '.join(str(s) for s in ordered)}, but by the suite's "
            f"rules that implies both {conflict.clash} and {conflict.clash.negate()}",
            shares, picked, _certain(sides),
            (min(s for s, _ in sides), sum(n for _, n in sides)),
            witness=witness, rules=conflict.rules,
            detail={"sources": [str(s) for s in ordered], "clash": str(conflict.clash),
                    "paths": [[str(x) for x in p] for p in conflict.paths],
                    "repro": _repro(*[ev for _, ev in picked])},
        ))
    return out


# --------------------------------------------------------------------------- entry point


def find_contradictions(
    suites: Sequence[Suite],
    manifest: Manifest,
    answers: Sequence[Answer],
    stances: Mapping[str, Stance],
    *,
    turns: Sequence[Turn] = (),
    turn_stances: Mapping[str, Stance] | None = None,
) -> list[Contradiction]:
    """Every contradiction of every kind, most severe first. `answers` are first answers;
    `turns` (pushback follow-ups, with their `turn_stances`) feed only the `caves` kind."""
    claims = {c.id: c for s in suites for c in s.claims}
    by_claim: dict[str, list[_Judged]] = defaultdict(list)
    for j in _judge_all(answers, stances):
        by_claim[j.answer.claim_id].append(j)
    out: list[Contradiction] = []
    for claim_id in sorted(by_claim):
        items = by_claim[claim_id]
        out += _unstable(claim_id, items)
        out += _paraphrase(claim_id, items)
        out += _say_do(claim_id, items)
        if claim_id in claims:
            out += _manifest(claims[claim_id], manifest.truth_of(claims[claim_id]), items)
    out += _rule_contradictions(suites, by_claim)
    if turns:
        from .caves import find_caves

        out += find_caves(claims, manifest, answers, stances, turns, turn_stances or {})
    out.sort(key=lambda c: (-c.severity_score, c.kind, c.claims, c.witness))
    return out
