"""The items: one consistency check each, which passes, fails with its bugs (shown in full, in the
terminal and in --junitxml), or xfails when every bug it found is known."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _pytest._code.code import ReprFileLocation, TerminalRepr  # already loaded by pytest itself

from .report import headline, render_failure
from .session import ProbeRunError, session_state

if TYPE_CHECKING:
    from ..types import Rule


class BugsFound(Exception):
    """An item's check found contradictions; the text is the whole, readable report."""

    def __init__(self, text: str, headline: str) -> None:
        super().__init__(headline)
        self.text = text
        self.headline = headline


class CheckItem(pytest.Item):
    """One consistency check; passes, fails with its bugs, or xfails when all are known."""

    def __init__(self, *, check: str, claims: tuple[str, ...], line: int,
                 rule: Rule | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.check = check
        self.claims = claims
        self.rule = rule
        self.line = line
        self.extra_keyword_matches.add(check)
        if self.config.pluginmanager.hasplugin("timeout"):
            # the first check's setup runs the whole session's probing (minutes on a local
            # model); the engine has its own per-request timeouts, so pytest-timeout's per-test
            # limit would only kill a healthy run
            self.add_marker(pytest.mark.timeout(0))

    def setup(self) -> None:
        selected = [i for i in self.session.items if isinstance(i, CheckItem)]
        session_state(self.config).ensure(selected)

    def runtest(self) -> None:
        outcome = session_state(self.config).outcome
        assert outcome is not None, "setup() runs the probes first"
        missing = [c for c in self.claims if outcome.answers.get(c, 0) == 0]
        if missing:
            raise ProbeRunError(
                f"no answers for claim(s) {', '.join(missing)} in run {outcome.run_id}: every "
                f"query failed or was filtered out.\n  fix: see the errors with `behaviordbg runs` "
                f"and rerun (answers already stored are reused)"
            )
        bugs = outcome.bugs_for(self)
        for bug in bugs:
            self.user_properties.append(("fingerprint", bug.fingerprint))
            self.user_properties.append(("kind", bug.kind))
        if not bugs:
            return
        new = [b for b in bugs if outcome.why_known(b) is None]
        if not new:
            reasons = "; ".join(f"{b.fingerprint} {outcome.why_known(b)}" for b in bugs)
            pytest.xfail(f"known bug(s): {reasons}")
        text = render_failure(new, [b for b in bugs if b not in new], outcome)
        raise BugsFound(text, headline(new))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        if isinstance(excinfo.value, BugsFound):
            return _TextRepr(excinfo.value.text, excinfo.value.headline, str(self.path),
                             self.line + 1)
        if isinstance(excinfo.value, ProbeRunError):
            return self.short_repr(str(excinfo.value))
        return super().repr_failure(excinfo, style)

    def short_repr(self, text: str) -> _TextRepr:
        return _TextRepr(text, text.splitlines()[0], str(self.path), self.line + 1)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.line, "::".join(self.nodeid.split("::")[1:])


def short_setup_error(item: pytest.Item, call: pytest.CallInfo[None], report: Any) -> None:
    """A failed run errors each item at setup with its plain message, not a plugin traceback."""
    if (isinstance(item, CheckItem) and call.when == "setup" and call.excinfo is not None
            and isinstance(call.excinfo.value, ProbeRunError)):
        report.longrepr = item.short_repr(str(call.excinfo.value))


class _TextRepr(TerminalRepr):
    """Plain text for the terminal and JUnit, with a one-line `reprcrash` for the short summary."""

    def __init__(self, text: str, headline: str, path: str, lineno: int) -> None:
        self.text = text
        self.reprcrash = ReprFileLocation(path, lineno, headline)

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)
