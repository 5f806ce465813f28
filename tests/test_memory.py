"""The memory system in the Python API, config files, mapping files, run directories and CLI.

Hypothesis properties are in ``test_memory_properties.py``.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import accelsim
from accelsim import (
    DRAM_MODELS,
    LOOP_ORDERS,
    Accelerator,
    ConfigError,
    ConvLayer,
    GemmLayer,
    Memory,
    RunConfig,
    Tiling,
    Workload,
    _core,
    cli,
    run,
)
from accelsim.config import load_config, parse_size
from accelsim.mapping import mapping_text, read_mapping, write_mapping
from accelsim.results import memory_stat_names, stall_stats, stat_names
from accelsim.rundir import write_run_dir

RESNET18_MACS = 1_814_073_344
SMALL = Memory(ifmap_bytes=64 << 10, filter_bytes=64 << 10, ofmap_bytes=64 << 10)
# The README's ideal-memory figures for ResNet-18 on a 32x32 array.
IDEAL_RESNET18 = {"ws": 1_799_593, "os": 1_980_444, "is": 1_987_354}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_gemm(m: int, k: int, n: int) -> Workload:
    return Workload("one", [GemmLayer("g", m, k, n)])


# ---- Memory and Tiling configuration ----------------------------------------------------------


def test_memory_defaults_mirror_the_core() -> None:
    native = _core.MemoryConfig().to_dict()
    assert native.pop("freq_mhz") == 1000.0  # the accelerator's clock, not a memory field
    assert Memory().to_dict() == native
    mem = Memory(ifmap_bytes=1024, dram="BANDWIDTH", bandwidth=4, latency=0, accumulator=False)
    native = _core.MemoryConfig(
        ifmap_bytes=1024, dram="bandwidth", bandwidth=4.0, latency=0, accumulator=False
    )
    assert mem.to_dict() == {k: v for k, v in native.to_dict().items() if k != "freq_mhz"}
    assert mem.dram == "bandwidth" and isinstance(mem.bandwidth, float)
    assert set(DRAM_MODELS) >= {"bandwidth"}
    assert LOOP_ORDERS == ("mnk", "mkn", "nmk", "nkm", "kmn", "knm")


def test_memory_dict_round_trip_frozen_hashable_picklable() -> None:
    mem = Memory(ifmap_bytes=4096, double_buffer=False, mac_pj=0.5)
    assert Memory.from_dict(mem.to_dict()) == mem
    assert Memory.from_dict({"ifmap_bytes": "4K", "double_buffer": False, "mac_pj": 0.5}) == mem
    assert hash(mem) == hash(Memory.from_dict(mem.to_dict()))
    assert pickle.loads(pickle.dumps(mem)) == mem
    with pytest.raises(dataclasses.FrozenInstanceError):
        mem.bandwidth = 1.0  # type: ignore[misc]
    with pytest.raises(ConfigError, match="bandwidth"):
        dataclasses.replace(mem, bandwidth=0)


@pytest.mark.parametrize(
    ("kwargs", "must_contain"),
    [
        (dict(ifmap_bytes=0), ["ifmap"]),
        (dict(filter_bytes=-5), ["filter"]),
        (dict(ofmap_bytes="64K"), ["ofmap_bytes", "integer"]),
        (dict(ifmap_word_bytes=0), ["ifmap.word_bytes", "1 to 16"]),
        (dict(output_bytes=17), ["output_bytes"]),
        (dict(bandwidth=0), ["bandwidth"]),
        (dict(bandwidth=float("nan")), ["bandwidth"]),
        (dict(bandwidth="fast"), ["bandwidth"]),
        (dict(latency=-1), ["latency"]),
        (dict(latency=1.5), ["latency", "integer"]),
        (dict(dram="hbm9"), ["dram", "'hbm9'", "bandwidth"]),
        (dict(dram=3), ["dram", "bandwidth"]),
        (dict(accumulator="yes"), ["accumulator"]),
        (dict(double_buffer=1), ["double_buffer"]),
        (dict(ifmap_base=-1), ["ifmap_base"]),
        (dict(ofmap_base=2**64), ["ofmap_base"]),
        (dict(mac_pj=-1.0), ["mac_pj"]),
        (dict(ifmap_ports=0), ["ifmap.ports"]),
        (dict(filter_banks=-1), ["filter_banks"]),
        (dict(ifmap_bytes=2**70), ["ifmap_bytes"]),
    ],
)
def test_memory_validation(kwargs: dict[str, object], must_contain: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        Memory(**kwargs)  # type: ignore[arg-type]
    for word in must_contain:
        assert word in str(info.value)


def test_memory_from_dict_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(ConfigError) as info:
        Memory.from_dict({"ifmap_byte": 1024})
    text = str(info.value)
    assert "unknown memory key 'ifmap_byte'" in text and "did you mean 'ifmap_bytes'" in text
    assert "valid keys: ifmap_bytes, filter_bytes, ofmap_bytes" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("65536", 65536),
        ("64K", 65536),
        ("64k", 65536),
        ("64KiB", 65536),
        ("1M", 1 << 20),
        ("2MiB", 2 << 20),
        (" 8 K ", 8192),
        ("100B", 100),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "K", "64KB", "1.5M", "-1K", "64 G", "sixty"])
def test_parse_size_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="K, KiB, M or MiB"):
        parse_size(text)


def test_tiling_of() -> None:
    t = Tiling(128, 147, 64, "mnk")
    assert str(t) == "128x147x64 mnk"
    assert Tiling.of((128, 147, 64, "MNK")) == t
    assert Tiling.of(t.to_dict()) == t
    assert Tiling.of([128, np.int64(147), 64, "mnk"]) == t
    with pytest.raises(ConfigError, match=r"tiling\.order: unknown loop order 'mkk'.*valid"):
        Tiling.of((1, 1, 1, "mkk"))
    with pytest.raises(ConfigError, match=r"tiling\.k must be a positive integer"):
        Tiling.of((1, 0, 1, "mnk"))
    with pytest.raises(ConfigError, match="missing key 'order'"):
        Tiling.of({"m": 1, "k": 1, "n": 1})
    with pytest.raises(ConfigError, match="unknown tiling key 'x'"):
        Tiling.of({"m": 1, "k": 1, "n": 1, "order": "mnk", "x": 1})
    with pytest.raises(ConfigError, match=r"expected \(m_t, k_t, n_t, order\)"):
        Tiling.of((1, 2, 3))


def test_run_config_memory_and_tilings() -> None:
    config = RunConfig("resnet18", memory=SMALL, tilings={"conv1": (128, 147, 64, "mnk")})
    assert config.tilings == {"conv1": Tiling(128, 147, 64, "mnk")}
    data = config.to_dict()
    assert data["memory"] == SMALL.to_dict()
    assert data["tilings"] == {"conv1": {"m": 128, "k": 147, "n": 64, "order": "mnk"}}
    assert RunConfig.from_dict(data) == config
    hash(config)
    # Ideal memory: no memory keys, as before the memory system existed.
    assert list(RunConfig("resnet18").to_dict()) == ["model", "batch", "engine", "accelerator"]
    with pytest.raises(ConfigError, match=r"^engine: .*valid choices with memory: fast"):
        RunConfig("resnet18", engine="pe", memory=SMALL)
    with pytest.raises(ConfigError, match=r"^tilings: .*need a memory system"):
        RunConfig("resnet18", tilings={"conv1": (1, 1, 1, "mnk")})


def test_toml_memory_table(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        'model = "resnet18"\n[accelerator]\nrows = 16\ncols = 16\n'
        '[memory]\nifmap_bytes = "64K"\nfilter_bytes = 65536\nbandwidth = 8\naccumulator = false\n'
        '[tilings.conv1]\nm = 64\nk = 147\nn = 64\norder = "mnk"\n'
    )
    config = load_config(path)
    assert config.memory == Memory(
        ifmap_bytes=65536, filter_bytes=65536, bandwidth=8.0, accumulator=False
    )
    assert config.tilings == {"conv1": Tiling(64, 147, 64, "mnk")}
    path.write_text('model = "resnet18"\n[memory]\nbandwith = 8\n')
    with pytest.raises(ConfigError, match=r"unknown memory key 'bandwith'.*did you mean"):
        load_config(path)


# ---- the API ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_ideal_memory_is_unchanged(dataflow: str) -> None:
    acc = Accelerator(rows=32, cols=32, dataflow=dataflow)
    result = accelsim.run("resnet18", acc)
    assert result.total_cycles == IDEAL_RESNET18[dataflow]
    assert result.memory is None and result.stalls is None and result.dram_bandwidth is None
    assert result.tilings == {} and result.energy_totals() is None
    layer = result.layers[0]
    assert layer.memory_stats is None and layer.tiling is None and layer.stalls is None
    assert layer.compute_cycles is None and layer.dram_read_bytes is None
    assert list(result.totals()) == list(stat_names())
    assert "memory" not in result.config_dict() and "stalls" not in result.to_dict()
    base = ["name", "kind", "m", "k", "n", "groups"]
    assert result.csv_columns() == [*base, *stat_names(), "utilization"]
    assert result == accelsim.run("resnet18", acc, memory=None, tilings=None)


def test_memory_run_resnet18() -> None:
    acc = Accelerator(rows=32, cols=32)
    result = accelsim.run("resnet18", acc, memory=SMALL)
    ideal = accelsim.run("resnet18", acc)
    assert len(result) == 21 and result.total_macs == RESNET18_MACS
    assert result.total_cycles >= ideal.total_cycles
    totals = result.totals()
    assert set(memory_stat_names()) - set(totals) <= {n for n in memory_stat_names() if "pj" in n}
    assert result.stalls == {c: totals[s] for c, s in stall_stats().items()}
    assert totals["compute_cycles"] + sum(result.stalls.values()) == result.total_cycles
    moved = totals["dram_read_bytes"] + totals["dram_write_bytes"]
    assert result.dram_bandwidth == pytest.approx(moved / result.total_cycles)
    assert result.dram_bandwidth is not None and 0 < result.dram_bandwidth <= SMALL.bandwidth
    for layer, ideal_layer in zip(result.layers, ideal.layers, strict=True):
        assert layer.macs == ideal_layer.macs and layer.folds >= ideal_layer.folds
        assert layer.stalls is not None and layer.compute_cycles is not None
        assert layer.compute_cycles + sum(layer.stalls.values()) == layer.cycles
        assert layer.stall_ifmap_cycles == layer.stalls["ifmap"]  # attribute access
        assert layer.tiling is not None and layer.tiling.order in LOOP_ORDERS
        assert layer.energy is not None and layer.energy["energy_total_pj"] > 0
        assert layer.tiling == accelsim.default_tiling(
            layer.m, layer.k, layer.n, acc, SMALL, groups=layer.groups
        )
    data = result.to_dict()
    assert data["stalls"] == result.stalls and data["dram_bytes_per_cycle"] > 0
    first = data["layers"][0]
    assert list(first["stalls"]) == list(stall_stats())
    assert {"ifmap", "filter", "ofmap"} <= set(first["stalls"])
    assert first["tiling"] == result.layers[0].tiling.to_dict()  # type: ignore[union-attr]
    assert {"compute_cycles", "dram_read_bytes", "dram_write_bytes"} <= set(first)
    assert data["config"]["memory"] == SMALL.to_dict()
    assert list(data["config"]["tilings"]) == [layer.name for layer in result.layers]


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize(("accumulator", "double_buffer"), [(True, True), (False, False)])
def test_stalls_plus_compute_equal_cycles(
    dataflow: str, accumulator: bool, double_buffer: bool
) -> None:
    memory = Memory(
        ifmap_bytes=16 << 10,
        filter_bytes=8 << 10,
        ofmap_bytes=16 << 10,
        accumulator=accumulator,
        double_buffer=double_buffer,
        bandwidth=4,
        latency=30,
    )
    result = accelsim.run(
        "resnet18", Accelerator(rows=16, cols=8, dataflow=dataflow), memory=memory
    )
    for layer in result.layers:
        assert layer.stalls is not None and layer.compute_cycles is not None
        assert layer.compute_cycles + sum(layer.stalls.values()) == layer.cycles, layer.name


def test_scratchpad_banks_stall_the_array(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acc = Accelerator(rows=16, cols=16)
    wide = accelsim.run("resnet18", acc, memory=SMALL)
    narrow_memory = dataclasses.replace(SMALL, ifmap_banks=2, filter_banks=4, filter_ports=2)
    narrow = accelsim.run("resnet18", acc, memory=narrow_memory)
    assert "bank" in stall_stats()
    assert wide.stalls is not None and narrow.stalls is not None
    assert wide.stalls["bank"] == 0 < narrow.stalls["bank"]
    assert narrow.total_cycles > wide.total_cycles
    for layer in narrow.layers:
        assert layer.compute_cycles + sum(layer.stalls.values()) == layer.cycles  # type: ignore[operator,union-attr]
    # The CLI shows a bank-stall column only when there are bank stalls.
    toml = tmp_path / "banks.toml"
    toml.write_text(
        'model = "resnet18"\n[accelerator]\nrows = 16\ncols = 16\n'
        '[memory]\nifmap_bytes = "64K"\nfilter_bytes = "64K"\nofmap_bytes = "64K"\n'
        "ifmap_banks = 2\nfilter_banks = 4\nfilter_ports = 2\n"
    )
    code, out, err = run_cli(capsys, "run", "--config", str(toml))
    assert code == 0, err
    header = "\n".join(out.splitlines()[:4])
    assert "bank" in header
    assert next(x for x in out.splitlines() if x.startswith("stall bank")).split()[-1] == (
        f"{narrow.stalls['bank']:,}"
    )
    code, out, err = run_cli(capsys, "run", "resnet18", "--pe", "16x16", *SRAM_64K)
    assert code == 0, err
    assert "bank" not in "\n".join(out.splitlines()[:4])
    assert next(x for x in out.splitlines() if x.startswith("stall bank")).split()[-1] == "0"


def test_one_call_path_equals_layer_by_layer_path() -> None:
    acc = Accelerator(rows=16, cols=16, dataflow="os")
    seen: list[str] = []
    one = accelsim.run("resnet18", acc, memory=SMALL)
    each = accelsim.run(
        "resnet18", acc, memory=SMALL, progress=lambda done, total, name: seen.append(name)
    )
    assert one == each
    assert seen == [layer.name for layer in one.layers]


# A 64x32x16 GEMM in 32x16x16 tiles: 2 M tiles, 2 K tiles, 1 N tile; int8 operands and
# outputs, int32 partial sums. Worked by hand from the tile sequence:
#  mnk + accumulator: tiles (m0,k0) (m0,k1) (m1,k0) (m1,k1). Every tile loads a new 32x16
#   ifmap tile (4 x 512 B) and a new 16x16 filter tile (4 x 256 B); each 32x16 output tile is
#   written once (2 x 512 B).
#  kmn: tiles (k0,m0) (k0,m1) (k1,m0) (k1,m1). ifmap 4 x 512 B; the filter tile changes once
#   (2 x 256 B); every output tile is left unfinished after k0: 2 x 2048 B of int32 partial
#   sums spilled and read back, then 2 x 512 B of outputs.
#  mnk without accumulator: as mnk, plus the k0 partial sums spilled and read back (2 x 2048 B).
HAND_CASES = [
    ("mnk", True, dict(ifmap=2048, filter=1024, ofmap=1024, psum=0)),
    ("kmn", True, dict(ifmap=2048, filter=512, ofmap=1024, psum=4096)),
    ("mnk", False, dict(ifmap=2048, filter=1024, ofmap=1024, psum=4096)),
]


@pytest.mark.parametrize(("order", "accumulator", "want"), HAND_CASES)
def test_dram_bytes_hand_computed(order: str, accumulator: bool, want: dict[str, int]) -> None:
    memory = Memory(accumulator=accumulator, bandwidth=16)
    result = accelsim.run(
        one_gemm(64, 32, 16), Accelerator(rows=4, cols=4), memory=memory,
        tilings={"g": (32, 16, 16, order)},
    )  # fmt: skip
    layer = result.layers[0]
    assert layer.tiling == Tiling(32, 16, 16, order)
    stats = layer.memory_stats
    assert stats is not None
    assert stats["tiles"] == 4
    assert stats["dram_ifmap_bytes"] == want["ifmap"]
    assert stats["dram_filter_bytes"] == want["filter"]
    assert stats["dram_ofmap_bytes"] == want["ofmap"]
    assert stats["dram_psum_read_bytes"] == stats["dram_psum_write_bytes"] == want["psum"]
    assert layer.dram_read_bytes == want["ifmap"] + want["filter"] + want["psum"]
    assert layer.dram_write_bytes == want["ofmap"] + want["psum"]
    # The interface moves 16 bytes a cycle.
    assert stats["dram_busy_cycles"] == (stats["dram_read_bytes"] + stats["dram_write_bytes"]) // 16


def test_tiling_that_does_not_fit_names_layer_and_buffer() -> None:
    acc = Accelerator(rows=32, cols=32)
    with pytest.raises(ConfigError) as info:
        accelsim.run("resnet18", acc, memory=SMALL, tilings={"conv1": (12544, 147, 64, "mnk")})
    text = str(info.value)
    assert text.startswith("layer 'conv1': ")
    assert "'ifmap'" in text and "65536 B" in text and "1843968 B" in text
    # The same error from the layer-by-layer path.
    with pytest.raises(ConfigError, match=r"layer 'conv1': .*'ifmap'"):
        accelsim.run(
            "resnet18", acc, memory=SMALL, tilings={"conv1": (12544, 147, 64, "mnk")},
            progress=lambda *args: None,
        )  # fmt: skip
    with pytest.raises(ConfigError, match=r"layer 'fc': .*tiling\.n.*N = 1000"):
        accelsim.run("resnet18", acc, memory=SMALL, tilings={"fc": (1, 512, 2000, "mnk")})
    # Buffers too small for any tiling: the default chooser says which.
    tiny = Memory(ofmap_bytes=6)
    with pytest.raises(ConfigError, match="'ofmap'"):
        accelsim.run("resnet18", acc, memory=tiny)
    with pytest.raises(ConfigError, match="'ofmap'"):
        accelsim.default_tiling(8, 8, 8, acc, tiny)


def test_run_memory_errors() -> None:
    with pytest.raises(ConfigError, match=r"^engine: .*fast"):
        accelsim.run("resnet18", engine="pe", memory=SMALL)
    with pytest.raises(ConfigError, match=r"^tilings: .*need a memory system"):
        accelsim.run("resnet18", tilings={"conv1": (1, 1, 1, "mnk")})
    with pytest.raises(ConfigError, match=r"unknown layer 'conv0'.*valid names: conv1, "):
        accelsim.run("resnet18", memory=SMALL, tilings={"conv0": (1, 1, 1, "mnk")})
    with pytest.raises(ConfigError, match="memory must be a Memory"):
        accelsim.run("resnet18", memory=_core.MemoryConfig())  # type: ignore[arg-type]


def test_default_tiling() -> None:
    acc = Accelerator(rows=8, cols=8)
    t = accelsim.default_tiling(100, 70, 40, acc, Memory())
    assert t == Tiling(100, 70, 40, "mnk")  # everything fits: one tile
    assert accelsim.default_tiling(100, 70, 40) == _core.default_tiling(
        100, 70, 40, Accelerator()._array, Memory()._native
    )
    small = accelsim.default_tiling(512, 512, 512, acc, Memory(ifmap_bytes=4096))
    assert small.m * small.k <= 2048  # half of a double-buffered 4 KiB ifmap buffer
    with pytest.raises(accelsim.WorkloadError, match="m must be a positive integer"):
        accelsim.default_tiling(0, 1, 1)


# ---- mapping files ----------------------------------------------------------------------------


def test_mapping_round_trip_reproduces_cycles(tmp_path: Path) -> None:
    acc = Accelerator(rows=16, cols=16, dataflow="is")
    memory = Memory(ifmap_bytes=32 << 10, filter_bytes=16 << 10, bandwidth=6, latency=40)
    first = accelsim.run("resnet18", acc, memory=memory)
    path = write_mapping(first, tmp_path / "map.json")
    tilings = read_mapping(path)
    assert tilings == first.tilings and list(tilings) == [r.name for r in first.layers]
    again = accelsim.run("resnet18", acc, memory=memory, tilings=tilings)
    assert again.total_cycles == first.total_cycles
    assert [r.cycles for r in again.layers] == [r.cycles for r in first.layers]
    assert again == first
    # One layer per line; the file is plain JSON in the documented shape.
    text = path.read_text()
    assert text.count("\n") == 21 + 4
    assert json.loads(text)["layers"]["conv1"] == first.layers[0].tiling.to_dict()  # type: ignore[union-attr]
    # A different tiling for one layer changes that layer only.
    changed = {"conv1": Tiling(64, 64, 64, "nmk")}
    other = accelsim.run("resnet18", acc, memory=memory, tilings=changed)
    assert other.layers[0].tiling == changed["conv1"]
    assert other.layers[1:] == first.layers[1:]


def test_mapping_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    with pytest.raises(ConfigError, match="ideal memory"):
        write_mapping(accelsim.run("resnet18"), path)
    assert mapping_text({}) == '{\n  "layers": {\n  }\n}\n'
    assert read_mapping(write_mapping({}, path)) == {}
    cases = [
        ("[]", "expected a JSON object with a 'layers' table"),
        ('{"layer": {}}', "expected a JSON object with a 'layers' table"),
        ('{"layers": {}, "model": "x"}', "unknown mapping key 'model'.*valid keys: layers"),
        ('{"layers": {"conv1": {"m": 1, "k": 1, "n": 1}}}', "missing key 'order'"),
        ('{"layers": {"conv1": {"m": 1, "k": 1, "n": 1, "order": "x"}}}', "conv1.order"),
        ('{"layers": [1]}', "layers must be a table"),
        ("{", "not valid JSON"),
    ]
    for text, match in cases:
        path.write_text(text)
        with pytest.raises(ConfigError, match=match):
            read_mapping(path)
    with pytest.raises(ConfigError, match="cannot read"):
        read_mapping(tmp_path / "missing.json")


# ---- run directories --------------------------------------------------------------------------


def test_run_dir_with_memory(tmp_path: Path) -> None:
    acc = Accelerator(rows=8, cols=8, dataflow="os")
    memory = Memory(ifmap_bytes=8 << 10, filter_bytes=8 << 10, ofmap_bytes=8 << 10, bandwidth=4)
    result = accelsim.run("resnet18", acc, memory=memory)
    root = write_run_dir(result, tmp_path / "a")
    config = load_config(root / "config.json")
    assert config.memory == memory and config.tilings == result.tilings
    stats = json.loads((root / "stats.json").read_text())
    assert [s["name"] for s in stats["stat_catalog"]] == [*stat_names(), *memory_stat_names()]
    header = (root / "layers.csv").read_text().splitlines()[0].split(",")
    assert header[-5:] == ["tile_m", "tile_k", "tile_n", "tile_order", "utilization"]
    again = accelsim.run(
        config.model, config.accelerator, config.engine, config.batch,
        memory=config.memory, tilings=config.tilings,
    )  # fmt: skip
    write_run_dir(again, tmp_path / "b")
    for name in ("config.json", "stats.json", "layers.csv"):
        assert (tmp_path / "b" / name).read_bytes() == (root / name).read_bytes(), name


# ---- CLI --------------------------------------------------------------------------------------


SRAM_64K = ("--sram", "ifmap=64K,filter=64K,ofmap=64K")


def test_cli_resnet18_with_memory(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "run", "resnet18", "--pe", "32x32", *SRAM_64K, "--bandwidth", "16"
    )
    assert code == 0, err
    assert err == ""
    expected = accelsim.run("resnet18", Accelerator(rows=32, cols=32), memory=SMALL)
    for text in ("stall", "ifmap", "filter", "ofmap", "DRAM", "rd MB", "tiling", "compute"):
        assert text in out
    assert "1,814,073,344" in out and f"{expected.total_cycles:,}" in out
    rows = [line for line in out.splitlines() if line.split()[:1] == ["conv1"]]
    assert len(rows) == 1 and str(expected.layers[0].tiling) in rows[0]
    assert f"{expected.layers[0].stalls['filter']:,}" in rows[0]  # type: ignore[index]
    totals = expected.totals()
    for cause in ("ifmap", "filter", "ofmap"):
        line = next(x for x in out.splitlines() if x.startswith(f"stall {cause}"))
        assert line.split()[-1] == f"{totals[f'stall_{cause}_cycles']:,}"
    assert "DRAM bandwidth" in out and "B/cycle" in out
    assert sum(1 for line in out.splitlines() if "mnk" in line or "nmk" in line) >= 1


def test_cli_memory_json_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", "resnet18", "--pe", "32x32", *SRAM_64K, "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert len(data["layers"]) == 21 and data["total_macs"] == RESNET18_MACS
    assert data["config"]["memory"] == SMALL.to_dict()
    layer = data["layers"][0]
    for key in ("stalls", "compute_cycles", "dram_read_bytes", "dram_write_bytes", "tiling"):
        assert key in layer
    assert layer["compute_cycles"] + sum(layer["stalls"].values()) == layer["cycles"]
    assert data["stalls"] == {c: sum(x["stalls"][c] for x in data["layers"]) for c in stall_stats()}
    assert data["totals"]["dram_read_bytes"] == data["dram_read_bytes"]
    path = tmp_path / "l.csv"
    code, _, err = run_cli(capsys, "run", "resnet18", *SRAM_64K, "--csv", str(path), "-q")
    assert code == 0, err
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    assert len(lines) == 22
    assert {"stall_ifmap_cycles", "compute_cycles", "dram_write_bytes", "tile_order"} <= set(header)
    assert lines[1].split(",")[header.index("tile_order")] in LOOP_ORDERS


def test_cli_memory_flags_reach_the_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "run", "resnet18", "--pe", "16x16", "--sram", "filter=1MiB,ifmap=32768",
        "--bandwidth", "8.5", "--dram-latency", "20", "--dram", "bandwidth",
        "--no-accumulator", "--no-double-buffer", "--json", "-",
    )  # fmt: skip
    assert code == 0, err
    memory = json.loads(out)["config"]["memory"]
    assert (
        memory
        == Memory(
            ifmap_bytes=32768,
            filter_bytes=1 << 20,
            bandwidth=8.5,
            latency=20,
            accumulator=False,
            double_buffer=False,
        ).to_dict()
    )
    # Any one memory flag turns the memory system on with the defaults.
    for flags in (["--bandwidth", "16"], ["--dram", DRAM_MODELS[0]], ["--no-accumulator"]):
        code, out, err = run_cli(capsys, "run", "resnet18", *flags, "--json", "-")
        assert code == 0, err
        assert "memory" in json.loads(out)["config"]
    # No memory flag, or --dram ideal: ideal memory, exactly as before.
    ideal = accelsim.run("resnet18").to_json()
    for flags in ([], ["--dram", "ideal"]):
        code, out, err = run_cli(capsys, "run", "resnet18", *flags, "--json", "-")
        assert code == 0, err
        assert out == ideal


def test_cli_mapping_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    acc = Accelerator(rows=32, cols=32)
    first = accelsim.run("resnet18", acc, memory=SMALL)
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"layers": {"conv1": {"m": 64, "k": 147, "n": 64, "order": "nkm"}}}))
    code, out, err = run_cli(
        capsys, "run", "resnet18", *SRAM_64K, "--mapping", str(path), "--json", "-"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["layers"][0]["tiling"] == {"m": 64, "k": 147, "n": 64, "order": "nkm"}
    assert data["layers"][1]["tiling"] == first.layers[1].tiling.to_dict()  # type: ignore[union-attr]
    # A full mapping written from a run reproduces it.
    write_mapping(first, path)
    code, out, err = run_cli(
        capsys, "run", "resnet18", *SRAM_64K, "--mapping", str(path), "--json", "-"
    )
    assert code == 0, err
    assert json.loads(out)["total_cycles"] == first.total_cycles


def test_cli_run_dir_replay_with_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    mapping = tmp_path / "map.json"
    mapping.write_text('{"layers": {"fc": {"m": 1, "k": 64, "n": 500, "order": "knm"}}}')
    code, _, err = run_cli(
        capsys, "run", "resnet18", "--pe", "16x8", "--dataflow", "os", "--sram",
        "ifmap=32K,ofmap=128K", "--bandwidth", "6", "--dram-latency", "75", "--no-accumulator",
        "--mapping", str(mapping), "--run-dir", str(first), "-q",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run_cli(
        capsys, "run", "--config", str(first / "config.json"), "--run-dir", str(second), "-q"
    )
    assert code == 0, err
    for name in ("config.json", "stats.json", "layers.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    config = json.loads((first / "config.json").read_text())
    assert config["memory"]["accumulator"] is False and len(config["tilings"]) == 21
    assert config["tilings"]["fc"] == {"m": 1, "k": 64, "n": 500, "order": "knm"}
    # --dram ideal on top of a memory config: ideal memory.
    code, out, err = run_cli(
        capsys, "run", "--config", str(first / "config.json"), "--dram", "ideal", "--json", "-"
    )
    assert code == 0, err
    assert "memory" not in json.loads(out)["config"]


def test_cli_toml_memory_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(
        'model = "resnet18"\n[memory]\n'
        'ifmap_bytes = "64K"\nfilter_bytes = "64K"\nofmap_bytes = "64K"\n'
    )
    code, out, err = run_cli(capsys, "run", "--config", str(toml), "--pe", "32x32", "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert data["config"]["memory"] == SMALL.to_dict()
    expected = accelsim.run("resnet18", Accelerator(rows=32, cols=32), memory=SMALL)
    assert data["total_cycles"] == expected.total_cycles
    # A flag overrides one key of the table.
    code, out, err = run_cli(
        capsys, "run", "--config", str(toml), "--bandwidth", "2", "--json", "-"
    )
    assert code == 0, err
    memory = json.loads(out)["config"]["memory"]
    assert memory["bandwidth"] == 2.0 and memory["ifmap_bytes"] == 65536


@pytest.mark.parametrize(
    ("argv", "must_contain"),
    [
        (["--sram", "ifmap:64K"], ["--sram", "'ifmap:64K'", "NAME=SIZE", "ifmap, filter, ofmap"]),
        (["--sram", "input=64K"], ["--sram", "'input=64K'", "NAME=SIZE"]),
        (["--sram", "ifmap=64KB"], ["--sram", "'64KB'", "'ifmap=64KB'", "KiB"]),
        (["--sram", "ifmap=64K,,ofmap=1M"], ["--sram", "''"]),
        (["--sram", "ifmap=1K,ifmap=2K"], ["--sram", "ifmap", "twice"]),
        (["--sram", "ifmap=0"], ["ifmap"]),
        (["--bandwidth", "0"], ["bandwidth"]),
        (["--bandwidth", "fast"], ["--bandwidth", "invalid float value"]),
        (["--dram-latency", "-1"], ["latency"]),
        (["--dram", "ddr9"], ["--dram", "'ddr9'", "ideal", "bandwidth"]),
        (["--dram", "ideal", "--sram", "ifmap=1K"], ["--dram ideal", "--sram"]),
        (["--dram", "ideal", "--no-accumulator"], ["--dram ideal", "--no-accumulator"]),
        (["--sram", "ifmap=1K", "--engine", "pe"], ["engine", "fast"]),
        (["--mapping", "nope.json"], ["mapping", "nope.json", "cannot read"]),
        (["--sram", "ofmap=6"], ["'ofmap'"]),
    ],
)
def test_cli_memory_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], must_contain: list[str]
) -> None:
    code, out, err = run_cli(capsys, "run", "resnet18", *argv)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("accelsim: error: ")
    for text in must_contain:
        assert text in lines[0]


def test_cli_tiling_that_does_not_fit_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "map.json"
    path.write_text('{"layers": {"conv1": {"m": 12544, "k": 147, "n": 64, "order": "mnk"}}}')
    code, out, err = run_cli(capsys, "run", "resnet18", *SRAM_64K, "--mapping", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("accelsim: error: layer 'conv1': ") and "'ifmap'" in err
    path.write_text('{"layers": {"conv0": {"m": 1, "k": 1, "n": 1, "order": "mnk"}}}')
    code, out, err = run_cli(capsys, "run", "resnet18", *SRAM_64K, "--mapping", str(path))
    assert code == 2 and err.count("\n") == 1
    assert "unknown layer 'conv0'" in err and "valid names: conv1, layer1.0.conv1" in err


def test_cli_stats_lists_memory_statistics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "stats")
    assert code == 0, err
    for info in accelsim.memory_stat_catalog():
        row = next(line for line in out.splitlines() if line.split()[:1] == [info.name])
        assert info.unit in row


# ---- the cycle-level DRAM behind the memory system ---------------------------------------------


def test_dram_preset_runs_report_row_hits_and_latency(tmp_path: Path) -> None:
    mem = Memory(ifmap_bytes=8 << 10, filter_bytes=8 << 10, ofmap_bytes=16 << 10, dram="ddr4-3200")
    acc = Accelerator(rows=8, cols=8)
    w = Workload("two", [GemmLayer("a", 96, 80, 72), GemmLayer("b", 40, 130, 24)])
    r = run(w, acc, memory=mem)
    for layer in r.layers:
        assert layer.dram is not None
        assert layer.dram["reads"] + layer.dram["writes"] == (
            layer.dram["row_hits"] + layer.dram["row_misses"] + layer.dram["row_conflicts"]
        )
        # whole bursts: the DRAM moves at least the bytes the DMA asked for
        assert layer.dram["bytes_read"] >= layer.stat("dram_read_bytes")
        assert layer.compute_cycles is not None and layer.stalls is not None
        assert layer.compute_cycles + sum(layer.stalls.values()) == layer.cycles
    rate = r.dram_row_hit_rate
    assert rate is not None and 0.0 < rate <= 1.0
    data = json.loads(r.to_json())
    assert "row_hit_rate" in data["layers"][0]["dram"]
    assert "dram_row_hits" in r.to_csv().splitlines()[0].split(",")
    # the same memory with the bandwidth model has no DRAM statistics
    plain = run(w, acc, memory=dataclasses.replace(mem, dram="bandwidth", dram_mapping=None))
    assert plain.dram_row_hit_rate is None and plain.layers[0].dram is None


def test_dram_clock_is_the_accelerators() -> None:
    mem = Memory(ifmap_bytes=8 << 10, filter_bytes=8 << 10, ofmap_bytes=16 << 10, dram="hbm2")
    w = Workload("one", [GemmLayer("a", 128, 128, 128)])
    slow = run(w, Accelerator(rows=8, cols=8, freq_mhz=250.0), memory=mem)
    fast = run(w, Accelerator(rows=8, cols=8, freq_mhz=4000.0), memory=mem)
    # a faster accelerator waits more of its own cycles for the same DRAM
    assert fast.total_cycles >= slow.total_cycles
    assert slow.layers[0].dram is not None and fast.layers[0].dram is not None
    assert slow.layers[0].dram["reads"] == fast.layers[0].dram["reads"]


def test_cli_dram_preset_shows_row_hits(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    rc = cli.main(
        [
            "run",
            "resnet18",
            "--pe",
            "32x32",
            "--dram",
            "ddr4-3200",
            "--sram",
            "ifmap=64K,filter=64K,ofmap=64K",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    data = json.loads(out.read_text())
    assert len(data["layers"]) == 21 and data["total_macs"] == 1_814_073_344
    assert all(0.0 < layer["dram"]["row_hit_rate"] <= 1.0 for layer in data["layers"])
    assert all("energy_total_pj" in layer for layer in data["layers"])


def test_convolutions_read_input_windows_in_either_layout() -> None:
    # one 3x3 convolution, small enough for a single tile: its ifmap is read exactly once
    conv = ConvLayer("c", n=1, c=8, k=16, h=12, w=12, r=3, s=3, pad=1)
    w = Workload("one", [conv])
    gemm = w.gemm_shapes()[0]
    acc = Accelerator(rows=4, cols=4)
    sizes = {"ifmap_bytes": 64 << 10, "filter_bytes": 64 << 10, "ofmap_bytes": 64 << 10}
    tiling = {"c": Tiling(gemm.m, gemm.k, gemm.n, "mnk")}
    for layout in ("nhwc", "nchw"):
        r = run(w, acc, memory=Memory(**sizes, activation_layout=layout), tilings=tiling)
        assert r.layers[0].stat("dram_ifmap_bytes") == 8 * 12 * 12  # not M*K im2col bytes
        assert r.layers[0].stat("dram_ofmap_bytes") == 16 * 12 * 12
    # the same GEMM as a plain GEMM layer reads its im2col rows
    plain = Workload("one", [GemmLayer("c", gemm.m, gemm.k, gemm.n)])
    r = run(plain, acc, memory=Memory(**sizes), tilings=tiling)
    assert r.layers[0].stat("dram_ifmap_bytes") == gemm.m * gemm.k
    with pytest.raises(ConfigError, match="activation_layout"):
        Memory(activation_layout="nwhc")
