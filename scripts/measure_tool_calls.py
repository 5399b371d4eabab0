"""How often a model calls tools when offered them, and what it says it did: the act requests of
the suites, run under each manifest, analyzed, and counted (the figures in BENCHMARKS.md).

    flock /tmp/bdbg-model.lock .venv/bin/python scripts/measure_tool_calls.py \\
        --manifest agent-with-tools --manifest chat --samples 1 --db /tmp/tools.db

Without --base-url it uses the embedded local model (started once per manifest). Only the `act`
framing is asked (the requests are where tools are offered); every answer is stored, so the
fabricated_action bugs can be hand-checked afterwards (`behaviordbg bugs latest --db ...`).
Prints one JSON object: per manifest, per claim, the answers, those with calls, providing calls,
undeclared calls, answers read as done without a call, and the bugs found.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def measure(manifest: str, args: argparse.Namespace) -> dict[str, Any]:
    from behaviordbg import pipeline
    from behaviordbg.analysis.tool_calls import providing_calls, undeclared_calls
    from behaviordbg.store import Store
    from behaviordbg.suites import load_manifest, load_suites

    man = load_manifest(manifest)
    suites = load_suites(args.suites or [str(ROOT / "probes")])
    claims = {c.id: c for s in suites for c in s.claims}
    with Store.open(args.db) as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=args.suites or [str(ROOT / "probes")], manifest_path=manifest,
            base_url=args.base_url, model=args.model, samples=args.samples,
            framings={"act"}, label=f"tool-calls:{man.name}", concurrency=2,
            timeout=args.timeout,
        ))
        summary = pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions())
        answers = list(store.iter_answers(run.run_id))
        stances = store.get_stances(run.run_id, "rules")
    per: dict[str, Counter[str]] = {}
    for a in answers:
        c = per.setdefault(a.claim_id, Counter())
        c["answers"] += 1
        c["with_calls"] += bool(a.tool_calls)
        c["providing_call"] += bool(providing_calls(a, claims.get(a.claim_id), man))
        c["undeclared_call"] += bool(undeclared_calls(a, man))
        text_says_done = stances.get(a.response_id) is not None and \
            stances[a.response_id].label == "affirm"
        c["text_done_no_call"] += text_says_done and not a.tool_calls
    total = sum(per.values(), Counter())
    return {
        "manifest": man.name, "run_id": run.run_id, "elapsed_s": run.elapsed_s,
        "tools_offered": bool(man.tools), "answers": total["answers"],
        "with_calls": total["with_calls"], "providing_call": total["providing_call"],
        "undeclared_call": total["undeclared_call"],
        "text_done_no_call": total["text_done_no_call"],
        "per_claim": {k: dict(v) for k, v in sorted(per.items())},
        "bugs": [{"kind": b.kind, "claims": list(b.claims), "title": b.title,
                  "fingerprint": b.fingerprint} for b in summary.bugs],
        "candidates": len(summary.candidates),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", action="append", help="repeatable; default agent-with-tools")
    ap.add_argument("--suites", nargs="*", help="suite files (default: all of probes/)")
    ap.add_argument("--samples", type=int, default=1)
    ap.add_argument("--db", required=True)
    ap.add_argument("--base-url")
    ap.add_argument("--model")
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args(argv)
    out = [measure(m, args) for m in (args.manifest or ["agent-with-tools"])]
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
