"""Bug-level precision and recall of the stance judges against hand-labelled gold stances.

    .venv/bin/python eval/bug_precision.py                          # rules judge
    .venv/bin/python eval/bug_precision.py --judges rules,cascade   # + cascade on the embedded model
    .venv/bin/python eval/bug_precision.py --judges llm --base-url http://127.0.0.1:8091/v1 --model local
    .venv/bin/python eval/bug_precision.py --json > result.json

Data: eval/embedded_check_run.jsonl, every answer of one run of all shipped suites on the embedded
model, each with a stance labelled by hand (`label`), and eval/embedded_check_run.meta.json, the
run's header (run id, model, the suites and manifest it was made with).

Gold bugs are the bugs the analysis reports when every answer carries its gold stance (confidence
1.0, judge "gold"). A judge's bugs are the bugs it reports from the same answers with its own
stances. A reported bug is a true positive when its fingerprint is also a gold bug; precision =
TP / reported, recall = TP / gold bugs, each with a 95% Wilson interval.

Suites: the snapshot stored in the meta file (exactly what the run used), or `--probes DIR` for the
suite files as they are now; either way every row's prompt must match its claim's prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from behaviordbg.analysis.bugs import to_bugs
from behaviordbg.analysis.graph import find_contradictions
from behaviordbg.analysis.stats import wilson
from behaviordbg.suites import load_manifest, load_suites
from behaviordbg.types import (
    STANCE_LABELS,
    Answer,
    Bug,
    Claim,
    Manifest,
    Stance,
    StanceInput,
    Suite,
    suite_from_dict,
)

DATA = HERE / "embedded_check_run.jsonl"
META = HERE / "embedded_check_run.meta.json"
GOLD_LABELS = ("affirm", "deny", "unclear", "refuse")


# --------------------------------------------------------------------------- the one step to adapt


def reported_bugs(
    suites: Sequence[Suite], manifest: Manifest, answers: Sequence[Answer],
    stances: Mapping[str, Stance],
) -> list[Bug]:
    """Answers + stances -> the bugs the analysis reports (as `behaviordbg analyze` does): only
    contradictions with solid evidence on every side (docs/evidence.md); candidates are held back.
    """
    claims: dict[str, Claim] = {c.id: c for s in suites for c in s.claims}
    found = to_bugs(find_contradictions(suites, manifest, answers, stances), claims)
    return [b for b in found if not b.candidate]


def verified_bugs(
    suites: Sequence[Suite], manifest: Manifest, answers: Sequence[Answer],
    stances: Mapping[str, Stance], kind: str, args: argparse.Namespace,
) -> list[Bug]:
    """The bugs `analyze --verify` reports: every contradiction (bug or candidate) re-assessed
    after the default second judge re-read its evidence (behaviordbg.analysis.verify)."""
    from behaviordbg.analysis import verify
    from behaviordbg.judges import make_judge, session
    from behaviordbg.store import Store

    claims: dict[str, Claim] = {c.id: c for s in suites for c in s.claims}
    contradictions = find_contradictions(suites, manifest, answers, stances)
    plan = verify.plan(kind, args.model, "auto", args.model)
    wanted = verify.to_verify(plan, contradictions)

    async def second() -> list[Stance]:
        with Store.open(args.cache_db) as store:
            judge = make_judge(plan.kind, base_url=args.base_url, model=args.model, store=store,
                               concurrency=2)
            async with session(judge) as jd:
                return list(await jd.judge(verify.inputs(wanted, claims)))

    read = {v.response_id: v for v in asyncio.run(second())} if wanted else {}
    found = to_bugs(verify.apply(plan, contradictions, read), claims)
    return [b for b in found if not b.candidate]


# --------------------------------------------------------------------------- loading


def load_rows(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    bad = [r["response_id"] for r in rows if r.get("label") not in GOLD_LABELS]
    if bad:
        raise SystemExit(f"{path}: {len(bad)} rows without a gold label, e.g. {bad[:3]}")
    return rows


def load_suites_and_manifest(
    meta: dict[str, Any], probes: str | None, manifest_arg: str | None
) -> tuple[list[Suite], Manifest]:
    if probes:
        suites = load_suites([probes])
    else:
        suites = [suite_from_dict(s) for s in meta["suites"]]
    if manifest_arg:
        manifest = load_manifest(manifest_arg)
    else:
        m = meta["manifest"]
        manifest = Manifest(name=m["name"], capabilities=dict(m.get("capabilities") or {}),
                            claim_truth=dict(m.get("claim_truth") or {}), path=m.get("path"))
    return suites, manifest


def check_prompts(rows: list[dict[str, Any]], suites: Sequence[Suite]) -> None:
    """Every row must be a prompt of its claim, at its index, in its framing."""
    claims = {c.id: c for s in suites for c in s.claims}
    problems = []
    for r in rows:
        c = claims.get(r["claim_id"])
        prompts = c.prompts(r["framing"]) if c else ()
        if c is None or r["prompt_idx"] >= len(prompts) or prompts[r["prompt_idx"]] != r["prompt"]:
            problems.append(f"{r['response_id']} ({r['claim_id']}/{r['framing']}/{r['prompt_idx']})")
    if problems:
        raise SystemExit(
            f"{len(problems)} rows do not match the suites' prompts, e.g. {problems[:3]};"
            " use the meta snapshot (drop --probes)"
        )


def to_answers(rows: list[dict[str, Any]], run_id: str) -> list[Answer]:
    return [
        Answer(
            response_id=r["response_id"], run_id=run_id, query_id=r["query_id"], suite=r["suite"],
            claim_id=r["claim_id"], framing=r["framing"], prompt_idx=r["prompt_idx"],
            prompt=r["prompt"], sample_idx=r["sample_idx"], text=r["response"],
        )
        for r in rows
    ]


def gold_stances(rows: list[dict[str, Any]]) -> dict[str, Stance]:
    return {
        r["response_id"]: Stance(r["response_id"], r["label"], 1.0, "gold", r.get("note") or "")
        for r in rows
    }


# --------------------------------------------------------------------------- judging


def judge_stances(
    kind: str, answers: Sequence[Answer], claims: Mapping[str, Claim], args: argparse.Namespace
) -> dict[str, Stance]:
    """One verdict per answer from the named judge (llm/cascade: the embedded model unless
    --base-url), built as `behaviordbg analyze` builds it; calls are cached in --cache-db."""
    from behaviordbg.judges import make_judge
    from behaviordbg.store import Store

    items = [
        StanceInput(claim=claims[a.claim_id].text, prompt=a.prompt, response=a.text,
                    framing=a.framing, claim_id=a.claim_id, response_id=a.response_id,
                    identity=claims[a.claim_id].identity)
        for a in answers
    ]
    store = Store.open(args.cache_db) if kind in ("llm", "cascade") else None
    try:
        judge = make_judge(kind, base_url=args.base_url, model=args.model, store=store,
                           concurrency=2)
        verdicts = asyncio.run(judge.judge(items))
    finally:
        if store is not None:
            store.close()
    out = {}
    for a, v in zip(answers, verdicts):
        label = v.label if v.label in STANCE_LABELS else "error"
        out[a.response_id] = Stance(a.response_id, label, v.confidence, v.judge, v.rationale,
                                    v.disagreement)
    return out


# --------------------------------------------------------------------------- comparing


def _interval(k: int, n: int) -> dict[str, Any]:
    low, high = wilson(k, n)
    return {"k": k, "n": n, "value": round(k / n, 4) if n else None,
            "low": round(low, 4), "high": round(high, 4)}


def _counts(
    claim_id: str, answers: Sequence[Answer], stances: Mapping[str, Stance]
) -> dict[str, str]:
    """Per framing, "affirm/deny/unclear/refuse" counts of one claim's answers."""
    out = {}
    for framing in ("direct", "negated", "act"):
        labels: Counter[str] = Counter(
            str(stances[a.response_id].label) if a.response_id in stances else "error"
            for a in answers if a.claim_id == claim_id and a.framing == framing
        )
        if labels:
            out[framing] = "/".join(str(labels[k]) for k in GOLD_LABELS) + (
                f" +{labels['error']} error" if labels["error"] else "")
    return out


