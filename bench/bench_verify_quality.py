"""Does the verification judge keep right verdicts and stop wrong ones? Measured on labelled rows.

    .venv/bin/python bench/bench_verify_quality.py --base-url URL --model NAME \\
        [--cache-db eval-cache.db] [--split dev,test]

On eval/local_model_stance.jsonl (real answers of the embedded model, labelled by hand) the rules
judge gives every row a verdict; the llm judge (the default second judge of `analyze --verify`)
reads it again. For the rules judge's decisive verdicts (affirm/deny), split by confidence at
SOLID_CONFIDENCE, this prints how many are right, and of those how many the llm confirms (reads
alike), and how many of the wrong ones it confirms anyway. A good second judge confirms most right
verdicts and few wrong ones. Judge calls are cached in --cache-db (reruns ask nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from behaviordbg.analysis.evidence import SOLID_CONFIDENCE  # noqa: E402
from behaviordbg.judges import session  # noqa: E402
from behaviordbg.judges._labels import load, only  # noqa: E402
from behaviordbg.judges.llm import LLMJudge  # noqa: E402
from behaviordbg.judges.rules import RulesJudge  # noqa: E402
from behaviordbg.store import Store  # noqa: E402

LOCAL = ROOT / "eval" / "local_model_stance.jsonl"


async def second(judge: LLMJudge, items: list) -> list:
    async with session(judge) as jd:
        return await jd.judge(items)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", default=None, help="default: the embedded model")
    ap.add_argument("--model", default=None)
    ap.add_argument("--cache-db", default=".behaviordbg/eval-cache.db")
    ap.add_argument("--split", default="dev,test")
    args = ap.parse_args()
    rows = [r for split in args.split.split(",") for r in only(load(LOCAL), split)]
    items = [r.to_input() for r in rows]
    first = RulesJudge().judge_sync(items)
    with Store.open(args.cache_db) as store:
        judge = LLMJudge(base_url=args.base_url, model=args.model, store=store)
        llm = asyncio.run(second(judge, items))
    print(f"{len(rows)} labelled rows ({args.split}) of {LOCAL.name}; second judge llm:{judge.model}")
    for name, keep in ((f">= {SOLID_CONFIDENCE}", lambda c: c >= SOLID_CONFIDENCE),
                       (f"< {SOLID_CONFIDENCE}", lambda c: c < SOLID_CONFIDENCE)):
        sel = [(r, f, s) for r, f, s in zip(rows, first, llm)
               if f.label in ("affirm", "deny") and keep(f.confidence)]
        right = [(r, f, s) for r, f, s in sel if r.label == f.label]
        wrong = [(r, f, s) for r, f, s in sel if r.label != f.label]
        ok_kept = sum(s.label == f.label for _, f, s in right)
        bad_kept = sum(s.label == f.label for _, f, s in wrong)
        print(f"  rules decisive at {name}: {len(right)}/{len(sel)} right;"
              f" llm confirms {ok_kept}/{len(right)} right ones and {bad_kept}/{len(wrong)} wrong"
              " ones")


if __name__ == "__main__":
    main()
