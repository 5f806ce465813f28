"""Run directories: everything needed to inspect and to reproduce a run.

``write_run_dir(result, path)`` writes

* ``config.json``: the fully resolved configuration (model, batch, engine, every accelerator
  field and, with a memory system, every memory field and the tiling each layer ran with).
  ``accelsim run --config RUN/config.json`` reproduces ``stats.json`` and ``layers.csv`` byte
  for byte.
* ``stats.json``: totals, per-layer statistics and the stat catalog (name, unit, description;
  with a memory system, the memory catalog too).
* ``layers.csv``: one row per layer.
* ``metadata.json``: versions, command line, Python and platform, creation time. Everything
  that changes from one identical run to the next goes here and only here.
* with a traced run (``run(..., trace=...)``, ``accelsim run --trace``): ``trace.json``, the
  Perfetto / Chrome trace (docs/trace.md), and ``timeline.csv``, PE utilization and DRAM bytes
  per bin of cycles (:class:`~accelsim.timeline.Timeline`), which ``accelsim plot`` draws.

A run of a user-built ``Workload`` (not a zoo model) records the workload's name as ``model``;
such a ``config.json`` can only be replayed once that name exists in the zoo.
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from accelsim import _core
from accelsim.results import NetworkResult, memory_stat_catalog, stat_catalog

__all__ = ["RUN_DIR_FILES", "TRACE_FILES", "stats_dict", "write_run_dir"]

RUN_DIR_FILES = ("config.json", "stats.json", "layers.csv", "metadata.json")
#: Written beside ``RUN_DIR_FILES`` when the run was traced.
TRACE_FILES = ("trace.json", "timeline.csv")


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def stats_dict(result: NetworkResult) -> dict[str, Any]:
    """What ``stats.json`` holds: ``result.to_dict()`` plus the stat catalog (and, with a
    memory system, the memory stat catalog)."""
    catalog = stat_catalog()
    if result.memory is not None:
        catalog += memory_stat_catalog()
    return {
        **result.to_dict(),
        "stat_catalog": [info._asdict() for info in catalog],
    }


def write_run_dir(
    result: NetworkResult,
    path: str | Path,
    argv: Sequence[str] | None = None,
    *,
    trace_file: str | Path | None = None,
) -> Path:
    """Write ``result`` as a run directory at ``path`` (created if needed); return the path.

    ``argv`` is the command line to record in ``metadata.json`` (default ``sys.argv``).
    Existing files of the same names are overwritten. A traced result also writes
    ``timeline.csv`` and its trace, to ``trace.json`` or to ``trace_file`` when given.
    """
    from accelsim import __version__

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    command = list(sys.argv if argv is None else argv)
    metadata = {
        "accelsim_version": __version__,
        "core_version": _core.__version__,
        "command": command,
        "command_line": shlex.join(command),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (root / "config.json").write_text(_dump(result.config_dict()), encoding="utf-8")
    (root / "stats.json").write_text(_dump(stats_dict(result)), encoding="utf-8")
    result.to_csv(root / "layers.csv")
    if result.trace is not None:
        result.trace.timeline().to_csv(root / "timeline.csv")
        trace_path = Path(trace_file) if trace_file is not None else root / "trace.json"
        result.trace.write_perfetto(trace_path)
        metadata["trace"] = str(trace_path)
    (root / "metadata.json").write_text(_dump(metadata), encoding="utf-8")
    return root
