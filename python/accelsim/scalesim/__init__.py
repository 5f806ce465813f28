"""SCALE-Sim 3.0.0 compatibility: read its inputs, reproduce its reports.

    from accelsim import scalesim

    config = scalesim.read_config("scale.cfg")
    layers = scalesim.read_topology("Resnet18.csv")          # or input_type="gemm"
    result = scalesim.simulate(config, layers)
    result.write_reports("results")   # results/<run_name>/COMPUTE_REPORT.csv, ...
    result.column("total_cycles")

``accelsim scalesim -c CFG -t TOPOLOGY [-i conv|gemm] -p OUTDIR`` does the same from the
command line. The model (SCALE-Sim's fold arithmetic and its CALC-mode memory interface, with
their conventions and quirks) is in the native core; ``docs/scalesim.md`` documents every
convention with its source and how accelsim's own array model differs.
"""

from accelsim.scalesim.config import DATAFLOWS, ScaleSimConfig, read_config
from accelsim.scalesim.reports import REPORT_FILES, ScaleSimResult, simulate
from accelsim.scalesim.topology import INPUT_TYPES, ScaleSimLayer, read_topology

__all__ = [
    "DATAFLOWS",
    "INPUT_TYPES",
    "REPORT_FILES",
    "ScaleSimConfig",
    "ScaleSimLayer",
    "ScaleSimResult",
    "read_config",
    "read_topology",
    "simulate",
]
