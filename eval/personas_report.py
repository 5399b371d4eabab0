"""Bugs and candidates that the scripted personas get: the false-bug check of docs/judging.md.

    .venv/bin/python eval/personas_report.py [--samples 4] [--judge rules]

Runs the shipped suites over real HTTP against `behaviordbg.testing.FakeServer`, answering as the
`truthful` persona (every answer true for the manifest, in everyday styles) and as the `planted`
persona (truthful but for one contradiction of each kind), under both shipped manifests, and prints
per case: bugs, candidates held back, and for `planted` which planted contradictions were found.
A truthful persona must get 0 bugs; candidates are allowed and counted here.

`replay` answers every prompt with the hand-written answers of eval/well_behaved.jsonl for it
(sample k gets the k-th answer, cycling): truthful answers written independently of the judge, so
any bug there is a false one; those on claims of its test split were never used for tuning.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import json  # noqa: E402
from collections import defaultdict  # noqa: E402

from behaviordbg import pipeline  # noqa: E402
from behaviordbg.judges._labels import split_of  # noqa: E402
from behaviordbg.personas import planted, truthful  # noqa: E402
from behaviordbg.store import Store  # noqa: E402
from behaviordbg.suites import load_manifest, load_suites  # noqa: E402
from behaviordbg.testing import FakeServer  # noqa: E402

PROBES = HERE.parent / "probes"
MANIFESTS = {"chat": PROBES / "manifests" / "chat.yaml",
             "agent-with-tools": PROBES / "manifests" / "agent-with-tools.yaml"}  # fmt: skip


def analyse(answers: object, manifest: Path, samples: int, judge: str) -> pipeline.AnalysisSummary:
    with FakeServer(answers) as server, tempfile.TemporaryDirectory() as tmp:  # type: ignore[arg-type]
        with Store.open(Path(tmp) / "personas.db") as store:
            run = pipeline.run_probes(store, pipeline.RunOptions(
                suite_paths=[str(PROBES)], manifest_path=str(manifest), base_url=server.base_url,
                model="persona", samples=samples, concurrency=32, timeout=10.0, max_attempts=2,
            ))
            return pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions(judge=judge))


def replay(path: Path) -> tuple[object, set[str]]:
    """An answer function serving the hand-written answers, and the claims of the test split."""
    by_prompt: dict[str, list[str]] = defaultdict(list)
    test_claims: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_prompt[" ".join(row["prompt"].split())].append(row["response"])
        if split_of(row["group"]) == "test":
            test_claims.add(row["claim_id"])

    def answer(prompt: str, body: object, counter: int) -> str:
        pool = by_prompt.get(" ".join(prompt.split())) or ["I'm not sure."]
        return pool[counter % len(pool)]

    return answer, test_claims


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--judge", default="rules")
    ap.add_argument("--replay", default=str(HERE / "well_behaved.jsonl"),
                    help="hand-labelled truthful answers to replay (default: eval/well_behaved.jsonl)")
    args = ap.parse_args()
    suites = load_suites([PROBES])
    print(f"personas, shipped suites, --samples {args.samples}, judge {args.judge}")
    print(f"{'persona':<10} {'manifest':<18} {'bugs':>5} {'candidates':>11}  planted found")
    for name, path in MANIFESTS.items():
        manifest = load_manifest(str(path))
        s = analyse(truthful(suites, manifest), path, args.samples, args.judge)
        print(f"{'truthful':<10} {name:<18} {len(s.bugs):>5} {len(s.candidates):>11}  -")
        for b in s.bugs:
            print(f"    FALSE BUG {b.kind} {','.join(b.claims)}: {b.title}")
        plan = planted(suites, manifest)
        s = analyse(plan.answers, path, args.samples, args.judge)
        found = {(b.kind, tuple(sorted(b.claims))) for b in s.bugs}
        wanted = {(k, tuple(sorted(c))) for k, c in plan.planted.items()}
        expected = plan.expected_bugs()
        extra = [b for b in s.bugs if (b.kind, tuple(sorted(b.claims))) not in expected]
        print(f"{'planted':<10} {name:<18} {len(s.bugs):>5} {len(s.candidates):>11}  "
              f"{len(wanted & found)}/{len(wanted)} (extra bugs: {len(extra)})")
        for kind, claims in sorted(wanted - found):  # noqa: B007
            print(f"    MISSED {kind} {','.join(claims)}")
        for b in extra:
            print(f"    EXTRA {b.kind} {','.join(b.claims)}: {b.title}")
    answers, test_claims = replay(Path(args.replay))
    s = analyse(answers, MANIFESTS["chat"], args.samples, args.judge)
    on_test = [b for b in s.bugs if set(b.claims) & test_claims]
    print(f"{'replay':<10} {'chat':<18} {len(s.bugs):>5} {len(s.candidates):>11}  -"
          f"   (bugs on test-split claims: {len(on_test)})")
    for b in s.bugs:
        print(f"    FALSE BUG {b.kind} {','.join(b.claims)}: {b.title}")
        for e in b.evidence:
            print(f"        [{e.framing}] {e.stance} {e.confidence}: {e.prompt[:60]!r} -> {e.response[:100]!r}")


if __name__ == "__main__":
    main()
