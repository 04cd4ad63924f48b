#!/usr/bin/env bash
# Usage: scripts/ensure-browser.sh
#
# Make sure the browser tests (tests/e2e/test_web_*.py) have what they need, and say what was done:
#   - Chromium at /usr/bin/chromium (Debian's package; `playwright install` cannot download its own
#     browser here). Installed with apt-get when missing and we are root; otherwise only reported.
#   - axe-core 4 (accessibility rules) from the npm registry, into
#     ${PRAKERJA_CACHE:-$HOME/.cache/prakerja}/npm (outside the clone, reused by later runs).
# Idempotent and quick when both are there. Never fails the build: when something cannot be had
# it says so and the browser tests skip with that reason (CI sets PRAKERJA_REQUIRE_BROWSER=1 to
# make them fail instead).
set -uo pipefail

cache=${PRAKERJA_CACHE:-$HOME/.cache/prakerja}
chromium=${PRAKERJA_CHROMIUM:-/usr/bin/chromium}
axe_dir=$cache/npm
axe=$axe_dir/node_modules/axe-core/axe.min.js
say() { echo "ensure-browser: $*" >&2; }

mkdir -p "$cache"
if [ -x "$chromium" ]; then
    say "chromium present ($chromium)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing chromium with apt-get (once)"
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
        >"$cache/apt-chromium.log" 2>&1; then
        say "chromium installed: $("$chromium" --version 2>/dev/null | head -1)"
    else
        say "could not install chromium (see $cache/apt-chromium.log); browser tests will skip"
    fi
else
    say "no $chromium and not root (or no apt-get): install Debian's chromium package; browser tests will skip"
fi

if [ -f "$axe" ]; then
    say "axe-core present ($axe)"
elif command -v npm >/dev/null; then
    mkdir -p "$axe_dir"
    say "installing axe-core@4 from the npm registry into $axe_dir (once)"
    [ -f "$axe_dir/package.json" ] || echo '{"private": true}' >"$axe_dir/package.json"
    if npm install --prefix "$axe_dir" --no-audit --no-fund --silent axe-core@4 >"$axe_dir/install.log" 2>&1; then
        say "axe-core installed: $(node -p 'require(process.argv[1]).version' "$axe_dir/node_modules/axe-core/package.json" 2>/dev/null)"
    else
        say "could not install axe-core (see $axe_dir/install.log); the accessibility checks will skip"
    fi
else
    say "no npm: cannot fetch axe-core; the accessibility checks will skip"
fi
exit 0
