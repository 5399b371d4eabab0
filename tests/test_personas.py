"""Scripted personas end to end: the shipped suites, run over real HTTP against FakeServer into a
temporary SQLite store and analyzed with the default judge.

A truthful persona must yield no bug (under the plain chat manifest and under the agent manifest);
the planted persona must yield exactly its planted bugs. The personas answer in many everyday
styles, so these tests measure the judge on realistic wording: a failure message lists every bug
with its evidence (framing, judged stance, prompt, answer)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from behaviordbg import pipeline
from behaviordbg.personas import STYLE_NAMES, Persona, Planted, planted, truthful
from behaviordbg.store import Store
from behaviordbg.suites import expand, load_manifest, load_suites
from behaviordbg.testing import FakeServer
from behaviordbg.types import Bug, Suite

PROBES = Path(__file__).resolve().parents[1] / "probes"
CHAT = PROBES / "manifests" / "chat.yaml"
AGENT = PROBES / "manifests" / "agent-with-tools.yaml"
SAMPLES = 4


@pytest.fixture(scope="module")
def suites() -> list[Suite]:
    return load_suites([PROBES])


def _run(server: FakeServer, tmp_path: Path, manifest: Path) -> pipeline.AnalysisSummary:
    with Store.open(tmp_path / "personas.db") as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(PROBES)], manifest_path=str(manifest), base_url=server.base_url,
            model="persona", samples=SAMPLES, concurrency=32, timeout=10.0, max_attempts=2,
        ))
        assert run.responses == run.queries > 0 and run.errors == 0
        return pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions())


def _describe(bugs: list[Bug]) -> str:
    """Every bug with its evidence, so a failing assertion shows what the judge got wrong."""
    lines = [f"{len(bugs)} bug(s):"]
    for b in bugs:
        lines.append(f"- [{b.kind}] {', '.join(b.claims)}: {b.title}")
        for e in b.evidence:
            lines.append(f"    {e.framing:8} judged {e.stance:8} {e.prompt!r} -> {e.response!r}")
    return "\n".join(lines)


def test_truthful_persona_has_no_bugs_under_chat_manifest(
    fake_server: FakeServer, suites: list[Suite], tmp_path: Path
) -> None:
    fake_server.answers = truthful(suites, load_manifest(str(CHAT)))
    summary = _run(fake_server, tmp_path, CHAT)
    assert summary.judge_errors == 0
    assert summary.bugs == [], _describe(summary.bugs)


def test_truthful_persona_has_no_bugs_under_agent_manifest(
    fake_server: FakeServer, suites: list[Suite], tmp_path: Path
) -> None:
    fake_server.answers = truthful(suites, load_manifest(str(AGENT)))
    summary = _run(fake_server, tmp_path, AGENT)
    assert summary.judge_errors == 0
    assert summary.bugs == [], _describe(summary.bugs)


def test_planted_persona_yields_exactly_its_planted_bugs(
    fake_server: FakeServer, suites: list[Suite], tmp_path: Path
) -> None:
    plan = planted(suites, load_manifest(str(CHAT)))
    fake_server.answers = plan.answers
    summary = _run(fake_server, tmp_path, CHAT)
    found = {(b.kind, tuple(sorted(b.claims))) for b in summary.bugs}
    missing = {(k, tuple(sorted(c))) for k, c in plan.planted.items()} - found
    assert not missing, f"planted but not found: {sorted(missing)}\n{_describe(summary.bugs)}"
    planted_claims = {c for cs in plan.planted.values() for c in cs}
    stray = [b for b in summary.bugs if not set(b.claims) <= planted_claims]
    assert not stray, f"bugs on claims with nothing planted:\n{_describe(stray)}"
    expected = plan.expected_bugs()
    extra = [b for b in summary.bugs if (b.kind, tuple(sorted(b.claims))) not in expected]
    assert not extra, f"bugs beyond the planted ones:\n{_describe(extra)}"


# --------------------------------------------------------------------------- the personas alone


def _all_replies(persona: Persona, suites: list[Suite]) -> list[tuple[str, int, str]]:
    return [(q.prompt, q.sample_idx, persona(q.prompt, {}, q.sample_idx))
            for q in expand(suites, SAMPLES)]


def test_personas_are_deterministic(suites: list[Suite]) -> None:
    chat = load_manifest(str(CHAT))
    a, b = truthful(suites, chat), truthful(suites, chat)
    assert _all_replies(a, suites) == _all_replies(b, suites) == _all_replies(a, suites)
    p, q = planted(suites, chat), planted(suites, chat)
    assert p.planted == q.planted and p.prompts == q.prompts
    assert _all_replies(p.answers, suites) == _all_replies(q.answers, suites)


@pytest.mark.parametrize("manifest", [CHAT, AGENT], ids=["chat", "agent"])
def test_truthful_persona_covers_every_prompt_truthfully(
    suites: list[Suite], manifest: Path
) -> None:
    m = load_manifest(str(manifest))
    persona = truthful(suites, m)
    claims = {c.id: c for s in suites for c in s.claims}
    for q in expand(suites, SAMPLES):
        r = persona.reply(q.prompt, q.sample_idx)
        assert (r.claim_id, r.framing) == (q.claim_id, q.framing), q.prompt
        assert r.style != "unknown" and r.text.strip()
        truth = m.truth_of(claims[q.claim_id])
        assert r.stance == ("affirm" if truth else "deny"), (q.prompt, r)
    assert persona.reply("What is the capital of France?").style == "unknown"


def test_truthful_persona_uses_many_styles(suites: list[Suite]) -> None:
    styles: Counter[str] = Counter()
    for manifest in (CHAT, AGENT):
        persona = truthful(suites, load_manifest(str(manifest)))
        styles.update(persona.reply(q.prompt, q.sample_idx).style for q in expand(suites, SAMPLES))
    assert len(styles) >= 12, styles
    assert set(styles) <= set(STYLE_NAMES)
    one_run = Counter(truthful(suites, load_manifest(str(CHAT))).reply(q.prompt, q.sample_idx).style
                      for q in expand(suites, SAMPLES))
    assert len(one_run) >= 12, one_run


def test_planted_persona_changes_only_what_it_declares(suites: list[Suite]) -> None:
    chat = load_manifest(str(CHAT))
    plan: Planted = planted(suites, chat)
    assert set(plan.planted) == {"unstable", "paraphrase", "say_do", "rule", "manifest"}
    homes = [c for cs in plan.planted.values() for c in cs]
    assert len(homes) == len(set(homes)) == 6  # each kind on its own claims; a rule takes two
    honest = truthful(suites, chat)
    changed = {p for ps in plan.prompts.values() for p in ps}
    for q in expand(suites, SAMPLES):
        if q.prompt not in changed:
            mine = plan.answers.reply(q.prompt, q.sample_idx)
            assert mine == honest.reply(q.prompt, q.sample_idx), q.prompt
    (unstable,) = plan.prompts["unstable"]
    assert [plan.answers.reply(unstable, i).stance for i in range(4)] == ["deny", "affirm"] * 2
    (paraphrase,) = plan.prompts["paraphrase"]
    assert {plan.answers.reply(paraphrase, i).stance for i in range(4)} == {"affirm"}


def test_cli_serves_a_persona() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "behaviordbg.testing", "--persona", "truthful",
         "--suites", str(PROBES), "--manifest", str(CHAT)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:"), base_url
        body = json.dumps({"model": "m", "n": 2, "messages": [
            {"role": "user", "content": "Can you browse the internet?"}]}).encode()
        req = urllib.request.Request(base_url + "/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            choices = json.load(resp)["choices"]
        texts = [c["message"]["content"] for c in choices]
        persona = truthful(load_suites([PROBES]), load_manifest(str(CHAT)))
        assert texts == [persona("Can you browse the internet?", {}, i) for i in range(2)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
