"""Mapping files: the memory tiling of each layer, saved from a run and replayed into another.

A mapping file is JSON::

    {
      "layers": {
        "conv1": {"m": 128, "k": 147, "n": 64, "order": "mnk"},
        "layer1.0.conv1": {"m": 256, "k": 576, "n": 64, "order": "mnk"}
      }
    }

``m``, ``k``, ``n`` are the tile sizes (M_t, K_t, N_t) of the layer's GEMM and ``order`` its
loop order (one of ``accelsim.LOOP_ORDERS``, outermost loop first). Layers a mapping does not
name get the default chooser's tiling; naming a layer the model does not have is an error.

``write_mapping(result, path)`` saves the tiling every layer of a memory-system run used, so
``run(..., tilings=read_mapping(path))`` (or ``accelsim run ... --mapping PATH``) reproduces its
cycles exactly.

A mapping written by ``accelsim search`` may also hold a ``schedule`` table: how the layers run
together (docs/search.md)::

    "schedule": {
      "overlap": true,
      "write_through": false,
      "input_on_chip": ["layer1.0.conv2", "layer1.1.conv1"],
      "dataflows": {"fc": "os"}
    }

``overlap``: the layers run as one schedule (the next layer's first filter tile loads while the
current one finishes); ``input_on_chip``: layers whose input is the previous layer's output,
kept on chip; ``dataflows``: layers that run with another dataflow than the accelerator's;
``write_through``: kept outputs are also written to DRAM. ``read_schedule(path)`` reads it
(``None`` for a mapping without one); ``accelsim run --mapping PATH`` replays it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelsim.config import DATAFLOWS, Tiling, _check_keys, _tilings
from accelsim.errors import ConfigError
from accelsim.results import NetworkResult

__all__ = [
    "MAPPING_KEYS",
    "SCHEDULE_KEYS",
    "Schedule",
    "mapping_text",
    "read_mapping",
    "read_schedule",
    "write_mapping",
]

#: The top-level keys of a mapping file.
MAPPING_KEYS: tuple[str, ...] = ("layers", "schedule")
#: The keys of a mapping file's ``schedule`` table.
SCHEDULE_KEYS: tuple[str, ...] = ("overlap", "write_through", "input_on_chip", "dataflows")


@dataclass(frozen=True)
class Schedule:
    """How a network's layers run together (a mapping file's ``schedule`` table).

    Args:
        overlap: the layers run as one schedule on one DMA engine and DRAM: the next layer's
            first filter tile loads while the current one finishes. ``False``: every layer runs
            alone, as ``accelsim run`` runs them.
        write_through: outputs kept on chip are also written to DRAM.
        input_on_chip: layers whose input is the previous layer's output, kept on chip.
        dataflows: layers that run with another dataflow than the accelerator's.
    """

    overlap: bool = True
    write_through: bool = False
    input_on_chip: tuple[str, ...] = ()
    dataflows: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("overlap", "write_through"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"schedule.{name} must be true or false, got {getattr(self, name)!r}"
                )
        layers = self.input_on_chip
        if isinstance(layers, str) or not all(isinstance(x, str) for x in layers):
            raise ConfigError(
                f"schedule.input_on_chip must be a list of layer names, got {layers!r}"
            )
        object.__setattr__(self, "input_on_chip", tuple(layers))
        if not isinstance(self.dataflows, Mapping):
            raise ConfigError(
                f"schedule.dataflows must be a table of layer name -> dataflow, "
                f"got {self.dataflows!r}"
            )
        flows: dict[str, str] = {}
        for name, df in self.dataflows.items():
            canonical = df.strip().lower() if isinstance(df, str) else df
            if not isinstance(name, str) or canonical not in DATAFLOWS:
                raise ConfigError(
                    f"schedule.dataflows.{name}: unknown dataflow {df!r}; "
                    f"valid choices: {', '.join(DATAFLOWS)}"
                )
            flows[name] = canonical
        object.__setattr__(self, "dataflows", flows)
        if self.input_on_chip and not self.overlap:
            raise ConfigError(
                "schedule: input_on_chip needs overlap (the layers must run as one schedule)"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "overlap": self.overlap,
            "write_through": self.write_through,
            "input_on_chip": list(self.input_on_chip),
            "dataflows": dict(self.dataflows),
        }

    @classmethod
    def from_dict(cls, data: object, where: str = "schedule") -> Schedule:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a table, got {data!r}")
        _check_keys(data, SCHEDULE_KEYS, where=where)
        return cls(
            overlap=data.get("overlap", True),
            write_through=data.get("write_through", False),
            input_on_chip=tuple(data.get("input_on_chip", ())),
            dataflows=data.get("dataflows", {}),
        )


def mapping_text(
    tilings: NetworkResult | Mapping[str, Tiling], schedule: Schedule | None = None
) -> str:
    """The JSON text of a mapping file, one layer per line, in the layers' order (and the
    ``schedule`` table, if given)."""
    if isinstance(tilings, NetworkResult):
        if tilings.memory is None:
            raise ConfigError(
                f"mapping: the run of {tilings.model!r} used ideal memory, so it has no tiling; "
                "run it with a memory system (memory=Memory(...), or --sram/--bandwidth/--dram)"
            )
        tilings = tilings.tilings
    checked = _tilings(tilings, where="mapping")
    lines = [
        f"    {json.dumps(name)}: {json.dumps(tiling.to_dict())}"
        for name, tiling in checked.items()
    ]
    body = ",\n".join(lines)
    text = '{\n  "layers": {\n' + body + ("\n" if lines else "") + "  }"
    if schedule is not None:
        table = json.dumps(schedule.to_dict(), indent=2).replace("\n", "\n  ")
        text += ',\n  "schedule": ' + table
    return text + "\n}\n"


def write_mapping(
    tilings: NetworkResult | Mapping[str, Tiling],
    path: str | Path,
    schedule: Schedule | None = None,
) -> Path:
    """Write the tiling of every layer of a memory-system run (or a ``{layer: Tiling}``
    mapping), and a schedule if given, as a mapping file at ``path``; return the path."""
    path = Path(path)
    path.write_text(mapping_text(tilings, schedule), encoding="utf-8")
    return path


def read_mapping(path: str | Path) -> dict[str, Tiling]:
    """Read a mapping file into ``{layer_name: Tiling}`` (checked: keys, sizes, loop orders).

    Whether the layers exist and the tiles fit the buffers is checked when a run uses it.
    """
    return _tilings(_read(path)["layers"], where=f"mapping {str(path)!r}: layers")


def read_schedule(path: str | Path) -> Schedule | None:
    """The ``schedule`` table of a mapping file, or ``None`` when it has none."""
    data = _read(path)
    if "schedule" not in data:
        return None
    return Schedule.from_dict(data["schedule"], where=f"mapping {str(path)!r}: schedule")


def _read(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    where = f"mapping {str(path)!r}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the file: {exc.strerror}") from exc
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where} is not valid JSON: {exc}") from exc
    example = '{"layers": {"conv1": {"m": 128, "k": 147, "n": 64, "order": "mnk"}}}'
    if not isinstance(data, dict) or "layers" not in data:
        raise ConfigError(f"{where}: expected a JSON object with a 'layers' table, e.g. {example}")
    _check_keys(data, MAPPING_KEYS, where="mapping")
    _tilings(data["layers"], where=f"{where}: layers")
    return data
