"""Pictures of a run: where the cycles went, how busy the array and DRAM were over time, how
close each layer came to its roofline, and what the mapping search gained.

Every function returns a matplotlib :class:`~matplotlib.figure.Figure` and, given ``path``,
also writes it (the format from the suffix: ``.png`` or ``.svg``; without a suffix, one file
per format of ``formats``). Figures are drawn on the Agg canvas: nothing here opens a window
or touches ``matplotlib.pyplot``'s global state. matplotlib is an optional dependency,
``pip install 'accelsim[plot]'``; without it these functions raise
:class:`~accelsim.errors.ConfigError` saying so.

A run is a :class:`~accelsim.results.NetworkResult` or its ``to_dict()`` form (what a run
directory's ``stats.json`` holds), so ``accelsim plot RUN_DIR`` draws exactly what
``result.plot_layers()`` draws. ``docs/report.md`` describes every plot and what it answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from accelsim.errors import AccelsimError, ConfigError
from accelsim.timeline import Timeline

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from accelsim.results import NetworkResult
    from accelsim.search import SearchResult

__all__ = [
    "INSTALL_HINT",
    "PLOT_FORMATS",
    "RUN_PLOTS",
    "TRACE_NOTE",
    "PlotSet",
    "Roofline",
    "RooflinePoint",
    "RunDir",
    "dram_bandwidth_over_time",
    "is_search_json",
    "layer_cycles",
    "layer_segments",
    "parse_formats",
    "peak_bytes_per_cycle",
    "plot_run_dir",
    "plot_search_json",
    "read_run_dir",
    "roofline",
    "roofline_data",
    "run_dir_figures",
    "run_title",
    "save",
    "search_comparison",
    "utilization_over_time",
]

#: The file formats figures are written in.
PLOT_FORMATS = ("png", "svg")
INSTALL_HINT = "plotting needs matplotlib: pip install 'accelsim[plot]'"

#: One colour per part of a layer's cycles (stall causes not listed take the next free colour).
_COLOURS = {
    "compute": "#4C72B0",
    "ifmap": "#DD8452",
    "filter": "#55A868",
    "ofmap": "#C44E52",
    "bank": "#8172B3",
    "refresh": "#937860",
    "vector": "#8C8C8C",
}
_SPARE = ("#DA8BC3", "#CCB974", "#64B5CD", "#B07AA1")
_DPI = 120
#: The roofline names the layers that reach less than this fraction of their roof.
_LABEL_BELOW = 0.8


def _figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas (no pyplot, no display)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _thousands(ax: Axes, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _pos: f"{v:,.0f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def save(fig: Figure, path: str | Path, formats: Sequence[str] = PLOT_FORMATS) -> list[Path]:
    """Write ``fig`` to ``path``; return the files written. A ``.png`` or ``.svg`` suffix picks
    the format; without one, ``path`` is a stem and one file per format is written."""
    target = Path(path)
    suffix = target.suffix.lower().lstrip(".")
    if suffix in PLOT_FORMATS:
        pairs = [(target, suffix)]
    else:
        bad = [f for f in formats if f not in PLOT_FORMATS]
        if bad or not formats:
            raise ConfigError(
                f"format: unknown {bad[0]!r}; valid choices: {', '.join(PLOT_FORMATS)}"
                if bad
                else f"format: give at least one of {', '.join(PLOT_FORMATS)}"
            )
        pairs = [(target.with_name(f"{target.name}.{f}"), f) for f in formats]
    from matplotlib import rc_context

    written = []
    for file, fmt in pairs:
        file.parent.mkdir(parents=True, exist_ok=True)
        # No creation date and fixed element ids in the SVG: the same run gives the same file.
        meta = {"Date": None} if fmt == "svg" else {}
        with rc_context({"svg.hashsalt": "accelsim"}):
            fig.savefig(file, format=fmt, metadata=meta)
        written.append(file)
    return written


def _finish(fig: Figure, path: str | Path | None, formats: Sequence[str]) -> Figure:
    if path is not None:
        save(fig, path, formats)
    return fig


# --- the run, as plain data -------------------------------------------------------------------


def _run_dict(run: NetworkResult | Mapping[str, Any]) -> Mapping[str, Any]:
    """A run as ``NetworkResult.to_dict()`` (what ``stats.json`` holds)."""
    if isinstance(run, Mapping):
        if "layers" not in run or "config" not in run:
            raise ConfigError("run: expected a NetworkResult or its to_dict() (stats.json) form")
        return run
    return run.to_dict()


def run_title(run: NetworkResult | Mapping[str, Any]) -> str:
    """``"resnet18 on 32x32 ws, DRAM ddr4-3200"``: what the plots' titles say about a run."""
    return _title(_run_dict(run))


