"""Hypothesis properties of the memory system, through the Python API.

Random small GEMMs on random arrays behind random buffers and DRAM: the tiling is fixed once
(from ``default_tiling``) and passed explicitly, so only the property's variable changes.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import accelsim
from accelsim import Accelerator, GemmLayer, Memory, Tiling, Workload
from accelsim.testing import gemm_shapes

DATAFLOWS = ("ws", "os", "is")


@st.composite
def accelerators(draw: st.DrawFn, max_side: int = 8) -> Accelerator:
    return Accelerator(
        rows=draw(st.integers(1, max_side)),
        cols=draw(st.integers(1, max_side)),
        dataflow=draw(st.sampled_from(DATAFLOWS)),
        mac_latency=draw(st.integers(1, 3)),
        acc_latency=draw(st.integers(1, 3)),
        stationary_double_buffer=draw(st.booleans()),
        os_drain=draw(st.sampled_from(("right", "bottom"))),
        os_output_double_buffer=draw(st.booleans()),
    )


@st.composite
def memories(draw: st.DrawFn) -> dict[str, Any]:
    """Fields of a ``Memory`` small enough that tiles are cut, large enough that some fit
    (an int32 partial sum in half of the ofmap buffer)."""
    return dict(
        ifmap_bytes=draw(st.integers(16, 2048)),
        filter_bytes=draw(st.integers(16, 2048)),
        ofmap_bytes=draw(st.integers(64, 8192)),
        double_buffer=draw(st.booleans()),
        accumulator=draw(st.booleans()),
        ifmap_banks=draw(st.integers(0, 4)),
        filter_banks=draw(st.integers(0, 4)),
        ifmap_ports=draw(st.integers(1, 2)),
        filter_ports=draw(st.integers(1, 2)),
        latency=draw(st.integers(0, 200)),
    )


bandwidths = st.floats(0.25, 64.0, allow_nan=False, allow_infinity=False)


def one_layer(m: int, k: int, n: int, groups: int) -> Workload:
    if groups == 1:
        return Workload("g", [GemmLayer("g", m, k, n)])
    # A grouped 1x1 conv over an m x 1 ifmap: `groups` GEMMs of [m, k] @ [k, n].
    conv = accelsim.ConvLayer("g", 1, groups * k, groups * n, m, 1, 1, 1, groups=groups)
    return Workload("g", [conv])


def simulate(
    acc: Accelerator,
    fields: dict[str, Any],
    bandwidth: float,
    shape: tuple[int, int, int],
    groups: int,
    tiling: Tiling,
) -> accelsim.LayerResult:
    memory = Memory(**fields, bandwidth=bandwidth)
    workload = one_layer(*shape, groups)
    assert workload.gemm_shapes()[0] == (*shape, groups)
    return accelsim.run(workload, acc, memory=memory, tilings={"g": tiling}).layers[0]


@given(
    accelerators(),
    memories(),
    gemm_shapes(max_dim=32),
    st.integers(1, 2),
    bandwidths,
    st.floats(0.01, 1.0),
)
def test_lower_bandwidth_never_lowers_cycles(
    acc: Accelerator,
    fields: dict[str, Any],
    shape: tuple[int, int, int],
    groups: int,
    high: float,
    fraction: float,
) -> None:
    low = high * fraction
    tiling = accelsim.default_tiling(*shape, acc, Memory(**fields, bandwidth=high), groups=groups)
    fast = simulate(acc, fields, high, shape, groups, tiling)
    slow = simulate(acc, fields, low, shape, groups, tiling)
    assert fast.tiling == slow.tiling == tiling
    assert slow.cycles >= fast.cycles
    # The same tiling moves the same bytes at any bandwidth.
    assert slow.memory_stats is not None and fast.memory_stats is not None
    for name in ("dram_read_bytes", "dram_write_bytes", "tiles"):
        assert slow.memory_stats[name] == fast.memory_stats[name]


@given(accelerators(), memories(), gemm_shapes(max_dim=32), st.integers(1, 2), bandwidths)
def test_stalls_plus_compute_equal_cycles(
    acc: Accelerator,
    fields: dict[str, Any],
    shape: tuple[int, int, int],
    groups: int,
    bandwidth: float,
) -> None:
    memory = Memory(**fields, bandwidth=bandwidth)
    result = accelsim.run(one_layer(*shape, groups), acc, memory=memory)
    layer = result.layers[0]
    ideal = accelsim.run(one_layer(*shape, groups), acc).layers[0]
    assert layer.stalls is not None and layer.compute_cycles is not None
    assert all(v >= 0 for v in layer.stalls.values()) and layer.compute_cycles >= 0
    assert layer.compute_cycles + sum(layer.stalls.values()) == layer.cycles
    assert layer.macs == ideal.macs
    # The tiling chosen in the run is the default chooser's, and it fits its buffers.
    tiling = layer.tiling
    assert tiling == accelsim.default_tiling(*shape, acc, memory, groups=groups)
    assert tiling is not None
    half = 2 if memory.double_buffer else 1
    assert tiling.m * tiling.k * memory.ifmap_word_bytes <= memory.ifmap_bytes // half
    assert tiling.k * tiling.n * memory.filter_word_bytes <= memory.filter_bytes // half
    assert tiling.m * tiling.n * memory.ofmap_word_bytes <= memory.ofmap_bytes // half
