"""Accelerator and run configuration: frozen dataclasses, validated on construction.

``Accelerator`` describes the systolic array (``rows x cols``, dataflow, latencies, buffering)
plus the clock. The array fields are validated by the native core (``_core.ArrayConfig``), so
Python and Rust share one set of rules; ``freq_mhz`` only matters for wall-clock time and is
validated here. ``RunConfig`` adds what a run needs on top (model, batch, engine) and is what a
run directory's ``config.json`` holds; ``load_config`` reads it back from JSON or TOML.
"""

from __future__ import annotations

import difflib
import json
import math
import operator
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from accelsim import _core
from accelsim.errors import ConfigError

__all__ = [
    "DATAFLOWS",
    "ENGINES",
    "OS_DRAIN_EDGES",
    "Accelerator",
    "RunConfig",
    "load_config",
    "parse_pe",
    "read_config_file",
]

DATAFLOWS: tuple[str, ...] = tuple(_core.DATAFLOWS)
ENGINES: tuple[str, ...] = tuple(_core.ENGINES)
OS_DRAIN_EDGES: tuple[str, ...] = tuple(_core.OS_DRAIN_EDGES)

_INT_FIELDS = ("rows", "cols", "mac_latency", "acc_latency")
_BOOL_FIELDS = ("stationary_double_buffer", "os_output_double_buffer")
_STR_FIELDS = ("dataflow", "os_drain")
# The native module stores these as fixed-width unsigned integers.
_INT_MAX = 2**32 - 1


def _did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _as_int(name: str, value: object) -> int:
    """``value`` as a plain int (numpy integers accepted, bools and floats refused)."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer, got the bool {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(
            f"{name} must be an integer, got {value!r} ({type(value).__name__})"
        ) from None


@dataclass(frozen=True)
class Accelerator:
    """A systolic array of ``rows x cols`` PEs and its clock.

    Args:
        rows, cols: PE array size.
        dataflow: which operand stays in the PEs: ``"ws"`` (weight/filter stationary),
            ``"os"`` (output stationary) or ``"is"`` (input/ifmap stationary).
        mac_latency: cycles of one multiply-accumulate in a PE.
        acc_latency: cycles of one accumulation into the output buffer.
        stationary_double_buffer: preload the next fold's stationary operand while the
            current fold streams (ws/is).
        os_drain: the array edge the ofmap drains through under ``os``: ``"right"`` or
            ``"bottom"``.
        os_output_double_buffer: overlap the ofmap drain with the next fold under ``os``.
        freq_mhz: clock frequency, only used to turn cycles into seconds.

    ``docs/timing.md`` defines what each field does to the cycle count. Invalid values raise
    :class:`~accelsim.errors.ConfigError` (also a ``ValueError``) naming the field.
    """

    rows: int = 32
    cols: int = 32
    dataflow: str = "ws"
    mac_latency: int = 1
    acc_latency: int = 1
    stationary_double_buffer: bool = True
    os_drain: str = "right"
    os_output_double_buffer: bool = True
    freq_mhz: float = 1000.0

    def __post_init__(self) -> None:
        for name in _INT_FIELDS:
            value = _as_int(name, getattr(self, name))
            if value < 0:
                raise ConfigError(f"{name} must be a positive integer, got {value}")
            if value > _INT_MAX:
                raise ConfigError(f"{name} must be at most {_INT_MAX}, got {value}")
            object.__setattr__(self, name, value)
        for name in _BOOL_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, got {value!r}")
        for name in _STR_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ConfigError(f"{name} must be a string, got {value!r}")
        freq = self.freq_mhz
        if isinstance(freq, bool) or not isinstance(freq, (int, float)):
            raise ConfigError(f"freq_mhz must be a number, got {freq!r}")
        if not math.isfinite(freq) or freq <= 0:
            raise ConfigError(f"freq_mhz must be a finite number > 0, got {freq!r}")
        object.__setattr__(self, "freq_mhz", float(freq))
        native = self._array  # build (and so validate) the native config now
        # The core accepts e.g. "WS"; keep its canonical spelling so equal configs compare equal.
        object.__setattr__(self, "dataflow", native.dataflow)
        object.__setattr__(self, "os_drain", native.os_drain)

    @cached_property
    def _array(self) -> _core.ArrayConfig:
        """The native ``ArrayConfig`` (built once; all array-field validation happens here)."""
        try:
            return _core.ArrayConfig(
                self.rows,
                self.cols,
                dataflow=self.dataflow,
                mac_latency=self.mac_latency,
                acc_latency=self.acc_latency,
                stationary_double_buffer=self.stationary_double_buffer,
                os_drain=self.os_drain,
                os_output_double_buffer=self.os_output_double_buffer,
            )
        except ConfigError:
            raise
        except (ValueError, TypeError, OverflowError) as exc:
            raise ConfigError(f"invalid accelerator configuration: {exc}") from exc

    def __getstate__(self) -> dict[str, Any]:
        # The native object is rebuilt on demand; it need not be picklable.
        return {k: v for k, v in self.__dict__.items() if k != "_array"}

    @property
    def pes(self) -> int:
        """Number of processing elements, ``rows * cols``."""
        return self.rows * self.cols

    def to_dict(self) -> dict[str, Any]:
        """Every field, in declaration order (JSON/TOML friendly)."""
        return {name: getattr(self, name) for name in ACCELERATOR_KEYS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Accelerator:
        """Build from a mapping; missing keys take their defaults, unknown keys are an error."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"accelerator must be a table of fields, got {data!r}")
        _check_keys(data, ACCELERATOR_KEYS, where="accelerator")
        return cls(**data)


