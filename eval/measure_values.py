"""Value extraction accuracy on hand-labelled answers to open questions (eval/open_values.jsonl).

    python eval/measure_values.py                      # the rules extractor
    python eval/measure_values.py --errors             # and every row it gets wrong
    python eval/export_open_answers.py --db X.db       # (how the unlabelled rows were made)

Rows are grouped per value type over all rows, then per split (eval/README.md): `test` rows were
labelled after the rules were last changed (held out); `heldout1` rows were held out at a first
measurement and then used to fix the misses it showed; `dev` rows were read while writing them.
A row is right when the extractor's status (value | declines | none) equals the label's and, for
a value, its canonical value equals the labelled value. Printed per value type: rows, status
accuracy, full accuracy (status and value), and how many rows the rules were unsure of (those the
llm extractor would be asked about under --judge llm/cascade); then the same over all rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from behaviordbg.judges.values import UNSURE, ValueInput, extract  # noqa: E402


def load(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for i, r in enumerate(rows, 1):
        if r.get("label_status") not in ("value", "declines", "none"):
            raise SystemExit(f"{path}:{i}: label_status must be value, declines or none")
    return rows


def measure(rows: list[dict[str, Any]]) -> tuple[dict[str, dict[str, int]], list[str]]:
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    wrong: list[str] = []
    for r in rows:
        got = extract(ValueInput(r["id"], r["prompt"], r["response"], r["value_type"]))
        status_ok = got.status == r["label_status"]
        value_ok = status_ok and (got.status != "value" or got.value == r["label_value"])
        split = r.get("split", "all")
        for key in (r["value_type"], "all", f"{split}: {r['value_type']}", f"{split}: all"):
            s = stats[key]
            s["rows"] += 1
            s["status"] += status_ok
            s["full"] += value_ok
            s["unsure"] += got.confidence < UNSURE
            s["unsure_right"] += value_ok and got.confidence < UNSURE
            s["sure_wrong"] += (not value_ok) and got.confidence >= UNSURE
        if not value_ok:
            wrong.append(f"{r['id']} [{r['value_type']}] label={r['label_status']}:"
                         f"{r.get('label_value', '')} got={got.status}:{got.value}"
                         f" ({got.confidence:.2f}) | {r['response'][:140]!r}")
    return stats, wrong


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(HERE / "open_values.jsonl"))
    ap.add_argument("--errors", action="store_true", help="list every row the rules get wrong")
    args = ap.parse_args()
    stats, wrong = measure(load(Path(args.data)))
    print(f"{'value type':<24} {'rows':>5} {'status acc':>10} {'full acc':>9} {'unsure':>7}"
          f" {'sure & wrong':>12}")

    def order(k: str) -> tuple[int, bool, str]:
        split = k.split(": ")[0] if ": " in k else ""
        return ({"": 0, "test": 1, "heldout1": 2, "dev": 3}.get(split, 4), k.endswith("all"), k)

    for key in sorted(stats, key=order):
        s = stats[key]
        n = s["rows"]
        print(f"{key:<24} {n:>5} {s['status'] / n:>10.3f} {s['full'] / n:>9.3f}"
              f" {s['unsure']:>7} {s['sure_wrong']:>12}")
    if args.errors:
        print("\nwrong:")
        for line in wrong:
            print("  " + line)


if __name__ == "__main__":
    main()
