"""``accelsim scalesim``: the arguments and the work of the subcommand (``accelsim.cli``
registers it and prints its table).

    accelsim scalesim -c scale.cfg -t Resnet18.csv -p results
    accelsim scalesim -c gemm.cfg -t vit_s.csv -i gemm -p results

Flags mirror ``python -m scalesim.scale``: ``-c``, ``-t``, ``-i``, ``-p`` (default
``./results/`` as there) and ``-l`` (SCALE-Sim requires a layout file; it only matters for
custom layouts in USER mode, so here it is optional and only checked to exist). No per-cycle
traces are written.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import ConfigError
from accelsim.scalesim.config import read_config
from accelsim.scalesim.reports import ScaleSimResult, simulate
from accelsim.scalesim.topology import INPUT_TYPES, read_topology

__all__ = ["ScaleSimCommandResult", "add_arguments", "run_command"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", dest="config", metavar="CFG", required=True, help="SCALE-Sim .cfg file")
    p.add_argument(
        "-t", dest="topology", metavar="TOPOLOGY", required=True, help="topology CSV file"
    )
    p.add_argument(
        "-i",
        dest="input_type",
        choices=INPUT_TYPES,
        default="conv",
        help="topology format: conv (default) or gemm (name, M, N, K)",
    )
    p.add_argument(
        "-p",
        dest="outdir",
        metavar="OUTDIR",
        default="./results/",
        help="reports go to OUTDIR/<run_name>/ (default ./results/)",
    )
    p.add_argument(
        "-l",
        dest="layout",
        metavar="LAYOUT",
        help="SCALE-Sim layout CSV; accepted for drop-in use, not needed (no effect in CALC mode)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print no table")


@dataclass(frozen=True)
class ScaleSimCommandResult:
    result: ScaleSimResult
    report_dir: Path


def run_command(args: argparse.Namespace) -> ScaleSimCommandResult:
    """Read the inputs, simulate, write the reports. Bad inputs raise ``ConfigError`` or
    ``WorkloadError`` naming the file, line and field."""
    config = read_config(args.config)
    layers = read_topology(args.topology, args.input_type)
    if args.layout is not None and not Path(args.layout).is_file():
        raise ConfigError(f"-l: layout file {args.layout!r} not found")
    result = simulate(config, layers)
    return ScaleSimCommandResult(result, result.write_reports(args.outdir))
