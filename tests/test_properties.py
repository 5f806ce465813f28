"""Properties of the timing model, for random arrays, shapes and every knob.

The register-level engine (``pe``), the fold-level engine (``fast``) and the closed form of
docs/timing.md must agree exactly; ``pe`` must compute the exact int32 product; MACs and cycle
lower bounds must hold; the same input must give the same result bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from accelsim import _core
from accelsim.results import FOLD_ARRAYS
from accelsim.testing import array_configs, gemm_shapes, int8_operands

FOLD_KEYS = FOLD_ARRAYS
STAT_KEYS = tuple(name for name, _, _ in _core.stat_catalog())


@given(cfg=array_configs(), shape=gemm_shapes(), data=st.data())
def test_pe_fast_and_closed_form_agree(
    cfg: _core.ArrayConfig, shape: tuple[int, int, int], data: st.DataObject
) -> None:
    m, k, n = shape
    a, b = data.draw(int8_operands(m, k, n))
    pe = _core.simulate_gemm(m, k, n, cfg, "pe", a, b)
    fast = _core.simulate_gemm(m, k, n, cfg, "fast")
    # identical statistics: total cycles, MACs, operand-edge reads and writes, ...
    for key in STAT_KEYS:
        assert pe[key] == fast[key], key
    # ... identical per-fold start and end cycles
    for key in FOLD_KEYS:
        np.testing.assert_array_equal(pe[key], fast[key], err_msg=key)
    # both equal the closed form
    assert fast["cycles"] == _core.closed_form_cycles(m, k, n, cfg)
    # the register-level engine computes the exact product
    expected = a.astype(np.int32) @ b.astype(np.int32)
    np.testing.assert_array_equal(pe["output"], expected)
    assert pe["output"].dtype == np.int32
    # MAC count and the cycle lower bound
    assert fast["macs"] == m * k * n
    assert fast["cycles"] >= math.ceil(m * k * n / (cfg.rows * cfg.cols))


@given(cfg=array_configs(), shape=gemm_shapes(), groups=st.integers(1, 4), data=st.data())
def test_grouped_gemm_is_its_groups(
    cfg: _core.ArrayConfig, shape: tuple[int, int, int], groups: int, data: st.DataObject
) -> None:
    m, k, n = (max(1, d // 2) for d in shape)
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=(groups, m, k), dtype=np.int8)
    b = rng.integers(-128, 128, size=(groups, k, n), dtype=np.int8)
    pe = _core.simulate_gemm(m, k, n, cfg, "pe", a, b, groups=groups)
    fast = _core.simulate_gemm(m, k, n, cfg, "fast", groups=groups)
    assert pe["cycles"] == fast["cycles"] == _core.closed_form_cycles(m, k, n, cfg, groups)
    np.testing.assert_array_equal(pe["output"], np.matmul(a.astype(np.int32), b.astype(np.int32)))
    assert fast["macs"] == groups * m * k * n
    # Groups pipeline like folds. A run's first two folds load into banks nothing used before;
    # a later fold's load waits until the previous fold's first vector has switched each row
    # away from the bank it overwrites (docs/timing.md), up to (rows - 1) * (acc_latency - 1)
    # cycles that a fresh run does not wait. So groups run back to back take at most that much
    # more, per fold of the two, per group after the first, than the groups run one at a time.
    single = _core.simulate_gemm(m, k, n, cfg, "fast")["cycles"]
    slack = 2 * (cfg.rows - 1) * (cfg.acc_latency - 1)
    assert fast["cycles"] <= groups * single + (groups - 1) * slack


@given(cfg=array_configs(max_side=32), shape=gemm_shapes(max_dim=512))
def test_fast_engine_bounds_and_determinism(
    cfg: _core.ArrayConfig, shape: tuple[int, int, int]
) -> None:
    m, k, n = shape
    first = _core.simulate_gemm(m, k, n, cfg, "fast")
    again = _core.simulate_gemm(m, k, n, _core.ArrayConfig(**cfg.to_dict()), "fast")
    for key in STAT_KEYS + FOLD_KEYS:
        assert np.array_equal(first[key], again[key]), key
    assert first["cycles"] == _core.closed_form_cycles(m, k, n, cfg)
    assert first["macs"] == m * k * n
    assert first["cycles"] >= math.ceil(m * k * n / (cfg.rows * cfg.cols))
    # every operand word enters at least once; every output leaves at least once
    assert first["ifmap_reads"] >= m * k
    assert first["filter_reads"] >= k * n
    assert first["ofmap_writes"] >= m * n
    # folds start in order, never end before they start, and the run spans them all
    starts, ends = first["fold_start"], first["fold_end"]
    assert np.all(np.diff(first["fold_stream_start"]) > 0)
    assert np.all(ends > starts)
    assert first["cycles"] == ends.max() - starts.min() + 1


@given(cfg=array_configs(max_side=16), shape=gemm_shapes(max_dim=256))
def test_deeper_pipelines_never_help(cfg: _core.ArrayConfig, shape: tuple[int, int, int]) -> None:
    m, k, n = shape
    base = _core.simulate_gemm(m, k, n, cfg, "fast")["cycles"]
    d = cfg.to_dict()
    for knob in ("mac_latency", "acc_latency"):
        deeper = _core.ArrayConfig(**{**d, knob: d[knob] + 1})
        assert _core.simulate_gemm(m, k, n, deeper, "fast")["cycles"] >= base, knob
    # double buffering never costs cycles
    if cfg.dataflow != "os" and cfg.stationary_double_buffer:
        single = _core.ArrayConfig(**{**d, "stationary_double_buffer": False})
        assert _core.simulate_gemm(m, k, n, single, "fast")["cycles"] >= base
    if cfg.dataflow == "os" and cfg.os_output_double_buffer:
        single = _core.ArrayConfig(**{**d, "os_output_double_buffer": False})
        assert _core.simulate_gemm(m, k, n, single, "fast")["cycles"] >= base
