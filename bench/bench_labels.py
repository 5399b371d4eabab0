"""Benchmark: answer review on a run of 10,000 answers (people's stance labels).

    .venv/bin/python bench/bench_labels.py             # n = 10,000 answers, 1,000 labels
    .venv/bin/python bench/bench_labels.py --n 2000 --labels 200

Builds a stored run like bench/bench_analyze.py (the shipped suites, synthetic answers), analyses
it with the rules judge, labels `--labels` answers (every tenth flipped against the judge, the
rest agreeing), then times what a person waits for: storing the labels, the re-analysis from
stored verdicts that applies them (no model asked; it also computes which bugs the labels
removed or created), and the dashboard's review reads (the suggested-labels queue over the whole
run, one claim's answers, the Judges page's accuracy tables, the labels export).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from behaviordbg import pipeline
from behaviordbg.dashboard import review_data
from behaviordbg.pipeline.labelling import label_answers, reanalyze
from behaviordbg.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_analyze import build_run

FLIP = {"affirm": "deny", "deny": "affirm", "unclear": "deny", "refuse": "unclear",
        "error": "unclear"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="answers in the run")
    ap.add_argument("--labels", type=int, default=1_000, help="answers to label")
    args = ap.parse_args()
    times: dict[str, float] = {}

    def timed(name: str, fn, *a, **k):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        out = fn(*a, **k)
        times[name] = round(time.perf_counter() - t0, 3)
        return out

    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "labels.db") as store:
        run_id = build_run(store, args.n)
        first = timed("analyze (rules, judges all)", pipeline.analyze_run, store, run_id,
                      pipeline.AnalyzeOptions(judge="rules"))
        stances = store.get_stances(run_id, "rules")
        answers = list(store.iter_answers(run_id))[: args.labels]
        items = [(a.response_id, FLIP[stances[a.response_id].label] if i % 10 == 0
                  else stances[a.response_id].label if stances[a.response_id].label != "error"
                  else "unclear", "bench") for i, a in enumerate(answers)]
        timed(f"store {len(items)} labels", label_answers, store, items, author="bench")
        (after,) = timed("re-analyse with labels (stored verdicts)", reanalyze, store, [run_id])
        analysis = after.analysis_id
        queue, total = timed("suggested labels (whole run)", review_data.suggestions, store,
                             run_id, analysis, 0, 20)
        claim = answers[0].claim_id
        timed("one claim's answers", review_data.claim_answers, store, run_id, claim, "", 0, 20)
        scores = timed("judge accuracy tables", review_data.judge_scores, store)
        timed("labels export", review_data.labels_jsonl, store, run_id)
    print(f"{args.n:,} answers, {len(items):,} labelled ({sum(i % 10 == 0 for i in range(len(items)))}"
          f" against the judge); first analysis: {len(first.bugs)} bugs; with labels:"
          f" {len(after.bugs)} bugs, {after.labels}")
    print(f"queue: {total:,} unlabelled answers; judges scored: "
          + ", ".join(f"{r.judge} {r.right}/{r.n}" for r in scores["overall"].itertuples()))
    for name, sec in times.items():
        print(f"{name:<45} {sec:7.3f} s")


if __name__ == "__main__":
    main()
