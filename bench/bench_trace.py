"""What tracing costs: ResNet-18 on a 32x32 array with ideal memory, the bandwidth model and
DDR4-3200, each run untraced and traced (all categories), and the Perfetto JSON's size.

    python bench/bench_trace.py [--repeat N] [--baseline-python PY]

Tracing off must cost nothing measurable (the target: under 2 % of run time). The only honest
baseline for "off" is a build without the trace code: ``--baseline-python`` times the same
untraced runs in another interpreter (for example a venv with a build of the commit before
tracing was added) and prints the ratio. Untraced: the fastest of ``--repeat`` runs in one
process, median over the rounds; traced: the median of its runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The untraced runs, as code that both interpreters run (the baseline may lack accelsim.trace).
_TIMING = r"""
import json, statistics, sys, time
import accelsim
from accelsim import Accelerator, Memory
repeat = int(sys.argv[1])
acc = Accelerator(rows=32, cols=32)
kib = 64 << 10
memories = {
    "ideal": None,
    "bandwidth": Memory(ifmap_bytes=kib, filter_bytes=kib, ofmap_bytes=kib),
    "ddr4-3200": Memory(ifmap_bytes=kib, filter_bytes=kib, ofmap_bytes=kib, dram="ddr4-3200"),
}
out = {}
for name, memory in memories.items():
    accelsim.run("resnet18", acc, memory=memory)  # warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = accelsim.run("resnet18", acc, memory=memory)
        times.append(time.perf_counter() - t0)
    # the fastest of the runs: what the code costs, with the least of the machine's noise
    out[name] = {"seconds": min(times), "cycles": r.total_cycles}
print(json.dumps(out))
"""


def _untraced(python: str, repeat: int) -> dict[str, dict[str, float]]:
    done = subprocess.run(
        [python, "-c", _TIMING, str(repeat)], check=True, capture_output=True, text=True
    )
    result: dict[str, dict[str, float]] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per measurement (median)")
    parser.add_argument("--baseline-python", help="interpreter with a build without tracing")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (baseline)")
    args = parser.parse_args()

    import accelsim
    from accelsim import Accelerator, Memory

    acc = Accelerator(rows=32, cols=32)
    kib = 64 << 10
    memories = {
        "ideal": None,
        "bandwidth": Memory(ifmap_bytes=kib, filter_bytes=kib, ofmap_bytes=kib),
        "ddr4-3200": Memory(ifmap_bytes=kib, filter_bytes=kib, ofmap_bytes=kib, dram="ddr4-3200"),
    }
    # With a baseline, the two interpreters take turns (rounds), so that a change in the
    # machine's load affects both; each figure is the median over the rounds.
    rounds = args.rounds if args.baseline_python else 1
    offs, bases = [], []
    for _ in range(rounds):
        offs.append(_untraced(sys.executable, args.repeat))
        if args.baseline_python:
            bases.append(_untraced(args.baseline_python, args.repeat))

    def median(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
        return {
            k: {
                "seconds": statistics.median(r[k]["seconds"] for r in runs),
                "cycles": runs[0][k]["cycles"],
            }
            for k in runs[0]
        }

    off = median(offs)
    base = median(bases) if bases else None
    print(
        f"ResNet-18, 32x32 ws, 64 KiB buffers; untraced: fastest of {args.repeat} runs"
        + (f", median of {rounds} alternating rounds" if base else "")
    )
    header = f"{'memory':<10} {'cycles':>10} {'off':>9} {'traced':>9} {'write':>8} "
    header += f"{'events':>9} {'JSON MB':>8}"
    if base:
        header += f" {'baseline':>9} {'off/base':>9}"
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for name, memory in memories.items():
            times = []
            for _ in range(max(3, args.repeat // 3)):
                t0 = time.perf_counter()
                r = accelsim.run("resnet18", acc, memory=memory, trace=True)
                times.append(time.perf_counter() - t0)
            assert r.trace is not None
            assert r.total_cycles == off[name]["cycles"], "tracing changed the result"
            path = Path(tmp) / f"{name}.json"
            t0 = time.perf_counter()
            r.trace.write_perfetto(path)
            write = time.perf_counter() - t0
            line = (
                f"{name:<10} {r.total_cycles:>10,} {off[name]['seconds'] * 1e3:>7.1f}ms "
                f"{statistics.median(times) * 1e3:>7.1f}ms {write:>7.2f}s "
                f"{r.trace.events:>9,} {os.path.getsize(path) / 1e6:>8.1f}"
            )
            if base:
                b = base[name]["seconds"]
                line += f" {b * 1e3:>7.1f}ms {off[name]['seconds'] / b:>9.3f}"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
