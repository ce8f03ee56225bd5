#!/usr/bin/env bash
# Desktop app figures for the issue's "done when": cold start to an interactive window, and the
# app's idle memory with 100 areas (50 RSS areas polling 10 local feeds every 60 s, 50 webhook
# areas), with the window open and closed, and the time to reopen it. Runs the release binaries
# (build them with scripts/bundle.sh or `npx tauri build --no-bundle`; this script builds the
# `area` command beside the app, which makes the app run its engine in the tray process) under
# Xvfb with a private D-Bus session, against a fresh data directory seeded through the `area`
# command. Writes bench/results/app_start.json.
#
#   bench/app_start.sh [RUNS] [REOPENS]   (default 5 cold starts, the RSS read on the last one;
#                                          then 10 reopens after closing the window)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
reopen_runs="${2:-10}"
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

# One X server and one private session bus for every run, as a desktop session outlives the
# app's processes.
. scripts/lib/desktop_session.sh
start_desktop_session "$work"
trap 'kill $DESKTOP_SESSION_PIDS 2>/dev/null; pkill -f -- "--data-dir $data" 2>/dev/null; cleanup' EXIT
export AREA_DATA_DIR="$data" AREA_NO_REGISTER_SCHEME=1 AREA_WEBHOOK_LISTEN=127.0.0.1:0 \
  XDG_DATA_HOME="$work/xdg-data" XDG_CONFIG_HOME="$work/xdg-config" XDG_CACHE_HOME="$work/xdg-cache" NO_AT_BRIDGE=1

# The tray process (`area --data-dir <data> tray`), which the app starts beside its window, or
# nothing when the app runs its engine itself (no `area` beside it).
tray_pid() { pgrep -f -- "--data-dir $data tray" | head -1; }
kib() { awk "/^$2:/ {print \$2}" "/proc/$1/$3" 2>/dev/null || echo 0; }
descendants() { local c; echo "$1"; for c in $(ps -o pid= --ppid "$1"); do descendants "$c"; done; }
# Every process of the app, each counted once: the window processes with their WebKit children,
# and the tray process (the window's child while both run).
all_kib() { # $1: VmRSS (from status) or Pss (from smaps_rollup)
  local file=status total=0 p
  [ "$1" = Pss ] && file=smaps_rollup
  for p in $( { for root in $(pgrep -f "^$app") $(tray_pid); do descendants "$root"; done; } | sort -u); do
    total=$((total + $(kib "$p" "$1" "$file")))
  done
  echo "$total"
}

# When (epoch ns) the app logged its last "window interactive" line in $1. Wall-clock figures are
# this minus the launch time: read from the app's own log, so the bench's polling (every 0.1 s,
# to leave the CPU to the app) neither delays nor adds to them.
interactive_at() {
  date -d "$(sed 's/\x1b\[[0-9;]*m//g' "$1" | grep "window interactive" | tail -1 | awk '{print $1}')" +%s%N
}

