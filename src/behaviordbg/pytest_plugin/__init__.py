"""pytest plugin: probe suites as tests, so a model change is gated in CI like a code change.

    pytest probes/                                   # the embedded local model
    pytest probes/ --bdbg-base-url http://host/v1 --bdbg-model NAME --bdbg-baseline RUN_ID

Each suite YAML becomes a File collector; each claim a collector with one item per consistency
check (`has_physical_body::say_do`), and each rule one item (`rule::can_lift=>has_physical_body`).
The model is queried once per session, concurrently, through `behaviordbg.pipeline` (the same engine,
cache and database as the CLI), on the first item's setup; items then only look up their bugs.

This package is imported in every pytest run of any project that has behaviordbg installed, so it
must cost nothing when no suite is collected: only stdlib, pytest and behaviordbg.config at module
level (in every module of it), behaviordbg's own stages imported inside the hooks, no network and
no files written unless a suite is selected.

The hooks are here; options.py (the options and their Settings), collect.py (suite files, claims,
rules), items.py (one check each), session.py (the one run and its outcome) and report.py (what a
failure and the summary say) do the work.
"""


from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .collect import collect_file
from .items import short_setup_error
from .options import add_options
from .report import terminal_summary
from .session import STATE, SessionState


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bdbg: a behaviordbg probe-suite check (pytest probes/)")
    config.stash[STATE] = SessionState(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    return collect_file(file_path, parent)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    short_setup_error(item, call, report)
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminal_summary(terminalreporter)
