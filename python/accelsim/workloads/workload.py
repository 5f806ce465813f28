"""``Workload``: an ordered list of operations that run one after another.

A workload holds the layers the array runs (:class:`ConvLayer`, :class:`GemmLayer`,
:class:`MatmulLayer`) and the operations off the array (:class:`VectorOp`), in program order.
Iterating, ``len`` and indexing see the array layers (what the simulator runs and most code
wants); :attr:`Workload.ops` is the whole ordered list and :attr:`Workload.vector_ops` the ops
off the array.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from accelsim.errors import WorkloadError
from accelsim.workloads.layers import ConvLayer, GemmLayer, GemmShape, Layer, Op, VectorOp

__all__ = ["SCALESIM_HEADER", "Workload"]

#: The header of a SCALE-Sim convolution topology file.
SCALESIM_HEADER = (
    "Layer name",
    "IFMAP Height",
    "IFMAP Width",
    "Filter Height",
    "Filter Width",
    "Channels",
    "Num Filter",
    "Strides",
)


@dataclass(frozen=True)
class Workload:
    """A named, ordered sequence of operations: array layers and vector ops.

    Build one from any mix of :class:`ConvLayer`, :class:`GemmLayer`, :class:`MatmulLayer` and
    :class:`VectorOp`, in the order they run; names must be unique. Iteration, ``len`` and
    indexing (by position, ``wl[0]``, or by name, ``wl["conv1"]``) cover the array layers;
    ``ops`` holds everything in order, ``vector_ops`` the operations off the array.
    """

    name: str
    layers: tuple[Layer, ...]
    ops: tuple[Op, ...]

    def __init__(self, name: str, layers: Iterable[Op]) -> None:
        if not isinstance(name, str) or not name:
            raise WorkloadError(f"a workload name must be a non-empty string, got {name!r}")
        items = tuple(layers)
        if not items:
            raise WorkloadError(f"workload {name!r} has no layers")
        seen: set[str] = set()
        for i, layer in enumerate(items):
            if not isinstance(layer, ConvLayer | GemmLayer | VectorOp):
                raise WorkloadError(
                    f"workload {name!r}: layers[{i}] must be a ConvLayer or GemmLayer "
                    f"(or a MatmulLayer or VectorOp), got {type(layer).__name__}"
                )
            if layer.name in seen:
                raise WorkloadError(f"workload {name!r}: duplicate layer name {layer.name!r}")
            seen.add(layer.name)
        array = tuple(op for op in items if not isinstance(op, VectorOp))
        if not array:
            raise WorkloadError(
                f"workload {name!r} has no layers for the array (conv, gemm or matmul), "
                f"only {len(items)} vector op(s)"
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "layers", array)
        object.__setattr__(self, "ops", items)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @overload
    def __getitem__(self, key: int) -> Layer: ...
    @overload
    def __getitem__(self, key: str) -> Layer: ...
    def __getitem__(self, key: int | str) -> Layer:
        if isinstance(key, str):
            for layer in self.layers:
                if layer.name == key:
                    return layer
            raise KeyError(f"workload {self.name!r} has no layer named {key!r}")
        return self.layers[key]

    def op(self, name: str) -> Op:
        """Any operation (array layer or vector op) by name."""
        for op in self.ops:
            if op.name == name:
                return op
        raise KeyError(f"workload {self.name!r} has no op named {name!r}")

    @property
    def vector_ops(self) -> tuple[VectorOp, ...]:
        """The operations off the array, in order."""
        return tuple(op for op in self.ops if isinstance(op, VectorOp))

    def vector_ops_after(self) -> list[tuple[VectorOp, str | None]]:
        """Each vector op with the name of the array layer it follows (``None``: it runs
        before the first array layer)."""
        out: list[tuple[VectorOp, str | None]] = []
        last: str | None = None
        for op in self.ops:
            if isinstance(op, VectorOp):
                out.append((op, last))
            else:
                last = op.name
        return out

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def total_weights(self) -> int:
        """Filter elements over all array layers (see :attr:`total_params` for every
        parameter)."""
        return sum(layer.weights for layer in self.layers)

    @property
    def total_params(self) -> int:
        """Every parameter: filters, biases, and what vector ops own (normalization scales and
        shifts, embedding tables)."""
        return sum(op.params for op in self.ops)

    @property
    def total_vector_elements(self) -> int:
        """Elements processed by the vector ops whose count is known."""
        return sum(op.elements or 0 for op in self.vector_ops)

    def gemm_shapes(self) -> list[GemmShape]:
        """``(m, k, n, groups)`` of every array layer, in order."""
        return [layer.gemm() for layer in self.layers]

    def scalesim_rows(self) -> list[tuple[str, int, int, int, int, int, int, int]]:
        """The rows of :meth:`to_scalesim_csv`: ``(name, ifmap_h, ifmap_w, filter_h, filter_w,
        channels, filters, stride)``.

        SCALE-Sim has no padding, groups, batch or dilation, so: a convolution's ifmap size
        is written with its padding included (``h + pad_top + pad_bottom``), which gives the
        same output size and MACs; a grouped convolution becomes one row per group
        (``name.g<i>``, ``c/groups`` channels, ``k/groups`` filters); a batch of ``n`` images
        becomes one row per image (``name.n<j>``); a GEMM ``[M, K] @ [K, N]`` is a 1x1
        convolution over an ``M x 1`` ifmap with ``K`` channels and ``N`` filters. Vector ops
        are not written. A convolution with dilation or with different strides along h and w
        cannot be written and raises :class:`WorkloadError` naming it.
        """
        rows: list[tuple[str, int, int, int, int, int, int, int]] = []
        for layer in self.layers:
            if isinstance(layer, ConvLayer):
                sh, sw = layer.stride_hw
                if layer.dilation_hw != (1, 1):
                    raise WorkloadError(
                        f"layer {layer.name!r}: SCALE-Sim topologies have no dilation, "
                        f"got dilation={layer.dilation_hw}"
                    )
                if sh != sw:
                    raise WorkloadError(
                        f"layer {layer.name!r}: SCALE-Sim topologies have one stride, "
                        f"got stride={layer.stride_hw}"
                    )
                base = (
                    layer.padded_h,
                    layer.padded_w,
                    layer.r,
                    layer.s,
                    layer.c // layer.groups,
                    layer.k // layer.groups,
                    sh,
                )
                copies, groups = layer.n, layer.groups
            else:
                base = (layer.m, 1, 1, 1, layer.k, layer.n, 1)
                copies, groups = 1, layer.groups
            for j in range(copies):
                for g in range(groups):
                    name = layer.name
                    if copies > 1:
                        name += f".n{j}"
                    if groups > 1:
                        name += f".g{g}"
                    rows.append((name, *base))
        return rows

    def to_scalesim_csv(self, path: str | Path | None = None) -> str:
        """The array layers as a SCALE-Sim convolution topology (``SCALESIM_HEADER`` then one
        row per layer, each line ending in a comma as SCALE-Sim's own files do). Writes
        ``path`` if given; returns the text. See :meth:`scalesim_rows` for how padding,
        groups, batch and GEMMs are written."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*SCALESIM_HEADER, ""])
        for row in self.scalesim_rows():
            writer.writerow([*row, ""])
        text = buffer.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8", newline="")
        return text