starts=()
walls=()
reopens=()
for run in $(seq 1 "$runs"); do
  log="$work/app-$run.log"
  t0=$(date +%s%N)
  "$app" >"$log" 2>&1 &
  for _ in $(seq 1 300); do grep -q "window interactive" "$log" && break; sleep 0.1; done
  ms=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'ms=[0-9]*' | head -1 | cut -d= -f2)
  [ -n "$ms" ] || { echo "the app never reported an interactive window; log:" >&2; tail -20 "$log" >&2; exit 1; }
  wall=$(( ($(interactive_at "$log") - t0) / 1000000 ))
  echo "run $run: interactive after ${ms} ms (app clock), ${wall} ms (wall, from the launch)"
  starts+=("$ms")
  walls+=("$wall")
  if [ "$run" = "$runs" ]; then
    sleep 30
    app_pid=$(pgrep -n -f "^$app" || true)
    tray=$(tray_pid)
    main_kib=$(kib "$app_pid" VmRSS status)
    main_pss=$(kib "$app_pid" Pss smaps_rollup)
    tree_kib=$(all_kib VmRSS)
    tree_pss=$(all_kib Pss)
    echo "idle with the window open, 100 areas, after 30 s: window process $((main_kib / 1024)) MiB RSS; all processes (WebKit's, the tray's${tray:+ pid $tray}) $((tree_kib / 1024)) MiB RSS, $((tree_pss / 1024)) MiB PSS"

    # Close the window as a window manager would, then measure what is left.
    python3 bench/x11_close.py Area
    sleep 10
    closed_kib=$(all_kib VmRSS)
    closed_pss=$(all_kib Pss)
    tray_kib=$( [ -n "$tray" ] && kib "$tray" VmRSS status || echo 0)
    webkit_left=$(pgrep -c WebKitWebProces || true)
    windows_left=$(pgrep -c -f "^$app" || true)
    echo "window closed, after 10 s: all processes $((closed_kib / 1024)) MiB RSS, $((closed_pss / 1024)) MiB PSS (tray process $((tray_kib / 1024)) MiB RSS); app processes left: $windows_left, WebKit web processes left: $webkit_left"

    # Reopen, as the tray's "Open Area" does: a new window process beside the running tray (or,
    # without a tray process, single instance hands over and the running app builds its window).
    # Several times, closing the window in between: one reopen is one sample of a noisy figure.
    for k in $(seq 1 "$reopen_runs"); do
      reopen_log="$work/reopen-$k.log"
      before=$(grep -c "window interactive" "$log" || true)
      t0=$(date +%s%N)
      "$app" >"$reopen_log" 2>&1 &
      shown_in="$reopen_log"
      for _ in $(seq 1 100); do
        grep -q "window interactive" "$reopen_log" && break
        [ "$(grep -c "window interactive" "$log" || true)" -gt "$before" ] && { shown_in="$log"; break; }
        sleep 0.1
      done
      reopen_ms=$(( ($(interactive_at "$shown_in") - t0) / 1000000 ))
      echo "reopen $k: interactive ${reopen_ms} ms after the launch (wall)"
      reopens+=("$reopen_ms")
      sleep 1.5
      python3 bench/x11_close.py Area
      for _ in $(seq 1 100); do pgrep -f "^$app" >/dev/null || break; sleep 0.1; done
      sleep 2
    done
  fi
  pkill -f "^$app" || true
  pkill -f -- "--data-dir $data tray" || true
  for _ in $(seq 1 100); do pgrep -f -- "--data-dir $data" >/dev/null || break; sleep 0.05; done
done
sorted=$(printf '%s\n' "${starts[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${starts[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
reopens_sorted=$(printf '%s\n' "${reopens[@]}" | sort -n | tr '\n' ' ')
reopen_median=$(printf '%s\n' "${reopens[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
walls_sorted=$(printf '%s\n' "${walls[@]}" | sort -n | tr '\n' ' ')
wall_median=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
mkdir -p bench/results
cat >bench/results/app_start.json <<JSON
{"cold_start_to_interactive_ms": {"runs": [${sorted// /, }], "median": $median},
 "cold_start_wall_ms": {"runs": [${walls_sorted// /, }], "median": $wall_median},
 "idle_rss_100_areas_kib": {"window_process": $main_kib, "all_processes": $tree_kib},
 "idle_pss_100_areas_kib": {"window_process": $main_pss, "all_processes": $tree_pss},
 "window_closed_kib": {"rss_all_processes": $closed_kib, "pss_all_processes": $closed_pss, "tray_process_rss": $tray_kib, "app_processes_left": $windows_left, "webkit_processes_left": $webkit_left},
 "reopen_to_interactive_ms": {"runs": [${reopens_sorted// /, }], "median": $reopen_median},
 "binary_bytes": $(stat -c %s "$app"), "measured_at": "$(date -u +%FT%TZ)"}
JSON
sed -i 's/, \]/]/' bench/results/app_start.json
cat bench/results/app_start.json
