#!/usr/bin/env bash
# Builds and starts Area.
#   scripts/run.sh                 the desktop app (installs what is missing, builds with the UI
#                                  embedded, starts it); `scripts/run.sh app --release` for an
#                                  optimised build
#   scripts/run.sh daemon [...]    the headless engine (`area daemon`), as before
#   scripts/run.sh serve [...]     the Area server (`area serve`): builds the web app first so the
#                                  binary embeds it, e.g. `scripts/run.sh serve --listen 0.0.0.0:8080`
#   scripts/run.sh ARGS...         any other arguments go to the `area` command, e.g.
#                                  `scripts/run.sh user add me@example.com`; `scripts/run.sh cli`
#                                  shows its help
# AREA_DATA_DIR picks the data directory for both.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/setup.sh"
export PATH="$HOME/.cargo/bin:$PATH"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

case "${1:-app}" in
  app)
    profile=debug
    if [ "${2:-}" = "--release" ]; then profile=release; fi
    # `tauri build` (not `cargo build`) embeds ui/dist; a plain debug binary would point at the
    # Vite dev server instead. --no-bundle: no .deb/.rpm here (scripts/bundle.sh makes those).
    if [ "$profile" = release ]; then
      npx tauri build --no-bundle
    else
      npx tauri build --debug --no-bundle
    fi
    exec "$target_dir/$profile/area-app"
    ;;
  serve)
    npm run --silent build
    cargo build --release --locked -p area-cli
    exec "$target_dir/release/area" "$@"
    ;;
  cli)
    cargo build --release --locked -p area-cli
    exec "$target_dir/release/area" --help
    ;;
  *)
    cargo build --release --locked -p area-cli
    exec "$target_dir/release/area" "$@"
    ;;
esac