ACCELERATOR_KEYS: tuple[str, ...] = (
    "rows",
    "cols",
    "dataflow",
    "mac_latency",
    "acc_latency",
    "stationary_double_buffer",
    "os_drain",
    "os_output_double_buffer",
    "freq_mhz",
)


def _check_keys(data: Mapping[str, Any], valid: tuple[str, ...], *, where: str) -> None:
    for key in data:
        if key not in valid:
            hint = _did_you_mean(str(key), valid)
            raise ConfigError(f"unknown {where} key {key!r}; {hint}valid keys: {', '.join(valid)}")


_PE_RE = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")


def parse_pe(text: str) -> tuple[int, int]:
    """Parse an array size ``ROWSxCOLS`` such as ``"32x32"`` into ``(rows, cols)``."""
    match = _PE_RE.fullmatch(text)
    if match is None:
        raise ConfigError(f"pe: expected the form ROWSxCOLS, e.g. 32x32, got {text!r}")
    rows, cols = int(match.group(1)), int(match.group(2))
    if rows < 1 or cols < 1:
        raise ConfigError(
            f"pe: rows and cols must be positive in ROWSxCOLS, e.g. 32x32, got {text!r}"
        )
    return rows, cols


RUN_KEYS: tuple[str, ...] = ("model", "batch", "engine", "accelerator")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run: the model, batch, engine and accelerator.

    This is what a run directory's ``config.json`` holds; running it again reproduces the
    run's statistics exactly.
    """

    model: str
    batch: int = 1
    engine: str = "fast"
    accelerator: Accelerator = field(default_factory=Accelerator)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"model must be a non-empty string, got {self.model!r}")
        batch = _as_int("batch", self.batch)
        if batch < 1:
            raise ConfigError(f"batch must be a positive integer, got {batch}")
        object.__setattr__(self, "batch", batch)
        check_engine(self.engine)
        if not isinstance(self.accelerator, Accelerator):
            raise ConfigError(f"accelerator must be an Accelerator, got {self.accelerator!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "batch": self.batch,
            "engine": self.engine,
            "accelerator": self.accelerator.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Build from a mapping shaped like :meth:`to_dict`; unknown keys are an error."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a run configuration must be a table, got {data!r}")
        _check_keys(data, RUN_KEYS, where="config")
        if "model" not in data:
            raise ConfigError("config: missing key 'model' (a model name, see `accelsim models`)")
        acc = Accelerator.from_dict(data.get("accelerator", {}))
        return cls(
            model=data["model"],
            batch=data.get("batch", 1),
            engine=data.get("engine", "fast"),
            accelerator=acc,
        )


def check_engine(engine: object) -> str:
    """Return ``engine`` if it names an engine of the native core, else raise ConfigError."""
    if not isinstance(engine, str) or engine not in ENGINES:
        hint = _did_you_mean(engine, ENGINES) if isinstance(engine, str) else ""
        raise ConfigError(
            f"engine: unknown engine {engine!r}; {hint}valid choices: {', '.join(ENGINES)}"
        )
    return engine


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a run configuration file (``.json`` or ``.toml``) into a dict, checking its keys.

    The dict may be partial (e.g. no ``model``); :meth:`RunConfig.from_dict` completes it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise ConfigError(
            f"config: unsupported file type {suffix or '(none)'!r} for {str(path)!r}; "
            "valid choices: .json, .toml"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"config: cannot read {str(path)!r}: {exc.strerror}") from exc
    data: object
    if suffix == ".json":
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config: {str(path)!r} is not valid JSON: {exc}") from exc
    else:
        toml = _tomllib()
        try:
            data = toml.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config: {str(path)!r} is not valid TOML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config: {str(path)!r} must hold a table of keys at the top level")
    _check_keys(data, RUN_KEYS, where="config")
    acc = data.get("accelerator", {})
    if not isinstance(acc, Mapping):
        raise ConfigError(f"config: 'accelerator' must be a table of fields, got {acc!r}")
    _check_keys(acc, ACCELERATOR_KEYS, where="accelerator")
    return data


def load_config(path: str | Path) -> RunConfig:
    """Read a complete :class:`RunConfig` from a ``.json`` or ``.toml`` file."""
    return RunConfig.from_dict(read_config_file(path))


def _tomllib() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    else:  # pragma: no cover - Python 3.10 only
        try:
            import tomli

            return tomli
        except ImportError:
            raise ConfigError(
                "config: reading TOML needs Python >= 3.11 or the tomli package (pip install tomli)"
            ) from None
