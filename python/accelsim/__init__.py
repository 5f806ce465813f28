"""accelsim: a cycle-accurate simulator of systolic-array DNN accelerators.

Quick start::

    import accelsim

    result = accelsim.run("resnet18", accelsim.Accelerator(rows=32, cols=32, dataflow="ws"))
    print(result.total_cycles, result.utilization)

    gemm = accelsim.simulate_gemm(64, 64, 64, engine="pe", a=a_int8, b=b_int8)
    gemm.output  # == a.astype(int32) @ b.astype(int32)

The cycle model lives in the Rust crate ``accelsim-core`` (native module ``accelsim._core``);
this package adds configuration, workloads, results and the ``accelsim`` command line.
"""

from accelsim import _core
from accelsim._version import check_core_version, package_version

__version__: str = package_version(fallback=_core.__version__)
check_core_version(_core.__version__, __version__, getattr(_core, "__file__", None))

from accelsim.api import ModelInfo, models, run, simulate_gemm  # noqa: E402
from accelsim.config import (  # noqa: E402
    DATAFLOWS,
    ENGINES,
    OS_DRAIN_EDGES,
    Accelerator,
    RunConfig,
    load_config,
    parse_pe,
)
from accelsim.errors import AccelsimError, ConfigError, SimulationError, WorkloadError  # noqa: E402
from accelsim.results import (  # noqa: E402
    GemmResult,
    LayerResult,
    NetworkResult,
    StatInfo,
    stat_catalog,
)
from accelsim.rundir import write_run_dir  # noqa: E402
from accelsim.workloads import ConvLayer, GemmLayer, GemmShape, Workload, get_model  # noqa: E402

__all__ = [
    "DATAFLOWS",
    "ENGINES",
    "OS_DRAIN_EDGES",
    "Accelerator",
    "AccelsimError",
    "ConfigError",
    "ConvLayer",
    "GemmLayer",
    "GemmResult",
    "GemmShape",
    "LayerResult",
    "ModelInfo",
    "NetworkResult",
    "RunConfig",
    "SimulationError",
    "StatInfo",
    "Workload",
    "WorkloadError",
    "__version__",
    "get_model",
    "load_config",
    "models",
    "parse_pe",
    "run",
    "simulate_gemm",
    "stat_catalog",
    "write_run_dir",
]
