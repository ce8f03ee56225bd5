# Sourced by the scripts that run the desktop app where there is no desktop (the package check,
# the app benchmark): one Xvfb display and one private D-Bus session bus with no auto-started
# services (no portals, no at-spi), standing for the user's desktop session.

# start_desktop_session DIR: starts both (the bus's configuration is written in DIR), exports
# DISPLAY and DBUS_SESSION_BUS_ADDRESS, and sets DESKTOP_SESSION_PIDS for the caller to kill.
start_desktop_session() {
  local dir=$1 display_no bus
  sed -e '/<servicedir>/d' -e '/<standard_session_servicedirs/d' /usr/share/dbus-1/session.conf >"$dir/session.conf"
  display_no=$((100 + RANDOM % 400))
  Xvfb ":$display_no" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  DESKTOP_SESSION_PIDS=$!
  for _ in $(seq 1 100); do [ -S "/tmp/.X11-unix/X$display_no" ] && break; sleep 0.05; done
  bus=$(dbus-daemon --config-file="$dir/session.conf" --fork --print-address=1 --print-pid=1)
  DESKTOP_SESSION_PIDS="$DESKTOP_SESSION_PIDS $(sed -n 2p <<<"$bus")"
  export DISPLAY=":$display_no" DBUS_SESSION_BUS_ADDRESS="$(sed -n 1p <<<"$bus")"
}
