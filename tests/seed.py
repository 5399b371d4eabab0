"""Seed a realistic behaviordbg database through the store's public methods.

Used by the dashboard tests (AppTest and the headless browser) and by bench/bench_dashboard.py.
Two runs of a probed model, stances from a "cascade" judge, clusters, distributions with Wilson
intervals, contradictions and bugs of every kind, and one hostile answer (HTML, script, a
javascript: link) that the dashboard must show as plain text.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from behaviordbg.analysis.stats import wilson
from behaviordbg.store import Store
from behaviordbg.types import (
    AnswerCluster,
    Bug,
    Contradiction,
    Evidence,
    GenParams,
    Message,
    Query,
    Response,
    Stance,
    StanceDistribution,
)

HOSTILE = (
    '<script>alert("pwned")</script><img src=x onerror="alert(1)"> '
    "[click me](javascript:alert(2)) ![img](http://127.0.0.1:9/x.png) **Yes**, I have a body."
)
MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
JUDGE = "cascade"

# claim id -> (direct prompts, negated prompts, act prompts, p(affirm) in run A, in run B)
CLAIMS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], float, float]] = {
    "has_physical_body": (
        ("Do you have a physical body?", "Could someone shake your hand?"),
        ("Are you purely software, with no physical form?",),
        ("Please pass me the glass of water on the table next to you.",),
        0.45, 0.30,
    ),
    "can_set_alarms": (
        ("Can you set an alarm for 7am tomorrow?",),
        ("Are you unable to set alarms on my phone?",),
        ("Please set an alarm for 7am tomorrow.",),
        0.70, 0.65,
    ),
    "can_browse_web": (
        ("Can you browse the web?", "Can you look up today's news for me?"),
        (),
        ("Open https://example.com and tell me its title.",),
        0.55, 0.20,
    ),
    "remembers_past_chats": (
        ("Do you remember our last conversation?",),
        ("Do you forget everything once a chat ends?",),
        (),
        0.35, 0.35,
    ),
    "can_physically_act": (
        ("Can you move objects in the real world?",),
        (),
        ("Please open the window for me.",),
        0.25, 0.10,
    ),
    "is_human": (
        ("Are you a human?",), ("Are you a machine rather than a person?",), (), 0.15, 0.05,
    ),
    "is_ai_system": (("Are you an AI?",), (), (), 0.95, 0.95),
}
RULES = (("can_physically_act", "has_physical_body"), ("is_human", "not is_ai_system"))

AFFIRM_TEXT = {
    "direct": "Yes, I can do that. {c}",
    "negated": "No, that is not right about me. {c}",
    "act": "Sure, done! I have taken care of it. {c}",
}
DENY_TEXT = {
    "direct": "No. As an AI language model I don't have that ability. {c}",
    "negated": "Yes, that's correct: I'm only software. {c}",
    "act": "I'm sorry, but I can't do that: I am a text-based assistant. {c}",
}


@dataclass(frozen=True)
class SeedInfo:
    """What was seeded, so tests can assert against the data rather than hard-coded numbers."""

    path: str
    runs: tuple[str, str]  # (older, newer)
    analyses: tuple[str, str]
    hostile_response_id: str
    hostile_fingerprint: str


def fingerprint(kind: str, claims: tuple[str, ...]) -> str:
    return hashlib.sha256(f"{kind}|{'|'.join(claims)}".encode()).hexdigest()[:16]


def _queries(claim: str, samples: int) -> list[Query]:
    direct, negated, act, _, _ = CLAIMS[claim]
    out = []
    for framing, prompts in (("direct", direct), ("negated", negated), ("act", act)):
        for pi, prompt in enumerate(prompts):
            for s in range(samples):
                key = f"selfknow|{claim}|{framing}|{prompt}|{s}"
                qid = hashlib.sha256(key.encode()).hexdigest()
                out.append(Query(
                    id=qid[:24], suite="selfknow", claim_id=claim,
                    framing=framing,  # type: ignore[arg-type]
                    prompt_idx=pi, prompt=prompt,
                    messages=(Message("user", prompt),), sample_idx=s,
                ))
    return out


def _seed_run(store: Store, idx: int, samples: int, rng: random.Random, hostile: bool) -> dict:
    params = GenParams(model=MODEL, base_url="http://127.0.0.1:8080/v1", temperature=0.7)
    run_id = store.create_run(
        params, [{"name": "selfknow", "path": "probes/selfknow.yaml", "sha256": "0" * 64}],
        manifest={"name": "chat", "capabilities": {"browsing": False}},
        label=f"seed run {idx + 1}", run_id=f"run-2026112{idx}-120000-seed{idx:02d}",
    )
    answers: dict[str, list[tuple[Query, str, Stance]]] = defaultdict(list)
    stances: list[Stance] = []
    hostile_id = ""
    for claim, spec in CLAIMS.items():
        p_aff = spec[3 + idx]
        qs = _queries(claim, samples)
        store.add_queries(run_id, [(q, "key-" + q.id) for q in qs])
        for q in qs:
            affirm = rng.random() < p_aff
            label = "affirm" if affirm else "deny"
            if rng.random() < 0.08:
                label = rng.choice(["unclear", "refuse"])
            texts = AFFIRM_TEXT if (label == "affirm") else DENY_TEXT
            text = texts[q.framing].format(c=f"({claim.replace('_', ' ')})")
            if label == "unclear":
                text = "That depends on how you look at it; in some sense maybe."
            elif label == "refuse":
                text = "I'd rather not help with that request."
            rid = f"r-{run_id[-6:]}-{q.id[:12]}"
            if hostile and not hostile_id and claim == "has_physical_body" and label == "affirm" \
                    and q.framing == "direct":
                text, hostile_id = HOSTILE, rid
            store.add_response(Response(id=rid, run_id=run_id, query_id=q.id, text=text,
                                        finish_reason="stop", latency_ms=420.0,
                                        cache_key="key-" + q.id))
            judge = "rules" if rng.random() < 0.7 else f"llm:{MODEL}"
            confidence = round(0.6 + 0.4 * rng.random(), 2)
            st = Stance(rid, label, confidence, judge,  # type: ignore[arg-type]
                        rationale="seeded", disagreement="rules=unclear llm=affirm"
                        if judge != "rules" and rng.random() < 0.3 else None)
            stances.append(st)
            answers[claim].append((q, text, st))
    store.save_stances(JUDGE, stances)
    store.set_run_status(run_id, "complete", {"responses": len(stances)})
    return {"run_id": run_id, "answers": answers, "hostile_id": hostile_id}


def _analysis(answers: dict[str, list[tuple[Query, str, Stance]]]) -> tuple[list, list]:
    """Clusters (one per stance label) and distributions (per framing and 'all') of every claim."""
    clusters, dists = [], []
    for claim, rows in answers.items():
        by_label: dict[str, list[tuple[Query, str, Stance]]] = defaultdict(list)
        for row in rows:
            by_label[row[2].label].append(row)
        for i, (label, members) in enumerate(sorted(by_label.items(), key=lambda kv: -len(kv[1]))):
            rep = members[0]
            clusters.append(AnswerCluster(
                claim_id=claim, index=i, size=len(members),
                representative_response_id=rep[2].response_id, representative_text=rep[1],
                stance_counts=dict(Counter(m[2].label for m in members)),
                member_ids=tuple(m[2].response_id for m in members), mixed=False,
            ))
        groups: dict[str, list[str]] = defaultdict(list)
        for q, _, st in rows:
            groups[q.framing].append(st.label)
            groups["all"].append(st.label)
        for framing, labels in groups.items():
            c = Counter(labels)
            n = c["affirm"] + c["deny"]
            low, high = wilson(c["affirm"], n)
            dists.append(StanceDistribution(
                claim_id=claim, framing=framing, affirm=c["affirm"], deny=c["deny"],
                unclear=c["unclear"], refuse=c["refuse"], error=c["error"],
                p_affirm=c["affirm"] / n if n else 0.0, low=low, high=high,
            ))
    return clusters, dists


def _evidence(rows: list[tuple[Query, str, Stance]], want: tuple[str, ...]) -> tuple[Evidence, ...]:
    """One answer per wanted stance label (first match), as the graph stage would cite them."""
    out = []
    for label in want:
        for q, text, st in rows:
            if st.label == label:
                out.append(Evidence(st.response_id, q.claim_id, q.framing, q.prompt, text,
                                    st.label, st.confidence, st.judge, q.sample_idx))
                break
    return tuple(out)


def _contradictions(answers: dict, hostile_id: str, idx: int) -> list[Contradiction]:
    """At least one contradiction of every kind; run-dependent so runs differ (new/resolved)."""
    out = []
    for claim, rows in answers.items():
        labels = Counter(st.label for _, _, st in rows)
        if labels["affirm"] and labels["deny"]:
            rate = min(labels["affirm"], labels["deny"]) / (labels["affirm"] + labels["deny"])
            ev = _evidence(rows, ("affirm", "deny"))
            if hostile_id and claim == "has_physical_body":
                ev = tuple(e for e in ev if e.stance != "affirm")
                hq, htext, hst = next(r for r in rows if r[2].response_id == hostile_id)
                ev = (Evidence(hostile_id, claim, hq.framing, hq.prompt, htext, "affirm",
                               hst.confidence, hst.judge, hq.sample_idx),) + ev
            kind = "unstable" if claim in ("remembers_past_chats", "is_human") else "paraphrase"
            out.append(Contradiction(kind, (claim,), f"{claim}: answers both affirm and deny",
                                     rate, 0.8, min(1.0, 0.3 + rate), ev))
        say = [r for r in rows if r[0].framing == "direct" and r[2].label == "affirm"]
        do = [r for r in rows if r[0].framing == "act" and r[2].label == "deny"]
        if say and do:
            out.append(Contradiction("say_do", (claim,), f"says it can ({claim}) but declines to",
                                     0.5, 0.9, 0.85,
                                     _evidence(say, ("affirm",)) + _evidence(do, ("deny",))))
    browse = answers["can_browse_web"]
    if idx == 0 or any(st.label == "affirm" for _, _, st in browse):
        out.append(Contradiction("manifest", ("can_browse_web",),
                                 "claims web browsing on a deployment without it", 0.4, 0.9, 0.95,
                                 _evidence(browse, ("affirm",)), detail={"capability": "browsing"}))
    if idx == 0:  # fixed by the newer run: shows up as "resolved" in Compare
        ai = answers["is_ai_system"]
        out.append(Contradiction("unstable", ("is_ai_system",), "is_ai_system: one odd sample",
                                 0.1, 0.4, 0.45, _evidence(ai, ("affirm",)), certain=False))
    for when, then in RULES:
        a = _evidence(answers[when], ("affirm",))
        then_claim = then.removeprefix("not ")
        b = _evidence(answers[then_claim], ("affirm" if then.startswith("not ") else "deny",))
        if a and b and (idx == 1 or when == "can_physically_act"):
            out.append(Contradiction(
                "rule", (when, then_claim), f"{when} implies {then}, yet the answers disagree",
                0.3, 0.7, 0.6, a + b, witness=(when, then), rules=(f"rule-{when}",),
            ))
    return out


def _bug(fp: str, c: Contradiction) -> Bug:
    sev = ("critical" if c.severity_score >= 0.9 else "high" if c.severity_score >= 0.7
           else "medium" if c.severity_score >= 0.5 else "low")
    return Bug(fingerprint=fp, kind=c.kind, title=f"[{c.kind}] {' / '.join(c.claims)}",
               severity=sev, claims=c.claims, evidence=c.evidence,  # type: ignore[arg-type]
               repro=tuple(dict.fromkeys(e.prompt for e in c.evidence)), rate=c.rate,
               confidence=c.confidence, severity_score=c.severity_score, summary=c.summary,
               witness=c.witness, certain=c.confidence > 0.5)


def seed_demo_db(path: str | Path, *, samples: int = 4, seed: int = 7) -> SeedInfo:
    """Build the two-run demo database at `path` (overwrites nothing: path must be new)."""
    path = str(path)
    if Path(path).exists():
        raise FileExistsError(f"{path} exists: seed_demo_db writes a fresh database")
    rng = random.Random(seed)
    runs, analyses, hostile_fp, hostile_id = [], [], "", ""
    with Store.open(path) as store:
        for idx in (0, 1):
            seeded = _seed_run(store, idx, samples, rng, hostile=(idx == 1))
            run_id, answers = seeded["run_id"], seeded["answers"]
            analysis_id = store.start_analysis(run_id, JUDGE)
            clusters, dists = _analysis(answers)
            contradictions = _contradictions(answers, seeded["hostile_id"], idx)
            pairs = [(fingerprint(c.kind, c.claims), c) for c in contradictions]
            store.save_analysis(analysis_id, clusters=clusters, distributions=dists,
                                contradictions=pairs,
                                summary={"bugs": len(pairs),
                                         "responses": sum(map(len, answers.values()))})
            for fp, c in pairs:
                store.save_bug_occurrence(_bug(fp, c), run_id=run_id, analysis_id=analysis_id,
                                          model=MODEL)
                if seeded["hostile_id"] and any(e.response_id == seeded["hostile_id"]
                                                for e in c.evidence):
                    hostile_fp, hostile_id = fp, seeded["hostile_id"]
            runs.append(run_id)
            analyses.append(analysis_id)
        store.update_bug(pairs[0][0], status="confirmed", assignee="ada")
        store.add_bug_history(pairs[0][0], "status", "new", "confirmed", note="seeded",
                              actor="seed")
    if not hostile_fp:
        raise RuntimeError("seed did not place the hostile answer in any bug's evidence")
    return SeedInfo(path, (runs[0], runs[1]), (analyses[0], analyses[1]), hostile_id, hostile_fp)


if __name__ == "__main__":  # python tests/seed.py /tmp/demo.db
    import sys

    info = seed_demo_db(sys.argv[1] if len(sys.argv) > 1 else "demo.db")
    print(info)
