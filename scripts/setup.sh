#!/usr/bin/env bash
# Set up behaviordbg on Debian/Ubuntu (run as root, or with sudo available): Python venv, the
# package with its test extra, build tools, and the embedded local model (llama-server + Qwen GGUF).
# Idempotent: a second run on the same machine takes seconds (venv stamp + verified model cache).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {  # install the given Debian packages (only called with missing ones)
  [ "$#" -gt 0 ] || return 0
  command -v apt-get >/dev/null || { say "missing: $* (no apt-get here: install them yourself)"; exit 2; }
  if [ "$APT_UPDATED" = 0 ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Python >= 3.10 with venv support.
PY="${PYTHON:-python3}"
need=()
command -v "$PY" >/dev/null || need+=(python3 python3-venv)
if command -v "$PY" >/dev/null && ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then need+=(python3-venv); fi
apt_install "${need[@]+"${need[@]}"}"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { say "Python >= 3.10 needed (have $("$PY" -V))"; exit 2; }

# 2. The venv and the package (editable, with the test extra). Skipped when pyproject is unchanged.
if [ ! -x .venv/bin/python ]; then say "creating .venv"; "$PY" -m venv .venv; fi
stamp=".venv/.behaviordbg-setup-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ] || ! .venv/bin/python -c 'import behaviordbg' 2>/dev/null; then
  say "pip install -e .[test]"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
  rm -f .venv/.behaviordbg-setup-*; touch "$stamp"
fi

# 3. Build tools for llama-server (only what is missing).
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v c++ >/dev/null || command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || command -v ninja >/dev/null || need+=(make)
apt_install "${need[@]+"${need[@]}"}"

# 4. The embedded local model: built/downloaded once into ~/.cache/behaviordbg, verified every time.
say "behaviordbg local install (first time: ~8 min to build llama-server on 2 cores)"
.venv/bin/behaviordbg local install
