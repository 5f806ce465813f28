"""The Python API: run a workload, simulate one GEMM, list models and statistics.

These functions return data and raise :mod:`accelsim.errors`; they never print.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from accelsim import _core
from accelsim.config import (
    _TILINGS_NEED_MEMORY,
    Accelerator,
    Memory,
    Tiling,
    VectorUnit,
    _input_shapes,
    _tilings,
    check_engine,
    check_memory,
)
from accelsim.errors import ConfigError, SimulationError, WorkloadError
from accelsim.results import (
    TILING_COLUMNS,
    GemmResult,
    LayerResult,
    NetworkResult,
    VectorOpResult,
    _dram_stats,
    _memory_stats,
    _split_stats,
    _utilization,
)
from accelsim.timeline import LayerSpan
from accelsim.trace import Trace, TraceOptions
from accelsim.workloads import (
    MODEL_SPECS,
    MODELS,
    ConvLayer,
    GemmShape,
    Workload,
    get_model,
    model_names,
)

__all__ = [
    "ModelInfo",
    "ProgressCallback",
    "default_tiling",
    "load_workload",
    "models",
    "run",
    "simulate_gemm",
]

#: Called after each layer as ``progress(done, total, layer_name)``.
ProgressCallback = Callable[[int, int, str], None]


def run(
    model: str | Workload,
    acc: Accelerator | None = None,
    engine: str = "fast",
    batch: int = 1,
    *,
    memory: Memory | None = None,
    tilings: Mapping[str, Tiling | tuple[int, int, int, str]] | None = None,
    progress: ProgressCallback | None = None,
    vector: VectorUnit | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    trace: TraceOptions | bool | None = None,
) -> NetworkResult:
    """Simulate every layer of ``model`` on ``acc``, one layer after another.

    Args:
        model: a model of the zoo (see :func:`models`; with options, ``"bert_base:seq=512"``),
            the path of an ``.onnx`` file (see :func:`load_workload`) or a :class:`Workload`.
        acc: the accelerator (default ``Accelerator()``: 32x32, ws).
        engine: ``"fast"`` (event-level) or ``"pe"`` (every PE every cycle); see
            ``_core.ENGINES``.
        batch: batch size of a zoo model. A ``Workload`` carries its batch in its shapes, so
            ``batch`` must stay 1 then.
        memory: the memory system (scratchpads, DMA, DRAM); ``None`` (default) is ideal memory,
            every operand ready when asked. Needs engine ``"fast"``.
        tilings: with ``memory``, ``{layer_name: (m_t, k_t, n_t, order)}`` (or
            :class:`Tiling`) for the layers whose tiling is given; the others get
            :func:`default_tiling`'s. A tiling that does not fit its buffers raises
            :class:`ConfigError` naming the layer and the buffer.
        progress: optional callback ``progress(done, total, layer_name)`` after each layer.
        vector: the vector unit that runs the operations off the array; ``None`` (default)
            lists them with their element counts but does not model them.
        input_shapes: ``{input name: dims}`` for the graph inputs of an ONNX ``model``.
        trace: record a timeline (:class:`~accelsim.trace.TraceOptions`, or ``True`` for the
            defaults) into the result's ``trace`` (engine ``"fast"``; docs/trace.md). Tracing
            observes: the statistics are the same with and without it.

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
    check_memory(memory, engine)
    given = _tilings(tilings)
    if given and memory is None:
        raise ConfigError(_TILINGS_NEED_MEMORY)
    if vector is not None and not isinstance(vector, VectorUnit):
        raise ConfigError(f"vector must be a VectorUnit or None, got {type(vector).__name__}")
    shapes_given = _input_shapes(input_shapes)
    options = _trace_options(trace, engine)
    workload: Workload
    recorded_batch: int | None
    if isinstance(model, Workload):
        if batch != 1:
            raise WorkloadError(
                f"batch={batch!r} applies to zoo models only; the workload {model.name!r} "
                "carries its batch in its layer shapes"
            )
        if shapes_given:
            raise WorkloadError("input_shapes apply to ONNX models only, not to a Workload")
        workload, recorded_batch = model, None
    elif isinstance(model, str):
        workload = load_workload(model, batch, shapes_given)
        recorded_batch = None if _is_onnx(model) else batch
    else:
        raise WorkloadError(
            f"model must be a model name or a Workload, got {type(model).__name__}; "
            f"valid names: {', '.join(model_names())}"
        )

    shapes = workload.gemm_shapes()
    vector_stats = _vector_stats(workload, vector)
    recorder = None
    if options is not None:
        gaps, offset = _trace_gaps(workload, vector_stats)
        recorder = options.recorder(gaps, offset)
    if memory is not None:
        result = _run_memory(
            workload, shapes, recorded_batch, acc, memory, given, progress, recorder
        )
        result = _with_vector_ops(result, workload, vector, shapes_given, vector_stats)
        return _with_trace(result, recorder, offset if recorder else 0, options)
    config = acc._array
    per_layer: list[dict[str, int]] = []
    if recorder is not None or (progress is None and engine == "fast"):
        native = [(s.m, s.k, s.n, s.groups) for s in shapes]
        if progress is None:
            columns = _core.simulate_layers(native, config, engine, trace=recorder)
            rows = [
                {name: column[i] for name, column in columns.items()} for i in range(len(native))
            ]
        else:
            rows = []
            for i, (layer, shape) in enumerate(zip(workload, native, strict=True)):
                columns = _core.simulate_layers([shape], config, engine, trace=recorder)
                rows.append({name: column[0] for name, column in columns.items()})
                progress(i + 1, len(native), layer.name)
        for layer, raw in zip(workload, rows, strict=True):
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
    result = NetworkResult(
        model=workload.name,
        batch=recorded_batch,
        engine=engine,
        accelerator=acc,
        layers=layers,
    )
    result = _with_vector_ops(result, workload, vector, shapes_given, vector_stats)
    return _with_trace(result, recorder, offset if recorder else 0, options)


