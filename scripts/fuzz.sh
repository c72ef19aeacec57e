#!/usr/bin/env bash
# Runs every libFuzzer target in fuzz/ (README "Fuzzing") for SECONDS_PER_TARGET seconds each,
# one fuzzing process at a time, and prints the executions of each and their total. Exits
# non-zero if any target crashed (the input is saved under fuzz/artifacts/<target>/).
#
#   scripts/fuzz.sh                          # 60 s per target
#   SECONDS_PER_TARGET=1800 scripts/fuzz.sh  # a longer campaign
#   TARGETS="block_codecs vf_judge" scripts/fuzz.sh
#   FUZZ_BUILD=dev SECONDS_PER_TARGET=10 scripts/fuzz.sh   # CI's smoke run: unoptimized build
#
# FUZZ_TARGET_DIR moves the instrumented build out of fuzz/target (CI keeps it in a cache
# outside its fresh clone, so that the dependencies are built once per machine).
#
# cargo-fuzz needs a nightly compiler's -Z flags; this repository pins stable Rust, so the
# build runs with RUSTC_BOOTSTRAP=1 (what the stable compiler accepts them under). The
# AddressSanitizer runtime ships with the stable x86_64-unknown-linux-gnu standard library;
# SANITIZER=none builds without it (faster, and for hosts without it). cargo-fuzz itself is
# installed from crates.io on first use, under a file lock so that concurrent runs install it
# once. New inputs the fuzzer finds go to fuzz/target/corpus/<target>; the committed seeds in
# fuzz/corpus/<target> are read, never written. A summary line per run is appended to
# fuzz/target/fuzz-runs.tsv.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-60}
SANITIZER=${SANITIZER:-address}
ALL_TARGETS="block_codecs oid_parsers vf_judge pf_backchannel pf_switch_oids"
TARGETS=${TARGETS:-$ALL_TARGETS}
CARGO_FUZZ_VERSION=0.13.2
# release: optimized, debug assertions on (cargo-fuzz's default); dev: unoptimized, builds
# in a fraction of the time, runs slower.
case "${FUZZ_BUILD:-release}" in
  release) profile=-O ;;
  dev) profile=--dev ;;
  *) echo "FUZZ_BUILD is release or dev" >&2; exit 2 ;;
esac
export RUSTC_BOOTSTRAP=1
target_dir=()
if [ -n "${FUZZ_TARGET_DIR:-}" ]; then
  target_dir=(--target-dir "$FUZZ_TARGET_DIR")
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  lock="${TMPDIR:-/tmp}/sriov-cargo-fuzz-install.lock"
  (
    flock 9
    # Another run may have installed it while this one waited for the lock.
    if ! cargo fuzz --version >/dev/null 2>&1; then
      echo "installing cargo-fuzz $CARGO_FUZZ_VERSION (once)"
      cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
    fi
  ) 9>"$lock"
fi

build_start=$SECONDS
cargo fuzz build "$profile" "${target_dir[@]}" --sanitizer "$SANITIZER"
echo "fuzz targets built in $((SECONDS - build_start)) s"

mkdir -p target/logs
total=0
crashed=()
for t in $TARGETS; do
  mkdir -p "target/corpus/$t" "corpus/$t" "artifacts/$t"
  log="target/logs/$t.log"
  status=0
  # -print_final_stats gives the executions; -timeout and -rss_limit_mb turn a hang or a
  # runaway allocation into a reported failure.
  cargo fuzz run "$profile" "${target_dir[@]}" --sanitizer "$SANITIZER" "$t" "target/corpus/$t" "corpus/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=30 \
    -rss_limit_mb=4096 >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ -z "$execs" ]; then
    # A crash ends the run before the final stats: its last status line has the count.
    execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -1)
  fi
  execs=${execs:-0}
  total=$((total + execs))
  if [ "$status" != 0 ]; then
    crashed+=("$t")
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    printf '%-16s %12s executions  CRASHED (exit %s) %s, log %s\n' "$t" "$execs" "$status" \
      "${artifact:-}" "fuzz/$log"
    grep -m5 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" || true
  else
    printf '%-16s %12s executions  0 crashes\n' "$t" "$execs"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$SANITIZER" \
    "$SECONDS_PER_TARGET" "$execs" "$status" >>target/fuzz-runs.tsv
done
printf '%-16s %12s executions over %d targets, %d crashed\n' total "$total" \
  "$(wc -w <<<"$TARGETS")" "${#crashed[@]}"
[ "${#crashed[@]}" = 0 ]
