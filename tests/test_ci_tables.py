"""runs, diff, history, stats and suites list in a CI log: when stdout is not a terminal, each
row is one line with no box drawing (grep sees it whole); with COLUMNS set, the table at that
width. Through the real entry point in a subprocess, stdout a pipe, as in a CI job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_newcomer import BOX, _cli
from typer.testing import CliRunner

from behaviordbg.cli import app
from behaviordbg.store import Store
from behaviordbg.triage import triage
from seed import seed_demo_db

PROBES = str(Path(__file__).resolve().parents[1] / "probes")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, tuple[str, str]]:
    info = seed_demo_db(tmp_path_factory.mktemp("ci") / "s.db")
    with Store.open(info.path) as store:  # a note over two lines, as a person may write one
        triage(store, info.hostile_fingerprint, status="confirmed",
               note="checked by hand\nthe judge was right", actor="ci")
    return info.path, info.hostile_fingerprint, info.runs


def _json(*args: str) -> dict:  # type: ignore[type-arg]
    res = CliRunner().invoke(app, [*args, "--json"])
    return json.loads(res.stdout.splitlines()[-1])


def _commands(db: tuple[str, str, tuple[str, str]]) -> dict[str, tuple[list[str], list[str]]]:
    """name -> (arguments, the values one of which each row must start with or hold)."""
    path, fp, (a, b) = db
    runs = [r["run_id"] for r in _json("runs", "--db", path)["runs"]]
    diff = _json("diff", a, b, "--db", path)
    changed = [c["fingerprint"] for g in ("new", "resolved", "not_reproduced", "changed",
                                          "persisting") for c in diff[g]]
    history = _json("history", fp, "--db", path)["history"]
    claims = [c["id"] for c in _json("suites", "list", PROBES)["claims"]]
    return {
        "runs": (["runs", "--db", path], runs),
        "diff": (["diff", a, b, "--db", path], changed),
        "history": (["history", fp, "--db", path], [str(h["at"])[:19].replace("T", " ")
                                                      for h in history]),
        "suites": (["suites", "list", PROBES], claims),
    }


@pytest.mark.parametrize("name", ["runs", "diff", "history", "suites"])
def test_one_row_per_line_in_a_ci_log(db: tuple[str, str, tuple[str, str]], name: str) -> None:
    args, keys = _commands(db)[name]
    res = _cli(*args)
    assert res.returncode == 0, res.stderr
    assert not BOX & set(res.stdout), res.stdout
    lines = res.stdout.splitlines()
    for key in keys:  # each row whole on one line: its id, and the rest of it beside
        rows = [line for line in lines if key in line.split("  ") or key in line.split()]
        assert rows, (key, res.stdout)
    assert keys
    if name == "history":  # a two-line note stays on its row
        assert any("checked by hand" in line and "the judge was right" in line for line in lines)


def test_stats_in_a_ci_log(db: tuple[str, str, tuple[str, str]]) -> None:
    res = _cli("stats", "--db", db[0])
    assert res.returncode == 0 and not BOX & set(res.stdout), res.stdout
    judges = [r["judge"] for r in _json("stats", "--db", db[0])["by_judge"]]
    assert judges and all(any(line.split()[0] == j for line in res.stdout.splitlines() if line)
                          for j in judges)


@pytest.mark.parametrize("name", ["runs", "diff"])
def test_columns_gives_the_table_at_that_width(db: tuple[str, str, tuple[str, str]],
                                               name: str) -> None:
    args, keys = _commands(db)[name]
    res = _cli(*args, COLUMNS="150")
    assert res.returncode == 0, res.stderr
    assert BOX & set(res.stdout)
    assert 80 < max(len(line) for line in res.stdout.splitlines()) <= 150
    assert all(k in res.stdout for k in keys)  # ids are never cut