def _title(stats: Mapping[str, Any]) -> str:
    config = stats["config"]
    acc = config["accelerator"]
    memory = config.get("memory")
    where = "ideal memory" if memory is None else _dram_label(memory)
    return f"{config['model']} on {acc['rows']}x{acc['cols']} {acc['dataflow']}, {where}"


def _dram_label(memory: Mapping[str, Any]) -> str:
    if memory["dram"] == "bandwidth":
        return f"DRAM {float(memory['bandwidth']):g} B/cycle"
    return f"DRAM {memory['dram']}"


def _stall_causes(layers: Sequence[Mapping[str, Any]]) -> list[str]:
    """Stall causes in the order the results list them (``stall_stats()``)."""
    causes: list[str] = []
    for layer in layers:
        for cause in layer.get("stalls") or {}:
            if cause not in causes:
                causes.append(cause)
    return causes


def _colour(part: str, index: int) -> str:
    return _COLOURS.get(part, _SPARE[index % len(_SPARE)])


def layer_segments(run: NetworkResult | Mapping[str, Any]) -> dict[str, list[int]]:
    """What :func:`layer_cycles` stacks, per array layer: ``{"compute": [...], "<cause>":
    [...], ..., "vector": [...]}``. With a memory system ``compute + stalls == cycles`` of
    each layer; with ideal memory every cycle is compute. ``vector`` (only with a vector unit)
    holds the vector-unit cycles of the ops that follow each layer (ops before the first layer
    count with the first), so all segments together sum to the run's ``total_cycles``."""
    stats = _run_dict(run)
    layers = stats["layers"]
    causes = _stall_causes(layers)
    parts: dict[str, list[int]] = {"compute": []}
    for cause in causes:
        parts[cause] = []
    for layer in layers:
        stalls = layer.get("stalls")
        if stalls is None:
            parts["compute"].append(int(layer["cycles"]))
            for cause in causes:
                parts[cause].append(0)
        else:
            parts["compute"].append(int(layer["compute_cycles"]))
            for cause in causes:
                parts[cause].append(int(stalls.get(cause, 0)))
    ops = stats.get("vector_ops") or []
    if any(op.get("cycles") is not None for op in ops):
        index = {layer["name"]: i for i, layer in enumerate(layers)}
        vector = [0] * len(layers)
        for op in ops:
            if op.get("cycles") is not None and layers:
                vector[index.get(op.get("after"), 0)] += int(op["cycles"])
        parts["vector"] = vector
    return parts


