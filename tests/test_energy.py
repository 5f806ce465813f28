"""Energy reports: per-layer energies add up to the totals, each DRAM preset has its own energy
from its statistics and currents (core and I/O apart), and the energy knobs are validated and
replay (docs/energy.md)."""

from __future__ import annotations

import json
import math

import pytest

import accelsim
from accelsim import Accelerator, ConfigError, ConvLayer, GemmLayer, Memory, Workload, run
from accelsim.results import memory_stat_names

PRESETS = ("ddr4-2400", "ddr4-3200", "lpddr4-3200", "hbm2")
ENERGY = ("mac", "ifmap_sram", "filter_sram", "ofmap_sram", "dram")
ARRAY = Accelerator(rows=16, cols=16)


def workload() -> Workload:
    return Workload(
        "small",
        [
            ConvLayer("conv1", 1, 3, 16, 32, 32, 3, 3, stride=1, pad=1),
            ConvLayer("conv2", 1, 16, 32, 32, 32, 3, 3, stride=2, pad=1),
            GemmLayer("fc", 1, 8192, 100),
        ],
    )


def mem(dram: str, **kwargs: object) -> Memory:
    return Memory(
        ifmap_bytes=16 << 10, filter_bytes=16 << 10, ofmap_bytes=16 << 10, dram=dram, **kwargs
    )


@pytest.fixture(scope="module")
def results() -> dict[str, accelsim.NetworkResult]:
    return {d: run(workload(), ARRAY, memory=mem(d)) for d in ("bandwidth", *PRESETS)}


@pytest.mark.parametrize("dram", ("bandwidth", *PRESETS))
def test_layer_energies_add_up_to_the_totals(
    results: dict[str, accelsim.NetworkResult], dram: str
) -> None:
    r = results[dram]
    totals = r.energy_totals()
    assert totals is not None
    for layer in r.layers:
        e = layer.energy
        assert e is not None
        assert math.isclose(e["energy_dram_pj"], e["energy_dram_core_pj"] + e["energy_dram_io_pj"])
        parts = sum(e[f"energy_{name}_pj"] for name in ENERGY)
        assert math.isclose(e["energy_total_pj"], parts, rel_tol=1e-12)
        assert all(v >= 0 for v in e.values())
    for name, total in totals.items():
        assert math.isclose(total, sum(layer.energy[name] for layer in r.layers))  # type: ignore[index]
    assert math.isclose(
        totals["energy_total_pj"], sum(totals[f"energy_{name}_pj"] for name in ENERGY)
    )


def test_presets_differ_and_report_core_and_io(
    results: dict[str, accelsim.NetworkResult],
) -> None:
    dram = {d: results[d].energy_totals()["energy_dram_pj"] for d in results}  # type: ignore[index]
    assert len(set(dram.values())) == len(dram), dram
    # The same accesses on the array and the buffers whatever the DRAM.
    on_chip = {
        d: tuple(results[d].energy_totals()[f"energy_{n}_pj"] for n in ENERGY[:4])  # type: ignore[index]
        for d in results
    }
    assert len(set(on_chip.values())) == 1
    for d in PRESETS:
        t = results[d].energy_totals()
        assert t is not None and t["energy_dram_core_pj"] > 0 and t["energy_dram_io_pj"] > 0
    bw = results["bandwidth"].energy_totals()
    assert bw is not None and bw["energy_dram_io_pj"] == 0  # Horowitz's figure includes I/O
    # Per byte on the DRAM's pins (whole bursts: a layer that uses a few bytes of each burst
    # pays for all of them), HBM2 costs less than DDR4, and every preset less than Horowitz's
    # 45 nm per-byte figure, which the bandwidth model charges per byte moved.
    per_byte = {
        "bandwidth": dram["bandwidth"] / sum(moved(layer) for layer in results["bandwidth"].layers)
    }
    for d in PRESETS:
        pins = sum(
            layer.dram["bytes_read"] + layer.dram["bytes_written"]  # type: ignore[index]
            for layer in results[d].layers
        )
        per_byte[d] = dram[d] / pins
    assert per_byte["bandwidth"] == pytest.approx(243.75)
    assert per_byte["hbm2"] < per_byte["ddr4-3200"] < per_byte["ddr4-2400"], per_byte
    assert max(per_byte[d] for d in PRESETS) < per_byte["bandwidth"], per_byte


