"""SCALE-Sim's ``.cfg`` files, read the way SCALE-Sim 3.0.0 reads them (``scale_config.py``).

The file is an INI file read with Python's :mod:`configparser` (as SCALE-Sim does: keys are
case-insensitive, ``key: value`` and ``key = value`` both work, ``#`` and ``;`` start comment
lines). The keys SCALE-Sim 3.0.0 requires are required here too; keys it reads but that do not
change a CALC-mode result are accepted and validated, and listed in ``docs/scalesim.md``; any
other key, or section, is an error naming the file, the line and the valid keys. Modes accelsim
does not reproduce (``InterfaceBandwidth: USER``, ``UseRamulatorTrace: True``,
``SparsitySupport: true``) are errors that say so.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import ConfigError

__all__ = ["DATAFLOWS", "ScaleSimConfig", "read_config"]

#: SCALE-Sim's dataflows (``scale_config.valid_df_list``).
DATAFLOWS = ("os", "ws", "is")

# section -> known keys (lower case, as configparser stores them) -> spelling in messages.
_KEYS: dict[str, dict[str, str]] = {
    "general": {"run_name": "run_name"},
    "architecture_presets": {
        k.lower(): k
        for k in (
            "ArrayHeight",
            "ArrayWidth",
            "IfmapSramSzkB",
            "FilterSramSzkB",
            "OfmapSramSzkB",
            "IfmapOffset",
            "FilterOffset",
            "OfmapOffset",
            "Dataflow",
            "Bandwidth",
            "MemoryBanks",
            "ReadRequestBuffer",
            "WriteRequestBuffer",
            # Read from this section when [network_presets] exists (a SCALE-Sim quirk).
            "TopologyCsvLoc",
        )
    },
    "layout": {
        k.lower(): k
        for k in (
            "IfmapCustomLayout",
            "IfmapSRAMBankBandwidth",
            "IfmapSRAMBankNum",
            "IfmapSRAMBankPort",
            "FilterCustomLayout",
            "FilterSRAMBankBandwidth",
            "FilterSRAMBankNum",
            "FilterSRAMBankPort",
        )
    },
    "sparsity": {
        k.lower(): k
        for k in (
            "SparsitySupport",
            "SparseRep",
            "OptimizedMapping",
            "BlockSize",
            "RandomNumberGeneratorSeed",
        )
    },
    "run_presets": {k.lower(): k for k in ("InterfaceBandwidth", "UseRamulatorTrace")},
    "network_presets": {k.lower(): k for k in ("TopologyCsvLoc", "LayoutCsvLoc")},
}

# What SCALE-Sim 3.0.0's read_conf_file reads with config.get (a missing one is its crash).
_REQUIRED: dict[str, tuple[str, ...]] = {
    "general": ("run_name",),
    "run_presets": ("InterfaceBandwidth", "UseRamulatorTrace"),
    "architecture_presets": (
        "ArrayHeight",
        "ArrayWidth",
        "IfmapSramSzkB",
        "FilterSramSzkB",
        "OfmapSramSzkB",
        "IfmapOffset",
        "FilterOffset",
        "OfmapOffset",
        "Dataflow",
        "ReadRequestBuffer",
        "WriteRequestBuffer",
    ),
    "layout": tuple(_KEYS["layout"].values()),
    "sparsity": ("SparsitySupport",),
}


@dataclass(frozen=True)
class ScaleSimConfig:
    """The settings of a SCALE-Sim configuration that accelsim uses (CALC mode).

    ``rows x cols`` array, ``dataflow`` (``ws``, ``os``, ``is``), scratchpad sizes in kB of
    1024 one-byte words, and the address offsets (which only label addresses: reports do not
    depend on them). ``run_name`` names the report directory.
    """

    run_name: str
    rows: int
    cols: int
    dataflow: str
    ifmap_kb: int
    filter_kb: int
    ofmap_kb: int
    ifmap_offset: int = 0
    filter_offset: int = 10_000_000
    ofmap_offset: int = 20_000_000

    def __post_init__(self) -> None:
        name = self.run_name
        if not isinstance(name, str) or not name.strip() or name in (".", "..") or "/" in name:
            raise ConfigError(
                f"run_name: {name!r} must be a non-empty name without '/' (it names the "
                "report directory OUTDIR/<run_name>)"
            )
        for field in ("rows", "cols", "ifmap_kb", "filter_kb", "ofmap_kb"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{field}: {value!r} must be a positive integer")
        for field in ("ifmap_offset", "filter_offset", "ofmap_offset"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(
                    f"{field}: {value!r} must be an integer >= 0 (with a negative offset some "
                    "address is -1, which SCALE-Sim takes for 'no request')"
                )
        if self.dataflow not in DATAFLOWS:
            raise ConfigError(
                f"dataflow: unknown value {self.dataflow!r}; valid choices: {', '.join(DATAFLOWS)}"
            )


def _line_of(lines: list[str], section: str, key: str | None = None) -> int | None:
    """The 1-based line of ``[section]`` (or of ``key`` in it), for messages."""
    current = None
    for i, raw in enumerate(lines, 1):
        text = raw.strip()
        head = re.fullmatch(r"\[([^\]]*)\]", text)
        if head:
            current = head.group(1)
            if key is None and current == section:
                return i
            continue
        if key is not None and current == section:
            m = re.match(r"([^:=]+?)\s*[:=]", text)
            if m and m.group(1).strip().lower() == key:
                return i
    return None


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.parser = configparser.ConfigParser()
        try:
            self.parser.read_string(text, source=str(path))
        except configparser.Error as exc:
            lineno = getattr(exc, "lineno", None)
            where = f"{path}:{lineno}" if lineno else str(path)
            raise ConfigError(f"{where}: not a valid SCALE-Sim configuration: {exc}") from None

    def where(self, section: str, key: str | None = None) -> str:
        line = _line_of(self.lines, section, key.lower() if key else None)
        return f"{self.path}:{line}" if line else str(self.path)

    def check_keys(self) -> None:
        if self.parser.defaults():
            raise ConfigError(
                f"{self.where('DEFAULT')}: a [DEFAULT] section is not supported; valid sections: "
                + ", ".join(_KEYS)
            )
        for section in self.parser.sections():
            if section not in _KEYS:
                raise ConfigError(
                    f"{self.where(section)}: unknown section [{section}]; valid sections: "
                    + ", ".join(_KEYS)
                )
            for key in self.parser[section]:
                if key not in _KEYS[section]:
                    raise ConfigError(
                        f"{self.where(section, key)}: unknown key {key!r} in [{section}]; valid "
                        f"keys: {', '.join(dict.fromkeys(_KEYS[section].values()))}"
                    )
        for section, keys in _REQUIRED.items():
            for key in keys:
                if not self.parser.has_option(section, key):
                    where = self.where(section) if self.parser.has_section(section) else self.path
                    raise ConfigError(
                        f"{where}: [{section}] {key} is missing (SCALE-Sim 3.0.0 requires it)"
                    )

    def get(self, section: str, key: str) -> str:
        try:
            return self.parser.get(section, key)
        except configparser.Error as exc:  # e.g. a bad %-interpolation
            raise ConfigError(f"{self.where(section, key)}: {key}: {exc}") from None

    def integer(self, section: str, key: str, minimum: int | None = None) -> int:
        text = self.get(section, key)
        try:
            value = int(text)  # what SCALE-Sim does: int(config.get(...))
        except ValueError:
            raise ConfigError(
                f"{self.where(section, key)}: {key}: {text!r} is not an integer"
            ) from None
        if minimum is not None and value < minimum:
            raise ConfigError(
                f"{self.where(section, key)}: {key}: {value} must be at least {minimum}"
            )
        return value

    def choice(self, section: str, key: str, choices: tuple[str, ...]) -> str:
        text = self.get(section, key)
        if text not in choices:
            raise ConfigError(
                f"{self.where(section, key)}: {key}: unknown value {text!r}; valid choices: "
                + ", ".join(choices)
            )
        return text

    def boolean(self, section: str, key: str) -> bool:
        try:
            return self.parser.getboolean(section, key)
        except ValueError:
            raise ConfigError(
                f"{self.where(section, key)}: {key}: {self.get(section, key)!r} is not a boolean; "
                "valid choices: True, False"
            ) from None


def read_config(path: str | Path) -> ScaleSimConfig:
    """Read a SCALE-Sim ``.cfg`` file (SCALE-Sim 3.0.0's ``scale_config.read_conf_file``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc.strerror or exc}") from None
    r = _Reader(path, text)
    r.check_keys()

    mode = r.choice("run_presets", "InterfaceBandwidth", ("CALC", "USER"))
    if mode == "USER":
        raise ConfigError(
            f"{r.where('run_presets', 'InterfaceBandwidth')}: InterfaceBandwidth: USER (a "
            "user-given DRAM bandwidth with stalls) is not reproduced by accelsim scalesim; "
            "valid choices: CALC"
        )
    if r.choice("run_presets", "UseRamulatorTrace", ("False", "True")) == "True":
        raise ConfigError(
            f"{r.where('run_presets', 'UseRamulatorTrace')}: UseRamulatorTrace: True (DRAM "
            "latencies from Ramulator traces) is not reproduced by accelsim scalesim; valid "
            "choices: False"
        )
    sparsity = r.get("sparsity", "SparsitySupport")
    if sparsity.lower() not in ("true", "false"):
        raise ConfigError(
            f"{r.where('sparsity', 'SparsitySupport')}: SparsitySupport: {sparsity!r} is not a "
            "boolean; valid choices: true, false"
        )
    if sparsity.lower() == "true":
        raise ConfigError(
            f"{r.where('sparsity', 'SparsitySupport')}: SparsitySupport: true (sparse filters) "
            "is not reproduced by accelsim scalesim; valid choices: false"
        )
    # Read and validated like SCALE-Sim reads them; no effect on a CALC-mode dense run.
    for key in ("IfmapCustomLayout", "FilterCustomLayout"):
        r.boolean("layout", key)
    for key in _REQUIRED["layout"]:
        if "Custom" not in key:
            r.integer("layout", key)
    for key in ("ReadRequestBuffer", "WriteRequestBuffer"):
        r.integer("architecture_presets", key)
    if r.parser.has_option("architecture_presets", "Bandwidth"):
        for item in r.get("architecture_presets", "Bandwidth").split(","):
            try:
                int(item.strip())
            except ValueError:
                raise ConfigError(
                    f"{r.where('architecture_presets', 'Bandwidth')}: Bandwidth: {item.strip()!r} "
                    "is not an integer (a comma-separated list of integers)"
                ) from None

    name = r.get("general", "run_name")
    section = "architecture_presets"
    dataflow = r.choice(section, "Dataflow", DATAFLOWS)
    try:
        return ScaleSimConfig(
            run_name=name,
            rows=r.integer(section, "ArrayHeight", 1),
            cols=r.integer(section, "ArrayWidth", 1),
            dataflow=dataflow,
            ifmap_kb=r.integer(section, "IfmapSramSzkB", 1),
            filter_kb=r.integer(section, "FilterSramSzkB", 1),
            ofmap_kb=r.integer(section, "OfmapSramSzkB", 1),
            ifmap_offset=r.integer(section, "IfmapOffset", 0),
            filter_offset=r.integer(section, "FilterOffset", 0),
            ofmap_offset=r.integer(section, "OfmapOffset", 0),
        )
    except ConfigError as exc:  # run_name
        raise ConfigError(f"{r.where('general', 'run_name')}: {exc}") from None
