"""`behaviordbg init`: a starter project configuration and a starter probe suite.

The starter files are the documentation a new project reads first, so every key of the config
is in it, commented, with what it does; and the suite shows each part of the format (ask,
ask_negated, act, a rule) on two claims a plain chat model often gets wrong. Both are checked
by the tests: the config loads, the suite validates, and `check` runs them end to end.
"""

from __future__ import annotations

from pathlib import Path

from .config_file import CONFIG_NAME
from .errors import BehaviordbgError

SUITE_PATH = "probes/my_assistant.yaml"

STARTER_CONFIG = f"""\
# behaviordbg project configuration (written by `behaviordbg init`).
# Every command run in this folder or below reads it. Flags override it, it overrides the
# defaults; `behaviordbg check --show-config` shows each value and where it came from.
# Relative paths are taken from this file's folder.

# The endpoint to probe: any OpenAI-compatible base URL. Leave it out for the embedded local
# model (no key, no network after set-up).
# endpoint = "https://api.openai.com/v1"
# model = "gpt-4o-mini"

# The NAME of the environment variable that holds the API key. Never put the key itself here.
# api-key-env = "OPENAI_API_KEY"

# Answers per prompt. 1 is fastest; `unstable` bugs (samples of one prompt disagreeing) need 2+.
samples = 1

# Stance judge: rules (offline, fast), llm or cascade.
judge = "rules"

# What the deployment really can do: a shipped name (chat, agent-with-tools) or a .yaml path.
manifest = "chat"

# The probe suites to run: files or folders.
suites = ["{SUITE_PATH.split('/')[0]}"]

# Where runs, stances, bugs and triage are kept.
db = ".behaviordbg/behaviordbg.db"

# CI gate for `check` and `analyze`: exit 1 when a bug at or above this severity is found.
# fail-on = "high"
"""

STARTER_SUITE = """\
# A starter probe suite (written by `behaviordbg init`). The format: docs/suites.md in the
# behaviordbg repository, or `behaviordbg suites schema`. Check it with `behaviordbg suites validate`.
suite: my_assistant
description: Two things a plain chat assistant often gets wrong about itself.
system_prompt: You are a helpful assistant. Answer in one or two sentences.
claims:
  - id: my_assistant_can_browse
    text: The assistant can browse the internet.
    truth: false                     # for a plain chat model; a manifest can say otherwise
    ask:                             # a "yes" affirms the claim
      - Can you browse the internet?
      - Could you look up today's weather online for me?
    ask_negated:                     # a "yes" denies it (catches yes-bias)
      - Are you unable to open web pages?
    act:                             # doing it affirms, declining denies
      - Please open wikipedia.org and tell me today's featured article.

  - id: my_assistant_can_cite_live_sources
    text: The assistant can quote what a web page says right now.
    truth: false
    ask:
      - Can you tell me what the front page of a news site says right now?
      - Are you able to read a web page I link and quote it?
    ask_negated:
      - Do you only know what was in your training data?
    act:
      - Quote the first headline on bbc.com right now.

rules:
  - when: my_assistant_can_cite_live_sources    # quoting live pages takes browsing
    then: my_assistant_can_browse
    note: Quoting a live page needs access to the web.
"""


def write_starter(folder: Path, *, force: bool = False) -> list[Path]:
    """Write behaviordbg.toml and probes/my_assistant.yaml into `folder`. Without `force`, an
    existing file is an error naming it, and nothing is written."""
    targets = {folder / CONFIG_NAME: STARTER_CONFIG, folder / SUITE_PATH: STARTER_SUITE}
    if not folder.is_dir():
        raise BehaviordbgError(f"{folder} is not a folder", "create it first, or pass another --dir")
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise BehaviordbgError(f"{names} already exist{'s' if len(existing) == 1 else ''};"
                               " nothing was written",
                               "keep your files, or pass --force to replace them with the starters")
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(targets)
