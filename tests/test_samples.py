"""One sample per prompt cannot find `unstable` bugs: `check` and `analyze` say so, up front and
in the summary (and `--json` carries it), so "no unstable bugs" never reads as "stable"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from behaviordbg.analysis.coverage import out_of_reach, samples_note
from behaviordbg.cli import app
from behaviordbg.starter import STARTER_SUITE
from behaviordbg.testing import FakeServer


def test_out_of_reach_by_samples() -> None:
    assert set(out_of_reach(1)) == {"unstable"} and "--samples 2" in out_of_reach(1)["unstable"]
    assert out_of_reach(2) == {} and out_of_reach(5) == {} and samples_note(3) == ""
    assert "--samples 2" in samples_note(1) and "unstable" in samples_note(1)


@pytest.fixture
def suite(tmp_path: Path) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(STARTER_SUITE, encoding="utf-8")
    return str(path)


def _check(suite: str, server: FakeServer, db: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["check", suite, "--base-url", server.base_url, "--model", "m",
                                   "--db", str(db), *extra])
    return res.exit_code, res.output


def test_check_with_one_sample_says_up_front_and_in_the_summary(
    suite: str, fake_server: FakeServer, tmp_path: Path
) -> None:
    code, out = _check(suite, fake_server, tmp_path / "a.db", "--samples", "1")
    flat = " ".join(out.split())
    assert code == 0, out
    up_front = flat.find("cannot find `unstable` bugs")
    assert 0 <= up_front < flat.find("run run-"), flat  # before the run's own report
    assert "not looked for: unstable bugs (needs --samples 2 or more" in flat

    res = CliRunner().invoke(app, ["analyze", "latest", "--db", str(tmp_path / "a.db"), "--json"])
    doc = json.loads(res.stdout.splitlines()[-1])
    assert set(doc["out_of_reach"]) == {"unstable"}
    res = CliRunner().invoke(app, ["analyze", "latest", "--db", str(tmp_path / "a.db")])
    assert "not looked for: unstable" in " ".join(res.output.split())


def test_two_samples_say_nothing(suite: str, fake_server: FakeServer, tmp_path: Path) -> None:
    code, out = _check(suite, fake_server, tmp_path / "b.db", "--samples", "2")
    assert code == 0, out
    assert "unstable" not in out and "not looked for" not in out
    res = CliRunner().invoke(app, ["check", suite, "--base-url", fake_server.base_url, "--model",
                                   "m", "--db", str(tmp_path / "b.db"), "--samples", "2", "--json"])
    assert json.loads(res.stdout.splitlines()[-1])["out_of_reach"] == {}


def test_run_says_it_up_front_too(suite: str, fake_server: FakeServer, tmp_path: Path) -> None:
    args = ["run", suite, "--base-url", fake_server.base_url, "--model", "m", "--db",
            str(tmp_path / "c.db")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and "cannot find `unstable` bugs" in " ".join(res.output.split())
    res = CliRunner().invoke(app, [*args, "--samples", "2"])
    assert res.exit_code == 0 and "unstable" not in res.output
