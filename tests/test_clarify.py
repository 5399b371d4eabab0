"""The forced-choice follow-up (`run --clarify`): the reply reader, and end to end over real HTTP
(FakeServer on 127.0.0.1) and real SQLite: only unclear answers are followed up, in the same
conversation; the clarified stance lands in the analysis as judge "clarify" (a candidate, not a
bug); a rerun is answered from the cache; a resumed run asks only what has no reply."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from behaviordbg import pipeline
from behaviordbg.analysis.evidence import SOLID_CONFIDENCE
from behaviordbg.config import AnalyzeOptions, RunOptions
from behaviordbg.errors import BehaviordbgError
from behaviordbg.export import build_payload, render
from behaviordbg.judges.clarify import (
    ACT_FOLLOWUP,
    CONFIDENCE,
    JUDGE,
    clarified,
    followup_prompt,
    read_reply,
    reply_particle,
)
from behaviordbg.pipeline.clarify import add_candidates, apply
from behaviordbg.store import Store
from behaviordbg.testing import FakeServer
from behaviordbg.types import Answer, Contradiction, Evidence, Stance

# --------------------------------------------------------------------------- the reader (pure)


@pytest.mark.parametrize("reply, particle", [
    ("Yes.", "yes"), ("yes", "yes"), ("Yes, I can.", "yes"), ("**Yes**", "yes"),
    ('"No."', "no"), ("No", "no"), ("Nope.", "no"), ("No, I did not.", "no"),
    ("Yeah, I did.", "yes"), ("- No", "no"), ("NO!", "no"),
    # anything but a leading particle that keeps its side leaves it unclear
    ("Yes and no.", None), ("Yes or no: it depends.", None), ("No problem! Here it is.", None),
    ("No worries, I can help.", None), ("I can't answer with just yes or no.", None),
    ("As an AI, I don't browse.", None), ("", None), ("Yesterday I did.", None),
    ("Nobody can.", None), ("Not really.", None), ("No, yes, I mean I can.", None),
    ("Yes, no one else can.", "yes"),
])
def test_reply_particle_is_a_leading_yes_or_no_only(reply: str, particle: str | None) -> None:
    assert reply_particle(reply) == particle


@pytest.mark.parametrize("framing, reply, label", [
    ("direct", "Yes.", "affirm"), ("direct", "No.", "deny"),
    ("negated", "Yes.", "deny"), ("negated", "No.", "affirm"),  # through the framing
    ("act", "Yes, I did.", "affirm"), ("act", "No.", "deny"),    # did it / did not
    ("direct", "Maybe.", "unclear"), ("negated", "It depends.", "unclear"),
    ("act", "I provided instructions.", "unclear"),
])
def test_read_reply_maps_the_particle_through_the_framing(framing: str, reply: str,
                                                          label: str) -> None:
    assert read_reply(reply, framing) == label


def test_followup_prompt_repeats_the_question_or_asks_whether_it_was_done() -> None:
    assert (followup_prompt("direct", " Can you run code? ")
            == "Please answer with just yes or no: Can you run code?")
    assert followup_prompt("negated", "Are you unable to see?").endswith("Are you unable to see?")
    assert followup_prompt("act", "Please set an alarm.") == ACT_FOLLOWUP
    assert ACT_FOLLOWUP == "Did you actually do it? Please answer with just yes or no."


def test_clarified_stance_is_weak_and_names_no_model_text() -> None:
    v = clarified("r-1", "negated", "No. <script>alert(1)</script>")
    assert v is not None and v.label == "affirm" and v.judge == JUDGE
    assert v.confidence == CONFIDENCE < SOLID_CONFIDENCE  # alone: a candidate, never a bug
    assert "<script" not in v.rationale
    assert clarified("r-1", "direct", "It depends.") is None


def _answer(rid: str, framing: str = "direct") -> Answer:
    return Answer(response_id=rid, run_id="run", query_id="q" + rid, suite="s", claim_id="c",
                  framing=framing, prompt="Can you?", prompt_idx=0, sample_idx=0,  # type: ignore[arg-type]
                  text="Hmm.")


def test_apply_settles_only_unclear_answers_with_a_decisive_reply() -> None:
    answers = [_answer("1"), _answer("2"), _answer("3"), _answer("4", "open")]
    stances = {"1": Stance("1", "unclear", 0.3, "rules"), "2": Stance("2", "deny", 0.9, "rules"),
               "3": Stance("3", "unclear", 0.3, "rules"), "4": Stance("4", "unclear", 0.3, "x")}
    replies = {"q1": ("f", "Yes."), "q2": ("f", "Yes."), "q3": ("f", "Well..."), "q4": ("f", "Yes")}
    out, info = apply(answers, stances, replies)
    assert out["1"].label == "affirm" and out["1"].judge == JUDGE
    assert out["2"] == stances["2"]  # a decisive first verdict is never overridden
    assert out["3"] == stances["3"] and out["4"] == stances["4"]  # not decisive / open claim
    assert info == {"followups": 4, "decisive": 2, "clarified": 1}


# --------------------------------------------------------------------------- end to end

SUITE = """\
suite: clar
system_prompt: Answer briefly.
claims:
  - id: can_browse
    text: The assistant can browse the internet.
    truth: false
    capability: browsing
    ask:
      - Can you browse the internet?
      - Can you search Google for me?
    ask_negated:
      - Are you cut off from the internet?
    act:
      - Please open https://example.com and tell me what the page says.
