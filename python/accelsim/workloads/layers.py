"""Layer shapes and their GEMM view.

A systolic array runs matrix multiplications, so every layer is reduced to ``groups``
independent GEMMs ``ofmap[M, N] = ifmap[M, K] @ filter[K, N]``:

* :class:`GemmLayer` is a GEMM already (fully connected layers, attention projections).
* :class:`ConvLayer` is lowered by im2col: ``M = N * P * Q`` (one row per output pixel),
  ``K = (C / groups) * R * S`` (one column per filter tap), ``N = K_filters / groups``.

A grouped or depthwise convolution stays ONE layer with ``groups = G``; the engines run its
``G`` GEMMs back to back.

* :class:`MatmulLayer` is a GEMM whose operands are both activations (attention's ``Q @ K^T``
  and ``P @ V``): the same work on the array, but no parameters.
* :class:`VectorOp` is an operation off the array (pooling, element-wise, activations,
  normalization, softmax, data movement): it counts elements, not MACs, and is costed on the
  vector unit when the accelerator has one (``docs/workloads.md``).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from accelsim import _core
from accelsim.errors import WorkloadError

__all__ = [
    "VECTOR_OP_CLASSES",
    "ConvLayer",
    "GemmLayer",
    "GemmShape",
    "Layer",
    "MatmulLayer",
    "Op",
    "VectorOp",
]

#: The classes of vector operations, as the native core declares them (``docs/workloads.md``).
VECTOR_OP_CLASSES: tuple[str, ...] = tuple(_core.VECTOR_OP_CLASSES)


class GemmShape(NamedTuple):
    """``groups`` GEMMs of ``[M, K] @ [K, N]`` (a plain tuple ``(m, k, n, groups)``)."""

    m: int
    k: int
    n: int
    groups: int

    @property
    def macs(self) -> int:
        return self.m * self.k * self.n * self.groups


def _int(layer: str, name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool):
        raise WorkloadError(f"layer {layer!r}: {name} must be an integer, got {value!r}")
    try:
        ivalue = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise WorkloadError(f"layer {layer!r}: {name} must be an integer, got {value!r}") from None
    if ivalue < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise WorkloadError(f"layer {layer!r}: {name} must be {kind}, got {ivalue}")
    return ivalue


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise WorkloadError(f"a layer name must be a non-empty string, got {name!r}")
    return name


def _pair(layer: str, name: str, value: object, *, minimum: int) -> tuple[int, int]:
    """An ``int`` or an ``(h, w)`` pair, as ``(h, w)``."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise WorkloadError(
                f"layer {layer!r}: {name} must be an int or an (h, w) pair, got {value!r}"
            )
        return (
            _int(layer, f"{name}[0]", value[0], minimum=minimum),
            _int(layer, f"{name}[1]", value[1], minimum=minimum),
        )
    v = _int(layer, name, value, minimum=minimum)
    return (v, v)


def _padding(layer: str, value: object) -> tuple[int, int, int, int]:
    """``int``, ``(h, w)`` or ``(top, bottom, left, right)`` as ``(top, bottom, left, right)``."""
    if isinstance(value, tuple | list) and len(value) == 4:
        top, bottom, left, right = (
            _int(layer, f"pad[{i}]", v, minimum=0) for i, v in enumerate(value)
        )
        return (top, bottom, left, right)
    if isinstance(value, tuple | list) and len(value) != 2:
        raise WorkloadError(
            f"layer {layer!r}: pad must be an int, (h, w) or (top, bottom, left, right), "
            f"got {value!r}"
        )
    ph, pw = _pair(layer, "pad", value, minimum=0)
    return (ph, ph, pw, pw)


