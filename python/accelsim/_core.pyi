"""Type stubs for the native module ``accelsim._core`` (hand-written; checked by mypy.stubtest).

The native module only converts types, releases the GIL and maps errors. All timing lives in
the Rust crate ``accelsim-core``; ``docs/timing.md`` defines every cycle it counts.
"""

from collections.abc import Sequence
from typing import Any, Literal, final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DATAFLOWS",
    "ENGINES",
    "OS_DRAIN_EDGES",
    "ArrayConfig",
    "__version__",
    "closed_form_cycles",
    "simulate_gemm",
    "simulate_layers",
    "stat_catalog",
]

__version__: str

# Errors are raised as the classes of ``accelsim.errors`` (imported by the native module on
# first use), so they can derive from both ``AccelsimError`` and the matching builtin.

DATAFLOWS: tuple[str, ...]
ENGINES: tuple[str, ...]
OS_DRAIN_EDGES: tuple[str, ...]

@final
class ArrayConfig:
    """A validated, immutable description of the systolic array (see docs/timing.md)."""

    def __new__(
        cls,
        rows: int,
        cols: int,
        dataflow: str = "ws",
        mac_latency: int = 1,
        acc_latency: int = 1,
        stationary_double_buffer: bool = True,
        os_drain: str = "right",
        os_output_double_buffer: bool = True,
    ) -> ArrayConfig: ...
    @property
    def rows(self) -> int: ...
    @property
    def cols(self) -> int: ...
    @property
    def dataflow(self) -> Literal["ws", "os", "is"]: ...
    @property
    def mac_latency(self) -> int: ...
    @property
    def acc_latency(self) -> int: ...
    @property
    def stationary_double_buffer(self) -> bool: ...
    @property
    def os_drain(self) -> Literal["right", "bottom"]: ...
    @property
    def os_output_double_buffer(self) -> bool: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def simulate_gemm(
    m: int,
    k: int,
    n: int,
    config: ArrayConfig,
    engine: str = "fast",
    a: NDArray[np.int8] | None = None,
    b: NDArray[np.int8] | None = None,
    groups: int = 1,
) -> dict[str, Any]:
    """Simulate ``groups`` independent GEMMs ``out[M,N] = A[M,K] @ B[K,N]`` back to back.

    Releases the GIL; Ctrl-C (any pending signal) stops the run within a few thousand cycles
    and raises ``KeyboardInterrupt``.

    Returns a dict with the scalar statistics of ``stat_catalog()`` (``cycles``, ``macs``,
    ``folds``, ``ifmap_reads``, ``filter_reads``, ``ofmap_writes``, ``stream_vectors``,
    ``stationary_load_cycles``, ``drain_beats``, ``pe_cycles``), the per-fold
    int64 arrays ``fold_group``, ``fold_m0``, ``fold_m``, ``fold_k0``, ``fold_k``, ``fold_n0``,
    ``fold_n``, ``fold_start``, ``fold_stream_start``, ``fold_end`` and ``output``: the int32
    product (shape ``(m, n)``, or ``(groups, m, n)`` when ``groups > 1``) when the ``pe`` engine
    was given ``a`` and ``b`` (int8, shapes ``(m, k)`` and ``(k, n)``, with a leading ``groups``
    axis when ``groups > 1``), else ``None``.
    """

def simulate_layers(
    shapes: Sequence[tuple[int, int, int, int]],
    config: ArrayConfig,
    engine: str = "fast",
    trace: TraceRecorder | None = None,
) -> dict[str, NDArray[np.int64]]:
    """Simulate a list of ``(m, k, n, groups)`` layers one after another.

    With ``trace`` (engine ``"fast"`` only), each layer's folds are recorded into it.

    Returns one int64 column per statistic of ``stat_catalog()``, each of length ``len(shapes)``.
    """

def closed_form_cycles(m: int, k: int, n: int, config: ArrayConfig, groups: int = 1) -> int:
    """Total cycles from the closed-form model of docs/timing.md (the test oracle)."""

