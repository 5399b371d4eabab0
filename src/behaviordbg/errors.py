"""Errors a person can act on. Each says what went wrong, where, and how to fix it.

The CLI turns any `BehaviordbgError` into a one-screen message and its `exit_code` (2 unless the
class says otherwise), never a traceback.
"""

from __future__ import annotations

# Exit codes of every command (documented in docs/cli.md). A CI job can trust them:
# 0 only when the command did what was asked and, for run/check, enough queries were answered.
EXIT_OK = 0
EXIT_BUGS = 1  # --fail-on: a bug at or above the severity was found (pytest: a check failed)
EXIT_USAGE = 2  # a known error: bad option, file, URL, database or endpoint setting; says the fix
EXIT_RUN_FAILED = 3  # run/check: more than --max-failed of the queries failed, or none answered
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT): the run is marked interrupted, resume is printed
EXIT_TERMINATED = 143  # SIGTERM: the same as Ctrl-C


class BehaviordbgError(Exception):
    """Base class: `str(err)` is the message, `hint` the fix, `exit_code` what the CLI exits with."""

    exit_code = EXIT_USAGE

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
    """The endpoint refuses every request alike (401/403; and 404, see EndpointNotFoundError):
    retrying cannot help, so the run stops at once."""


class EndpointNotFoundError(EndpointAuthError):
    """404 from the endpoint: the model name or the URL's path is wrong. A subclass of
    EndpointAuthError so every place that stops at once on a bad key stops on this too."""


class RunFailed(BehaviordbgError):
    """A run ended with more failed queries than --max-failed allows, or with no answer at all.

    Raised by `pipeline.check` instead of analysing such a run (its bugs would be a guess);
    `summary` is the run's RunSummary, `message`/`hint` the most common error and its fix."""

    exit_code = EXIT_RUN_FAILED

    def __init__(self, message: str, hint: str = "", summary: object = None) -> None:
        super().__init__(message, hint)
        self.summary = summary


class LocalModelError(BehaviordbgError):
    """The embedded local model could not be built, verified or started."""


class StoreError(BehaviordbgError):
    """A problem with the database a person can act on: an unusable file, a schema from a newer
    behaviordbg, an unknown bug. `str(err)` is the message, with the fix on a second line."""


class UnknownRunError(StoreError):
    """No run matches the id, prefix or `latest` given (or the prefix matches several). Every
    command and page that takes a run raises this one error for it."""