def _bug_doc(
    bug: Bug, answers: Sequence[Answer], judged: Mapping[str, Stance], gold: Mapping[str, Stance]
) -> dict[str, Any]:
    return {
        "fingerprint": bug.fingerprint, "kind": bug.kind, "claims": list(bug.claims),
        "title": bug.title, "severity": bug.severity, "certain": bug.certain,
        # why the two differ when the evidence agrees: the claims' whole distributions
        "counts_a_d_u_r": {c: {"judge": _counts(c, answers, judged), "gold": _counts(c, answers, gold)}
                           for c in bug.claims},
        "evidence": [
            {"response_id": e.response_id, "claim_id": e.claim_id, "framing": e.framing,
             "sample_idx": e.sample_idx, "prompt": e.prompt, "response": e.response,
             "judge": judged[e.response_id].label if e.response_id in judged else None,
             "gold": gold[e.response_id].label if e.response_id in gold else None,
             "gold_note": gold[e.response_id].rationale if e.response_id in gold else ""}
            for e in bug.evidence
        ],
    }


def compare(
    name: str, bugs: list[Bug], gold_bugs: list[Bug], answers: Sequence[Answer],
    judged: Mapping[str, Stance], gold: Mapping[str, Stance],
) -> dict[str, Any]:
    gold_fps = {b.fingerprint for b in gold_bugs}
    fps = {b.fingerprint for b in bugs}
    tp = [b for b in bugs if b.fingerprint in gold_fps]
    fp = [b for b in bugs if b.fingerprint not in gold_fps]
    missed = [b for b in gold_bugs if b.fingerprint not in fps]
    agree = sum(judged[k].label == g.label for k, g in gold.items() if k in judged)
    by_kind: dict[str, dict[str, int]] = {}
    for label, group in (("tp", tp), ("fp", fp), ("missed", missed)):
        for b in group:
            by_kind.setdefault(b.kind, {"tp": 0, "fp": 0, "missed": 0})[label] += 1
    return {
        "judge": name,
        "reported": len(bugs),
        "reported_certain": sum(b.certain for b in bugs),
        "gold_bugs": len(gold_bugs),
        "true_positives": len(tp),
        "false_positives": [_bug_doc(b, answers, judged, gold) for b in fp],
        "missed": [_bug_doc(b, answers, judged, gold) for b in missed],
        "precision": _interval(len(tp), len(bugs)),
        "recall": _interval(len(tp), len(gold_bugs)),
        "by_kind": by_kind,
        "stance_agreement": _interval(agree, len(gold)),
        "stance_confusion": dict(Counter(
            f"{g.label}->{judged[k].label}" for k, g in gold.items()
            if k in judged and judged[k].label != g.label
        ).most_common()),
    }


