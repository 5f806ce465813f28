"""Mapping search: per layer, the tiling (and, if the hardware has several, the dataflow) with
the fewest cycles, the least energy or the least energy-delay product, scored by the cycle-level
model with the memory system; then the layers scheduled as one run. ``docs/search.md``
describes the space, the bounds and the strategies.

    result = accelsim.search("resnet18", accelsim.Accelerator(rows=32, cols=32),
                             memory=accelsim.Memory(dram="ddr4-3200"))
    result.write_mapping("resnet18.mapping.json")   # accelsim run ... --mapping replays it
    replayed = accelsim.run_schedule("resnet18", acc, memory=mem, mapping="resnet18.mapping.json")
    assert replayed.total_cycles == result.cycles

The library functions return data and raise; the ``accelsim search`` command at the end of
this module is what prints (``accelsim.cli`` registers it).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from accelsim import _core
from accelsim.api import (
    _checked_stats,
    _conv_geometry,
    _is_onnx,
    _layer_result,
    _trace_gaps,
    _trace_options,
    _vector_stats,
    _with_trace,
    _with_vector_ops,
    load_workload,
)
from accelsim.config import (
    DATAFLOWS,
    DRAM_MODELS,
    Accelerator,
    Memory,
    Tiling,
    VectorUnit,
    _input_shapes,
    _tilings,
)
from accelsim.errors import ConfigError, SimulationError, WorkloadError
from accelsim.mapping import Schedule, read_mapping, read_schedule, write_mapping
from accelsim.results import TILING_COLUMNS, LayerResult, NetworkResult, _memory_stats
from accelsim.trace import TraceOptions
from accelsim.workloads import ConvLayer, Workload, model_names

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "SEARCH_OBJECTIVES",
    "SEARCH_STRATEGIES",
    "LayerSearch",
    "SearchProgress",
    "SearchResult",
    "run_schedule",
    "search",
]

#: What a search can minimize: ``cycles``, ``energy`` (pJ) or ``edp`` (energy x cycles).
SEARCH_OBJECTIVES: tuple[str, ...] = tuple(_core.SEARCH_OBJECTIVES)
#: The strategies: ``exhaustive`` (the optimum of the space), ``random`` (a seeded sample) and
#: ``guided`` (branch and bound with a fast stand-in, then refinement; the default).
SEARCH_STRATEGIES: tuple[str, ...] = tuple(_core.SEARCH_STRATEGIES)

#: Called between search rounds as ``progress(layers_done, layers, evaluations)``.
SearchProgress = Callable[[int, int, int], None]


@dataclass(frozen=True)
class LayerSearch:
    """One layer's search: the default tiling and the searched mapping, each scored alone.

    ``cycles`` and ``energy_pj`` are the searched mapping's with the layer run alone (as
    ``accelsim run`` runs it); the layer's share of the scheduled run is in
    ``SearchResult.result``. A layer shares its search with every layer of the same shape
    (``search_index``); ``space_size`` and the evaluation counts are that search's.
    """

    name: str
    default: Tiling | None
    default_cycles: int | None
    default_energy_pj: float | None
    tiling: Tiling
    dataflow: str
    cycles: int | None
    energy_pj: float | None
    input_on_chip: bool
    search_index: int
    space_size: int
    exact_evaluations: int
    stand_in_evaluations: int
    bound_evaluations: int
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["default"] = None if self.default is None else self.default.to_dict()
        data["tiling"] = self.tiling.to_dict()
        return data


@dataclass(frozen=True)
class SearchResult:
    """A network's mapping search.

    ``result`` is the chosen plan run as ``accelsim run --mapping`` replays it (per layer, the
    cycles the layer adds to the run); ``schedule`` is ``None`` when the layers run alone
    (the schedule did not beat that, or was not asked for). Totals: ``default_*`` with every
    layer's default tiling alone, ``alone_*`` with the searched mappings alone,
    ``scheduled_*`` with them as one schedule (``None`` if not tried).
    """

    model: str
    batch: int | None
    accelerator: Accelerator
    memory: Memory
    objective: str
    strategy: str
    budget: int | None
    seed: int
    layers: tuple[LayerSearch, ...]
    schedule: Schedule | None
    result: NetworkResult
    default_cycles: int
    default_energy_pj: float
    alone_cycles: int
    alone_energy_pj: float
    scheduled_cycles: int | None
    scheduled_energy_pj: float | None
    seconds: float
    threads: int
    evaluations: Mapping[str, int] = field(default_factory=dict)
    evaluations_per_second_per_core: Mapping[str, float] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def cycles(self) -> int:
        """Cycles of the chosen plan (``result.total_cycles``)."""
        return self.result.total_cycles

    @property
    def energy_pj(self) -> float:
        return sum((r.energy or {}).get("energy_total_pj", 0.0) for r in self.result.layers)

    @property
    def tilings(self) -> dict[str, Tiling]:
        """The chosen tiling of every layer."""
        return {layer.name: layer.tiling for layer in self.layers}

    @property
    def distinct_layers(self) -> int:
        """Layer shapes searched (each distinct shape once)."""
        return len({layer.search_index for layer in self.layers})

    def mapping_schedule(self) -> Schedule:
        """The schedule table a mapping file records (``overlap`` false when the layers run
        alone; the dataflows that differ from the accelerator's either way)."""
        flows = {x.name: x.dataflow for x in self.layers if x.dataflow != self.accelerator.dataflow}
        if self.schedule is not None:
            return dataclasses.replace(self.schedule, dataflows=flows)
        return Schedule(overlap=False, dataflows=flows)

    def write_mapping(self, path: str | Path) -> Path:
        """Write the mapping file (tilings and schedule) that ``accelsim run --mapping``
        replays exactly; return the path."""
        return write_mapping(self.tilings, path, self.mapping_schedule())

    def plot_comparison(
        self, path: str | Path | None = None, formats: Sequence[str] = ("png", "svg")
    ) -> Figure:
        """Per layer, cycles and energy with the default tiling against the searched mapping
        (and each layer's share of the schedule): a matplotlib Figure, written to ``path``
        when given (needs ``pip install 'accelsim[plot]'``; see
        :func:`accelsim.plots.search_comparison`)."""
        from accelsim import plots

        return plots.search_comparison(self, path, formats)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "batch": self.batch,
            "accelerator": self.accelerator.to_dict(),
            "memory": self.memory.to_dict(),
            "objective": self.objective,
            "strategy": self.strategy,
            "budget": self.budget,
            "seed": self.seed,
            "schedule": None if self.schedule is None else self.schedule.to_dict(),
            "cycles": self.cycles,
            "energy_pj": self.energy_pj,
            "default_cycles": self.default_cycles,
            "default_energy_pj": self.default_energy_pj,
            "alone_cycles": self.alone_cycles,
            "alone_energy_pj": self.alone_energy_pj,
            "scheduled_cycles": self.scheduled_cycles,
            "scheduled_energy_pj": self.scheduled_energy_pj,
            "seconds": self.seconds,
            "threads": self.threads,
            "distinct_layers": self.distinct_layers,
            "evaluations": dict(self.evaluations),
            "evaluations_per_second_per_core": dict(self.evaluations_per_second_per_core),
            "interrupted": self.interrupted,
            "layers": [x.to_dict() for x in self.layers],
            "result": self.result.to_dict(),
        }


