#!/usr/bin/env bash
# Builds and starts Area. With no arguments it shows who is logged in and what to do next;
# any arguments are passed to the `area` command, e.g. `scripts/run.sh user add me@example.com`.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/setup.sh"
cargo build --release --locked -p area-cli
if [ $# -eq 0 ]; then
  exec ./target/release/area --help
fi
exec ./target/release/area "$@"
