#!/usr/bin/env bash
# Runs every fuzz target of area-core for a fixed time and prints, per target, the executions,
# executions per second and crashes found.
#
# NOT part of CI (scripts/test.sh and .ci/run never call it): fuzzing needs the nightly toolchain
# and cargo-fuzz (`cargo install cargo-fuzz --locked`), and its results depend on time spent.
#
# Usage: fuzz/run.sh [TARGET...]      (default: every target; `cargo +nightly fuzz list`)
#   FUZZ_SECS=60        seconds per target (default 60)
#   FUZZ_SANITIZER=none libFuzzer sanitizer (none|address|...); `none` builds and runs faster, and
#                       area-core is safe Rust, so the findings are panics and failed assertions
#   CARGO_TARGET_DIR    where to build (default fuzz/target); the nightly build cannot share the
#                       stable target dir
# Seeds are read from fuzz/corpus/<target>/ (kept in git); inputs the fuzzer finds go to
# fuzz/work/<target>/ and crashes to fuzz/artifacts/<target>/ (both ignored by git). Minimise a
# crash with `cargo +nightly fuzz tmin -s none <target> <artifact>`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

secs="${FUZZ_SECS:-60}"
sanitizer="${FUZZ_SANITIZER:-none}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(template condition area_file feed webhook_body)
fi

if [ $# -eq 0 ]; then
  cargo +nightly fuzz build -s "$sanitizer"
else
  for t in "${targets[@]}"; do cargo +nightly fuzz build -s "$sanitizer" "$t"; done
fi

printf '\n%-14s %12s %10s %8s\n' target executions exec/s crashes
summary=()
total_crashes=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
  before=$(find "fuzz/artifacts/$t" -type f | wc -l)
  dict=()
  if [ -f "fuzz/dict/$t.dict" ]; then dict=("-dict=fuzz/dict/$t.dict"); fi
  log="fuzz/work/$t.log"
  set +e
  cargo +nightly fuzz run -s "$sanitizer" "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1
  status=$?
  set -e
  after=$(find "fuzz/artifacts/$t" -type f | wc -l)
  crashes=$((after - before))
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes="?"; fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  line=$(printf '%-14s %12s %10s %8s' "$t" "${execs:-?}" "${rate:-?}" "$crashes")
  echo "$line"
  summary+=("$line")
  if [ "$crashes" != "0" ]; then
    total_crashes=$((total_crashes + 1))
    echo "  see $log and fuzz/artifacts/$t/" >&2
  fi
done
[ "$total_crashes" -eq 0 ]
