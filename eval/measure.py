"""Measure the stance judges on the labelled sets: accuracy per judge, per dataset, per split.

    .venv/bin/python eval/measure.py                       # rules on all sets, dev and test
    .venv/bin/python eval/measure.py --datasets well_behaved --by style,framing,claim
    .venv/bin/python eval/measure.py --judges rules,llm,cascade --base-url http://127.0.0.1:8091/v1
    .venv/bin/python eval/measure.py --judges cascade --sweep --split dev --base-url ...

Datasets:
  shared: self_awareness_stance.jsonl, kept outside this repository (Anthropic model-written evals,
          CC BY 4.0, described in eval/README.md; framing not declared, so judges infer it from
          the wording)
  local:  eval/local_model_stance.jsonl (real answers of the embedded local model, labelled by hand)
  tuning, styles, styles2, styles3: eval/tuning_answers.jsonl, eval/tuning_styles.jsonl,
          eval/tuning_styles2.jsonl, eval/tuning_styles3.jsonl (written to tune the rules judge:
          every row counts as dev)
  well_behaved: eval/well_behaved.jsonl (answers a careful, truthful chat assistant could give to
          the shipped probe prompts, written and labelled by hand; split by claim)
Split: rows are grouped (one shared-set item; one prompt of the local set; one claim of the
well_behaved set) and a group is in dev when sha256(group) % 100 < 40, else test. Judge rules
and the cascade threshold were developed by looking at dev rows only; report test. `--list-dev`
prints the dev row ids.
`--llm-limit N` judges only the first N rows (by id hash) of each dataset+split with the llm judge
alone, which is slow on a CPU; the cascade always sees every row (it asks the llm only for some).
`--by style,framing` adds accuracy per value of those fields (style, framing, claim, label) under
each report; well_behaved gets `style,framing` unless --by is given (`--by none` turns it off).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from behaviordbg.judges._labels import LabelledRow, load  # noqa: E402
from behaviordbg.judges._labels import only as split_rows  # noqa: E402
from behaviordbg.judges.cascade import DEFAULT_THRESHOLD, CascadeJudge  # noqa: E402
from behaviordbg.judges.llm import LLMJudge  # noqa: E402
from behaviordbg.judges.rules import RulesJudge  # noqa: E402
from behaviordbg.store import Store  # noqa: E402
from behaviordbg.types import Stance  # noqa: E402

DATASETS = {
    "shared": HERE.parent.parent / "shared" / "eval" / "self_awareness_stance.jsonl",
    "local": HERE / "local_model_stance.jsonl",
    "well_behaved": HERE / "well_behaved.jsonl",
    "tuning": HERE / "tuning_answers.jsonl",
    "styles": HERE / "tuning_styles.jsonl",
    "styles2": HERE / "tuning_styles2.jsonl",
    "styles3": HERE / "tuning_styles3.jsonl",
}
# Written to tune the rules judge: every row is dev, whatever its group hashes to.
DEV_ONLY = {"tuning", "styles", "styles2", "styles3"}
BY_FIELDS = ("style", "framing", "claim", "label")
DEFAULT_BY = {"well_behaved": ("style", "framing"), "styles": ("style",), "styles2": ("style",), "styles3": ("style",)}
LABELS = ("affirm", "deny", "unclear", "refuse", "error")


def confusion(rows: list[LabelledRow], stances: list[Stance]) -> str:
    """Rows: gold label; columns: predicted."""
    c = Counter((r.label, s.label) for r, s in zip(rows, stances))
    gold = [g for g in LABELS if any(r.label == g for r in rows)]
    head = "    gold\\pred " + "".join(f"{p:>9}" for p in LABELS)
    lines = [head]
    for g in gold:
        lines.append(f"    {g:<10} " + "".join(f"{c[(g, p)]:>9}" for p in LABELS))
    return "\n".join(lines)


def accuracy(rows: list[LabelledRow], stances: list[Stance]) -> float:
    return sum(r.label == s.label for r, s in zip(rows, stances)) / max(1, len(rows))


def report(title: str, rows: list[LabelledRow], stances: list[Stance], errors: int) -> None:
    acc = accuracy(rows, stances)
    print(f"\n{title}: accuracy {acc:.3f} ({sum(r.label == s.label for r, s in zip(rows, stances))}"
          f"/{len(rows)})")
    print(confusion(rows, stances))
    wrong = [(r, s) for r, s in zip(rows, stances) if r.label != s.label]
    for r, s in wrong[:errors]:
        print(f"    x {r.id}: gold={r.label} got={s.label} ({s.confidence:.2f}) "
              f"Q={r.prompt[:60]!r} A={r.response[:70]!r}")


def row_fields(path: Path) -> dict[str, dict[str, str]]:
    """Per row id: the fields --by can group on (style is not part of LabelledRow)."""
    out: dict[str, dict[str, str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out[str(d["id"])] = {
                "style": str(d.get("style") or "-"),
                "framing": str(d.get("framing") or "-"),
                "claim": str(d.get("claim_id") or d.get("group") or d.get("pid") or "-"),
                "label": str(d.get("label") or "-"),
            }
    return out


def breakdown(rows: list[LabelledRow], stances: list[Stance], by: tuple[str, ...],
              fields: dict[str, dict[str, str]]) -> None:
    """Accuracy per value of each field in `by` (rows sorted by count, then name)."""
    for f in by:
        hits: dict[str, list[bool]] = {}
        for r, s in zip(rows, stances):
            hits.setdefault(fields.get(r.id, {}).get(f, "-"), []).append(r.label == s.label)
        print(f"    by {f}:")
        for v, h in sorted(hits.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            print(f"      {v:<30} {sum(h) / len(h):.3f} ({sum(h)}/{len(h)})")


def _hash_order(rows: list[LabelledRow]) -> list[LabelledRow]:
    return sorted(rows, key=lambda r: hashlib.sha256(r.id.encode()).hexdigest())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--judges", default="rules", help="comma list of rules,llm,cascade")
    ap.add_argument("--datasets", default="shared,local,well_behaved")
    ap.add_argument("--split", default="dev,test", help="comma list of dev,test,all")
    ap.add_argument("--base-url", default=None, help="judge endpoint (default: embedded model)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--cache-db", default=str(HERE / ".judge-cache.db"),
                    help="SQLite cache of judge calls (reruns are free)")
    ap.add_argument("--llm-limit", type=int, default=0, help="llm alone: first N rows per split")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--sweep", action="store_true", help="cascade accuracy per threshold")
    ap.add_argument("--errors", type=int, default=0, help="show N misjudged rows per report")
    ap.add_argument("--buckets", action="store_true",
                    help="rules accuracy per confidence level (how the cascade threshold is chosen)")
    ap.add_argument("--list-dev", action="store_true", help="print dev row ids and exit")
    ap.add_argument("--by", default=None,
                    help=f"comma list of {','.join(BY_FIELDS)}: accuracy per value under each "
                         "report (default: style,framing for well_behaved only; 'none': no breakdown)")
    args = ap.parse_args()
    if args.by is not None:
        by_arg = tuple(f for f in args.by.split(",") if f and f != "none")
        bad = [f for f in by_arg if f not in BY_FIELDS]
        if bad:
            ap.error(f"--by: unknown field(s) {', '.join(bad)}; known: {', '.join(BY_FIELDS)}")

    data = {name: load(DATASETS[name]) for name in args.datasets.split(",")}

    def only(rows: list[LabelledRow], split: str, name: str = "") -> list[LabelledRow]:
        if name in DEV_ONLY:
            return rows if split in ("dev", "all") else []
        return split_rows(rows, split)

    if args.list_dev:
        for name, rows in data.items():
            for r in only(rows, "dev", name):
                print(name, r.id)
        return
    print("Tuned on: dev rows only (sha256(group) % 100 < 40). Rows per dataset and split:")
    for name, rows in data.items():
        print(f"  {name}: dev {len(only(rows, 'dev', name))}, test {len(only(rows, 'test', name))}")

    judges = args.judges.split(",")
    store = Store.open(args.cache_db) if ("llm" in judges or "cascade" in judges) else None
    llm = LLMJudge(base_url=args.base_url, model=args.model, store=store, concurrency=2)
    rules = RulesJudge()
    for name, all_rows in data.items():
        by = by_arg if args.by is not None else DEFAULT_BY.get(name, ())
        fields = row_fields(DATASETS[name]) if by else {}
        for split in args.split.split(","):
            rows = only(all_rows, split, name)
            if not rows:
                continue
            items = [r.to_input() for r in rows]
            if args.buckets:
                buckets(rows, rules.judge_sync(items), f"[{name}/{split}]")
            if "rules" in judges:
                t0 = time.perf_counter()
                st = rules.judge_sync(items)
                dt = time.perf_counter() - t0
                report(f"[{name}/{split}] rules ({len(rows) / dt:,.0f} records/s)", rows, st,
                       args.errors)
                breakdown(rows, st, by, fields)
            if "llm" in judges:
                sub = _hash_order(rows)[: args.llm_limit] if args.llm_limit else rows
                st = asyncio.run(llm.judge([r.to_input() for r in sub]))
                report(f"[{name}/{split}] llm:{llm.model}", sub, st, args.errors)
                breakdown(sub, st, by, fields)
            if "cascade" in judges:
                if args.sweep:
                    sweep(rows, rules, llm)
                cj = CascadeJudge(rules, llm, threshold=args.threshold)
                st = asyncio.run(cj.judge(items))
                dis = sum(1 for s in st if s.disagreement)
                report(f"[{name}/{split}] cascade (threshold {args.threshold}; {cj.last_routed} "
                       f"rows asked the llm, {dis} disagreements)", rows, st, args.errors)
                breakdown(rows, st, by, fields)
    if store is not None:
        store.close()


def buckets(rows: list[LabelledRow], stances: list[Stance], title: str) -> None:
    """Rules accuracy per confidence level: where the rules are worth trusting."""
    by: dict[float, list[bool]] = {}
    for r, s in zip(rows, stances):
        by.setdefault(s.confidence, []).append(r.label == s.label)
    print(f"\n{title} rules accuracy by confidence:")
    for conf in sorted(by):
        hits = by[conf]
        print(f"    confidence {conf:.2f}: {sum(hits) / len(hits):.2f} of {len(hits)} rows")


def sweep(rows: list[LabelledRow], rules: RulesJudge, llm: LLMJudge) -> None:
    """Cascade accuracy for several thresholds (llm answers come from the cache after the first)."""
    items = [r.to_input() for r in rows]
    for t in (0.35, 0.5, 0.58):
        cj = CascadeJudge(rules, llm, threshold=t)
        st = asyncio.run(cj.judge(items))
        print(f"    sweep threshold {t:.2f}: accuracy {accuracy(rows, st):.3f}, "
              f"{cj.last_routed} rows to llm")


if __name__ == "__main__":
    main()