def layer_cycles(
    run: NetworkResult | Mapping[str, Any],
    path: str | Path | None = None,
    formats: Sequence[str] = PLOT_FORMATS,
) -> Figure:
    """Per layer, a bar of its cycles stacked as compute plus each stall cause (ifmap,
    filter, ofmap, bank, refresh: where the array waited for memory), and the vector-unit
    cycles of the ops after it when a vector unit is modelled. Ideal memory: compute only."""
    stats = _run_dict(run)
    layers = stats["layers"]
    names = [layer["name"] for layer in layers]
    parts = layer_segments(stats)
    n = len(names)
    fig = _figure(min(40.0, max(8.0, 0.32 * n + 3)), 5.0)
    ax = fig.add_subplot()
    x = np.arange(n)
    bottom = np.zeros(n)
    ideal = stats["config"].get("memory") is None
    for i, (part, values) in enumerate(parts.items()):
        heights = np.asarray(values, dtype=np.float64)
        if part != "compute" and not heights.any():
            continue  # a cause that never stalled gets no legend entry
        label = {
            "compute": "compute" + (" (ideal memory: no stalls)" if ideal else ""),
            "vector": "vector unit (ops after the layer)",
        }.get(part, f"stall: {part}")
        ax.bar(
            x,
            heights,
            bottom=bottom,
            width=0.8,
            label=label,
            color=_colour(part, i),
            hatch="//" if part == "vector" else None,
            gid=part,
        )
        bottom += heights
    ax.set_xticks(x, names, rotation=90, fontsize=7 if n > 30 else 8)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylabel("cycles")
    ax.set_xlabel("layer")
    _thousands(ax)
    total = int(stats["total_cycles"])
    ax.set_title(f"Cycles per layer: {_title(stats)}\n{total:,} cycles in total", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return _finish(fig, path, formats)


# --- over time (a Timeline from a traced run) -------------------------------------------------


def _edges_us(timeline: Timeline) -> np.ndarray[Any, np.dtype[np.float64]]:
    start = timeline.start.astype(np.float64)
    if len(start) == 0:
        raise ConfigError("timeline: no bins to plot")
    edges = np.append(start, start[-1] + timeline.bin_cycles)
    return edges / timeline.freq_mhz


def _layer_bands(ax: Axes, timeline: Timeline, label_y: float) -> None:
    """Alternate shading per layer, with the names of the layers wide enough to label
    written upwards from ``label_y`` (data units, above the plotted values)."""
    end_us = (timeline.start[-1] + timeline.bin_cycles) / timeline.freq_mhz
    for i, span in enumerate(timeline.layers):
        a = span.start / timeline.freq_mhz
        b = (span.start + span.cycles) / timeline.freq_mhz
        if i % 2 == 0:
            ax.axvspan(a, b, color="#000000", alpha=0.06, linewidth=0)
        if b - a > 0.02 * end_us:
            ax.text(
                (a + b) / 2,
                label_y,
                span.name,
                ha="center",
                va="bottom",
                fontsize=6,
                rotation=90,
                clip_on=True,
            )


def _cycles_axis(ax: Axes, timeline: Timeline) -> None:
    """Time in microseconds below, accelerator cycles on a secondary axis above."""
    f = timeline.freq_mhz

    def to_cycles(us: Any) -> Any:
        return np.asarray(us, dtype=np.float64) * f

    def to_us(cycles: Any) -> Any:
        return np.asarray(cycles, dtype=np.float64) / f

    top = ax.secondary_xaxis("top", functions=(to_cycles, to_us))
    top.set_xlabel("accelerator cycles", fontsize=8)
    top.xaxis.set_major_formatter(_formatter())
    ax.set_xlabel(f"time (µs at {f:g} MHz)")


def _formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def _unrecorded(ax: Any, timeline: Timeline) -> None:
    """Hatch what the trace did not record (outside its window, past an event cap's cut), so
    that its zeros are not read as an idle array; the mean covers the recorded part only."""
    if not timeline.partial:
        return
    f = timeline.freq_mhz
    end = (timeline.start[-1] + timeline.bin_cycles) / f if len(timeline.start) else 0.0
    until = timeline.total_cycles if timeline.recorded_until is None else timeline.recorded_until
    spans = [(0.0, timeline.recorded_from / f), (until / f, end)]
    for k, (a, b) in enumerate(spans):
        if b > a:
            ax.axvspan(
                a,
                b,
                facecolor="none",
                edgecolor="#888888",
                hatch="//",
                linewidth=0,
                label="not recorded" if k == 0 or spans[0][1] <= spans[0][0] else None,
            )


def utilization_over_time(
    timeline: Timeline,
    path: str | Path | None = None,
    formats: Sequence[str] = PLOT_FORMATS,
    *,
    title: str | None = None,
) -> Figure:
    """The array's utilization (MACs done / (PEs x cycles)) in each bin of the timeline, with
    the layers shaded and the run's mean: when the array was busy, and when it waited."""
    edges = _edges_us(timeline)
    values = 100 * timeline.pe_utilization
    fig = _figure(11.0, 4.5)
    ax = fig.add_subplot()
    ax.stairs(values, edges, fill=True, color=_COLOURS["compute"], alpha=0.85, label="utilization")
    weights = timeline.recorded_weights()
    mean = float(np.average(values, weights=weights)) if weights.sum() > 0 else 0.0
    where = " (recorded part)" if timeline.partial else ""
    ax.axhline(mean, color="black", linestyle="--", linewidth=1, label=f"mean {mean:.1f} %{where}")
    _layer_bands(ax, timeline, 102.0)
    _unrecorded(ax, timeline)
    ax.set_ylim(0, 140)
    ax.set_yticks(np.arange(0, 101, 20))
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylabel("PE utilization (%)")
    _cycles_axis(ax, timeline)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    head = title or "Array utilization over time"
    ax.set_title(
        f"{head}\n{timeline.pes:,} PEs, bins of {timeline.bin_cycles:,} cycles",
        fontsize=10,
        pad=10,
    )
    return _finish(fig, path, formats)


def dram_bandwidth_over_time(
    timeline: Timeline,
    path: str | Path | None = None,
    formats: Sequence[str] = PLOT_FORMATS,
    *,
    title: str | None = None,
) -> Figure:
    """DRAM bandwidth (bytes read and written) in each bin of the timeline against the DRAM's
    peak: whether memory was the bottleneck, and when."""
    peak = timeline.peak_gbps()
    if peak is None and not timeline.dram_bytes.any():
        raise ConfigError("timeline: the run has ideal memory, so no DRAM bandwidth to plot")
    edges = _edges_us(timeline)
    values = timeline.dram_gbps()
    fig = _figure(11.0, 4.5)
    ax = fig.add_subplot()
    ax.stairs(values, edges, fill=True, color=_COLOURS["ifmap"], alpha=0.85, label="DRAM traffic")
    weights = timeline.recorded_weights()
    mean = float(np.average(values, weights=weights)) if weights.sum() > 0 else 0.0
    where = " (recorded part)" if timeline.partial else ""
    ax.axhline(
        mean, color="black", linestyle="--", linewidth=1, label=f"mean {mean:.2f} GB/s{where}"
    )
    top = float(values.max()) if len(values) else 0.0
    if peak is not None:
        ax.axhline(peak, color="#C44E52", linewidth=1.5, label=f"peak {peak:.2f} GB/s")
        top = max(top, peak)
    top = top if top > 0 else 1.0
    _layer_bands(ax, timeline, 1.03 * top)
    _unrecorded(ax, timeline)
    ax.set_ylim(0, 1.45 * top)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylabel("DRAM bandwidth (GB/s, read + write)")
    _cycles_axis(ax, timeline)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    head = title or "DRAM bandwidth over time"
    ax.set_title(f"{head}\nbins of {timeline.bin_cycles:,} cycles", fontsize=10, pad=10)
    return _finish(fig, path, formats)


# --- roofline ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RooflinePoint:
    """One layer on the roofline: ``intensity`` ops per DRAM byte (``None`` if it moved no
    byte), ``ops_per_cycle`` achieved (``2 * MACs / cycles``)."""

    name: str
    intensity: float | None
    ops_per_cycle: float
    dram_bytes: int


@dataclass(frozen=True)
class Roofline:
    """The roofs and the layers' points. ``bandwidth`` is the DRAM's peak in bytes per
    accelerator cycle (``None`` with ideal memory); ``compulsory`` says the bytes are each
    operand's compulsory traffic (ideal memory), not traffic the memory system measured."""

    peak_ops_per_cycle: float
    bandwidth: float | None
    compulsory: bool
    points: tuple[RooflinePoint, ...]

    def attainable(self, intensity: float) -> float:
        """The roof at ``intensity``: ``min(peak, intensity * bandwidth)`` ops per cycle."""
        if self.bandwidth is None:
            return self.peak_ops_per_cycle
        return min(self.peak_ops_per_cycle, intensity * self.bandwidth)

    @property
    def ridge(self) -> float | None:
        """The intensity where the memory roof meets the compute roof (ops per byte)."""
        return None if not self.bandwidth else self.peak_ops_per_cycle / self.bandwidth


def peak_bytes_per_cycle(stats: Mapping[str, Any]) -> float | None:
    """The DRAM's peak bytes per accelerator cycle: the bandwidth model's ``bandwidth``, or
    a cycle-level DRAM's ``peak_bandwidth_gbps`` at the accelerator's clock (``None`` with
    ideal memory)."""
    memory = stats["config"].get("memory")
    if memory is None:
        return None
    if memory["dram"] == "bandwidth":
        return float(memory["bandwidth"])
    freq = float(stats["config"]["accelerator"]["freq_mhz"])
    for layer in stats["layers"]:
        dram = layer.get("dram")
        if dram and dram.get("peak_bandwidth_gbps"):
            return float(dram["peak_bandwidth_gbps"]) * 1e3 / freq  # GB/s -> B/ns -> B/cycle
    return None


def _compulsory_bytes(stats: Mapping[str, Any]) -> list[int]:
    """Each layer's compulsory DRAM traffic with ideal memory: its input tensor, its weights
    and its output, each byte once (int8 operands and outputs, as the memory system's
    defaults). A convolution's input is its input tensor, not the im2col matrix, when the
    workload can be loaded (a zoo model or a readable ONNX file); otherwise the GEMM
    operands ``groups * (M*K + K*N + M*N)``."""
    from accelsim.workloads import ConvLayer

    layers = stats["layers"]
    geometry: dict[str, ConvLayer] = {}
    config = stats["config"]
    try:
        from accelsim.api import load_workload

        shapes = {k: tuple(v) for k, v in (config.get("input_shapes") or {}).items()}
        workload = load_workload(config["model"], int(config.get("batch") or 1), shapes)
        geometry = {x.name: x for x in workload if isinstance(x, ConvLayer)}
    except (AccelsimError, OSError, KeyError, TypeError, ValueError):
        pass
    out = []
    for layer in layers:
        g, m, k, n = (int(layer[key]) for key in ("groups", "m", "k", "n"))
        conv = geometry.get(layer["name"])
        if conv is not None and (conv.groups, conv.k // conv.groups) == (g, n):
            ifmap = conv.n * conv.c * conv.h * conv.w
        else:
            ifmap = g * m * k
        out.append(ifmap + g * k * n + g * m * n)
    return out


def roofline_data(run: NetworkResult | Mapping[str, Any]) -> Roofline:
    """The numbers :func:`roofline` draws. Compute roof ``2 * rows * cols`` ops per cycle;
    memory roof the DRAM's peak bytes per cycle (:func:`peak_bytes_per_cycle`); each layer at
    ``2 * MACs / DRAM bytes`` (read + written; with ideal memory its compulsory traffic) and
    ``2 * MACs / cycles``."""
    stats = _run_dict(run)
    acc = stats["config"]["accelerator"]
    ideal = stats["config"].get("memory") is None
    traffic = (
        _compulsory_bytes(stats)
        if ideal
        else [int(x["dram_read_bytes"]) + int(x["dram_write_bytes"]) for x in stats["layers"]]
    )
    points = []
    for layer, moved in zip(stats["layers"], traffic, strict=True):
        ops = 2 * int(layer["macs"])
        cycles = int(layer["cycles"])
        points.append(
            RooflinePoint(
                name=layer["name"],
                intensity=ops / moved if moved > 0 else None,
                ops_per_cycle=ops / cycles if cycles > 0 else 0.0,
                dram_bytes=moved,
            )
        )
    return Roofline(
        peak_ops_per_cycle=2.0 * int(acc["rows"]) * int(acc["cols"]),
        bandwidth=peak_bytes_per_cycle(stats),
        compulsory=ideal,
        points=tuple(points),
    )


def roofline(
    run: NetworkResult | Mapping[str, Any],
    path: str | Path | None = None,
    formats: Sequence[str] = PLOT_FORMATS,
) -> Figure:
    """Each layer at its arithmetic intensity (ops per DRAM byte, 1 MAC = 2 ops) and achieved
    ops per cycle, under the compute roof (every PE busy) and the memory roof (DRAM at its
    peak): a layer near the slanted roof is bound by memory, near the flat one by compute, far
    below both by the mapping (folds that fill the array poorly) or by stalls."""
    data = roofline_data(run)
    stats = _run_dict(run)
    placed = [p for p in data.points if p.intensity is not None and p.ops_per_cycle > 0]
    fig = _figure(9.0, 6.0)
    ax = fig.add_subplot()
    xs = np.array([p.intensity for p in placed], dtype=np.float64)
    ys = np.array([p.ops_per_cycle for p in placed], dtype=np.float64)
    lo = float(xs.min()) / 4 if len(xs) else 0.1
    hi = float(xs.max()) * 4 if len(xs) else 1e4
    if data.ridge is not None:
        lo, hi = min(lo, data.ridge / 4), max(hi, data.ridge * 4)
    grid = np.geomspace(lo, hi, 256)
    peak = data.peak_ops_per_cycle
    acc = stats["config"]["accelerator"]
    ax.plot(
        grid,
        np.full_like(grid, peak),
        color="black",
        linewidth=2,
        label=f"compute roof: {peak:,.0f} ops/cycle (2 x {acc['rows']}x{acc['cols']} PEs)",
        gid="compute_roof",
    )
    if data.bandwidth is not None and data.ridge is not None:
        slope = grid[grid <= data.ridge]
        slope = np.append(slope, data.ridge)
        ax.plot(
            slope,
            slope * data.bandwidth,
            color="#C44E52",
            linewidth=2,
            label=f"memory roof: DRAM peak {data.bandwidth:.2f} B/cycle"
            f" (ridge at {data.ridge:,.1f} ops/B)",
            gid="memory_roof",
        )
    else:
        ax.plot([], [], " ", label="no memory roof (ideal memory)")
    what = (
        "layers (intensity from compulsory traffic: ideal memory)"
        if data.compulsory
        else "layers (intensity from measured DRAM traffic)"
    )
    ax.scatter(xs, ys, s=28, color=_COLOURS["compute"], zorder=3, label=what, gid="layers")
    labelled = 0
    for p, x, y in zip(placed, xs, ys, strict=True):
        if y < _LABEL_BELOW * data.attainable(x):
            labelled += 1
            ax.annotate(
                p.name, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7, alpha=0.9
            )
    if labelled:
        ax.plot([], [], " ", label=f"named: layers below {_LABEL_BELOW:.0%} of their roof")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ymin = float(ys.min()) / 3 if len(ys) else 1.0
    ax.set_ylim(min(ymin, peak / 10), peak * 2.5)
    if data.compulsory:
        ax.set_xlabel(
            "arithmetic intensity (ops per byte of compulsory DRAM traffic, ideal memory)"
        )
    else:
        ax.set_xlabel("arithmetic intensity (ops per DRAM byte read + written)")
    ax.set_ylabel("achieved ops per cycle (2 x MACs / cycles)")
    skipped = len(data.points) - len(placed)
    note = f"; {skipped} layer(s) with no DRAM traffic not placed" if skipped else ""
    ax.set_title(f"Roofline: {_title(stats)}{note}", fontsize=10)
    ax.grid(which="both", alpha=0.25)
    ax.legend(loc="lower right", fontsize=8)
    return _finish(fig, path, formats)


# --- mapping search ---------------------------------------------------------------------------


def _search_dict(search: SearchResult | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(search, Mapping):
        if "layers" not in search or "default_cycles" not in search:
            raise ConfigError("search: expected a SearchResult or its to_dict() (--json) form")
        return search
    return search.to_dict()


def search_comparison(
    search: SearchResult | Mapping[str, Any],
    path: str | Path | None = None,
    formats: Sequence[str] = PLOT_FORMATS,
) -> Figure:
    """Per layer, cycles and energy with the default tiling against the searched mapping
    (each layer run alone) and, when the search kept a schedule, each layer's share of the
    scheduled run: which layers the search helped, and by how much."""
    data = _search_dict(search)
    layers = data["layers"]
    names = [x["name"] for x in layers]
    n = len(names)
    scheduled = data.get("schedule") is not None
    series = [
        ("default tiling", [x["default_cycles"] for x in layers], "#8C8C8C"),
        ("searched, layer alone", [x["cycles"] for x in layers], _COLOURS["compute"]),
    ]
    if scheduled:
        shares = [x["cycles"] for x in data["result"]["layers"]]
        series.append(("searched, share of the scheduled run", shares, _COLOURS["filter"]))
    fig = _figure(min(40.0, max(9.0, 0.42 * n + 3)), 8.0)
    ax, ax_e = fig.subplots(2, 1, sharex=True)
    x = np.arange(n)
    width = 0.8 / len(series)
    for i, (label, values, colour) in enumerate(series):
        heights = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        ax.bar(x + (i - (len(series) - 1) / 2) * width, heights, width, label=label, color=colour)
    ax.set_ylabel("cycles")
    _thousands(ax)
    acc, memory = data["accelerator"], data["memory"]
    chosen = "scheduled" if scheduled else "layers alone"
    ax.set_title(
        f"Mapping search: {data['model']} on {acc['rows']}x{acc['cols']} {acc['dataflow']}, "
        f"{_dram_label(memory)}; {data['strategy']} search for {data['objective']}\n"
        f"{int(data['default_cycles']):,} cycles with the default tilings, "
        f"{int(data['cycles']):,} chosen ({chosen})",
        fontsize=10,
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    energy = [
        ("default tiling", [x["default_energy_pj"] for x in layers], "#8C8C8C"),
        ("searched, layer alone", [x["energy_pj"] for x in layers], _COLOURS["compute"]),
    ]
    width_e = 0.8 / len(energy)
    for i, (label, values, colour) in enumerate(energy):
        heights = np.array([np.nan if v is None else v / 1e6 for v in values], dtype=np.float64)
        ax_e.bar(x + (i - 0.5) * width_e, heights, width_e, label=label, color=colour)
    ax_e.set_ylabel("energy (µJ)")
    ax_e.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax_e.grid(axis="y", alpha=0.3)
    ax_e.set_axisbelow(True)
    ax_e.set_xticks(x, names, rotation=90, fontsize=7 if n > 30 else 8)
    ax_e.set_xlabel("layer")
    ax_e.set_xlim(-0.6, n - 0.4)
    return _finish(fig, path, formats)


# --- run directories --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunDir:
    """What a run directory holds (``accelsim.rundir``), read back: ``stats`` is
    ``stats.json`` (a run's ``to_dict()`` plus the stat catalog), ``timeline`` the parsed
    ``timeline.csv`` of a traced run (``None`` when absent)."""

    path: Path
    config: dict[str, Any]
    stats: dict[str, Any]
    metadata: dict[str, Any] | None
    layers_csv: str | None
    timeline: Timeline | None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def read_run_dir(path: str | Path) -> RunDir:
    """Read a run directory written by ``accelsim run --run-dir`` (``config.json`` and
    ``stats.json`` required; ``metadata.json``, ``layers.csv`` and ``timeline.csv`` when
    present). A missing or malformed file raises :class:`ConfigError` naming it."""
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(
            f"{root}: not a run directory (write one with `accelsim run ... --run-dir DIR`)"
        )
    for name in ("config.json", "stats.json"):
        if not (root / name).is_file():
            raise ConfigError(
                f"{root}: no {name}; not a run directory written by `accelsim run --run-dir`"
            )
    stats = _read_json(root / "stats.json")
    if "layers" not in stats or "config" not in stats or "total_cycles" not in stats:
        raise ConfigError(f"{root / 'stats.json'}: lacks layers, config or total_cycles")
    meta = root / "metadata.json"
    csv_path = root / "layers.csv"
    timeline_path = root / "timeline.csv"
    return RunDir(
        path=root,
        config=_read_json(root / "config.json"),
        stats=stats,
        metadata=_read_json(meta) if meta.is_file() else None,
        layers_csv=csv_path.read_text(encoding="utf-8") if csv_path.is_file() else None,
        timeline=Timeline.from_csv(timeline_path) if timeline_path.is_file() else None,
    )


#: The figures of a run directory, by file stem.
RUN_PLOTS = ("layers", "roofline", "utilization", "dram_bandwidth")
TRACE_NOTE = (
    "utilization and DRAM bandwidth over time need a traced run "
    "(accelsim run ... --trace --run-dir DIR)"
)


@dataclass(frozen=True)
class PlotSet:
    """Figures drawn for a run directory: ``files`` written, per plot stem, and ``skipped``:
    ``{stem: reason}`` for plots that could not be drawn."""

    files: dict[str, list[Path]]
    skipped: dict[str, str]

    @property
    def paths(self) -> list[Path]:
        return [p for files in self.files.values() for p in files]


def run_dir_figures(run: RunDir) -> tuple[dict[str, Figure], dict[str, str]]:
    """The figures of a run directory by stem (``RUN_PLOTS``) and the reasons for those
    skipped."""
    figures: dict[str, Figure] = {
        "layers": layer_cycles(run.stats),
        "roofline": roofline(run.stats),
    }
    skipped: dict[str, str] = {}
    title = _title(run.stats)
    if run.timeline is None:
        skipped["utilization"] = skipped["dram_bandwidth"] = TRACE_NOTE
    else:
        figures["utilization"] = utilization_over_time(
            run.timeline, title=f"Array utilization over time: {title}"
        )
        if run.timeline.peak_bytes_per_cycle is None and not run.timeline.dram_bytes.any():
            skipped["dram_bandwidth"] = "DRAM bandwidth over time: ideal memory, no DRAM"
        else:
            figures["dram_bandwidth"] = dram_bandwidth_over_time(
                run.timeline, title=f"DRAM bandwidth over time: {title}"
            )
    return figures, skipped


def plot_run_dir(
    path: str | Path,
    out_dir: str | Path | None = None,
    formats: Sequence[str] = PLOT_FORMATS,
) -> PlotSet:
    """Draw every plot of the run directory ``path`` into ``out_dir`` (default
    ``path/plots``), one file per plot and format (``layers``, ``roofline`` and, for a
    traced run, ``utilization`` and ``dram_bandwidth``)."""
    run = read_run_dir(path)
    out = Path(path) / "plots" if out_dir is None else Path(out_dir)
    figures, skipped = run_dir_figures(run)
    files = {stem: save(fig, out / stem, formats) for stem, fig in figures.items()}
    return PlotSet(files=files, skipped=skipped)


def plot_search_json(
    path: str | Path,
    out_dir: str | Path | None = None,
    formats: Sequence[str] = PLOT_FORMATS,
) -> PlotSet:
    """Draw the default-versus-searched comparison of a search result written by
    ``accelsim search --json FILE`` as ``FILE_STEM.comparison.{png,svg}`` in ``out_dir``
    (default: beside ``path``)."""
    src = Path(path)
    data = _read_json(src)
    out = src.parent if out_dir is None else Path(out_dir)
    fig = search_comparison(data)
    files = save(fig, out / f"{src.stem}.comparison", formats)
    return PlotSet(files={"search": files}, skipped={})


def is_search_json(path: str | Path) -> bool:
    """Whether ``path`` is a file holding a search result (``accelsim search --json``)."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "default_cycles" in data and "objective" in data


def parse_formats(text: str) -> tuple[str, ...]:
    """``"png,svg"`` as ``("png", "svg")``; an unknown format raises :class:`ConfigError`."""
    formats = tuple(f.strip().lower().lstrip(".") for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in PLOT_FORMATS]
    if bad or not formats:
        raise ConfigError(
            f"--format: bad value {text!r}; give a comma-separated list of "
            f"{', '.join(PLOT_FORMATS)}"
        )
    return tuple(dict.fromkeys(formats))
