"""Write a run's answers to open claims as unlabelled rows for eval/open_values.jsonl.

    python eval/export_open_answers.py --db /path/to/run.db [--run RUN_ID] > rows.jsonl

Each row: id (claim, prompt index, sample), run, claim_id, value_type, prompt, sample, response,
and empty label fields (label_status, label_value, note) for a person to fill in by reading the
answer. Labels are never pre-filled from an extractor.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from behaviordbg.pipeline.analyze import run_suites  # noqa: E402
from behaviordbg.store import Store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--run", default="latest")
    args = ap.parse_args()
    with Store.open(args.db, readonly=True) as store:
        run = store.get_run(args.run)
        claims = {c.id: c for s in run_suites(run) for c in s.claims}
        for a in store.iter_answers(run["id"]):
            if a.framing != "open":
                continue
            claim = claims.get(a.claim_id)
            print(json.dumps({
                "id": f"{a.claim_id}-p{a.prompt_idx}-s{a.sample_idx}", "run": run["id"],
                "claim_id": a.claim_id,
                "value_type": (claim.value_type if claim else None) or "text",
                "prompt": a.prompt, "sample": a.sample_idx, "response": a.text,
                "label_status": "", "label_value": "", "note": "",
            }, ensure_ascii=False))


if __name__ == "__main__":
    main()
