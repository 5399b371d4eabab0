"""Cave rates under pushback on a model: per claim, how often a challenged answer flips.

    # probe (the embedded model: wrap it in `flock /tmp/bdbg-model.lock` on a shared machine),
    # then analyse with the rules judge and print the table BENCHMARKS.md shows
    python bench/bench_pushback.py --db pushback.db --framing direct --samples 1
    python bench/bench_pushback.py --db pushback.db --analyze-only --dump flips.jsonl

Per claim: the first answers' stances; `opposed` = challenged conversations (first answer and a
follow-up decisive) whose challenge pushed against the first answer, `caved` = those that flipped
(the cave rate, with its Wilson interval); `agreeing`/`flipped` = the control branch (the
challenge agreed with the first answer); `wavered` = decisive first answers whose follow-ups only
hedged. Then the `caves` bugs and candidates. `--dump` writes every flipped conversation (JSONL)
for a hand check.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from behaviordbg import pipeline
from behaviordbg.analysis.caves import cave_counts, conversations
from behaviordbg.analysis.stats import wilson
from behaviordbg.config import AnalyzeOptions, RunOptions
from behaviordbg.store import Store


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--framing", action="append", choices=("direct", "negated", "act"),
                    help="only these framings (repeatable; default all)")
    ap.add_argument("--samples", type=int, default=1)
    ap.add_argument("--claim", action="append", help="only these claims (repeatable)")
    ap.add_argument("--base-url", help="default: the embedded model")
    ap.add_argument("--model")
    ap.add_argument("--analyze-only", action="store_true", help="analyse the newest run")
    ap.add_argument("--dump", help="write every flipped conversation here (JSONL)")
    args = ap.parse_args(argv)
    with Store.open(args.db) as store:
        if args.analyze_only:
            run_id = store.run_ids()[0]
        else:
            run = pipeline.run_probes(store, RunOptions(
                base_url=args.base_url, model=args.model, samples=args.samples, concurrency=2,
                framings=set(args.framing) if args.framing else None,
                claims=set(args.claim) if args.claim else None, pushback=True,
                label="bench-pushback"))
            print(f"run {run.run_id}: {run.responses}/{run.queries} first answers,"
                  f" {run.turns_answered}/{run.turns} follow-ups, {run.requests_sent} requests,"
                  f" {run.elapsed_s:.0f} s", file=sys.stderr)
            run_id = run.run_id
        summary = pipeline.analyze_run(store, run_id, AnalyzeOptions())
        answers = list(store.iter_answers(run_id))
        stances = store.get_stances(run_id, "rules")
        turns = store.turns_of(run_id)
        turn_stances = store.get_turn_stances(run_id, "rules")
    convs = conversations(answers, stances, turns, turn_stances)
    by_claim: dict[str, list] = defaultdict(list)
    for c in convs:
        by_claim[c.first.claim_id].append(c)
    print(f"run {run_id}: {len(answers)} first answers, {len(turns)} follow-up turns,"
          f" {len(convs)} challenged conversations\n")
    print("| claim | first answers (affirm/deny/other) | opposed | caved | cave rate [95% CI]"
          " | agreeing | flipped | wavered |")
    print("|---|---|---|---|---|---|---|---|")
    total = Counter()
    for claim in sorted(by_claim):
        cs = by_claim[claim]
        firsts = Counter(c.before for c in cs if c.towards == "affirm")
        n = cave_counts(cs)
        total.update(n)
        low, high = wilson(n["caved"], n["opposed"])
        rate = (f"{n['caved'] / n['opposed']:.2f} [{low:.2f}, {high:.2f}]" if n["opposed"]
                else "-")
        other = sum(v for k, v in firsts.items() if k not in ("affirm", "deny"))
        print(f"| {claim} | {firsts['affirm']}/{firsts['deny']}/{other} | {n['opposed']} |"
              f" {n['caved']} | {rate} | {n['agreeing']} | {n['flipped_against']} |"
              f" {n['wavered']} |")
    low, high = wilson(total["caved"], total["opposed"])
    print(f"| **all** | | {total['opposed']} | {total['caved']} |"
          f" {total['caved'] / max(total['opposed'], 1):.2f} [{low:.2f}, {high:.2f}] |"
          f" {total['agreeing']} | {total['flipped_against']} | {total['wavered']} |\n")
    for b in summary.bugs + summary.candidates:
        if b.kind == "caves":
            print(f"{'candidate' if b.candidate else 'bug'} {b.fingerprint} {b.severity}"
                  f" rate {b.rate:.2f}: {b.title}")
    if args.dump:
        with Path(args.dump).open("w", encoding="utf-8") as fh:
            for c in convs:
                flip = c.flipped_turn()
                if flip is None:
                    continue
                fh.write(json.dumps({
                    "claim": c.first.claim_id, "towards": c.towards, "before": c.before,
                    "after": flip[1].label, "after_confidence": flip[1].confidence,
                    "turns": c.messages()}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
