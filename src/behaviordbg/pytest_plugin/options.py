"""The plugin's options: `--bdbg-NAME` on the command line, `bdbg_NAME` in the ini file, and the
project file the CLI reads too (behaviordbg.toml or [tool.behaviordbg] in pyproject.toml, found
from the directory pytest was started in): command line over ini over project file over the
defaults, layered by `config.resolve_settings` as for the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..config import DB_ENV, DEFAULT_DB, AnalyzeOptions, RunOptions

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
    ("db", "PATH", f"SQLite database shared with the CLI. Default: ${DB_ENV}, else `db` in "
                   f"behaviordbg.toml, else {DEFAULT_DB}."),
    ("baseline", "RUN_ID", "regression gate: fail only on bugs this baseline run did not have; "
                           "known bugs are reported as xfail."),
    ("include_candidates", "yes|no", "also fail on candidates: contradictions held back because a "
                                     "side rests on weak verdicts (default no)."),
    ("pushback", "yes|no", "challenge each first answer in the same conversation and add the "
                           "`holds_ground` check per claim (the `caves` kind): yes = the default "
                           "challenges for every claim that declares none, no = none at all. "
                           "Default: as the suites declare."),
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


def _given(config: pytest.Config, name: str) -> tuple[str, str] | None:
    """(value, where it was set): the command line first, then the ini key; blank is unset."""
    value = config.getoption(f"bdbg_{name}", None)
    if value is not None and str(value).strip():
        return str(value).strip(), f"flag --bdbg-{name.replace('_', '-')}"
    text = str(config.getini(f"bdbg_{name}") or "").strip()
    return (text, f"ini bdbg_{name}") if text else None


def _opt(config: pytest.Config, name: str) -> str | None:
    """Command line first, then the ini key; blank counts as unset."""
    given = _given(config, name)
    return given[0] if given else None


# project-file key -> plugin option name, for the settings both have
_FILE_KEYS = {"endpoint": "base_url", "model": "model", "api-key-env": "api_key_env",
              "samples": "samples", "judge": "judge", "manifest": "manifest", "db": "db"}
_PROJECT: pytest.StashKey[Any] = pytest.StashKey()


def project(config: pytest.Config) -> Any:
    """The project file's configuration (config_file.ProjectConfig), read once per session from
    the directory pytest was started in (the module is imported only when a YAML file is seen)."""
    if _PROJECT not in config.stash:
        from ..config_file import project_config

        config.stash[_PROJECT] = project_config(config.invocation_params.dir)
    return config.stash[_PROJECT]


def project_suites(config: pytest.Config) -> list[Path]:
    """`suites` of the project file: collected like the `bdbg_suites` ini paths. A broken file is
    reported once, by Settings, when a probe suite is collected."""
    from ..errors import BehaviordbgError

    try:
        return [Path(p) for p in project(config).values.get("suites") or []]
    except BehaviordbgError:
        return []


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


def _yes_no(config: pytest.Config, name: str) -> bool | None:
    """A yes/no option; None when unset."""
    raw = _opt(config, name)
    if raw is None:
        return None
    if raw.lower() in ("1", "yes", "true", "on"):
        return True
    if raw.lower() in ("0", "no", "false", "off"):
        return False
    flag = f"--bdbg-{name.replace('_', '-')}"
    raise pytest.UsageError(f"{flag}={raw!r} (or ini bdbg_{name}) is not yes or no\n"
                            f"  fix: pass {flag}=yes or {flag}=no")


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
        from ..config import resolve_settings
        from ..errors import BehaviordbgError

        given: dict[str, tuple[Any, str]] = {}
        for key, name in _FILE_KEYS.items():
            found = _given(config, name)
            if found is not None:
                given[key] = found
        if "samples" in given:
            given["samples"] = (_num(config, "samples", int, RunOptions.samples),
                                given["samples"][1])
        try:
            settings = resolve_settings(given, project(config))
        except BehaviordbgError as err:
            raise pytest.UsageError(str(err)) from None
        samples = settings["samples"].value
        if samples < 1:
            raise pytest.UsageError("--bdbg-samples must be >= 1")
        db = str(settings["db"].value)
        if db != ":memory:" and not os.path.isabs(db):
            db = str(config.invocation_params.dir / db)
        run = RunOptions(
            base_url=settings["endpoint"].value,
            model=settings["model"].value,
            api_key_env=settings["api-key-env"].value,
            samples=samples,
            temperature=_num(config, "temperature", float, RunOptions.temperature),
            concurrency=max(1, _num(config, "concurrency", int, RunOptions.concurrency)),
            timeout=_num(config, "timeout", float, RunOptions.timeout),
            max_failed=_max_failed(config),
            manifest_path=settings["manifest"].value,
            label="pytest",
            pushback=_yes_no(config, "pushback"),
        )
        try:
            analyze = AnalyzeOptions(
                judge=settings["judge"].value,
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
