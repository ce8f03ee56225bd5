#!/usr/bin/env bash
# Runs every check and test of Area. This is the README's test command and what CI runs.
# On a fresh Debian/Ubuntu machine it first installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

"$(dirname "$0")/setup.sh"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
start=$(date +%s)
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== npm ci --prefix tests/oauth-server (the OAuth2 test server)"
npm ci --prefix tests/oauth-server --no-audit --no-fund
npm ci --prefix tests/mail-server --no-audit --no-fund
echo "== cargo test"
cargo test --workspace --locked
echo "== all checks passed in $(( $(date +%s) - start )) s"
