"""The project configuration file: `behaviordbg.toml`, or `[tool.behaviordbg]` in pyproject.toml.

A project keeps the flags it would repeat on every run (its endpoint, model, suites, database,
CI gate) in one file next to its code, found the way other tools find theirs: from the current
folder upwards, the first folder with a `behaviordbg.toml`, or with a pyproject.toml that has a
`[tool.behaviordbg]` table, wins (`behaviordbg.toml` first when a folder has both).
`$BEHAVIORDBG_CONFIG` names a file instead of searching.

This module only finds, reads and checks the file; `config.resolve_settings` layers it between the
flags and the defaults for every front end. Standard library only (tomllib, or tomli on Python
3.10, imported when a file is read): the pytest plugin reads it in projects that have no file.

The file never holds a secret: `api-key-env` is the NAME of the variable that holds the key, and a
value that looks like a key is refused without being printed.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BehaviordbgError

CONFIG_NAME = "behaviordbg.toml"
PYPROJECT = "pyproject.toml"
CONFIG_ENV = "BEHAVIORDBG_CONFIG"

# key -> what it holds (shown in errors and in `check --show-config`). The order is the file's.
KEYS: dict[str, str] = {
    "endpoint": "OpenAI-compatible base URL (--base-url); unset: the embedded local model",
    "model": "model id at that endpoint (--model)",
    "api-key-env": "NAME of the environment variable holding the API key (--api-key-env)",
    "samples": "answers per prompt, an integer >= 1 (--samples)",
    "judge": "stance judge: rules, llm or cascade (--judge)",
    "manifest": "deployment manifest: a .yaml path or a shipped name (--manifest)",
    "suites": "suite files or folders, a list of paths (the SUITE_PATHS arguments)",
    "db": "SQLite database path (--db)",
    "fail-on": "exit 1 on a bug at or above this severity: critical, high, medium, low (--fail-on)",
}
ALIASES = {"base-url": "endpoint"}  # the flag's name works in the file too
PATH_KEYS = ("db", "suites")  # relative paths are taken from the file's folder
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SEVERITIES = ("critical", "high", "medium", "low")  # types.SEVERITIES; not imported: kept cheap


class ConfigError(BehaviordbgError):
    """The configuration file is not valid: names the file (and line), the key and the fix."""


@dataclass(frozen=True)
class ProjectConfig:
    """The values a project file sets (canonical keys, checked, paths made absolute); `path` None
    when no file was found."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return f"file {self.path}" if self.path else "no file"


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli  # type: ignore[import-not-found,unused-ignore]  # the 3.10 backport (a dependency there)

    return tomli


def _has_tool_table(path: Path) -> bool:
    """Whether a pyproject.toml has a [tool.behaviordbg] table (a cheap text test first)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r"^\s*\[\s*tool\s*\.\s*behaviordbg\s*[\].]", text, re.MULTILINE) is not None


def find_config(start: Path | str | None = None) -> Path | None:
    """The project file that applies in `start` (default: the current folder): $BEHAVIORDBG_CONFIG,
    else the nearest behaviordbg.toml or pyproject.toml with [tool.behaviordbg] upwards."""
    named = os.environ.get(CONFIG_ENV, "").strip()
    if named:
        p = Path(named).expanduser()
        if not p.is_file():
            raise ConfigError(f"${CONFIG_ENV} names {named}, which is not a file",
                              f"point ${CONFIG_ENV} at a behaviordbg.toml, or unset it")
        return p.resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / CONFIG_NAME
        if own.is_file():
            return own
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _line_of(text: str, key: str) -> int | None:
    """The line a key is set on (tomllib gives no positions): for errors that say where."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", re.MULTILINE)
    m = pattern.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _where(path: Path, text: str, key: str) -> str:
    line = _line_of(text, key)
    return f"{path}:{line}" if line else str(path)


def valid_keys() -> str:
    return ", ".join(KEYS) + " (base-url is another name for endpoint)"


