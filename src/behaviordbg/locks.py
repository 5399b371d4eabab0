"""One process at a time per run: a lock file per run next to the database.

Two `behaviordbg run --resume` of one run at once would each ask what has no answer yet, and so
send (and pay for) about twice the requests. The lock is an `flock` on `<db>.locks/<run id>.lock`:
the kernel drops it when its holder exits in any way (kill -9 included), so a crashed run never
needs cleaning up by hand. The file names the holder (pid, host, start time) for the message.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import BehaviordbgError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs are not locked there
    fcntl = None  # type: ignore[assignment]


class RunLocked(BehaviordbgError):
    """Another process is running (or resuming) this run right now."""


def lock_path(db: str, run_id: str) -> Path:
    p = Path(db)
    return p.with_name(p.name + ".locks") / f"{run_id}.lock"


@contextlib.contextmanager
def run_lock(db: str, run_id: str) -> Iterator[None]:
    """Hold the run's lock for the block, or raise RunLocked at once (never waits)."""
    if fcntl is None or db == ":memory:" or db.startswith("file:"):
        yield
        return
    path = lock_path(db, run_id)
    try:
        path.parent.mkdir(exist_ok=True)
    except OSError:  # a folder we cannot write to: the database cannot be written either
        yield
        return
    for _ in range(10):  # a holder may delete the file between our open and flock: retry
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise RunLocked(
                f"run {run_id} is being run right now by another behaviordbg process"
                f" ({holder}); a second one would ask the same queries again",
                hint="wait for it to finish (see `behaviordbg runs`), or stop that process;"
                " then resume again",
            ) from None
        try:
            same = os.fstat(fd).st_ino == path.stat().st_ino
        except OSError:
            same = False
        if same:
            break
        os.close(fd)
    else:  # pragma: no cover - ten lost races in a row
        raise RunLocked(f"could not lock run {run_id}", hint="retry")
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # while still holding it: a waiter that opened it retries (inode check)
        os.close(fd)
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only when no other run holds a lock


def _holder(fd: int) -> str:
    try:
        doc = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {doc['pid']} on {doc['host']}, since {doc['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"
