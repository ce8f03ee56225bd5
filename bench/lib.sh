# Shared by the benchmark scripts (source it): the common preparation, an `area` data directory
# loaded with a harness workload's areas, and the webhook token of its first area.

# bench_prepare NAME: sets ROOT, HARNESS, OUT (created), WORK (a fresh /tmp/NAME.XXXXXX) and
# PORT, installs wrk when missing, and builds the release `area` into AREA.
bench_prepare() {
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  HARNESS=$ROOT/bench/harness
  OUT=$ROOT/bench/results
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  PORT=8787
  mkdir -p "$OUT"
  command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
  (cd "$ROOT" && cargo build --release --locked -p area-cli)
  AREA=${CARGO_TARGET_DIR:-$ROOT/target}/release/area
}

# bench_load AREA_BIN DIR SPEC: a fresh data directory DIR with one signed-in user and the
# areas of the harness workload SPEC (converted by harness_to_areas.py into DIR.areas.json).
bench_load() {
  local area=$1 dir=$2 spec=$3
  rm -rf "$dir"
  printf 'benchmark-password\n' | "$area" --data-dir "$dir" user add bench@example.com --password-stdin >/dev/null
  printf 'benchmark-password\n' | "$area" --data-dir "$dir" login bench@example.com --password-stdin >/dev/null
  python3 "$(dirname "${BASH_SOURCE[0]}")/harness_to_areas.py" "$spec" > "$dir.areas.json"
  "$area" --data-dir "$dir" areas add --enable --allow-private-network --file "$dir.areas.json" >/dev/null
}

# bench_webhook_token AREA_BIN DIR: prints the secret token of the first area's webhook URL.
bench_webhook_token() {
  local area=$1 dir=$2 id
  id=$("$area" --data-dir "$dir" --json areas list | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  "$area" --data-dir "$dir" --json areas show "$id" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["webhook_url"].rsplit("/", 1)[1])'
}
