"""Speed and quality of the mapping search. Prints figures; asserts nothing.

    python bench/bench_search.py [--model resnet18] [--pe 32x32] [--dram ddr4-3200]
                                 [--strategy guided] [--no-exhaustive] [--threads N]

Searches every layer of the model (default ResNet-18 on a 32x32 weight-stationary array with
the DDR4-3200 model and the default 256 KiB scratchpads) for cycles with the chosen strategy and
prints: wall time of the search (the native call, and the whole ``accelsim.search`` call with
its scheduling), evaluations and evaluations per second per core by kind (the configured DRAM
model, the bandwidth stand-in, the array-alone bound), and per layer shape the searched cycles,
the default tiling's, and the gap to the exhaustive optimum of the same space (the exhaustive
search is the reference; it takes minutes with a cycle-level DRAM; ``--no-exhaustive`` skips
it). Then the same search with the bandwidth DRAM model, where every evaluation is exact and
fast. Last, the evaluator alone on a typical tiled layer: every layer shape's default tiling
scored by the search's evaluator (a random search with a budget of 1 scores exactly that),
against ``simulate_conv_layer`` (``_core.simulate_memory_layers`` on copies of the same layers;
with a cycle-level DRAM it also runs each layer again with refresh off to attribute refresh
stalls, which the evaluator leaves out), one thread, best of ``--repeat`` runs. Last, the
evaluator on the candidates the search itself scores: every distinct layer shape searched alone
on one thread with the bandwidth model (where the guided search is exhaustive and every score
is the configured model's), with 256 KiB and with 64 KiB scratchpads, evaluations per second
per core per layer shape and overall (the evaluator's own time; best of ``--repeat`` runs), and
how many of their tiles the pass memo took instead of stepping them.

Run it on a release build (``pip install .`` or ``maturin develop --release``).
"""

from __future__ import annotations

import argparse
import os
import time

import accelsim
from accelsim import Accelerator, Memory, _core
from accelsim.api import _conv_geometry, load_workload


def _run(
    model: str, acc: Accelerator, memory: Memory, strategy: str, threads: int | None
) -> tuple[accelsim.SearchResult, float]:
    t0 = time.perf_counter()
    r = accelsim.search(model, acc, memory=memory, strategy=strategy, threads=threads)
    return r, time.perf_counter() - t0


def _figures(label: str, r: accelsim.SearchResult, wall: float) -> None:
    ev, rate = r.evaluations, r.evaluations_per_second_per_core
    print(f"{label}:")
    print(f"  search (native, {r.threads} threads) {r.seconds:8.3f} s")
    print(f"  accelsim.search call, whole         {wall:8.3f} s  (+ scheduling the network)")
    print(
        f"  evaluations by the configured model {ev['exact']:>8,}  {rate['exact']:>12,.0f} /s/core"
    )
    if ev["stand_in"]:
        print(
            f"  evaluations by the stand-in         {ev['stand_in']:>8,}  "
            f"{rate['stand_in']:>12,.0f} /s/core"
        )
    if ev["bound"]:
        print(
            f"  evaluations as bounds              {ev['bound']:>8,}  "
            f"{rate['bound']:>12,.0f} /s/core"
        )
    print(
        f"  cycles: default {r.default_cycles:,}, searched alone {r.alone_cycles:,}"
        + (f", scheduled {r.scheduled_cycles:,}" if r.scheduled_cycles is not None else "")
        + f"; chosen {r.cycles:,}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--pe", default="32x32")
    ap.add_argument("--dram", default="ddr4-3200")
    ap.add_argument("--strategy", default="guided", choices=accelsim.SEARCH_STRATEGIES)
    ap.add_argument("--threads", type=int, default=None, help="worker threads (default: all)")
    ap.add_argument("--no-exhaustive", action="store_true", help="skip the exhaustive reference")
    ap.add_argument("--repeat", type=int, default=5, help="runs of the evaluator timing")
    args = ap.parse_args()

    rows, cols = accelsim.parse_pe(args.pe)
    acc = Accelerator(rows=rows, cols=cols)
    memory = Memory(dram=args.dram)
    print(
        f"{args.model} on {rows}x{cols} ws, {args.dram} DRAM, 256 KiB scratchpads, "
        f"objective cycles; {os.cpu_count()} CPUs"
    )
    r, wall = _run(args.model, acc, memory, args.strategy, args.threads)
    _figures(f"{args.strategy} search", r, wall)

    best: dict[int, int] = {}
    if not args.no_exhaustive:
        ex, ex_wall = _run(args.model, acc, memory, "exhaustive", args.threads)
        _figures("exhaustive search (the reference)", ex, ex_wall)
        best = {x.search_index: x.cycles or 0 for x in ex.layers}

    print(
        f"\n{'layer (first of its shape)':<24} {'M x K x N':>18} {'default':>9} {'searched':>9}",
        end="",
    )
    print(f" {'tiling':>18} {'optimum':>9} {'gap %':>6}")
    seen: set[int] = set()
    gaps = []
    for x, lr in zip(r.layers, r.result.layers, strict=True):
        if x.search_index in seen:
            continue
        seen.add(x.search_index)
        shape = f"{lr.m}x{lr.k}x{lr.n}"
        line = f"{x.name:<24} {shape:>18} {x.default_cycles or 0:>9,} {x.cycles or 0:>9,}"
        line += f" {x.tiling!s:>18}"
        if best:
            opt = best[x.search_index]
            gap = 100 * ((x.cycles or 0) - opt) / opt
            gaps.append(gap)
            line += f" {opt:>9,} {gap:>6.2f}"
        print(line)
    if gaps:
        print(f"largest gap to the exhaustive optimum: {max(gaps):.2f} % over {len(gaps)} shapes")

    bw = Memory()
    rb, wall_b = _run(args.model, acc, bw, args.strategy, args.threads)
    print()
    _figures(f"{args.strategy} search, bandwidth DRAM model (16 B/cycle, 100 cycles)", rb, wall_b)

    print("\nthe evaluator on each distinct layer's default tiling, one thread (best of runs):")
    for mem, label in ((bw, "bandwidth"), (memory, args.dram)):
        evaluator, simulate = _typical(args.model, acc, mem, args.repeat)
        print(
            f"  {label:>10}: evaluator {evaluator:>12,.0f} /s/core, "
            f"simulate_conv_layer {simulate:>10,.0f} /s/core ({evaluator / simulate:.1f}x)"
        )

    for kib in (256, 64):
        _searched(args.model, acc, kib, args.strategy, args.repeat)


