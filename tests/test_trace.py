"""Traces: tracing observes (same results with it on), the Perfetto JSON is well formed (every
event inside the run, no overlap on a thread, every track named), what it shows adds up to the
statistics, and the window, categories and event cap bound it."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import accelsim
from accelsim import Accelerator, Memory, VectorUnit
from accelsim.errors import ConfigError
from accelsim.trace import TRACE_CATEGORIES, TraceOptions
from trace_json import check_well_formed, slices

ACC = Accelerator(rows=8, cols=8)
SMALL = {"ifmap_bytes": 4 << 10, "filter_bytes": 4 << 10, "ofmap_bytes": 16 << 10}
MODELS = {
    "bandwidth": Memory(**SMALL, bandwidth=4.0, latency=20),
    "ddr4": Memory(**SMALL, dram="ddr4-3200"),
}


def _tiny() -> accelsim.Workload:
    from accelsim.workloads import ConvLayer, GemmLayer, Workload

    return Workload(
        "tiny",
        [
            ConvLayer("conv1", n=1, c=3, k=16, h=16, w=16, r=3, s=3, stride=1, pad=1),
            ConvLayer("conv2", n=1, c=16, k=24, h=16, w=16, r=3, s=3, stride=2, pad=1),
            GemmLayer("fc", m=4, k=24 * 64, n=10),
        ],
    )


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module", params=sorted(MODELS))
def traced(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    memory = MODELS[request.param]
    plain = accelsim.run(_tiny(), ACC, memory=memory)
    result = accelsim.run(_tiny(), ACC, memory=memory, trace=True)
    path = tmp_path_factory.mktemp("trace") / "trace.json"
    assert result.trace is not None
    result.trace.write_perfetto(path)
    return plain, result, _load(path)


def test_tracing_observes(traced: Any) -> None:
    plain, result, _ = traced
    assert result.to_dict() == plain.to_dict()
    assert result.trace is not None and result.trace.events > 0


def test_events_lie_inside_the_run_and_never_overlap_on_a_thread(traced: Any) -> None:
    _, result, data = traced
    end_us = result.total_cycles / result.accelerator.freq_mhz
    check_well_formed(data, end_us)


def test_busy_time_stalls_and_bytes_equal_the_statistics(traced: Any) -> None:
    _, result, data = traced
    f = result.accelerator.freq_mhz
    totals = result.totals()

    def cycles(events: list[dict[str, Any]]) -> int:
        return round(sum(e["dur"] for e in events) * f)

    # default buffers have enough banks: one vector per cycle
    assert cycles(slices(data, "stream", "fold")) == totals["stream_vectors"]
    assert len(slices(data, "stream", "fold")) == totals["folds"]
    assert cycles(slices(data, "stationary load")) == totals["stationary_load_cycles"]
    assert sum(e["args"]["macs"] for e in slices(data, "stream")) == result.total_macs
    stalls = result.stalls
    assert stalls is not None
    refresh = stalls.pop("refresh", 0)
    for cause, stat in stalls.items():
        traced_cycles = cycles(slices(data, "stalls", cause))
        if refresh == 0:
            assert traced_cycles == stat, cause
        else:
            # refresh's share was moved out of the operand stalls after the fact
            assert traced_cycles >= stat, cause
    for thread, name, stat in [
        ("ifmap load", "ifmap load", "dram_ifmap_bytes"),
        ("filter load", "filter load", "dram_filter_bytes"),
        ("ofmap", "ofmap write-back", "dram_ofmap_bytes"),
        ("ofmap", "psum spill", "dram_psum_write_bytes"),
        ("ofmap", "psum read-back", "dram_psum_read_bytes"),
    ]:
        assert sum(e["args"]["bytes"] for e in slices(data, thread, name)) == totals[stat]
    dram = [layer.dram for layer in result.layers]
    if dram[0] is None:
        busy = slices(data, "interface")
        assert cycles(busy) == totals["dram_busy_cycles"]
    else:
        for command, stat in [("RD", "reads"), ("WR", "writes"), ("ACT", "activates")]:
            expected = sum(int(d[stat]) for d in dram if d is not None)
            assert len(slices(data, "ch", command)) == expected, command


def test_occupancy_counters_stay_within_the_buffers(traced: Any) -> None:
    _, result, data = traced
    memory = result.memory
    halves = 2 if memory.double_buffer else 1
    half = {
        "ifmap": memory.ifmap_bytes // halves,
        "filter": memory.filter_bytes // halves,
        "ofmap": memory.ofmap_bytes // halves,
    }
    seen = defaultdict(list)
    for e in data["traceEvents"]:
        if e["ph"] == "C" and e.get("cat") == "buffer":
            seen[e["name"]].append((e["ts"], e["args"]["bytes"]))
    assert {name.split(",")[0] for name in seen} == set(half)
    for name, samples in seen.items():
        values = [v for _, v in samples]
        assert 0 <= min(values) and max(values) <= half[name.split(",")[0]], name
        assert samples == sorted(samples, key=lambda x: x[0])
        assert values[-1] == 0


def test_timeline_adds_up(traced: Any) -> None:
    _, result, _ = traced
    tl = result.trace.timeline(bin_cycles=100)
    if result.layers[0].dram is None:
        # the bandwidth model's interface intervals carry each transfer's bytes
        moved = sum(r.stat("dram_read_bytes") + r.stat("dram_write_bytes") for r in result.layers)
    else:
        # the cycle-level DRAM moves whole bursts
        moved = sum(
            int(r.dram["bytes_read"]) + int(r.dram["bytes_written"])
            for r in result.layers
            if r.dram is not None
        )
    assert tl.dram_bytes.sum() == pytest.approx(moved)
    # bursts and interface intervals never exceed the peak
    assert tl.dram_bytes_per_cycle().max() <= tl.peak_bytes_per_cycle * (1 + 1e-9)
    macs = (tl.pe_utilization * tl.pes * tl.bin_cycles).sum()
    assert macs == pytest.approx(result.total_macs)
    assert tl.pe_utilization.max() <= 1.0 + 1e-9
    assert [s.name for s in tl.layers] == [r.name for r in result.layers]
    assert tl.peak_bytes_per_cycle is not None and tl.peak_bytes_per_cycle > 0


def test_the_same_run_writes_the_same_trace(tmp_path: Path) -> None:
    texts = []
    for i in range(2):
        r = accelsim.run(_tiny(), ACC, memory=MODELS["ddr4"], trace=True)
        assert r.trace is not None
        texts.append(r.trace.write_perfetto(tmp_path / f"{i}.json").read_bytes())
    assert texts[0] == texts[1]


def test_the_cap_keeps_a_complete_prefix_and_says_so(tmp_path: Path) -> None:
    full = accelsim.run(_tiny(), ACC, memory=MODELS["ddr4"], trace=True).trace
    capped = accelsim.run(
        _tiny(), ACC, memory=MODELS["ddr4"], trace=TraceOptions(max_events=500)
    ).trace
    assert full is not None and capped is not None
    assert capped.events <= 500 and capped.truncated and capped.dropped > 0
    cut = capped.complete_until
    assert cut is not None
    # everything of the full trace that starts before the cut is there, and nothing else
    # (a DRAM command counts from the accelerator cycle it falls in)
    n_full = int((np.floor(full.slices()["start"] + 1e-9) < cut).sum())
    assert len(capped.slices()["start"]) == n_full
    # the cap keeps the earliest events: close to all of its budget
    assert capped.events >= 450
    data = _load(capped.write_perfetto(tmp_path / "capped.json"))
    assert "dropped" in data["otherData"]["truncated"]
    assert any(e["ph"] == "i" and "cap" in e["name"] for e in data["traceEvents"])


def test_window_and_categories(tmp_path: Path) -> None:
    full = accelsim.run(_tiny(), ACC, memory=MODELS["bandwidth"], trace=True)
    total = full.total_cycles
    window = (total // 4, total // 2)
    r = accelsim.run(
        _tiny(),
        ACC,
        memory=MODELS["bandwidth"],
        trace=TraceOptions(window=window, categories=("array", "stall")),
    )
    assert r.trace is not None
    s = r.trace.slices()
    assert len(s["start"]) > 0
    assert (s["start"] >= window[0]).all() and (s["start"] + s["dur"] <= window[1]).all()
    cats = {r.trace.tracks[t].category for t in s["track"]}
    assert cats <= {"array", "stall"}
    assert len(r.trace.counters()["time"]) == 0


def test_ideal_memory_and_vector_ops_on_the_timeline() -> None:
    vec = VectorUnit(lanes=16)
    r = accelsim.run("bert_base", Accelerator(rows=16, cols=16), trace=True, vector=vec)
    assert r.trace is not None
    spans = r.trace.layer_spans + r.trace.vector_spans
    assert r.trace.vector_spans, "bert has vector ops"
    assert r.trace.total_cycles == r.total_cycles
    # layers and vector ops tile the run with no gap and no overlap
    spans = sorted(spans, key=lambda s: s.start)
    assert spans[0].start == 0
    for a, b in itertools.pairwise(spans):
        assert a.start + a.cycles == b.start, (a, b)
    busy = r.trace.busy_cycles(process="array", thread="stream")
    assert busy == sum(layer.stat("stream_vectors") for layer in r.layers)


def test_bad_trace_options_are_named() -> None:
    with pytest.raises(ConfigError, match="valid choices: " + ", ".join(TRACE_CATEGORIES)):
        TraceOptions(categories=("arrray",))
    with pytest.raises(ConfigError, match="trace_max_events"):
        TraceOptions(max_events=0)
    with pytest.raises(ConfigError, match="trace_window"):
        TraceOptions(window=(10, 5))
    with pytest.raises(ConfigError, match="valid choice with a trace: fast"):
        accelsim.run(_tiny(), ACC, engine="pe", trace=True)
    with pytest.raises(ConfigError, match="TraceOptions"):
        accelsim.run(_tiny(), ACC, trace="yes")  # type: ignore[arg-type]


def test_bin_spread_is_exact() -> None:
    from accelsim.trace import _bin_spread

    edges = np.arange(0, 101, 10, dtype=np.float64)
    out = _bin_spread(
        np.array([5.0, 0.0, 42.0]),
        np.array([10.0, 100.0, 0.0]),
        np.array([10.0, 100.0, 7.0]),
        edges,
    )
    expected = np.full(10, 10.0)
    expected[0] += 5
    expected[1] += 5
    expected[4] += 7
    assert out == pytest.approx(expected)


def test_a_traced_run_directory_holds_the_trace_and_timeline(tmp_path: Path) -> None:
    from accelsim.timeline import Timeline

    plain = accelsim.run(_tiny(), ACC, memory=MODELS["bandwidth"])
    traced = accelsim.run(_tiny(), ACC, memory=MODELS["bandwidth"], trace=True)
    a = accelsim.write_run_dir(plain, tmp_path / "plain", argv=["x"])
    b = accelsim.write_run_dir(traced, tmp_path / "traced", argv=["x"])
    assert not (a / "trace.json").exists() and not (a / "timeline.csv").exists()
    for name in ("stats.json", "layers.csv", "config.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    data = _load(b / "trace.json")
    assert data["traceEvents"]
    tl = Timeline.from_csv(b / "timeline.csv")
    assert traced.trace is not None
    expected = traced.trace.timeline()
    assert tl.bin_cycles == expected.bin_cycles and tl.layers == expected.layers
    assert np.allclose(tl.pe_utilization, expected.pe_utilization)
    assert np.allclose(tl.dram_bytes, expected.dram_bytes)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from accelsim import cli

    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_trace_default_path_and_run_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = _cli(capsys, "run", "alexnet", "--pe", "8x8", "--bandwidth", "8", "--trace")
    assert code == 0
    path = tmp_path / "traces" / "alexnet-8x8-ws.json"
    assert f"wrote {Path('traces') / 'alexnet-8x8-ws.json'}" in out
    data = _load(path)
    assert any(e["ph"] == "X" and e["cat"] == "dma" for e in data["traceEvents"])
    code, out, _ = _cli(
        capsys,
        *("run", "alexnet", "--pe", "8x8", "--trace", "--run-dir", "rd", "--quiet"),
    )
    assert code == 0
    assert {"rd/trace.json", "rd/timeline.csv"} <= set(out.split())
    code, out, _ = _cli(capsys, "run", "alexnet", "--pe", "8x8", "--trace", "x.json", "-q")
    assert code == 0 and out.split() == ["x.json"]


def test_cli_trace_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ("run", "alexnet", "--pe", "8x8", "--trace", "t.json", "--trace-max-events", "50")
    code, _, err = _cli(capsys, *argv)
    assert code == 0
    assert "dropped" in err and "complete up to cycle" in err
    data = _load(tmp_path / "t.json")
    # the recorded events (not the layer spans or the binned counters the writer adds)
    recorded = [
        e
        for e in data["traceEvents"]
        if e["ph"] in ("X", "C")
        and e.get("cat") != "layer"
        and not e["name"].startswith(("PE utilization", "DRAM bandwidth"))
    ]
    assert 0 < len(recorded) <= 50
    code, _, _ = _cli(
        capsys,
        *("run", "alexnet", "--pe", "8x8", "--trace", "w.json"),
        *("--trace-window", "1000:2000", "--trace-categories", "array"),
    )
    assert code == 0
    cats = {e.get("cat") for e in _load(tmp_path / "w.json")["traceEvents"] if e["ph"] == "X"}
    assert cats <= {"array", "layer"}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--trace-window", "0:10"), "--trace-window needs --trace"),
        (("--trace", "--trace-window", "10"), "expected START:END"),
        (("--trace", "--trace-window", "9:3"), "trace_window"),
        (("--trace", "--trace-categories", "arrays"), "valid choices: array, stall"),
        (("--trace", "--trace-max-events", "0"), "trace_max_events"),
        (("--trace", "--engine", "pe"), "valid choice with a trace: fast"),
    ],
)
def test_cli_trace_errors_are_one_line(
    flags: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(capsys, "run", "alexnet", "--pe", "8x8", *flags)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def _perfetto_ns(value: float) -> int:
    """What Perfetto's JSON importer keeps of a timestamp in microseconds: whole ns."""
    return int(np.floor(value * 1000 + 0.5))


