#!/usr/bin/env bash
# Install what tests/test_browser_demo.py needs: Debian's Chromium at /usr/bin/chromium
# and the Python package playwright in .venv. Idempotent: does nothing when both are there.
# Browsers come from Debian only; `playwright install` (which downloads its own browser
# builds) is never run.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
# Used only when requirements-dev.txt does not pin playwright.
DEFAULT_PLAYWRIGHT_VERSION=1.65.2

if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends chromium fonts-dejavu-core
fi

if [ ! -x "$VENV/bin/python" ]; then
  make "$VENV/.installed-dev"
fi

if ! "$VENV/bin/python" -c "import playwright.sync_api" >/dev/null 2>&1; then
  pin=$(grep -E '^playwright==' requirements-dev.txt || true)
  pin=${pin:-playwright==$DEFAULT_PLAYWRIGHT_VERSION}
  echo "installing $pin into $VENV"
  "$VENV/bin/pip" install --quiet "$pin"
fi

/usr/bin/chromium --version
"$VENV/bin/python" -c "import importlib.metadata as m; print('playwright', m.version('playwright'))"
