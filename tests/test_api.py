"""The Python API: Accelerator, run, simulate_gemm, results, run directories, version check."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import accelsim
from accelsim import (
    Accelerator,
    AccelsimError,
    ConfigError,
    ConvLayer,
    GemmLayer,
    RunConfig,
    SimulationError,
    Workload,
    WorkloadError,
    _core,
)
from accelsim._version import check_core_version, normalize_version
from accelsim.config import load_config, parse_pe
from accelsim.rundir import RUN_DIR_FILES, write_run_dir

RESNET18_MACS = 1_814_073_344
BRIEF_STATS = ("cycles", "macs", "folds", "ifmap_reads", "filter_reads", "ofmap_writes")


# ---- errors -----------------------------------------------------------------------------------


def test_error_hierarchy() -> None:
    assert issubclass(ConfigError, AccelsimError) and issubclass(ConfigError, ValueError)
    assert issubclass(WorkloadError, AccelsimError) and issubclass(WorkloadError, ValueError)
    assert issubclass(SimulationError, AccelsimError) and issubclass(SimulationError, RuntimeError)


def test_errors_module_does_not_import_core() -> None:
    source = Path(accelsim.errors.__file__).read_text()
    imported: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported += [f"{node.module}.{alias.name}" for alias in node.names]
    assert not [name for name in imported if "accelsim" in name], imported


# ---- Accelerator ------------------------------------------------------------------------------


def test_accelerator_defaults_and_dict_round_trip() -> None:
    acc = Accelerator()
    assert acc.to_dict() == {
        "rows": 32,
        "cols": 32,
        "dataflow": "ws",
        "mac_latency": 1,
        "acc_latency": 1,
        "stationary_double_buffer": True,
        "os_drain": "right",
        "os_output_double_buffer": True,
        "freq_mhz": 1000.0,
    }
    other = Accelerator(rows=8, cols=16, dataflow="os", os_drain="bottom", freq_mhz=250)
    assert Accelerator.from_dict(other.to_dict()) == other
    assert Accelerator.from_dict({"rows": 8}) == Accelerator(rows=8)
    assert other.freq_mhz == 250.0 and isinstance(other.freq_mhz, float)


def test_accelerator_is_frozen_hashable_picklable() -> None:
    acc = Accelerator(rows=4, cols=8, dataflow="is")
    with pytest.raises(dataclasses.FrozenInstanceError):
        acc.rows = 5  # type: ignore[misc]
    assert hash(acc) == hash(Accelerator(rows=4, cols=8, dataflow="is"))
    assert pickle.loads(pickle.dumps(acc)) == acc
    assert dataclasses.replace(acc, rows=16).rows == 16
    with pytest.raises(ConfigError, match="rows"):
        dataclasses.replace(acc, rows=0)


def test_accelerator_canonical_names() -> None:
    # The core accepts any case; the dataclass keeps the canonical spelling.
    assert Accelerator(dataflow="OS") == Accelerator(dataflow="os")
    assert Accelerator(dataflow="OS").dataflow == "os"


@pytest.mark.parametrize(
    ("kwargs", "must_contain"),
    [
        (dict(rows=0), ["rows"]),
        (dict(cols=0), ["cols"]),
        (dict(rows=-2), ["rows"]),
        (dict(cols=2**40), ["cols"]),
        (dict(rows="32"), ["rows"]),
        (dict(rows=True), ["rows"]),
        (dict(rows=32.0), ["rows"]),
        (dict(mac_latency=0), ["mac_latency"]),
        (dict(acc_latency=0), ["acc_latency"]),
        (dict(dataflow="rs"), ["dataflow", "ws", "os", "is"]),
        (dict(dataflow=1), ["dataflow"]),
        (dict(os_drain="left"), ["os_drain", "right", "bottom"]),
        (dict(stationary_double_buffer="yes"), ["stationary_double_buffer"]),
        (dict(os_output_double_buffer=1), ["os_output_double_buffer"]),
        (dict(freq_mhz=0), ["freq_mhz"]),
        (dict(freq_mhz=-1.0), ["freq_mhz"]),
        (dict(freq_mhz=math.nan), ["freq_mhz"]),
        (dict(freq_mhz=math.inf), ["freq_mhz"]),
        (dict(freq_mhz="fast"), ["freq_mhz"]),
    ],
)
def test_accelerator_validation(kwargs: dict[str, object], must_contain: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        Accelerator(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    for word in must_contain:
        assert word in str(info.value)


def test_accelerator_from_dict_unknown_key() -> None:
    with pytest.raises(ConfigError) as info:
        Accelerator.from_dict({"rows": 8, "rowz": 8})
    message = str(info.value)
    assert "'rowz'" in message and "did you mean 'rows'" in message
    for key in Accelerator().to_dict():
        assert key in message


@pytest.mark.parametrize(
    ("text", "expected"), [("32x32", (32, 32)), ("8X128", (8, 128)), (" 4 x 2 ", (4, 2))]
)
def test_parse_pe(text: str, expected: tuple[int, int]) -> None:
    assert parse_pe(text) == expected


@pytest.mark.parametrize("text", ["32by32", "0x4", "4x0", "-4x4", "32", "x", "", "4x4x4", "1.5x2"])
def test_parse_pe_errors(text: str) -> None:
    with pytest.raises(ConfigError, match=r"ROWSxCOLS, e\.g\. 32x32"):
        parse_pe(text)


# ---- run --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_run_resnet18_each_dataflow(dataflow: str) -> None:
    acc = Accelerator(rows=32, cols=32, dataflow=dataflow)
    result = accelsim.run("resnet18", acc)
    workload = accelsim.get_model("resnet18")
    assert len(result.layers) == 21
    assert result.total_macs == RESNET18_MACS
    assert result.model == "resnet18" and result.batch == 1 and result.engine == "fast"
    assert result.accelerator == acc
    for layer, spec in zip(result.layers, workload, strict=True):
        assert layer.name == spec.name
        assert (layer.m, layer.k, layer.n, layer.groups) == spec.gemm()
        assert layer.macs == spec.macs
        assert layer.cycles > 0 and layer.folds >= 1
        assert layer.utilization == pytest.approx(layer.macs / (32 * 32 * layer.cycles))
        assert 0 < layer.utilization <= 1
    assert result.total_cycles == sum(layer.cycles for layer in result.layers)
    assert result.utilization == pytest.approx(RESNET18_MACS / (1024 * result.total_cycles))
    assert result.time_s == pytest.approx(result.total_cycles / 1e9)


def test_dataflows_give_different_timings() -> None:
    cycles = {
        df: accelsim.run("resnet18", Accelerator(dataflow=df)).total_cycles
        for df in ("ws", "os", "is")
    }
    assert len(set(cycles.values())) > 1, cycles


def test_run_defaults_and_batch() -> None:
    result = accelsim.run("resnet18", batch=2)
    assert result.accelerator == Accelerator()
    assert result.batch == 2
    assert result.total_macs == 2 * RESNET18_MACS
    assert result.layers[0].m == 2 * 12544


def test_result_carries_every_catalog_stat() -> None:
    result = accelsim.run("resnet18")
    names = [info.name for info in accelsim.stat_catalog()]
    assert set(BRIEF_STATS) <= set(names)
    layer = result.layers[0]
    assert list(layer.stats()) == names
    for name in names:
        assert getattr(layer, name) == layer.stat(name) == layer.stats()[name]
    assert result.totals()["cycles"] == result.total_cycles
    assert result.totals()["macs"] == RESNET18_MACS
    with pytest.raises(KeyError, match="unknown statistic"):
        layer.stat("bogus")
    with pytest.raises(AttributeError):
        _ = layer.bogus


def test_layer_by_layer_path_equals_one_call_path() -> None:
    calls: list[tuple[int, int, str]] = []
    acc = Accelerator(rows=16, cols=8, dataflow="os")
    one_call = accelsim.run("resnet18", acc)
    per_layer = accelsim.run("resnet18", acc, progress=lambda *a: calls.append(a))
    assert per_layer == one_call
    assert calls == [(i + 1, 21, name) for i, name in enumerate(r.name for r in one_call.layers)]


def test_run_user_workload() -> None:
    wl = Workload(
        "tiny",
        [
            ConvLayer("dw", 1, 8, 8, 10, 10, 3, 3, pad=1, groups=8),
            GemmLayer("fc", 2, 20, 30),
        ],
    )
    result = accelsim.run(wl, Accelerator(rows=4, cols=4))
    assert [r.name for r in result.layers] == ["dw", "fc"]
    assert result.layers[0].groups == 8
    assert result.total_macs == wl.total_macs
    assert result.batch is None and "batch" not in result.config_dict()
    with pytest.raises(WorkloadError, match="batch"):
        accelsim.run(wl, batch=2)


def test_run_errors() -> None:
    with pytest.raises(WorkloadError, match="resnet18"):
        accelsim.run("resnet81")
    with pytest.raises(ConfigError, match=r"engine.*fast, pe"):
        accelsim.run("resnet18", engine="slow")
    with pytest.raises(ConfigError, match="Accelerator"):
        accelsim.run("resnet18", acc={"rows": 8})  # type: ignore[arg-type]


def test_network_result_dict_json_csv(tmp_path: Path) -> None:
    result = accelsim.run("resnet18", Accelerator(rows=8, cols=8))
    data = json.loads(result.to_json())
    assert data["total_cycles"] == result.total_cycles
    assert data["total_macs"] == RESNET18_MACS
    assert data["config"] == {
        "model": "resnet18",
        "batch": 1,
        "engine": "fast",
        "accelerator": Accelerator(rows=8, cols=8).to_dict(),
    }
    assert len(data["layers"]) == 21
    for row, layer in zip(data["layers"], result.layers, strict=True):
        for key in ("name", "m", "k", "n", "cycles", "macs"):
            assert row[key] == getattr(layer, key)
    path = tmp_path / "layers.csv"
    text = result.to_csv(path)
    lines = path.read_text().splitlines()
    assert text == path.read_text()
    assert len(lines) == 22
    assert lines[0].split(",")[:6] == ["name", "kind", "m", "k", "n", "groups"]
    assert lines[1].startswith("conv1,conv,12544,147,64,1,")
    assert lines[-1].startswith("fc,gemm,1,512,1000,1,")


# ---- simulate_gemm ----------------------------------------------------------------------------


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_simulate_gemm_pe_computes_the_product(dataflow: str) -> None:
    rng = np.random.default_rng(7)
    m, k, n = 13, 21, 11  # not multiples of the array: partial folds on every side
    a = rng.integers(-128, 128, size=(m, k), dtype=np.int8)
    b = rng.integers(-128, 128, size=(k, n), dtype=np.int8)
    acc = Accelerator(rows=4, cols=8, dataflow=dataflow)
    result = accelsim.simulate_gemm(m, k, n, acc, engine="pe", a=a, b=b)
    assert result.output is not None
    assert result.output.dtype == np.int32
    np.testing.assert_array_equal(result.output, a.astype(np.int32) @ b.astype(np.int32))
    assert result.macs == m * k * n
    assert result.cycles > 0


def test_simulate_gemm_pe_extreme_values() -> None:
    k = 200
    a = np.full((3, k), -128, dtype=np.int8)
    b = np.full((k, 5), -128, dtype=np.int8)
    result = accelsim.simulate_gemm(3, k, 5, Accelerator(rows=8, cols=8), a=a, b=b)
    assert result.output is not None
    assert (result.output == k * 128 * 128).all()


def test_simulate_gemm_grouped_operands() -> None:
    rng = np.random.default_rng(3)
    g, m, k, n = 3, 5, 6, 7
    a = rng.integers(-128, 128, size=(g, m, k), dtype=np.int8)
    b = rng.integers(-128, 128, size=(g, k, n), dtype=np.int8)
    result = accelsim.simulate_gemm(m, k, n, Accelerator(rows=4, cols=4), a=a, b=b, groups=g)
    assert result.output is not None
    assert result.output.shape == (g, m, n)
    np.testing.assert_array_equal(result.output, a.astype(np.int32) @ b.astype(np.int32))
    assert result.macs == g * m * k * n


def test_simulate_gemm_accepts_small_integer_arrays() -> None:
    a = np.arange(6, dtype=np.int64).reshape(2, 3) - 3
    b = np.arange(12, dtype=np.int16).reshape(3, 4)
    result = accelsim.simulate_gemm(2, 3, 4, Accelerator(rows=2, cols=2), a=a, b=b)
    assert result.output is not None
    np.testing.assert_array_equal(result.output, a @ b.astype(np.int64))


def test_simulate_gemm_folds_tile_the_gemm() -> None:
    acc = Accelerator(rows=4, cols=8)
    for engine in ("fast", "pe"):
        result = accelsim.simulate_gemm(10, 9, 17, acc, engine=engine, groups=2)
        table = result.fold_table()
        assert all(len(col) == result.folds for col in table.values())
        tiles = result.fold_m * result.fold_k * result.fold_n
        assert int(tiles.sum()) == result.macs == 2 * 10 * 9 * 17
        assert (result.fold_end >= result.fold_start).all()
        assert result.output is None
        assert result.utilization == pytest.approx(result.macs / (32 * result.cycles))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(m=0), WorkloadError, "m must be a positive integer, got 0"),
        (dict(n=-1), WorkloadError, "n must be a positive integer, got -1"),
        (dict(groups=0), WorkloadError, "groups must be"),
        (dict(a=np.zeros((2, 3), np.int8)), WorkloadError, "both a and b"),
        (
            dict(a=np.zeros((3, 2), np.int8), b=np.zeros((3, 4), np.int8)),
            WorkloadError,
            r"operand a must have shape \(m, k\) = \(2, 3\), got \(3, 2\)",
        ),
        (
            dict(a=np.full((2, 3), 300), b=np.zeros((3, 4), np.int8)),
            WorkloadError,
            "int8 values",
        ),
        (
            dict(a=np.zeros((2, 3)), b=np.zeros((3, 4), np.int8)),
            WorkloadError,
            "dtype float64",
        ),
        (
            dict(engine="fast", a=np.zeros((2, 3), np.int8), b=np.zeros((3, 4), np.int8)),
            ConfigError,
            "engine",
        ),
        (dict(engine="rtl"), ConfigError, "valid choices: fast, pe"),
    ],
)
def test_simulate_gemm_errors(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    args: dict[str, object] = dict(m=2, k=3, n=4)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        accelsim.simulate_gemm(**args)  # type: ignore[arg-type]


# ---- catalog, models --------------------------------------------------------------------------


def test_stat_catalog() -> None:
    catalog = accelsim.stat_catalog()
    assert [tuple(info) for info in catalog] == [tuple(e) for e in _core.stat_catalog()]
    names = [info.name for info in catalog]
    assert len(set(names)) == len(names)
    assert set(BRIEF_STATS) <= set(names)
    assert all(info.unit and info.description for info in catalog)


def test_models() -> None:
    infos = {info.name: info for info in accelsim.models()}
    assert infos["resnet18"].layers == 21
    assert infos["resnet18"].macs == RESNET18_MACS
    # torchvision's 11,689,512 parameters minus fc bias (1,000) and batch norm (9,600).
    assert infos["resnet18"].weights == 11_678_912


# ---- run config and run directories -----------------------------------------------------------


def test_run_config_files(tmp_path: Path) -> None:
    config = RunConfig("resnet18", 2, "fast", Accelerator(rows=16, cols=4, dataflow="is"))
    (tmp_path / "c.json").write_text(json.dumps(config.to_dict()))
    (tmp_path / "c.toml").write_text(
        'model = "resnet18"\nbatch = 2\nengine = "fast"\n\n'
        '[accelerator]\nrows = 16\ncols = 4\ndataflow = "is"\n'
    )
    assert load_config(tmp_path / "c.json") == config
    assert load_config(tmp_path / "c.toml") == config


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('model = "resnet18"\nbatchsize = 2\n', "unknown config key 'batchsize'"),
        ('model = "resnet18"\n[accelerator]\nrowz = 2\n', "unknown accelerator key 'rowz'"),
        ("batch = 2\n", "missing key 'model'"),
        ('model = "resnet18"\nengine = "slow"\n', "valid choices: fast, pe"),
        ('model = "resnet18"\n[accelerator]\nrows = 0\n', "rows"),
        ("model = [", "not valid TOML"),
    ],
)
def test_run_config_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_config_file_type_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"valid choices: \.json, \.toml"):
        load_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")


def test_write_run_dir(tmp_path: Path) -> None:
    acc = Accelerator(rows=16, cols=16, dataflow="os", freq_mhz=500)
    result = accelsim.run("resnet18", acc, batch=2)
    root = write_run_dir(result, tmp_path / "run", argv=["accelsim", "run", "resnet18"])
    assert sorted(p.name for p in root.iterdir()) == sorted(RUN_DIR_FILES)
    assert load_config(root / "config.json") == RunConfig("resnet18", 2, "fast", acc)
    stats = json.loads((root / "stats.json").read_text())
    assert stats["total_cycles"] == result.total_cycles
    assert stats["total_macs"] == 2 * RESNET18_MACS
    assert len(stats["layers"]) == 21
    assert [s["name"] for s in stats["stat_catalog"]] == [i.name for i in accelsim.stat_catalog()]
    assert all(s["unit"] for s in stats["stat_catalog"])
    assert (root / "layers.csv").read_text() == result.to_csv()
    meta = json.loads((root / "metadata.json").read_text())
    assert meta["accelsim_version"] == accelsim.__version__
    assert meta["command"] == ["accelsim", "run", "resnet18"]
    assert "created_utc" in meta and "platform" in meta
    # Replaying config.json reproduces stats.json byte for byte.
    replay = load_config(root / "config.json")
    again = accelsim.run(replay.model, replay.accelerator, replay.engine, replay.batch)
    write_run_dir(again, tmp_path / "replay")
    for name in ("config.json", "stats.json", "layers.csv"):
        assert (tmp_path / "replay" / name).read_bytes() == (root / name).read_bytes()


# ---- version check ----------------------------------------------------------------------------


def test_versions_match() -> None:
    assert normalize_version(accelsim.__version__) == normalize_version(_core.__version__)


@pytest.mark.parametrize(
    ("cargo", "python"),
    [("0.1.0", "0.1.0"), ("0.2.0-beta.1", "0.2.0b1"), ("1.0.0-rc.2", "1.0.0rc2")],
)
def test_normalize_version(cargo: str, python: str) -> None:
    assert normalize_version(cargo) == normalize_version(python)
    check_core_version(cargo, python)


def test_stale_core_is_refused() -> None:
    with pytest.raises(ImportError, match=r"stale build.*pip install \."):
        check_core_version("0.0.9", "0.1.0", "/x/_core.so")


def test_import_refuses_a_stale_core_in_a_fresh_interpreter() -> None:
    # Make the package metadata claim another version than the native module reports.
    code = (
        "import importlib.metadata as md\n"
        "md.version = lambda name: '999.0.0'\n"
        "try:\n"
        "    import accelsim\n"
        "except ImportError as exc:\n"
        "    print('refused:', exc)\n"
        "else:\n"
        "    print('imported', accelsim.__version__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.startswith("refused:"), proc.stdout + proc.stderr
    assert "999.0.0" in proc.stdout and "pip install ." in proc.stdout
