"""``Workload``: an ordered list of layers that run one after another."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import overload

from accelsim.errors import WorkloadError
from accelsim.workloads.layers import ConvLayer, GemmLayer, GemmShape, Layer

__all__ = ["Workload"]


@dataclass(frozen=True)
class Workload:
    """A named, ordered sequence of layers (``ConvLayer`` / ``GemmLayer``).

    Layers run one after another in this order. Layer names must be unique. Index by
    position (``wl[0]``) or by name (``wl["conv1"]``).
    """

    name: str
    layers: tuple[Layer, ...]

    def __init__(self, name: str, layers: Iterable[Layer]) -> None:
        if not isinstance(name, str) or not name:
            raise WorkloadError(f"a workload name must be a non-empty string, got {name!r}")
        items = tuple(layers)
        if not items:
            raise WorkloadError(f"workload {name!r} has no layers")
        seen: set[str] = set()
        for i, layer in enumerate(items):
            if not isinstance(layer, ConvLayer | GemmLayer):
                raise WorkloadError(
                    f"workload {name!r}: layers[{i}] must be a ConvLayer or GemmLayer, "
                    f"got {type(layer).__name__}"
                )
            if layer.name in seen:
                raise WorkloadError(f"workload {name!r}: duplicate layer name {layer.name!r}")
            seen.add(layer.name)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "layers", items)

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

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def total_weights(self) -> int:
        """Filter elements over all layers (biases and normalisation are not modelled)."""
        return sum(layer.weights for layer in self.layers)

    def gemm_shapes(self) -> list[GemmShape]:
        """``(m, k, n, groups)`` of every layer, in order."""
        return [layer.gemm() for layer in self.layers]
