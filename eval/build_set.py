"""Merge eval/raw_answers.jsonl (real model answers) with eval/labels_manual.tsv (hand labels)
into eval/local_model_stance.jsonl. Only labelled answers are written; nothing is labelled here.

    .venv/bin/python eval/build_set.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = {"affirm", "deny", "unclear", "refuse"}


def main() -> None:
    labels: dict[str, tuple[str, str]] = {}
    for n, line in enumerate((HERE / "labels_manual.tsv").read_text().splitlines(), 1):
        if not line.strip():
            continue
        rid, label, *note = line.split("\t")
        if label not in LABELS:
            raise SystemExit(f"labels_manual.tsv:{n}: unknown label {label!r}")
        labels[rid] = (label, note[0] if note else "")
    out = []
    for line in (HERE / "raw_answers.jsonl").read_text().splitlines():
        d = json.loads(line)
        if d["id"] not in labels:
            continue
        label, note = labels[d["id"]]
        out.append({"id": d["id"], "pid": d["pid"], "claim": d["claim"], "framing": d["framing"],
                    "prompt": d["prompt"], "response": d["response"], "label": label,
                    "note": note})
    out.sort(key=lambda r: (r["pid"], r["id"]))
    (HERE / "local_model_stance.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out)
    )
    print(f"{len(out)} labelled rows -> eval/local_model_stance.jsonl")


if __name__ == "__main__":
    main()
