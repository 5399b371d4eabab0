"""The first hour: --version, help without type noise, empty-state messages, and tables that a
CI log can read (one bug per line when stdout is not a terminal)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from behaviordbg import __version__
from behaviordbg.cli import app
from behaviordbg.store import Store
from seed import seed_demo_db

BOX = set("│┃━─┏┓┗┛┡┩╇╋┳┻├┤┼╭╮╰╯")
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update(extra)
    return env


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real entry point with stdout a pipe (not a terminal), as in a CI job."""
    return subprocess.run(
        [sys.executable, "-c", "from behaviordbg.cli import main; main()", *args],
        capture_output=True, text=True, timeout=120,
        env=_env(PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **env),
    )


def test_version_flag_and_subcommand() -> None:
    runner = CliRunner()
    for args in (["--version"], ["-V"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and res.stdout.strip() == f"behaviordbg {__version__}"
    res = runner.invoke(app, ["version"])
    assert res.exit_code == 0 and res.stdout.strip() == __version__
    assert "--version" in runner.invoke(app, ["--help"]).stdout


@pytest.mark.parametrize("command", ["run", "check", "bugs", "diff", "export", "analyze", "runs"])
def test_help_shows_no_type_noise(command: str) -> None:
    res = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "<bool>" not in out and "<str>" not in out and "<int" not in out, out
    rows = [line.strip("│ ").lstrip("* ").split() for line in out.splitlines()]
    lines = {row[0]: row for row in rows if len(row) > 2 and row[0].startswith("--")}
    assert "--json" in lines and lines["--json"][1] == "Quiet,"  # no placeholder, then the help
    assert lines["--db"][1] == "TEXT"  # an option with a value still says so
    if command in ("run", "check"):
        assert lines["--samples"][1] == "INTEGER"


def test_empty_database_says_what_to_run_first(tmp_path: Path) -> None:
    db = str(tmp_path / "empty.db")
    Store.open(db).close()
    runner = CliRunner()
    for args in (["bugs"], ["bugs", "abc"], ["export", "latest", "--format", "json", "--out",
                                             str(tmp_path / "x.json")], ["diff", "a", "b"]):
        res = runner.invoke(app, [*args, "--db", db])
        out = " ".join(res.output.split())
        assert res.exit_code == 2 and "no runs yet" in out, (args, out)
        assert "behaviordbg check" in out and "use `latest`" not in out, (args, out)
    res = runner.invoke(app, ["history", "abc", "--db", db])
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and "behaviordbg check" in out and "bugs latest" not in out
    res = runner.invoke(app, ["runs", "--db", db])
    out = " ".join(res.output.split())
    assert res.exit_code == 0 and "no runs yet" in out and "behaviordbg check" in out
    res = runner.invoke(app, ["bugs", "--db", str(tmp_path / "none.db")])
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and "behaviordbg check" in out
    assert not (tmp_path / "none.db").exists()


def test_unknown_run_in_a_database_with_runs_still_points_to_runs(tmp_path: Path) -> None:
    info = seed_demo_db(tmp_path / "s.db")
    res = CliRunner().invoke(app, ["bugs", "nosuchrun", "--db", info.path])
    assert res.exit_code == 2 and "behaviordbg runs" in " ".join(res.output.split())


def test_bugs_in_a_ci_log_are_one_line_each(tmp_path: Path) -> None:
    info = seed_demo_db(tmp_path / "s.db")
    listed = CliRunner().invoke(app, ["bugs", "--db", info.path, "--json"])
    bugs = [b for b in json.loads(listed.stdout.splitlines()[-1])["bugs"] if not b["candidate"]]
    res = _cli("bugs", "--db", info.path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert not BOX & set(res.stdout), res.stdout
    rows = [line for line in lines if len(line.split()) > 5 and len(line.split()[0]) == 16]
    assert len(rows) >= 5 and all(line.split()[1] in ("critical", "high", "medium", "low")
                                  for line in rows)
    # each row holds the whole title on its line: the title is the rest after the rate
    assert all(line.rstrip().split("  ")[-1].startswith("[") for line in rows), rows
    assert len(rows) == len(bugs) and {r.split()[0] for r in rows} == {b["fingerprint"] for b in bugs}


def test_bugs_use_the_width_columns_gives(tmp_path: Path) -> None:
    info = seed_demo_db(tmp_path / "s.db")
    res = _cli("bugs", "--db", info.path, COLUMNS="150")
    assert res.returncode == 0, res.stderr
    assert BOX & set(res.stdout)  # a table, as wide as COLUMNS says
    assert max(len(line) for line in res.stdout.splitlines()) <= 150
    assert max(len(line) for line in res.stdout.splitlines()) > 80


def test_errors_are_not_wrapped_in_a_ci_log(tmp_path: Path) -> None:
    db = str(tmp_path / "empty.db")
    Store.open(db).close()
    res = _cli("bugs", "--db", db)
    assert res.returncode == 2
    fix = [line for line in res.stderr.splitlines() if "fix:" in line]
    assert fix and "behaviordbg analyze latest" in fix[0]  # the whole hint on its one line
