"""Plots (``accelsim.plots``, the ``plot_*`` methods): the drawn values are the results'
values, the files are valid PNG and SVG, and a run directory gives every plot it can."""

from __future__ import annotations

import dataclasses
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install 'accelsim[plot]'")

from matplotlib.container import BarContainer
from matplotlib.image import imread
from matplotlib.patches import StepPatch

import accelsim
from accelsim import plots
from accelsim.errors import ConfigError
from accelsim.results import stall_stats
from accelsim.timeline import LayerSpan, Timeline
from accelsim.workloads import ConvLayer, GemmLayer, Workload

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ACC = accelsim.Accelerator(rows=8, cols=8)
# Small buffers and little bandwidth, so the memory runs stall.
SMALL = {"ifmap_bytes": 4 << 10, "filter_bytes": 4 << 10, "ofmap_bytes": 8 << 10}


def tiny() -> Workload:
    return Workload(
        "tiny",
        [
            ConvLayer("conv1", 1, 3, 16, 16, 16, 3, 3, pad=1),
            ConvLayer("conv2", 1, 16, 16, 16, 16, 3, 3, pad=1),
            ConvLayer("dw", 1, 16, 16, 16, 16, 3, 3, pad=1, groups=16),
            GemmLayer("fc", 1, 16 * 16 * 16, 10),
        ],
    )


@pytest.fixture(scope="module")
def ideal() -> accelsim.NetworkResult:
    return accelsim.run(tiny(), ACC)


@pytest.fixture(scope="module")
def bandwidth() -> accelsim.NetworkResult:
    return accelsim.run(tiny(), ACC, memory=accelsim.Memory(**SMALL, bandwidth=2.0, latency=50))


@pytest.fixture(scope="module")
def ddr4() -> accelsim.NetworkResult:
    acc = accelsim.Accelerator(rows=8, cols=8, freq_mhz=500.0)
    return accelsim.run(tiny(), acc, memory=accelsim.Memory(**SMALL, dram="ddr4-3200"))


