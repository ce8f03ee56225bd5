#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test Area — the CLI, the desktop
# app (Tauri 2: WebKitGTK 4.1 & co.) and its end-to-end tests (Xvfb, WebKitWebDriver,
# tauri-driver) — then the npm packages. Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v curl >/dev/null 2>&1 || need_apt+=(curl ca-certificates)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm) # the UI build and the OAuth2 test server
# Tauri 2's Linux prerequisites (v2.tauri.app/start/prerequisites, Debian), then what the E2E
# suite needs: a virtual X server, WebKit's WebDriver, xauth for xvfb-run, a D-Bus session.
tauri_pkgs=(libwebkit2gtk-4.1-dev build-essential curl wget file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev pkg-config xvfb webkit2gtk-driver xauth dbus-x11
  # The browser E2E suite drives `area serve` through Debian's Chromium and its WebDriver.
  chromium chromium-driver
  # The store's PostgreSQL tests start a throwaway cluster (scripts/pg-cluster.sh).
  postgresql
  # The device triggers' tests run mock NetworkManager/UPower/logind on a private dbus-daemon;
  # the E2E suite's mock notification service is Python on D-Bus.
  dbus python3-dbus python3-gi)
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${tauri_pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      case " ${need_apt[*]} " in *" $pkg "*) ;; *) need_apt+=("$pkg") ;; esac
    fi
  done
else
  echo "== not a Debian/Ubuntu system: install the Tauri 2 prerequisites yourself (${tauri_pkgs[*]})" >&2
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "== installing system packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "== installing the Rust toolchain (rustup)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

# tauri-driver: the WebDriver bridge between the E2E suite and the real app (wraps WebKitWebDriver).
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "== installing tauri-driver"
  cargo install tauri-driver --version '^2' --locked --quiet
fi

# npm packages (Vite, Svelte, the Tauri CLI; the E2E suite's WebdriverIO): `npm ci` when
# node_modules is missing or older than the lock file.
npm_ci_if_stale() {
  local dir="$1"
  [ -f "$dir/package.json" ] || return 0
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || { [ -f "$dir/package-lock.json" ] && [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; }; then
    echo "== npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci_if_stale .
npm_ci_if_stale e2e
