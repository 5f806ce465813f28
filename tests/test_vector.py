"""The vector unit: the native cost model, its configuration and vector ops in runs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim import _core
from accelsim.errors import ConfigError, WorkloadError
from accelsim.workloads import VECTOR_OP_CLASSES, VectorOp


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
