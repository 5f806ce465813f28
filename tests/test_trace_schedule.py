"""Traces of scheduled (overlapped) network runs: the same results as an untraced run, the
Perfetto JSON well formed (events inside the run, no overlap on a thread), what it shows adds
up to the statistics, the window and cap bound it, and ``accelsim run --mapping FILE --trace``
works end to end."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

import accelsim
from accelsim import Accelerator, Memory
from accelsim.mapping import Schedule, read_schedule
from accelsim.search import run_schedule, search
from accelsim.trace import TraceOptions
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
            ConvLayer("conv3", n=1, c=24, k=24, h=8, w=8, r=3, s=3, stride=1, pad=1),
            GemmLayer("fc", m=4, k=24 * 64, n=10),
        ],
    )


@pytest.fixture(scope="module", params=[(m, o) for m in sorted(MODELS) for o in (True, False)])
def scheduled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    model, overlap = request.param
    memory = MODELS[model]
    found = search(_tiny(), ACC, memory=memory, budget=4)
    given = {"tilings": found.tilings, "schedule": Schedule(overlap=overlap)}
    plain = run_schedule(_tiny(), ACC, memory=memory, **given)
    traced = run_schedule(_tiny(), ACC, memory=memory, trace=True, **given)
    assert traced.trace is not None
    path = traced.trace.write_perfetto(tmp_path_factory.mktemp("sched") / "trace.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return plain, traced, data, given, memory


def test_tracing_a_schedule_observes(scheduled: Any) -> None:
    plain, traced, _, _, _ = scheduled
    assert dataclass_dict(traced) == dataclass_dict(plain)
    t = traced.trace
    assert t.events > 0 and t.shifted == 0 and t.dropped == 0
    # the layers' spans are the schedule's shares of the run, back to back
    starts = [s.start for s in t.layer_spans]
    cycles = [s.cycles for s in t.layer_spans]
    assert cycles == [layer.cycles for layer in plain.layers]
    assert starts == list(itertools.accumulate([0, *cycles[:-1]]))
    assert t.total_cycles == plain.total_cycles


def dataclass_dict(r: accelsim.NetworkResult) -> dict[str, Any]:
    d = r.to_dict()
    d.pop("trace", None)
    return d


def test_events_lie_inside_the_run_and_never_overlap_on_a_thread(scheduled: Any) -> None:
    _, traced, data, _, _ = scheduled
    end_us = traced.total_cycles / traced.accelerator.freq_mhz
    check_well_formed(data, end_us)


def test_folds_stalls_and_bytes_add_up(scheduled: Any) -> None:
    _, traced, data, _, _ = scheduled
    f = traced.accelerator.freq_mhz
    totals = traced.totals()

    def cycles(events: list[dict[str, Any]]) -> int:
        return round(sum(e["dur"] for e in events) * f)

    folds = slices(data, "stream", "fold")
    assert len(folds) == totals["folds"]
    assert sum(e["args"]["macs"] for e in folds) == traced.total_macs
    stalls = traced.stalls
    assert stalls is not None
    for cause, stat in stalls.items():
        if cause != "refresh":
            assert cycles(slices(data, "stalls", cause)) == stat, cause
    for thread, name, stat in [
        ("ifmap load", "ifmap load", "dram_ifmap_bytes"),
        ("filter load", "filter load", "dram_filter_bytes"),
        ("ofmap", "ofmap write-back", "dram_ofmap_bytes"),
        ("ofmap", "psum spill", "dram_psum_write_bytes"),
        ("ofmap", "psum read-back", "dram_psum_read_bytes"),
    ]:
        assert sum(e["args"]["bytes"] for e in slices(data, thread, name)) == totals[stat]
    counters = [e for e in data["traceEvents"] if e["ph"] == "C" and e["cat"] == "buffer"]
    assert counters and all(min(e["args"].values()) >= 0 for e in counters)


def test_window_and_cap_bound_a_scheduled_trace(scheduled: Any) -> None:
    plain, traced, _, given, memory = scheduled
    total = plain.total_cycles
    window = (total // 4, total // 2)
    w = run_schedule(_tiny(), ACC, memory=memory, trace=TraceOptions(window=window), **given)
    assert w.trace is not None and 0 < w.trace.events < traced.trace.events
    s = w.trace.slices()
    assert (s["start"] >= window[0] - 1).all()
    assert (s["start"] + s["dur"] <= window[1] + 1).all()
    cap = traced.trace.events // 3
    c = run_schedule(_tiny(), ACC, memory=memory, trace=TraceOptions(max_events=cap), **given)
    assert c.trace is not None and c.trace.truncated and 0 < c.trace.events <= cap
    assert c.trace.shifted == 0
    assert dataclass_dict(c) == dataclass_dict(plain)


def test_cli_runs_a_searched_mapping_with_a_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from accelsim import cli

    monkeypatch.chdir(tmp_path)
    flags = ["--pe", "8x8", "--sram", "ifmap=16K,filter=16K,ofmap=16K", "--bandwidth", "8"]
    assert cli.main(["search", "alexnet", *flags, "--budget", "4", "-o", "m.json", "-q"]) == 0
    capsys.readouterr()
    sched = read_schedule(tmp_path / "m.json")
    assert sched is not None and sched.overlap
    argv = ["run", "alexnet", *flags, "--mapping", "m.json", "--trace", "--run-dir", "rd"]
    argv += ["--json", "traced.json", "-q"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.split()
    assert {"rd/trace.json", "rd/timeline.csv"} <= set(out)
    data = json.loads((tmp_path / "rd" / "trace.json").read_text(encoding="utf-8"))
    assert any(e["ph"] == "X" and e["cat"] == "array" for e in data["traceEvents"])
    assert (tmp_path / "rd" / "timeline.csv").stat().st_size > 0
    assert cli.main(["run", "alexnet", *flags, "--mapping", "m.json", "--json", "-"]) == 0
    plain = json.loads(capsys.readouterr().out)
    ran = json.loads((tmp_path / "traced.json").read_text(encoding="utf-8"))
    assert ran["total_cycles"] == plain["total_cycles"]
