"""Layer shapes, their GEMM view and the model zoo (no simulation)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from accelsim.errors import AccelsimError, WorkloadError
from accelsim.workloads import MODELS, ConvLayer, GemmLayer, Workload, get_model

RESNET18_MACS = 1_814_073_344

# torchvision.models.resnet18(): named_modules() filtered to Conv2d / Linear, in module order.
RESNET18_NAMES = [
    "conv1",
    "layer1.0.conv1",
    "layer1.0.conv2",
    "layer1.1.conv1",
    "layer1.1.conv2",
    "layer2.0.conv1",
    "layer2.0.conv2",
    "layer2.0.downsample.0",
    "layer2.1.conv1",
    "layer2.1.conv2",
    "layer3.0.conv1",
    "layer3.0.conv2",
    "layer3.0.downsample.0",
    "layer3.1.conv1",
    "layer3.1.conv2",
    "layer4.0.conv1",
    "layer4.0.conv2",
    "layer4.0.downsample.0",
    "layer4.1.conv1",
    "layer4.1.conv2",
    "fc",
]


def brute_force_out(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, dil: int) -> int:
    """Count the window positions that fit in the padded input, one by one."""
    count = 0
    start = -pad_lo
    while start + dil * (kernel - 1) <= size - 1 + pad_hi:
        count += 1
        start += stride
    return count


# ---- resnet18 ---------------------------------------------------------------------------------


def test_resnet18_layer_table() -> None:
    wl = get_model("resnet18")
    assert wl.name == "resnet18"
    assert len(wl) == 21
    assert [layer.name for layer in wl] == RESNET18_NAMES
    assert wl.total_macs == RESNET18_MACS
    assert sum(m * k * n * g for m, k, n, g in wl.gemm_shapes()) == RESNET18_MACS
    assert sum(1 for layer in wl if isinstance(layer, ConvLayer)) == 20
    assert isinstance(wl[-1], GemmLayer)


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("conv1", (12544, 147, 64, 1)),  # 112*112, 3*7*7, 64
        ("layer1.0.conv1", (3136, 576, 64, 1)),  # 56*56, 64*3*3
        ("layer2.0.conv1", (784, 576, 128, 1)),  # stride 2: 28*28
        ("layer2.0.conv2", (784, 1152, 128, 1)),
        ("layer2.0.downsample.0", (784, 64, 128, 1)),  # 1x1 stride 2
        ("layer3.0.downsample.0", (196, 128, 256, 1)),
        ("layer4.0.downsample.0", (49, 256, 512, 1)),
        ("layer4.1.conv2", (49, 4608, 512, 1)),
        ("fc", (1, 512, 1000, 1)),
    ],
)
def test_resnet18_layer_shapes(name: str, shape: tuple[int, int, int, int]) -> None:
    assert get_model("resnet18")[name].gemm() == shape


def test_resnet18_conv1_geometry() -> None:
    conv1 = get_model("resnet18")["conv1"]
    assert isinstance(conv1, ConvLayer)
    assert (conv1.n, conv1.c, conv1.k, conv1.h, conv1.w, conv1.r, conv1.s) == (
        1,
        3,
        64,
        224,
        224,
        7,
        7,
    )
    assert conv1.stride == (2, 2)
    assert conv1.pad == (3, 3, 3, 3)
    assert (conv1.p, conv1.q) == (112, 112)
    assert conv1.macs == 118_013_952


def test_resnet18_batch_scales_m() -> None:
    wl1, wl4 = get_model("resnet18"), get_model("resnet18", batch=4)
    assert len(wl4) == 21
    assert wl4.total_macs == 4 * RESNET18_MACS
    for one, four in zip(wl1.gemm_shapes(), wl4.gemm_shapes(), strict=True):
        assert four == (4 * one.m, one.k, one.n, one.groups)


def test_zoo_registry() -> None:
    assert "resnet18" in MODELS
    assert MODELS["resnet18"](1) == get_model("resnet18")


def test_unknown_model_names_valid_choices() -> None:
    with pytest.raises(WorkloadError) as info:
        get_model("resnet81")
    message = str(info.value)
    assert "'resnet81'" in message
    assert "did you mean 'resnet18'" in message
    assert "resnet18" in message.split("valid choices:")[1]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, AccelsimError)


@pytest.mark.parametrize("batch", [0, -1, True, 1.5])
def test_bad_batch(batch: object) -> None:
    with pytest.raises(WorkloadError, match="batch"):
        get_model("resnet18", batch=batch)  # type: ignore[arg-type]


# ---- convolution arithmetic -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "pq"),
    [
        (dict(h=5, w=5, r=3, s=3), (3, 3)),  # valid conv, no padding
        (dict(h=5, w=5, r=3, s=3, pad=1), (5, 5)),  # "same"
        (dict(h=7, w=7, r=3, s=3, stride=2, pad=1), (4, 4)),  # floor((7+2-3)/2)+1
        (dict(h=8, w=8, r=3, s=3, stride=2, pad=1), (4, 4)),  # floor((8+2-3)/2)+1 = 4
        (dict(h=7, w=7, r=3, s=3, dilation=2), (3, 3)),  # span 5
        (dict(h=4, w=4, r=3, s=3, pad=(1, 0, 2, 0)), (3, 4)),  # top, bottom, left, right
        (dict(h=4, w=6, r=3, s=3, pad=(1, 2)), (4, 8)),  # (h, w) padding
        (dict(h=10, w=6, r=3, s=1, stride=(3, 2)), (3, 3)),
        (dict(h=224, w=224, r=7, s=7, stride=2, pad=3), (112, 112)),
        (dict(h=1, w=1, r=1, s=1), (1, 1)),
    ],
)
def test_output_size_hand_computed(kwargs: dict[str, object], pq: tuple[int, int]) -> None:
    layer = ConvLayer("x", n=1, c=4, k=8, **kwargs)  # type: ignore[arg-type]
    assert (layer.p, layer.q) == pq


# Every small case whose dilated filter fits in the padded input.
WINDOW_CASES = [
    (size, kernel, stride, lo, hi, dil)
    for size, kernel, stride, lo, hi, dil in itertools.product(
        (1, 5, 8, 13), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (0, 3), (1, 2)
    )
    if size + lo + hi >= dil * (kernel - 1) + 1
]


@pytest.mark.parametrize(("size", "kernel", "stride", "pad_lo", "pad_hi", "dil"), WINDOW_CASES)
def test_output_size_matches_brute_force(
    size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, dil: int
) -> None:
    layer = ConvLayer(
        "x",
        n=1,
        c=1,
        k=1,
        h=size,
        w=size,
        r=kernel,
        s=kernel,
        stride=stride,
        pad=(pad_lo, pad_hi, pad_hi, pad_lo),
        dilation=dil,
    )
    assert layer.p == brute_force_out(size, kernel, stride, pad_lo, pad_hi, dil)
    assert layer.q == brute_force_out(size, kernel, stride, pad_hi, pad_lo, dil)


def test_gemm_view_is_im2col() -> None:
    layer = ConvLayer("x", n=2, c=6, k=10, h=9, w=11, r=3, s=5, stride=(2, 1), pad=(1, 2))
    assert (layer.p, layer.q) == (5, 11)  # (9+2-3)//2+1, (11+4-5)//1+1
    m, k, n, groups = layer.gemm()
    assert (m, k, n, groups) == (2 * 5 * 11, 6 * 3 * 5, 10, 1)
    assert layer.macs == m * k * n
    assert layer.weights == 10 * 6 * 3 * 5


def test_normalised_forms_compare_equal() -> None:
    a = ConvLayer("x", 1, 4, 4, 8, 8, 3, 3, stride=1, pad=1, dilation=1)
    b = ConvLayer("x", 1, 4, 4, 8, 8, 3, 3, stride=(1, 1), pad=(1, 1, 1, 1), dilation=(1, 1))
    c = ConvLayer("x", 1, 4, 4, 8, 8, 3, 3, pad=[1, 1])  # type: ignore[arg-type]
    assert a == b == c
    assert a.stride == (1, 1) and a.pad == (1, 1, 1, 1) and a.dilation == (1, 1)
    assert (a.pad_top, a.pad_bottom, a.pad_left, a.pad_right) == (1, 1, 1, 1)


def test_layers_are_frozen() -> None:
    layer = ConvLayer("x", 1, 4, 4, 8, 8, 3, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        layer.k = 8  # type: ignore[misc]


# ---- grouped and depthwise convolutions -----------------------------------------------------


def test_grouped_conv_is_one_layer() -> None:
    layer = ConvLayer("g", n=1, c=64, k=128, h=28, w=28, r=3, s=3, pad=1, groups=4)
    assert layer.gemm() == (28 * 28, 16 * 3 * 3, 32, 4)
    dense = ConvLayer("d", n=1, c=64, k=128, h=28, w=28, r=3, s=3, pad=1)
    assert layer.macs * 4 == dense.macs
    wl = Workload("net", [layer])
    assert len(wl) == 1
    assert wl.gemm_shapes() == [(784, 144, 32, 4)]
    assert wl.total_macs == 784 * 144 * 32 * 4


def test_depthwise_conv_is_one_layer() -> None:
    layer = ConvLayer("dw", n=1, c=32, k=32, h=56, w=56, r=3, s=3, pad=1, groups=32)
    assert layer.gemm() == (56 * 56, 9, 1, 32)
    assert layer.macs == 56 * 56 * 9 * 32
    assert layer.weights == 32 * 9
    assert len(Workload("mobile", [layer])) == 1


@pytest.mark.parametrize(("c", "k", "groups"), [(6, 8, 4), (8, 6, 4), (3, 3, 2)])
def test_groups_must_divide_channels(c: int, k: int, groups: int) -> None:
    with pytest.raises(WorkloadError, match=rf"groups={groups} must divide both c={c}"):
        ConvLayer("g", n=1, c=c, k=k, h=8, w=8, r=3, s=3, groups=groups)


# ---- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(c=0), "c must be a positive integer, got 0"),
        (dict(k=-3), "k must be a positive integer, got -3"),
        (dict(h=0), "h must be"),
        (dict(r=0), "r must be"),
        (dict(n=True), "n must be an integer"),
        (dict(w=2.0), "w must be an integer"),
        (dict(stride=0), "stride must be"),
        (dict(stride=(1, 0)), r"stride\[1\] must be"),
        (dict(dilation=0), "dilation must be"),
        (dict(pad=-1), "pad must be an integer >= 0"),
        (dict(pad=(1, 2, 3)), "pad must be an int, \\(h, w\\) or \\(top, bottom, left, right\\)"),
        (dict(r=9), "filter spans 9 along h"),
        (dict(s=5, dilation=2), "filter spans 9 along w"),
    ],
)
def test_conv_validation(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = dict(name="bad", n=1, c=4, k=4, h=8, w=8, r=3, s=3)
    base.update(kwargs)
    with pytest.raises(WorkloadError, match=field) as info:
        ConvLayer(**base)  # type: ignore[arg-type]
    assert "'bad'" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_gemm_layer() -> None:
    layer = GemmLayer("fc", 3, 512, 1000)
    assert layer.gemm() == (3, 512, 1000, 1)
    assert layer.macs == 3 * 512 * 1000
    assert GemmLayer("g", 2, 3, 4, groups=5).macs == 120
    with pytest.raises(WorkloadError, match="n must be a positive integer, got 0"):
        GemmLayer("fc", 1, 512, 0)
    with pytest.raises(WorkloadError, match="name"):
        GemmLayer("", 1, 1, 1)


def test_workload_container() -> None:
    layers = [GemmLayer("a", 1, 2, 3), ConvLayer("b", 1, 2, 2, 4, 4, 3, 3)]
    wl = Workload("tiny", iter(layers))
    assert list(wl) == layers
    assert wl[0] is layers[0] and wl["b"] is layers[1]
    assert wl.gemm_shapes() == [(1, 2, 3, 1), (4, 18, 2, 1)]
    assert wl.total_macs == 6 + 4 * 18 * 2
    with pytest.raises(KeyError, match="no layer named 'c'"):
        wl["c"]
    with pytest.raises(WorkloadError, match="duplicate layer name 'a'"):
        Workload("dup", [layers[0], layers[0]])
    with pytest.raises(WorkloadError, match="has no layers"):
        Workload("empty", [])
    with pytest.raises(WorkloadError, match=r"layers\[0\] must be a ConvLayer or GemmLayer"):
        Workload("bad", [(1, 2, 3, 1)])  # type: ignore[list-item]
