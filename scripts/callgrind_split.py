#!/usr/bin/env python3
"""Per-frame instructions of the data path, split by whose code ran them.

    callgrind_split.py SMALL.out LARGE.out FRAMES [TOP]

SMALL and LARGE are callgrind outputs of the same operation run n and n + k times; FRAMES is
the frames the k extra runs moved. Each function's own instructions (callgrind's self cost,
inlined code included in its caller) go to one of:
  drivers     common::, vf_miniport::, pf_miniport:: (both miniports and their shared crate)
  device      sim::device:: (the reference NIC's model: rings, switch, DMA)
  simulator   the rest of sim:: and the exports it implements (NDIS, kernel, HAL: Ndis*, Ke*, ...)
  runtime     the C library and Rust's std/core/alloc outside those (memcpy, malloc, maps)
The frame's bytes are copied by the device model's DMA through memcpy, so they count under
runtime, as do the simulator's allocations.
"""
import re
import subprocess
import sys

KINDS = ("drivers", "device", "simulator", "runtime")


def kind(fn):
    if re.search(r"\b(common|vf_miniport|pf_miniport)::", fn):
        return "drivers"
    if "sim::device::" in fn:
        return "device"
    if re.search(r"\bsim::|backchannel_bench", fn) or re.match(
        r"(Ndis|Ke|Ex|Io|Rtl|Mm|Hal|Dbg|Ob|Ps|Zw|Nt)[A-Z]", fn
    ):
        return "simulator"
    return "runtime"


def self_costs(path):
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no", path],
        capture_output=True, text=True, check=True,
    ).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        rest = re.sub(r" \[[^\]]*\]$", "", m.group(2))
        f = re.match(r"^(\S*?\.(?:rs|c|S|h)|\?\?\?):(.*)$", rest)
        fn = f.group(2) if f else rest
        costs[fn] = costs.get(fn, 0) + int(m.group(1).replace(",", ""))
    return costs


def main():
    small, large, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    a, b = self_costs(small), self_costs(large)
    per = {fn: (b.get(fn, 0) - a.get(fn, 0)) / frames for fn in set(a) | set(b)}
    totals = {k: 0.0 for k in KINDS}
    for fn, v in per.items():
        totals[kind(fn)] += v
    for k in KINDS:
        print(f"  {k:<10} {totals[k]:9.0f} instructions/frame")
    print(f"  {'total':<10} {sum(totals.values()):9.0f} instructions/frame")
    for fn, v in sorted(per.items(), key=lambda x: -x[1])[:top]:
        print(f"    {v:8.0f}  {kind(fn):<9}  {fn[:110]}")


if __name__ == "__main__":
    main()
