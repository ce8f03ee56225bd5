#!/usr/bin/env bash
# Desktop app figures for the issue's "done when": cold start to an interactive window, and the
# app's idle memory with 100 areas (50 RSS areas polling 10 local feeds every 60 s, 50 webhook
# areas). Runs the release binary (build it with scripts/bundle.sh or
# `npx tauri build --no-bundle`) under Xvfb with a private D-Bus session, against a fresh data
# directory seeded through the `area` command. Writes bench/results/app_start.json.
#
#   bench/app_start.sh [RUNS]      (default 5 cold starts; the RSS is read on the last one)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
app="${APP_BIN:-$target/release/area-app}"
[ -x "$app" ] || { echo "no release app at $app: run scripts/bundle.sh (or npx tauri build --no-bundle) first" >&2; exit 1; }
cargo build --release --locked -q -p area-cli
cli="$target/release/area"

work="$(mktemp -d)"
cleanup() { [ -n "${feed_pid:-}" ] && kill "$feed_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Ten local RSS feeds on loopback.
mkdir -p "$work/feeds"
for i in $(seq 0 9); do
  printf '<?xml version="1.0"?><rss version="2.0"><channel><title>feed %s</title><item><title>item</title><guid>%s-1</guid><link>http://127.0.0.1/x</link></item></channel></rss>' "$i" "$i" >"$work/feeds/f$i.xml"
done
feed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$feed_port" --bind 127.0.0.1 --directory "$work/feeds" >/dev/null 2>&1 &
feed_pid=$!

data="$work/data"
export AREA_MASTER_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf 'bench-password-123\n' | "$cli" --data-dir "$data" user add bench@example.com --password-stdin >/dev/null
printf 'bench-password-123\n' | "$cli" --data-dir "$data" login bench@example.com --password-stdin >/dev/null
python3 - "$feed_port" >"$work/areas.json" <<'PY'
import json, sys
port = sys.argv[1]
areas = []
for i in range(50):
    areas.append({"name": f"feed {i}", "allow_private_network": True, "interval_secs": 60,
                  "action": {"service": "rss", "id": "new_item", "params": {"url": f"http://127.0.0.1:{port}/f{i % 10}.xml"}},
                  "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ title }}", "body": "{{ link }}"}}]})
for i in range(50):
    areas.append({"name": f"hook {i}", "action": {"service": "webhook", "id": "received", "params": {}},
                  "reactions": [{"service": "notify", "id": "send", "params": {"title": "hook", "body": "{{ text }}"}}]})
print(json.dumps(areas))
PY
"$cli" --data-dir "$data" areas add --enable --allow-private-network --file "$work/areas.json" >/dev/null

pss_of_tree() { # KiB of proportional set size (shared pages split between sharers, not double-counted)
  local total pid child
  total=$(awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0)
  for child in $(ps -o pid= --ppid "$1"); do
    total=$(( total + $(pss_of_tree "$child") ))
  done
  echo "${total:-0}"
}

