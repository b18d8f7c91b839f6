#!/usr/bin/env bash
# Debian's headless Chromium and its chromedriver, for the page's browser test
# (tests/api/test_page.py).
# Idempotent: does nothing when /usr/bin/chromium and /usr/bin/chromedriver are already there.
# Otherwise: apt-get update, then apt-get install chromium chromium-driver (through sudo when
# not root). Exits non-zero with a one-line message when it cannot.
set -uo pipefail

CHROMIUM=/usr/bin/chromium
DRIVER=/usr/bin/chromedriver

fail() { echo "install-browser: error: $*" >&2; exit 1; }

if [[ -x $CHROMIUM && -x $DRIVER ]]; then
    echo "install-browser: $CHROMIUM and $DRIVER already installed"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
    fail "no apt-get here; install Chromium at $CHROMIUM and chromedriver at $DRIVER yourself"

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo -n)  # -n: fail instead of waiting for a password nobody will type
else
    fail "not root and no sudo: run as root: apt-get install chromium chromium-driver"
fi

log=$(mktemp -t install-browser.XXXXXX.log)
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
last_error() { grep -E '^(E|W|Err):|sudo:' "$log" | tail -n 1; }

echo "install-browser: installing Debian's chromium and chromium-driver (apt-get, under a minute on a near mirror; log: $log)"
"${apt[@]}" update >"$log" 2>&1 ||
    fail "apt-get update failed: $(last_error) (full log: $log)"
"${apt[@]}" install -y --no-install-recommends chromium chromium-driver >>"$log" 2>&1 ||
    fail "apt-get install chromium chromium-driver failed: $(last_error) (full log: $log)"
[[ -x $CHROMIUM && -x $DRIVER ]] ||
    fail "apt-get finished but $CHROMIUM or $DRIVER is missing (full log: $log)"

echo "install-browser: $("$CHROMIUM" --version 2>/dev/null | head -n 1); $("$DRIVER" --version 2>/dev/null | head -n 1)"
rm -f "$log"