def timeline_for(result: accelsim.NetworkResult, bin_cycles: int = 500) -> Timeline:
    """A hand-made timeline spanning ``result``'s layers (values from a fixed seed)."""
    spans, start = [], 0
    for layer in result.layers:
        spans.append(LayerSpan(layer.name, start, layer.cycles))
        start += layer.cycles
    bins = -(-start // bin_cycles)
    rng = np.random.default_rng(7)
    return Timeline(
        bin_cycles=bin_cycles,
        freq_mhz=result.accelerator.freq_mhz,
        total_cycles=start,
        pes=result.accelerator.pes,
        start=np.arange(bins, dtype=np.int64) * bin_cycles,
        pe_utilization=rng.uniform(0.0, 1.0, bins),
        dram_bytes=rng.uniform(0.0, 16.0 * bin_cycles, bins),
        peak_bytes_per_cycle=16.0,
        layers=tuple(spans),
    )


def bars(fig: Any) -> dict[str, np.ndarray]:
    """The bar heights of the first axes by the container's gid (one entry per segment)."""
    ax = fig.axes[0]
    out = {}
    for c in ax.containers:
        assert isinstance(c, BarContainer)
        out[c.patches[0].get_gid()] = np.array([p.get_height() for p in c.patches])
    return out


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000, path
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300
    assert pixels.std() > 0.01  # not a blank image


def check_svg(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
    assert len(list(root.iter())) > 50  # paths, text, groups: something was drawn


# ---- per-layer stacked cycles ----------------------------------------------------------------


def test_memory_run_stacks_compute_and_every_stall(bandwidth: accelsim.NetworkResult) -> None:
    got = bars(plots.layer_cycles(bandwidth))
    assert "compute" in got and any(c in got for c in stall_stats())
    assert set(got) <= {"compute", *stall_stats()}
    total = sum(got.values())
    assert list(total) == [layer.cycles for layer in bandwidth.layers]
    assert list(got["compute"]) == [layer.compute_cycles for layer in bandwidth.layers]
    for cause, heights in got.items():
        if cause != "compute":
            assert list(heights) == [(layer.stalls or {})[cause] for layer in bandwidth.layers]
    # the memory was made small enough to stall: some stall segment is drawn
    assert sum(h.sum() for c, h in got.items() if c != "compute") > 0


def test_ideal_memory_shows_compute_only(ideal: accelsim.NetworkResult) -> None:
    fig = ideal.plot_layers()
    got = bars(fig)
    assert list(got) == ["compute"]
    assert list(got["compute"]) == [layer.cycles for layer in ideal.layers]
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == [layer.name for layer in ideal.layers]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["compute (ideal memory: no stalls)"]


def test_vector_unit_cycles_stack_on_the_layer_they_follow() -> None:
    w = Workload(
        "v",
        [
            GemmLayer("g1", 4, 32, 16),
            accelsim.VectorOp("relu", "Relu", "elementwise", 64),
            GemmLayer("g2", 4, 16, 8),
        ],
    )
    r = accelsim.run(w, ACC, vector=accelsim.VectorUnit(lanes=4))
    got = bars(r.plot_layers())
    assert list(got["vector"]) == [r.vector_ops[0].cycles, 0]
    assert sum(h.sum() for h in got.values()) == r.total_cycles


def test_the_dict_form_draws_the_same(bandwidth: accelsim.NetworkResult) -> None:
    a = bars(plots.layer_cycles(bandwidth))
    b = bars(plots.layer_cycles(bandwidth.to_dict()))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


# ---- roofline --------------------------------------------------------------------------------


def scatter_points(fig: Any) -> np.ndarray:
    (layers,) = [c for c in fig.axes[0].collections if c.get_gid() == "layers"]
    return np.asarray(layers.get_offsets())


def test_roofline_places_layers_by_measured_traffic(bandwidth: accelsim.NetworkResult) -> None:
    data = plots.roofline_data(bandwidth)
    assert data.peak_ops_per_cycle == 2 * 64 and data.bandwidth == 2.0 and not data.compulsory
    assert data.ridge == pytest.approx(64.0)
    for p, layer in zip(data.points, bandwidth.layers, strict=True):
        moved = layer.stat("dram_read_bytes") + layer.stat("dram_write_bytes")
        assert p.dram_bytes == moved
        assert p.intensity == pytest.approx(2 * layer.macs / moved)
        assert p.ops_per_cycle == pytest.approx(2 * layer.macs / layer.cycles)
        assert p.ops_per_cycle <= data.attainable(p.intensity) * (1 + 1e-9)  # under the roofs
    fig = bandwidth.plot_roofline()
    xy = scatter_points(fig)
    assert np.allclose(xy[:, 0], [p.intensity for p in data.points])
    assert np.allclose(xy[:, 1], [p.ops_per_cycle for p in data.points])
    roofs = {line.get_gid(): line for line in fig.axes[0].get_lines()}
    assert np.allclose(roofs["compute_roof"].get_ydata(), 128.0)
    x, y = roofs["memory_roof"].get_xdata(), roofs["memory_roof"].get_ydata()
    assert np.allclose(y, 2.0 * np.asarray(x)) and np.isclose(x[-1], 64.0)
    assert "measured DRAM traffic" in fig.axes[0].get_xlabel() + str(
        [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    )


def test_roofline_cycle_level_dram_peak_at_the_accelerator_clock(
    ddr4: accelsim.NetworkResult,
) -> None:
    # DDR4-3200, one 64-bit channel: 25.6 GB/s; at 500 MHz that is 51.2 bytes per cycle
    peak_gbps = ddr4.layers[0].dram["peak_bandwidth_gbps"]  # type: ignore[index]
    assert peak_gbps == pytest.approx(25.6)
    data = plots.roofline_data(ddr4)
    assert data.bandwidth == pytest.approx(peak_gbps * 1e9 / 500e6)
    assert plots.peak_bytes_per_cycle(ddr4.to_dict()) == pytest.approx(51.2)


def test_roofline_ideal_memory_uses_compulsory_traffic() -> None:
    r = accelsim.run("resnet18", ACC)
    data = plots.roofline_data(r)
    assert data.compulsory and data.bandwidth is None and data.ridge is None
    conv1 = data.points[0]
    # the input tensor (not the im2col matrix), the weights and the output, a byte each
    assert conv1.dram_bytes == 3 * 224 * 224 + 147 * 64 + 12544 * 64
    fc = data.points[-1]
    assert fc.dram_bytes == 512 + 512 * 1000 + 1000
    fig = r.plot_roofline()
    assert "compulsory" in fig.axes[0].get_xlabel()
    assert "memory_roof" not in {line.get_gid() for line in fig.axes[0].get_lines()}
    # a workload that cannot be reloaded by name: the GEMM operands
    tiny_data = plots.roofline_data(accelsim.run(tiny(), ACC))
    fc_shape = tiny().gemm_shapes()[-1]
    m, k, n = fc_shape.m, fc_shape.k, fc_shape.n
    assert tiny_data.points[-1].dram_bytes == m * k + k * n + m * n


# ---- over time -------------------------------------------------------------------------------


def test_utilization_over_time_draws_the_timeline(bandwidth: accelsim.NetworkResult) -> None:
    tl = timeline_for(bandwidth)
    fig = bandwidth.plot_utilization(tl)
    (steps,) = [p for p in fig.axes[0].patches if isinstance(p, StepPatch)]
    values, edges = steps.get_data()[:2]
    assert np.allclose(values, 100 * tl.pe_utilization)
    assert np.allclose(edges[:-1], tl.start / tl.freq_mhz)
    assert np.isclose(edges[-1], (tl.start[-1] + tl.bin_cycles) / tl.freq_mhz)
    assert "µs" in fig.axes[0].get_xlabel() and "%" in fig.axes[0].get_ylabel()
    assert bandwidth.model in fig.axes[0].get_title()


def test_dram_bandwidth_over_time_against_the_peak(bandwidth: accelsim.NetworkResult) -> None:
    tl = timeline_for(bandwidth)
    fig = bandwidth.plot_dram_bandwidth(tl)
    ax = fig.axes[0]
    (steps,) = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert np.allclose(steps.get_data()[0], tl.dram_gbps())
    peaks = [line for line in ax.get_lines() if line.get_label().startswith("peak")]
    assert len(peaks) == 1 and np.allclose(peaks[0].get_ydata(), tl.peak_gbps())
    assert "GB/s" in ax.get_ylabel()


def test_ideal_memory_timeline_has_no_dram_plot(ideal: accelsim.NetworkResult) -> None:
    tl = timeline_for(ideal)
    tl = dataclasses.replace(tl, dram_bytes=np.zeros(len(tl.start)), peak_bytes_per_cycle=None)
    with pytest.raises(ConfigError, match="ideal memory"):
        plots.dram_bandwidth_over_time(tl)
    plots.utilization_over_time(tl)  # still fine


# ---- files -----------------------------------------------------------------------------------


def test_files_are_valid_png_and_svg(bandwidth: accelsim.NetworkResult, tmp_path: Path) -> None:
    fig = bandwidth.plot_layers(tmp_path / "layers")  # no suffix: one file per format
    assert fig is not None
    check_png(tmp_path / "layers.png")
    check_svg(tmp_path / "layers.svg")
    bandwidth.plot_roofline(tmp_path / "only.svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layers.png", "layers.svg", "only.svg"]
    check_svg(tmp_path / "only.svg")
    written = plots.save(fig, tmp_path / "x", formats=("png",))
    assert written == [tmp_path / "x.png"]
    with pytest.raises(ConfigError, match="png, svg"):
        plots.save(fig, tmp_path / "y", formats=("gif",))
    with pytest.raises(ConfigError, match="png, svg"):
        plots.parse_formats("png,jpeg")
    assert plots.parse_formats(" svg, png,svg") == ("svg", "png")


def test_svg_is_the_same_for_the_same_run(
    bandwidth: accelsim.NetworkResult, tmp_path: Path
) -> None:
    bandwidth.plot_layers(tmp_path / "a.svg")
    bandwidth.plot_layers(tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_without_matplotlib_the_error_names_the_extra(
    ideal: accelsim.NetworkResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    with pytest.raises(ConfigError, match=r"pip install 'accelsim\[plot\]'"):
        ideal.plot_layers()


# ---- run directories and the search ----------------------------------------------------------


def test_run_dir_without_timeline_skips_the_time_plots(
    bandwidth: accelsim.NetworkResult, tmp_path: Path
) -> None:
    accelsim.write_run_dir(bandwidth, tmp_path / "run")
    done = plots.plot_run_dir(tmp_path / "run")
    assert list(done.files) == ["layers", "roofline"]
    assert set(done.skipped) == {"utilization", "dram_bandwidth"}
    assert all("--trace" in reason for reason in done.skipped.values())
    for path in done.paths:
        assert path.parent == tmp_path / "run" / "plots"
        (check_png if path.suffix == ".png" else check_svg)(path)


def test_traced_run_dir_gives_all_four(bandwidth: accelsim.NetworkResult, tmp_path: Path) -> None:
    run = accelsim.write_run_dir(bandwidth, tmp_path / "run")
    timeline_for(bandwidth).to_csv(run / "timeline.csv")
    done = plots.plot_run_dir(run, tmp_path / "out", formats=("png",))
    assert list(done.files) == list(plots.RUN_PLOTS) and not done.skipped
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{stem}.png" for stem in plots.RUN_PLOTS
    )


def test_run_dir_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a run directory"):
        plots.read_run_dir(tmp_path / "missing")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"no stats\.json"):
        plots.read_run_dir(tmp_path)
    (tmp_path / "stats.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        plots.read_run_dir(tmp_path)


@pytest.fixture(scope="module")
def searched() -> accelsim.SearchResult:
    memory = accelsim.Memory(**SMALL, bandwidth=2.0, latency=50)
    return accelsim.search(tiny(), ACC, memory=memory, threads=1)


def test_search_comparison_bars_are_the_search_figures(
    searched: accelsim.SearchResult, tmp_path: Path
) -> None:
    fig = searched.plot_comparison(tmp_path / "s.png")
    check_png(tmp_path / "s.png")
    cycles_ax, energy_ax = fig.axes[:2]
    got = {c.get_label(): [p.get_height() for p in c.patches] for c in cycles_ax.containers}
    assert got["default tiling"] == [x.default_cycles for x in searched.layers]
    assert got["searched, layer alone"] == [x.cycles for x in searched.layers]
    if searched.schedule is not None:
        shares = got["searched, share of the scheduled run"]
        assert shares == [layer.cycles for layer in searched.result.layers]
    energy = {c.get_label(): [p.get_height() for p in c.patches] for c in energy_ax.containers}
    assert np.allclose(
        energy["default tiling"], [(x.default_energy_pj or 0) / 1e6 for x in searched.layers]
    )
    # the --json form draws the same bars
    again = plots.search_comparison(searched.to_dict())
    assert [[p.get_height() for p in c.patches] for c in again.axes[0].containers] == list(
        got.values()
    )
