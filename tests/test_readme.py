"""The README's quick start and the docs it points to stay true: the two commands first, then the
endpoint line, the dashboard, the report and the pytest plugin; every relative link (and #anchor)
resolves; every `behaviordbg ...` command quoted names a real command and only its real options."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from behaviordbg.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", text))


def test_quick_start_starts_with_the_two_commands_then_the_one_liners() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    first = FENCE.search(quick)
    assert first is not None and quick[: first.start()].strip() == ""  # the commands come first
    commands = [ln for ln in first.group(1).splitlines() if ln.strip() and not ln.startswith("#")]
    assert commands == ["bash scripts/setup.sh && .venv/bin/behaviordbg check", "bash scripts/test.sh"]
    assert (ROOT / "scripts" / "setup.sh").is_file() and (ROOT / "scripts" / "test.sh").is_file()
    rest = quick[first.end():]
    endpoint = rest.index("Already have an endpoint?")
    second = FENCE.search(rest)
    assert second is not None and second.start() > endpoint
    assert rest[:endpoint].strip("* \n") == ""  # right after the two commands
    line = second.group(1).strip()
    assert "\n" not in line and "check --base-url " in line
    after = rest[second.end():]
    bullets = [ln for ln in after.strip().splitlines()[:3]]
    assert all(ln.startswith("- ") for ln in bullets), bullets
    for bullet, needle in zip(bullets, ("behaviordbg dashboard", "behaviordbg report",
                                        "pytest probes/")):
        assert needle in bullet, (needle, bullet)


def _links() -> list[tuple[Path, str]]:
    out = []
    for doc in DOCS:
        text = FENCE.sub("", doc.read_text(encoding="utf-8"))
        out += [(doc, target) for target in re.findall(r"\]\(([^)\s]+)\)", text)]
    return out


@pytest.mark.parametrize(("doc", "target"), _links(),
                         ids=lambda v: v.name if isinstance(v, Path) else v)
def test_every_relative_link_resolves(doc: Path, target: str) -> None:
    if re.match(r"^[a-z]+://|^mailto:", target):
        return  # not a file of this repository
    path, _, anchor = target.partition("#")
    dest = (doc.parent / path).resolve() if path else doc
    assert dest.exists(), f"{doc.name}: {target} does not exist"
    assert ROOT in dest.parents or dest == ROOT, f"{doc.name}: {target} leaves the repository"
    if anchor:
        headings = re.findall(r"^#+ (.+)$", FENCE.sub("", dest.read_text(encoding="utf-8")), re.M)
        assert anchor in {_slug(h) for h in headings}, f"{doc.name}: no heading #{anchor} in {dest.name}"


def _quoted_commands() -> list[tuple[str, list[str]]]:
    """(doc, argv) for each `behaviordbg ...` in inline code or a fenced line of the README and
    the CLI and configuration docs."""
    out = []
    for name in ("README.md", "docs/cli.md", "docs/configuration.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        spans = re.findall(r"`([^`\n]+)`", FENCE.sub("", text))
        spans += [ln for block in FENCE.findall(text) for ln in block.splitlines()]
        for span in spans:
            m = re.search(r"(?:^|\s|/)behaviordbg ([a-z].*)$", span.split("#")[0].strip())
            if not m:
                continue
            rest = m.group(1)
            if "[" in rest or "|" in rest:  # a usage pattern: `run [SUITE_PATHS...] [--db PATH]`
                head = re.match(r"^([a-z][a-z-]*(?: [a-z][a-z-]*)?)", rest)
                words = head.group(1).split() if head else []
                out.append((name, [*words, *re.findall(r"--[a-z][a-z-]*", rest)]))
                continue
            argv = shlex.split(rest.split("&&")[0].split(">")[0])
            out.append((name, argv))
    return out


def test_quoted_commands_and_options_are_real() -> None:
    runner = CliRunner()
    quoted = _quoted_commands()
    assert len(quoted) > 30
    helps: dict[tuple[str, ...], str] = {}
    for doc, argv in quoted:
        words = [w for w in argv if not w.startswith("-")]
        path: tuple[str, ...] = ()
        for w in words[:2]:  # a command, or a group and its command (`local start`, `suites list`)
            res = runner.invoke(app, [*path, w, "--help"], env={"COLUMNS": "200"})
            if res.exit_code != 0:
                break
            path = (*path, w)
            helps[path] = res.stdout
        assert path, f"{doc}: `behaviordbg {' '.join(argv)}` names no command"
        for opt in (a.split("=")[0] for a in argv if a.startswith("--")):
            assert opt in helps[path], f"{doc}: `behaviordbg {' '.join(argv)}`: no option {opt}"
