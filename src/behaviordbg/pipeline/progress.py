"""Where progress goes: a rich bar in the CLI, a line now and then in pytest, nothing with --json."""

from __future__ import annotations

from typing import Protocol


class ProgressSink(Protocol):
    """Told how much work a stage has, as it advances, and when it is done."""

    def start(self, total: int, done: int = 0) -> None: ...

    def advance(self, n: int = 1, *, errors: int = 0) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    """The silent sink (used with --json and in libraries)."""

    def start(self, total: int, done: int = 0) -> None:
        pass

    def advance(self, n: int = 1, *, errors: int = 0) -> None:
        pass

    def finish(self) -> None:
        pass