@pytest.mark.parametrize("dram", ["ddr4-3200", "hbm2", "lpddr4-3200", "bandwidth"])
def test_no_overlap_at_perfettos_nanoseconds(dram: str, tmp_path: Path) -> None:
    acc = Accelerator(rows=8, cols=8, freq_mhz=700)
    memory = Memory(**SMALL, dram=dram)
    vec = VectorUnit(lanes=8)
    r = accelsim.run(_tiny(), acc, memory=memory, trace=True, vector=vec)
    assert r.trace is not None and r.trace.shifted == 0
    data = _load(r.trace.write_perfetto(tmp_path / "t.json"))
    per_thread: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for e in data["traceEvents"]:
        if e["ph"] == "X":
            start = _perfetto_ns(e["ts"])
            per_thread[(e["pid"], e["tid"])].append((start, start + _perfetto_ns(e["dur"])))
    for thread, spans in per_thread.items():
        spans.sort()
        for a, b in itertools.pairwise(spans):
            assert a[1] <= b[0], f"{thread}: {a} overlaps {b} in whole ns"


def test_windowed_amounts_stay_physical() -> None:
    acc = Accelerator(rows=8, cols=8)
    memory = Memory(**SMALL, bandwidth=2.0)
    full = accelsim.run(_tiny(), acc, memory=memory)
    total = full.total_cycles
    for window in [(total // 3 + 17, total // 3 + 517), (1, total // 2 + 3)]:
        r = accelsim.run(_tiny(), acc, memory=memory, trace=TraceOptions(window=window))
        assert r.trace is not None
        tl = r.trace.timeline(bin_cycles=50)
        assert tl.pe_utilization.max() <= 1 + 1e-9, window
        assert tl.dram_bytes_per_cycle().max() <= 2.0 * (1 + 1e-9), window
        assert (tl.recorded_from, tl.recorded_until) == window and tl.partial
        # nothing outside the window
        outside = (tl.start + tl.bin_cycles <= window[0]) | (tl.start >= window[1])
        assert not tl.pe_utilization[outside].any() and not tl.dram_bytes[outside].any()


def test_counters_only_for_recorded_categories(tmp_path: Path) -> None:
    for options in [TraceOptions(categories=("buffer",)), TraceOptions(max_events=1)]:
        r = accelsim.run(_tiny(), ACC, memory=MODELS["bandwidth"], trace=options)
        assert r.trace is not None
        data = _load(r.trace.write_perfetto(tmp_path / "t.json"))
        names = {e["name"] for e in data["traceEvents"] if e["ph"] == "C"}
        if options.categories == ("buffer",):
            assert {n.split(",")[0] for n in names} == {"ifmap", "filter", "ofmap"}
        else:
            # one event kept: the counters cover only the recorded part, before the cut
            until = r.trace.complete_until
            assert until is not None
            limit = until / ACC.freq_mhz
            assert all(e["ts"] <= limit for e in data["traceEvents"] if e["ph"] == "C"), (
                "counter samples after the cut"
            )


def test_window_before_the_first_array_layer() -> None:
    vec = VectorUnit(lanes=4)
    model = "gpt2_decode:context=16"
    full = accelsim.run(model, ACC, trace=True, vector=vec)
    assert full.trace is not None
    first = full.trace.layer_spans[0].start
    assert first > 10, "gpt2 starts with vector ops"
    r = accelsim.run(model, ACC, trace=TraceOptions(window=(0, first)), vector=vec)
    assert r.trace is not None and r.trace.events == 0
    assert r.trace.window == (0, first)
    w = (first + 5, first + 500)
    r = accelsim.run(model, ACC, trace=TraceOptions(window=w), vector=vec)
    assert r.trace is not None
    s = r.trace.slices()
    assert len(s["start"]) and s["start"].min() >= w[0] and (s["start"] + s["dur"]).max() <= w[1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"categories": "array"}, "list of names"),
        ({"window": (0.5, 10.7)}, "two integer cycles"),
        ({"window": (0, 1, 2)}, "two integer cycles"),
        ({"window": (0, 2**70)}, "trace_window"),
        ({"max_events": 10**20}, "trace_max_events"),
        ({"max_events": 1.5}, "trace_max_events"),
    ],
)
def test_trace_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TraceOptions(**options)