def _choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    canonical = value.strip().lower() if isinstance(value, str) else value
    if canonical not in choices:
        raise ConfigError(f"{name}: unknown value {value!r}; valid choices: {', '.join(choices)}")
    return str(canonical)


def _workload(
    model: str | Workload, batch: int, input_shapes: Mapping[str, tuple[int, ...]]
) -> tuple[Workload, int | None]:
    """The workload ``run`` would simulate (a zoo model, an ONNX file or a Workload)."""
    if isinstance(model, Workload):
        if batch != 1:
            raise WorkloadError(
                f"batch={batch!r} applies to zoo models only; the workload {model.name!r} "
                "carries its batch in its layer shapes"
            )
        if input_shapes:
            raise WorkloadError("input_shapes apply to ONNX models only, not to a Workload")
        return model, None
    if isinstance(model, str):
        return load_workload(model, batch, input_shapes), None if _is_onnx(model) else batch
    raise WorkloadError(
        f"model must be a model name or a Workload, got {type(model).__name__}; "
        f"valid names: {', '.join(model_names())}"
    )


def chained(workload: Workload) -> list[bool]:
    """Per layer: whether its input is the previous layer's output (so that output could stay
    on chip for it): a convolution whose input tensor (batch, channels, height, width) is the
    previous convolution's output tensor. The workload does not record which tensor a layer
    reads; this is what the shapes allow."""
    layers = list(workload)
    out = [False]
    for prev, cur in itertools.pairwise(layers):
        out.append(
            isinstance(prev, ConvLayer)
            and isinstance(cur, ConvLayer)
            and (cur.n, cur.c, cur.h, cur.w) == (prev.n, prev.k, prev.p, prev.q)
        )
    return out


