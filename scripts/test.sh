#!/usr/bin/env bash
# Runs every check and test of Area. This is the README's test command and what CI runs.
# On a fresh Debian/Ubuntu machine it first installs what is missing (scripts/setup.sh).
#
# Order matters: the desktop crate embeds ui/dist at compile time, so the UI is built before
# any cargo step; the Rust tests regenerate ui/src/bindings.ts, which must then be unchanged;
# the E2E suite drives the debug app binary that `cargo test` already built for the desktop
# crate's integration test, with the `custom-protocol` feature so it embeds ui/dist (what
# `tauri build --debug` adds). Clippy and the tests use the same features, so no dependency is
# compiled twice for the same profile.
set -euo pipefail
cd "$(dirname "$0")/.."

"$(dirname "$0")/setup.sh"
export PATH="$HOME/.cargo/bin:$PATH"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
start=$(date +%s)
step() { echo "== $* ($(( $(date +%s) - start )) s)"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "UI: type check (svelte-check), component tests (vitest), build"
npm run --silent check
npm run --silent test:ui
npm run --silent build

step "cargo clippy --all-targets -- -D warnings (core, cli, desktop app)"
cargo clippy --workspace --all-targets --locked --features area-app/custom-protocol -- -D warnings

step "npm ci for the OAuth2 and mail test servers"
npm ci --prefix tests/oauth-server --no-audit --no-fund --loglevel=error
npm ci --prefix tests/mail-server --no-audit --no-fund --loglevel=error

step "cargo test (core, cli, desktop app: config lint, bindings export)"
cargo test --workspace --locked --features area-app/custom-protocol

step "the generated TypeScript bindings are up to date"
if ! git diff --exit-code -- ui/src/bindings.ts; then
  echo "ui/src/bindings.ts is stale: run \`cargo test -p area-app export_bindings\` and commit it" >&2
  exit 1
fi

step "end-to-end tests: the real app under Xvfb through tauri-driver/WebKitWebDriver"
APP_BIN="${CARGO_TARGET_DIR:-target}/debug/area-app" bash e2e/run.sh

step "all checks passed"
