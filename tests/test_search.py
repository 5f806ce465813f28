"""The mapping search and the network schedule from Python and the command line.

The Rust tests (rust/accelsim-core/tests/search.rs) hold the evaluator to
``simulate_conv_layer``, the bounds to the simulation and exhaustive search to brute force on
many random layers; these check the same promises end to end on small workloads.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import accelsim
from accelsim import Accelerator, ConfigError, ConvLayer, GemmLayer, Memory, Workload, cli
from accelsim.mapping import Schedule, read_mapping, read_schedule
from accelsim.search import SEARCH_OBJECTIVES, SEARCH_STRATEGIES, chained, run_schedule, search

ACC = Accelerator(rows=8, cols=8)
MEM = Memory(ifmap_bytes=8 << 10, filter_bytes=8 << 10, ofmap_bytes=16 << 10, bandwidth=4)
DDR = Memory(ifmap_bytes=8 << 10, filter_bytes=8 << 10, ofmap_bytes=16 << 10, dram="ddr4-3200")


def small_net() -> Workload:
    """Three chained 3x3 convolutions on 12x12 images, a 1x1 branch that is not chained, an
    fc layer, and a repeated shape (searched once)."""
    return Workload(
        "small",
        [
            ConvLayer("c1", n=1, c=3, k=16, h=12, w=12, r=3, s=3, pad=1),
            ConvLayer("c2", n=1, c=16, k=16, h=12, w=12, r=3, s=3, pad=1),
            ConvLayer("c3", n=1, c=16, k=16, h=12, w=12, r=3, s=3, pad=1),
            ConvLayer("down", n=1, c=3, k=16, h=12, w=12, r=1, s=1, stride=2),
            GemmLayer("fc", m=1, k=576, n=40),
        ],
    )


def test_chained_layers_follow_tensor_shapes() -> None:
    assert chained(small_net()) == [False, True, True, False, False]


@pytest.mark.parametrize("objective", SEARCH_OBJECTIVES)
def test_search_never_loses_to_the_default(objective: str) -> None:
    r = search(small_net(), ACC, memory=MEM, objective=objective)
    assert not r.interrupted
    assert r.distinct_layers == 4  # c2 and c3 share a shape
    for layer in r.layers:
        assert layer.default is not None and layer.default_cycles is not None
        assert layer.cycles is not None and layer.energy_pj is not None
        assert layer.default_energy_pj is not None
        value = {"cycles": layer.cycles, "energy": layer.energy_pj}.get(
            objective, layer.energy_pj * layer.cycles
        )
        default = {"cycles": layer.default_cycles, "energy": layer.default_energy_pj}.get(
            objective, layer.default_energy_pj * layer.default_cycles
        )
        assert value <= default, layer
    assert r.alone_cycles == sum(x.cycles or 0 for x in r.layers)
    assert r.default_cycles == sum(x.default_cycles or 0 for x in r.layers)
    # the same shape, the same answer
    c2, c3 = r.layers[1], r.layers[2]
    assert (c2.tiling, c2.cycles, c2.search_index) == (c3.tiling, c3.cycles, c3.search_index)


def test_exhaustive_search_is_brute_force() -> None:
    # Random search with a budget larger than the space scores every candidate: brute force.
    for objective in SEARCH_OBJECTIVES:
        ex = search(small_net(), ACC, memory=MEM, objective=objective, strategy="exhaustive")
        brute = search(
            small_net(),
            ACC,
            memory=MEM,
            objective=objective,
            strategy="random",
            budget=10**6,
            schedule=False,
        )
        for a, b in zip(ex.layers, brute.layers, strict=True):
            assert a.complete and b.complete
            assert b.exact_evaluations == b.space_size
            assert (a.tiling, a.cycles, a.energy_pj) == (b.tiling, b.cycles, b.energy_pj), objective
            assert a.exact_evaluations <= b.exact_evaluations


def test_guided_search_with_ddr4_is_near_the_exhaustive_optimum() -> None:
    net = Workload("two", list(small_net())[:2])
    g = search(net, ACC, memory=DDR, strategy="guided", schedule=False)
    ex = search(net, ACC, memory=DDR, strategy="exhaustive", schedule=False)
    for a, b in zip(g.layers, ex.layers, strict=True):
        assert a.cycles is not None and b.cycles is not None
        assert b.cycles <= a.cycles <= 1.01 * b.cycles
        assert a.stand_in_evaluations > 0 and a.exact_evaluations <= 24
    assert g.evaluations["stand_in"] > 0
    assert g.evaluations_per_second_per_core["exact"] > 0


def test_same_seed_same_answer() -> None:
    runs = [
        search(small_net(), ACC, memory=MEM, strategy="random", budget=6, seed=s, threads=t)
        for s, t in ((5, 1), (5, 2), (5, 3))
    ]
    first = runs[0]
    for r in runs[1:]:
        assert r.tilings == first.tilings
        assert r.cycles == first.cycles
        assert r.evaluations == first.evaluations


@pytest.mark.parametrize("memory", [MEM, DDR], ids=["bandwidth", "ddr4"])
def test_a_mapping_file_replays_the_searched_cycles(memory: Memory, tmp_path: Path) -> None:
    r = search(small_net(), ACC, memory=memory, budget=4)
    path = r.write_mapping(tmp_path / "m.json")
    assert read_mapping(path) == r.tilings
    sched = read_schedule(path)
    assert sched is not None and sched.overlap == (r.schedule is not None)
    replay = run_schedule(small_net(), ACC, memory=memory, mapping=path)
    assert replay.total_cycles == r.cycles
    assert [x.cycles for x in replay.layers] == [x.cycles for x in r.result.layers]
    assert [x.tiling for x in replay.layers] == [x.tiling for x in r.layers]
    energy = sum((x.energy or {})["energy_total_pj"] for x in replay.layers)
    assert math.isclose(energy, r.energy_pj)


def test_a_schedule_keeps_chained_outputs_on_chip_when_they_fit() -> None:
    big = Memory(ifmap_bytes=64 << 10, filter_bytes=8 << 10, ofmap_bytes=16 << 10, bandwidth=4)
    tilings = {x.name: x.tiling for x in search(small_net(), ACC, memory=big).layers}
    kept = Schedule(input_on_chip=("c2", "c3"))
    with_keep = run_schedule(small_net(), ACC, memory=big, tilings=tilings, schedule=kept)
    alone = run_schedule(small_net(), ACC, memory=big, tilings=tilings)
    for name in ("c2", "c3"):
        assert with_keep.layer(name).stat("dram_ifmap_bytes") == 0
        assert alone.layer(name).stat("dram_ifmap_bytes") > 0
    assert with_keep.layer("c1").stat("dram_ofmap_bytes") == 0
    # Layers alone are exactly `accelsim.run`'s layers.
    ran = accelsim.run(small_net(), ACC, memory=big, tilings=tilings)
    assert [x.cycles for x in alone.layers] == [x.cycles for x in ran.layers]
    # An output that does not fit the ifmap buffer cannot stay.
    with pytest.raises(ConfigError, match="ifmap buffer"):
        run_schedule(small_net(), ACC, memory=MEM, tilings=tilings, schedule=kept)


def test_ctrl_c_returns_the_best_so_far() -> None:
    calls = []

    def interrupt(done: int, total: int, evaluations: int) -> None:
        calls.append((done, total, evaluations))
        raise KeyboardInterrupt

    r = search(small_net(), ACC, memory=DDR, progress=interrupt)
    assert r.interrupted
    assert len(calls) == 1
    assert len(r.layers) == 5 and r.cycles > 0
    for layer in r.layers:  # at least the default, scored in the first round
        assert layer.cycles is not None and layer.default_cycles is not None


def test_progress_and_bad_arguments() -> None:
    seen: list[tuple[int, int, int]] = []
    search(small_net(), ACC, memory=MEM, progress=lambda *a: seen.append(a))
    assert seen and seen[-1][0] == seen[-1][1] == 4
    assert [s[2] for s in seen] == sorted(s[2] for s in seen)
    with pytest.raises(ConfigError, match="valid choices: cycles, energy, edp"):
        search(small_net(), ACC, memory=MEM, objective="speed")
    with pytest.raises(ConfigError, match=", ".join(SEARCH_STRATEGIES)):
        search(small_net(), ACC, memory=MEM, strategy="annealing")
    with pytest.raises(ConfigError, match="budget"):
        search(small_net(), ACC, memory=MEM, budget=0)
    with pytest.raises(ConfigError, match="dataflows"):
        search(small_net(), ACC, memory=MEM, dataflows=["ws", "rs"])


def test_dataflows_are_searched_per_layer_and_replayed(tmp_path: Path) -> None:
    r = search(small_net(), ACC, memory=MEM, dataflows=["ws", "os", "is"], schedule=False)
    one = search(small_net(), ACC, memory=MEM, schedule=False)
    assert r.alone_cycles <= one.alone_cycles
    for a, b in zip(r.layers, one.layers, strict=True):
        assert a.space_size > b.space_size
    path = r.write_mapping(tmp_path / "m.json")
    replay = run_schedule(small_net(), ACC, memory=MEM, mapping=path)
    assert replay.total_cycles == r.cycles


def test_cli_search_writes_a_mapping_that_run_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping, out = tmp_path / "r18.json", tmp_path / "search.json"
    flags = ["--pe", "16x16", "--sram", "ifmap=64K,filter=64K,ofmap=64K"]
    code = cli.main(["search", "resnet18", *flags, "-o", str(mapping), "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "searched" in text and "layer4.1.conv2" in text and "evaluations" in text
    found = json.loads(out.read_text())
    assert cli.main(["run", "resnet18", *flags, "--mapping", str(mapping), "--json", "-"]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert ran["total_cycles"] == found["cycles"]
    assert [x["cycles"] for x in ran["layers"]] == [x["cycles"] for x in found["result"]["layers"]]


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["search", "resnet18", "--objective", "speed"]) == 2
    assert cli.main(["search", "resnet18", "--mapping", "x.json"]) == 2
    assert "writes a mapping with -o" in capsys.readouterr().err
    assert cli.main(["search", "resnet18", "--dram", "ideal"]) == 2
    assert cli.main(["search", "no-such-model"]) == 2
    assert cli.main(["search", "resnet18", "--budget", "0"]) == 2
