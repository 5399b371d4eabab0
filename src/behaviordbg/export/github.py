"""GitHub export: issue payloads for the REST create-issue endpoint; nothing is sent.

`render` gives a JSON list of {title, body, labels} for POST /repos/{owner}/{repo}/issues.
`write_gh_commands` writes each body to a file next to the output and a script of equivalent
`gh issue create` lines, every argument shell-quoted.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

from ..escape import safe_name, strip_controls
from .markdown import ticket

TITLE_LIMIT = 240  # GitHub allows 256
ANSWER_LIMIT = 2_000  # an answer or prompt in an issue body; the json export has the rest
BODY_LIMIT = 65_536  # GitHub refuses a longer issue body


def body(bug: dict[str, Any], run: dict[str, Any]) -> str:
    """The Markdown ticket as an issue body within BODY_LIMIT characters: answers clipped, then
    fewer answers shown (the rest counted), and only as a last resort the text cut."""
    text = ticket(bug, run, heading=False, answer_limit=ANSWER_LIMIT)
    shown = len(bug.get("evidence") or [])
    while len(text) > BODY_LIMIT and shown > 0:
        shown //= 2
        text = ticket(bug, run, heading=False, answer_limit=ANSWER_LIMIT, max_evidence=shown)
    if len(text) > BODY_LIMIT:
        tail = "\n\n[... cut to GitHub's size limit: see the json export]\n"
        text = text[: BODY_LIMIT - len(tail)] + tail
    return text


def issues(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """One issue payload per bug (body: the Markdown ticket, model output escaped)."""
    out = []
    for bug in payload["bugs"]:
        title = " ".join(strip_controls(f"[behaviordbg][{bug['severity']}] {bug['title']}").split())
        labels = ["behaviordbg", f"kind:{bug['kind']}", f"severity:{bug['severity']}",
                  *(bug.get("labels") or [])]
        if bug.get("regression"):
            labels.append("regression")
        if bug.get("prompting"):  # prompted baseline: fixed by a system prompt, or not
            labels.append(f"prompting:{bug['prompting']['verdict']}")
        out.append({
            "title": title[:TITLE_LIMIT],
            "body": body(bug, payload["run"]),
            "labels": list(dict.fromkeys(labels)),
        })
    return out


def render(payload: dict[str, Any]) -> str:
    return json.dumps(issues(payload), ensure_ascii=False, indent=2) + "\n"


def script_path(out: Path) -> Path:
    return out.with_name(out.stem + ".gh-commands.sh")


def body_dir_path(out: Path) -> Path:
    return out.with_name(out.stem + "-bodies")


def gh_paths(payload: dict[str, Any], out: Path) -> list[Path]:
    """Every path write_gh_commands writes: the bodies folder, each body, the script (so a
    caller can check them all before anything is written)."""
    body_dir = body_dir_path(out)
    return [body_dir, *(body_dir / f"{safe_name(b['fingerprint'])}.md" for b in payload["bugs"]),
            script_path(out)]


def write_gh_commands(payload: dict[str, Any], out: Path, *, no_symlinks: bool = False) -> Path:
    """Write bodies into `<out stem>-bodies/` and the `gh issue create` lines into a script.

    `no_symlinks` (with --base-dir): a body or the script that is a symbolic link is refused at
    the moment it is opened (O_NOFOLLOW), not followed out of the folder."""
    body_dir = body_dir_path(out)
    body_dir.mkdir(exist_ok=True)
    lines = ["#!/bin/sh", "# Review, then run to file these issues (set GH_REPO or add --repo).",
             "set -e"]
    for bug, issue in zip(payload["bugs"], issues(payload)):
        body = body_dir / f"{safe_name(bug['fingerprint'])}.md"
        _write(body, issue["body"], no_symlinks)
        cmd = ["gh", "issue", "create", "--title", issue["title"], "--body-file", str(body)]
        for label in issue["labels"]:
            cmd += ["--label", label]
        lines.append(" ".join(shlex.quote(a) for a in cmd))
    path = script_path(out)
    _write(path, "\n".join(lines) + "\n", no_symlinks)
    return path


def _write(path: Path, text: str, no_symlinks: bool) -> None:
    if not no_symlinks:
        path.write_text(text, encoding="utf-8")
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags, 0o644), "w", encoding="utf-8") as f:
        f.write(text)