def moved(layer: accelsim.LayerResult) -> int:
    ms = layer.memory_stats
    assert ms is not None
    return ms["dram_read_bytes"] + ms["dram_write_bytes"]


def test_energy_defaults_resolve_per_model() -> None:
    bw = mem("bandwidth")
    assert (bw.dram_read_pj_per_byte, bw.dram_write_pj_per_byte) == (243.75, 243.75)
    assert (bw.dram_io_read_pj_per_bit, bw.dram_io_write_pj_per_bit) == (0.0, 0.0)
    io = {}
    for d in PRESETS:
        m = mem(d)
        # Core energy from the preset's currents: no per-byte figure.
        assert (m.dram_read_pj_per_byte, m.dram_write_pj_per_byte) == (None, None)
        assert m.dram_io_read_pj_per_bit is not None and m.dram_io_read_pj_per_bit > 0
        io[d] = (m.dram_io_read_pj_per_bit, m.dram_io_write_pj_per_bit)
    # POD12 termination at 1.2 V, 34 + 48 ohm, half the bits, one unit interval.
    assert io["ddr4-3200"][0] == pytest.approx(0.5 * 1.44 / 82 * 1e3 / 3.2)
    assert io["ddr4-2400"][0] == pytest.approx(0.5 * 1.44 / 82 * 1e3 / 2.4)
    # LPDDR4 from the memspec's VDDQ currents; HBM2 C V^2 / 4 with 2.4 pF at 1.2 V.
    assert io["lpddr4-3200"] == pytest.approx(((150 - 0.75) * 1.1 / 51.2, (55 - 0.75) * 1.1 / 51.2))
    assert io["hbm2"] == pytest.approx((0.864, 0.864))


def test_energy_overrides() -> None:
    wl = Workload("one", [GemmLayer("g", 64, 256, 64)])
    base = run(wl, ARRAY, memory=mem("ddr4-3200")).layers[0]
    assert base.energy is not None
    no_io = run(
        wl, ARRAY, memory=mem("ddr4-3200", dram_io_read_pj_per_bit=0, dram_io_write_pj_per_bit=0)
    ).layers[0]
    assert no_io.energy is not None
    assert no_io.energy["energy_dram_io_pj"] == 0
    assert no_io.energy["energy_dram_core_pj"] == base.energy["energy_dram_core_pj"]
    # A per-byte figure with a preset: a flat core energy per byte moved.
    m = mem("ddr4-3200", dram_read_pj_per_byte=100.0, dram_write_pj_per_byte=50.0)
    flat = run(wl, ARRAY, memory=m).layers[0]
    assert flat.energy is not None and flat.memory_stats is not None
    want = (
        100.0 * flat.memory_stats["dram_read_bytes"] + 50.0 * flat.memory_stats["dram_write_bytes"]
    )
    assert flat.energy["energy_dram_core_pj"] == pytest.approx(want)
    assert flat.energy["energy_dram_io_pj"] == pytest.approx(base.energy["energy_dram_io_pj"])
    # Only one direction given: the other takes Horowitz's default.
    assert mem("hbm2", dram_read_pj_per_byte=10.0).dram_write_pj_per_byte == 243.75


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"dram_io_read_pj_per_bit": -1.0}, "dram_io_read_pj_per_bit"),
        ({"dram_io_write_pj_per_bit": float("nan")}, "dram_io_write_pj_per_bit"),
        ({"dram_io_read_pj_per_bit": "3"}, "dram_io_read_pj_per_bit"),
    ],
)
def test_energy_knobs_are_validated(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        mem("ddr4-3200", **kwargs)


def test_energy_knobs_replay_and_unknown_keys_are_errors() -> None:
    for d in ("bandwidth", *PRESETS):
        m = mem(d, dram_io_write_pj_per_bit=1.5)
        data = json.loads(json.dumps(m.to_dict()))
        assert Memory.from_dict(data) == m
        assert Memory.from_dict(data).to_dict() == m.to_dict()
    with pytest.raises(ConfigError, match="dram_io_pj_per_bit"):
        Memory.from_dict({"dram": "hbm2", "dram_io_pj_per_bit": 1.0})


def test_energy_statistics_are_declared() -> None:
    names = memory_stat_names()
    for name in ("energy_dram_pj", "energy_dram_core_pj", "energy_dram_io_pj"):
        assert name in names
    catalog = {name: (unit, desc) for name, unit, desc in accelsim._core.dram_stat_catalog()}
    assert catalog["rank_active_cycles"][0] == "rank-cycles"