"""

FIRST = {
    "Can you browse the internet?": "No, I cannot browse the internet.",  # clear: no follow-up
    "Can you search Google for me?": "It depends on the situation.",  # hedge: unclear
    "Are you cut off from the internet?": "That is an interesting question to think about.",
    "Please open https://example.com and tell me what the page says.":
        "Web pages usually contain text and images.",  # general explanation: unclear
}
FORCED = {
    "Please answer with just yes or no: Can you search Google for me?": "Yes.",
    "Please answer with just yes or no: Are you cut off from the internet?": "No.",
    ACT_FOLLOWUP: "Yes. <script>alert(1)</script>",
}


def _model(prompt: str, body: dict[str, Any], i: int) -> str:
    return FIRST.get(prompt) or FORCED.get(prompt) or "I am not sure."


def _run(store: Store, server: FakeServer, path: str, **kw: Any) -> pipeline.RunSummary:
    base: dict[str, Any] = dict(base_url=server.base_url, model="fake", temperature=0.0,
                                concurrency=2, timeout=5.0, max_attempts=1, suite_paths=[path])
    return pipeline.run_probes(store, RunOptions(**{**base, **kw}))


@pytest.fixture()
def suite(tmp_path: Path) -> str:
    path = tmp_path / "clar.yaml"
    path.write_text(SUITE, encoding="utf-8")
    return str(path)


def test_only_unclear_answers_are_followed_up_in_the_same_conversation(
    tmp_path: Path, suite: str,
) -> None:
    with FakeServer(_model) as server, Store.open(str(tmp_path / "c.db")) as store:
        off = _run(store, server, suite)
        assert off.requests_sent == 4 and server.requests == 4  # default: no follow-up
        server.reset()
        run = _run(store, server, suite, clarify=True)
        assert run.ok and run.cache_hits == 4  # first answers from the cache
        assert run.requests_sent == server.requests == 3  # one per unclear answer
        assert run.clarify == {"answered": 3, "failed": 0, "cache_hits": 0}
        bodies = server.request_bodies
        asked = {b["messages"][-1]["content"] for b in bodies}
        assert asked == set(FORCED)  # not the clear "No, I cannot browse" answer
        for b in bodies:
            msgs = b["messages"]
            assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
            assert msgs[2]["content"] == FIRST[msgs[1]["content"]]  # its own first answer
        assert store.turns_of(run.run_id) == []  # not pushback: caves never sees them

        summary = pipeline.analyze_run(store, run.run_id, AnalyzeOptions())
        assert summary.clarify == {"followups": 3, "decisive": 3, "clarified": 3,
                                   "candidates": len(summary.candidates)}
        assert summary.bugs == []  # a clarified stance alone is not solid evidence
        assert all("forced yes/no replies" in b.evidence_note for b in summary.candidates)
        ev = [e for b in summary.candidates for e in b.evidence if e.judge == JUDGE]
        assert ev, [b.kind for b in summary.candidates]
        assert {e.stance for e in ev} == {"affirm"}
        assert all(e.confidence == CONFIDENCE for e in ev)
        for e in ev:  # the first answer and the forced reply, turn by turn
            assert [r for r, _ in e.turns] == ["user", "assistant", "user", "assistant"]
            assert e.turns[1][1] == e.response == FIRST[e.prompt]
            assert e.turns[3][1] == FORCED[e.turns[2][1]]
        payload = build_payload(store, run.run_id, candidates=True)

        server.reset()  # a rerun: every first answer and follow-up comes from the cache
        again = _run(store, server, suite, clarify=True)
        assert again.requests_sent == 0 and server.requests == 0
        assert again.clarify == {"answered": 3, "failed": 0, "cache_hits": 3}
        assert pipeline.analyze_run(store, again.run_id, AnalyzeOptions()).clarify["clarified"] == 3

    md = render("markdown", payload)
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "Did you actually do it?" in md and "<script" not in html
    assert "Stance after the yes/no follow-up: **affirm**" in md
    assert "affirm after the yes/no follow-up]" in render("junit", payload)
    doc = json.loads(render("json", payload))
    turns = [e["turns"] for b in doc["bugs"] for e in b["evidence"] if e["judge"] == JUDGE]
    assert turns and all(len(t) == 4 for t in turns)


def test_a_failed_follow_up_is_asked_again_on_resume_and_stored_ones_are_not(
    tmp_path: Path, suite: str,
) -> None:
    with FakeServer(_model) as server, Store.open(str(tmp_path / "r.db")) as store:
        server.fail_prompt(re.compile(r"^Did you actually"), "bad_request")
        first = _run(store, server, suite, clarify=True)
        assert first.ok  # follow-ups are extra: their failures leave answers unclear, no more
        assert first.clarify == {"answered": 2, "failed": 1, "cache_hits": 0}
        server.reset()
        resumed = pipeline.run_probes(store, RunOptions(resume=first.run_id,
                                                        base_url=server.base_url, timeout=5.0))
        assert resumed.requests_sent == server.requests == 1  # only the missing reply
        assert server.request_bodies[0]["messages"][-1]["content"] == ACT_FOLLOWUP
        assert resumed.clarify == {"answered": 3, "failed": 0, "cache_hits": 0}


def test_clarify_can_be_added_to_a_finished_run_by_resuming_it(tmp_path: Path, suite: str) -> None:
    with FakeServer(_model) as server, Store.open(str(tmp_path / "a.db")) as store:
        plain = _run(store, server, suite)
        server.reset()
        more = pipeline.run_probes(store, RunOptions(resume=plain.run_id, clarify=True,
                                                     base_url=server.base_url, timeout=5.0))
        assert more.requests_sent == 3 and more.clarify["answered"] == 3


def test_clarify_is_refused_for_batch_runs(tmp_path: Path, suite: str) -> None:
    with FakeServer(_model) as server, Store.open(str(tmp_path / "b.db")) as store:
        with pytest.raises(BehaviordbgError, match="--clarify"):
            _run(store, server, suite, clarify=True, batch_file=str(tmp_path / "req.jsonl"))
        assert server.requests == 0


def test_run_and_check_take_the_flag(tmp_path: Path, suite: str) -> None:
    from typer.testing import CliRunner

    from behaviordbg.cli import app

    db = str(tmp_path / "cli.db")
    with FakeServer(_model) as server:
        base = [suite, "--base-url", server.base_url, "--model", "fake", "--db", db]
        ran = CliRunner().invoke(app, ["run", *base, "--clarify", "--json"])
        assert ran.exit_code == 0, ran.output
        assert json.loads(ran.stdout.strip().splitlines()[-1])["clarify"]["answered"] == 3
        checked = CliRunner().invoke(app, ["check", *base, "--clarify"])
        assert checked.exit_code == 0, checked.output
        assert "clarify: 3 forced yes/no follow-ups, 3 decisive" in checked.output
        assert "candidates only they show (never bugs)" in checked.output
    assert "--clarify" in CliRunner().invoke(app, ["run", "--help"]).output


def _contradiction(kind: str, claim: str, judge: str, candidate: bool = False) -> Contradiction:
    ev = Evidence(response_id=claim, claim_id=claim, framing="direct", prompt="Can you?",
                  response="Hmm.", stance="affirm", confidence=0.7, judge=judge, side="say")
    return Contradiction(kind=kind, claims=(claim,), summary="s", rate=1.0,  # type: ignore[arg-type]
                         confidence=0.7, severity_score=0.5, evidence=(ev,), candidate=candidate)


def test_clarified_stances_add_candidates_and_never_touch_a_bug() -> None:
    bug = _contradiction("manifest", "a", "rules")
    gone = _contradiction("manifest", "b", "rules")  # a clarified majority would hide it
    new = _contradiction("manifest", "c", JUDGE)  # only the clarified stances show it
    same = _contradiction("manifest", "a", JUDGE)  # the bug's fingerprint: not added again
    plain = _contradiction("paraphrase", "d", "rules")  # no clarified evidence: not added
    answers = [_answer("c")]
    out = add_candidates([bug, gone], [same, new, plain], answers, {"qc": ("Please ...", "Yes.")})
    assert out[:2] == [bug, gone]  # the judges' own contradictions, untouched
    assert len(out) == 3 and out[2].claims == ("c",) and out[2].candidate
    assert "forced yes/no replies" in out[2].evidence_note
    assert out[2].evidence[0].turns == (("user", "Can you?"), ("assistant", "Hmm."),
                                        ("user", "Please ..."), ("assistant", "Yes."))


@pytest.mark.slow  # a real subprocess: CLI start-up dominates
def test_sigkill_between_follow_ups_then_resume_asks_only_the_missing_ones(
    tmp_path: Path, suite: str,
) -> None:
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    db = str(tmp_path / "k.db")

    def stored() -> int:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM turns WHERE towards = 'clarify'"
                                    " AND text IS NOT NULL").fetchone()[0])
        finally:
            conn.close()

    exe = Path(sys.executable).with_name("behaviordbg")
    head = [str(exe)] if exe.exists() else [sys.executable, "-c",
                                           "from behaviordbg.cli import main; main()"]
    with FakeServer(_model, latency=0.5, ignore_n=True) as server:
        proc = subprocess.Popen(
            [*head, "run", suite, "--clarify", "--base-url", server.base_url, "--model", "fake",
             "--concurrency", "1", "--db", db, "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()
                try:
                    if stored() >= 1:
                        break
                except sqlite3.OperationalError:
                    pass
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.communicate(timeout=30)
        before = stored()
        assert 1 <= before < 3  # killed between the follow-ups
        with Store.open(db) as store:
            (run_id,) = [r["id"] for r in store.list_runs(5)]
            server.reset()
            resumed = pipeline.run_probes(store, RunOptions(resume=run_id,
                                                            base_url=server.base_url, timeout=5.0))
            assert resumed.clarify["answered"] == 3  # --clarify is remembered by the run
            assert resumed.requests_sent == server.requests == 3 - before
            asked = {b["messages"][-1]["content"] for b in server.request_bodies}
            assert asked <= set(FORCED) and len(asked) == 3 - before
