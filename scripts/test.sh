#!/usr/bin/env bash
# Runs every check and test of Area. This is the README's test command and what CI runs.
# On a fresh Debian/Ubuntu machine it first installs what is missing (scripts/setup.sh).
#
# Order matters: the desktop and server crates embed ui/dist at compile time, so the UI is built before
# any cargo step; the Rust tests regenerate ui/src/bindings.ts, which must then be unchanged;
# the E2E suite drives the debug app binary that `cargo test` already built for the desktop
# crate's integration test, with the `custom-protocol` feature so it embeds ui/dist (what
# `tauri build --debug` adds).
#
# Clippy runs *inside* the test build: cargo compiles the workspace's own crates through
# clippy-driver (RUSTC_WORKSPACE_WRAPPER, the mechanism `cargo clippy` itself uses) and the
# dependencies through plain rustc. A separate `cargo clippy` would compile every dependency
# a second time in check mode (about 9 of the 30 minutes of a cold run on 2 cores). The lints
# and targets are the same as `cargo clippy --workspace --all-targets -- -D warnings`; a lint
# fails the build, so the step fails before any test runs.
set -euo pipefail
cd "$(dirname "$0")/.."

"$(dirname "$0")/setup.sh"
export PATH="$HOME/.cargo/bin:$PATH"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
start=$(date +%s)
step() { echo "== $* ($(( $(date +%s) - start )) s)"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "no dependency cycle among core's modules"
python3 scripts/module-cycles.py --check

step "UI: type check (svelte-check), component tests (vitest), build"
npm run --silent check
npm run --silent test:ui
npm run --silent build

step "npm ci for the OAuth2 and mail test servers"
npm ci --prefix tests/oauth-server --no-audit --no-fund --loglevel=error
npm ci --prefix tests/mail-server --no-audit --no-fund --loglevel=error

step "clippy -D warnings over every target of core, cli and the desktop app, while building them for the tests"
RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)"
export RUSTC_WORKSPACE_WRAPPER
# cargo-clippy passes the arguments after `--` to clippy-driver this way.
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
features=(--workspace --locked --features area-app/custom-protocol)
cargo test "${features[@]}" --no-run --benches  # the one target kind `cargo test` does not build
# The list of test binaries is kept: core's are run a second time on PostgreSQL below.
test_binaries=$(mktemp)
cargo test "${features[@]}" --no-run --message-format=json-render-diagnostics > "$test_binaries"

step "cargo test (core, cli, desktop app: config lint, bindings export)"
# One throwaway PostgreSQL for the store's PostgreSQL tests, unless one is named already.
if [ -z "${AREA_TEST_DATABASE_URL:-}" ]; then
  eval "$(scripts/pg-cluster.sh start)"
  trap 'scripts/pg-cluster.sh stop "$AREA_TEST_PG_DIR"' EXIT
fi
cargo test "${features[@]}"

unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS

step "the store and engine tests again, on PostgreSQL (the same test binaries)"
# Run directly, from core/ as cargo would: asking cargo for only these targets resolves the
# dependencies' features differently and rebuilds core.
core_binaries=$(python3 - "$test_binaries" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    m = json.loads(line)
    t = m.get("target", {})
    if m.get("reason") == "compiler-artifact" and t.get("kind") == ["test"] and m.get("executable") \
            and t.get("src_path", "").split("/")[-3:-1] == ["core", "tests"]:
        print(m["executable"])
PY
)
[ -n "$core_binaries" ] || { echo "no test binaries of core were built" >&2; exit 1; }
for binary in $core_binaries; do
  (cd core && AREA_TEST_BACKEND=postgres "$binary" -q)
done
rm -f "$test_binaries"

step "the generated TypeScript bindings are up to date"
if ! git diff --exit-code -- ui/src/bindings.ts; then
  echo "ui/src/bindings.ts is stale: run \`cargo test -p area-app export_bindings\` and commit it" >&2
  exit 1
fi

step "browser end-to-end tests: the real area serve in headless Chromium"
AREA_BIN="${CARGO_TARGET_DIR:-target}/debug/area" bash e2e/browser/run.sh

step "end-to-end tests: the real app under Xvfb through tauri-driver/WebKitWebDriver"
APP_BIN="${CARGO_TARGET_DIR:-target}/debug/area-app" bash e2e/run.sh

step "all checks passed"
