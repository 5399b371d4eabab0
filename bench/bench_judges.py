"""Rules judge speed: records per second on the shared eval set, repeated to n records.

    .venv/bin/python bench/bench_judges.py [--n 20000]

Target: >= 2,000 records/s on one core. Prints n, seconds, records/s and the 4n/n time ratio
(near 4 means linear growth).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from behaviordbg.judges.rules import RulesJudge  # noqa: E402
from behaviordbg.types import StanceInput  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval" / "self_awareness_stance.jsonl"
LOCAL = ROOT / "eval" / "local_model_stance.jsonl"


def records(n: int) -> list[StanceInput]:
    base: list[StanceInput] = []
    for path in (SHARED, LOCAL):
        if path.exists():
            for i, line in enumerate(path.read_text().splitlines()):
                d = json.loads(line)
                base.append(StanceInput(d["claim"], d["prompt"], d["response"],
                                        d.get("framing") or "direct", response_id=str(i),
                                        framing_declared="framing" in d))
    return [base[i % len(base)] for i in range(n)]


def timed(judge: RulesJudge, items: list[StanceInput]) -> float:
    t0 = time.perf_counter()
    judge.judge_sync(items)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    n = ap.parse_args().n
    judge = RulesJudge()
    judge.judge_sync(records(200))  # warm up regex caches
    t1 = timed(judge, records(n))
    t4 = timed(judge, records(4 * n))
    print(f"rules judge: n={n:,} in {t1:.2f}s = {n / t1:,.0f} records/s; "
          f"4n={4 * n:,} in {t4:.2f}s = {4 * n / t4:,.0f} records/s; ratio 4n/n = {t4 / t1:.2f}")


if __name__ == "__main__":
    main()
