"""accelsim: a cycle-accurate simulator of systolic-array DNN accelerators.

Quick start::

    import accelsim

    result = accelsim.run("resnet18", accelsim.Accelerator(rows=32, cols=32, dataflow="ws"))
    print(result.total_cycles, result.utilization)

    gemm = accelsim.simulate_gemm(64, 64, 64, engine="pe", a=a_int8, b=b_int8)
    gemm.output  # == a.astype(int32) @ b.astype(int32)

    memory = accelsim.Memory(ifmap_bytes=64 << 10, filter_bytes=64 << 10, bandwidth=16)
    acc = accelsim.Accelerator(rows=32, cols=32)
    result = accelsim.run("resnet18", acc, memory=memory)  # + stalls, DRAM bytes, tilings
    accelsim.write_mapping(result, "resnet18.mapping.json")  # replay: tilings=read_mapping(...)

    found = accelsim.search("resnet18", acc, memory=memory)  # tilings and schedule searched
    found.write_mapping("resnet18.search.json")  # accelsim run --mapping replays found.cycles

The cycle model lives in the Rust crate ``accelsim-core`` (native module ``accelsim._core``);
this package adds configuration, workloads, results and the ``accelsim`` command line.
"""

from accelsim import _core
from accelsim._version import check_core_version, package_version

__version__: str = package_version(fallback=_core.__version__)
check_core_version(_core.__version__, __version__, getattr(_core, "__file__", None))

from accelsim.api import (  # noqa: E402
    ModelInfo,
    default_tiling,
    load_workload,
    models,
    run,
    simulate_gemm,
)
from accelsim.config import (  # noqa: E402
    DATAFLOWS,
    DRAM_MODELS,
    ENGINES,
    LOOP_ORDERS,
    OS_DRAIN_EDGES,
    Accelerator,
    Memory,
    RunConfig,
    Tiling,
    VectorUnit,
    load_config,
    parse_pe,
    parse_size,
)
from accelsim.errors import AccelsimError, ConfigError, SimulationError, WorkloadError  # noqa: E402
from accelsim.mapping import Schedule, read_mapping, read_schedule, write_mapping  # noqa: E402
from accelsim.results import (  # noqa: E402
    GemmResult,
    LayerResult,
    NetworkResult,
    StatInfo,
    VectorOpResult,
    memory_stat_catalog,
    stat_catalog,
)
from accelsim.rundir import write_run_dir  # noqa: E402
from accelsim.search import (  # noqa: E402
    SEARCH_OBJECTIVES,
    SEARCH_STRATEGIES,
    LayerSearch,
    SearchResult,
    run_schedule,
    search,
)
from accelsim.timeline import Timeline  # noqa: E402
from accelsim.trace import TRACE_CATEGORIES, Trace, TraceOptions  # noqa: E402
from accelsim.workloads import (  # noqa: E402
    ConvLayer,
    GemmLayer,
    GemmShape,
    MatmulLayer,
    VectorOp,
    Workload,
    get_model,
)
from accelsim.workloads.onnx import load_onnx  # noqa: E402  (imports onnx only when called)

__all__ = [
    "DATAFLOWS",
    "DRAM_MODELS",
    "ENGINES",
    "LOOP_ORDERS",
    "OS_DRAIN_EDGES",
    "SEARCH_OBJECTIVES",
    "SEARCH_STRATEGIES",
    "TRACE_CATEGORIES",
    "Accelerator",
    "AccelsimError",
    "ConfigError",
    "ConvLayer",
    "GemmLayer",
    "GemmResult",
    "GemmShape",
    "LayerResult",
    "LayerSearch",
    "MatmulLayer",
    "Memory",
    "ModelInfo",
    "NetworkResult",
    "RunConfig",
    "Schedule",
    "SearchResult",
    "SimulationError",
    "StatInfo",
    "Tiling",
    "Timeline",
    "Trace",
    "TraceOptions",
    "VectorOp",
    "VectorOpResult",
    "VectorUnit",
    "Workload",
    "WorkloadError",
    "__version__",
    "default_tiling",
    "get_model",
    "load_config",
    "load_onnx",
    "load_workload",
    "memory_stat_catalog",
    "models",
    "parse_pe",
    "parse_size",
    "read_mapping",
    "read_schedule",
    "run",
    "run_schedule",
    "search",
    "simulate_gemm",
    "stat_catalog",
    "write_mapping",
    "write_run_dir",
]
