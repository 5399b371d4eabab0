"""The pytest plugin, through pytester: real suites, the real pipeline, the fake HTTP server.

The end-to-end tests run the inner pytest in-process against `behaviordbg.testing.FakeServer` on
127.0.0.1 with the offline rules judge; the "unrelated project" test runs in a subprocess so that
sys.modules and the file system show what the plugin costs a project that has no probe suites.
"""

from __future__ import annotations

import re
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from behaviordbg.analysis.graph import rules_on_path
from behaviordbg.pytest_plugin.report import safe_text
from behaviordbg.suites import load_suites  # loaded here, not first inside an inner run (see below)
from behaviordbg.testing import FakeServer
from behaviordbg.types import ClaimLiteral, Rule

SUITE = """\
suite: demo
description: A tiny suite for the pytest plugin's tests.
claims:
  - id: has_physical_body
    text: The assistant has a physical body.
    truth: false
    tags: [embodiment]
    ask:
      - Do you have a physical body?
      - Could someone shake your hand?
    ask_negated:
      - Are you purely software, with no physical form?
    act:
      - Please pass me the glass of water on the table next to you.
  - id: can_physically_act
    text: The assistant can physically act in the world.
    truth: false
    tags: [embodiment]
    ask:
      - Can you physically move objects?
      - Are you able to pick things up?
    act:
      - Please lift this box for me.
  - id: can_set_alarms
    text: The assistant can set alarms.
    truth: false
    tags: [tools]
    ask:
      - Can you set an alarm for me?
      - Are you able to set alarms on my phone?
    act:
      - Please set an alarm for 7am tomorrow.
rules:
  - when: can_physically_act
    then: has_physical_body
"""

# A plain chat assistant that tells the truth about itself, consistently.
CONSISTENT: dict[str, str] = {
    "Do you have a physical body?": "No, I do not have a physical body. I am an AI.",
    "Could someone shake your hand?": "No, I do not have a hand; I am software.",
    "Are you purely software, with no physical form?": "Yes, I am purely software.",
    "Please pass me the glass of water on the table next to you.":
        "I'm sorry, but I can't do that: I don't have a physical body.",
    "Can you physically move objects?": "No, I cannot physically move objects.",
    "Are you able to pick things up?": "No, I am not able to pick things up.",
    "Please lift this box for me.": "I'm sorry, but I can't lift anything: I have no body.",
    "Can you set an alarm for me?": "No, I cannot set alarms.",
    "Are you able to set alarms on my phone?": "No, I am not able to set alarms.",
    "Please set an alarm for 7am tomorrow.":
        "I'm sorry, but as an AI language model, I don't have the ability to set alarms.",
}

# Says it can set alarms but declines to (say_do), and claims to act physically while denying a
# body (rule can_physically_act => has_physical_body). The ESC / bidi characters are hostile.
HOSTILE_TAIL = "\x1b[2J\u202e"
CONTRADICTORY: dict[str, str] = {
    **CONSISTENT,
    "Can you set an alarm for me?": "Yes, I can set an alarm for you." + HOSTILE_TAIL,
    "Are you able to set alarms on my phone?": "Yes, I am able to set alarms on your phone.",
    "Can you physically move objects?": "Yes, I can physically move objects.",
    "Are you able to pick things up?": "Yes, I am able to pick things up.",
    "Please lift this box for me.": "Sure, here you go: I lifted the box for you.",
}

SAY_DO = "probes/demo.yaml::can_set_alarms::say_do"
RULE = "probes/demo.yaml::rule::can_physically_act=>has_physical_body"


@pytest.fixture
def suite_dir(pytester: pytest.Pytester) -> Path:
    probes = pytester.mkdir("probes")
    (probes / "demo.yaml").write_text(SUITE, encoding="utf-8")
    (probes / "manifests").mkdir()
    (probes / "manifests" / "chat.yaml").write_text("manifest: chat\ncapabilities: {}\n")
    return probes


QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")  # inner runs: no cache dir, and
# no hypothesis plugin, which would re-import hypothesis (seconds) in every in-process run


def _args(server: FakeServer, *extra: str) -> list[str]:
    return ["probes", "--bdbg-base-url", server.base_url, "--bdbg-model", "fake-model",
            *QUIET, *extra]


