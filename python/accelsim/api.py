"""The Python API: run a workload, simulate one GEMM, list models and statistics.

These functions return data and raise :mod:`accelsim.errors`; they never print.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from accelsim import _core
from accelsim.config import Accelerator, check_engine
from accelsim.errors import ConfigError, WorkloadError
from accelsim.results import GemmResult, LayerResult, NetworkResult, _split_stats, _utilization
from accelsim.workloads import MODELS, GemmShape, Workload, get_model, model_names

__all__ = ["ModelInfo", "ProgressCallback", "models", "run", "simulate_gemm"]

#: Called after each layer as ``progress(done, total, layer_name)``.
ProgressCallback = Callable[[int, int, str], None]


def run(
    model: str | Workload,
    acc: Accelerator | None = None,
    engine: str = "fast",
    batch: int = 1,
    *,
    progress: ProgressCallback | None = None,
) -> NetworkResult:
    """Simulate every layer of ``model`` on ``acc``, one layer after another.

    Args:
        model: a model name of the zoo (see :func:`models`) or a :class:`Workload`.
        acc: the accelerator (default ``Accelerator()``: 32x32, ws).
        engine: ``"fast"`` (event-level) or ``"pe"`` (every PE every cycle); see
            ``_core.ENGINES``.
        batch: batch size of a zoo model. A ``Workload`` carries its batch in its shapes, so
            ``batch`` must stay 1 then.
        progress: optional callback ``progress(done, total, layer_name)`` after each layer.

    Engine ``"fast"`` without a ``progress`` callback sends the whole workload to the native
    core in one call. Otherwise layers are simulated one call each, so a callback sees every
    layer and Ctrl-C (KeyboardInterrupt) is honoured between layers of a long ``"pe"`` run.
    Both paths give identical results.

    Returns:
        A :class:`NetworkResult` with one :class:`LayerResult` per layer.
    """
    acc = Accelerator() if acc is None else acc
    if not isinstance(acc, Accelerator):
        raise ConfigError(f"acc must be an Accelerator, got {type(acc).__name__}")
    check_engine(engine)
    workload: Workload
    recorded_batch: int | None
    if isinstance(model, Workload):
        if batch != 1:
            raise WorkloadError(
                f"batch={batch!r} applies to zoo models only; the workload {model.name!r} "
                "carries its batch in its layer shapes"
            )
        workload, recorded_batch = model, None
    elif isinstance(model, str):
        workload, recorded_batch = get_model(model, batch), batch
    else:
        raise WorkloadError(
            f"model must be a model name or a Workload, got {type(model).__name__}; "
            f"valid names: {', '.join(model_names())}"
        )

    shapes = workload.gemm_shapes()
    config = acc._array
    per_layer: list[dict[str, int]] = []
    if progress is None and engine == "fast":
        columns = _core.simulate_layers([(s.m, s.k, s.n, s.groups) for s in shapes], config, engine)
        for i, layer in enumerate(workload):
            raw = {name: column[i] for name, column in columns.items()}
            per_layer.append(_checked_stats(raw, layer.name))
    else:
        total = len(workload)
        for i, (layer, shape) in enumerate(zip(workload, shapes, strict=True)):
            raw_gemm = _core.simulate_gemm(
                shape.m, shape.k, shape.n, config, engine, groups=shape.groups
            )
            per_layer.append(_checked_stats(raw_gemm, layer.name))
            if progress is not None:
                progress(i + 1, total, layer.name)

    layers = tuple(
        _layer_result(layer.name, layer.kind, shape, stats, acc.pes)
        for layer, shape, stats in zip(workload, shapes, per_layer, strict=True)
    )
    return NetworkResult(
        model=workload.name,
        batch=recorded_batch,
        engine=engine,
        accelerator=acc,
        layers=layers,
    )


def _checked_stats(raw: object, layer: str) -> dict[str, int]:
    fields, extra = _split_stats(raw, f"layer {layer!r}")  # type: ignore[arg-type]
    return {**fields, **extra}


def _layer_result(
    name: str, kind: str, shape: GemmShape, stats: dict[str, int], pes: int
) -> LayerResult:
    extra = {k: v for k, v in stats.items() if k not in _LAYER_STAT_FIELDS}
    return LayerResult(
        name=name,
        kind=kind,
        m=shape.m,
        k=shape.k,
        n=shape.n,
        groups=shape.groups,
        folds=stats["folds"],
        cycles=stats["cycles"],
        macs=stats["macs"],
        ifmap_reads=stats["ifmap_reads"],
        filter_reads=stats["filter_reads"],
        ofmap_writes=stats["ofmap_writes"],
        utilization=_utilization(stats["macs"], pes, stats["cycles"]),
        extra=extra,
    )


_LAYER_STAT_FIELDS = frozenset(
    ("folds", "cycles", "macs", "ifmap_reads", "filter_reads", "ofmap_writes")
)


def _dim(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise WorkloadError(f"{name} must be a positive integer, got {value!r}")
    try:
        ivalue = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise WorkloadError(f"{name} must be a positive integer, got {value!r}") from None
    if ivalue < 1:
        raise WorkloadError(f"{name} must be a positive integer, got {ivalue}")
    return ivalue


def _operand(name: str, value: ArrayLike, shape: tuple[int, ...], dims: str) -> NDArray[np.int8]:
    array = np.asarray(value)
    if array.shape != shape:
        raise WorkloadError(
            f"operand {name} must have shape {dims} = {shape}, got {tuple(array.shape)}"
        )
    if array.dtype != np.int8:
        if not np.issubdtype(array.dtype, np.integer):
            raise WorkloadError(f"operand {name} must hold int8 values, got dtype {array.dtype}")
        if array.size and (array.min() < -128 or array.max() > 127):
            raise WorkloadError(
                f"operand {name} must hold int8 values (-128..127), "
                f"got values in {int(array.min())}..{int(array.max())}"
            )
    return np.ascontiguousarray(array, dtype=np.int8)


def simulate_gemm(
    m: int,
    k: int,
    n: int,
    acc: Accelerator | None = None,
    engine: str = "pe",
    a: ArrayLike | None = None,
    b: ArrayLike | None = None,
    groups: int = 1,
) -> GemmResult:
    """Simulate ``groups`` GEMMs ``out[M, N] = A[M, K] @ B[K, N]`` back to back.

    With ``engine="pe"`` and int8 operands ``a`` (``(m, k)``, or ``(groups, m, k)``) and ``b``
    (``(k, n)``, or ``(groups, k, n)``) the array computes the product, returned as
    ``result.output`` (int32). Integer arrays of another dtype are accepted when every value
    fits in int8.
    """
    acc = Accelerator() if acc is None else acc
    if not isinstance(acc, Accelerator):
        raise ConfigError(f"acc must be an Accelerator, got {type(acc).__name__}")
    check_engine(engine)
    shape = GemmShape(_dim("m", m), _dim("k", k), _dim("n", n), _dim("groups", groups))
    a8: NDArray[np.int8] | None = None
    b8: NDArray[np.int8] | None = None
    if (a is None) != (b is None):
        raise WorkloadError("operands: give both a and b, or neither")
    if a is not None and b is not None:
        if engine != "pe":
            raise ConfigError(
                f"engine: operands a and b need engine 'pe' (engine {engine!r} only counts "
                "cycles); valid choices with operands: pe"
            )
        lead: tuple[int, ...] = (shape.groups,) if shape.groups > 1 else ()
        g = "groups, " if lead else ""
        a8 = _operand("a", a, (*lead, shape.m, shape.k), f"({g}m, k)")
        b8 = _operand("b", b, (*lead, shape.k, shape.n), f"({g}k, n)")
    raw = _core.simulate_gemm(
        shape.m, shape.k, shape.n, acc._array, engine, a8, b8, groups=shape.groups
    )
    return GemmResult.from_native(raw, shape, engine, acc)


class ModelInfo(NamedTuple):
    """A model of the zoo at batch 1."""

    name: str
    layers: int
    macs: int
    weights: int
    description: str


def models() -> list[ModelInfo]:
    """The models of the zoo with their layer count, MACs and filter elements at batch 1."""
    infos = []
    for name in model_names():
        workload = MODELS[name](1)
        doc = (MODELS[name].__doc__ or "").strip().splitlines()
        infos.append(
            ModelInfo(
                name=name,
                layers=len(workload),
                macs=workload.total_macs,
                weights=workload.total_weights,
                description=doc[0] if doc else "",
            )
        )
    return infos
