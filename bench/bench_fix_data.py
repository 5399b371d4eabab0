"""Fix datasets from the embedded model's real answers: counts of an SFT and a DPO export.

The answers are the embedded model's own (eval/embedded_check_run2.jsonl: every shipped prompt,
2 samples, recorded from qwen2.5-coder-1.5b-instruct on 2026-11-30 and labelled by hand). They are
replayed over real HTTP by FakeServer, so the run, the analysis (rules judge, chat manifest), the
triage and the export are the product's own code paths, without the model's 23 minutes.

Triage is by the hand labels, the way a person reading the evidence would: a bug is confirmed when
every one of its decisive evidence answers carries the hand label the judge gave it, else marked
false_positive. Only confirmed bugs are exported (the default `--status confirmed`).

    .venv/bin/python bench/bench_fix_data.py [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from behaviordbg import pipeline, triage
from behaviordbg.cli import app
from behaviordbg.store import Store
from behaviordbg.testing import FakeServer

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "eval" / "embedded_check_run2.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", default=None, help="keep the database and datasets here")
    args = ap.parse_args()
    out = Path(args.out_dir or tempfile.mkdtemp(prefix="bdbg-fixdata-"))
    out.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in ROWS.read_text(encoding="utf-8").splitlines()]
    replies: dict[str, list[str]] = defaultdict(list)
    gold: dict[tuple[str, int], str] = {}
    for r in sorted(rows, key=lambda r: (r["prompt"], r["sample_idx"])):
        replies[r["prompt"]].append(r["response"])
        gold[(r["prompt"], len(replies[r["prompt"]]) - 1)] = r["label"]
    db = out / "fixdata.db"
    with FakeServer(dict(replies)) as server, Store.open(db) as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(ROOT / "probes")], base_url=server.base_url,
            model="qwen2.5-coder-1.5b-instruct-q4_k_m (replayed)", samples=2, concurrency=8))
        assert run.errors == 0 and run.responses == len(rows), run
        summary = pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions())
        # the replayed text identifies the hand label (same prompt, same reply text)
        label_of = {(r["prompt"], r["response"]): r["label"] for r in rows}
        verdicts: Counter[str] = Counter()
        for bug in summary.bugs:
            decisive = [e for e in bug.evidence if e.stance in ("affirm", "deny")]
            ok = all(label_of.get((e.prompt, e.response)) == e.stance for e in decisive)
            status = "confirmed" if ok else "false_positive"
            triage.triage(store, bug.fingerprint, status=status,
                          note="bench_fix_data: evidence checked against the hand labels")
            verdicts[f"{bug.kind}:{status}"] += 1
    results: dict[str, Any] = {"run_id": run.run_id, "answers": run.responses,
                               "bugs": len(summary.bugs), "triage": dict(sorted(verdicts.items()))}
    for fmt in ("sft", "dpo"):
        res = CliRunner().invoke(app, ["export", run.run_id, "--db", str(db), "--format", fmt,
                                       "--out", str(out / f"fix-{fmt}.jsonl"), "--json"])
        if res.exit_code != 0:
            sys.exit(res.output)
        doc = json.loads(res.stdout.strip().splitlines()[-1])
        meta = [json.loads(x) for x in
                (out / f"fix-{fmt}.meta.jsonl").read_text(encoding="utf-8").splitlines()]
        results[fmt] = {
            "examples": doc["examples"], "bugs_exported": doc["bugs"], "skipped": doc["skipped"],
            "by_source": dict(Counter(m["chosen_source"] for m in meta)),
            "by_claim": dict(sorted(Counter(m["claim_id"] for m in meta).items())),
            "by_kind": dict(Counter(k for m in meta for k in m["kinds"])),
            "trained_prompts": len(json.loads((out / f"fix-{fmt}.prompts.json").read_text(
                encoding="utf-8"))["prompts"]),
        }
    print(json.dumps(results, indent=2))
    print(f"\ndatasets and datasheets in {out}; reproduce: .venv/bin/python bench/bench_fix_data.py"
          f" --out-dir {out}")


if __name__ == "__main__":
    main()
