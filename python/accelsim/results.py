"""Results of a simulation: per layer (``LayerResult``), per network (``NetworkResult``) and
for a single GEMM with its per-fold timeline (``GemmResult``).

Results are plain data: they never print. Every statistic is declared once by the native core
(:func:`stat_catalog`, with its unit and description); results carry all of them. A run with a
memory system also carries the statistics of :func:`memory_stat_catalog` and each layer's tiling.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from accelsim import _core
from accelsim.config import Accelerator, Memory, Tiling, VectorUnit
from accelsim.errors import SimulationError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from accelsim.timeline import Timeline
    from accelsim.trace import Trace

__all__ = [
    "GemmResult",
    "LayerResult",
    "NetworkResult",
    "StatInfo",
    "VectorOpResult",
    "memory_stat_catalog",
    "stall_stats",
    "stat_catalog",
]


class StatInfo(NamedTuple):
    """One statistic reported by the engines."""

    name: str
    unit: str
    description: str


@cache
def _catalog() -> tuple[StatInfo, ...]:
    return tuple(StatInfo(*entry) for entry in _core.stat_catalog())


def stat_catalog() -> list[StatInfo]:
    """Every statistic the engines report, as ``(name, unit, description)``."""
    return list(_catalog())


def stat_names() -> tuple[str, ...]:
    return tuple(info.name for info in _catalog())


@cache
def _memory_catalog() -> tuple[StatInfo, ...]:
    return tuple(StatInfo(*entry) for entry in _core.memory_stat_catalog())


def memory_stat_catalog() -> list[StatInfo]:
    """Every statistic the memory system reports, as ``(name, unit, description)``."""
    return list(_memory_catalog())


def memory_stat_names() -> tuple[str, ...]:
    return tuple(info.name for info in _memory_catalog())


@cache
def stall_stats() -> dict[str, str]:
    """The memory system's stall statistics by cause, ``{cause: statistic}``: every
    ``stall_<cause>_cycles`` of :func:`memory_stat_catalog` (``ifmap``, ``filter``, ``ofmap``,
    ...), in catalog order. Stalls of all causes plus ``compute_cycles`` make up ``cycles``."""
    prefix, suffix = "stall_", "_cycles"
    return {
        name[len(prefix) : -len(suffix)]: name
        for name in memory_stat_names()
        if name.startswith(prefix) and name.endswith(suffix)
    }


@cache
def dram_stat_names() -> tuple[str, ...]:
    """The cycle-level DRAM's statistics (``_core.dram_stat_catalog()``), which a memory run
    with a DRAM preset reports per layer as ``dram_<name>`` columns."""
    return tuple(name for name, _, _ in _core.dram_stat_catalog())


def _dram_stats(raw: Mapping[str, Any]) -> dict[str, int | float] | None:
    """The ``dram_<name>`` statistics of a native result, or ``None`` (no cycle-level DRAM)."""
    names = dram_stat_names()
    if not names or f"dram_{names[0]}" not in raw:
        return None
    out: dict[str, int | float] = {}
    for name in names:
        value = raw[f"dram_{name}"]
        out[name] = float(value) if isinstance(value, (float, np.floating)) else int(value)
    return out


#: The per-layer tiling columns of a memory run's CSV (and of ``_core.simulate_memory_layers``).
TILING_COLUMNS = ("tile_m", "tile_k", "tile_n", "tile_order")


# Statistics that are typed attributes of the result classes. Every further statistic of the
# catalog is kept in ``extra``, is readable as an attribute too (``result.pe_cycles``) and
# appears in ``to_dict`` / CSV output.
_FIELD_STATS = ("folds", "cycles", "macs", "ifmap_reads", "filter_reads", "ofmap_writes")

#: The per-fold arrays of a GEMM result, in the order the native module returns them.
FOLD_ARRAYS = (
    "fold_group",
    "fold_m0",
    "fold_m",
    "fold_k0",
    "fold_k",
    "fold_n0",
    "fold_n",
    "fold_start",
    "fold_stream_start",
    "fold_end",
)


def _split_stats(raw: Mapping[str, Any], where: str) -> tuple[dict[str, int], dict[str, int]]:
    """Catalog statistics of a native result as ``(typed fields, extra)``."""
    fields: dict[str, int] = {}
    extra: dict[str, int] = {}
    for name in stat_names():
        if name not in raw:
            raise SimulationError(f"{where}: the native result lacks the statistic {name!r}")
        (fields if name in _FIELD_STATS else extra)[name] = int(raw[name])
    missing = [name for name in _FIELD_STATS if name not in fields]
    if missing:
        raise SimulationError(f"{where}: the stat catalog lacks {', '.join(missing)}")
    return fields, extra


def _memory_stats(raw: Mapping[str, Any], where: str) -> tuple[dict[str, int], dict[str, float]]:
    """The memory-system statistics of a native result, in catalog order, as
    ``(counts, energies)``: integer statistics, and the floating-point ones (energies in pJ)."""
    counts: dict[str, int] = {}
    energies: dict[str, float] = {}
    for name in memory_stat_names():
        if name not in raw:
            raise SimulationError(f"{where}: the native result lacks the statistic {name!r}")
        value = raw[name]
        if isinstance(value, (float, np.floating)):
            energies[name] = float(value)
        else:
            counts[name] = int(value)
    return counts, energies


class _ExtraStats:
    """Attribute access to the catalog statistics kept in ``extra`` (and, for a layer run with
    a memory system, in ``memory_stats``)."""

    extra: Mapping[str, int]

    def __getattr__(self, name: str) -> int:
        if not name.startswith("_"):
            for where in ("extra", "memory_stats"):
                stats = self.__dict__.get(where) or {}
                if name in stats:
                    value: int = stats[name]
                    return value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def stat(self, name: str) -> int:
        """A statistic of the catalog by name."""
        if name in _FIELD_STATS:
            value: int = getattr(self, name)
            return value
        if name in self.extra:
            return self.extra[name]
        raise KeyError(f"unknown statistic {name!r}; valid choices: {', '.join(stat_names())}")

    def stats(self) -> dict[str, int]:
        """Every statistic of the catalog, in catalog order."""
        return {name: self.stat(name) for name in stat_names()}


def _utilization(macs: int, pes: int, cycles: int) -> float:
    """Fraction of PE-cycles doing a MAC: ``macs / (rows * cols * cycles)``."""
    return macs / (pes * cycles) if cycles > 0 else 0.0


@dataclass(frozen=True)
class LayerResult(_ExtraStats):
    """Statistics of one layer (its ``groups`` GEMMs of ``[M, K] @ [K, N]``).

    With a memory system, ``memory_stats`` holds the integer statistics of
    :func:`memory_stat_catalog` (also readable as attributes: ``result.stall_ifmap_cycles``),
    ``energy`` its energies in pJ and ``tiling`` the tiling the layer ran with; ``cycles`` then
    spans the layer from its first DMA transfer to its last write-back. With ideal memory all
    three are ``None``.
    """

    name: str
    kind: str
    m: int
    k: int
    n: int
    groups: int
    folds: int
    cycles: int
    macs: int
    ifmap_reads: int
    filter_reads: int
    ofmap_writes: int
    utilization: float
    extra: Mapping[str, int] = field(default_factory=dict)
    memory_stats: Mapping[str, int] | None = None
    energy: Mapping[str, float] | None = None
    tiling: Tiling | None = None
    #: The cycle-level DRAM's statistics (``dram_stat_names()``; ``None`` for other models).
    dram: Mapping[str, int | float] | None = None

    def memory_values(self) -> dict[str, int | float]:
        """Every statistic of :func:`memory_stat_catalog`, in catalog order (empty with ideal
        memory)."""
        values: dict[str, int | float] = {**(self.memory_stats or {}), **(self.energy or {})}
        return {name: values[name] for name in memory_stat_names() if name in values}

    def stat(self, name: str) -> int:
        """A statistic of the catalog (or, with a memory system, of the memory catalog)."""
        if self.memory_stats is not None and name in self.memory_stats:
            return self.memory_stats[name]
        return super().stat(name)

    def stats(self) -> dict[str, int]:
        """Every statistic of the catalog, then (with a memory system) the memory catalog."""
        return {**super().stats(), **(self.memory_stats or {})}

    @property
    def compute_cycles(self) -> int | None:
        """Cycles not attributed to a memory stall (``None`` with ideal memory)."""
        return None if self.memory_stats is None else self.memory_stats["compute_cycles"]

    @property
    def stalls(self) -> dict[str, int] | None:
        """Memory stall cycles by cause, ``{"ifmap", "filter", "ofmap", ...}`` (see
        :func:`stall_stats`; ``None`` with ideal memory).
        ``compute_cycles + sum(stalls.values()) == cycles``."""
        if self.memory_stats is None:
            return None
        return {cause: self.memory_stats[name] for cause, name in stall_stats().items()}

    @property
    def dram_read_bytes(self) -> int | None:
        return None if self.memory_stats is None else self.memory_stats["dram_read_bytes"]

    @property
    def dram_write_bytes(self) -> int | None:
        return None if self.memory_stats is None else self.memory_stats["dram_write_bytes"]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "m": self.m,
            "k": self.k,
            "n": self.n,
            "groups": self.groups,
            **super().stats(),
            **self.memory_values(),
        }
        if self.stalls is not None:
            data["stalls"] = self.stalls
        if self.tiling is not None:
            data["tiling"] = self.tiling.to_dict()
        if self.dram is not None:
            data["dram"] = dict(self.dram)
        data["utilization"] = self.utilization
        return data

    def csv_row(self) -> dict[str, Any]:
        """The layer's row of :meth:`NetworkResult.to_csv` (flat columns)."""
        row: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "m": self.m,
            "k": self.k,
            "n": self.n,
            "groups": self.groups,
            **super().stats(),
            **self.memory_values(),
        }
        if self.tiling is not None:
            row.update(zip(TILING_COLUMNS, self.tiling, strict=True))
        if self.dram is not None:
            row.update({f"dram_{k}": v for k, v in self.dram.items()})
        row["utilization"] = self.utilization
        return row