def _check(path: Path, text: str, key: str, written: str, value: Any) -> Any:
    """`value` checked for `key` (canonical; `written` as the file spells it), or a ConfigError
    naming the file, the line and the fix."""
    where = _where(path, text, written)

    def bad(what: str, fix: str) -> ConfigError:
        return ConfigError(f"{where}: `{written}` {what}", fix)

    if key in ("endpoint", "model", "manifest", "db", "judge"):
        if not isinstance(value, str) or not value.strip():
            raise bad("must be a non-empty string", f"e.g. {key} = \"...\"; {KEYS[key]}")
        value = value.strip()
        if key == "endpoint":
            from .urls import check_base_url

            try:
                check_base_url(value, f"endpoint in {path}")
            except BehaviordbgError as err:
                raise ConfigError(f"{where}: {err.message}", err.hint) from None
        return value
    if key == "api-key-env":
        # never echo the value: a key pasted here must not reach a log
        if not isinstance(value, str) or not _ENV_NAME.match(value.strip()):
            raise bad("must be the NAME of an environment variable (letters, digits, _), not"
                      " the key itself (the value is not shown)",
                      "write e.g. api-key-env = \"OPENAI_API_KEY\" and export the key in that"
                      " variable; if a key was pasted into this file, remove it and revoke it")
        return value.strip()
    if key == "samples":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad(f"must be an integer >= 1, not {value!r}", "e.g. samples = 3")
        return value
    if key == "fail-on":
        if value not in _SEVERITIES:
            raise bad(f"must be a severity, not {value!r}",
                      f"use one of: {', '.join(_SEVERITIES)}")
        return value
    if key == "suites":
        items = [value] if isinstance(value, str) else value
        if (not isinstance(items, list) or not items
                or not all(isinstance(s, str) and s.strip() for s in items)):
            raise bad("must be a list of paths", 'e.g. suites = ["probes"]')
        return [s.strip() for s in items]
    raise AssertionError(key)  # KEYS and _check go together


def _absolute(base: Path, key: str, value: Any) -> Any:
    """Paths in the file are relative to its folder, wherever the command runs."""
    def one(v: str) -> str:
        p = Path(v).expanduser()
        return v if v == ":memory:" or p.is_absolute() else str(base / p)

    if key == "suites":
        return [one(v) for v in value]
    if key == "db":
        return one(value)
    if key == "manifest" and ("/" in value or os.sep in value or value.endswith((".yaml", ".yml"))):
        return one(value)  # a path; a bare name (chat) is a shipped manifest
    return value


def load_config(path: Path) -> ProjectConfig:
    """Read and check one file: an unknown key, a wrong type or TOML syntax is a ConfigError."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the configuration ({err.strerror})",
                          "check the file's permissions, or remove it") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text", "save the file as UTF-8") from None
    toml = _toml()
    try:
        doc = toml.loads(text)
    except toml.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}",
                          "fix the syntax at that line (strings need quotes: model = \"gpt-4o\")"
                          ) from None
    table = doc
    if path.name == PYPROJECT:
        table = doc.get("tool", {}).get("behaviordbg", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.behaviordbg] must be a table", "see behaviordbg init")
    values: dict[str, Any] = {}
    for written, value in table.items():
        name = written.replace("_", "-")
        key = ALIASES.get(name, name)
        if key not in KEYS:
            if name in ("api-key", "key", "openai-api-key", "token"):
                raise ConfigError(
                    f"{_where(path, text, written)}: `{written}` would put a secret in the file"
                    " (the value is not shown)",
                    "remove it (and revoke the key if it was real); set api-key-env to the NAME"
                    " of the environment variable that holds the key")
            import difflib

            close = difflib.get_close_matches(key, [*KEYS, *ALIASES], n=1)
            hint = (f"did you mean `{close[0]}`? " if close else "") + f"valid keys: {valid_keys()}"
            raise ConfigError(f"{_where(path, text, written)}: unknown key `{written}`", hint)
        if key in values:
            raise ConfigError(f"{_where(path, text, written)}: `{written}` sets {key} twice"
                              " (endpoint and base-url are one key)", "keep one of them")
        values[key] = _absolute(path.parent, key, _check(path, text, key, written, value))
    return ProjectConfig(path=path, values=values)


def project_config(start: Path | str | None = None) -> ProjectConfig:
    """The configuration that applies in `start` (default: the current folder); empty if none."""
    path = find_config(start)
    return load_config(path) if path is not None else ProjectConfig()
