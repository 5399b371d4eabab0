"""Run-engine benchmark (a script, not a timed test).

    .venv/bin/python bench/bench_run.py                    # all three figures
    .venv/bin/python bench/bench_run.py --queries 2000 --latency 1 --concurrency 64 --rss-queries 10000

1. Throughput: ~2,000 queries against the fake server with 1 s latency at concurrency 64; prints
   achieved time / ideal time (requests / concurrency x latency). Target <= 1.15.
2. The cached rerun of the same run (zero requests): its wall time.
3. Peak RSS (ru_maxrss) of a 10,000-query run, measured in a fresh subprocess. Target < 300 MB.

The fake server (behaviordbg.testing) runs in its own process, as a real endpoint would.

The suites are synthetic (built in Python, one claim per 50 prompts) so the figures do not depend
on the shipped probes' size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from behaviordbg import pipeline
from behaviordbg.store import Store
from behaviordbg.types import Claim, Suite

HERE = Path(__file__).resolve()


def synthetic_suites(queries: int, per_claim: int = 50) -> list[Suite]:
    """`queries` distinct direct prompts, spread over claims of `per_claim` prompts each."""
    claims = []
    for c in range(0, queries, per_claim):
        prompts = tuple(f"Bench question {i}: can you do thing number {i}?"
                        for i in range(c, min(c + per_claim, queries)))
        claims.append(Claim(id=f"bench_claim_{c // per_claim}", text=f"Bench claim {c}",
                            suite="bench", ask=prompts))
    return [Suite(name="bench", path="<synthetic>", sha256="0" * 64, claims=tuple(claims),
                  system_prompt="Answer briefly.")]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (Linux /proc), to see who is short of CPU."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def fake_server_process(latency: float) -> Iterator[tuple[str, int]]:
    """The fake endpoint in its own process, like a real one: it does not share our CPU time/GIL."""
    proc = subprocess.Popen([sys.executable, "-m", "behaviordbg.testing", "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip(), proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_once(db: str, base_url: str, queries: int, concurrency: int) -> tuple[pipeline.RunSummary, float]:
    opts = pipeline.RunOptions(suites=synthetic_suites(queries), base_url=base_url, model="bench",
                               concurrency=concurrency, timeout=30.0, temperature=0.0)
    start = time.perf_counter()
    with Store.open(db) as store:
        summary = pipeline.run_probes(store, opts)
    return summary, time.perf_counter() - start


def rss_child(base_url: str, queries: int, concurrency: int, db: str) -> None:
    """Runs in a fresh interpreter: one run, then print its peak RSS as JSON."""
    import behaviordbg.client  # noqa: F401 - the imports a run needs, to report them apart

    imports_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary, wall = run_once(db, base_url, queries, concurrency)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"peak_rss_mb": round(peak_kb / 1024, 1), "wall_s": round(wall, 2),
                      "after_imports_mb": round(imports_kb / 1024, 1),
                      "responses": summary.responses, "requests_sent": summary.requests_sent}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rss-queries", type=int, default=10000)
    ap.add_argument("--rss-latency", type=float, default=0.002)
    ap.add_argument("--skip", choices=["throughput", "rss"], action="append", default=[])
    ap.add_argument("--rss-child", nargs=2, metavar=("BASE_URL", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(args.rss_child[0], args.rss_queries, args.concurrency, args.rss_child[1])
        return

    me = f"{sys.executable} {os.path.relpath(HERE)}"
    t0 = time.perf_counter()
    import behaviordbg.client  # noqa: F401 - the openai SDK import is a one-off, timed apart

    print(f"(one-off import of the openai SDK: {time.perf_counter() - t0:.2f}s, not counted below)")
    with tempfile.TemporaryDirectory(prefix="bdbg-bench-") as tmp:
        if "throughput" not in args.skip:
            db = str(Path(tmp) / "throughput.db")
            with fake_server_process(args.latency) as (url, server_pid):
                cpu0, server0 = time.process_time(), cpu_seconds(server_pid)
                summary, wall = run_once(db, url, args.queries, args.concurrency)
                cpu, server_cpu = time.process_time() - cpu0, cpu_seconds(server_pid) - server0
                ideal = summary.requests_sent / args.concurrency * args.latency
                print(f"throughput: {summary.responses}/{summary.queries} answered,"
                      f" {summary.requests_sent} requests, {summary.errors} errors,"
                      f" concurrency {args.concurrency}, latency {args.latency:g}s")
                print(f"  achieved {wall:.2f}s / ideal {ideal:.2f}s = {wall / ideal:.3f}"
                      f" (target <= 1.15)")
                print(f"  run process CPU {cpu:.1f}s ({cpu / max(summary.requests_sent, 1) * 1000:.1f}"
                      f" ms/request), fake server CPU {server_cpu:.1f}s;"
                      f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
                again, rerun_wall = run_once(db, url, args.queries, args.concurrency)
                print(f"cached rerun: {rerun_wall:.2f}s, {again.cache_hits} cache hits,"
                      f" {again.requests_sent} requests sent")
                print(f"  reproduce: {me} --queries {args.queries} --latency {args.latency:g}"
                      f" --concurrency {args.concurrency} --skip rss")
        if "rss" not in args.skip:
            db = str(Path(tmp) / "rss.db")
            with fake_server_process(args.rss_latency) as (url, _):
                out = subprocess.run(
                    [sys.executable, str(HERE), "--rss-queries", str(args.rss_queries),
                     "--concurrency", str(args.concurrency), "--rss-child", url, db],
                    capture_output=True, text=True, check=True,
                )
            doc = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"peak RSS of a {doc['responses']}-query run: {doc['peak_rss_mb']} MB"
                  f" (target < 300 MB; {doc['requests_sent']} requests in {doc['wall_s']}s,"
                  f" fake server latency {args.rss_latency:g}s, measured in a fresh subprocess)")
            print(f"  of which {doc['after_imports_mb']} MB is already taken by importing"
                  f" behaviordbg.pipeline + client, before the run starts")
            print(f"  reproduce: {me} --rss-queries {args.rss_queries}"
                  f" --concurrency {args.concurrency} --skip throughput")


if __name__ == "__main__":
    main()
