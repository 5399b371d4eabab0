"""What the verification pass costs next to a full llm judging pass, on a real run.

    .venv/bin/python bench/bench_verify.py --db RUNS.db [--run latest] \\
        --base-url http://127.0.0.1:PORT/v1 --model NAME

Needs a database with a complete run of the shipped suites on the embedded model (e.g. from
`behaviordbg run --db RUNS.db`, or `check`) and a judge endpoint that is already up
(`behaviordbg local start --port PORT`), so that server start-up (measured separately by
bench_judge_server.py) is not counted. The database is never written: every step works on its
own copy, so no step reuses another's cached judge calls. Times the real CLI:

1. `analyze --judge rules` (what `check` does without --verify);
2. `analyze --judge rules --verify` (the llm re-reads the decisive evidence), then again (a rerun
   asks nothing new);
3. `analyze --judge llm` (every answer judged by the llm), and `--judge cascade`.

Prints answers, llm calls, seconds, bugs / candidates per step, and verify's share of a full llm
pass.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def analyze(db: Path, run: str, *args: str) -> tuple[float, dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-c", "from behaviordbg.cli import main; main()", "analyze", run,
           "--db", str(db), "--json", *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return elapsed, json.loads(proc.stdout.strip().splitlines()[-1])


def judge_calls(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM cache WHERE kind = 'judge'").fetchone()[0])


def copy_db(src: Path, dest: Path) -> Path:
    import sqlite3

    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as s, sqlite3.connect(dest) as d:
        s.backup(d)  # a consistent copy, WAL included
    return dest


def line(name: str, t: float, doc: dict[str, Any], calls: int) -> str:
    v = doc.get("verification") or {}
    extra = (f", verify: {v.get('answers')} answers re-read, {v.get('asked')} asked,"
             f" {v.get('confirmed')} confirmed, {v.get('demoted')} demoted,"
             f" {v.get('promoted')} promoted" if v else "")
    return (f"  {name:<34} {t:7.1f} s  {calls:4d} llm calls  {doc['bugs']:3d} bugs"
            f"  {doc['candidates']:3d} candidates{extra}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--run", default="latest")
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--skip-llm", action="store_true", help="skip the full llm/cascade passes")
    args = ap.parse_args()
    llm = ["--judge-base-url", args.base_url, "--judge-model", args.model]
    verify = ["--verify", "--verify-base-url", args.base_url, "--verify-model", args.model]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = copy_db(Path(args.db), work / "verify.db")
        out = []
        t, doc = analyze(db, args.run, "--judge", "rules")
        out.append(line("rules", t, doc, 0))
        answers = doc["answers"]
        t_v, doc = analyze(db, args.run, "--judge", "rules", *verify)
        out.append(line("rules + verify (cold)", t_v, doc, judge_calls(db)))
        t, doc = analyze(db, args.run, "--judge", "rules", *verify)
        out.append(line("rules + verify (rerun)", t, doc, judge_calls(db)))
        t_llm = None
        if not args.skip_llm:
            db2 = copy_db(Path(args.db), work / "llm.db")
            t_llm, doc = analyze(db2, args.run, "--judge", "llm", *llm)
            out.append(line("llm (full pass)", t_llm, doc, judge_calls(db2)))
            db3 = copy_db(Path(args.db), work / "cascade.db")
            t, doc = analyze(db3, args.run, "--judge", "cascade", *llm)
            out.append(line("cascade", t, doc, judge_calls(db3)))
        shutil.rmtree(work, ignore_errors=True)
    print(f"analyze on {answers} answers of {args.run} ({args.db}); judge endpoint already up;"
          f" load average {os.getloadavg()[0]:.1f}")
    print("\n".join(out))
    if t_llm:
        print(f"  verify costs {t_v / t_llm:.0%} of a full llm judging pass")


if __name__ == "__main__":
    main()
