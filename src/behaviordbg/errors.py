"""Errors a person can act on. Each says what went wrong, where, and how to fix it.

The CLI turns any `BehaviordbgError` into a one-screen message and exit code 2 (no traceback).
"""

from __future__ import annotations


class BehaviordbgError(Exception):
    """Base class: `str(err)` is the message, `hint` the fix."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class SuiteError(BehaviordbgError):
    """A probe suite or manifest is invalid. Carries file and line for editors and CI."""

    def __init__(self, path: str, line: int | None, message: str, hint: str = "") -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}", hint)
        self.path = path
        self.line = line


class SuiteErrors(SuiteError):
    """Every problem in a set of suite/manifest files, so one run of the loader shows them all.

    A SuiteError itself (path/line of the first problem), so `except SuiteError` catches both.
    """

    def __init__(self, errors: list[SuiteError]) -> None:
        self.errors = list(errors)
        first = self.errors[0] if self.errors else None
        n = len(self.errors)
        head = f"{n} problem{'s' if n != 1 else ''} in probe suite files:"
        body = "\n".join(str(e) for e in self.errors)
        hint = "fix each line above, then re-check: behaviordbg suites validate"
        BehaviordbgError.__init__(self, f"{head}\n{body}", hint)
        self.path = first.path if first else ""
        self.line = first.line if first else None


class EndpointAuthError(BehaviordbgError):
    """401/403 from the model endpoint: retrying cannot help, so the run stops at once."""


class LocalModelError(BehaviordbgError):
    """The embedded local model could not be built, verified or started."""
