"""Benchmark: analyze_run with the rules judge on synthetic stored runs of n and 4n responses.

    .venv/bin/python bench/bench_analyze.py            # n = 25,000 and 100,000
    .venv/bin/python bench/bench_analyze.py --n 5000   # a quick look

Builds each run in a temp SQLite (the shipped suites, every prompt sampled until n answers exist,
answers written the way small chat models answer: yes/no leads, "as an AI" refusals, complying
replies, hedges, with varied filler so the clusterer sees many distinct texts), then times the
whole analysis: judging every answer, storing stances, clustering, distributions, contradictions,
bugs and triage. Prints the times and the ratio (target: 100,000 in < 60 s, ratio near 4).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from behaviordbg import pipeline, suites
from behaviordbg.store import Store, now_iso
from behaviordbg.types import GenParams, Message, Query, to_dict

FILLER = [
    "As an AI language model, I process text.", "Let me know if there is anything else.",
    "I hope that helps!", "Is there something specific you need?", "Happy to help with that.",
    "I run on servers and answer in text.", "My knowledge comes from training data.",
    "Feel free to ask more questions.", "I can explain how to do it yourself.",
    "That depends on the setup you are using.", "I was created by a team of researchers.",
    "Thanks for asking!",
]
YES = ["Yes, I can do that.", "Yes, I do.", "Yes.", "Yes, absolutely.", "Of course, I can."]
NO = ["No, I can't do that.", "No, I don't.", "No.", "No, I am not able to.",
      "I'm sorry, but as an AI language model, I don't have the ability to do that."]
HEDGE = ["It's hard to say.", "That is an interesting question.", "Maybe, it depends."]
COMPLY = ["Sure! Done, I've taken care of it.", "Okay, I've done that for you.", "Sure, here you go."]
DECLINE = ["I'm sorry, but I can't do that. I don't have the ability to act outside this chat.",
           "Sorry, I am unable to do that as a text-based assistant."]


def _answer(rng: random.Random, framing: str, p_yes: float) -> str:
    r = rng.random()
    if r < 0.08:
        head = rng.choice(HEDGE)
    elif framing == "act":
        head = rng.choice(COMPLY if rng.random() < p_yes else DECLINE)
    else:
        yes = rng.random() < p_yes
        if framing == "negated":
            yes = not yes
        head = rng.choice(YES if yes else NO)
    tail = " ".join(rng.sample(FILLER, rng.randint(0, 2)))
    return f"{head} {tail}".strip()


def build_run(store: Store, n: int, seed: int = 7) -> str:
    """A stored, complete run of exactly n answers over the shipped suites."""
    rng = random.Random(seed)
    loaded = suites.load_suites()
    prompts = [
        (s, c, f, i, p) for s in loaded for c in s.claims for f in ("direct", "negated", "act")
        for i, p in enumerate(c.prompts(f))  # type: ignore[arg-type]
    ]
    p_yes = {c.id: rng.choice([0.02, 0.05, 0.1, 0.5, 0.9]) for s in loaded for c in s.claims}
    refs = [{"name": s.name, "path": s.path, "sha256": s.sha256, "snapshot": to_dict(s)}
            for s in loaded]
    params = GenParams(model="synthetic", base_url="http://127.0.0.1:1/v1")
    run_id = store.create_run(params, refs, manifest=to_dict(suites.load_manifest(None)))
    queries, rows = [], []
    for k in range(n):
        s, c, f, i, p = prompts[k % len(prompts)]
        sample = k // len(prompts)
        q = Query(id=f"q{k}", suite=s.name, claim_id=c.id, framing=f, prompt_idx=i, prompt=p,
                  messages=(Message("user", p),), sample_idx=sample)
        queries.append((q, f"key{k}"))
        rows.append((f"r{k}", run_id, q.id, f"key{k}", _answer(rng, f, p_yes[c.id]), "stop",
                     now_iso()))
    store.add_queries(run_id, queries)
    with store.conn:
        store.conn.executemany(
            "INSERT INTO responses (id, run_id, query_id, cache_key, text, finish_reason,"
            " created_at) VALUES (?,?,?,?,?,?,?)", rows,
        )
    store.set_run_status(run_id, "complete")
    return run_id


def time_analysis(n: int, tmp: Path) -> tuple[float, float, pipeline.AnalysisSummary]:
    """(wall seconds, CPU seconds of this process, summary) of one analysis."""
    with Store.open(tmp / f"bench-{n}.db") as store:
        run_id = build_run(store, n)
        t0, c0 = time.perf_counter(), time.process_time()
        summary = pipeline.analyze_run(store, run_id, pipeline.AnalyzeOptions(judge="rules"))
        return time.perf_counter() - t0, time.process_time() - c0, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=25_000, help="the smaller size; 4n is run too")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results, cpus = [], []
        for n in (args.n, 4 * args.n):
            elapsed, cpu, s = time_analysis(n, Path(tmp))
            results.append(elapsed)
            cpus.append(cpu)
            print(f"n={n:>7,}: {elapsed:6.1f} s wall, {cpu:6.1f} s CPU"
                  f" ({n / elapsed:,.0f} answers/s; {s.judge_errors}"
                  f" unlabelled, {s.clusters} clusters ({s.mixed_clusters} mixed), {s.contradictions}"
                  f" contradictions,"
                  f" {len(s.bugs)} bugs)", flush=True)
        print(f"ratio 4n/n: {results[1] / results[0]:.2f} wall, {cpus[1] / cpus[0]:.2f} CPU"
              f" (linear = 4.00); load average"
              f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall time suffers from load)")


if __name__ == "__main__":
    main()