def test_time_plots_mark_what_was_not_recorded() -> None:
    pytest.importorskip("matplotlib")
    from accelsim.plots import dram_bandwidth_over_time, utilization_over_time

    full = accelsim.run(_tiny(), ACC, memory=MODELS["bandwidth"])
    window = (full.total_cycles // 4, full.total_cycles // 2)
    r = accelsim.run(_tiny(), ACC, memory=MODELS["bandwidth"], trace=TraceOptions(window=window))
    assert r.trace is not None
    tl = r.trace.timeline(bin_cycles=100)
    for draw in (utilization_over_time, dram_bandwidth_over_time):
        fig = draw(tl)
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert "not recorded" in labels
        assert any("recorded part" in label for label in labels)
    whole = accelsim.run(_tiny(), ACC, memory=MODELS["bandwidth"], trace=True)
    assert whole.trace is not None
    fig = utilization_over_time(whole.trace.timeline())
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "not recorded" not in labels


def test_the_report_of_a_traced_run_points_to_its_trace(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from accelsim.report import write_report

    r = accelsim.run(_tiny(), ACC, memory=MODELS["bandwidth"], trace=True)
    root = accelsim.write_run_dir(r, tmp_path / "run", argv=["x"])
    page = write_report(root, tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="trace"' in page and "trace.json" in page and "ui.perfetto.dev" in page
    assert 'id="plot-utilization"' in page and 'id="plot-dram_bandwidth"' in page
