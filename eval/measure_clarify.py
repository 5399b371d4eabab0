"""What the forced-choice follow-up (`run --clarify`) costs and what it buys, on hand-labelled answers.

    flock /tmp/bdbg-model.lock .venv/bin/python eval/measure_clarify.py            # embedded model
    .venv/bin/python eval/measure_clarify.py --base-url http://127.0.0.1:8080/v1 --model local
    .venv/bin/python eval/measure_clarify.py --replies eval/clarify_run3.jsonl     # re-read, no model

Data: eval/embedded_check_run3.jsonl (every yes/no and act answer of one run on the embedded
model, each with a stance labelled by hand, `label`) and its .meta.json (the run's suites snapshot,
model and generation parameters). For every answer that the rules judge reads as "unclear" (the
answers `run --clarify` follows up), the script replays the run's conversation (system, context,
prompt) with that first answer as the assistant turn and sends the follow-up that `run --clarify`
sends (behaviordbg.judges.clarify.followup_prompt), at the run's temperature and max_tokens. The
reply is read by behaviordbg.judges.clarify.read_reply, exactly as the analysis reads it.

Prints: answers, unclear answers (per framing), follow-ups sent and wall time; decisive replies;
for answers whose gold label is affirm or deny, how often the clarified stance equals it; for
gold unclear (and refuse) ones, what the forced reply says. `--out FILE` writes one row per
follow-up (response id, framing, gold, the reply, the clarified stance), which `--replies FILE`
reads back to re-measure the reader without the model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from behaviordbg.analysis.stats import wilson  # noqa: E402
from behaviordbg.judges.clarify import FRAMINGS, followup_prompt, read_reply, reply_particle  # noqa: E402
from behaviordbg.judges.rules import RulesJudge  # noqa: E402
from behaviordbg.suites import expand  # noqa: E402
from behaviordbg.types import Query, StanceInput, suite_from_dict  # noqa: E402

DATA = HERE / "embedded_check_run3.jsonl"


def load(data: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    meta = json.loads(data.with_suffix(".meta.json").read_text(encoding="utf-8"))
    return rows, meta


def unclear_rows(rows: list[dict[str, Any]], meta: dict[str, Any]) -> list[tuple[dict[str, Any], Query]]:
    """The rows `run --clarify` follows up (rules judge: unclear), each with its query as run."""
    suites = [suite_from_dict(s) for s in meta["suites"]]
    claims = {c.id: c for s in suites for c in s.claims}
    queries = {q.id: q for q in expand(suites, int(meta.get("samples") or 1))}
    judge = RulesJudge()
    out = []
    for r in rows:
        if r["framing"] not in FRAMINGS:
            continue
        c = claims[r["claim_id"]]
        v = judge.judge_one(StanceInput(claim=c.text, prompt=r["prompt"], response=r["response"],
                                        framing=r["framing"], claim_id=c.id,
                                        response_id=r["response_id"], identity=c.identity))
        if v.label != "unclear":
            continue
        q = queries.get(r["query_id"])
        if q is None or q.prompt != r["prompt"]:
            sys.exit(f"{r['response_id']}: query {r['query_id']} is not in the meta file's suites")
        out.append((r, q))
    return out


async def ask(todo: list[tuple[dict[str, Any], Query]], meta: dict[str, Any], base_url: str,
              model: str, concurrency: int) -> list[dict[str, Any]]:
    """One follow-up per unclear answer, in the replayed conversation."""
    from behaviordbg.client import ModelClient, RequestFailed

    out: list[dict[str, Any]] = []
    sem = asyncio.Semaphore(concurrency)
    async with ModelClient(base_url, None, concurrency=concurrency, timeout=300.0) as client:

        async def one(r: dict[str, Any], q: Query) -> None:
            say = followup_prompt(q.framing, q.prompt)
            msgs = [{"role": m.role, "content": m.content} for m in q.messages]
            msgs += [{"role": "assistant", "content": r["response"]}, {"role": "user", "content": say}]
            async with sem:
                try:
                    res = await client.chat(msgs, model=model,
                                            temperature=float(meta.get("temperature") or 0.7),
                                            max_tokens=int(meta.get("max_tokens") or 160))
                    reply: str | None = res.texts[0]
                except RequestFailed as err:
                    reply = None
                    print(f"{r['response_id']}: failed: {err.kind}: {err.message}", file=sys.stderr)
            out.append({"response_id": r["response_id"], "claim_id": r["claim_id"],
                        "framing": r["framing"], "sample_idx": r["sample_idx"],
                        "gold": r["label"], "first": r["response"], "followup": say,
                        "reply": reply})

        await asyncio.gather(*(one(r, q) for r, q in todo))
    order = {r["response_id"]: i for i, (r, _) in enumerate(todo)}
    return sorted(out, key=lambda x: order[x["response_id"]])


def report(rows: list[dict[str, Any]], todo_n: int, by_framing: Counter[str],
           replies: list[dict[str, Any]], wall: float | None, sent: int) -> dict[str, Any]:
    for x in replies:
        x["clarified"] = read_reply(x["reply"], x["framing"]) if x["reply"] is not None else "unclear"
        x["particle"] = reply_particle(x["reply"] or "")
    decisive = [x for x in replies if x["clarified"] in ("affirm", "deny")]
    gold_dec = [x for x in replies if x["gold"] in ("affirm", "deny")]
    gold_dec_decisive = [x for x in gold_dec if x["clarified"] in ("affirm", "deny")]
    right = [x for x in gold_dec_decisive if x["clarified"] == x["gold"]]
    rest = [x for x in replies if x["gold"] not in ("affirm", "deny")]
    lo, hi = wilson(len(right), len(gold_dec_decisive)) if gold_dec_decisive else (0.0, 0.0)
    fig = {
        "answers": len(rows),
        "yes_no_and_act_answers": sum(r["framing"] in FRAMINGS for r in rows),
        "unclear_by_rules": todo_n, "unclear_by_framing": dict(by_framing),
        "followups_sent": sent, "wall_s": None if wall is None else round(wall, 1),
        "s_per_followup": None if wall is None or not sent else round(wall / sent, 2),
        "failed": sum(x["reply"] is None for x in replies),
        "decisive": len(decisive),
        "gold_of_unclear": dict(Counter(x["gold"] for x in replies)),
        "gold_affirm_deny": len(gold_dec),
        "gold_affirm_deny_decisive": len(gold_dec_decisive),
        "clarified_equals_gold": len(right),
        "clarified_accuracy": round(len(right) / len(gold_dec_decisive), 3) if gold_dec_decisive else None,
        "clarified_accuracy_wilson95": [round(lo, 3), round(hi, 3)],
        "clarified_opposite_gold": len(gold_dec_decisive) - len(right),
        "decisive_on_gold_unclear_or_refuse": sum(x["clarified"] in ("affirm", "deny") for x in rest),
        "gold_unclear_or_refuse_replies": dict(Counter(
            f"{x['gold']}->{x['particle'] or 'no particle'}->{x['clarified']}" for x in rest)),
        "decisive_precision_all": round(len([x for x in decisive if x["clarified"] == x["gold"]])
                                        / len(decisive), 3) if decisive else None,
        "by_framing": {f: {"unclear": sum(x["framing"] == f for x in replies),
                           "decisive": sum(x["framing"] == f for x in decisive),
                           "equals_gold": sum(x["framing"] == f for x in right),
                           "gold_affirm_deny_decisive": sum(x["framing"] == f for x in gold_dec_decisive)}
                       for f in FRAMINGS},
    }
    return fig


def bug_effect(rows: list[dict[str, Any]], meta: dict[str, Any],
               replies: list[dict[str, Any]]) -> dict[str, Any]:
    """Bugs and candidates from the rules judge's stances, without and with the clarified ones
    (at CONFIDENCE, and as if they were solid), against the gold bugs (every answer at its gold
    stance), as eval/bug_precision.py counts them."""
    from dataclasses import replace

    from bug_precision import gold_stances, load_suites_and_manifest, to_answers

    from behaviordbg.analysis.bugs import to_bugs
    from behaviordbg.analysis.evidence import SOLID_CONFIDENCE
    from behaviordbg.analysis.graph import find_contradictions
    from behaviordbg.judges.clarify import CONFIDENCE, clarified

    suites, manifest = load_suites_and_manifest(meta, None, None)
    claims = {c.id: c for s in suites for c in s.claims}
    answers = to_answers(rows, meta["run_id"])
    judge = RulesJudge()
    rules = {a.response_id: judge.judge_one(StanceInput(
        claim=claims[a.claim_id].text, prompt=a.prompt, response=a.text, framing=a.framing,
        claim_id=a.claim_id, response_id=a.response_id, identity=claims[a.claim_id].identity))
        for a in answers}

    def found(stances: dict[str, Any]) -> tuple[set[str], set[str]]:
        bugs = to_bugs(find_contradictions(suites, manifest, answers, stances), claims)
        return ({b.fingerprint for b in bugs if not b.candidate},
                {b.fingerprint for b in bugs if b.candidate})

    gold_bugs, _ = found(gold_stances(rows))
    out: dict[str, Any] = {"gold_bugs": len(gold_bugs)}
    clarified_stances: dict[str, Any] = {}
    for name, conf in (("rules", None), (f"stances_flow@{CONFIDENCE}", CONFIDENCE),
                       (f"stances_flow@{SOLID_CONFIDENCE}(solid)", SOLID_CONFIDENCE)):
        stances = dict(rules)
        if conf is not None:
            for x in replies:
                v = clarified(x["response_id"], x["framing"], x["reply"] or "")
                if v is not None and stances[x["response_id"]].label == "unclear":
                    stances[x["response_id"]] = replace(v, confidence=conf)
            if conf == CONFIDENCE:
                clarified_stances = stances
        bugs, cands = found(stances)
        out[name] = {"bugs": len(bugs), "bugs_in_gold": len(bugs & gold_bugs),
                     "precision": round(len(bugs & gold_bugs) / len(bugs), 3) if bugs else None,
                     "recall": round(len(bugs & gold_bugs) / len(gold_bugs), 3) if gold_bugs else None,
                     "candidates": len(cands), "candidates_in_gold": len(cands & gold_bugs)}
    # what `analyze` does (pipeline/clarify.add_candidates): the judges' contradictions, plus as
    # candidates those only the clarified stances show
    from behaviordbg.analysis.bugs import fingerprint
    from behaviordbg.pipeline.clarify import add_candidates

    base = find_contradictions(suites, manifest, answers, rules)
    by_q = {x["response_id"]: x for x in replies}
    reps = {a.query_id: (by_q[a.response_id]["followup"], by_q[a.response_id]["reply"] or "")
            for a in answers if a.response_id in by_q}
    merged = add_candidates(base, find_contradictions(suites, manifest, answers,
                                                      clarified_stances), answers, reps)
    added = {fingerprint(c) for c in merged[len(base):]}
    rb, rc = found(rules)
    out["shipped(add_candidates)"] = {
        "bugs": len(rb), "precision": out["rules"]["precision"], "recall": out["rules"]["recall"],
        "candidates_added": len(added), "added_in_gold": len(added & gold_bugs),
        "gold_bugs_missed_by_rules": len(gold_bugs - rb),
        "of_which_added_as_clarify_candidates": len((gold_bugs - rb) & added),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--base-url", help="an OpenAI-compatible endpoint (default: the embedded model)")
    ap.add_argument("--model", default="local")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--limit", type=int, help="only the first N unclear answers")
    ap.add_argument("--out", type=Path, help="write one row per follow-up (JSONL)")
    ap.add_argument("--replies", type=Path, help="read the replies of an earlier --out; ask no model")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    rows, meta = load(args.data)
    todo = unclear_rows(rows, meta)
    if args.limit is not None:
        todo = todo[: args.limit]
    by_framing = Counter(r["framing"] for r, _ in todo)
    wall: float | None = None
    if args.replies:
        want = {r["response_id"] for r, _ in todo}  # the judge of today decides what is asked
        replies = [x for x in (json.loads(line) for line in args.replies.read_text(
            encoding="utf-8").splitlines() if line.strip()) if x["response_id"] in want]
        missing = len(want) - len(replies)
        if missing:
            print(f"{missing} unclear answers have no reply in {args.replies}: ask the model"
                  " again (without --replies) to measure them", file=sys.stderr)
        sent = 0
    else:
        t0 = time.perf_counter()
        if args.base_url:
            replies = asyncio.run(ask(todo, meta, args.base_url, args.model, args.concurrency))
        else:
            from behaviordbg import local

            with local.serve() as server:
                t0 = time.perf_counter()  # the server's start is not the follow-ups' cost
                replies = asyncio.run(ask(todo, meta, server.base_url, server.model,
                                          min(args.concurrency, 2)))
        wall = time.perf_counter() - t0
        sent = len(replies)
    fig = report(rows, len(todo), by_framing, replies, wall, sent)  # adds each reply's reading
    if args.out:
        args.out.write_text("".join(json.dumps({k: v for k, v in x.items() if k != "particle"},
                                               ensure_ascii=False) + "\n" for x in replies),
                            encoding="utf-8")
    fig["bug_level"] = bug_effect(rows, meta, replies)
    if args.json:
        print(json.dumps(fig, indent=2))
        return
    for k, v in fig.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
