"""Hypothesis strategies for accelsim, shipped so users can property-test their own setups.

Example::

    from hypothesis import given
    from accelsim.testing import array_configs, gemm_shapes

    @given(array_configs(max_side=8), gemm_shapes(max_dim=32))
    def test_my_claim(cfg, shape): ...

Requires ``hypothesis`` (``pip install accelsim[test]``).
"""

from __future__ import annotations

from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("accelsim.testing needs hypothesis: pip install 'accelsim[test]'") from exc

import numpy as np

from accelsim import _core

__all__ = ["array_configs", "gemm_shapes", "int8_operands"]


@st.composite
def array_configs(
    draw: st.DrawFn,
    max_side: int = 16,
    max_latency: int = 3,
    dataflows: tuple[str, ...] = _core.DATAFLOWS,
) -> _core.ArrayConfig:
    """Any valid array: rows, cols in 1..max_side, every dataflow, latency and buffering knob."""
    return _core.ArrayConfig(
        rows=draw(st.integers(1, max_side)),
        cols=draw(st.integers(1, max_side)),
        dataflow=draw(st.sampled_from(dataflows)),
        mac_latency=draw(st.integers(1, max_latency)),
        acc_latency=draw(st.integers(1, max_latency)),
        stationary_double_buffer=draw(st.booleans()),
        os_drain=draw(st.sampled_from(_core.OS_DRAIN_EDGES)),
        os_output_double_buffer=draw(st.booleans()),
    )


def gemm_shapes(max_dim: int = 64) -> st.SearchStrategy[tuple[int, int, int]]:
    """``(M, K, N)`` with every dimension in 1..max_dim."""
    dim = st.integers(1, max_dim)
    return st.tuples(dim, dim, dim)


@st.composite
def int8_operands(draw: st.DrawFn, m: int, k: int, n: int) -> tuple[Any, Any]:
    """A pair of int8 arrays ``A[M,K]``, ``B[K,N]`` over the full int8 range."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=(m, k), dtype=np.int8)
    b = rng.integers(-128, 128, size=(k, n), dtype=np.int8)
    return a, b
