"""SCALE-Sim topology CSVs, read the way SCALE-Sim 3.0.0 reads them (``topology_utils.py``).

Conv format, one layer per row after a header line: ``name, IFMAP height, IFMAP width, filter
height, filter width, channels, filters, stride,`` (the trailing comma matters: SCALE-Sim drops
every row's last field). GEMM format: ``name, M, N, K,``. Both may carry an ``N:M`` sparsity
ratio before the trailing comma, which SCALE-Sim ignores without ``SparsitySupport``.

Conventions kept: the first line is skipped whatever it holds, blank lines are skipped, the
stride applies to both directions, a conv row whose name contains ``DP`` is a depthwise
convolution split into one single-channel layer per channel (named ``<name>Channel_<i>``), and a
GEMM row ``M, N, K`` is the convolution ``M x K`` ifmap, ``1 x K`` filter, one channel, ``N``
filters. A malformed row is an error naming the file, the line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import WorkloadError

__all__ = ["INPUT_TYPES", "ScaleSimLayer", "read_topology"]

#: ``-i`` of SCALE-Sim's command line.
INPUT_TYPES = ("conv", "gemm")

_CONV_FIELDS = (
    "IFMAP Height",
    "IFMAP Width",
    "Filter Height",
    "Filter Width",
    "Channels",
    "Num Filter",
    "Strides",
)
_GEMM_FIELDS = ("M", "N", "K")


@dataclass(frozen=True)
class ScaleSimLayer:
    """One layer as SCALE-Sim simulates it: a convolution without padding.

    Output size ``ceil((H - R + S) / S)`` per direction; its GEMM is ``M = E_h * E_w`` output
    pixels, ``K = R * S * C`` window, ``N`` filters (:attr:`m`, :attr:`k`, :attr:`n`).
    """

    name: str
    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    filters: int
    stride_h: int
    stride_w: int

    def __post_init__(self) -> None:
        for field in (
            "ifmap_h",
            "ifmap_w",
            "filter_h",
            "filter_w",
            "channels",
            "filters",
            "stride_h",
            "stride_w",
        ):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WorkloadError(f"{field}: {value!r} must be a positive integer")
        if self.filter_h > self.ifmap_h:
            raise WorkloadError(
                f"filter_h: the filter height {self.filter_h} is larger than the IFMAP height "
                f"{self.ifmap_h}"
            )
        if self.filter_w > self.ifmap_w:
            raise WorkloadError(
                f"filter_w: the filter width {self.filter_w} is larger than the IFMAP width "
                f"{self.ifmap_w}"
            )

    @classmethod
    def gemm(cls, name: str, m: int, n: int, k: int) -> ScaleSimLayer:
        """SCALE-Sim's GEMM row: ``[M, K, 1, K, 1, N, 1, 1]`` as a convolution."""
        for field, value in (("M", m), ("N", n), ("K", k)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WorkloadError(f"{field}: {value!r} must be a positive integer")
        return cls(name, m, k, 1, k, 1, n, 1, 1)

    @property
    def ofmap_h(self) -> int:
        return -(-(self.ifmap_h - self.filter_h + self.stride_h) // self.stride_h)

    @property
    def ofmap_w(self) -> int:
        return -(-(self.ifmap_w - self.filter_w + self.stride_w) // self.stride_w)

    @property
    def m(self) -> int:
        return self.ofmap_h * self.ofmap_w

    @property
    def k(self) -> int:
        return self.filter_h * self.filter_w * self.channels

    @property
    def n(self) -> int:
        return self.filters

    @property
    def macs(self) -> int:
        return self.m * self.k * self.n

    def native(self) -> tuple[int, int, int, int, int, int, int, int]:
        return (
            self.ifmap_h,
            self.ifmap_w,
            self.filter_h,
            self.filter_w,
            self.channels,
            self.filters,
            self.stride_h,
            self.stride_w,
        )


def _fields(where: str, row: str, names: tuple[str, ...], form: str) -> list[str]:
    """The row's fields before its trailing comma: the named ones and an optional N:M."""
    parts = row.split(",")
    if parts[-1].strip():
        raise WorkloadError(
            f"{where}: the row does not end with a comma; SCALE-Sim drops every row's last "
            f"field, so its {parts[-1].strip()!r} would be lost. Expected {form}"
        )
    elems = parts[:-1]
    if not len(names) + 1 <= len(elems) <= len(names) + 2:
        raise WorkloadError(
            f"{where}: {len(elems)} fields; expected {form} (and optionally an N:M sparsity "
            "ratio before the trailing comma)"
        )
    if len(elems) == len(names) + 2:
        ratio = elems[-1].strip().split(":")
        if len(ratio) != 2 or not all(x.strip().lstrip("+").isdigit() for x in ratio):
            raise WorkloadError(
                f"{where}: field 'Sparsity': {elems[-1].strip()!r} is not an N:M ratio"
            )
    return elems


def _int(where: str, field: str, text: str) -> int:
    try:
        value = int(text.strip())  # SCALE-Sim: int(str(x).strip())
    except ValueError:
        raise WorkloadError(
            f"{where}: field {field!r}: {text.strip()!r} is not an integer"
        ) from None
    if value < 1:
        raise WorkloadError(f"{where}: field {field!r}: {value} must be a positive integer")
    return value


def read_topology(path: str | Path, input_type: str = "conv") -> tuple[ScaleSimLayer, ...]:
    """The layers of a SCALE-Sim topology file, ``input_type`` ``conv`` or ``gemm`` (its
    ``-i``), after SCALE-Sim's conventions (depthwise rows split per channel)."""
    if input_type not in INPUT_TYPES:
        raise WorkloadError(
            f"input_type: unknown value {input_type!r}; valid choices: {', '.join(INPUT_TYPES)}"
        )
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read the topology: {exc.strerror or exc}") from None
    names = _CONV_FIELDS if input_type == "conv" else _GEMM_FIELDS
    form = "name, " + ", ".join(names) + ","
    layers: list[ScaleSimLayer] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        row = raw.strip()
        if lineno == 1 or not row:
            continue  # the header, whatever it holds; blank lines
        where = f"{path}:{lineno}"
        elems = _fields(where, row, names, form)
        name = elems[0].strip()
        values = [_int(where, f, t) for f, t in zip(names, elems[1 : len(names) + 1], strict=True)]
        try:
            if input_type == "gemm":
                m, n, k = values
                layers.append(ScaleSimLayer.gemm(name, m, n, k))
            elif "DP" in name:
                h, w, fh, fw, c, nf, s = values
                layers.extend(
                    ScaleSimLayer(f"{name}Channel_{i}", h, w, fh, fw, 1, nf, s, s) for i in range(c)
                )
            else:
                h, w, fh, fw, c, nf, s = values
                layers.append(ScaleSimLayer(name, h, w, fh, fw, c, nf, s, s))
        except WorkloadError as exc:
            raise WorkloadError(f"{where}: layer {name!r}: {exc}") from None
    if not layers:
        raise WorkloadError(f"{path}: no layers (after the header line)")
    return tuple(layers)
