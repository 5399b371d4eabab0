"""The plugin's options: `--bdbg-NAME` on the command line, `bdbg_NAME` in the ini file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

from ..config import DB_ENV, DEFAULT_DB, AnalyzeOptions, RunOptions, resolve_db

_OPTIONS: tuple[tuple[str, str, str], ...] = (
    # (name, metavar, help) -- each is `--bdbg-NAME` and ini key `bdbg_NAME`
    ("base_url", "URL", "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1. "
                        "Default: the embedded local model."),
    ("model", "NAME", "model name sent to the endpoint."),
    ("api_key_env", "VAR", "environment variable holding the API key (never stored). "
                           f"Default: {RunOptions.api_key_env}."),
    ("samples", "N", f"samples per prompt (default {RunOptions.samples}); >= 2 adds the `stable` "
                     "check per claim."),
    ("temperature", "T", f"sampling temperature (default {RunOptions.temperature:g})."),
    ("concurrency", "N", f"requests in flight at once (default {RunOptions.concurrency}; 2 suits "
                         "the embedded model)."),
    ("timeout", "SECONDS", f"per-request timeout (default {RunOptions.timeout:g}; raise it on a "
                           "slow or busy machine)."),
    ("max_failed", "SHARE", "every check errors when more than this share of the queries fail "
                            "(default 5%; e.g. 0.2 or 20%), or when none is answered, as "
                            "`behaviordbg check --max-failed` exits 3."),
    ("judge", "KIND", "stance judge: rules (default, offline) | llm | cascade."),
    ("judge_base_url", "URL", "endpoint of the llm/cascade judge. Default: the embedded model."),
    ("judge_model", "NAME", "model of the llm/cascade judge."),
    ("manifest", "PATH", "deployment manifest (what the model under test can really do); a path "
                         "or a shipped name (chat, agent-with-tools). Default: plain chat model."),
    ("db", "PATH", f"SQLite database shared with the CLI. Default: ${DB_ENV}, else {DEFAULT_DB}."),
    ("baseline", "RUN_ID", "regression gate: fail only on bugs this baseline run did not have; "
                           "known bugs are reported as xfail."),
    ("include_candidates", "yes|no", "also fail on candidates: contradictions held back because a "
                                     "side rests on weak verdicts (default no)."),
    ("prompted_baseline", "yes|no", "also probe with the deployment's system prompt (made from the "
                                    "manifest) and say in each failure whether the prompt fixes "
                                    "the bug (default no; use --bdbg-samples 5 or more)."),
)



def add_options(parser: pytest.Parser) -> None:
    """Every `--bdbg-*` option and its `bdbg_*` ini key."""
    group = parser.getgroup("behaviordbg", "behaviordbg probe suites (pytest probes/)")
    for name, metavar, text in _OPTIONS:
        group.addoption(f"--bdbg-{name.replace('_', '-')}", dest=f"bdbg_{name}", default=None,
                        metavar=metavar, help=text)
        parser.addini(f"bdbg_{name}", f"default for --bdbg-{name.replace('_', '-')}",
                      default="")
    parser.addini("bdbg_suites", "probe suite files or folders collected even when not given on "
                                 "the command line (relative to the ini file)", type="paths",
                  default=[])


def _opt(config: pytest.Config, name: str) -> str | None:
    """Command line first, then the ini key; blank counts as unset."""
    value = config.getoption(f"bdbg_{name}", None)
    if value is None or str(value).strip() == "":
        value = config.getini(f"bdbg_{name}")
    text = str(value or "").strip()
    return text or None


def _num(config: pytest.Config, name: str, kind: type, default: Any) -> Any:
    raw = _opt(config, name)
    if raw is None:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise pytest.UsageError(
            f"--bdbg-{name.replace('_', '-')}={raw!r} (or ini bdbg_{name}) is not a number\n"
            f"  fix: pass e.g. --bdbg-{name.replace('_', '-')}={default}"
        ) from None


def _max_failed(config: pytest.Config) -> float:
    from ..config import parse_max_failed
    from ..errors import BehaviordbgError

    try:
        return parse_max_failed(_opt(config, "max_failed"))
    except BehaviordbgError as err:
        raise pytest.UsageError(f"--bdbg-max-failed (or ini bdbg_max_failed): {err}") from None


@dataclass
class Settings:
    """Every plugin option, resolved once (command line over ini over environment) into the
    configuration the CLI uses too (behaviordbg.config), plus what only the plugin has."""

    run: RunOptions  # the suites, claims and label are the session's, set when it runs
    analyze: AnalyzeOptions
    db: str
    baseline: str | None = None
    include_candidates: bool = False
    prompted_baseline: bool = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        from ..errors import BehaviordbgError

        samples = _num(config, "samples", int, RunOptions.samples)
        if samples < 1:
            raise pytest.UsageError("--bdbg-samples must be >= 1")
        db = resolve_db(_opt(config, "db"))
        if db != ":memory:" and not os.path.isabs(db):
            db = str(config.invocation_params.dir / db)
        run = RunOptions(
            base_url=_opt(config, "base_url"),
            model=_opt(config, "model"),
            api_key_env=_opt(config, "api_key_env") or RunOptions.api_key_env,
            samples=samples,
            temperature=_num(config, "temperature", float, RunOptions.temperature),
            concurrency=max(1, _num(config, "concurrency", int, RunOptions.concurrency)),
            timeout=_num(config, "timeout", float, RunOptions.timeout),
            max_failed=_max_failed(config),
            manifest_path=_opt(config, "manifest"),
            label="pytest",
        )
        try:
            analyze = AnalyzeOptions(
                judge=_opt(config, "judge") or AnalyzeOptions.judge,
                judge_base_url=_opt(config, "judge_base_url"),
                judge_model=_opt(config, "judge_model"),
            )
        except BehaviordbgError as err:
            raise pytest.UsageError(f"--bdbg-judge / --bdbg-judge-base-url: {err}") from None
        return cls(
            run=run, analyze=analyze, db=db, baseline=_opt(config, "baseline"),
            include_candidates=(_opt(config, "include_candidates") or "no").lower()
            in ("1", "yes", "true", "on"),
            prompted_baseline=(_opt(config, "prompted_baseline") or "no").lower()
            in ("1", "yes", "true", "on"),
        )