def _network_result(
    workload: Workload,
    batch: int | None,
    acc: Accelerator,
    memory: Memory,
    columns: Mapping[str, Any],
) -> NetworkResult:
    shapes = workload.gemm_shapes()
    layers: list[LayerResult] = []
    n = len(shapes)
    for i, (layer, shape) in enumerate(zip(workload, shapes, strict=True)):
        raw = {name: column[i] for name, column in columns.items() if _per_layer(column, n)}
        where = f"layer {layer.name!r}"
        missing = [c for c in TILING_COLUMNS if c not in raw]
        if missing:
            raise SimulationError(f"{where}: the native result lacks {missing[0]!r}")
        tiling = Tiling(
            int(raw["tile_m"]), int(raw["tile_k"]), int(raw["tile_n"]), str(raw["tile_order"])
        )
        result = _layer_result(
            layer.name, layer.kind, shape, _checked_stats(raw, layer.name), acc.pes
        )
        counts, energy = _memory_stats(raw, where)
        layers.append(
            dataclasses.replace(result, memory_stats=counts, energy=energy, tiling=tiling)
        )
    return NetworkResult(
        model=workload.name,
        batch=batch,
        engine="fast",
        accelerator=acc,
        layers=tuple(layers),
        memory=memory,
    )


def _per_layer(column: object, n: int) -> bool:
    return (
        isinstance(column, Sequence | np.ndarray)
        and not isinstance(column, str)
        and len(column) == n
    )


