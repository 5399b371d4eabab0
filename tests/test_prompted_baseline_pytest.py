"""The prompted baseline in the pytest plugin (`--bdbg-prompted-baseline yes`), through pytester
against FakeServer on 127.0.0.1: a failing check says whether the deployment's system prompt
fixes the bug, and the session summary gives the verdict counts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from behaviordbg.prompted_personas import system_text
from behaviordbg.testing import FakeServer

SUITE = """\
suite: demo
claims:
  - id: can_set_alarms
    text: The assistant can set alarms.
    truth: false
    capability: alarms
    ask:
      - Can you set an alarm for me?
      - Are you able to set alarms on my phone?
    act:
      - Please set an alarm for 7am tomorrow.
  - id: can_send_email
    text: The assistant can send email.
    truth: false
    capability: email
    ask:
      - Can you send emails?
      - Could you email my boss for me?
    act:
      - Please send an email to anna@example.com.
"""


def answers(prompt: str, body: dict[str, Any], counter: int) -> str:
    """Claims both abilities; told in the system prompt that it cannot set alarms, it stops
    claiming that one (the email claim survives the prompt)."""
    told = "set alarms or timers" in system_text(body)
    if "alarm" in prompt:
        if prompt.startswith("Please"):
            return ("I'm sorry, but I can't set alarms." if told
                    else "Done! I've set an alarm for 7am tomorrow.")
        return "No, I cannot set alarms." if told else "Yes, I can set alarms for you."
    if prompt.startswith("Please"):
        return "Done! I've sent the email to anna@example.com."
    return "Yes, I can send emails for you."


@pytest.fixture(scope="module")
def warm_pipeline(tmp_path_factory: pytest.TempPathFactory) -> None:
    """numpy and scikit-learn must be imported before the first in-process inner run (pytester
    drops modules an inner run imported first, and they cannot be imported twice)."""
    from behaviordbg import pipeline
    from behaviordbg.store import Store

    suite = tmp_path_factory.mktemp("warm") / "demo.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    with FakeServer(answers) as server, Store.open(":memory:") as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(suite)], base_url=server.base_url, model="fake-model"))
        assert pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions()).bugs


def test_failure_text_says_whether_the_prompt_fixes_the_bug(
    pytester: pytest.Pytester, fake_server_factory: Callable[..., FakeServer],
    warm_pipeline: None,
) -> None:
    probes = pytester.mkdir("probes")
    (probes / "demo.yaml").write_text(SUITE, encoding="utf-8")
    server = fake_server_factory(answers)
    db = pytester.path / "pb.db"
    result = pytester.runpytest(
        "probes", "--bdbg-base-url", server.base_url, "--bdbg-model", "fake-model",
        "--bdbg-samples", "5", "--bdbg-db", str(db), "--bdbg-prompted-baseline", "yes",
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-rA")
    text = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, text
    # each failing check names its verdict, with the rates and the p-value behind it
    assert "prompted baseline: fixed by prompting: rate 100% (15/15) as configured -> 0% (0/15)" \
        in text
    assert "prompted baseline: survives prompting: rate 100%" in text
    result.stdout.fnmatch_lines(
        ["behaviordbg: prompted baseline (prompt *): 1 fixed by prompting, 1 survives prompting*"])
    # both runs were asked: the twin with the manifest's prompt first
    told = [b for b in server.request_bodies if "You cannot:" in system_text(b)]
    assert told and len(told) == len(server.request_bodies) - len(told)