def _trace_options(trace: TraceOptions | bool | None, engine: str) -> TraceOptions | None:
    if trace is None or trace is False:
        return None
    options = TraceOptions() if trace is True else trace
    if not isinstance(options, TraceOptions):
        raise ConfigError(f"trace must be a TraceOptions, True or None, got {type(trace).__name__}")
    if engine != "fast":
        raise ConfigError(
            f"trace: engine {engine!r} does not record traces; valid choice with a trace: fast"
        )
    return options


def _vector_stats(workload: Workload, vector: VectorUnit | None) -> dict[str, list[int]]:
    """The vector unit's statistics of the workload's vector ops, in order (empty without a
    vector unit)."""
    placed = workload.vector_ops_after()
    if vector is None or not placed:
        return {}
    work = [(op.op_class, op.elements or 0) for op, _ in placed]
    return {k: v.tolist() for k, v in _core.simulate_vector_ops(work, vector.native).items()}


def _vector_cycles(
    workload: Workload, stats: dict[str, list[int]]
) -> list[tuple[str, str | None, int]]:
    """``(name, layer it follows, cycles)`` of every costed vector op."""
    out = []
    for i, (op, after) in enumerate(workload.vector_ops_after()):
        if stats and op.elements is not None:
            out.append((op.name, after, int(stats["cycles"][i])))
    return out


def _trace_gaps(workload: Workload, stats: dict[str, list[int]]) -> tuple[list[int], int]:
    """Cycles of vector work after each array layer, and before the first."""
    names = [layer.name for layer in workload]
    after_layer = dict.fromkeys(names, 0)
    offset = 0
    for _, after, cycles in _vector_cycles(workload, stats):
        if after is None:
            offset += cycles
        else:
            after_layer[after] += cycles
    return [after_layer[n] for n in names], offset


def _with_trace(
    result: NetworkResult,
    recorder: _core.TraceRecorder | None,
    offset: int,
    options: TraceOptions | None,
) -> NetworkResult:
    """``result`` with its trace, the vector ops placed on the timeline."""
    if recorder is None:
        return result
    recorder.finish()
    starts = recorder.layers()["start"]
    spans: list[LayerSpan] = []
    ends = {r.name: offset + int(s) + r.cycles for r, s in zip(result.layers, starts, strict=True)}
    cursor = 0
    last: str | None = None
    for op in result.vector_ops:
        if op.cycles is None:
            continue
        if op.after != last:
            cursor = ends[op.after] if op.after is not None else 0
            last = op.after
        spans.append(LayerSpan(op.name, cursor, op.cycles))
        cursor += op.cycles
    peak: float | None = None
    memory = result.memory
    if memory is not None:
        if memory.dram == "bandwidth":
            peak = memory.bandwidth
        elif result.layers and result.layers[0].dram:
            gbps = float(result.layers[0].dram.get("peak_bandwidth_gbps", 0.0))
            peak = gbps * 1e9 / (result.accelerator.freq_mhz * 1e6) if gbps else None
    acc = result.accelerator
    recorded = Trace(
        recorder,
        layer_names=[r.name for r in result.layers],
        freq_mhz=acc.freq_mhz,
        pes=acc.pes,
        vector_spans=spans,
        offset=offset,
        peak_bytes_per_cycle=peak,
        title=f"{result.model} on {acc.rows}x{acc.cols} {acc.dataflow}",
        window=options.window if options is not None else None,
    )
    return dataclasses.replace(result, trace=recorded)


