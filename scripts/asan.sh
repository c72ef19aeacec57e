#!/usr/bin/env bash
# AddressSanitizer (with LeakSanitizer) over the simulator's suites: the host-linked drivers,
# the simulator and the tests, instrumented. Stable Rust accepts the sanitizer flag with
# RUSTC_BOOTSTRAP=1; its runtime ships with the toolchain's rust-std. Builds in target/asan.
#
#   scripts/asan.sh               # the default subset (as in .ci/run)
#   SEEDS=2000 scripts/asan.sh    # more seeded runs
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=address"
export CARGO_TARGET_DIR=target/asan
export ASAN_OPTIONS=detect_leaks=1
host=x86_64-unknown-linux-gnu

# First the canary: a use after free that must be reported, or nothing below would be.
if out=$(cargo run --quiet --target "$host" -p sriov-sim --bin asan-canary 2>&1); then
  echo "$out"
  echo "asan: the canary's use after free went unreported: the sanitizer is not in force" >&2
  exit 1
fi
if ! grep -q "AddressSanitizer: heap-use-after-free" <<<"$out"; then
  echo "$out"
  echo "asan: the canary failed without an AddressSanitizer report" >&2
  exit 1
fi
echo "asan: the canary's use after free was caught"

SEEDS=${SEEDS:-200} cargo test --target "$host" -p sriov-sim \
  --test scenarios --test protocol_defects --test pf_backchannel --test pf_lifecycle \
  --test simulator --test seeded --test pf_nic_switch_oids --test pf_receive_filter_oids \
  --test pf_pci_oids --test hyperv_flow