def stat_catalog() -> list[tuple[str, str, str]]:
    """Every statistic the engines report, as ``(name, unit, description)``."""

# ---- memory system (rust/accelsim-py/src/memory.rs) ------------------------------------------

__all__ += [
    "ACTIVATION_LAYOUTS",
    "DRAM_MODELS",
    "LOOP_ORDERS",
    "MemoryConfig",
    "default_tiling",
    "memory_stat_catalog",
    "simulate_memory_layers",
]

LOOP_ORDERS: tuple[str, ...]
ACTIVATION_LAYOUTS: tuple[str, ...]
DRAM_MODELS: tuple[str, ...]

@final
class MemoryConfig:
    """A validated, immutable memory system: scratchpads, accumulator, DRAM model, layout."""

    def __new__(
        cls,
        *,
        ifmap_bytes: int = 262144,
        filter_bytes: int = 262144,
        ofmap_bytes: int = 262144,
        ifmap_word_bytes: int = 1,
        filter_word_bytes: int = 1,
        ofmap_word_bytes: int = 4,
        double_buffer: bool = True,
        accumulator: bool = True,
        output_bytes: int = 1,
        dram: str = "bandwidth",
        bandwidth: float = 16.0,
        latency: int = 100,
        ifmap_base: int = 0,
        filter_base: int = ...,  # 1 << 32
        ofmap_base: int = ...,  # 2 << 32
        mac_pj: float | None = None,
        sram_pj_per_byte_8kib: float | None = None,
        dram_read_pj_per_byte: float | None = None,
        dram_write_pj_per_byte: float | None = None,
        dram_io_read_pj_per_bit: float | None = None,
        dram_io_write_pj_per_bit: float | None = None,
        ifmap_banks: int = 0,
        filter_banks: int = 0,
        ifmap_ports: int = 1,
        filter_ports: int = 1,
        freq_mhz: float = 1000.0,
        dram_mapping: str | None = None,
        activation_layout: str = "nhwc",
    ) -> MemoryConfig: ...
    def to_dict(self) -> dict[str, Any]: ...

def simulate_memory_layers(
    shapes: Sequence[tuple[int, int, int, int]],
    config: ArrayConfig,
    memory: MemoryConfig,
    tilings: Sequence[tuple[int, int, int, str] | None] | None = None,
    convs: Sequence[Sequence[int] | None] | None = None,
    trace: TraceRecorder | None = None,
) -> dict[str, Any]:
    """Simulate ``(m, k, n, groups)`` layers one after another with the memory system.

    With ``trace``, each layer is recorded into it (docs/trace.md).

    ``tilings`` gives each layer's ``(m_t, k_t, n_t, order)`` or ``None`` (default chooser).
    Returns one column per statistic of ``stat_catalog()`` and of ``memory_stat_catalog()``
    (int64; float64 for the energies in pJ), the int64 columns ``tile_m``, ``tile_k``,
    ``tile_n`` and the list of str ``tile_order``.
    """

def default_tiling(
    m: int, k: int, n: int, config: ArrayConfig, memory: MemoryConfig, groups: int = 1
) -> tuple[int, int, int, str]:
    """The default chooser's tiling of one layer: ``(m_t, k_t, n_t, order)``."""

def memory_stat_catalog() -> list[tuple[str, str, str]]:
    """Every memory-system and energy statistic as ``(name, unit, description)``."""

# ---- DRAM model (rust/accelsim-py/src/dram.rs) -----------------------------------------------

__all__ += [
    "DRAM_MAPPINGS",
    "DRAM_PRESETS",
    "dram_config",
    "dram_parse_trace",
    "dram_run_trace",
    "dram_stat_catalog",
]

DRAM_PRESETS: tuple[str, ...]
DRAM_MAPPINGS: tuple[str, ...]

