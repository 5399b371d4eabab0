#!/usr/bin/env bash
# Run every test, including the real local model (local_model) and the headless browser (browser).
# Does all of its own set-up: scripts/setup.sh, then Debian's chromium + chromedriver if missing.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/test_local.py -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if [ "${#need[@]}" -gt 0 ]; then
  printf '\033[1m[test]\033[0m apt-get install %s\n' "${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Lint and type-check first (settings in pyproject.toml): a type error fails fast, before the tests.
printf '\033[1m[test]\033[0m ruff check src/behaviordbg && mypy (strict)\n' >&2
.venv/bin/ruff check src/behaviordbg
.venv/bin/mypy

# No marker is deselected: a missing local model or browser fails, it does not skip silently.
# -ra lists every skip/xfail with its reason; pytest's exit 5 (nothing collected) fails too.
exec .venv/bin/pytest -ra "$@"
