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
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from accelsim.config import Tiling, _check_keys, _tilings
from accelsim.errors import ConfigError
from accelsim.results import NetworkResult

__all__ = ["MAPPING_KEYS", "mapping_text", "read_mapping", "write_mapping"]

#: The top-level keys of a mapping file.
MAPPING_KEYS: tuple[str, ...] = ("layers",)


def mapping_text(tilings: NetworkResult | Mapping[str, Tiling]) -> str:
    """The JSON text of a mapping file, one layer per line, in the layers' order."""
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
    return '{\n  "layers": {\n' + body + ("\n" if lines else "") + "  }\n}\n"


def write_mapping(tilings: NetworkResult | Mapping[str, Tiling], path: str | Path) -> Path:
    """Write the tiling of every layer of a memory-system run (or a ``{layer: Tiling}``
    mapping) as a mapping file at ``path``; return the path."""
    path = Path(path)
    path.write_text(mapping_text(tilings), encoding="utf-8")
    return path


def read_mapping(path: str | Path) -> dict[str, Tiling]:
    """Read a mapping file into ``{layer_name: Tiling}`` (checked: keys, sizes, loop orders).

    Whether the layers exist and the tiles fit the buffers is checked when a run uses it.
    """
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
    return _tilings(data["layers"], where=f"{where}: layers")
