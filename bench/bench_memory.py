"""Speed and memory of the memory-system model. Prints figures; asserts nothing.

    python bench/bench_memory.py [--repeat N] [--sram BYTES]

For ResNet-18 on a 32x32 array with three scratchpads of ``--sram`` bytes (default 64 KiB each),
for each DRAM model the native module offers (``_core.DRAM_MODELS``; the bandwidth model at
16 B/cycle and 100 cycles of latency): total cycles, stall cycles by cause, DRAM traffic, energy,
the DRAM's energy split into core and I/O (per byte the memory system moved and per byte on the
DRAM's pins, whole bursts), the wall time of ``accelsim.run`` (the whole simulation, tiling
choice included) and the peak RSS of a fresh process (import excluded from the time, included
in the memory).

Run it on a release build (``pip install .``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import accelsim

dram, sram, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
acc = accelsim.Accelerator(rows=32, cols=32, dataflow="ws")
memory = accelsim.Memory(
    ifmap_bytes=sram, filter_bytes=sram, ofmap_bytes=sram, dram=dram, bandwidth=16.0, latency=100
)
best = float("inf")
for _ in range(repeat):
    t0 = time.perf_counter()
    r = accelsim.run("resnet18", acc, memory=memory)
    best = min(best, time.perf_counter() - t0)
t = r.totals()
keys = ["compute_cycles", "stall_ifmap_cycles", "stall_filter_cycles",
        "stall_ofmap_cycles", "stall_refresh_cycles", "dram_read_bytes", "dram_write_bytes"]
out = {k: float(t[k]) for k in keys}
out["cycles"] = float(r.total_cycles)
e = r.energy_totals() or {}
for k in ("energy_total_pj", "energy_dram_pj", "energy_dram_core_pj", "energy_dram_io_pj"):
    out[k] = float(e[k])
out["pin_bytes"] = float(sum(
    (l.dram or {}).get("bytes_read", 0) + (l.dram or {}).get("bytes_written", 0) for l in r.layers
))
out["io_pj_per_bit"] = memory.dram_io_read_pj_per_bit
out["wall_s"] = best
out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions (best is kept)")
    ap.add_argument("--sram", type=int, default=64 << 10, help="bytes of each scratchpad")
    args = ap.parse_args()

    from accelsim import _core

    print(f"ResNet-18, 32x32 ws, scratchpads of {args.sram // 1024} KiB each, fast engine")
    head = ("dram", "cycles", "compute", "stall ifmap", "stall filter", "stall ofmap", "refresh")
    head2 = ("DRAM MB", "energy mJ", "wall s", "peak MiB")
    print("{:>12} {:>11} {:>11} {:>11} {:>12} {:>11} {:>8}".format(*head), end=" ")
    print("{:>9} {:>10} {:>7} {:>9}".format(*head2))
    rows = {}
    for dram in _core.DRAM_MODELS:
        res = subprocess.run(
            [sys.executable, "-c", CHILD, dram, str(args.sram), str(args.repeat)],
            check=True,
            capture_output=True,
            text=True,
        )
        r = rows[dram] = json.loads(res.stdout.strip().splitlines()[-1])
        mb = (r["dram_read_bytes"] + r["dram_write_bytes"]) / 1e6
        print(
            f"{dram:>12} {r['cycles']:>11,.0f} {r['compute_cycles']:>11,.0f} "
            f"{r['stall_ifmap_cycles']:>11,.0f} {r['stall_filter_cycles']:>12,.0f} "
            f"{r['stall_ofmap_cycles']:>11,.0f} {r['stall_refresh_cycles']:>8,.0f} "
            f"{mb:>9.1f} {r['energy_total_pj'] / 1e9:>10.2f} "
            f"{r['wall_s']:>7.3f} {r['peak_mib']:>9.1f}"
        )
    print("\nDRAM energy (docs/energy.md): core and I/O, per byte moved and per byte on the pins")
    head3 = ("dram", "core mJ", "I/O mJ", "DRAM mJ", "pJ/B moved", "pJ/B pins", "I/O pJ/bit")
    print("{:>12} {:>8} {:>8} {:>8} {:>11} {:>10} {:>11}".format(*head3))
    for dram, r in rows.items():
        moved = r["dram_read_bytes"] + r["dram_write_bytes"]
        pins = r["pin_bytes"] or moved  # the bandwidth model moves bytes, not bursts
        print(
            f"{dram:>12} {r['energy_dram_core_pj'] / 1e9:>8.3f} "
            f"{r['energy_dram_io_pj'] / 1e9:>8.3f} {r['energy_dram_pj'] / 1e9:>8.3f} "
            f"{r['energy_dram_pj'] / moved:>11.1f} {r['energy_dram_pj'] / pins:>10.1f} "
            f"{r['io_pj_per_bit']:>11.3f}"
        )


if __name__ == "__main__":
    main()