def dram_config(
    dram: str = "ddr4-3200",
    mapping: str | None = None,
    read_queue: int | None = None,
    write_queue: int | None = None,
    lookahead: int | None = None,
) -> dict[str, Any]:
    """The resolved configuration of a preset with overrides (organization, queues, mapping,
    ``timing_cycles``, ``peak_bandwidth_gbps``)."""

def dram_parse_trace(
    text: str, source: str = "<trace>"
) -> tuple[NDArray[np.uint64], NDArray[np.bool_], NDArray[np.uint64]]:
    """Parse ``<arrival_cycle> <R|W> <address>`` lines into ``(arrival, write, addr)``;
    a malformed line raises ``WorkloadError`` naming ``source:line``."""

def dram_run_trace(
    arrival: NDArray[np.uint64],
    write: NDArray[np.bool_],
    addr: NDArray[np.uint64],
    dram: str = "ddr4-3200",
    mapping: str | None = None,
    read_queue: int | None = None,
    write_queue: int | None = None,
    lookahead: int | None = None,
    freq_mhz: float | None = None,
) -> dict[str, Any]:
    """Run a trace through a fresh DRAM (GIL released, Ctrl-C stops it).

    Returns every statistic of ``dram_stat_catalog()``, ``config`` (as ``dram_config``),
    the uint64 arrays ``enqueued`` and ``completion`` (DRAM cycles) and, with ``freq_mhz``
    (arrivals then count accelerator cycles), ``freq_mhz``, ``acc_cycles`` and
    ``completion_acc``.
    """

def dram_stat_catalog() -> list[tuple[str, str, str]]:
    """Every DRAM statistic as ``(name, unit, description)``."""

# ---- vector unit (rust/accelsim-py/src/vector.rs) --------------------------------------------

__all__ += [
    "VECTOR_OP_CLASSES",
    "VectorUnitConfig",
    "simulate_vector_ops",
    "vector_op_catalog",
    "vector_stat_catalog",
]

VECTOR_OP_CLASSES: tuple[str, ...]

@final
class VectorUnitConfig:
    """A validated, immutable vector unit: lanes, pipeline latency, cycles per element by op
    class (``cycles = ceil(elements / lanes) * cycles_per_element[class] + latency``)."""

    def __new__(
        cls,
        lanes: int,
        latency: int = 0,
        cycles_per_element: dict[str, int] | None = None,
    ) -> VectorUnitConfig: ...
    @property
    def lanes(self) -> int: ...
    @property
    def latency(self) -> int: ...
    @property
    def cycles_per_element(self) -> dict[str, int]: ...
    def to_dict(self) -> dict[str, Any]: ...
    def cycles(self, op_class: str, elements: int) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def simulate_vector_ops(
    ops: Sequence[tuple[str, int]], unit: VectorUnitConfig
) -> dict[str, NDArray[np.int64]]:
    """Cost ``(op_class, elements)`` operations run one after another on ``unit``: one int64
    column per statistic of ``vector_stat_catalog()``."""

def vector_op_catalog() -> list[tuple[str, int, str]]:
    """Every vector op class as ``(name, default cycles per element, description)``."""

def vector_stat_catalog() -> list[tuple[str, str, str]]:
    """Every statistic of a vector operation as ``(name, unit, description)``."""

# ---- SCALE-Sim 3.0.0 compatibility (rust/accelsim-py/src/scalesim.rs) -------------------------

__all__ += ["scalesim_catalog", "scalesim_simulate"]

def scalesim_simulate(
    layers: Sequence[tuple[int, int, int, int, int, int, int, int]],
    rows: int,
    cols: int,
    dataflow: str,
    ifmap_kb: int,
    filter_kb: int,
    ofmap_kb: int,
) -> dict[str, NDArray[Any]]:
    """SCALE-Sim 3.0.0's CALC-mode reports for ``layers`` given as ``(ifmap_h, ifmap_w,
    filter_h, filter_w, channels, filters, stride_h, stride_w)``: one column (int64 or float64)
    per name of ``scalesim_catalog()``, plus ``m``, ``k``, ``n`` (GIL released, Ctrl-C stops it)."""

