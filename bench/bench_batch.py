"""Batch benchmark (a script, not a timed test).

    .venv/bin/python bench/bench_batch.py                       # both figures
    .venv/bin/python bench/bench_batch.py --lines 100000 --skip compare
    .venv/bin/python bench/bench_batch.py --queries 2000 --latency 1 --concurrency 64 --skip ingest

1. Ingest: a run of `--lines` queries (10 samples of each prompt, as a GPU team probes) written
   with --batch-file, a results file of as many lines in vLLM's output shape, then
   `run --resume RUN --batch-results` timed end to end (parse, store answers and cache, the
   run's status) in a fresh process. Prints lines/s (target >= 5,000/s), the write rate, the
   database size per answer and the peak RSS of the ingest (it streams the file).
2. Live vs --batch: the same `--queries` run live against the fake server in its own process
   (`--latency` s per answer, `--concurrency`), and through `--batch` against the same fake's
   Batch API (upload, create, poll every `--batch-poll` s, download, ingest). The fake answers a
   batch instantly, so the --batch time is behaviordbg's own cost; a real engine adds its queue
   and generation time (OpenAI: up to 24 h; vLLM: its throughput).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from behaviordbg import pipeline
from behaviordbg.store import Store

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from bench_run import fake_server_process, synthetic_suites  # noqa: E402

ANSWERS = ["Yes, I can do that.", "No, I can't do that.",
           "I'm sorry, but as an AI language model, I don't have the ability to do that.",
           "Sure! Done, I've taken care of it.", "It's hard to say; it depends on the setup."]


def results_like_vllm(requests: Path, results: Path) -> int:
    """One vLLM-shaped output line per input line, with a varied chat completion body."""
    n = 0
    with open(requests, encoding="utf-8") as src, open(results, "w", encoding="utf-8") as out:
        for text in src:
            line = json.loads(text)
            body = {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 1,
                    "model": line["body"]["model"], "choices": [{
                        "index": 0, "finish_reason": "stop", "logprobs": None,
                        "message": {"role": "assistant", "content": ANSWERS[n % len(ANSWERS)]}}],
                    "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29}}
            out.write(json.dumps({"id": f"vllm-{uuid.uuid4().hex}", "custom_id": line["custom_id"],
                                  "response": {"status_code": 200, "request_id": f"r{n}",
                                               "body": body}, "error": None}) + "\n")
            n += 1
    return n


def bench_ingest(lines: int, samples: int, tmp: Path) -> None:
    db, requests, results = tmp / "ingest.db", tmp / "requests.jsonl", tmp / "results.jsonl"
    opts = pipeline.RunOptions(suites=synthetic_suites(lines // samples), samples=samples,
                               model="bench-ckpt", temperature=0.7, batch_file=str(requests))
    t0 = time.perf_counter()
    with Store.open(db) as store:
        written = pipeline.run_probes(store, opts)
    write_s = time.perf_counter() - t0
    results_like_vllm(requests, results)
    size_before = db.stat().st_size
    write_peak = peak_rss_mb()
    out = subprocess.run([sys.executable, str(HERE), "--ingest-child", str(db), written.run_id,
                          str(results)], capture_output=True, text=True, check=True)
    child = json.loads(out.stdout.strip().splitlines()[-1])
    ingest_s, report, peak = child["wall_s"], child["report"], child["peak_rss_mb"]
    db_mb = db.stat().st_size / 1e6
    print(f"ingest: {report['lines']:,} result lines in {ingest_s:.2f}s ="
          f" {report['lines'] / ingest_s:,.0f} lines/s end to end (target >= 5,000/s);"
          f" {report['answered']:,} answers stored, run {child['status']}")
    print(f"  {report['lines'] / child['cpu_s']:,.0f} lines per CPU-second ({child['cpu_s']:.2f}s"
          " CPU: what the rate would be on an idle core)")
    print(f"  parse+store alone {report['seconds']:.2f}s ({report['lines_per_s']:,} lines/s);"
          f" writing the {written.queries:,}-request file (plan, run, queries) took"
          f" {write_s:.2f}s ({written.queries / write_s:,.0f} lines/s),"
          f" {requests.stat().st_size / 1e6:.1f} MB")
    print(f"  database {db_mb:.1f} MB after ingest ({size_before / 1e6:.1f} MB before):"
          f" {db.stat().st_size / report['lines']:,.0f} bytes per answered query, raw bodies and"
          f" cache included; peak RSS of the ingest {peak:.0f} MB (a fresh process), of"
          f" writing the file {write_peak:.0f} MB;"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  reproduce: {sys.executable} {os.path.relpath(HERE)} --lines {lines}"
          f" --samples {samples} --skip compare")


def bench_compare(queries: int, latency: float, concurrency: int, poll: float,
                  tmp: Path) -> None:
    suites = synthetic_suites(queries)
    with fake_server_process(latency) as (url, _):
        t0, c0 = time.perf_counter(), time.process_time()
        with Store.open(tmp / "live.db") as store:
            live = pipeline.run_probes(store, pipeline.RunOptions(
                suites=suites, base_url=url, model="bench", concurrency=concurrency,
                timeout=30.0, temperature=0.0))
        live_s, live_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        with Store.open(tmp / "batch.db") as store:
            batch = pipeline.run_probes(store, pipeline.RunOptions(
                suites=suites, base_url=url, model="bench", temperature=0.0, batch=True,
                batch_poll=poll))
        batch_s, batch_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"live: {live.responses:,}/{live.queries:,} answered in {live_s:.2f}s"
          f" ({live.requests_sent:,} requests, concurrency {concurrency}, fake latency"
          f" {latency:g}s per answer); {live_cpu:.1f}s CPU in behaviordbg")
    info = batch.batch or {}
    print(f"--batch: {batch.responses:,}/{batch.queries:,} answered in {batch_s:.2f}s (1 upload,"
          f" 1 batch {info.get('batch_status')}, polls every {poll:g}s backing off, download,"
          f" ingest of {info.get('report', {}).get('lines', 0):,} lines in"
          f" {info.get('report', {}).get('seconds', 0):.2f}s); the fake answers a batch at once,"
          f" so this is behaviordbg's own cost; {batch_cpu:.1f}s CPU in behaviordbg;"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  reproduce: {sys.executable} {os.path.relpath(HERE)} --queries {queries}"
          f" --latency {latency:g} --concurrency {concurrency} --batch-poll {poll:g}"
          " --skip ingest")


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: a child started by fork + exec can report
    its parent's high-water mark there, which made the ingest look as big as the writer."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest_child(db: str, run_id: str, results: str) -> None:
    """In a fresh interpreter: one timed ingest, then its figures and peak RSS as JSON."""
    import behaviordbg.client  # noqa: F401 - the openai SDK import is a one-off, not timed

    t0, c0 = time.perf_counter(), time.process_time()
    with Store.open(db) as store:
        done = pipeline.run_probes(store, pipeline.RunOptions(resume=run_id,
                                                              batch_results=results))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                      "report": (done.batch or {})["report"],
                      "status": done.status,
                      "peak_rss_mb": round(peak_rss_mb(), 1)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--batch-poll", type=float, default=0.5)
    ap.add_argument("--skip", choices=["ingest", "compare"], action="append", default=[])
    ap.add_argument("--ingest-child", nargs=3, metavar=("DB", "RUN", "RESULTS"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ingest_child:
        ingest_child(*args.ingest_child)
        return
    import behaviordbg.client  # noqa: F401 - the openai SDK import is a one-off, not timed

    with tempfile.TemporaryDirectory(prefix="bdbg-bench-batch-") as tmp:
        if "compare" not in args.skip:
            bench_compare(args.queries, args.latency, args.concurrency, args.batch_poll, Path(tmp))
        if "ingest" not in args.skip:
            bench_ingest(args.lines, args.samples, Path(tmp))


if __name__ == "__main__":
    main()
