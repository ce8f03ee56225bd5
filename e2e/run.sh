#!/usr/bin/env bash
# E2E suite: drives the real Area desktop binary through tauri-driver + WebKitWebDriver under Xvfb.
#
# Usage: bash e2e/run.sh [test files...]        (default: e2e/*.test.mjs)
# It does NOT build the app: build it first with the UI embedded, either as the test command does
# (`npm run build && cargo build -p area-app --features custom-protocol`) or with
# `npx tauri build --debug --no-bundle`. A binary built without `custom-protocol` loads the dev
# server URL and shows nothing.
#
# Environment:
#   APP_BIN            app binary (default ${CARGO_TARGET_DIR:-target}/debug/area-app)
#   TAURI_DRIVER       tauri-driver binary (default: PATH, then ~/.cargo/bin/tauri-driver)
#   E2E_TIMEOUT        global timeout in seconds (default 600)
#   E2E_KEEP=1         keep every test's temp dir (failed tests' dirs are always kept)
#   E2E_WDIO_LOG       webdriverio log level (default silent; errors still fail the tests)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

die() {
  echo "e2e: $*" >&2
  exit 1
}

# --- tools -----------------------------------------------------------------------------------
export PATH="$PATH:${HOME:-/root}/.cargo/bin"
tauri_driver="${TAURI_DRIVER:-$(command -v tauri-driver || true)}"
[[ -n "$tauri_driver" && -x "$tauri_driver" ]] ||
  die "tauri-driver not found: cargo install tauri-driver --version '^2' --locked (or set TAURI_DRIVER)"
export TAURI_DRIVER="$tauri_driver"
command -v WebKitWebDriver >/dev/null ||
  die "WebKitWebDriver not found: sudo apt-get install -y webkit2gtk-driver"
command -v xvfb-run >/dev/null || die "xvfb-run not found: sudo apt-get install -y xvfb"
command -v node >/dev/null || die "node not found (node 20+ needed)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 20)) || die "node $(node --version) is too old: node 20+ needed"

# --- npm packages ----------------------------------------------------------------------------
if [[ ! -d "$here/node_modules/webdriverio" || "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]]; then
  echo "e2e: npm ci" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- the app ---------------------------------------------------------------------------------
if [[ -n "${APP_BIN:-}" ]]; then
  app_bin="$APP_BIN"
else
  target="${CARGO_TARGET_DIR:-target}"
  [[ "$target" = /* ]] || target="$root/$target"
  app_bin="$target/debug/area-app"
fi
[[ -x "$app_bin" ]] ||
  die "app binary $app_bin not found: build it with \`npm run build && cargo build -p area-app --features custom-protocol\` (or set APP_BIN)"
export APP_BIN="$(cd "$(dirname "$app_bin")" && pwd)/$(basename "$app_bin")"

# --- run -------------------------------------------------------------------------------------
if (($# > 0)); then
  tests=("$@")
else
  tests=("$here"/*.test.mjs)
fi
timeout_secs="${E2E_TIMEOUT:-600}"
export NO_AT_BRIDGE=1

cmd=(xvfb-run -a -s "-screen 0 1280x800x24" node --test --test-concurrency=1 "${tests[@]}")

# A private D-Bus session: the app's single-instance lock and notifications must not touch the
# host session (and a desktop instance of Area must not swallow the test app). Its config has no
# service directories, so nothing gets D-Bus-activated (portals, at-spi) and left behind.
# Each test's temp dir (data dir, app.log, screen.png) goes under $scratch; a passed test removes
# its own, so after a failed or interrupted run what is left is what needs looking at.
scratch="$(mktemp -d "${TMPDIR:-/tmp}/area-e2e-run.XXXXXX")"
export E2E_TMPDIR="$scratch"
if command -v dbus-run-session >/dev/null && [[ -f /usr/share/dbus-1/session.conf ]]; then
  sed -e '/<servicedir>/d' -e '/<standard_session_servicedirs/d' /usr/share/dbus-1/session.conf >"$scratch/session.conf"
  cmd=(dbus-run-session --config-file="$scratch/session.conf" -- "${cmd[@]}")
elif command -v dbus-run-session >/dev/null; then
  cmd=(dbus-run-session -- "${cmd[@]}")
else
  echo "e2e: dbus-run-session not found; using the current D-Bus session (close any running Area app first)" >&2
fi

echo "e2e: $APP_BIN; ${#tests[@]} file(s); timeout ${timeout_secs}s" >&2
start=$(date +%s)
set +e
timeout --kill-after=20 "$timeout_secs" "${cmd[@]}"
rc=$?
set -e
echo "e2e: finished in $(($(date +%s) - start))s (exit $rc)" >&2
((rc != 124)) || echo "e2e: global timeout of ${timeout_secs}s reached" >&2
rm -f "$scratch/session.conf"
if ((rc == 0)) && [[ -z "${E2E_KEEP:-}" ]]; then
  rm -rf "$scratch"
else
  for log in "$scratch"/*/app.log; do
    [[ -f "$log" ]] || continue
    echo "----- last lines of $log -----" >&2
    tail -n 40 "$log" | sed 's/\x1b\[[0-9;]*m//g' >&2
  done
  echo "e2e: test dirs kept in $scratch (app.log, screen.png = X screenshot at failure, data/)" >&2
fi
exit $rc
