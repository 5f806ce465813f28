"""Results of a simulation: per layer (``LayerResult``), per network (``NetworkResult``) and
for a single GEMM with its per-fold timeline (``GemmResult``).

Results are plain data: they never print. Every statistic is declared once by the native core
(:func:`stat_catalog`, with its unit and description); results carry all of them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from accelsim import _core
from accelsim.config import Accelerator
from accelsim.errors import SimulationError

__all__ = ["GemmResult", "LayerResult", "NetworkResult", "StatInfo", "stat_catalog"]


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


class _ExtraStats:
    """Attribute access to the catalog statistics kept in ``extra``."""

    extra: Mapping[str, int]

    def __getattr__(self, name: str) -> int:
        if not name.startswith("_"):
            extra = self.__dict__.get("extra", {})
            if name in extra:
                value: int = extra[name]
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
    """Statistics of one layer (its ``groups`` GEMMs of ``[M, K] @ [K, N]``)."""

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "m": self.m,
            "k": self.k,
            "n": self.n,
            "groups": self.groups,
            **self.stats(),
            "utilization": self.utilization,
        }


@dataclass(frozen=True)
class NetworkResult:
    """Statistics of a whole workload; its layers run one after another.

    ``batch`` is ``None`` for a user-built :class:`~accelsim.workloads.Workload` (its batch is
    part of its layer shapes).
    """

    model: str
    batch: int | None
    engine: str
    accelerator: Accelerator
    layers: tuple[LayerResult, ...]

    def __len__(self) -> int:
        return len(self.layers)

    def layer(self, name: str) -> LayerResult:
        for result in self.layers:
            if result.name == name:
                return result
        raise KeyError(f"no layer named {name!r} in {self.model!r}")

    @property
    def total_cycles(self) -> int:
        """Sum of the layers' cycles (layers run back to back)."""
        return sum(r.cycles for r in self.layers)

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
        """Every statistic of the catalog summed over the layers."""
        return {name: sum(r.stat(name) for r in self.layers) for name in stat_names()}

    def config_dict(self) -> dict[str, Any]:
        """The fully resolved run configuration (keys of :class:`~accelsim.config.RunConfig`)."""
        config: dict[str, Any] = {"model": self.model}
        if self.batch is not None:
            config["batch"] = self.batch
        config["engine"] = self.engine
        config["accelerator"] = self.accelerator.to_dict()
        return config

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config_dict(),
            "total_cycles": self.total_cycles,
            "total_macs": self.total_macs,
            "utilization": self.utilization,
            "time_s": self.time_s,
            "totals": self.totals(),
            "layers": [r.to_dict() for r in self.layers],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent) + "\n"

    def csv_columns(self) -> list[str]:
        return ["name", "kind", "m", "k", "n", "groups", *stat_names(), "utilization"]

    def to_csv(self, path: str | Path | None = None) -> str:
        """One row per layer (header first). Writes ``path`` if given; returns the text."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.csv_columns(), lineterminator="\n")
        writer.writeheader()
        for r in self.layers:
            writer.writerow(r.to_dict())
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
