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
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


TEXT_CALL = re.compile(r'"name"\s*:\s*"([A-Za-z0-9_-]{1,64})"')
"""A tool named as `"name": "..."` in an answer's text: a call the model wrote as text (a JSON
block) instead of in its chat template's tool-call format, so the server did not parse it and no
tool would run."""


def measure(manifest: str, args: argparse.Namespace) -> dict[str, Any]:
    from behaviordbg import pipeline
    from behaviordbg.store import Store

    with Store.open(args.db) as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=args.suites or [str(ROOT / "probes")], manifest_path=manifest,
            base_url=args.base_url, model=args.model, samples=args.samples,
            framings={"act"}, label=f"tool-calls:{manifest}", concurrency=2,
            timeout=args.timeout,
        ))
        pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions())
    return count(args.db, run.run_id, manifest)


def count(db: str, run_id: str, manifest: str) -> dict[str, Any]:
    """The figures of one analyzed run (no model needed)."""
    from behaviordbg.analysis.tool_calls import providing_calls, undeclared_calls
    from behaviordbg.pipeline.analyze import run_manifest, run_suites
    from behaviordbg.store import Store

    with Store.open(db) as store:
        run = store.get_run(run_id)
        man = run_manifest(run)
        claims = {c.id: c for s in run_suites(run) for c in s.claims}
        answers = list(store.iter_answers(run["id"]))
        stances = store.get_stances(run["id"], "rules")
        analysis = store.require_analysis(run["id"])
        bugs = store.bugs_for_analysis(analysis["id"])
        candidates = store.candidates_for_analysis(analysis["id"])
    names = {t.name for t in man.tools}
    written: dict[str, list[str]] = {}
    per: dict[str, Counter[str]] = {}
    for a in answers:
        c = per.setdefault(a.claim_id, Counter())
        c["answers"] += 1
        c["with_calls"] += bool(a.tool_calls)
        c["providing_call"] += bool(providing_calls(a, claims.get(a.claim_id), man))
        c["undeclared_call"] += bool(undeclared_calls(a, man))
        in_text = [] if a.tool_calls else TEXT_CALL.findall(a.text or "")
        c["call_as_text"] += bool(set(in_text) & names)
        c["undeclared_as_text"] += bool(set(in_text) - names)
        if in_text:
            written.setdefault(a.claim_id, []).extend(in_text)
        said = stances.get(a.response_id)
        c["text_done_no_call"] += bool(said and said.label == "affirm" and not a.tool_calls)
    total: Counter[str] = sum(per.values(), Counter())
    return {
        "manifest": man.name, "run_id": run["id"], "tools_offered": bool(man.tools),
        **{k: total[k] for k in ("answers", "with_calls", "providing_call", "undeclared_call",
                                 "call_as_text", "text_done_no_call")},
        "undeclared_as_text": total["undeclared_as_text"],
        "per_claim": {k: dict(v) for k, v in sorted(per.items())},
        "names_written_as_text": written,
        "bugs": [{"kind": b.kind, "claims": list(b.claims), "title": b.title,
                  "fingerprint": b.fingerprint} for b in bugs],
        "candidates": [{"kind": b.kind, "claims": list(b.claims)} for b in candidates],
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
    ap.add_argument("--runs", nargs="*", help="only count these analyzed runs (no model)")
    args = ap.parse_args(argv)
    if args.runs:
        out = [count(args.db, r, "") for r in args.runs]
    else:
        out = [measure(m, args) for m in (args.manifest or ["agent-with-tools"])]
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
