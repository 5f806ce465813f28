"""Accelerator and run configuration: frozen dataclasses, validated on construction.

``Accelerator`` describes the systolic array (``rows x cols``, dataflow, latencies, buffering)
plus the clock. The array fields are validated by the native core (``_core.ArrayConfig``), so
Python and Rust share one set of rules; ``freq_mhz`` only matters for wall-clock time and is
validated here. ``Memory`` describes the memory system (scratchpads, accumulator, DRAM model),
validated by ``_core.MemoryConfig``; ``Tiling`` is one layer's memory tiling. ``RunConfig`` adds
what a run needs on top (model, batch, engine, memory, tilings) and is what a run directory's
``config.json`` holds; ``load_config`` reads it back from JSON or TOML.
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
from typing import Any, NamedTuple

from accelsim import _core
from accelsim.errors import ConfigError

__all__ = [
    "DATAFLOWS",
    "DRAM_MODELS",
    "ENGINES",
    "LOOP_ORDERS",
    "OS_DRAIN_EDGES",
    "Accelerator",
    "Memory",
    "RunConfig",
    "Tiling",
    "VectorUnit",
    "check_memory",
    "load_config",
    "parse_pe",
    "parse_size",
    "read_config_file",
]

DATAFLOWS: tuple[str, ...] = tuple(_core.DATAFLOWS)
ENGINES: tuple[str, ...] = tuple(_core.ENGINES)
OS_DRAIN_EDGES: tuple[str, ...] = tuple(_core.OS_DRAIN_EDGES)
#: DRAM models of the memory system (``Memory.dram``), as the native core lists them.
DRAM_MODELS: tuple[str, ...] = tuple(_core.DRAM_MODELS)
#: Loop orders of a memory tiling, outermost loop first (``mnk``: for m, for n, for k).
LOOP_ORDERS: tuple[str, ...] = tuple(_core.LOOP_ORDERS)

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


_SIZE_RE = re.compile(r"\s*(\d+)\s*(b|k|kib|m|mib)?\s*", re.IGNORECASE)
_SIZE_SCALE = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20}


def parse_size(text: str, *, name: str = "size") -> int:
    """Parse a byte count: ``"65536"``, ``"64K"`` / ``"64KiB"`` (x 1024), ``"1M"`` / ``"1MiB"``."""
    match = _SIZE_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(
            f"{name}: expected a size in bytes or with a K, KiB, M or MiB suffix "
            f"(e.g. 65536, 64K, 1MiB), got {text!r}"
        )
    return int(match.group(1)) * _SIZE_SCALE[(match.group(2) or "").lower()]


# Bounds of the native module's integer arguments (i64 counts, u64 addresses).
_I64_MAX = 2**63 - 1
_U64_MAX = 2**64 - 1


@dataclass(frozen=True)
class Memory:
    """The memory system around the array; ``None`` in its place means ideal memory.

    Args:
        ifmap_bytes, filter_bytes, ofmap_bytes: scratchpad capacities in bytes (both halves
            together when double buffered).
        ifmap_word_bytes, filter_word_bytes, ofmap_word_bytes: bytes per word (operands 1,
            int32 partial sums 4).
        double_buffer: each scratchpad has two halves; one feeds the array while the DMA engine
            fills the other, so a tile may use half of it.
        ifmap_banks, filter_banks: word-interleaved banks of the ifmap and filter buffers
            (0: as many as the array's vectors need, never a conflict).
        ifmap_ports, filter_ports: ports per bank, one word per cycle each.
        accumulator: the ofmap buffer keeps partial sums across K tiles; without it, an
            unfinished output tile's partial sums go to DRAM after each K tile and come back.
        output_bytes: bytes of one final output element written to DRAM (1: requantized int8).
        dram: the DRAM model, one of ``DRAM_MODELS`` (``"bandwidth"``: ``bandwidth`` bytes per
            cycle shared by reads and writes, plus ``latency`` cycles; a preset such as
            ``"ddr4-3200"``: the cycle-level controller and device of ``docs/dram.md``, clocked
            by its preset, with the accelerator at ``Accelerator.freq_mhz``).
        dram_mapping: the cycle-level DRAM's address mapping (``None``: the preset's default;
            valid names in ``accelsim.dram.DRAM_MAPPINGS``).
        bandwidth: DRAM bytes per accelerator cycle (``"bandwidth"`` model).
        latency: DRAM latency in accelerator cycles (``"bandwidth"`` model).
        ifmap_base, filter_base, ofmap_base: where each operand lives in DRAM (byte addresses).
        activation_layout: ``"nhwc"`` or ``"nchw"``, how convolution activations lie in DRAM
            (the DMA reads each ifmap tile's input windows, not im2col rows).
        mac_pj, sram_pj_per_byte_8kib, dram_read_pj_per_byte, dram_write_pj_per_byte: the
            energy table (picojoules, ``docs/energy.md``); ``None`` takes the core's default,
            resolved on construction so the dataclass always holds the figures used. With a
            cycle-level DRAM preset the DRAM's core energy comes from its statistics and the
            preset's IDD currents, and the per-byte figures stay ``None``; giving one makes the
            core energy that flat figure per byte instead.
        dram_io_read_pj_per_bit, dram_io_write_pj_per_bit: DRAM interface (I/O) energy per bit
            read and written, reported apart from the core energy; ``None`` takes the preset's
            figure (0 for the bandwidth model, whose per-byte figure includes the I/O).

    The native core (``_core.MemoryConfig``) validates every field; invalid values raise
    :class:`~accelsim.errors.ConfigError` naming the field.
    """

    ifmap_bytes: int = 256 << 10
    filter_bytes: int = 256 << 10
    ofmap_bytes: int = 256 << 10
    ifmap_word_bytes: int = 1
    filter_word_bytes: int = 1
    ofmap_word_bytes: int = 4
    double_buffer: bool = True
    ifmap_banks: int = 0
    filter_banks: int = 0
    ifmap_ports: int = 1
    filter_ports: int = 1
    accumulator: bool = True
    output_bytes: int = 1
    dram: str = "bandwidth"
    dram_mapping: str | None = None
    bandwidth: float = 16.0
    latency: int = 100
    ifmap_base: int = 0
    filter_base: int = 1 << 32
    ofmap_base: int = 2 << 32
    activation_layout: str = "nhwc"
    mac_pj: float | None = None
    sram_pj_per_byte_8kib: float | None = None
    dram_read_pj_per_byte: float | None = None
    dram_write_pj_per_byte: float | None = None
    dram_io_read_pj_per_bit: float | None = None
    dram_io_write_pj_per_bit: float | None = None

    def __post_init__(self) -> None:
        for name in _MEMORY_INT_FIELDS:
            value = _as_int(name, getattr(self, name))
            if name.endswith("_base"):
                if not 0 <= value <= _U64_MAX:
                    raise ConfigError(
                        f"{name} must be a byte address from 0 to 2**64 - 1, got {value}"
                    )
            elif name.endswith(("_banks", "_ports")):
                if not 0 <= value <= _INT_MAX:
                    raise ConfigError(f"{name} is out of range, got {value}")
            elif abs(value) > _I64_MAX:
                raise ConfigError(f"{name} is out of range, got {value}")
            object.__setattr__(self, name, value)
        for name in ("double_buffer", "accumulator"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, got {value!r}")
        if not isinstance(self.dram, str):
            raise ConfigError(
                f"dram must be a string, got {self.dram!r}; valid choices: {', '.join(DRAM_MODELS)}"
            )
        if not isinstance(self.activation_layout, str):
            raise ConfigError(
                f"activation_layout must be a string, got {self.activation_layout!r}; "
                "valid choices: nhwc, nchw"
            )
        if self.dram_mapping is not None and not isinstance(self.dram_mapping, str):
            raise ConfigError(f"dram_mapping must be a string or null, got {self.dram_mapping!r}")
        for name in ("bandwidth", *_ENERGY_FIELDS):
            value = getattr(self, name)
            if value is None and name != "bandwidth":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            object.__setattr__(self, name, float(value))
        resolved = self._native.to_dict()  # build (and so validate) the native config now
        # The core's canonical spelling of the model name ("Bandwidth" -> "bandwidth"), and
        # its default energies where none were given.
        object.__setattr__(self, "dram", resolved["dram"])
        object.__setattr__(self, "dram_mapping", resolved["dram_mapping"])
        object.__setattr__(self, "activation_layout", resolved["activation_layout"])
        for name in _ENERGY_FIELDS:
            if getattr(self, name) is None and resolved.get(name) is not None:
                object.__setattr__(self, name, float(resolved[name]))

    @cached_property
    def _native(self) -> _core.MemoryConfig:
        """The native ``MemoryConfig`` at the default clock (built once; all field validation
        happens here)."""
        return self.native(1000.0)

    def native(self, freq_mhz: float) -> _core.MemoryConfig:
        """The native ``MemoryConfig`` for an accelerator clocked at ``freq_mhz`` (the
        cycle-level DRAM converts between its clock and the accelerator's)."""
        try:
            fields = {name: getattr(self, name) for name in MEMORY_KEYS}
            return _core.MemoryConfig(**fields, freq_mhz=freq_mhz)
        except ConfigError as exc:
            raise ConfigError(f"memory: {exc}") from exc
        except (ValueError, TypeError, OverflowError) as exc:
            raise ConfigError(f"invalid memory configuration: {exc}") from exc

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_native"}

    def to_dict(self) -> dict[str, Any]:
        """Every field, in declaration order (JSON/TOML friendly)."""
        return {name: getattr(self, name) for name in MEMORY_KEYS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Memory:
        """Build from a mapping; missing keys take their defaults, unknown keys are an error.

        The buffer sizes may also be strings with a suffix (``"64K"``, ``"1MiB"``).
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"memory must be a table of fields, got {data!r}")
        _check_keys(data, MEMORY_KEYS, where="memory")
        fields = dict(data)
        for name in ("ifmap_bytes", "filter_bytes", "ofmap_bytes"):
            if isinstance(fields.get(name), str):
                fields[name] = parse_size(fields[name], name=name)
        return cls(**fields)


MEMORY_KEYS: tuple[str, ...] = (
    "ifmap_bytes",
    "filter_bytes",
    "ofmap_bytes",
    "ifmap_word_bytes",
    "filter_word_bytes",
    "ofmap_word_bytes",
    "double_buffer",
    "ifmap_banks",
    "filter_banks",
    "ifmap_ports",
    "filter_ports",
    "accumulator",
    "output_bytes",
    "dram",
    "dram_mapping",
    "bandwidth",
    "latency",
    "ifmap_base",
    "filter_base",
    "ofmap_base",
    "activation_layout",
    "mac_pj",
    "sram_pj_per_byte_8kib",
    "dram_read_pj_per_byte",
    "dram_write_pj_per_byte",
    "dram_io_read_pj_per_bit",
    "dram_io_write_pj_per_bit",
)
_ENERGY_FIELDS = (
    "mac_pj",
    "sram_pj_per_byte_8kib",
    "dram_read_pj_per_byte",
    "dram_write_pj_per_byte",
    "dram_io_read_pj_per_bit",
    "dram_io_write_pj_per_bit",
)
_MEMORY_INT_FIELDS = (
    "ifmap_bytes",
    "filter_bytes",
    "ofmap_bytes",
    "ifmap_word_bytes",
    "filter_word_bytes",
    "ofmap_word_bytes",
    "ifmap_banks",
    "filter_banks",
    "ifmap_ports",
    "filter_ports",
    "output_bytes",
    "latency",
    "ifmap_base",
    "filter_base",
    "ofmap_base",
)

VECTOR_KEYS: tuple[str, ...] = ("lanes", "latency", "cycles_per_element")
#: The classes of vector operations (``VectorUnit.cycles_per_element`` keys).
VECTOR_OP_CLASSES: tuple[str, ...] = tuple(_core.VECTOR_OP_CLASSES)


@dataclass(frozen=True)
class VectorUnit:
    """The vector unit beside the array, which runs the operations off the array (pooling,
    element-wise, activations, normalization, softmax, data movement); ``None`` in its place
    means those operations are counted but not modelled.

    Args:
        lanes: elements processed per issued vector.
        latency: pipeline stages: cycles from the last issue to the last result.
        cycles_per_element: cycles each lane-wide vector of a class occupies the unit, for the
            classes whose default (``_core.vector_op_catalog()``) you want to change; resolved
            on construction to every class of ``VECTOR_OP_CLASSES``.

    An operation of class ``c`` over ``e`` elements takes
    ``ceil(e / lanes) * cycles_per_element[c] + latency`` cycles (0 if that product is 0);
    vector operations and array layers run one after another (``docs/workloads.md``).
    """

    lanes: int = 32
    latency: int = 4
    cycles_per_element: Mapping[str, int] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("lanes", "latency"):
            value = _as_int(name, getattr(self, name))
            if not 0 <= value <= _INT_MAX:
                raise ConfigError(f"vector.{name} must be an integer from 0 to {_INT_MAX}")
            object.__setattr__(self, name, value)
        if not isinstance(self.cycles_per_element, Mapping):
            raise ConfigError(
                "vector.cycles_per_element must be a table of op class -> cycles, got "
                f"{self.cycles_per_element!r}; valid classes: {', '.join(VECTOR_OP_CLASSES)}"
            )
        given: dict[str, int] = {}
        for key, value in self.cycles_per_element.items():
            if key not in VECTOR_OP_CLASSES:
                hint = _did_you_mean(str(key), VECTOR_OP_CLASSES)
                raise ConfigError(
                    f"vector.cycles_per_element: unknown op class {key!r}; {hint}valid choices: "
                    f"{', '.join(VECTOR_OP_CLASSES)}"
                )
            number = _as_int(f"vector.cycles_per_element.{key}", value)
            if not 0 <= number <= _INT_MAX:
                raise ConfigError(
                    f"vector.cycles_per_element.{key} must be an integer from 0 to {_INT_MAX}, "
                    f"got {number}"
                )
            given[key] = number
        object.__setattr__(self, "cycles_per_element", given)
        resolved = self.native.cycles_per_element
        object.__setattr__(self, "cycles_per_element", dict(resolved))

    @cached_property
    def native(self) -> _core.VectorUnitConfig:
        """The native ``VectorUnitConfig``."""
        try:
            return _core.VectorUnitConfig(self.lanes, self.latency, dict(self.cycles_per_element))
        except ConfigError as exc:
            raise ConfigError(f"vector: {exc}") from exc

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "native"}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VectorUnit):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.lanes, self.latency, tuple(self.cycles_per_element.items())))

    def to_dict(self) -> dict[str, Any]:
        return {
            "lanes": self.lanes,
            "latency": self.latency,
            "cycles_per_element": dict(self.cycles_per_element),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VectorUnit:
        """Build from a mapping; missing keys take their defaults, unknown keys are an error."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"vector must be a table of fields, got {data!r}")
        _check_keys(data, VECTOR_KEYS, where="vector")
        return cls(**data)


def _input_shapes(value: object) -> dict[str, tuple[int, ...]]:
    """``{input name: dims}`` of an ONNX model's graph inputs, validated."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"input_shapes must be a table of input name -> dims, got {value!r}")
    out: dict[str, tuple[int, ...]] = {}
    for name, dims in value.items():
        if not isinstance(name, str) or not isinstance(dims, (list, tuple)) or not dims:
            raise ConfigError(
                f"input_shapes: expected input name -> list of dims, got {name!r}: {dims!r}"
            )
        shape = tuple(_as_int(f"input_shapes.{name}", d) for d in dims)
        if any(d < 1 for d in shape):
            raise ConfigError(f"input_shapes.{name}: every dim must be positive, got {shape}")
        out[name] = shape
    return out


TILING_KEYS: tuple[str, ...] = ("m", "k", "n", "order")


class Tiling(NamedTuple):
    """One layer's memory tiling: tiles of ``m x k x n`` (M_t, K_t, N_t) of each GEMM, visited
    in loop ``order`` (one of ``LOOP_ORDERS``, outermost loop first)."""

    m: int
    k: int
    n: int
    order: str

    def __str__(self) -> str:
        return f"{self.m}x{self.k}x{self.n} {self.order}"

    def to_dict(self) -> dict[str, Any]:
        return {"m": self.m, "k": self.k, "n": self.n, "order": self.order}

    @classmethod
    def of(cls, value: object, where: str = "tiling") -> Tiling:
        """A validated ``Tiling`` from a ``Tiling``, an ``(m, k, n, order)`` sequence or a
        ``{"m", "k", "n", "order"}`` mapping. Whether it fits the buffers is checked when a
        layer runs (only then are the layer and the memory known)."""
        if isinstance(value, Mapping):
            _check_keys(value, TILING_KEYS, where=f"{where}")
            missing = [key for key in TILING_KEYS if key not in value]
            if missing:
                raise ConfigError(
                    f"{where}: missing key {missing[0]!r}; a tiling has keys "
                    f'{", ".join(TILING_KEYS)}, e.g. {{"m": 128, "k": 147, "n": 64, '
                    f'"order": "mnk"}}'
                )
            items = [value[key] for key in TILING_KEYS]
        elif isinstance(value, (tuple, list)) and len(value) == 4:
            items = list(value)
        else:
            raise ConfigError(
                f"{where}: expected (m_t, k_t, n_t, order) or a table with keys "
                f"{', '.join(TILING_KEYS)}, got {value!r}"
            )
        dims = []
        for key, item in zip("mkn", items[:3], strict=True):
            dim = _as_int(f"{where}.{key}", item)
            if not 1 <= dim <= _I64_MAX:
                raise ConfigError(f"{where}.{key} must be a positive integer, got {dim}")
            dims.append(dim)
        order = items[3]
        canonical = order.strip().lower() if isinstance(order, str) else order
        if canonical not in LOOP_ORDERS:
            hint = _did_you_mean(order, LOOP_ORDERS) if isinstance(order, str) else ""
            raise ConfigError(
                f"{where}.order: unknown loop order {order!r}; {hint}"
                f"valid choices: {', '.join(LOOP_ORDERS)}"
            )
        return cls(dims[0], dims[1], dims[2], canonical)


def _tilings(value: object, where: str = "tilings") -> dict[str, Tiling]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where} must be a table of layer name -> tiling, got {type(value).__name__}"
        )
    out: dict[str, Tiling] = {}
    for name, tiling in value.items():
        if not isinstance(name, str):
            raise ConfigError(f"{where}: layer names must be strings, got {name!r}")
        out[name] = Tiling.of(tiling, f"{where}.{name}")
    return out


RUN_KEYS: tuple[str, ...] = (
    "model",
    "batch",
    "engine",
    "accelerator",
    "memory",
    "tilings",
    "vector",
    "input_shapes",
)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run: model, batch, engine, accelerator, memory, tilings.

    ``memory=None`` is ideal memory (every operand ready when asked). ``tilings`` maps layer
    names to the :class:`Tiling` to use with the memory system; layers not named get the
    default chooser's tiling. This is what a run directory's ``config.json`` holds (with the
    tiling of every layer); running it again reproduces the run's statistics exactly.
    """

    model: str
    batch: int = 1
    engine: str = "fast"
    accelerator: Accelerator = field(default_factory=Accelerator)
    memory: Memory | None = None
    tilings: Mapping[str, Tiling] = field(default_factory=dict, hash=False)
    #: The vector unit (``None``: vector ops are counted, not modelled).
    vector: VectorUnit | None = None
    #: Graph input shapes of an ONNX ``model`` (``{name: dims}``).
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.vector is not None and not isinstance(self.vector, VectorUnit):
            raise ConfigError(f"vector must be a VectorUnit or None, got {self.vector!r}")
        object.__setattr__(self, "input_shapes", _input_shapes(self.input_shapes))
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"model must be a non-empty string, got {self.model!r}")
        batch = _as_int("batch", self.batch)
        if batch < 1:
            raise ConfigError(f"batch must be a positive integer, got {batch}")
        object.__setattr__(self, "batch", batch)
        check_engine(self.engine)
        if not isinstance(self.accelerator, Accelerator):
            raise ConfigError(f"accelerator must be an Accelerator, got {self.accelerator!r}")
        check_memory(self.memory, self.engine)
        tilings = _tilings(self.tilings)
        if tilings and self.memory is None:
            raise ConfigError(_TILINGS_NEED_MEMORY)
        object.__setattr__(self, "tilings", tilings)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model,
            "batch": self.batch,
            "engine": self.engine,
            "accelerator": self.accelerator.to_dict(),
        }
        if self.memory is not None:
            data["memory"] = self.memory.to_dict()
        if self.tilings:
            data["tilings"] = {name: t.to_dict() for name, t in self.tilings.items()}
        if self.vector is not None:
            data["vector"] = self.vector.to_dict()
        if self.input_shapes:
            data["input_shapes"] = {name: list(dims) for name, dims in self.input_shapes.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Build from a mapping shaped like :meth:`to_dict`; unknown keys are an error."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a run configuration must be a table, got {data!r}")
        _check_keys(data, RUN_KEYS, where="config")
        if "model" not in data:
            raise ConfigError("config: missing key 'model' (a model name, see `accelsim models`)")
        acc = Accelerator.from_dict(data.get("accelerator", {}))
        memory = data.get("memory")
        return cls(
            model=data["model"],
            batch=data.get("batch", 1),
            engine=data.get("engine", "fast"),
            accelerator=acc,
            memory=None if memory is None else Memory.from_dict(memory),
            tilings=_tilings(data.get("tilings")),
            vector=None if data.get("vector") is None else VectorUnit.from_dict(data["vector"]),
            input_shapes=_input_shapes(data.get("input_shapes")),
        )


_TILINGS_NEED_MEMORY = (
    "tilings: per-layer tilings need a memory system (a memory table, or --sram, --bandwidth, "
    "--dram ...); with ideal memory nothing is tiled"
)


def check_memory(memory: object, engine: str) -> Memory | None:
    """Return ``memory`` if it is a ``Memory`` (or None) usable with ``engine``, else raise."""
    if memory is None:
        return None
    if not isinstance(memory, Memory):
        raise ConfigError(f"memory must be a Memory or None, got {type(memory).__name__}")
    if engine != "fast":
        raise ConfigError(
            f"engine: the memory system runs on engine 'fast' only; engine {engine!r} models "
            "ideal memory (drop the memory system or use --dram ideal); valid choices with "
            "memory: fast"
        )
    return memory


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
    memory = data.get("memory")
    if memory is not None:
        if not isinstance(memory, Mapping):
            raise ConfigError(f"config: 'memory' must be a table of fields, got {memory!r}")
        _check_keys(memory, MEMORY_KEYS, where="memory")
    _tilings(data.get("tilings"))
    vector = data.get("vector")
    if vector is not None:
        if not isinstance(vector, Mapping):
            raise ConfigError(f"config: 'vector' must be a table of fields, got {vector!r}")
        _check_keys(vector, VECTOR_KEYS, where="vector")
    _input_shapes(data.get("input_shapes"))
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