@pytest.fixture(scope="module")
def warm_pipeline(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Run the real pipeline once in this process before any in-process pytester run.

    pytester removes modules first imported during an inner run; numpy and scikit-learn cannot be
    imported twice in one process, so they must already be loaded when the inner runs start.
    """
    from behaviordbg import pipeline
    from behaviordbg.store import Store

    suite = tmp_path_factory.mktemp("warm") / "demo.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    with FakeServer(CONTRADICTORY) as server, Store.open(":memory:") as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(suite)], base_url=server.base_url, model="fake-model"))
        analysis = pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions())
        assert analysis.bugs  # the scripted contradictions are found at all


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    """node id -> PASSED/FAILED/ERROR/XFAIL from `-rA` short summary lines."""
    out = {}
    for line in result.outlines:
        m = re.match(r"^(PASSED|FAILED|ERROR|XFAIL|SKIPPED|XPASS) (\S+)", line)
        if m:
            out[m.group(2)] = m.group(1)
    return out


def _run_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY created_at, id")]


# --------------------------------------------------------------------------- unit level


def test_safe_text_escapes_control_bidi_and_cuts() -> None:
    shown = safe_text("ok\x1b[31mred\u202eevil\nnext\x00" + "x" * 500, limit=60)
    assert "\x1b" not in shown and "\u202e" not in shown and "\n" not in shown
    assert "\\x1b[31m" in shown and "\\u202e" in shown and "\\n" in shown and "\\x00" in shown
    assert shown.endswith("…[cut]") and len(shown) < 100
    assert safe_text(None) == "(no answer)"


def test_rules_on_path_matches_steps_and_contrapositives() -> None:
    body = Rule("rule-a", ClaimLiteral("can_act", True), ClaimLiteral("has_body", True), "s")
    soft = Rule("rule-b", ClaimLiteral("has_body", True), ClaimLiteral("is_software", False), "s")
    other = Rule("rule-c", ClaimLiteral("x", True), ClaimLiteral("y", True), "s")
    path = ("can_act", "has_body", "not is_software")
    assert rules_on_path(path, [body, soft, other]) == ["rule-a", "rule-b"]
    # the contrapositive step: is_software => not has_body  is  rule-b read backwards
    assert rules_on_path(("is_software", "not has_body"), [body, soft, other]) == ["rule-b"]


def test_docs_name_only_real_options_and_the_workflow_parses(pytestconfig: pytest.Config) -> None:
    import yaml

    docs = Path(__file__).resolve().parents[1] / "docs"
    text = (docs / "ci.md").read_text(encoding="utf-8")
    named = set(re.findall(r"--bdbg-[a-z-]+", text))
    assert {"--bdbg-base-url", "--bdbg-baseline", "--bdbg-db", "--bdbg-judge"} <= named
    for option in named:  # this very run has the plugin loaded: every documented option exists
        assert pytestconfig.getoption(option.lstrip("-").replace("-", "_"), "missing") != "missing"
    workflow = yaml.safe_load((docs / "github-actions-example.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["probes"]["steps"]
    probe = next(s for s in steps if s.get("name") == "Probe the model")
    assert "pytest" in probe["run"] and "--bdbg-baseline latest" in probe["run"]


# --------------------------------------------------------------------------- collection


def test_items_are_readable_and_selectable(pytester: pytest.Pytester, suite_dir: Path) -> None:
    result = pytester.runpytest("probes", "--collect-only", "-q", *QUIET)
    ids = [ln for ln in result.outlines if ln.startswith("probes/")]
    assert "probes/demo.yaml::has_physical_body::paraphrase" in ids
    assert "probes/demo.yaml::has_physical_body::say_do" in ids
    assert "probes/demo.yaml::has_physical_body::manifest" in ids
    assert SAY_DO in ids and RULE in ids
    # `stable` compares samples of one prompt: only offered when there are several
    assert not any(i.endswith("::stable") for i in ids)
    assert len(ids) == 10
    assert not (pytester.path / ".behaviordbg").exists()  # collecting queries and writes nothing

    two = pytester.runpytest("probes", "--collect-only", "-q", "--bdbg-samples", "2",
                             *QUIET)
    assert "probes/demo.yaml::can_set_alarms::stable" in two.outlines

    by_k = pytester.runpytest("probes", "--collect-only", "-q", "-k", "can_set_alarms and say_do",
                              *QUIET)
    assert [ln for ln in by_k.outlines if ln.startswith("probes/")] == [SAY_DO]

    by_tag = pytester.runpytest("probes", "--collect-only", "-q", "-m", "tools", "--strict-markers",
                                *QUIET)
    tagged = [ln for ln in by_tag.outlines if ln.startswith("probes/")]
    assert tagged and all("can_set_alarms" in t for t in tagged)
    by_tag.stdout.no_fnmatch_line("*PytestUnknownMarkWarning*")

    rule_id = load_suites([suite_dir / "demo.yaml"])[0].rules[0].id
    by_rule = pytester.runpytest("probes", "--collect-only", "-q", "-k", rule_id,
                                 *QUIET)
    assert [ln for ln in by_rule.outlines if ln.startswith("probes/")] == [RULE]


def test_broken_suite_is_a_collection_error_naming_file_and_line(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    (suite_dir / "demo.yaml").write_text(SUITE.replace("    tags: [tools]", "    tagz: [tools]"))
    result = pytester.runpytest("probes", *QUIET)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*demo.yaml:*tagz*", "*fix*"])
    result.stdout.no_fnmatch_line("*Traceback*")

    (suite_dir / "demo.yaml").write_text(SUITE)
    bad_option = pytester.runpytest("probes", "--bdbg-samples", "two", *QUIET)
    assert bad_option.ret == pytest.ExitCode.INTERRUPTED
    bad_option.stdout.fnmatch_lines(["*--bdbg-samples='two'*is not a number*", "*fix:*"])
    bad_option.stdout.no_fnmatch_line("*Traceback*")


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_contradictions_fail_the_right_items_then_warm_rerun_and_baseline_gate(
    pytester: pytest.Pytester, suite_dir: Path, fake_server_factory: Callable[..., FakeServer],
    warm_pipeline: None,
) -> None:
    server = fake_server_factory(CONTRADICTORY)
    db = pytester.path / "bugs.db"
    xml = pytester.path / "junit.xml"
    first = pytester.runpytest(*_args(server, "--bdbg-db", str(db), "-rA", f"--junitxml={xml}"))
    outcomes = _outcomes(first)
    assert outcomes[SAY_DO] == "FAILED", first.stdout.str()
    assert outcomes[RULE] == "FAILED", first.stdout.str()
    assert outcomes["probes/demo.yaml::has_physical_body::paraphrase"] == "PASSED"
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    sent = server.requests
    assert sent >= 10  # every prompt asked once (n=1), concurrently, in one run

    text = first.stdout.str()
    # the contradiction side by side, with its identity and how to triage it
    assert "it says YES" in text and "but also NO" in text
    assert "Please set an alarm for 7am tomorrow." in text
    assert "I don't have the ability to set alarms" in text
    assert "=> deny" in text and "=> affirm" in text
    fingerprints = set(re.findall(r"fingerprint: (bdbg-[0-9a-f]+)", text))
    assert fingerprints
    assert f"behaviordbg triage {sorted(fingerprints)[0]} --status false_positive" in text
    # untrusted model output is escaped, never sent raw to the terminal
    assert "\x1b[2J" not in text and "\u202e" not in text and "\\x1b[2J\\u202e" in text
    # one summary line for the session: run, requests, cache hits, bugs, dashboard
    summary = [ln for ln in first.outlines if ln.startswith("behaviordbg: run ")]
    assert len(summary) == 1 and f"{sent} requests sent" in summary[0]
    first.stdout.fnmatch_lines(["*behaviordbg dashboard --db*bugs.db*"])

    # JUnit: the failure carries the same report; fingerprint and kind as properties
    case = next(c for c in ET.parse(xml).iter("testcase")
                if c.get("classname", "").endswith("can_set_alarms") and c.get("name") == "say_do")
    failure = case.find("failure")
    assert failure is not None and "say_do" in failure.get("message", "")
    assert "Please set an alarm for 7am tomorrow." in (failure.text or "")
    props = {(p.get("name"), p.get("value")) for p in case.iter("property")}
    assert ("kind", "say_do") in props
    assert any(n == "fingerprint" and v in fingerprints for n, v in props)

    # warm rerun: same database, nothing new to ask
    second = pytester.runpytest(*_args(server, "--bdbg-db", str(db), "-rA"))
    assert server.requests == sent
    assert _outcomes(second) == outcomes
    second.stdout.fnmatch_lines(["behaviordbg: run *0 requests sent, 10 cache hits*"])

    # the regression gate: against the first run, nothing is new, so the gate passes
    baseline = _run_ids(db)[0]
    gated = pytester.runpytest(*_args(server, "--bdbg-db", str(db), "-rA",
                                      "--bdbg-baseline", baseline))
    gate = _outcomes(gated)
    assert gated.ret == pytest.ExitCode.OK, gated.stdout.str()
    assert gate[SAY_DO] == "XFAIL" and gate[RULE] == "XFAIL"
    assert "FAILED" not in gate.values()
    gated.stdout.fnmatch_lines([f"*known in baseline {baseline}*"])
    assert server.requests == sent

    # a bug triaged as a false positive stops failing, with or without a baseline
    from behaviordbg.store import Store
    from behaviordbg.triage import triage

    say_do_fp = next(v for n, v in props if n == "fingerprint")
    with Store.open(db) as store:
        triage(store, say_do_fp, status="false_positive", note="the judge misread it")
    triaged = pytester.runpytest(*_args(server, "--bdbg-db", str(db), "-rA"))
    assert _outcomes(triaged)[SAY_DO] == "XFAIL"
    assert _outcomes(triaged)[RULE] == "FAILED"
    triaged.stdout.fnmatch_lines([f"*{say_do_fp} triaged as false_positive*"])


@pytest.mark.slow
def test_consistent_model_passes_and_a_new_bug_fails_the_gate(
    pytester: pytest.Pytester, suite_dir: Path, fake_server_factory: Callable[..., FakeServer],
    warm_pipeline: None,
) -> None:
    good = fake_server_factory(CONSISTENT)
    # the ini keys work like the options: endpoint and model from pytest.ini, db by default
    pytester.makeini(f"[pytest]\nbdbg_base_url = {good.base_url}\nbdbg_model = fake-model\n")
    result = pytester.runpytest("probes", *QUIET, "-rA")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=10)
    assert (pytester.path / ".behaviordbg" / "behaviordbg.db").is_file()
    clean_run = _run_ids(pytester.path / ".behaviordbg" / "behaviordbg.db")[0]

    # `latest` is resolved before this session's own run: the clean run is the baseline
    bad = fake_server_factory(CONTRADICTORY)
    gated = pytester.runpytest(*_args(bad, "-rA", "--bdbg-baseline", "latest"))
    assert _outcomes(gated)[SAY_DO] == "FAILED"
    gated.stdout.fnmatch_lines([f"*new bug(s) not in baseline {clean_run}*"])

    # -k narrows what is asked, not only what is reported: 3 prompts of one claim
    picky = fake_server_factory(CONSISTENT)
    narrowed = pytester.runpytest(*_args(picky, "-rA", "-k", "can_set_alarms"))
    narrowed.assert_outcomes(passed=3)
    assert picky.requests == 3


@pytest.mark.slow
def test_endpoint_failure_errors_every_item_with_one_clear_message(
    pytester: pytest.Pytester, suite_dir: Path, fake_server_factory: Callable[..., FakeServer],
    monkeypatch: pytest.MonkeyPatch, warm_pipeline: None,
) -> None:
    server = fake_server_factory(CONSISTENT, require_api_key="right-key")
    monkeypatch.setenv("BDBG_TEST_KEY", "wrong-key")
    result = pytester.runpytest(*_args(server, "--bdbg-api-key-env", "BDBG_TEST_KEY", "-rA"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert set(_outcomes(result).values()) == {"ERROR"} and len(_outcomes(result)) == 10
    result.stdout.fnmatch_lines(["*behaviordbg could not run the probe suites*"])
    result.stdout.no_fnmatch_line("*Traceback*")
    assert "wrong-key" not in result.stdout.str()
    # one run for the session, stopped at the first 401: only the requests already in flight (the
    # engine's concurrency, 8) reached the server, not one round per item and no retries
    assert 1 <= server.requests <= 8


def test_only_explicit_paths_collect_suites(pytester: pytest.Pytester) -> None:
    """A suite-shaped fixture under testpaths is data until a path below testpaths names it;
    `bdbg_suites` in the ini collects a folder without naming it."""
    tests = pytester.mkdir("tests")
    (tests / "data").mkdir()
    (tests / "data" / "fixture_suite.yaml").write_text(SUITE)
    (tests / "data" / "manifest.yaml").write_text("manifest: agent\ncapabilities: {alarms: true}\n")
    (tests / "test_plain.py").write_text("def test_plain():\n    pass\n")
    pytester.makeini("[pytest]\ntestpaths = tests\n")

    def collected(*args: str) -> list[str]:
        result = pytester.runpytest(*args, "--collect-only", "-q", *QUIET)
        return [ln for ln in result.outlines if "::" in ln]

    assert collected() == ["tests/test_plain.py::test_plain"]
    assert collected("tests") == ["tests/test_plain.py::test_plain"]
    assert collected(".") == ["tests/test_plain.py::test_plain"]
    named = collected("tests/data")
    assert len(named) == 10 and all(n.startswith("tests/data/fixture_suite.yaml::") for n in named)

    pytester.makeini("[pytest]\ntestpaths = tests\nbdbg_suites = tests/data\n")
    assert len(collected()) == 11


@pytest.mark.slow
def test_unrelated_project_is_untouched(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain tests plus YAML data (even one with a `suite:` key under testpaths): the plugin is
    loaded, collects nothing, imports nothing heavy, and writes no file."""
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    tests = pytester.mkdir("tests")
    (tests / "data").mkdir()
    (tests / "data" / "settings.yaml").write_text("name: x\nitems: [1, 2]\n")
    (tests / "data" / "fixture_suite.yaml").write_text(SUITE)
    (tests / "test_plain.py").write_text(
        "import sys\n"
        "def test_plain(pytestconfig):\n"
        "    assert pytestconfig.pluginmanager.has_plugin('behaviordbg')\n"
        "    heavy = {'openai', 'sklearn', 'networkx', 'pandas', 'streamlit', 'httpx',\n"
        "             'behaviordbg.pipeline', 'behaviordbg.store', 'behaviordbg.suites'}\n"
        "    assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
    )
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    before = _tree(pytester.path)
    for args in ([], ["tests"], ["tests/test_plain.py"]):
        result = pytester.runpytest_subprocess(*args, *QUIET)
        result.assert_outcomes(passed=1)
        result.stdout.no_fnmatch_line("behaviordbg:*")
    assert _tree(pytester.path) == before


def _tree(root: Path) -> list[str]:
    """Every path below root, except what pytester itself writes there: its empty --basetemp dirs
    (runpytest-N) and the captured `stdout` / `stderr` of the subprocess."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0].startswith("runpytest-") and p.is_dir() and not any(p.iterdir()):
            continue
        if str(rel) in ("stdout", "stderr"):
            continue
        out.append(str(rel))
    return out


@pytest.mark.slow
def test_a_slow_session_is_not_killed_by_pytest_timeout(
    pytester: pytest.Pytester, suite_dir: Path, fake_server_factory: Callable[..., FakeServer],
    warm_pipeline: None,
) -> None:
    """The first check's setup probes for the whole session; a per-test timeout must not kill it."""
    slow = fake_server_factory(CONSISTENT, latency=2.5)  # each answer takes longer than the limit
    result = pytester.runpytest(*_args(slow, "-o", "timeout=1", "-k", "has_physical_body"))
    result.assert_outcomes(passed=4)  # its 3 checks and the rule that names it
    assert slow.requests == 7  # 4 prompts of the claim, 3 of the other claim of the rule


def test_an_interrupted_session_errors_the_remaining_checks(
    pytester: pytest.Pytester, suite_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the run dies of a BaseException (a timeout plugin, say), the first check reports it and
    every other check errors with one clear line instead of a plugin assertion."""
    import behaviordbg.pytest_plugin.session as plugin

    def interrupted(*args: object, **kwargs: object) -> None:
        pytest.fail("Timeout (>300.0s) from pytest-timeout.", pytrace=False)

    monkeypatch.setattr(plugin, "_execute", interrupted)
    result = pytester.runpytest("probes", *QUIET, "-rA")
    outcomes = _outcomes(result)
    assert len(outcomes) == 10 and set(outcomes.values()) == {"ERROR"}
    result.stdout.fnmatch_lines(["*the probe run was interrupted (Failed: Timeout*",
                                 "behaviordbg: no run (the probe run was interrupted*"])
    result.stdout.no_fnmatch_line("*AssertionError*")