def _searched(model: str, acc: Accelerator, kib: int, strategy: str, repeat: int) -> None:
    """Evaluations per second per core on the candidates the search scores: each distinct
    layer shape searched alone, one thread, the bandwidth DRAM model."""
    workload = load_workload(model)
    seen: dict[tuple[int, ...], str] = {}
    layers = []
    for layer, s in zip(workload, workload.gemm_shapes(), strict=True):
        conv = _conv_geometry(layer)
        key = (s.m, s.k, s.n, s.groups, *(conv or ()))
        if key not in seen:
            seen[key] = layer.name
            layers.append((layer.name, (s.m, s.k, s.n, s.groups), conv))
    mem = Memory(ifmap_bytes=kib << 10, filter_bytes=kib << 10, ofmap_bytes=kib << 10)
    native = mem.native(acc.freq_mhz)
    print(
        f"\nthe evaluator on the search's own candidates ({strategy} search of each layer shape "
        f"alone, bandwidth model, {kib} KiB scratchpads, one thread, best of {repeat}):"
    )
    print(f"  {'layer (first of its shape)':<24} {'M x K x N':>18} {'scores':>7} {'/s/core':>10}")
    total_n, total_s = 0, 0.0
    stepped = skipped = 0
    for name, shape, conv in layers:
        best: tuple[int, float] | None = None
        for _ in range(repeat):
            raw = _core.search_network(
                [shape],
                acc._array,
                native,
                convs=[conv],
                strategy=strategy,
                threads=1,
                schedule=False,
            )
            n = int(raw["exact_evals"].sum())
            rate = float(raw["exact_per_second_per_core"])
            if best is None or rate > best[1]:
                best = (n, rate)
                memo = (int(raw["tiles_stepped"]), int(raw["tiles_skipped"]))
        assert best is not None
        n, rate = best
        total_n += n
        total_s += n / rate
        stepped += memo[0]
        skipped += memo[1]
        dims = f"{shape[0]}x{shape[1]}x{shape[2]}"
        print(f"  {name:<24} {dims:>18} {n:>7,} {rate:>10,.0f}")
    print(f"  {'all shapes':<24} {'':>18} {total_n:>7,} {total_n / total_s:>10,.0f}")
    print(
        f"  tiles of the layers that use the pass memo: {stepped + skipped:,}, {stepped:,} "
        f"stepped, {skipped:,} taken from the memo"
    )


def _typical(model: str, acc: Accelerator, memory: Memory, repeat: int) -> tuple[float, float]:
    """Evaluations per second of every distinct layer's default tiling: by the search's
    evaluator, and by ``simulate_conv_layer``."""
    workload = load_workload(model)
    seen: dict[tuple[int, ...], int] = {}
    for i, (layer, s) in enumerate(zip(workload, workload.gemm_shapes(), strict=True)):
        conv = _conv_geometry(layer)
        seen.setdefault((s.m, s.k, s.n, s.groups, *(conv or ())), i)
    layers = list(workload)
    shapes = [(k[0], k[1], k[2], k[3]) for k in seen]
    convs = [_conv_geometry(layers[i]) for i in seen.values()]
    native = memory.native(acc.freq_mhz)
    tilings = [_core.default_tiling(m, k, n, acc._array, native, groups=g) for m, k, n, g in shapes]
    best_eval = best_sim = 0.0
    for _ in range(repeat):
        raw = _core.search_network(
            shapes,
            acc._array,
            native,
            convs=convs,
            strategy="random",
            budget=1,
            threads=1,
            schedule=False,
        )
        best_eval = max(best_eval, float(raw["exact_per_second_per_core"]))
        # Many copies in one call, so the call's own overhead does not count.
        copies = 20 if memory.dram == "bandwidth" else 1
        t0 = time.perf_counter()
        _core.simulate_memory_layers(
            shapes * copies, acc._array, native, tilings * copies, convs * copies
        )
        best_sim = max(best_sim, copies * len(shapes) / (time.perf_counter() - t0))
    return best_eval, best_sim


if __name__ == "__main__":
    main()
