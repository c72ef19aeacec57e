#!/usr/bin/env bash
# Instruction counts per operation for benchmark measures 1, 3 and 7, with valgrind's callgrind
# (deterministic on a shared machine, unlike time). Each operation runs twice, N and N+DELTA
# times; the difference divided by DELTA is its cost, free of setup.
#
#   scripts/callgrind.sh            # all operations
#   DELTA=2000 scripts/callgrind.sh read copy
#   scripts/callgrind.sh datapath datapath64   # the data path per frame, split by whose code
#                                              # (drivers, device model, simulator, runtime)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind
  else
    echo "valgrind is required: apt-get install valgrind" >&2
    exit 1
  fi
fi

bench=$(cargo build --release --bin backchannel-bench --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "backchannel-bench" and m.get("executable"):
        print(m["executable"])')
[ -x "$bench" ] || { echo "could not build the benchmark binary" >&2; exit 1; }

base=${BASE:-1000}
delta=${DELTA:-10000}
ops=("$@")
[ ${#ops[@]} -gt 0 ] || ops=(copy read invalidate1 invalidate8 invalidate64 datapath datapath64)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

instructions() { # op n -> total Ir
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1.$2" "$bench" --callgrind "$1" "$2" >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$out/cg.$1.$2"
}

printf '%-14s %16s\n' operation 'instructions/op'
declare -A per
batch=32 # frames per data-path batch (sim::datapath_bench::BATCH)
for op in "${ops[@]}"; do
  if [[ $op == datapath* ]]; then
    # Batches of 32 frames VF to VF (2 or 64 VFs): per frame, split by whose code ran.
    dn=${DATAPATH_DELTA:-200}
    instructions "$op" 100 >/dev/null
    instructions "$op" $((100 + dn)) >/dev/null
    echo "$op: instructions per 1,514-byte frame VF to VF"
    python3 scripts/callgrind_split.py "$out/cg.$op.100" "$out/cg.$op.$((100 + dn))" $((dn * batch)) "${TOP:-0}"
    continue
  fi
  a=$(instructions "$op" "$base")
  b=$(instructions "$op" $((base + delta)))
  per[$op]=$(( (b - a) / delta ))
  printf '%-14s %16s\n' "$op" "${per[$op]}"
done
if [ -n "${per[read]:-}" ] && [ -n "${per[copy]:-}" ] && [ "${per[copy]}" -gt 0 ]; then
  awk -v r="${per[read]}" -v c="${per[copy]}" 'BEGIN { printf "read OID / plain copy: %.1fx in instructions (the 10x target is on time: see backchannel-bench)\n", r / c }'
fi
for n in 1 8 64; do
  op=invalidate$n
  if [ -n "${per[$op]:-}" ]; then
    reads=$n; [ "$n" = 64 ] && reads=63
    awk -v i="${per[$op]}" -v r="$reads" -v n="$n" 'BEGIN { printf "invalidation with %d flagged: %d instructions per block read (%d reads)\n", n, i / r, r }'
  fi
done