def _is_onnx(model: str) -> bool:
    return model.lower().endswith(".onnx")


def load_workload(
    model: str, batch: int = 1, input_shapes: Mapping[str, Sequence[int]] | None = None
) -> Workload:
    """The workload ``run`` simulates for ``model``: a zoo model (``"resnet50"``,
    ``"gpt2_decode:context=1023"``) at ``batch``, or the ONNX file at a path ending in
    ``.onnx`` (imported by :func:`accelsim.load_onnx` with ``input_shapes``; its batch is in
    its input shapes, so ``batch`` must be 1)."""
    if _is_onnx(model):
        if batch != 1:
            raise WorkloadError(
                f"batch={batch!r} applies to zoo models only; give the batch of {model!r} "
                "in its input shapes (--input-shape NAME=DIMS)"
            )
        from accelsim.workloads.onnx import load_onnx

        return load_onnx(model, input_shapes)
    if input_shapes:
        raise WorkloadError(
            f"input_shapes (--input-shape) apply to ONNX models only, not to {model!r}"
        )
    return get_model(model, batch)


def _with_vector_ops(
    result: NetworkResult,
    workload: Workload,
    vector: VectorUnit | None,
    input_shapes: Mapping[str, tuple[int, ...]],
    stats: dict[str, list[int]],
) -> NetworkResult:
    """``result`` with the workload's vector ops, costed on ``vector`` if there is one
    (``stats``: :func:`_vector_stats`)."""
    placed = workload.vector_ops_after()
    ops = []
    for i, (op, after) in enumerate(placed):
        costed = bool(stats) and op.elements is not None
        ops.append(
            VectorOpResult(
                name=op.name,
                op=op.op,
                op_class=op.op_class,
                elements=op.elements,
                params=op.params,
                after=after,
                cycles=int(stats["cycles"][i]) if costed else None,
                vectors=int(stats["vectors"][i]) if costed else None,
                lane_cycles=int(stats["lane_cycles"][i]) if costed else None,
            )
        )
    return dataclasses.replace(
        result, vector_ops=tuple(ops), vector=vector, input_shapes=input_shapes or None
    )


def _run_memory(
    workload: Workload,
    shapes: list[GemmShape],
    recorded_batch: int | None,
    acc: Accelerator,
    memory: Memory,
    given: dict[str, Tiling],
    progress: ProgressCallback | None,
    recorder: _core.TraceRecorder | None = None,
) -> NetworkResult:
    """``run`` with a memory system: ``_core.simulate_memory_layers``, in one call (no
    ``progress``) or one call per layer."""
    names = [layer.name for layer in workload]
    unknown = [name for name in given if name not in names]
    if unknown:
        raise ConfigError(
            f"tilings: unknown layer {unknown[0]!r} in {workload.name!r}; "
            f"valid names: {', '.join(names)}"
        )
    native_shapes = [(s.m, s.k, s.n, s.groups) for s in shapes]
    native_tilings: list[tuple[int, int, int, str] | None] = [
        tuple(given[name]) if name in given else None  # type: ignore[misc]
        for name in names
    ]
    convs = [_conv_geometry(layer) for layer in workload]
    config, mem = acc._array, memory.native(acc.freq_mhz)
    rows: list[dict[str, Any]] = []
    if progress is None:
        try:
            columns = _core.simulate_memory_layers(
                native_shapes, config, mem, native_tilings, convs, trace=recorder
            )
        except ConfigError:
            # Say which layer: find the first one that fails on its own.
            for i, name in enumerate(names):
                _memory_layer(native_shapes[i], native_tilings[i], convs[i], config, mem, name)
            raise
        for i in range(len(names)):
            rows.append({name: column[i] for name, column in columns.items()})
    else:
        for i, name in enumerate(names):
            rows.append(
                _memory_layer(
                    native_shapes[i], native_tilings[i], convs[i], config, mem, name, recorder
                )
            )
            progress(i + 1, len(names), name)

    layers = []
    for layer, shape, raw in zip(workload, shapes, rows, strict=True):
        where = f"layer {layer.name!r}"
        missing = [c for c in TILING_COLUMNS if c not in raw]
        if missing:
            raise SimulationError(f"{where}: the native result lacks {missing[0]!r}")
        tiling = Tiling(
            int(raw["tile_m"]), int(raw["tile_k"]), int(raw["tile_n"]), str(raw["tile_order"])
        )
        result = _layer_result(
            layer.name, layer.kind, shape, _checked_stats(raw, layer.name), acc.pes
        )
        counts, energy = _memory_stats(raw, where)
        layers.append(
            dataclasses.replace(
                result, memory_stats=counts, energy=energy, tiling=tiling, dram=_dram_stats(raw)
            )
        )
    return NetworkResult(
        model=workload.name,
        batch=recorded_batch,
        engine="fast",
        accelerator=acc,
        layers=tuple(layers),
        memory=memory,
    )


