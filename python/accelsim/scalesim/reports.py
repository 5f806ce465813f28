"""Run SCALE-Sim's model on a configuration and topology, and write its three reports.

The figures come from the native core (``accelsim._core.scalesim_simulate``); this module only
formats them the way SCALE-Sim 3.0.0's ``simulator.generate_reports`` does: ``", ".join`` of
``str()`` of each value after the layer index, a trailing comma, ``\\n`` line ends. Cycle
columns of the DETAILED report print as floats (``33.0``) because SCALE-Sim takes them from
float trace matrices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from accelsim import _core
from accelsim.scalesim.config import ScaleSimConfig
from accelsim.scalesim.topology import ScaleSimLayer

__all__ = ["REPORT_FILES", "ScaleSimResult", "simulate"]

# file -> (header after "LayerID, ", [(column, printed as float?)]) in SCALE-Sim's order.
_COMPUTE = (
    "Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, Overall Util %, "
    "Mapping Efficiency %, Compute Util %,",
    [
        "total_cycles_incl_prefetch",
        "total_cycles",
        "stall_cycles",
        "overall_util",
        "mapping_efficiency",
        "compute_util",
    ],
)
_BANDWIDTH = (
    "Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, Avg IFMAP DRAM BW, "
    "Avg FILTER DRAM BW, Avg OFMAP DRAM BW,",
    [
        "ifmap_sram_bw",
        "filter_sram_bw",
        "ofmap_sram_bw",
        "ifmap_dram_bw",
        "filter_dram_bw",
        "ofmap_dram_bw",
    ],
)
_DETAILED = (
    "SRAM IFMAP Start Cycle, SRAM IFMAP Stop Cycle, SRAM IFMAP Reads, "
    "SRAM Filter Start Cycle, SRAM Filter Stop Cycle, SRAM Filter Reads, "
    "SRAM OFMAP Start Cycle, SRAM OFMAP Stop Cycle, SRAM OFMAP Writes, "
    "DRAM IFMAP Start Cycle, DRAM IFMAP Stop Cycle, DRAM IFMAP Reads, "
    "DRAM Filter Start Cycle, DRAM Filter Stop Cycle, DRAM Filter Reads, "
    "DRAM OFMAP Start Cycle, DRAM OFMAP Stop Cycle, DRAM OFMAP Writes,",
    [
        f"{op}_{mem}_{what}"
        for mem in ("sram", "dram")
        for op in ("ifmap", "filter", "ofmap")
        for what in ("start", "stop", "writes" if op == "ofmap" else "reads")
    ],
)
_REPORTS = {
    "COMPUTE_REPORT.csv": _COMPUTE,
    "BANDWIDTH_REPORT.csv": _BANDWIDTH,
    "DETAILED_ACCESS_REPORT.csv": _DETAILED,
}
#: The report files SCALE-Sim 3.0.0 writes in CALC mode without sparsity, in OUTDIR/<run_name>.
REPORT_FILES: tuple[str, ...] = tuple(_REPORTS)


def _format(column: str, value: Any) -> str:
    if column.endswith(("_start", "_stop")):
        return str(float(value))  # numpy float64 in SCALE-Sim: "33.0"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(int(value))


@dataclass(frozen=True)
class ScaleSimResult:
    """SCALE-Sim's reports for a topology on a configuration: one dict per layer with every
    figure of ``_core.scalesim_catalog()`` (plus ``m``, ``k``, ``n``)."""

    config: ScaleSimConfig
    layers: tuple[ScaleSimLayer, ...]
    rows: tuple[dict[str, int | float], ...]

    def __len__(self) -> int:
        return len(self.layers)

    def column(self, name: str) -> list[int | float]:
        """One figure of every layer, e.g. ``column("total_cycles")``."""
        return [row[name] for row in self.rows]

    def report(self, file: str) -> str:
        """The text of report ``file`` (one of :data:`REPORT_FILES`), as SCALE-Sim writes it."""
        header, columns = _REPORTS[file]
        lines = [f"LayerID, {header}\n"]
        for lid, row in enumerate(self.rows):
            values = ", ".join(_format(c, row[c]) for c in columns)
            lines.append(f"{lid}, {values},\n")
        return "".join(lines)

    def write_reports(self, outdir: str | Path) -> Path:
        """Write the three reports to ``outdir/<run_name>/`` (created if needed); returns that
        directory."""
        target = Path(outdir) / self.config.run_name
        target.mkdir(parents=True, exist_ok=True)
        for file in REPORT_FILES:
            with open(target / file, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(self.report(file))
        return target


def _rows(columns: dict[str, Any], names: Iterable[str], count: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{} for _ in range(count)]
    for name in names:
        for i, value in enumerate(columns[name].tolist()):
            rows[i][name] = value
    return rows


def simulate(config: ScaleSimConfig, layers: Sequence[ScaleSimLayer]) -> ScaleSimResult:
    """SCALE-Sim 3.0.0's CALC-mode reports for ``layers`` on ``config``, from accelsim's
    closed-form reproduction of its model (``docs/scalesim.md``)."""
    layers = tuple(layers)
    columns = _core.scalesim_simulate(
        [layer.native() for layer in layers],
        config.rows,
        config.cols,
        config.dataflow,
        config.ifmap_kb,
        config.filter_kb,
        config.ofmap_kb,
    )
    names = [name for name, _, _ in _core.scalesim_catalog()] + ["m", "k", "n"]
    rows = _rows(columns, names, len(layers))
    return ScaleSimResult(config=config, layers=layers, rows=tuple(rows))
