"""Model zoo: layer tables of well-known networks, built from their architecture.

Every builder takes the batch size and returns a :class:`~accelsim.workloads.Workload` whose
layer names and order follow the reference implementation's modules (torchvision for the
ResNets). Only matrix work is listed: pooling, normalisation, activations and residual adds
are vector operations and are not modelled (their effect on the ifmap size is applied).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from accelsim.errors import WorkloadError
from accelsim.workloads.layers import ConvLayer, GemmLayer, Layer
from accelsim.workloads.workload import Workload

__all__ = ["MODELS", "ModelBuilder", "get_model", "model_names", "register_model"]

ModelBuilder = Callable[[int], Workload]

#: Registry of model builders by name: ``MODELS[name](batch) -> Workload``.
MODELS: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator adding a builder to :data:`MODELS` under ``name``."""

    def add(builder: ModelBuilder) -> ModelBuilder:
        if name in MODELS:
            raise ValueError(f"model {name!r} is already registered")
        MODELS[name] = builder
        return builder

    return add


def model_names() -> list[str]:
    return sorted(MODELS)


def get_model(name: str, batch: int = 1) -> Workload:
    """The layer table of model ``name`` at batch size ``batch``."""
    builder = MODELS.get(name)
    if builder is None:
        names = model_names()
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise WorkloadError(
            f"model: unknown model {name!r}; {hint}valid choices: {', '.join(names)}"
        )
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise WorkloadError(f"batch must be a positive integer, got {batch!r}")
    return builder(batch)


def _window_out(size: int, kernel: int, stride: int, pad: int) -> int:
    """Output size of a sliding window (used for the pooling layers we do not model)."""
    return (size + 2 * pad - kernel) // stride + 1


def _resnet_basic(name: str, blocks_per_stage: tuple[int, ...], batch: int) -> Workload:
    """torchvision's ResNet with BasicBlocks (two 3x3 convs) at 224x224, 1000 classes."""
    layers: list[Layer] = []
    conv1 = ConvLayer("conv1", batch, 3, 64, 224, 224, 7, 7, stride=2, pad=3)
    layers.append(conv1)
    # maxpool 3x3, stride 2, pad 1 (not modelled)
    h = _window_out(conv1.p, 3, 2, 1)
    w = _window_out(conv1.q, 3, 2, 1)
    in_ch = 64
    for stage, (planes, blocks) in enumerate(
        zip((64, 128, 256, 512), blocks_per_stage, strict=True), 1
    ):
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            prefix = f"layer{stage}.{block}"
            a = ConvLayer(f"{prefix}.conv1", batch, in_ch, planes, h, w, 3, 3, stride, pad=1)
            b = ConvLayer(f"{prefix}.conv2", batch, planes, planes, a.p, a.q, 3, 3, 1, pad=1)
            layers += [a, b]
            if stride != 1 or in_ch != planes:
                layers.append(
                    ConvLayer(f"{prefix}.downsample.0", batch, in_ch, planes, h, w, 1, 1, stride)
                )
            in_ch, h, w = planes, b.p, b.q
    # adaptive avgpool to 1x1 (not modelled), then the classifier
    layers.append(GemmLayer("fc", batch, in_ch, 1000))
    return Workload(name, layers)


@register_model("resnet18")
def resnet18(batch: int = 1) -> Workload:
    """ResNet-18 (torchvision), 224x224 input: 20 convolutions and the fc layer."""
    return _resnet_basic("resnet18", (2, 2, 2, 2), batch)