def _conv_geometry(layer: object) -> list[int] | None:
    """A convolution's geometry as the native memory system takes it (its DMA reads input
    windows in the activation layout, docs/memory.md); ``None`` for other layers."""
    if not isinstance(layer, ConvLayer):
        return None
    (sh, sw), (dh, dw) = layer.stride_hw, layer.dilation_hw
    return [
        *(layer.n, layer.c // layer.groups, layer.h, layer.w, layer.p, layer.q, layer.r, layer.s),
        *(sh, sw, layer.pad_top, layer.pad_left, dh, dw),
    ]


def _memory_layer(
    shape: tuple[int, int, int, int],
    tiling: tuple[int, int, int, str] | None,
    conv: list[int] | None,
    config: _core.ArrayConfig,
    mem: _core.MemoryConfig,
    name: str,
    recorder: _core.TraceRecorder | None = None,
) -> dict[str, Any]:
    """One layer through the memory system; a ConfigError names the layer."""
    try:
        columns = _core.simulate_memory_layers(
            [shape], config, mem, [tiling], [conv], trace=recorder
        )
    except ConfigError as exc:
        raise ConfigError(f"layer {name!r}: {exc}") from exc
    return {key: column[0] for key, column in columns.items()}


def default_tiling(
    m: int,
    k: int,
    n: int,
    acc: Accelerator | None = None,
    memory: Memory | None = None,
    groups: int = 1,
) -> Tiling:
    """The tiling the default chooser picks for ``groups`` GEMMs ``[m, k] @ [k, n]``: among
    the tilings whose tiles fit the buffers, the one with the least DRAM traffic.

    ``acc`` and ``memory`` default to ``Accelerator()`` and ``Memory()``. Raises
    :class:`ConfigError` naming the buffer when not even the smallest tile fits.
    """
    acc = Accelerator() if acc is None else acc
    if not isinstance(acc, Accelerator):
        raise ConfigError(f"acc must be an Accelerator, got {type(acc).__name__}")
    memory = Memory() if memory is None else memory
    if not isinstance(memory, Memory):
        raise ConfigError(f"memory must be a Memory, got {type(memory).__name__}")
    shape = GemmShape(_dim("m", m), _dim("k", k), _dim("n", n), _dim("groups", groups))
    mt, kt, nt, order = _core.default_tiling(
        shape.m, shape.k, shape.n, acc._array, memory.native(acc.freq_mhz), groups=shape.groups
    )
    return Tiling(mt, kt, nt, order)


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
    """A model of the zoo at batch 1 with its default options.

    ``layers`` counts the array layers, ``vector_ops`` the operations off the array; ``weights``
    counts filter elements, ``params`` every parameter (biases, normalization, embeddings).
    """

    name: str
    layers: int
    macs: int
    weights: int
    description: str
    params: int = 0
    vector_ops: int = 0
    options: Mapping[str, int] = {}
    source: str = ""


def models() -> list[ModelInfo]:
    """The models of the zoo with their layer count, MACs and parameters at batch 1."""
    infos = []
    for name in model_names():
        workload = get_model(name)
        spec = MODEL_SPECS.get(name)
        doc = (MODELS[name].__doc__ or "").strip().splitlines()
        infos.append(
            ModelInfo(
                name=name,
                layers=len(workload),
                macs=workload.total_macs,
                weights=workload.total_weights,
                description=doc[0] if doc else "",
                params=workload.total_params,
                vector_ops=len(workload.vector_ops),
                options=spec.defaults if spec else {},
                source=spec.source if spec else "",
            )
        )
    return infos