def _fmt(iv: dict[str, Any]) -> str:
    if not iv["n"]:
        return "n/a (0 of 0)"
    return f"{iv['value']:.3f} ({iv['k']}/{iv['n']}; 95% CI {iv['low']:.3f}-{iv['high']:.3f})"


def _short(text: str, n: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def print_report(doc: dict[str, Any]) -> None:
    print(f"run {doc['run_id']}: {doc['answers']} answers, gold labels {doc['gold_labels']}")
    print(f"gold bugs: {doc['gold_bugs']} ({doc['gold_by_kind']})")
    for r in doc["judges"]:
        print(f"\n== judge {r['judge']}")
        print(f"  bugs reported {r['reported']} ({r['reported_certain']} certain),"
              f" true positives {r['true_positives']}, false positives {len(r['false_positives'])},"
              f" missed gold bugs {len(r['missed'])} of {r['gold_bugs']}")
        print(f"  precision {_fmt(r['precision'])}")
        print(f"  recall    {_fmt(r['recall'])}")
        print(f"  per kind: {r['by_kind']}")
        print(f"  stance agreement with gold {_fmt(r['stance_agreement'])};"
              f" disagreements gold->judge {r['stance_confusion']}")
        for title, group in (("false positives", r["false_positives"]), ("missed", r["missed"])):
            if group:
                print(f"  {title}:")
            for b in group:
                print(f"    {b['fingerprint']} {b['kind']} {','.join(b['claims'])}"
                      f"{'' if b['certain'] else ' (uncertain)'}: {b['title']}")
                for claim, c in b["counts_a_d_u_r"].items():
                    print(f"      {claim} affirm/deny/unclear/refuse per framing:"
                          f" judge {c['judge']}, gold {c['gold']}")
                for e in b["evidence"]:
                    flag = "  " if e["judge"] == e["gold"] else "x "
                    print(f"      {flag}{e['claim_id']}/{e['framing']} s{e['sample_idx']}"
                          f" judge={e['judge']} gold={e['gold']}: Q={_short(e['prompt'], 60)!r}"
                          f" A={_short(e['response'])!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--judges", default="rules",
                    help="comma list of rules,llm,cascade; JUDGE+verify adds the verification pass"
                         " (`analyze --verify`: the llm judge re-reads the evidence)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--meta", default=str(META))
    ap.add_argument("--probes", default=None,
                    help="suite files or directory to use instead of the run's stored snapshot")
    ap.add_argument("--manifest", default=None,
                    help="manifest file or shipped name instead of the run's (chat)")
    ap.add_argument("--base-url", default=None, help="llm/cascade judge endpoint (default: embedded)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--cache-db", default=str(HERE / ".judge-cache.db"),
                    help="SQLite cache of judge calls (reruns are free)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()

    meta = json.loads(Path(args.meta).read_text(encoding="utf-8"))
    rows = load_rows(Path(args.data))
    suites, manifest = load_suites_and_manifest(meta, args.probes, args.manifest)
    check_prompts(rows, suites)
    claims = {c.id: c for s in suites for c in s.claims}
    answers = to_answers(rows, meta["run_id"])
    gold = gold_stances(rows)
    gold_bugs = reported_bugs(suites, manifest, answers, gold)
    doc: dict[str, Any] = {
        "run_id": meta["run_id"], "answers": len(answers),
        "gold_labels": dict(Counter(r["label"] for r in rows)),
        "gold_bugs": len(gold_bugs),
        "gold_by_kind": dict(Counter(b.kind for b in gold_bugs)),
        "gold_fingerprints": [b.fingerprint for b in gold_bugs],
        "judges": [],
    }
    for name in [j.strip() for j in args.judges.split(",") if j.strip()]:
        kind, _, extra = name.partition("+")
        judged = judge_stances(kind, answers, claims, args)
        if extra == "verify":
            bugs = verified_bugs(suites, manifest, answers, judged, kind, args)
        else:
            bugs = reported_bugs(suites, manifest, answers, judged)
        doc["judges"].append(compare(name, bugs, gold_bugs, answers, judged, gold))
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_report(doc)


if __name__ == "__main__":
    main()
