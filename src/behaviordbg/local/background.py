"""A background server (`behaviordbg local start --background`): its pid file, found again by
later commands, and stopped by `behaviordbg local stop`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from .files import LocalServer, cache_dir

# --------------------------------------------------------------------------- background server


def pid_file() -> Path:
    return cache_dir() / "run" / "server.json"


def read_background() -> dict[str, Any] | None:
    """The background server's record, if its process is still a live llama-server."""
    path = pid_file()
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
        cmdline = Path(f"/proc/{int(rec['pid'])}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError):
        path.unlink(missing_ok=True)
        return None
    if b"llama-server" not in cmdline:  # pid reused by something else: never kill it
        path.unlink(missing_ok=True)
        return None
    return dict(rec)


def write_background(server: LocalServer) -> Path:
    path = pid_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**server.info, "base_url": server.base_url}, indent=2))
    os.replace(tmp, path)
    return path


def stop_background(timeout: float = 10.0) -> dict[str, Any] | None:
    """Stop the server started by `local start --background`; None when none is running."""
    rec = read_background()
    if rec is None:
        return None
    pid = int(rec["pid"])
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        if not Path(f"/proc/{pid}").exists():
            break
    pid_file().unlink(missing_ok=True)
    return rec
