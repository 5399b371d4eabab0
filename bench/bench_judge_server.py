"""How much starting the embedded server once per command (not once per batch) saves.

    .venv/bin/python bench/bench_judge_server.py [--n 320] [--judge cascade] \
        [--before-ref 0667f46] [--after-ref REF]

Builds N records from eval/local_model_stance.jsonl (repeated if N > 312, ids made unique), then
times the real CLI, `behaviordbg judge --input ... --judge cascade`, twice on the embedded model:

- before: the package as it was at --before-ref (main before issue 11: the llm judge opened the
  endpoint, and started the embedded llama-server, in every judge() call, i.e. per batch of 32
  records with at least one record the rules judge is unsure of);
- after: the package at --after-ref (default: this working tree): one judge session per command,
  the server starts once, on first use. Pass the commit that added sessions to compare the same
  judge prompts (later commits changed them: negated questions are read twice).

No judge cache is used (the `judge` command has no database), so both ask the model the same
questions. Stop any background server first (`behaviordbg local stop`): with one running, neither
version starts a server and there is nothing to measure. Prints records, llm calls, server
starts and wall time of each, and the saving.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from behaviordbg.judges._io import BATCH  # noqa: E402
from behaviordbg.judges.cascade import DEFAULT_THRESHOLD  # noqa: E402
from behaviordbg.judges.rules import RulesJudge  # noqa: E402
from behaviordbg.types import StanceInput  # noqa: E402

LOCAL = ROOT / "eval" / "local_model_stance.jsonl"


def build_records(n: int, path: Path) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in LOCAL.read_text().splitlines() if line.strip()]
    out = []
    for i in range(n):
        r = rows[i % len(rows)]
        out.append({"id": f"{r['id']}-{i // len(rows)}", "claim": r["claim"], "prompt": r["prompt"],
                    "response": r["response"], "framing": r["framing"]})
    path.write_text("".join(json.dumps(r) + "\n" for r in out))
    return out


def routed(records: list[dict[str, str]]) -> tuple[int, int]:
    """(records the cascade sends to the llm, batches of BATCH with at least one such record)."""
    items = [StanceInput(r["claim"], r["prompt"], r["response"], r["framing"],  # type: ignore[arg-type]
                         response_id=r["id"]) for r in records]
    verdicts = asyncio.run(RulesJudge().judge(items))
    unsure = [v.label == "error" or v.confidence < DEFAULT_THRESHOLD for v in verdicts]
    batches = sum(any(unsure[i:i + BATCH]) for i in range(0, len(unsure), BATCH))
    return sum(unsure), batches


def tree_at(ref: str, dest: Path) -> Path:
    """src/ as it was at a git ref (this working tree for ""): the PYTHONPATH to run it from."""
    if not ref:
        return ROOT / "src"
    archive = dest / f"{ref}.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest / ref)
    return dest / ref / "src"


def timed_cli(pythonpath: Path, inp: Path, out: Path, judge: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    cmd = [sys.executable, "-c", "from behaviordbg.cli import main; main()", "judge",
           "--input", str(inp), "--output", str(out), "--judge", judge, "--json"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=320)
    ap.add_argument("--judge", default="cascade", choices=("llm", "cascade"))
    ap.add_argument("--before-ref", default="0667f46")
    ap.add_argument("--after-ref", default="", help="default: this working tree")
    args = ap.parse_args()
    from behaviordbg import local

    if local.read_background():
        raise SystemExit("a background server is running: `behaviordbg local stop` first")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inp = work / "records.jsonl"
        records = build_records(args.n, inp)
        calls, batches = routed(records) if args.judge == "cascade" else (
            len(records), -(-len(records) // BATCH))
        t_before = timed_cli(tree_at(args.before_ref, work), inp, work / "before.jsonl", args.judge)
        t_after = timed_cli(tree_at(args.after_ref, work), inp, work / "after.jsonl", args.judge)
        same = sum(json.loads(a)["stance"] == json.loads(b)["stance"] for a, b in zip(
            (work / "before.jsonl").read_text().splitlines(),
            (work / "after.jsonl").read_text().splitlines()))
    print(f"behaviordbg judge --judge {args.judge}: {len(records)} records, {calls} llm calls, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"  before ({args.before_ref}): {batches} server starts, {t_before:.1f} s")
    print(f"  after ({args.after_ref or 'working tree'}, one session): {1 if calls else 0} server"
          f" start, {t_after:.1f} s")
    print(f"  saved {t_before - t_after:.1f} s ({(t_before - t_after) / t_before:.0%}); "
          f"{(t_before - t_after) / max(batches - 1, 1):.1f} s per avoided start; "
          f"same stance on {same}/{len(records)} records")


if __name__ == "__main__":
    main()