def scalesim_catalog() -> list[tuple[str, str, str]]:
    """Every per-layer figure of ``scalesim_simulate`` as ``(name, unit, description)``."""

# ---- mapping search and network schedule (rust/accelsim-py/src/search.rs) ------------------------

from collections.abc import Callable  # noqa: E402

__all__ += ["SEARCH_OBJECTIVES", "SEARCH_STRATEGIES", "search_network", "simulate_schedule"]

SEARCH_OBJECTIVES: tuple[str, ...]
SEARCH_STRATEGIES: tuple[str, ...]

def search_network(
    shapes: Sequence[tuple[int, int, int, int]],
    config: ArrayConfig,
    memory: MemoryConfig,
    convs: Sequence[Sequence[int] | None] | None = None,
    chained: Sequence[bool] | None = None,
    objective: str = "cycles",
    strategy: str = "guided",
    budget: int | None = None,
    seed: int = 0,
    dataflows: Sequence[str] | None = None,
    schedule: bool = True,
    write_through: bool = False,
    threads: int = 0,
    progress: Callable[[int, int, int], object] | None = None,
) -> dict[str, Any]:
    """Search every layer's mapping (each distinct shape once, on every core), then schedule
    the layers: per-layer columns of the chosen run (every statistic, ``tile_*``,
    ``dataflow``, ``input_on_chip``, ``start``, ``end``), ``default_*`` and ``best_*``
    candidates with their cycles and energy alone, per-shape ``space_size`` and evaluation
    counts, and totals. Ctrl-C returns the best found so far (``interrupted``)."""

def simulate_schedule(
    shapes: Sequence[tuple[int, int, int, int]],
    config: ArrayConfig,
    memory: MemoryConfig,
    tilings: Sequence[tuple[int, int, int, str]],
    convs: Sequence[Sequence[int] | None] | None = None,
    dataflows: Sequence[str | None] | None = None,
    input_on_chip: Sequence[bool] | None = None,
    overlap: bool = True,
    write_through: bool = False,
    trace: TraceRecorder | None = None,
) -> dict[str, Any]:
    """Run layers as one schedule (or alone, ``overlap=False``): per-layer columns as
    ``search_network``'s, ``cycles_total`` and the cycle-level DRAM's ``dram_stats``; with
    ``trace``, recorded into it."""

# ---- traces (rust/accelsim-py/src/trace.rs) ---------------------------------------------------

__all__ += ["TRACE_CATEGORIES", "TraceRecorder"]

TRACE_CATEGORIES: tuple[str, ...]

@final
class TraceRecorder:
    """A trace being recorded: pass it as ``trace=`` to ``simulate_layers`` or
    ``simulate_memory_layers`` (each call appends its layers), then ``finish()`` and read the
    columns."""

    def __new__(
        cls,
        *,
        window: tuple[int, int] | None = None,
        categories: Sequence[str] | None = None,
        max_events: int = 1_000_000,
        gaps: Sequence[int] | None = None,
    ) -> TraceRecorder: ...
    def finish(self) -> None: ...
    @property
    def window(self) -> tuple[int, int]: ...
    @property
    def categories(self) -> list[str]: ...
    @property
    def max_events(self) -> int: ...
    @property
    def events(self) -> int: ...
    @property
    def shifted(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def complete_until(self) -> int | None: ...
    @property
    def dram_khz(self) -> int: ...
    @property
    def names(self) -> list[str]: ...
    def tracks(self) -> list[tuple[str, str, str, str, bool, tuple[str, str, str, str]]]: ...
    def slices(self) -> dict[str, NDArray[Any]]: ...
    def counters(self) -> dict[str, NDArray[Any]]: ...
    def layers(self) -> dict[str, NDArray[np.uint64]]: ...
