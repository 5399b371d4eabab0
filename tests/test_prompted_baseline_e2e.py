"""The prompted baseline end to end: a persona that behaves differently when the system prompt
lists its limits, over real HTTP (FakeServer), into real SQLite, through the pipeline and the CLI.

One planted bug per verdict (behaviordbg.prompted_personas): `fixed` answers truthfully once the
prompt lists its limit, `reduced` mostly still wrong, `survives` ignores the prompt, `introduced`
over-denies once it is told its limits. Five samples per prompt, so every cell has enough
decisive answers for the significance test `diff` uses."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from behaviordbg import pipeline
from behaviordbg.cli import app
from behaviordbg.pipeline.baseline import check_pair, run_pair
from behaviordbg.prompted_personas import PromptSensitive, prompt_sensitive
from behaviordbg.prompting import compare_prompted
from behaviordbg.store import Store
from behaviordbg.suites import load_manifest, load_suites
from behaviordbg.suites.baseline_prompt import manifest_prompt
from behaviordbg.testing import FakeServer
from behaviordbg.types import Suite

PROBES = Path(__file__).resolve().parents[1] / "probes"
CLAIMS = {"can_hear_audio", "can_speak_aloud", "can_run_code", "has_a_name", "can_send_email"}
SAMPLES = 5


@pytest.fixture(scope="module")
def suites() -> list[Suite]:
    return load_suites([PROBES])


@pytest.fixture
def persona(suites: list[Suite]) -> PromptSensitive:
    return prompt_sensitive(suites, load_manifest(None))


def _opts(server: FakeServer) -> pipeline.RunOptions:
    return pipeline.RunOptions(
        suite_paths=[str(PROBES)], base_url=server.base_url, model="persona", samples=SAMPLES,
        concurrency=16, timeout=10.0, max_attempts=2, claims=set(CLAIMS),
    )


def test_each_verdict_end_to_end(
    fake_server_factory: object, persona: PromptSensitive, suites: list[Suite], tmp_path: Path
) -> None:
    server = fake_server_factory(persona)  # type: ignore[operator]
    with Store.open(tmp_path / "pb.db") as store:
        result = check_pair(store, _opts(server), pipeline.AnalyzeOptions())
        comparison = result.comparison
        assert comparison.base_run == result.runs.base.run_id
        assert comparison.prompted_run == result.runs.prompted.run_id
        # the twin asked the same user prompts, each with the manifest prompt first
        prompt = manifest_prompt(load_manifest(None), suites)
        assert comparison.prompt_sha256 == prompt.sha256
        link = store.run_link(result.runs.prompted.run_id)
        assert link is not None and link["base_run_id"] == result.runs.base.run_id
        assert link["prompt_text"] == prompt.text
        base_q = store.planned_queries(result.runs.base.run_id)
        twin_q = store.planned_queries(result.runs.prompted.run_id)
        assert [q.prompt for q, _ in base_q] == [q.prompt for q, _ in twin_q]
        for (b, _), (t, _) in zip(base_q, twin_q):
            assert t.messages[0].role == "system"
            assert t.messages[0].content.startswith(prompt.text)
            assert t.messages[0].content.endswith(b.messages[0].content)
        bugs_base = {b.claims[0]: b for b in result.base.bugs if b.kind == "manifest"}
        by_fp = comparison.by_fingerprint
        got = {}
        for verdict, claim in persona.expected.items():
            if verdict == "introduced":
                fps = [b.fingerprint for b in result.prompted.bugs
                       if b.kind == "manifest" and b.claims == (claim,)]
            else:
                fps = [bugs_base[claim].fingerprint]
            assert len(fps) == 1, (verdict, claim, [b.title for b in result.prompted.bugs])
            got[verdict] = by_fp[fps[0]].verdict
        assert got == {v: v for v in persona.expected}, [v.describe() for v in comparison.verdicts]
        # the truthful control claim has no bug on either side
        assert not [b for b in result.base.bugs + result.prompted.bugs
                    if "can_send_email" in b.claims]
        # the rates behind the verdicts
        fixed = by_fp[bugs_base["can_hear_audio"].fingerprint]
        assert fixed.rate_base == 1.0 and fixed.rate_prompted == 0.0 and fixed.p_value < 0.05
        reduced = by_fp[bugs_base["can_speak_aloud"].fingerprint]
        assert reduced.rate_prompted is not None and 0.5 < reduced.rate_prompted < 1.0
        assert reduced.p_value is not None and reduced.p_value < 0.05
        survives = by_fp[bugs_base["can_run_code"].fingerprint]
        assert survives.p_value is not None and survives.p_value > 0.05
        # a second check is answered from the cache: nothing is asked again
        sent = server.requests
        again = check_pair(store, _opts(server), pipeline.AnalyzeOptions())
        assert server.requests == sent
        assert again.runs.base.requests_sent == again.runs.prompted.requests_sent == 0
        assert again.comparison.counts() == comparison.counts()
        assert compare_prompted(store, again.runs.base.run_id) is not None


def test_resume_finishes_both_sides_and_makes_a_missing_twin(
    fake_server_factory: object, persona: PromptSensitive, tmp_path: Path
) -> None:
    server = fake_server_factory(persona)  # type: ignore[operator]
    with Store.open(tmp_path / "pb.db") as store:
        base = pipeline.run_probes(store, _opts(server))  # a plain run, no twin yet
        assert store.run_link(base.run_id) is None
        pair = run_pair(store, pipeline.RunOptions(resume=base.run_id, timeout=10.0))
        assert pair.base.run_id == base.run_id and pair.base.requests_sent == 0
        assert pair.prompted.ok and pair.prompted.responses == base.responses
        link = store.run_link(base.run_id)
        assert link is not None and link["run_id"] == pair.prompted.run_id
        # resuming from the twin's side finds the pair, asks nothing
        again = run_pair(store, pipeline.RunOptions(resume=pair.prompted.run_id, timeout=10.0))
        assert (again.base.run_id, again.prompted.run_id) == (base.run_id, pair.prompted.run_id)
        assert again.prompted.requests_sent == 0


def test_cli_check_prompted_baseline_table_json_and_exports(
    fake_server_factory: object, persona: PromptSensitive, tmp_path: Path
) -> None:
    server = fake_server_factory(persona)  # type: ignore[operator]
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    claims = [a for c in sorted(CLAIMS) for a in ("--claim", c)]
    common = ["--base-url", server.base_url, "--model", "persona", "--samples", str(SAMPLES),
              "--db", db, *claims]
    res = runner.invoke(app, ["check", "--prompted-baseline", *common, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output.strip().splitlines()[-1])
    pb = doc["prompted_baseline"]
    manifest_bugs = sorted(v["verdict"] for v in pb["verdicts"] if v["kind"] == "manifest")
    assert manifest_bugs == ["fixed", "introduced", "reduced", "survives"]
    # four samples in five still wrong: the samples of a prompt now disagree (a new unstable bug)
    assert pb["summary"]["fixed"] == 1 and pb["summary"]["survives"] == 1
    base_run = pb["base_run"]
    # analyze of either side analyses the pair and carries the verdicts
    res = runner.invoke(app, ["analyze", pb["prompted_run"], "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    again = json.loads(res.output.strip().splitlines()[-1])["prompted_baseline"]
    assert again["summary"] == pb["summary"] and again["base_run"] == base_run
    page = tmp_path / "report.html"
    res = runner.invoke(app, ["report", base_run, "--db", db, "--out", str(page)])
    assert res.exit_code == 0, res.output
    html = page.read_text()
    assert "<th>prompted baseline</th>" in html and "survives prompting: rate 100%" in html
    res = runner.invoke(app, ["runs", "--db", db, "--json"])
    linked = {r["run_id"]: r["linked_run"] for r in json.loads(res.output.strip())["runs"]}
    assert linked == {base_run: pb["prompted_run"], pb["prompted_run"]: base_run}
    res = runner.invoke(app, ["check", "--prompted-baseline", *common], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "fixed by prompting" in res.output and "survives prompting" in res.output
    assert "introduced by prompting" in res.output
    # bugs --json carries the verdict; --survives-prompting keeps what a prompt did not fix
    res = runner.invoke(app, ["bugs", base_run, "--db", db, "--json"])
    rows = json.loads(res.output.strip().splitlines()[-1])["bugs"]
    verdicts = {r["claims"][0]: r["prompting"]["verdict"] for r in rows if r["kind"] == "manifest"}
    assert verdicts["can_hear_audio"] == "fixed" and verdicts["can_run_code"] == "survives"
    res = runner.invoke(app, ["bugs", base_run, "--db", db, "--json", "--survives-prompting"])
    kept = json.loads(res.output.strip().splitlines()[-1])["bugs"]
    assert kept and all(r["prompting"]["verdict"] in ("survives", "reduced") for r in kept)
    assert "can_hear_audio" not in {c for r in kept for c in r["claims"]}
    # exports: a JSON field, a GitHub label and a Jira label
    out = tmp_path / "bugs.json"
    res = runner.invoke(app, ["export", base_run, "--db", db, "--format", "json", "--out",
                              str(out)])
    assert res.exit_code == 0, res.output
    exported = json.loads(out.read_text())
    assert {b["prompting"]["verdict"] for b in exported["bugs"]} >= {"fixed", "survives"}
    gh = tmp_path / "gh.json"
    runner.invoke(app, ["export", base_run, "--db", db, "--format", "github", "--out", str(gh),
                        "--survives-prompting"])
    issues = json.loads(gh.read_text())
    assert issues and all("prompting:survives" in i["labels"] or "prompting:reduced"
                          in i["labels"] for i in issues)
    jira = tmp_path / "bugs.csv"
    runner.invoke(app, ["export", base_run, "--db", db, "--format", "jira-csv", "--out",
                        str(jira)])
    assert "prompting-fixed" in jira.read_text()
    # a run without a twin: --survives-prompting says how to make one
    plain = runner.invoke(app, ["check", *common, "--json"])
    plain_run = json.loads(plain.output.strip().splitlines()[-1])["run_id"]
    res = runner.invoke(app, ["bugs", plain_run, "--db", db, "--survives-prompting"])
    assert res.exit_code == 2 and "no prompted baseline" in res.output


def test_baseline_prompt_file_override_and_bad_files(
    fake_server_factory: object, persona: PromptSensitive, tmp_path: Path
) -> None:
    server = fake_server_factory(persona)  # type: ignore[operator]
    db = str(tmp_path / "f.db")
    runner = CliRunner()
    common = ["--base-url", server.base_url, "--model", "persona", "--db", db,
              "--claim", "can_hear_audio"]
    for bad, why in ((tmp_path / "missing.txt", "no such file"), (tmp_path / "empty.txt", "empty")):
        if "empty" in why:
            bad.write_text("  \n")
        res = runner.invoke(app, ["check", "--prompted-baseline", "--baseline-prompt", str(bad),
                                  *common])
        assert res.exit_code == 2 and why in res.output and str(bad.name) in res.output
        assert server.requests == 0  # refused before anything was asked
    good = tmp_path / "prompt.txt"
    good.write_text("You are a text-only assistant. You cannot hear audio.\n")
    res = runner.invoke(app, ["check", "--prompted-baseline", "--baseline-prompt", str(good),
                              *common, "--json"])
    assert res.exit_code == 0, res.output
    pb = json.loads(res.output.strip().splitlines()[-1])["prompted_baseline"]
    import hashlib

    assert pb["prompt_sha256"] == hashlib.sha256(
        b"You are a text-only assistant. You cannot hear audio.").hexdigest()
    assert pb["prompt_source"] == str(good)
    bodies = [b for b in server.request_bodies
              if b["messages"][0]["content"].startswith("You are a text-only")]
    assert bodies  # the twin was asked with the file's prompt first


def test_one_sample_is_too_few_to_call_a_bug_fixed(
    fake_server_factory: object, persona: PromptSensitive, tmp_path: Path
) -> None:
    """The same persona with one sample per prompt: the bug the prompt fixes is gone under the
    prompt, but with fewer than 5 decisive answers in a cell it is not called fixed."""
    server = fake_server_factory(persona)  # type: ignore[operator]
    with Store.open(tmp_path / "one.db") as store:
        opts = dataclasses.replace(_opts(server), samples=1, claims={"can_hear_audio"})
        result = check_pair(store, opts, pipeline.AnalyzeOptions())
        (v,) = result.comparison.verdicts
        assert v.verdict == "not_reproduced" and "--samples" in v.note
        assert v.rate_base == 1.0 and v.rate_prompted == 0.0
        assert "not reproduced" in result.comparison.summary_line()
