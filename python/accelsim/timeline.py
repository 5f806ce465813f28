"""A run's activity over time, in fixed bins of accelerator cycles.

A :class:`Timeline` is what the time plots (array utilization over time, DRAM bandwidth
over time) draw. It is computed from a run's trace (:mod:`accelsim.trace`) and written to
``timeline.csv`` in a run directory when the run was traced, so that ``accelsim plot`` can draw
it without simulating again.

Time is global accelerator cycles: layers run one after another (vector-unit operations,
with a vector unit, between the layers they follow), the first layer starting at cycle 0.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from accelsim.errors import ConfigError

__all__ = ["TIMELINE_COLUMNS", "LayerSpan", "Timeline"]

#: Columns of ``timeline.csv``, in order.
TIMELINE_COLUMNS = ("start_cycle", "pe_utilization", "dram_bytes")


@dataclass(frozen=True)
class LayerSpan:
    """Where one layer (or vector op) sits on the timeline: ``[start, start + cycles)``."""

    name: str
    start: int
    cycles: int


@dataclass(frozen=True)
class Timeline:
    """Activity per bin of ``bin_cycles`` accelerator cycles.

    Attributes:
        bin_cycles: width of every bin, in accelerator cycles (the last bin may extend past
            ``total_cycles``; its values are still per full bin).
        freq_mhz: the accelerator clock, to turn cycles into time.
        total_cycles: the run's length in cycles.
        pes: rows x cols of the array.
        start: first cycle of each bin (``start[i] = i * bin_cycles``).
        pe_utilization: MACs done in the bin / (``pes`` x ``bin_cycles``), 0..1.
        dram_bytes: bytes read from or written to DRAM in the bin (data transfers only).
        peak_bytes_per_cycle: the DRAM's peak bytes per accelerator cycle (``None`` with
            ideal memory).
        layers: every layer's span, in order.
        recorded_from, recorded_until: the cycles ``[from, until)`` the trace recorded (its
            window, cut where an event cap stopped it); outside them the bins are 0 because
            nothing was recorded, not because nothing happened. ``until`` ``None``: the end.
    """

    bin_cycles: int
    freq_mhz: float
    total_cycles: int
    pes: int
    start: NDArray[np.int64]
    pe_utilization: NDArray[np.float64]
    dram_bytes: NDArray[np.float64]
    peak_bytes_per_cycle: float | None = None
    layers: tuple[LayerSpan, ...] = field(default=())
    recorded_from: int = 0
    recorded_until: int | None = None

    def __post_init__(self) -> None:
        n = len(self.start)
        if len(self.pe_utilization) != n or len(self.dram_bytes) != n:
            raise ConfigError(
                "timeline: start, pe_utilization and dram_bytes must have one value per bin"
            )
        if self.bin_cycles < 1:
            raise ConfigError(f"timeline: bin_cycles must be at least 1, got {self.bin_cycles}")
        if self.recorded_until is None:
            object.__setattr__(self, "recorded_until", self.total_cycles)

    @property
    def partial(self) -> bool:
        """Whether the trace recorded only part of the run (a window, or an event cap)."""
        until = self.total_cycles if self.recorded_until is None else self.recorded_until
        return self.recorded_from > 0 or until < self.total_cycles

    def recorded_weights(self) -> NDArray[np.float64]:
        """Per bin, the cycles of it that lie in the run and in the recorded range (for
        averages over what was recorded)."""
        until = self.total_cycles if self.recorded_until is None else self.recorded_until
        lo = np.maximum(self.start, self.recorded_from)
        hi = np.minimum(self.start + self.bin_cycles, min(until, self.total_cycles))
        return (hi - lo).clip(0).astype(np.float64)

    def time_us(self) -> NDArray[np.float64]:
        """Each bin's start in microseconds."""
        return self.start.astype(np.float64) / self.freq_mhz

    def dram_bytes_per_cycle(self) -> NDArray[np.float64]:
        """DRAM bytes per accelerator cycle in each bin."""
        return self.dram_bytes / self.bin_cycles

    def dram_gbps(self) -> NDArray[np.float64]:
        """DRAM bandwidth in each bin, GB/s (1 GB = 1e9 bytes)."""
        return self.dram_bytes_per_cycle() * self.freq_mhz * 1e6 / 1e9

    def peak_gbps(self) -> float | None:
        """The DRAM's peak in GB/s, or ``None``."""
        if self.peak_bytes_per_cycle is None:
            return None
        return self.peak_bytes_per_cycle * self.freq_mhz * 1e6 / 1e9

    def to_csv(self, path: str | Path | None = None) -> str:
        """The bins as CSV (``TIMELINE_COLUMNS``), preceded by ``#`` lines with the scalars and
        the layer spans; written to ``path`` when given. :meth:`from_csv` reads it back."""
        out = io.StringIO()
        out.write(f"# bin_cycles={self.bin_cycles}\n")
        out.write(f"# freq_mhz={self.freq_mhz!r}\n")
        out.write(f"# total_cycles={self.total_cycles}\n")
        out.write(f"# pes={self.pes}\n")
        out.write(f"# peak_bytes_per_cycle={self.peak_bytes_per_cycle!r}\n")
        out.write(f"# recorded_from={self.recorded_from}\n")
        out.write(f"# recorded_until={self.recorded_until}\n")
        for span in self.layers:
            out.write(f"# layer={span.start},{span.cycles},{span.name}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(TIMELINE_COLUMNS)
        for s, u, b in zip(self.start, self.pe_utilization, self.dram_bytes, strict=True):
            writer.writerow([int(s), repr(float(u)), repr(float(b))])
        text = out.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_csv(cls, path: str | Path) -> Timeline:
        """Read a ``timeline.csv`` written by :meth:`to_csv`."""
        where = str(path)
        scalars: dict[str, str] = {}
        layers: list[LayerSpan] = []
        rows: list[list[str]] = []
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read the timeline: {exc.strerror}") from exc
        body: list[str] = []
        for line in lines:
            if line.startswith("# "):
                key, _, value = line[2:].partition("=")
                if key == "layer":
                    start, cycles, name = value.split(",", 2)
                    layers.append(LayerSpan(name, int(start), int(cycles)))
                else:
                    scalars[key] = value
            else:
                body.append(line)
        reader = csv.reader(body)
        header = next(reader, None)
        if header is None or tuple(header) != TIMELINE_COLUMNS:
            raise ConfigError(f"{where}: expected the columns {', '.join(TIMELINE_COLUMNS)}")
        rows = [r for r in reader if r]
        try:
            peak = scalars.get("peak_bytes_per_cycle", "None")
            return cls(
                bin_cycles=int(scalars["bin_cycles"]),
                freq_mhz=float(scalars["freq_mhz"]),
                total_cycles=int(scalars["total_cycles"]),
                pes=int(scalars["pes"]),
                start=np.array([int(r[0]) for r in rows], dtype=np.int64),
                pe_utilization=np.array([float(r[1]) for r in rows], dtype=np.float64),
                dram_bytes=np.array([float(r[2]) for r in rows], dtype=np.float64),
                peak_bytes_per_cycle=None if peak == "None" else float(peak),
                layers=tuple(layers),
                recorded_from=int(scalars.get("recorded_from", "0")),
                recorded_until=(
                    None
                    if scalars.get("recorded_until", "None") == "None"
                    else int(scalars["recorded_until"])
                ),
            )
        except (KeyError, ValueError, IndexError) as exc:
            raise ConfigError(f"{where}: malformed timeline ({exc})") from exc
