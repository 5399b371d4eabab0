"""Collection: each probe suite file becomes a File collector, each claim a collector with one
item per consistency check that can fail for it, and each rule one item."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .items import CheckItem
from .session import session_state

if TYPE_CHECKING:  # names only: nothing heavy is imported at run time
    from ..types import Claim, Manifest, Rule

SUITE_KEY = re.compile(r"^suite\s*:", re.MULTILINE)
CHECKS: tuple[str, ...] = ("stable", "paraphrase", "say_do", "manifest", "holds_ground",
                          "values")
"""Item names per claim; a bug of kind K fails the item `claim::KIND_TO_CHECK[K]` (session.py)."""


def _roots(config: pytest.Config) -> tuple[list[Path], list[Path]]:
    """(paths given on the command line, ini testpaths dirs) -- only explicit paths collect suites.

    A bare `pytest` (args from `testpaths` or the current dir) collects no suite, so a project's
    own YAML fixtures are never run as probes.
    """
    explicit: list[Path] = []
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        for arg in config.args:
            part = arg.split("::", 1)[0]
            if part and not part.startswith("-"):
                explicit.append((config.invocation_params.dir / part).resolve())
    testpaths = [(config.rootpath / p).resolve() for p in config.getini("testpaths")]
    return explicit, testpaths


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _wanted(config: pytest.Config, path: Path) -> bool:
    """Under an explicit path or a `bdbg_suites` ini path. Inside a `testpaths` dir (e.g. tests/),
    only when a path below that dir was named: `pytest tests/` must not run tests/data/*.yaml."""
    from .options import project_suites

    path = path.resolve()
    if any(_under(path, Path(p).resolve())
           for p in [*config.getini("bdbg_suites"), *project_suites(config)]):
        return True
    explicit, testpaths = _roots(config)
    for root in explicit:
        if not _under(path, root):
            continue
        # a testpaths dir holding this file, named itself or through an ancestor (`pytest .`)
        guarded = any(_under(path, t) and (root == t or not _under(root, t)) for t in testpaths)
        if not guarded:
            return True
    return False


def is_suite_file(path: Path) -> bool:
    """A top-level `suite:` key: manifests (`manifest:`) and data files are not probe suites."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            head = f.read(256 * 1024)
    except OSError:
        return False
    return bool(SUITE_KEY.search(head))


def collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A SuiteFile for a probe suite the user asked for; None for every other file."""
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    if not _wanted(parent.config, file_path) or not is_suite_file(file_path):
        return None
    return SuiteFile.from_parent(parent, path=file_path)


def _tag_marker(config: pytest.Config, tag: str) -> pytest.MarkDecorator:
    """A marker per claim tag (`-m memory`), registered on the fly so --strict-markers accepts it."""
    name = re.sub(r"\W", "_", tag.strip()) or "untagged"
    if name[0].isdigit():
        name = f"tag_{name}"
    known = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}
    if name not in known:
        config.addinivalue_line("markers", f"{name}: behaviordbg claim tag")
    marker: pytest.MarkDecorator = getattr(pytest.mark, name)
    return marker


def _literal_name(lit: Any) -> str:
    return lit.claim if lit.value else f"!{lit.claim}"


def _claim_lines(path: Path) -> dict[str, int]:
    """0-based line of each `- id: claim` so failures point the editor at the claim."""
    from ..suites.expand import claim_lines

    return {claim: line - 1 for claim, line in claim_lines(path).items()}


class SuiteFile(pytest.File):
    """One probe suite file: a claim collector per claim, plus a `rule` collector."""

    def collect(self) -> Iterator[pytest.Collector]:
        from ..errors import BehaviordbgError

        state = session_state(self.config)
        try:
            _ = state.settings  # bad option values are reported here, once per file, not as a crash
            suite = state.load(self.path)
            manifest = state.manifest()
        except (BehaviordbgError, pytest.UsageError) as err:
            raise self.CollectError(str(err)) from None
        self.add_marker(pytest.mark.bdbg)
        lines = _claim_lines(self.path)
        tags = {c.id: c.tags for c in suite.claims}
        for claim in suite.claims:
            node = ClaimNode.from_parent(self, name=claim.id, claim=claim, manifest=manifest,
                                         line=lines.get(claim.id, 0))
            for tag in claim.tags:
                node.add_marker(_tag_marker(self.config, tag))
            yield node
        if suite.rules:
            yield RuleGroup.from_parent(self, name="rule", rules=suite.rules, tags=tags)


class ClaimNode(pytest.Collector):
    """The checks that apply to one claim, given its prompts, the manifest and --bdbg-samples."""

    def __init__(self, *, claim: Claim, manifest: Manifest, line: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.claim = claim
        self.manifest = manifest
        self.line = line

    def collect(self) -> Iterator[CheckItem]:
        from ..suites.pushback import challenges_for

        c = self.claim
        run = session_state(self.config).settings.run
        samples = run.samples
        sayings = len(c.ask) + len(c.ask_negated)
        if c.is_open:  # answered with values: one check of its modes, one against the manifest
            applies = {"values": samples * len(c.ask_open) >= 2,
                       "manifest": c.id in self.manifest.claim_values}
        else:
            applies = {
                "stable": samples >= 2,  # one sample per prompt cannot disagree with itself
                "paraphrase": sayings >= 2,
                # also a fabricated action: a request answered as done without a tool call
                "say_do": len(c.act) >= 1 and (sayings >= 1 or bool(c.capability)),
                "manifest": self.manifest.truth_of(c) is not None,
                "holds_ground": bool(challenges_for(c, run.pushback)),  # pushback: does it cave?
            }
        for check in CHECKS:
            if applies.get(check):
                yield CheckItem.from_parent(self, name=check, check=check, claims=(c.id,),
                                            line=self.line)


class RuleGroup(pytest.Collector):
    """`rule::when=>then` items: one per implication the suite declares."""

    def __init__(self, *, rules: tuple[Rule, ...], tags: dict[str, tuple[str, ...]],
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.rules = rules
        self.tags = tags

    def collect(self) -> Iterator[CheckItem]:
        lines = _claim_lines(self.path)
        seen: set[str] = set()
        for rule in self.rules:
            name = f"{_literal_name(rule.when)}=>{_literal_name(rule.then)}"
            if name in seen:
                name = f"{name}[{rule.id}]"
            seen.add(name)
            claims = (rule.when.claim, rule.then.claim)
            item = CheckItem.from_parent(self, name=name, check="rule", claims=claims, rule=rule,
                                         line=lines.get(rule.when.claim, 0))
            item.extra_keyword_matches.add(rule.id)  # `-k rule-1a2b3c` selects it
            for tag in sorted({t for cid in claims for t in self.tags.get(cid, ())}):
                item.add_marker(_tag_marker(self.config, tag))
            yield item