rss_of_tree() { # KiB of a process and all its descendants (the WebKit web/network processes)
  local total pid child
  total=$(awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
  for child in $(ps -o pid= --ppid "$1"); do
    total=$(( total + $(rss_of_tree "$child") ))
  done
  echo "${total:-0}"
}

# A private session bus with no auto-started services (no portals, no at-spi): only the app.
sed -e '/<servicedir>/d' -e '/<standard_session_servicedirs/d' /usr/share/dbus-1/session.conf >"$work/session.conf"

starts=()
for run in $(seq 1 "$runs"); do
  log="$work/app-$run.log"
  export AREA_DATA_DIR="$data" AREA_NO_REGISTER_SCHEME=1 AREA_WEBHOOK_LISTEN=127.0.0.1:0 \
    XDG_DATA_HOME="$work/xdg-data" XDG_CONFIG_HOME="$work/xdg-config" XDG_CACHE_HOME="$work/xdg-cache" NO_AT_BRIDGE=1
  t0=$(date +%s%N)
  xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session --config-file="$work/session.conf" -- "$app" >"$log" 2>&1 &
  runner=$!
  for _ in $(seq 1 300); do grep -q "window interactive" "$log" && break; sleep 0.05; done
  t1=$(date +%s%N)
  ms=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'ms=[0-9]*' | head -1 | cut -d= -f2)
  [ -n "$ms" ] || { echo "the app never reported an interactive window; log:" >&2; tail -20 "$log" >&2; exit 1; }
  wall=$(( (t1 - t0) / 1000000 ))
  echo "run $run: interactive after ${ms} ms (app clock), ${wall} ms (wall, incl. Xvfb start)"
  starts+=("$ms")
  if [ "$run" = "$runs" ]; then
    sleep 30
    app_pid=$(pgrep -n -f "^$app" || true)
    main_kib=$(awk '/VmRSS/ {print $2}' "/proc/$app_pid/status")
    tree_kib=$(rss_of_tree "$app_pid")
    main_pss=$(awk '/^Pss:/ {print $2}' "/proc/$app_pid/smaps_rollup")
    tree_pss=$(pss_of_tree "$app_pid")
    echo "idle RSS with 100 areas after 30 s: app process $((main_kib / 1024)) MiB, with WebKit processes $((tree_kib / 1024)) MiB"
    echo "idle PSS: app process $((main_pss / 1024)) MiB, with WebKit processes $((tree_pss / 1024)) MiB"

    # Close the window as a window manager would, then measure the app with only its tray.
    app_env() { tr '\0' '\n' <"/proc/$app_pid/environ" | grep -E "^($1)=" | head -1 | cut -d= -f2-; }
    display=$(app_env DISPLAY)
    DISPLAY="$display" XAUTHORITY="$(app_env XAUTHORITY)" python3 bench/x11_close.py Area
    sleep 10
    closed_kib=$(rss_of_tree "$app_pid")
    closed_pss=$(pss_of_tree "$app_pid")
    webkit_left=$(ps -o comm= --ppid "$app_pid" | grep -c WebKit || true)
    echo "window closed, after 10 s: all processes $((closed_kib / 1024)) MiB RSS, $((closed_pss / 1024)) MiB PSS; WebKit processes left: $webkit_left"

    # Reopen, as the tray's "Open Area" or a second launch does (single instance: the running
    # app builds its window again and the new process exits).
    before=$(grep -c "window interactive" "$log")
    DISPLAY="$display" XAUTHORITY="$(app_env XAUTHORITY)" DBUS_SESSION_BUS_ADDRESS="$(app_env DBUS_SESSION_BUS_ADDRESS)" \
      "$app" >/dev/null 2>&1 || true
    for _ in $(seq 1 200); do [ "$(grep -c "window interactive" "$log")" -gt "$before" ] && break; sleep 0.05; done
    reopen_ms=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep "window interactive" | tail -1 | grep -o 'window_ms=[0-9]*' | cut -d= -f2)
    echo "reopened: interactive ${reopen_ms:-?} ms after the window was built again"
  fi
  pkill -f "^$app" || true
  wait "$runner" 2>/dev/null || true
done
sorted=$(printf '%s\n' "${starts[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${starts[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
mkdir -p bench/results
cat >bench/results/app_start.json <<JSON
{"cold_start_to_interactive_ms": {"runs": [${sorted// /, }], "median": $median},
 "idle_rss_100_areas_kib": {"app_process": $main_kib, "with_webkit_processes": $tree_kib},
 "idle_pss_100_areas_kib": {"app_process": $main_pss, "with_webkit_processes": $tree_pss},
 "window_closed_kib": {"rss_all_processes": $closed_kib, "pss_all_processes": $closed_pss, "webkit_processes_left": $webkit_left},
 "reopen_to_interactive_ms": ${reopen_ms:-null},
 "binary_bytes": $(stat -c %s "$app"), "measured_at": "$(date -u +%FT%TZ)"}
JSON
sed -i 's/, \]/]/' bench/results/app_start.json
cat bench/results/app_start.json
