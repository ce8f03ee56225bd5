#!/usr/bin/env bash
# The browser end-to-end suite: the real `area serve` driven through Debian's Chromium and
# chromedriver (headless; no display needed).
#
# Usage: bash e2e/browser/run.sh [test files...]      (default: e2e/browser/*.test.mjs)
# It does NOT build Area: build the UI, then the `area` binary, first (`npm run build`, then
# `cargo build -p area-cli`), so the binary embeds the web app. The test command does both.
#
# Environment: AREA_BIN (default ${CARGO_TARGET_DIR:-target}/debug/area), CHROMIUM
# (/usr/bin/chromium), CHROMEDRIVER (/usr/bin/chromedriver), E2E_KEEP=1 keeps temp dirs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
e2e="$(cd "$here/.." && pwd)"
cd "$e2e/.."
command -v "${CHROMIUM:-chromium}" >/dev/null || { echo "e2e: chromium not found: sudo apt-get install -y chromium chromium-driver" >&2; exit 1; }
if [[ ! -d "$e2e/node_modules/webdriverio" || "$e2e/package-lock.json" -nt "$e2e/node_modules/.package-lock.json" ]]; then
  (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [[ $# -gt 0 ]]; then files=("$@"); else files=("$here"/*.test.mjs); fi
exec timeout --kill-after=10 "${E2E_TIMEOUT:-600}" node --test --test-concurrency=2 "${files[@]}"