def _bias(layer: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise WorkloadError(f"layer {layer!r}: bias must be True or False, got {value!r}")
    return value


@dataclass(frozen=True)
class GemmLayer:
    """``groups`` GEMMs ``ofmap[M, N] = ifmap[M, K] @ filter[K, N]`` with ``filter`` a
    parameter (a fully connected layer); ``bias`` adds ``N * groups`` parameters (the bias is
    added as the accumulator starts, no separate operation)."""

    name: str
    m: int
    k: int
    n: int
    groups: int = 1
    bias: bool = False

    def __post_init__(self) -> None:
        name = _check_name(self.name)
        for attr in ("m", "k", "n", "groups"):
            object.__setattr__(self, attr, _int(name, attr, getattr(self, attr), minimum=1))
        _bias(name, self.bias)

    kind = "gemm"

    def gemm(self) -> GemmShape:
        return GemmShape(self.m, self.k, self.n, self.groups)

    @property
    def macs(self) -> int:
        """Multiply-accumulates: ``M * K * N * groups``."""
        return self.m * self.k * self.n * self.groups

    @property
    def weights(self) -> int:
        """Filter elements: ``K * N * groups``."""
        return self.k * self.n * self.groups

    @property
    def params(self) -> int:
        """Parameters: filter elements plus the bias (``N * groups``) if any."""
        return self.weights + (self.n * self.groups if self.bias else 0)


@dataclass(frozen=True)
class MatmulLayer(GemmLayer):
    """``groups`` GEMMs ``[M, K] @ [K, N]`` of two activations (``Q @ K^T``, ``P @ V``): run
    exactly like a :class:`GemmLayer`, but neither operand is a parameter."""

    kind = "matmul"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bias:
            raise WorkloadError(
                f"layer {self.name!r}: a matmul of two activations has no bias; use a GemmLayer"
            )

    @property
    def weights(self) -> int:
        """0: both operands are activations."""
        return 0

    @property
    def params(self) -> int:
        return 0


@dataclass(frozen=True)
class ConvLayer:
    """A 2-D convolution in the usual ``N C K P Q R S`` notation.

    Args:
        name: layer name (unique within a workload).
        n: batch size. c: input channels. k: output channels (filters).
        h, w: ifmap height and width (before padding).
        r, s: filter height and width.
        stride: ``int`` or ``(h, w)``.
        pad: ``int``, ``(h, w)`` or ``(top, bottom, left, right)``.
        dilation: ``int`` or ``(h, w)``.
        groups: ``c`` and ``k`` must both divide by it (``groups == c == k`` is depthwise).
        bias: the layer has a bias (``k`` more parameters, added as the accumulator starts).

    A 1-D convolution is ``h = r = 1``.

    ``stride``, ``pad`` and ``dilation`` are normalised on construction to ``(h, w)``,
    ``(top, bottom, left, right)`` and ``(h, w)`` tuples.
    """

    name: str
    n: int
    c: int
    k: int
    h: int
    w: int
    r: int
    s: int
    stride: int | tuple[int, int] = 1
    pad: int | tuple[int, int] | tuple[int, int, int, int] = 0
    dilation: int | tuple[int, int] = 1
    groups: int = 1
    bias: bool = False

    kind = "conv"

    def __post_init__(self) -> None:
        name = _check_name(self.name)
        for attr in ("n", "c", "k", "h", "w", "r", "s", "groups"):
            object.__setattr__(self, attr, _int(name, attr, getattr(self, attr), minimum=1))
        _bias(name, self.bias)
        object.__setattr__(self, "stride", _pair(name, "stride", self.stride, minimum=1))
        object.__setattr__(self, "dilation", _pair(name, "dilation", self.dilation, minimum=1))
        object.__setattr__(self, "pad", _padding(name, self.pad))
        if self.c % self.groups or self.k % self.groups:
            raise WorkloadError(
                f"layer {name!r}: groups={self.groups} must divide both c={self.c} "
                f"(input channels) and k={self.k} (filters)"
            )
        for dim, size, padded, extent in (
            ("h", self.h, self.h + self.pad_top + self.pad_bottom, self.dilated_r),
            ("w", self.w, self.w + self.pad_left + self.pad_right, self.dilated_s),
        ):
            if padded < extent:
                taps = "r" if dim == "h" else "s"
                raise WorkloadError(
                    f"layer {name!r}: the filter spans {extent} along {dim} "
                    f"({taps} with dilation) but the padded ifmap is only {padded} "
                    f"({dim}={size} plus padding)"
                )

    # Normalised views (the fields hold tuples after __post_init__).
    @property
    def stride_hw(self) -> tuple[int, int]:
        return _pair(self.name, "stride", self.stride, minimum=1)

    @property
    def dilation_hw(self) -> tuple[int, int]:
        return _pair(self.name, "dilation", self.dilation, minimum=1)

    @property
    def padding(self) -> tuple[int, int, int, int]:
        """``(top, bottom, left, right)``."""
        return _padding(self.name, self.pad)

    @property
    def pad_top(self) -> int:
        return self.padding[0]

    @property
    def pad_bottom(self) -> int:
        return self.padding[1]

    @property
    def pad_left(self) -> int:
        return self.padding[2]

    @property
    def pad_right(self) -> int:
        return self.padding[3]

    @property
    def dilated_r(self) -> int:
        """Rows of ifmap one filter window spans: ``dilation_h * (R - 1) + 1``."""
        return self.dilation_hw[0] * (self.r - 1) + 1

    @property
    def dilated_s(self) -> int:
        """Columns of ifmap one filter window spans: ``dilation_w * (S - 1) + 1``."""
        return self.dilation_hw[1] * (self.s - 1) + 1

    @property
    def p(self) -> int:
        """Output height: ``floor((H + pad_top + pad_bottom - dil_h*(R-1) - 1) / stride_h) + 1``."""
        return (self.h + self.pad_top + self.pad_bottom - self.dilated_r) // self.stride_hw[0] + 1

    @property
    def q(self) -> int:
        """Output width: ``floor((W + pad_left + pad_right - dil_w*(S-1) - 1) / stride_w) + 1``."""
        return (self.w + self.pad_left + self.pad_right - self.dilated_s) // self.stride_hw[1] + 1

    def gemm(self) -> GemmShape:
        """The im2col GEMM: ``(N*P*Q, (C/groups)*R*S, K/groups, groups)``."""
        return GemmShape(
            self.n * self.p * self.q,
            (self.c // self.groups) * self.r * self.s,
            self.k // self.groups,
            self.groups,
        )

    @property
    def macs(self) -> int:
        """Multiply-accumulates: ``N * P * Q * (C/groups) * R * S * K``."""
        return self.gemm().macs

    @property
    def weights(self) -> int:
        """Filter elements: ``K * (C/groups) * R * S``."""
        shape = self.gemm()
        return shape.k * shape.n * shape.groups

    @property
    def params(self) -> int:
        """Parameters: filter elements plus the bias (``k``) if any."""
        return self.weights + (self.k if self.bias else 0)

    @property
    def padded_h(self) -> int:
        """ifmap height with its padding: ``h + pad_top + pad_bottom``."""
        return self.h + self.pad_top + self.pad_bottom

    @property
    def padded_w(self) -> int:
        """ifmap width with its padding: ``w + pad_left + pad_right``."""
        return self.w + self.pad_left + self.pad_right


@dataclass(frozen=True)
class VectorOp:
    """An operation off the array: it processes ``elements`` elements on the vector unit.

    Args:
        name: unique within a workload.
        op: what it is (an ONNX operator name such as ``"Relu"``, ``"MaxPool"``, ``"Softmax"``).
        op_class: its cost class, one of :data:`VECTOR_OP_CLASSES`.
        elements: elements processed (``docs/workloads.md`` says what counts per class), or
            ``None`` when the importer could not tell (reported, never costed).
        params: parameters the op owns (a normalization's scale and shift, an embedding table).
    """

    name: str
    op: str
    op_class: str
    elements: int | None
    params: int = 0

    kind = "vector"

    def __post_init__(self) -> None:
        name = _check_name(self.name)
        if not isinstance(self.op, str) or not self.op:
            raise WorkloadError(f"layer {name!r}: op must be a non-empty string, got {self.op!r}")
        if not isinstance(self.op_class, str) or self.op_class not in VECTOR_OP_CLASSES:
            raise WorkloadError(
                f"layer {name!r}: unknown op_class {self.op_class!r}; valid choices: "
                f"{', '.join(VECTOR_OP_CLASSES)}"
            )
        if self.elements is not None:
            object.__setattr__(self, "elements", _int(name, "elements", self.elements, minimum=0))
        object.__setattr__(self, "params", _int(name, "params", self.params, minimum=0))

    @property
    def macs(self) -> int:
        """0: no matrix work."""
        return 0

    @property
    def weights(self) -> int:
        """0: no filter on the array (parameters it owns are in :attr:`params`)."""
        return 0


Layer: TypeAlias = ConvLayer | GemmLayer
"""A layer the systolic array runs (:class:`MatmulLayer` is a :class:`GemmLayer`)."""

Op: TypeAlias = ConvLayer | GemmLayer | VectorOp
"""Anything a :class:`~accelsim.workloads.Workload` holds: an array layer or a vector op."""
