#!/usr/bin/env bash
# Builds the release installers (.deb and .rpm; AppImage needs downloads from GitHub, so it is
# not made here) and prints their paths and sizes. Each package carries the desktop app and the
# `area` command (installed as /usr/bin/area): the release CLI is staged in src-tauri/package/,
# where tauri.conf.json's `files` picks it up.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/setup.sh"
export PATH="$HOME/.cargo/bin:$PATH"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked -q -p area-cli
mkdir -p src-tauri/package
install -m 0755 "$target_dir/release/area" src-tauri/package/area
npx tauri build --bundles deb,rpm
found=0
while IFS= read -r f; do
  printf '%s\t%s bytes\n' "$f" "$(stat -c %s "$f")"
  found=1
done < <(find "$target_dir/release/bundle/deb" "$target_dir/release/bundle/rpm" \
  \( -name '*.deb' -o -name '*.rpm' \) 2>/dev/null | sort)
if [ "$found" -eq 0 ]; then
  echo "no .deb/.rpm was produced under $target_dir/release/bundle" >&2
  exit 1
fi