@dataclass(frozen=True)
class VectorOpResult:
    """An operation off the array (pooling, element-wise, normalization, softmax, ...).

    ``after`` names the array layer it follows (``None``: before the first). ``elements`` is
    ``None`` when the importer could not tell. ``cycles``, ``vectors`` and ``lane_cycles`` come
    from the vector unit (``_core.vector_stat_catalog()``); all three are ``None`` when the run
    has no vector unit (the op is counted, not modelled) or its elements are unknown.
    """

    name: str
    op: str
    op_class: str
    elements: int | None
    params: int
    after: str | None
    cycles: int | None = None
    vectors: int | None = None
    lane_cycles: int | None = None

    @property
    def modelled(self) -> bool:
        return self.cycles is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "vector",
            "op": self.op,
            "op_class": self.op_class,
            "elements": self.elements,
            "params": self.params,
            "after": self.after,
            "cycles": self.cycles,
            "vectors": self.vectors,
            "lane_cycles": self.lane_cycles,
        }


@dataclass(frozen=True)
class NetworkResult:
    """Statistics of a whole workload; its layers run one after another.

    ``batch`` is ``None`` for a user-built :class:`~accelsim.workloads.Workload` (its batch is
    part of its layer shapes). ``memory`` is the memory system, ``None`` for ideal memory.

    ``vector_ops`` are the operations off the array, in order; with a ``vector`` unit they are
    costed and their cycles are part of ``total_cycles`` (they run after the layer they follow,
    without overlap); without one they are listed but not modelled. ``input_shapes`` are the
    graph input shapes given for an ONNX model.
    """

    model: str
    batch: int | None
    engine: str
    accelerator: Accelerator
    layers: tuple[LayerResult, ...]
    memory: Memory | None = None
    vector_ops: tuple[VectorOpResult, ...] = ()
    vector: VectorUnit | None = None
    input_shapes: Mapping[str, tuple[int, ...]] | None = None
    #: The recorded timeline (``run(..., trace=...)``), not part of the results.
    trace: Trace | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.layers)

    def layer(self, name: str) -> LayerResult:
        for result in self.layers:
            if result.name == name:
                return result
        raise KeyError(f"no layer named {name!r} in {self.model!r}")

    @property
    def array_cycles(self) -> int:
        """Sum of the array layers' cycles (layers run back to back)."""
        return sum(r.cycles for r in self.layers)

    @property
    def vector_cycles(self) -> int | None:
        """Sum of the vector ops' cycles on the vector unit (``None`` without a vector unit)."""
        if self.vector is None:
            return None
        return sum(r.cycles or 0 for r in self.vector_ops)

    @property
    def vector_elements(self) -> int:
        """Elements processed by the vector ops whose element count is known."""
        return sum(r.elements or 0 for r in self.vector_ops)

    @property
    def total_cycles(self) -> int:
        """Array cycles plus, with a vector unit, vector-unit cycles (everything runs one
        after another)."""
        return self.array_cycles + (self.vector_cycles or 0)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.layers)

    @property
    def utilization(self) -> float:
        """``total_macs / (rows * cols * total_cycles)``."""
        return _utilization(self.total_macs, self.accelerator.pes, self.total_cycles)

    @property
    def time_s(self) -> float:
        """Wall-clock time at ``accelerator.freq_mhz``: ``total_cycles / (freq_mhz * 1e6)``."""
        return self.total_cycles / (self.accelerator.freq_mhz * 1e6)

    def totals(self) -> dict[str, int]:
        """Every statistic of the catalog (and, with a memory system, every integer statistic
        of the memory catalog) summed over the layers. Energies: :meth:`energy_totals`."""
        names = list(stat_names())
        if self.memory is not None and self.layers:
            names += list(self.layers[0].memory_stats or {})
        return {name: sum(r.stat(name) for r in self.layers) for name in names}

    def energy_totals(self) -> dict[str, float] | None:
        """The energies of the memory catalog (pJ) summed over the layers (``None`` with ideal
        memory)."""
        if self.memory is None:
            return None
        names = list(self.layers[0].energy or {}) if self.layers else []
        return {name: sum((r.energy or {})[name] for r in self.layers) for name in names}

    @property
    def tilings(self) -> dict[str, Tiling]:
        """The tiling each layer ran with (empty with ideal memory)."""
        return {r.name: r.tiling for r in self.layers if r.tiling is not None}

    @property
    def stalls(self) -> dict[str, int] | None:
        """Memory stall cycles by cause over all layers (``None`` with ideal memory)."""
        if self.memory is None:
            return None
        causes = stall_stats().items()
        return {cause: sum(r.stat(name) for r in self.layers) for cause, name in causes}

    @property
    def dram_bandwidth(self) -> float | None:
        """Achieved DRAM bandwidth: bytes read and written per cycle over the whole run
        (``None`` with ideal memory)."""
        if self.memory is None:
            return None
        moved = sum(r.stat("dram_read_bytes") + r.stat("dram_write_bytes") for r in self.layers)
        return moved / self.total_cycles if self.total_cycles > 0 else 0.0

    def config_dict(self) -> dict[str, Any]:
        """The fully resolved run configuration (keys of :class:`~accelsim.config.RunConfig`),
        with the tiling every layer ran with when there is a memory system."""
        config: dict[str, Any] = {"model": self.model}
        if self.batch is not None:
            config["batch"] = self.batch
        config["engine"] = self.engine
        config["accelerator"] = self.accelerator.to_dict()
        if self.memory is not None:
            config["memory"] = self.memory.to_dict()
            config["tilings"] = {name: t.to_dict() for name, t in self.tilings.items()}
        if self.vector is not None:
            config["vector"] = self.vector.to_dict()
        if self.input_shapes:
            config["input_shapes"] = {k: list(v) for k, v in self.input_shapes.items()}
        return config

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "config": self.config_dict(),
            "total_cycles": self.total_cycles,
            "total_macs": self.total_macs,
            "utilization": self.utilization,
            "time_s": self.time_s,
            "totals": {**self.totals(), **(self.energy_totals() or {})},
        }
        if self.memory is not None:
            totals = data["totals"]
            data["compute_cycles"] = totals["compute_cycles"]
            data["stalls"] = self.stalls
            data["dram_read_bytes"] = totals["dram_read_bytes"]
            data["dram_write_bytes"] = totals["dram_write_bytes"]
            data["dram_bytes_per_cycle"] = self.dram_bandwidth
        data["layers"] = [r.to_dict() for r in self.layers]
        if self.vector_ops:
            data["array_cycles"] = self.array_cycles
            data["vector_cycles"] = self.vector_cycles
            data["vector_elements"] = self.vector_elements
            data["vector_ops"] = [r.to_dict() for r in self.vector_ops]
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent) + "\n"

    def csv_columns(self) -> list[str]:
        columns = ["name", "kind", "m", "k", "n", "groups", *stat_names()]
        if self.memory is not None:
            columns += [*memory_stat_names(), *TILING_COLUMNS]
        if self.layers and self.layers[0].dram is not None:
            columns += [f"dram_{name}" for name in dram_stat_names()]
        return [*columns, "utilization"]

    @property
    def dram_row_hit_rate(self) -> float | None:
        """Row hits over all DRAM requests of the run (cycle-level DRAM only, else ``None``)."""
        if not self.layers or self.layers[0].dram is None:
            return None
        hits = sum(int(r.dram["row_hits"]) for r in self.layers if r.dram)
        requests = sum(int(r.dram["reads"]) + int(r.dram["writes"]) for r in self.layers if r.dram)
        return hits / requests if requests else 0.0

    # Plots (``accelsim.plots``; needs ``pip install 'accelsim[plot]'``). Each returns the
    # matplotlib Figure and, given ``path``, writes it (``.png`` / ``.svg`` by suffix; without
    # a suffix one file per format of ``formats``).

    def plot_layers(
        self, path: str | Path | None = None, formats: Sequence[str] = ("png", "svg")
    ) -> Figure:
        """Per layer, cycles stacked as compute plus each stall cause (ideal memory: compute
        only); see :func:`accelsim.plots.layer_cycles`."""
        from accelsim import plots

        return plots.layer_cycles(self, path, formats)

    def plot_roofline(
        self, path: str | Path | None = None, formats: Sequence[str] = ("png", "svg")
    ) -> Figure:
        """Each layer by arithmetic intensity and achieved ops per cycle under the compute
        and memory roofs; see :func:`accelsim.plots.roofline`."""
        from accelsim import plots

        return plots.roofline(self, path, formats)

    def plot_utilization(
        self,
        timeline: Timeline,
        path: str | Path | None = None,
        formats: Sequence[str] = ("png", "svg"),
    ) -> Figure:
        """The array's utilization over time, from this run's ``timeline`` (a traced run);
        see :func:`accelsim.plots.utilization_over_time`."""
        from accelsim import plots

        title = f"Array utilization over time: {plots.run_title(self)}"
        return plots.utilization_over_time(timeline, path, formats, title=title)

    def plot_dram_bandwidth(
        self,
        timeline: Timeline,
        path: str | Path | None = None,
        formats: Sequence[str] = ("png", "svg"),
    ) -> Figure:
        """DRAM bandwidth over time against the peak, from this run's ``timeline`` (a traced
        run with a memory system); see :func:`accelsim.plots.dram_bandwidth_over_time`."""
        from accelsim import plots

        title = f"DRAM bandwidth over time: {plots.run_title(self)}"
        return plots.dram_bandwidth_over_time(timeline, path, formats, title=title)

    def to_csv(self, path: str | Path | None = None) -> str:
        """One row per layer (header first). Writes ``path`` if given; returns the text."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.csv_columns(), lineterminator="\n")
        writer.writeheader()
        for r in self.layers:
            writer.writerow(r.csv_row())
        text = buffer.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8", newline="")
        return text


@dataclass(frozen=True, eq=False)
class GemmResult(_ExtraStats):
    """One ``groups x [M, K] @ [K, N]`` simulation with its per-fold timeline.

    The ``fold_*`` attributes are int64 arrays with one entry per fold (the tile of the GEMM
    mapped onto the array at once): which group, the tile's origin and extent along M, K and N,
    and its start / stream-start / end cycle. ``output`` is the int32 product when the ``pe``
    engine was given operands, else ``None``.
    """

    m: int
    k: int
    n: int
    groups: int
    engine: str
    accelerator: Accelerator
    folds: int
    cycles: int
    macs: int
    ifmap_reads: int
    filter_reads: int
    ofmap_writes: int
    fold_group: NDArray[np.int64]
    fold_m0: NDArray[np.int64]
    fold_m: NDArray[np.int64]
    fold_k0: NDArray[np.int64]
    fold_k: NDArray[np.int64]
    fold_n0: NDArray[np.int64]
    fold_n: NDArray[np.int64]
    fold_start: NDArray[np.int64]
    fold_stream_start: NDArray[np.int64]
    fold_end: NDArray[np.int64]
    output: NDArray[np.int32] | None
    extra: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_native(
        cls,
        raw: Mapping[str, Any],
        shape: Sequence[int],
        engine: str,
        accelerator: Accelerator,
    ) -> GemmResult:
        """Wrap the dict returned by ``_core.simulate_gemm``."""
        where = "simulate_gemm"
        stats, extra = _split_stats(raw, where)
        arrays: dict[str, NDArray[np.int64]] = {}
        for name in FOLD_ARRAYS:
            if name not in raw:
                raise SimulationError(f"{where}: the native result lacks the array {name!r}")
            arrays[name] = np.asarray(raw[name], dtype=np.int64)
        m, k, n, groups = shape
        return cls(
            m=m,
            k=k,
            n=n,
            groups=groups,
            engine=engine,
            accelerator=accelerator,
            folds=stats["folds"],
            cycles=stats["cycles"],
            macs=stats["macs"],
            ifmap_reads=stats["ifmap_reads"],
            filter_reads=stats["filter_reads"],
            ofmap_writes=stats["ofmap_writes"],
            fold_group=arrays["fold_group"],
            fold_m0=arrays["fold_m0"],
            fold_m=arrays["fold_m"],
            fold_k0=arrays["fold_k0"],
            fold_k=arrays["fold_k"],
            fold_n0=arrays["fold_n0"],
            fold_n=arrays["fold_n"],
            fold_start=arrays["fold_start"],
            fold_stream_start=arrays["fold_stream_start"],
            fold_end=arrays["fold_end"],
            output=raw.get("output"),
            extra=extra,
        )

    @property
    def utilization(self) -> float:
        """``macs / (rows * cols * cycles)``."""
        return _utilization(self.macs, self.accelerator.pes, self.cycles)

    def fold_table(self) -> dict[str, NDArray[np.int64]]:
        """The per-fold arrays as columns (e.g. ``pandas.DataFrame(result.fold_table())``)."""
        return {name: getattr(self, name) for name in FOLD_ARRAYS}
