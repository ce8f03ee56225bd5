#!/usr/bin/env bash
# Installs the packages scripts/bundle.sh made and checks that they carry the whole product:
# the installed `area --version` answers, and the installed app starts under Xvfb (in the
# background, as at login) and keeps running. Needs root (dpkg -i / rpm -i install system-wide);
# run it on a throwaway machine or container.
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

echo "== dpkg -i $deb"
$SUDO dpkg -i "$deb" >/dev/null || $SUDO apt-get install -f -y -qq >/dev/null
/usr/bin/area --version

work=$(mktemp -d)
trap 'pkill -f "^/usr/bin/area-app" 2>/dev/null || true; rm -rf "$work"' EXIT
echo "== the installed app, in the background under Xvfb"
AREA_DATA_DIR="$work/data" AREA_MASTER_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
  AREA_NO_REGISTER_SCHEME=1 AREA_WEBHOOK_LISTEN=127.0.0.1:0 XDG_CONFIG_HOME="$work/config" NO_AT_BRIDGE=1 \
  xvfb-run -a dbus-run-session -- /usr/bin/area-app --background >"$work/app.log" 2>&1 &
for _ in $(seq 1 100); do grep -qs "listening for webhooks" "$work/app.log" && break; sleep 0.1; done
grep -q "listening for webhooks" "$work/app.log" || { echo "the installed app did not start its engine:" >&2; tail -20 "$work/app.log" >&2; exit 1; }
sleep 2
pgrep -f "^/usr/bin/area-app" >/dev/null || { echo "the installed app exited:" >&2; tail -20 "$work/app.log" >&2; exit 1; }
echo "the installed app runs its engine (log: webhooks listening) and stays up"

if command -v rpm >/dev/null 2>&1; then
  rpm_file=$(find "$target_dir/release/bundle/rpm" -name '*.rpm' | sort | tail -1)
  echo "== the .rpm holds:"
  rpm -qlp "$rpm_file" | grep -E '^/usr/bin/'
  rpm -qlp "$rpm_file" | grep -qx /usr/bin/area || { echo "the .rpm lacks /usr/bin/area" >&2; exit 1; }
fi
echo "packages OK"
