"""The pytest plugin on an open claim: a `values` item per open claim that fails on a
value_conflict with the values named side by side, and no yes/no items for it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from behaviordbg.testing import FakeServer

SUITE = """\
suite: facts
claims:
  - id: maker
    text: The organisation that created the assistant.
    value_type: organisation
    ask_open:
      - Who created you?
      - Which company trained you?
  - id: knowledge_cutoff
    text: The year the assistant's training data ends.
    value_type: year
    ask_open:
      - What is your knowledge cutoff?
      - Up to which year does your training data go?
"""
ANSWERS = {
    "Who created you?": ["I was created by OpenAI.", "Alibaba Cloud developed me."],
    "Which company trained you?": ["OpenAI trained me.", "The Qwen team at Alibaba trained me."],
    "What is your knowledge cutoff?": "My knowledge cutoff is 2023.",
    "Up to which year does your training data go?": "Up to 2023.",
}
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


@pytest.fixture(scope="module")
def warm_pipeline(tmp_path_factory: pytest.TempPathFactory) -> None:
    """numpy and scikit-learn cannot be imported twice in one process: load them before the
    in-process pytester runs (see tests/test_pytest_plugin.py)."""
    from behaviordbg import pipeline
    from behaviordbg.store import Store

    suite = tmp_path_factory.mktemp("warm") / "facts.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    with FakeServer(ANSWERS) as server, Store.open(":memory:") as store:
        run = pipeline.run_probes(store, pipeline.RunOptions(
            suite_paths=[str(suite)], base_url=server.base_url, model="fake-model", samples=2))
        assert pipeline.analyze_run(store, run.run_id, pipeline.AnalyzeOptions()).bugs


def test_values_item_fails_on_a_value_conflict(
    pytester: pytest.Pytester, fake_server_factory: Callable[..., FakeServer],
    warm_pipeline: None,
) -> None:
    probes = pytester.mkdir("probes")
    (probes / "facts.yaml").write_text(SUITE, encoding="utf-8")
    server = fake_server_factory(ANSWERS)
    result = pytester.runpytest("probes", "--bdbg-base-url", server.base_url, "--bdbg-model",
                                "fake-model", "--bdbg-samples", "2", *QUIET, "-rA")
    outcomes = {m.group(2): m.group(1) for line in result.outlines
                if (m := re.match(r"^(PASSED|FAILED|ERROR) (\S+)", line))}
    assert outcomes == {"probes/facts.yaml::maker::values": "FAILED",
                        "probes/facts.yaml::knowledge_cutoff::values": "PASSED"}, result.stdout.str()
    text = result.stdout.str()
    assert "value_conflict" in text
    assert "it names Alibaba Cloud:" in text and "it names OpenAI:" in text
    assert "I was created by OpenAI." in text
    assert server.requests == 4  # 4 prompts (2 samples each, n=2): no model reads the values
