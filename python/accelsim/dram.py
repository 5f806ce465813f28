"""The cycle-level DRAM model, standalone: run a request trace through a DRAM preset.

    from accelsim import dram

    r = dram.run_trace("reads.trace", dram="ddr4-3200", mapping="RoBaRaCoCh")
    print(r.bandwidth_gbps, r.row_hit_rate, r.avg_read_latency_ns)
    r.completion  # per-request completion cycle (numpy uint64, DRAM clock)

A trace is text, one request per line, ``<arrival_cycle> <R|W> <address>`` (the address in
decimal or ``0x`` hexadecimal, one burst per request; ``#`` starts a comment), or rows of
``(arrival_cycle, kind, address)`` where ``kind`` is ``"R"``/``"W"`` or a bool (``True`` =
write), or the three columns of :func:`read_trace`. Arrival cycles count DRAM clock cycles, or
accelerator cycles at ``freq_mhz`` when that is given. The model is specified in ``docs/dram.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import numpy as np
from numpy.typing import NDArray

from accelsim import _core
from accelsim.errors import SimulationError, WorkloadError
from accelsim.results import StatInfo

__all__ = [
    "DRAM_MAPPINGS",
    "DRAM_PRESETS",
    "DramTraceResult",
    "TraceColumns",
    "dram_config",
    "read_trace",
    "run_trace",
    "stat_catalog",
]

#: Names of the DRAM presets (``ddr4-2400``, ``ddr4-3200``, ``lpddr4-3200``, ``hbm2``).
DRAM_PRESETS: tuple[str, ...] = _core.DRAM_PRESETS
#: Names of the address mappings, most significant field first.
DRAM_MAPPINGS: tuple[str, ...] = _core.DRAM_MAPPINGS


class TraceColumns(NamedTuple):
    """A trace as three equal-length columns."""

    arrival: NDArray[np.uint64]
    write: NDArray[np.bool_]
    addr: NDArray[np.uint64]


Row: TypeAlias = Sequence[Any]
TraceInput: TypeAlias = "str | os.PathLike[str] | TraceColumns | Iterable[Row]"


@cache
def _catalog() -> tuple[StatInfo, ...]:
    return tuple(StatInfo(*entry) for entry in _core.dram_stat_catalog())


def stat_catalog() -> list[StatInfo]:
    """Every DRAM statistic as ``(name, unit, description)``."""
    return list(_catalog())


def dram_config(
    dram: str = "ddr4-3200",
    *,
    mapping: str | None = None,
    read_queue: int | None = None,
    write_queue: int | None = None,
    lookahead: int | None = None,
) -> dict[str, Any]:
    """The resolved configuration of a preset with overrides: organization, queues, mapping,
    timing in DRAM cycles (``timing_cycles``), peak bandwidth. Raises ``ConfigError``."""
    return _core.dram_config(dram, mapping, read_queue, write_queue, lookahead)


def read_trace(path: str | os.PathLike[str]) -> TraceColumns:
    """Read a text trace file; a malformed line raises ``WorkloadError`` naming file and line."""
    text = Path(path).read_text(encoding="utf-8")
    arrival, write, addr = _core.dram_parse_trace(text, os.fspath(path))
    return TraceColumns(arrival, write, addr)


def _int(value: object, what: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise WorkloadError(f"{where}: {what} must be an integer, got {value!r}")
    v = int(value)
    if not 0 <= v < 1 << 64:
        raise WorkloadError(f"{where}: {what} {v} is out of range (0 to 2**64-1)")
    return v


def _kind(value: object, where: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.upper() in ("R", "W"):
        return value.upper() == "W"
    raise WorkloadError(f"{where}: kind must be 'R', 'W' or a bool (True = write), got {value!r}")


def _columns(rows: Iterable[Row]) -> TraceColumns:
    arrival: list[int] = []
    write: list[bool] = []
    addr: list[int] = []
    for i, row in enumerate(rows):
        where = f"trace row {i}"
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != 3:
            raise WorkloadError(f"{where}: expected (arrival_cycle, kind, address), got {row!r}")
        arrival.append(_int(row[0], "arrival_cycle", where))
        write.append(_kind(row[1], where))
        addr.append(_int(row[2], "address", where))
    return TraceColumns(
        np.array(arrival, dtype=np.uint64),
        np.array(write, dtype=np.bool_),
        np.array(addr, dtype=np.uint64),
    )


def _as_columns(trace: TraceInput) -> TraceColumns:
    if isinstance(trace, (str, os.PathLike)):
        return read_trace(trace)
    if isinstance(trace, TraceColumns):
        a = np.asarray(trace.arrival)
        w = np.asarray(trace.write)
        x = np.asarray(trace.addr)
        for name, col in (("arrival", a), ("addr", x)):
            if col.dtype.kind not in "ui" or (col.dtype.kind == "i" and col.size and col.min() < 0):
                raise WorkloadError(f"trace {name}: must be non-negative integers")
        if w.dtype != np.bool_:
            raise WorkloadError("trace write: must be a bool array")
        return TraceColumns(
            np.ascontiguousarray(a, dtype=np.uint64),
            np.ascontiguousarray(w),
            np.ascontiguousarray(x, dtype=np.uint64),
        )
    return _columns(trace)


@dataclass(frozen=True, eq=False)
class DramTraceResult:
    """The outcome of :func:`run_trace`: every statistic of :func:`stat_catalog` as an
    attribute, the resolved configuration, and per-request cycles (DRAM clock)."""

    cycles: int
    reads: int
    writes: int
    row_hits: int
    row_misses: int
    row_conflicts: int
    row_hit_rate: float
    activates: int
    precharges: int
    precharge_alls: int
    refreshes: int
    write_drains: int
    rejected: int
    avg_read_latency: float
    max_read_latency: int
    avg_read_latency_ns: float
    max_read_latency_ns: float
    avg_write_latency: float
    bytes_read: int
    bytes_written: int
    bandwidth_gbps: float
    peak_bandwidth_gbps: float
    bandwidth_fraction: float
    busy_cycles: int
    busy_bandwidth_gbps: float
    data_bus_cycles: int
    rank_active_cycles: int
    time_ns: float
    #: The resolved DRAM configuration (see :func:`dram_config`).
    config: Mapping[str, Any]
    #: Cycle each request entered its queue (its arrival, or later if the queue was full).
    enqueued: NDArray[np.uint64]
    #: Cycle each request completed: a read's last data beat transferred, a write's WR
    #: command issued (posted), both as the first cycle after.
    completion: NDArray[np.uint64]
    #: The accelerator clock the arrivals were given in, if any.
    freq_mhz: float | None = None
    #: ``cycles`` in accelerator cycles (rounded up), when ``freq_mhz`` was given.
    acc_cycles: int | None = None
    #: ``completion`` in accelerator cycles (rounded up), when ``freq_mhz`` was given.
    completion_acc: NDArray[np.uint64] | None = None

    @staticmethod
    def stat_names() -> tuple[str, ...]:
        return tuple(info.name for info in _catalog())

    @classmethod
    def _from_native(cls, raw: Mapping[str, Any]) -> DramTraceResult:
        names = {f.name for f in fields(cls)}
        missing = [n for n in cls.stat_names() if n not in raw]
        unknown = [n for n in cls.stat_names() if n not in names]
        if missing or unknown:
            raise SimulationError(
                f"DRAM statistics disagree with the native catalog: missing {missing}, "
                f"not in DramTraceResult {unknown}"
            )
        return cls(**{k: v for k, v in raw.items() if k in names})

    @property
    def stats(self) -> dict[str, int | float]:
        """The statistics by name, in catalog order."""
        values: dict[str, int | float] = {n: getattr(self, n) for n in self.stat_names()}
        return values

    @property
    def latency(self) -> NDArray[np.uint64]:
        """Per-request latency: completion minus the cycle it entered its queue."""
        return self.completion - self.enqueued

    def __len__(self) -> int:
        return len(self.completion)

    def to_dict(self) -> dict[str, Any]:
        """Configuration and statistics as plain JSON-able data (no per-request arrays)."""
        d: dict[str, Any] = {
            "dram": dict(self.config),
            "requests": len(self),
            "stats": self.stats,
        }
        if self.freq_mhz is not None:
            d["freq_mhz"] = self.freq_mhz
            d["acc_cycles"] = self.acc_cycles
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def run_trace(
    trace: TraceInput,
    dram: str = "ddr4-3200",
    mapping: str | None = None,
    read_queue: int | None = None,
    write_queue: int | None = None,
    lookahead: int | None = None,
    *,
    freq_mhz: float | None = None,
) -> DramTraceResult:
    """Run a request trace through a fresh DRAM controller and device.

    ``trace`` is a trace file path, rows ``(arrival_cycle, "R"|"W"|bool, address)`` or
    :class:`TraceColumns`. ``dram`` names the preset (:data:`DRAM_PRESETS`); ``mapping`` the
    address mapping (:data:`DRAM_MAPPINGS`); ``read_queue``/``write_queue`` the queue entries
    per channel; ``lookahead`` the FR-FCFS window; ``None`` keeps the preset's value. With
    ``freq_mhz``, arrival cycles are accelerator cycles at that clock (rounded up to DRAM
    cycles) and the result also reports accelerator cycles.

    Requests enter in arrival order (ties in trace order) through an in-order front end: a
    request that finds its queue full waits, and so do those behind it. Releases the GIL;
    Ctrl-C stops a long run. Raises ``ConfigError`` for a bad configuration and
    ``WorkloadError`` for a malformed trace (naming the file and line, or the row).
    """
    cols = _as_columns(trace)
    raw = _core.dram_run_trace(
        cols.arrival,
        cols.write,
        cols.addr,
        dram,
        mapping,
        read_queue,
        write_queue,
        lookahead,
        freq_mhz,
    )
    return DramTraceResult._from_native(raw)
