"""Speed and memory of the array model. Prints figures; asserts nothing.

    python bench/bench_array.py [--repeat N] [--pe-size M]

1. The CLI end to end: wall time and peak RSS of ``accelsim run resnet18 --pe 32x32`` for each
   dataflow with the fast engine, as a fresh process (Python start-up and import included).
2. The simulation alone, in process: ``accelsim.run("resnet18", ...)`` per dataflow.
3. The register-level engine: PE updates per second (rows*cols*cycles / wall time) for one GEMM
   on a 32x32 array, per dataflow.

Run it on a release build (``pip install .``); an editable debug build is 10-50x slower.
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import time

import numpy as np

import accelsim
from accelsim import _core

DATAFLOWS = ("ws", "os", "is")


def _cli_run(dataflow: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one CLI run in a fresh process."""
    code = (
        "import resource, sys, time\n"
        "t0 = time.perf_counter()\n"
        "from accelsim.cli import main\n"
        "rc = main(['run', 'resnet18', '--pe', '32x32', '--dataflow', sys.argv[1], '--quiet'])\n"
        "wall = time.perf_counter() - t0\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(f'{wall} {rss}')\n"
        "sys.exit(rc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, dataflow], check=True, capture_output=True, text=True
    )
    wall, rss = out.stdout.split()[-2:]
    return float(wall), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed repetitions (best is kept)")
    ap.add_argument("--pe-size", type=int, default=256, help="M=K=N of the pe-engine GEMM")
    args = ap.parse_args()

    machine, pyver = platform.machine(), platform.python_version()
    print(f"accelsim {accelsim.__version__} on {machine}, Python {pyver}")
    print()
    print("ResNet-18 (21 layers, 1,814,073,344 MACs) on 32x32, fast engine")
    head = ("dataflow", "cycles", "CLI wall s", "CLI peak MiB", "sim only ms")
    print("{:>8} {:>12} {:>11} {:>13} {:>12}".format(*head))
    for df in DATAFLOWS:
        acc = accelsim.Accelerator(rows=32, cols=32, dataflow=df)
        result = accelsim.run("resnet18", acc)
        sim = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            accelsim.run("resnet18", acc)
            sim.append(time.perf_counter() - t0)
        cli = [_cli_run(df) for _ in range(max(1, args.repeat // 2))]
        wall = min(w for w, _ in cli)
        rss = max(r for _, r in cli)
        sim_ms = min(sim) * 1e3
        print(f"{df:>8} {result.total_cycles:>12,} {wall:>11.3f} {rss:>13.1f} {sim_ms:>12.2f}")

    print()
    n = args.pe_size
    print(f"pe engine, one {n}x{n}x{n} GEMM with int8 operands on 32x32")
    print(f"{'dataflow':>8} {'cycles':>10} {'PE updates':>14} {'wall s':>8} {'PE updates/s':>14}")
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, size=(n, n), dtype=np.int8)
    b = rng.integers(-128, 128, size=(n, n), dtype=np.int8)
    for df in DATAFLOWS:
        cfg = _core.ArrayConfig(32, 32, df)
        best = float("inf")
        res: dict[str, object] = {}
        for _ in range(max(1, args.repeat // 2)):
            t0 = time.perf_counter()
            res = _core.simulate_gemm(n, n, n, cfg, "pe", a, b)
            best = min(best, time.perf_counter() - t0)
        updates = int(res["pe_cycles"])  # type: ignore[call-overload]
        print(f"{df:>8} {res['cycles']:>10,} {updates:>14,} {best:>8.3f} {updates / best:>14,.0f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nthis process's peak RSS: {peak:.1f} MiB")


if __name__ == "__main__":
    main()
