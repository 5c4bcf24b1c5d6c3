#!/bin/sh
# Install Debian's Chromium and its driver for the browser tests (tests/pages/test_browser.py),
# and curl for the README's walk-through test (tests/test_readme_walkthrough.py).
# Idempotent: does nothing when all are installed. Playwright is pointed at /usr/bin/chromium;
# never let a tool download its own browser.
set -eu
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
        && command -v curl >/dev/null 2>&1; then
    echo "chromium: $(chromium --version 2>/dev/null || echo installed); chromedriver installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver curl
chromium --version
