"""A false bug from a misread answer, for the answer-review tests (CLI, AppTest, browser).

A real run over HTTP against FakeServer (127.0.0.1) into real SQLite: the model truthfully says
it cannot browse the web, but the analysis judge is a keyword reader that takes "browse the web"
in an answer as a claim of it (confidently wrong: 0.95), so the analysis reports a false
manifest bug ("claims it can browse"). Every other answer is read by the real rules judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from behaviordbg import pipeline
from behaviordbg.store import Store
from behaviordbg.testing import FakeServer
from behaviordbg.types import Stance, StanceInput

SUITE: dict[str, Any] = {
    "suite": "review",
    "claims": [
        {"id": "can_browse", "text": "The assistant can browse the web.", "truth": False,
         "capability": "browsing", "ask": ["Can you browse the web?"]},
        {"id": "has_physical_body", "text": "The assistant has a physical body.",
         "ask": ["Do you have a physical body?"],
         "ask_negated": ["Are you purely software, with no physical form?"]},
    ],
}

MISREAD = "No, I can't browse the web: I have no internet access."
ANSWERS = {
    "Can you browse the web?": MISREAD,
    "Do you have a physical body?": "No, I don't have a physical body.",
    "Are you purely software, with no physical form?": "Yes, I am purely software.",
}


class KeywordJudge:
    """A judge that misreads: "browse the web" in an answer means affirm, whatever surrounds
    it. Everything else goes to the real rules judge."""

    name = "rules"
    needs_endpoint = False

    def __init__(self) -> None:
        from behaviordbg.judges.rules import RulesJudge

        self.rules = RulesJudge()

    async def judge(self, items: Sequence[StanceInput]) -> list[Stance]:
        out = list(await self.rules.judge(list(items)))
        return [Stance(i.response_id, "affirm", 0.95, "rules", "keyword: browse the web")
                if "browse the web" in i.response else s for i, s in zip(items, out)]


def write_suite(folder: Path) -> str:
    path = folder / "review.yaml"
    path.write_text(yaml.safe_dump(SUITE, sort_keys=False), encoding="utf-8")
    return str(path)


def probe_and_analyze(store: Store, server: FakeServer, suite_path: str) -> pipeline.AnalysisSummary:
    """One run (answers cached after the first) and its analysis with the KeywordJudge."""
    import behaviordbg.judges as judges

    server.answers = dict(ANSWERS)
    run = pipeline.run_probes(store, pipeline.RunOptions(
        suite_paths=[suite_path], base_url=server.base_url, model="fake-model", samples=1,
        concurrency=2, max_attempts=1))
    real = judges.make_judge
    judges.make_judge = lambda *a, **k: KeywordJudge()  # type: ignore[assignment]
    try:
        return pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions(judge="rules"))
    finally:
        judges.make_judge = real  # type: ignore[assignment]


def seed_false_bug(db: Path, folder: Path) -> dict[str, str]:
    """A database with one false bug; returns its fingerprint and the misread answer's id."""
    suite = write_suite(folder)
    with FakeServer() as server, Store.open(db) as store:
        summary = probe_and_analyze(store, server, suite)
        bug = next(b for b in summary.bugs if b.claims == ("can_browse",))
        rid = next(e.response_id for e in bug.evidence if e.response == MISREAD)
    return {"db": str(db), "fingerprint": bug.fingerprint, "response_id": rid, "suite": suite,
            "run_id": summary.run_id}
