#!/usr/bin/env bash
# Installs the packages scripts/bundle.sh made and checks that they carry the whole product, by
# running what was installed under Xvfb with a private D-Bus session:
# - the installed `area --version` answers;
# - the installed app opens its window, starts the installed `area tray` beside it (the engine
#   and the tray icon), and closing the window ends the app's process while the tray's engine
#   stays;
# - the login item `area autostart on` writes starts the engine when run as a session would;
# - `area-app --background` (the login item the app's switch writes) becomes `area tray`.
# The .rpm gets the same checks where `rpm` exists, installed after the .deb is removed (on a
# dpkg system with `--nodeps`: its requirements are library names rpm's own database does not
# hold there). Needs root (dpkg -i / rpm -i install system-wide); run it on a throwaway machine
# or container.
#
#   scripts/check-packages.sh            (the .deb; the .rpm too where `rpm` exists)
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
deb=$(find "$target_dir/release/bundle/deb" -name '*.deb' | sort | tail -1)
[ -n "$deb" ] || { echo "no .deb under $target_dir/release/bundle: run scripts/bundle.sh first" >&2; exit 1; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

# dpkg-deb -c lists paths with or without a leading "./", depending on the tool that built it.
contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./||')
echo "== the .deb holds:"
grep '^usr/bin/' <<<"$contents" | sed 's|^|  /|'
for wanted in usr/bin/area usr/bin/area-app; do
  grep -qx "$wanted" <<<"$contents" || { echo "the .deb lacks /$wanted" >&2; exit 1; }
done

work=$(mktemp -d)
data="$work/data"
. scripts/lib/desktop_session.sh
start_desktop_session "$work"
stop_all() { pkill -f -- "--data-dir $data" 2>/dev/null || true; pkill -f "^/usr/bin/area-app" 2>/dev/null || true; }
trap 'stop_all; kill $DESKTOP_SESSION_PIDS 2>/dev/null; rm -rf "$work"' EXIT
export AREA_DATA_DIR="$data" AREA_MASTER_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  AREA_NO_REGISTER_SCHEME=1 AREA_WEBHOOK_LISTEN=127.0.0.1:0 XDG_CONFIG_HOME="$work/config" \
  XDG_DATA_HOME="$work/xdg-data" XDG_CACHE_HOME="$work/xdg-cache" NO_AT_BRIDGE=1

# wait_for SECONDS WHAT COMMAND...: polls COMMAND until it succeeds, or fails the check.
wait_for() {
  local seconds=$1 what=$2; shift 2
  for _ in $(seq 1 $((seconds * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "the installed product failed: $what (logs below)" >&2
  tail -n 20 "$work"/*.log >&2 || true
  exit 1
}
tray_pid() { pgrep -f -- "^/usr/bin/area --data-dir $data tray" | head -1; }
tray_running() { [ -n "$(tray_pid)" ]; }
no_app() { ! pgrep -f "^/usr/bin/area-app" >/dev/null; }
engine_listens() { [ -s "$data/webhook.addr" ] && curl -s -o /dev/null "http://$(cat "$data/webhook.addr")/"; }

# Runs what is installed in /usr/bin: the command, the app and its tray, the login items.
check_installed() {
  rm -rf "$data" "$XDG_CONFIG_HOME"
  /usr/bin/area --version
  echo "== the installed app: its window, and the installed tray process beside it"
  /usr/bin/area-app >"$work/app.log" 2>&1 &
  wait_for 30 "the window never became interactive" grep -q "window interactive" "$work/app.log"
  wait_for 15 "the app did not start /usr/bin/area tray" tray_running
  wait_for 15 "the tray's engine does not listen for webhooks" engine_listens
  tray=$(tray_pid)
  python3 bench/x11_close.py Area
  wait_for 15 "closing the window did not end the app's process" no_app
  kill -0 "$tray" || { echo "the tray process ended with the window" >&2; exit 1; }
  echo "window interactive; tray process $tray runs the engine; closing the window ended the app, the tray stays"
  kill "$tray"
  wait_for 15 "the tray process did not stop on SIGTERM" bash -c "! kill -0 $tray"

  echo "== the login item of \`area autostart on\`, run as a session runs it"
  /usr/bin/area autostart on
  entry="$XDG_CONFIG_HOME/autostart/area.desktop"
  exec_line=$(sed -n 's/^Exec=//p' "$entry")
  echo "  Exec=$exec_line"
  # The data directory here has no character the Exec quoting would change: split on spaces.
  read -r -a login_command <<<"$exec_line"
  "${login_command[@]}" >"$work/login.log" 2>&1 &
  wait_for 15 "the login item did not start the tray" tray_running
  wait_for 15 "the login item's engine does not listen for webhooks" engine_listens
  /usr/bin/area autostart off
  tray=$(tray_pid)
  kill "$tray"
  wait_for 15 "the tray process did not stop on SIGTERM" bash -c "! kill -0 $tray"

  echo "== area-app --background (the app's own login item) becomes the installed tray process"
  /usr/bin/area-app --background >"$work/background.log" 2>&1 &
  background=$!
  wait_for 15 "area-app --background did not become area tray" bash -c "[ \"\$(readlink /proc/$background/exe)\" = /usr/bin/area ]"
  wait_for 15 "the background engine does not listen for webhooks" engine_listens
  echo "area-app --background is now /usr/bin/area (pid $background), and its engine listens"
  kill "$background"
  wait_for 15 "the background tray did not stop on SIGTERM" bash -c "! kill -0 $background"
}

echo "== dpkg -i $deb"
$SUDO dpkg -i "$deb" >/dev/null || $SUDO apt-get install -f -y -qq >/dev/null
check_installed

if command -v rpm >/dev/null 2>&1; then
  rpm_file=$(find "$target_dir/release/bundle/rpm" -name '*.rpm' | sort | tail -1)
  [ -n "$rpm_file" ] || { echo "no .rpm under $target_dir/release/bundle: run scripts/bundle.sh first" >&2; exit 1; }
  echo "== the .rpm holds:"
  rpm -qlp "$rpm_file" | grep -E '^/usr/bin/'
  for wanted in /usr/bin/area /usr/bin/area-app; do
    rpm -qlp "$rpm_file" | grep -qx "$wanted" || { echo "the .rpm lacks $wanted" >&2; exit 1; }
  done
  $SUDO dpkg -r "$(dpkg-deb -f "$deb" Package)" >/dev/null 2>&1 || true
  [ ! -e /usr/bin/area-app ] || { echo "the .deb's files are still installed" >&2; exit 1; }
  nodeps=(); command -v dpkg >/dev/null 2>&1 && nodeps=(--nodeps)
  echo "== rpm -i ${nodeps[*]} $rpm_file"
  $SUDO rpm -i --replacepkgs "${nodeps[@]}" "$rpm_file"
  check_installed
  $SUDO rpm -e "$(rpm -qp --qf '%{NAME}' "$rpm_file")"
fi
echo "packages OK"
