"""The vector unit: the native cost model, its configuration and vector ops in runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import accelsim
from accelsim import VectorUnit, _core
from accelsim.cli import main
from accelsim.errors import ConfigError, WorkloadError
from accelsim.workloads import VECTOR_OP_CLASSES, VectorOp, get_model


def expected_cycles(elements: int, lanes: int, cpe: int, latency: int) -> int:
    vectors = math.ceil(elements / lanes)
    return 0 if vectors * cpe == 0 else vectors * cpe + latency


def test_catalogs() -> None:
    catalog = _core.vector_op_catalog()
    assert tuple(name for name, _, _ in catalog) == _core.VECTOR_OP_CLASSES == VECTOR_OP_CLASSES
    assert all(desc for _, _, desc in catalog)
    defaults = {name: cpe for name, cpe, _ in catalog}
    assert defaults["reshape"] == 0 and defaults["elementwise"] == 1
    stats = [name for name, _, _ in _core.vector_stat_catalog()]
    assert stats == ["cycles", "elements", "vectors", "lane_cycles"]


def test_config_round_trip_and_defaults() -> None:
    unit = _core.VectorUnitConfig(16, 3, {"softmax": 9})
    data = unit.to_dict()
    assert data["lanes"] == 16 and data["latency"] == 3
    assert data["cycles_per_element"]["softmax"] == 9
    assert data["cycles_per_element"]["pooling"] == 1
    assert list(data["cycles_per_element"]) == list(VECTOR_OP_CLASSES)
    assert _core.VectorUnitConfig(16, 3, data["cycles_per_element"]) == unit
    assert hash(_core.VectorUnitConfig(16, 3, {"softmax": 9})) == hash(unit)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lanes=0), "lanes"),
        (dict(lanes=-1), "lanes"),
        (dict(lanes=4, latency=-2), "latency"),
        (dict(lanes=4, cycles_per_element={"conv": 1}), "unknown vector op class 'conv'"),
        (dict(lanes=4, cycles_per_element={"softmax": -1}), "cycles_per_element.softmax"),
    ],
)
def test_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        _core.VectorUnitConfig(**kwargs)  # type: ignore[arg-type]
    if "conv" in match:
        assert ", ".join(VECTOR_OP_CLASSES) in str(info.value)


@given(
    lanes=st.integers(1, 64),
    latency=st.integers(0, 20),
    cpe=st.integers(0, 8),
    elements=st.lists(st.integers(0, 10_000), min_size=1, max_size=8),
    op_class=st.sampled_from(VECTOR_OP_CLASSES),
)
def test_cycles_follow_the_formula(
    lanes: int, latency: int, cpe: int, elements: list[int], op_class: str
) -> None:
    unit = _core.VectorUnitConfig(lanes, latency, {op_class: cpe})
    columns = _core.simulate_vector_ops([(op_class, e) for e in elements], unit)
    want = [expected_cycles(e, lanes, cpe, latency) for e in elements]
    assert columns["cycles"].tolist() == want
    assert columns["elements"].tolist() == elements
    assert columns["lane_cycles"].tolist() == [c * lanes for c in want]
    for e, c in zip(elements, want, strict=True):
        assert unit.cycles(op_class, e) == c
        if c:  # never more than `lanes` elements per cycle of a 1-cycle-per-vector class
            assert e <= lanes * c


def test_simulate_rejects_unknown_class() -> None:
    unit = _core.VectorUnitConfig(4)
    with pytest.raises(WorkloadError, match="unknown vector op class 'matmul'"):
        _core.simulate_vector_ops([("matmul", 3)], unit)


def test_vector_op_validation() -> None:
    op = VectorOp("r", "Relu", "elementwise", 10)
    assert op.macs == 0 and op.weights == 0 and op.params == 0 and op.kind == "vector"
    assert VectorOp("u", "Foo", "other", None).elements is None
    with pytest.raises(WorkloadError, match="unknown op_class 'alu'; valid choices: elementwise"):
        VectorOp("r", "Relu", "alu", 10)
    with pytest.raises(WorkloadError, match="elements must be an integer >= 0"):
        VectorOp("r", "Relu", "elementwise", -1)
    with pytest.raises(WorkloadError, match="op must be a non-empty string"):
        VectorOp("r", "", "elementwise", 1)


# ---- vector ops in runs ------------------------------------------------------------------------


def test_run_without_a_vector_unit_lists_ops_not_modelled() -> None:
    result = accelsim.run("resnet18")
    wl = get_model("resnet18")
    assert [r.name for r in result.vector_ops] == [op.name for op in wl.vector_ops]
    assert all(r.cycles is None and not r.modelled for r in result.vector_ops)
    assert result.vector_cycles is None
    assert result.total_cycles == result.array_cycles == sum(r.cycles for r in result.layers)
    assert result.vector_elements == wl.total_vector_elements
    data = result.to_dict()
    assert len(data["layers"]) == 21 and len(data["vector_ops"]) == 47
    assert data["vector_ops"][0] == {
        "name": "bn1",
        "kind": "vector",
        "op": "BatchNormalization",
        "op_class": "normalization",
        "elements": 64 * 112 * 112,
        "params": 128,
        "after": "conv1",
        "cycles": None,
        "vectors": None,
        "lane_cycles": None,
    }


@pytest.mark.parametrize("memory", [None, accelsim.Memory(bandwidth=32)])
def test_run_with_a_vector_unit_adds_its_cycles(memory: accelsim.Memory | None) -> None:
    unit = VectorUnit(lanes=16, latency=3, cycles_per_element={"normalization": 2})
    acc = accelsim.Accelerator(rows=16, cols=16)
    result = accelsim.run("bert_base:seq=64", acc, memory=memory, vector=unit)
    wl = get_model("bert_base:seq=64")
    for r, op in zip(result.vector_ops, wl.vector_ops, strict=True):
        assert op.elements is not None
        cpe = unit.cycles_per_element[op.op_class]
        assert r.cycles == expected_cycles(op.elements, 16, cpe, 3)
        assert r.lane_cycles == 16 * r.cycles
    assert result.vector_cycles == sum(r.cycles or 0 for r in result.vector_ops) > 0
    assert result.total_cycles == result.array_cycles + result.vector_cycles
    plain = accelsim.run("bert_base:seq=64", acc, memory=memory)
    assert plain.total_cycles == result.array_cycles
    softmax = next(r for r in result.vector_ops if r.op == "Softmax")
    assert softmax.cycles == math.ceil(12 * 64 * 64 / 16) * 5 + 3
    assert result.config_dict()["vector"] == unit.to_dict()
    assert result.to_dict()["vector_cycles"] == result.vector_cycles


def test_vector_unit_config() -> None:
    unit = VectorUnit(8, 0, {"softmax": 7})
    assert unit.cycles_per_element["softmax"] == 7
    assert unit.cycles_per_element["elementwise"] == 1
    assert VectorUnit.from_dict(unit.to_dict()) == unit
    assert hash(VectorUnit.from_dict(unit.to_dict())) == hash(unit)
    with pytest.raises(ConfigError, match="unknown op class 'softmx'; did you mean 'softmax'"):
        VectorUnit(8, 0, {"softmx": 1})
    with pytest.raises(ConfigError, match="lanes"):
        VectorUnit(0)
    with pytest.raises(ConfigError, match="unknown vector key 'lane'"):
        VectorUnit.from_dict({"lane": 3})
    with pytest.raises(ConfigError, match="vector must be a VectorUnit"):
        accelsim.run("resnet18", vector=4)  # type: ignore[arg-type]


def test_cli_vector_unit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    args = ["run", "mobilenet_v2", "--pe", "16x16", "--vector-lanes", "8", "--run-dir"]
    assert main([*args, str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "vector cycles" in out and "(8 lanes, latency 4)" in out
    assert "Clip (elementwise)" in out
    config = json.loads((run_dir / "config.json").read_text())
    assert config["vector"]["lanes"] == 8 and config["vector"]["latency"] == 4
    stats = json.loads((run_dir / "stats.json").read_text())
    assert stats["total_cycles"] == stats["array_cycles"] + stats["vector_cycles"]
    toml = tmp_path / "c.toml"
    toml.write_text(
        'model = "mobilenet_v2"\n[accelerator]\nrows = 16\ncols = 16\n'
        "[vector]\nlanes = 8\n[vector.cycles_per_element]\npooling = 3\n"
    )
    assert main(["run", "--config", str(toml), "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["config"]["vector"]["cycles_per_element"]["pooling"] == 3
    assert main(["run", "--config", str(run_dir / "config.json"), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["total_cycles"] == stats["total_cycles"]
    assert main(["run", "resnet18", "--vector-lanes", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lanes" in err


def test_cli_models_lists_the_zoo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for info in accelsim.models():
        row = next(line for line in out.splitlines() if line.split()[:1] == [info.name])
        assert f"{info.macs:,}" in row and f"{info.params:,}" in row
        assert str(info.layers) in row.split() and str(info.vector_ops) in row.split()
    assert "seq=128" in out and "context=128" in out


def test_cli_stats_lists_vector_statistics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    for name, unit, _ in _core.vector_stat_catalog():
        assert any(line.split()[:2] == [name, unit] for line in out.splitlines())