def search(
    model: str | Workload,
    acc: Accelerator | None = None,
    *,
    memory: Memory | None = None,
    objective: str = "cycles",
    strategy: str = "guided",
    budget: int | None = None,
    seed: int = 0,
    batch: int = 1,
    dataflows: Sequence[str] | None = None,
    schedule: bool = True,
    write_through: bool = False,
    threads: int | None = None,
    progress: SearchProgress | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> SearchResult:
    """Search every layer's mapping of ``model`` on ``acc`` with ``memory``, then schedule.

    Args:
        model: a model name of the zoo or a :class:`Workload`.
        acc: the accelerator (default ``Accelerator()``).
        memory: the memory system (default ``Memory()``); candidates are scored by the
            cycle-level model with it.
        objective: one of ``SEARCH_OBJECTIVES``.
        strategy: one of ``SEARCH_STRATEGIES``.
        budget: most scores by the configured memory model per distinct layer shape
            (default: the strategy's; exhaustive search has none).
        seed: the random strategy's seed (same seed, same answer).
        dataflows: dataflows the hardware can run, searched per layer (default: the
            accelerator's only).
        schedule: also try the layers as one schedule (prefetch across layers, outputs kept on
            chip where they fit); kept only if it beats the layers alone.
        write_through: outputs kept on chip are also written to DRAM.
        threads: worker threads (default: every core).
        progress: called between rounds as ``progress(layers_done, layers, evaluations)``.
        input_shapes: ``{input name: dims}`` for the graph inputs of an ONNX ``model``.

    Ctrl-C (KeyboardInterrupt) stops the search and returns the best found so far
    (``interrupted`` is then true). Invalid arguments raise :class:`ConfigError`.
    """
    acc = Accelerator() if acc is None else acc
    if not isinstance(acc, Accelerator):
        raise ConfigError(f"acc must be an Accelerator, got {type(acc).__name__}")
    memory = Memory() if memory is None else memory
    if not isinstance(memory, Memory):
        raise ConfigError(f"memory must be a Memory, got {type(memory).__name__}")
    objective = _choice("objective", objective, SEARCH_OBJECTIVES)
    strategy = _choice("strategy", strategy, SEARCH_STRATEGIES)
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int)):
        raise ConfigError(f"budget must be a positive integer or None, got {budget!r}")
    if budget is not None and budget < 1:
        raise ConfigError(f"budget must be at least 1, got {budget}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ConfigError(f"seed must be an integer from 0 to 2**64 - 1, got {seed!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
        raise ConfigError(f"threads must be a positive integer or None, got {threads!r}")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be at least 1, got {threads}")
    flows = None if dataflows is None else [_choice("dataflows", d, DATAFLOWS) for d in dataflows]
    workload, recorded_batch = _workload(model, batch, _input_shapes(input_shapes))
    names = [layer.name for layer in workload]
    shapes = workload.gemm_shapes()
    native = memory.native(acc.freq_mhz)
    for layer, s in zip(workload, shapes, strict=True):
        try:  # a layer no tiling fits: say which, before searching
            _core.default_tiling(s.m, s.k, s.n, acc._array, native, groups=s.groups)
        except ConfigError as exc:
            raise ConfigError(f"layer {layer.name!r}: {exc}") from exc
    raw = _core.search_network(
        [(s.m, s.k, s.n, s.groups) for s in shapes],
        acc._array,
        native,
        convs=[_conv_geometry(layer) for layer in workload],
        chained=chained(workload),
        objective=objective,
        strategy=strategy,
        budget=budget,
        seed=seed,
        dataflows=flows,
        schedule=schedule,
        write_through=write_through,
        threads=threads or 0,
        progress=progress,
    )
    result = _network_result(workload, recorded_batch, acc, memory, raw)
    layers = []
    for i, name in enumerate(names):
        si = int(raw["search"][i])

        def cand(prefix: str, i: int = i) -> tuple[Tiling | None, int | None, float | None]:
            if int(raw[f"{prefix}_m"][i]) < 0:
                return None, None, None
            t = Tiling(
                int(raw[f"{prefix}_m"][i]),
                int(raw[f"{prefix}_k"][i]),
                int(raw[f"{prefix}_n"][i]),
                str(raw[f"{prefix}_order"][i]),
            )
            cycles = int(raw[f"{prefix}_cycles"][i])
            energy = float(raw[f"{prefix}_energy_pj"][i])
            return (
                t,
                None if cycles < 0 else cycles,
                None if math.isnan(energy) else energy,
            )

        default, dc, de = cand("default")
        best, bc, be = cand("best")
        if best is None:  # pragma: no cover - the native search always answers
            raise SimulationError(f"layer {name!r}: the search returned no mapping")
        layers.append(
            LayerSearch(
                name=name,
                default=default,
                default_cycles=dc,
                default_energy_pj=de,
                tiling=best,
                dataflow=str(raw["best_dataflow"][i]),
                cycles=bc,
                energy_pj=be,
                input_on_chip=bool(raw["input_on_chip"][i]),
                search_index=si,
                space_size=int(raw["space_size"][si]),
                exact_evaluations=int(raw["exact_evals"][si]),
                stand_in_evaluations=int(raw["stand_in_evals"][si]),
                bound_evaluations=int(raw["bound_evals"][si]),
                complete=bool(raw["complete"][si]),
            )
        )
    sched = (
        Schedule(
            overlap=True,
            write_through=bool(raw["write_through"]),
            input_on_chip=tuple(x.name for x in layers if x.input_on_chip),
        )
        if raw["overlap"]
        else None
    )
    evals = {
        "exact": int(sum(raw["exact_evals"])),
        "stand_in": int(sum(raw["stand_in_evals"])),
        "bound": int(sum(raw["bound_evals"])),
    }
    rates = {
        "exact": float(raw["exact_per_second_per_core"]),
        "stand_in": float(raw["stand_in_per_second_per_core"]),
        "bound": float(raw["bound_per_second_per_core"]),
    }
    default_cycles = sum(x.default_cycles or 0 for x in layers)
    default_energy = sum(x.default_energy_pj or 0.0 for x in layers)
    sc = raw["scheduled_cycles"]
    se = raw["scheduled_energy_pj"]
    return SearchResult(
        model=workload.name,
        batch=recorded_batch,
        accelerator=acc,
        memory=memory,
        objective=objective,
        strategy=strategy,
        budget=budget,
        seed=seed,
        layers=tuple(layers),
        schedule=sched,
        result=result,
        default_cycles=default_cycles,
        default_energy_pj=default_energy,
        alone_cycles=int(raw["alone_cycles"]),
        alone_energy_pj=float(raw["alone_energy_pj"]),
        scheduled_cycles=None if sc is None else int(sc),
        scheduled_energy_pj=None if se is None else float(se),
        seconds=float(raw["seconds"]),
        threads=int(raw["threads"]),
        evaluations=evals,
        evaluations_per_second_per_core=rates,
        interrupted=bool(raw["interrupted"]),
    )


def run_schedule(
    model: str | Workload,
    acc: Accelerator | None = None,
    *,
    memory: Memory | None = None,
    mapping: str | Path | None = None,
    tilings: Mapping[str, Tiling | tuple[int, int, int, str]] | None = None,
    schedule: Schedule | None = None,
    batch: int = 1,
    vector: VectorUnit | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    trace: TraceOptions | bool | None = None,
) -> NetworkResult:
    """Run ``model`` with per-layer tilings and a schedule: a mapping file (``mapping``), or
    ``tilings`` and ``schedule`` given directly. Layers without a tiling get the default one;
    without a schedule every layer runs alone. This is what ``accelsim run --mapping`` does
    with a mapping written by ``accelsim search``, and it reproduces the search's cycles.
    ``vector``, ``input_shapes`` and ``trace`` are as for :func:`accelsim.run`; a scheduled
    run's trace shows the layers overlapped on one timeline, each layer's span its share of
    the run (docs/trace.md, "Scheduled runs").
    """
    acc = Accelerator() if acc is None else acc
    if not isinstance(acc, Accelerator):
        raise ConfigError(f"acc must be an Accelerator, got {type(acc).__name__}")
    memory = Memory() if memory is None else memory
    if not isinstance(memory, Memory):
        raise ConfigError(f"memory must be a Memory, got {type(memory).__name__}")
    if mapping is not None:
        if tilings is not None or schedule is not None:
            raise ConfigError("give a mapping file, or tilings and a schedule, not both")
        given = read_mapping(mapping)
        schedule = read_schedule(mapping)
    else:
        given = _tilings(tilings)
    schedule = Schedule(overlap=False) if schedule is None else schedule
    if not isinstance(schedule, Schedule):
        raise ConfigError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    if vector is not None and not isinstance(vector, VectorUnit):
        raise ConfigError(f"vector must be a VectorUnit or None, got {type(vector).__name__}")
    shapes_given = _input_shapes(input_shapes)
    workload, recorded_batch = _workload(model, batch, shapes_given)
    names = [layer.name for layer in workload]
    for what, table in (
        ("tilings", given),
        ("schedule.dataflows", schedule.dataflows),
        ("schedule.input_on_chip", dict.fromkeys(schedule.input_on_chip)),
    ):
        unknown = [name for name in table if name not in names]
        if unknown:
            raise ConfigError(
                f"{what}: unknown layer {unknown[0]!r} in {workload.name!r}; "
                f"valid names: {', '.join(names)}"
            )
    shapes = workload.gemm_shapes()
    options = _trace_options(trace, "fast")
    vector_stats = _vector_stats(workload, vector)
    recorder = None
    offset = 0
    if options is not None:
        gaps, offset = _trace_gaps(workload, vector_stats)
        recorder = options.recorder(gaps, offset)
    native = memory.native(acc.freq_mhz)
    native_tilings = []
    for name, s in zip(names, shapes, strict=True):
        t = given.get(name)
        if t is None:
            flow = schedule.dataflows.get(name, acc.dataflow)
            a = acc if flow == acc.dataflow else dataclasses.replace(acc, dataflow=flow)
            mt, kt, nt, order = _core.default_tiling(
                s.m, s.k, s.n, a._array, native, groups=s.groups
            )
            t = Tiling(mt, kt, nt, order)
        native_tilings.append((t.m, t.k, t.n, t.order))
    columns = _core.simulate_schedule(
        [(s.m, s.k, s.n, s.groups) for s in shapes],
        acc._array,
        native,
        native_tilings,
        convs=[_conv_geometry(layer) for layer in workload],
        dataflows=[schedule.dataflows.get(name) for name in names],
        input_on_chip=[name in schedule.input_on_chip for name in names],
        overlap=schedule.overlap,
        write_through=schedule.write_through,
        trace=recorder,
    )
    result = _network_result(workload, recorded_batch, acc, memory, columns)
    result = _with_vector_ops(result, workload, vector, shapes_given, vector_stats)
    return _with_trace(result, recorder, offset, options)


# --- the ``accelsim search`` command (registered by accelsim.cli) ------------------------------


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``accelsim search`` on the CLI's subparsers."""
    from accelsim import cli

    p = sub.add_parser(
        "search",
        parents=[common],
        help="search every layer's tiling and schedule the network",
        description="Search the tiling of every layer of MODEL with the cycle-level model and "
        "the memory system (default: accelsim.Memory()), then schedule the layers as one run; "
        "see docs/search.md.",
    )
    p.add_argument("model", metavar="MODEL", help="model name (see `accelsim models`)")
    p.add_argument("--pe", metavar="RxC", help="array size ROWSxCOLS, e.g. 32x32 (default 32x32)")
    p.add_argument("--dataflow", choices=DATAFLOWS, help="the array's dataflow (default ws)")
    p.add_argument(
        "--dataflows",
        metavar="DF,...",
        help="dataflows the hardware can run, searched per layer, e.g. ws,os",
    )
    p.add_argument("--freq-mhz", type=float, metavar="F", help="clock (default 1000)")
    p.add_argument("--batch", type=int, metavar="N", help="batch size (default 1)")
    p.add_argument(
        "--input-shape",
        action="append",
        metavar="NAME=DIMS",
        help="shape of an ONNX graph input, e.g. input=1x3x224x224 (repeatable)",
    )
    p.add_argument("--mac-latency", type=int, metavar="N", help="cycles per MAC (default 1)")
    p.add_argument(
        "--acc-latency", type=int, metavar="N", help="cycles per accumulation (default 1)"
    )
    p.add_argument(
        "--stationary-double-buffer",
        action=argparse.BooleanOptionalAction,
        help="preload the next fold's stationary operand (default on)",
    )
    p.add_argument("--os-drain", choices=_core.OS_DRAIN_EDGES, help="os drain edge")
    p.add_argument(
        "--os-output-double-buffer",
        action=argparse.BooleanOptionalAction,
        help="overlap the os ofmap drain with the next fold (default on)",
    )
    cli._add_memory_flags(p)
    p.add_argument(
        "--objective", choices=SEARCH_OBJECTIVES, default="cycles", help="what to minimize"
    )
    p.add_argument(
        "--strategy", choices=SEARCH_STRATEGIES, default="guided", help="search strategy"
    )
    p.add_argument(
        "--budget",
        type=int,
        metavar="N",
        help="most scores by the configured memory model per distinct layer",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--threads", type=int, metavar="N", help="worker threads (default: all)")
    p.add_argument(
        "--schedule",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="schedule the layers as one run: prefetch across layers, outputs kept on chip "
        "(default on)",
    )
    p.add_argument(
        "--write-through",
        action="store_true",
        help="outputs kept on chip are also written to DRAM",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the mapping file")
    cli.add_json_flag(p, "the search result (accelsim plot draws it)")
    cli.add_quiet_flag(p)
    p.set_defaults(handler=command)


def command(args: argparse.Namespace, argv: list[str]) -> int:
    """``accelsim search``: search, print the table, write the mapping."""
    import json

    from accelsim import cli

    if args.mapping is not None:
        raise cli.UsageError(
            "--mapping applies to `accelsim run`; `accelsim search` writes a mapping with -o FILE"
        )
    if args.dram == cli.DRAM_IDEAL:
        raise cli.UsageError(
            "--dram ideal has no memory system to search a tiling for; pick a DRAM model: "
            + ", ".join(DRAM_MODELS)
        )
    # The run command's resolution of the accelerator and memory flags (and what search does
    # not take: engine fast, no config file, no vector unit).
    for attr in ("engine", "config", "vector_lanes", "vector_latency"):
        setattr(args, attr, getattr(args, attr, None))
    try:
        config = cli.resolve_run_config(args)
        flows = None
        if args.dataflows is not None:
            flows = [_choice("--dataflows", d, DATAFLOWS) for d in args.dataflows.split(",")]
        if args.budget is not None and args.budget < 1:
            raise ConfigError(f"--budget must be at least 1, got {args.budget}")
        if args.threads is not None and args.threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    except (ConfigError, WorkloadError) as exc:
        raise cli.UsageError(str(exc)) from exc
    memory = config.memory if config.memory is not None else Memory()
    json_to_stdout = args.json == "-"
    show = not args.quiet and not json_to_stdout
    out = cli._console()
    err = cli._console(stderr=True)
    layers = len(load_workload(config.model, config.batch, config.input_shapes))
    with _SearchBar(err, layers, config.model, enabled=show and err.is_terminal) as cb:
        try:
            result = search(
                config.model,
                config.accelerator,
                memory=memory,
                objective=args.objective,
                strategy=args.strategy,
                budget=args.budget,
                seed=args.seed,
                batch=config.batch,
                dataflows=flows,
                schedule=args.schedule,
                write_through=args.write_through,
                threads=args.threads,
                progress=cb,
                input_shapes=config.input_shapes,
            )
        except ConfigError as exc:  # e.g. buffers too small for any tiling of a layer
            raise cli.UsageError(str(exc)) from exc
    written: list[Path] = []
    if args.output is not None:
        written.append(result.write_mapping(args.output))
    if args.json is not None:
        text = json.dumps(result.to_dict(), indent=2) + "\n"
        if json_to_stdout:
            sys.stdout.write(text)
        else:
            Path(args.json).write_text(text, encoding="utf-8")
            written.append(Path(args.json))
    if show:
        out.print(_table(result))
        out.print(_totals(result))
    cli.list_written(written, quiet=args.quiet, stdout_taken=json_to_stdout)
    if result.interrupted:
        sys.stderr.write(f"{cli.PROG}: interrupted: the best mappings found so far\n")
        return 130
    return 0


class _SearchBar:
    """A transient Rich progress bar over distinct layers (on stderr), or no callback."""

    def __init__(self, console: Any, layers: int, label: str, *, enabled: bool) -> None:
        self.console, self.layers, self.label, self.enabled = console, layers, label, enabled
        self.bar: Any = None

    def __enter__(self) -> SearchProgress | None:
        if not self.enabled:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(
            TextColumn(f"searching {self.label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("layer shapes"),
            TextColumn("[dim]{task.fields[evals]} evaluations"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.bar.__enter__()
        task = self.bar.add_task("search", total=None, evals="0")

        def advance(done: int, total: int, evaluations: int) -> None:
            self.bar.update(task, completed=done, total=total, evals=f"{evaluations:,}")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _table(r: SearchResult) -> Any:
    from rich import box
    from rich.table import Table

    acc = r.accelerator
    t = Table(
        title=f"{r.model} on {acc.rows}x{acc.cols} {acc.dataflow}, {r.memory.dram} DRAM: "
        f"{r.strategy} search for {r.objective}",
        box=box.SIMPLE_HEAD,
    )
    t.add_column("layer", no_wrap=True)
    for name in (
        "default\ntiling",
        "default\ncycles",
        "searched\ntiling",
        "searched\ncycles",
        "gain\n%",
        "scheduled\ncycles",
        "default\nenergy uJ",
        "searched\nenergy uJ",
        "input\non chip",
    ):
        t.add_column(name, justify="right", no_wrap=True)
    for x, lr in zip(r.layers, r.result.layers, strict=True):
        gain = ""
        if x.default_cycles and x.cycles is not None:
            gain = f"{100 * (x.default_cycles - x.cycles) / x.default_cycles:.1f}"
        tiling = str(x.tiling) + ("" if x.dataflow == acc.dataflow else f" {x.dataflow}")
        t.add_row(
            x.name,
            "-" if x.default is None else str(x.default),
            "-" if x.default_cycles is None else f"{x.default_cycles:,}",
            tiling,
            "-" if x.cycles is None else f"{x.cycles:,}",
            gain,
            f"{lr.cycles:,}",
            "-" if x.default_energy_pj is None else f"{x.default_energy_pj / 1e6:,.1f}",
            "-" if x.energy_pj is None else f"{x.energy_pj / 1e6:,.1f}",
            "yes" if x.input_on_chip else "",
        )
    return t


def _totals(r: SearchResult) -> Any:
    from rich.table import Table

    g = Table.grid(padding=(0, 2))
    g.add_column(style="bold")
    g.add_column(justify="right")

    def pct(a: float, b: float) -> str:
        return f" ({100 * (b - a) / b:+.1f} % vs default)" if b else ""

    g.add_row("layers", f"{len(r.layers)} ({r.distinct_layers} distinct shapes searched)")
    g.add_row("default cycles", f"{r.default_cycles:,}")
    g.add_row(
        "searched cycles, alone", f"{r.alone_cycles:,}" + pct(r.default_cycles, r.alone_cycles)
    )
    if r.scheduled_cycles is not None:
        g.add_row("searched cycles, scheduled", f"{r.scheduled_cycles:,}")
    g.add_row(
        "chosen",
        f"{r.cycles:,} cycles, " + ("scheduled" if r.schedule is not None else "layers alone"),
    )
    g.add_row("default energy", f"{r.default_energy_pj / 1e9:.3f} mJ")
    g.add_row("searched energy", f"{r.energy_pj / 1e9:.3f} mJ")
    ev, rate = r.evaluations, r.evaluations_per_second_per_core
    parts = [f"{ev['exact']:,} exact ({rate['exact']:,.0f}/s/core)"]
    if ev["stand_in"]:
        parts.append(f"{ev['stand_in']:,} stand-in ({rate['stand_in']:,.0f}/s/core)")
    if ev["bound"]:
        parts.append(f"{ev['bound']:,} bound ({rate['bound']:,.0f}/s/core)")
    g.add_row("evaluations", ", ".join(parts))
    g.add_row("search time", f"{r.seconds:.2f} s on {r.threads} threads")
    return g
