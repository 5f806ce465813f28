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

__all__ = ["RUN_DIR_FILES", "stats_dict", "write_run_dir"]

RUN_DIR_FILES = ("config.json", "stats.json", "layers.csv", "metadata.json")


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
    result: NetworkResult, path: str | Path, argv: Sequence[str] | None = None
) -> Path:
    """Write ``result`` as a run directory at ``path`` (created if needed); return the path.

    ``argv`` is the command line to record in ``metadata.json`` (default ``sys.argv``).
    Existing files of the same names are overwritten.
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
    (root / "metadata.json").write_text(_dump(metadata), encoding="utf-8")
    return root
