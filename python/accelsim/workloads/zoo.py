"""Model zoo: layer tables of well-known networks, built from their architecture.

Every builder takes the batch size (and the model's options, e.g. a sequence length) and
returns a :class:`~accelsim.workloads.Workload` whose layer names and order follow the
reference implementation's modules (torchvision for the CNNs and ViT, Hugging Face
``transformers`` for BERT and GPT-2). No weights, no downloads: shapes only.

Matrix work (convolutions, fully connected layers, attention's matmuls) becomes array layers;
everything that touches data off the array (normalization, activations, pooling, residual adds,
softmax, embedding lookups, KV-cache writes) becomes a :class:`VectorOp` with its element count.
Views that move no data (flatten, the head split of attention) and ops that are identities in
inference (dropout, an adaptive pool to the size it already has) are left out. Batch
normalization is listed as the module it is in the reference code (an inference compiler would
fold it into the convolution).

A model is named ``NAME`` or ``NAME:option=value,...`` (``bert_base:seq=512``); see
:func:`model_options`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accelsim.errors import WorkloadError
from accelsim.workloads.layers import ConvLayer, GemmLayer, MatmulLayer, Op, VectorOp
from accelsim.workloads.workload import Workload

__all__ = [
    "MODELS",
    "MODEL_SPECS",
    "ModelBuilder",
    "ModelSpec",
    "get_model",
    "model_names",
    "model_options",
    "parse_model_spec",
    "register_model",
]

ModelBuilder = Callable[..., Workload]

#: Registry of model builders by name: ``MODELS[name](batch, **options) -> Workload``.
MODELS: dict[str, ModelBuilder] = {}


@dataclass(frozen=True)
class ModelSpec:
    """A zoo entry: its builder, its options with their defaults and valid ranges, and the
    source its architecture follows."""

    name: str
    builder: ModelBuilder
    options: tuple[tuple[str, int, int, int], ...]  # (name, default, minimum, maximum)
    source: str

    @property
    def description(self) -> str:
        doc = (self.builder.__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""

    @property
    def defaults(self) -> dict[str, int]:
        return {name: default for name, default, _, _ in self.options}


#: Every zoo entry by name.
MODEL_SPECS: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    source: str = "",
    options: tuple[tuple[str, int, int, int], ...] = (),
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator adding a builder to :data:`MODELS` under ``name``. ``options`` are
    ``(option, default, minimum, maximum)``; the builder takes them as keyword arguments."""

    def add(builder: ModelBuilder) -> ModelBuilder:
        if name in MODELS:
            raise ValueError(f"model {name!r} is already registered")
        MODELS[name] = builder
        MODEL_SPECS[name] = ModelSpec(name, builder, options, source)
        return builder

    return add


def model_names() -> list[str]:
    return sorted(MODELS)


def model_options(name: str) -> dict[str, int]:
    """The options of zoo model ``name`` with their defaults."""
    return _spec(name).defaults


def _spec(name: str) -> ModelSpec:
    spec = MODEL_SPECS.get(name)
    if spec is None:
        if name in MODELS:  # registered into MODELS directly
            return ModelSpec(name, MODELS[name], (), "")
        names = model_names()
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise WorkloadError(
            f"model: unknown model {name!r}; {hint}valid choices: {', '.join(names)}"
        )
    return spec


def parse_model_spec(text: str) -> tuple[str, dict[str, int]]:
    """``"bert_base:seq=512"`` as ``("bert_base", {"seq": 512})``, checked against the
    model's options (unknown option, bad or out-of-range value: :class:`WorkloadError`)."""
    if not isinstance(text, str) or not text.strip():
        raise WorkloadError(f"model: expected a model name, got {text!r}")
    name, _, rest = text.strip().partition(":")
    spec = _spec(name.strip())
    valid = {opt: (lo, hi) for opt, _, lo, hi in spec.options}
    choices = ", ".join(f"{opt} ({lo}..{hi})" for opt, (lo, hi) in valid.items()) or "none"
    given: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in valid:
            raise WorkloadError(
                f"model {spec.name!r}: unknown option {item!r}; valid options: {choices}"
            )
        try:
            number = int(value.strip())
        except ValueError:
            raise WorkloadError(
                f"model {spec.name!r}: option {key} must be an integer, got {value.strip()!r}"
            ) from None
        lo, hi = valid[key]
        if not lo <= number <= hi:
            raise WorkloadError(
                f"model {spec.name!r}: option {key} must be in {lo}..{hi}, got {number}"
            )
        given[key] = number
    return spec.name, given


def _canonical(name: str, options: dict[str, int]) -> str:
    """The model's name with the options that differ from the defaults (declared order)."""
    spec = _spec(name)
    changed = [
        f"{opt}={options[opt]}"
        for opt, default, _, _ in spec.options
        if options.get(opt, default) != default
    ]
    return f"{name}:{','.join(changed)}" if changed else name


def get_model(name: str, batch: int = 1, **options: int) -> Workload:
    """The layer table of zoo model ``name`` at batch size ``batch``.

    ``name`` may carry options (``"gpt2_decode:context=1023"``); keyword ``options`` override
    them. The workload is named canonically (the options that differ from the defaults), so
    ``get_model(wl.name)`` builds it again.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise WorkloadError(f"batch must be a positive integer, got {batch!r}")
    base, given = parse_model_spec(name)
    if options:
        extra = ",".join(f"{key}={value}" for key, value in options.items())
        _, more = parse_model_spec(f"{base}:{extra}")
        given.update(more)
    spec = _spec(base)
    workload = spec.builder(batch, **{**spec.defaults, **given})
    canonical = _canonical(base, given)
    if workload.name != canonical:
        workload = Workload(canonical, workload.ops)
    return workload


def _window_out(size: int, kernel: int, stride: int, pad: int) -> int:
    """Output size of a sliding window (pooling)."""
    return (size + 2 * pad - kernel) // stride + 1


class _Net:
    """Collects the ops of a network in order, with helpers for the usual modules."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.ops: list[Op] = []

    def add(self, op: Op) -> Any:
        self.ops.append(op)
        return op

    def conv(
        self,
        name: str,
        c: int,
        k: int,
        hw: tuple[int, int],
        kernel: int,
        stride: int = 1,
        pad: int | None = None,
        groups: int = 1,
        bias: bool = False,
    ) -> ConvLayer:
        """A square-kernel convolution; ``pad`` defaults to ``(kernel - 1) // 2`` ("same")."""
        pad = (kernel - 1) // 2 if pad is None else pad
        return self.add(  # type: ignore[no-any-return]
            ConvLayer(
                name,
                self.batch,
                c,
                k,
                hw[0],
                hw[1],
                kernel,
                kernel,
                stride,
                pad,
                groups=groups,
                bias=bias,
            )
        )

    def fc(self, name: str, m: int, k: int, n: int, bias: bool = True) -> GemmLayer:
        return self.add(GemmLayer(name, m, k, n, bias=bias))  # type: ignore[no-any-return]

    def matmul(self, name: str, m: int, k: int, n: int, groups: int) -> MatmulLayer:
        return self.add(MatmulLayer(name, m, k, n, groups))  # type: ignore[no-any-return]

    def vec(self, name: str, op: str, op_class: str, elements: int, params: int = 0) -> None:
        self.add(VectorOp(name, op, op_class, elements, params))

    # Convolution activations: elements of an N x C x H x W tensor.
    def act(self, shape: tuple[int, int, int]) -> int:
        c, h, w = shape
        return self.batch * c * h * w

    def bn(self, name: str, layer: ConvLayer) -> None:
        """BatchNorm2d after ``layer``: scale and shift per channel (2 * K parameters)."""
        self.vec(name, "BatchNormalization", "normalization", self.out(layer), 2 * layer.k)

    def out(self, layer: ConvLayer) -> int:
        return layer.n * layer.k * layer.p * layer.q

    def relu(self, name: str, elements: int, op: str = "Relu") -> None:
        self.vec(name, op, "elementwise", elements)

    def maxpool(
        self, name: str, shape: tuple[int, int, int], kernel: int, stride: int, pad: int
    ) -> tuple[int, int, int]:
        c, h, w = shape
        out = (c, _window_out(h, kernel, stride, pad), _window_out(w, kernel, stride, pad))
        self.vec(name, "MaxPool", "pooling", self.act(out) * kernel * kernel)
        return out

    def global_pool(self, name: str, shape: tuple[int, int, int]) -> None:
        self.vec(name, "GlobalAveragePool", "reduction", self.act(shape))

    def layer_norm(self, name: str, tokens: int, width: int) -> None:
        self.vec(name, "LayerNormalization", "normalization", tokens * width, 2 * width)

    def build(self, name: str) -> Workload:
        return Workload(name, self.ops)


# ---- ResNets (torchvision.models.resnet) -------------------------------------------------------

_TORCHVISION = "torchvision.models ({}), 224x224 input, 1000 classes"


def _resnet(name: str, blocks_per_stage: tuple[int, ...], bottleneck: bool, batch: int) -> Workload:
    """torchvision's ResNet (v1.5: a bottleneck's stride is in its 3x3 conv) at 224x224."""
    net = _Net(batch)
    conv1 = net.conv("conv1", 3, 64, (224, 224), 7, stride=2, pad=3)
    net.bn("bn1", conv1)
    net.relu("relu", net.out(conv1))
    shape = net.maxpool("maxpool", (64, conv1.p, conv1.q), 3, 2, 1)
    in_ch, expansion = 64, 4 if bottleneck else 1
    for stage, (planes, blocks) in enumerate(
        zip((64, 128, 256, 512), blocks_per_stage, strict=True), 1
    ):
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            prefix = f"layer{stage}.{block}"
            hw = shape[1:]
            if bottleneck:
                a = net.conv(f"{prefix}.conv1", in_ch, planes, hw, 1)
                net.bn(f"{prefix}.bn1", a)
                net.relu(f"{prefix}.relu1", net.out(a))
                b = net.conv(f"{prefix}.conv2", planes, planes, (a.p, a.q), 3, stride)
                net.bn(f"{prefix}.bn2", b)
                net.relu(f"{prefix}.relu2", net.out(b))
                last = net.conv(f"{prefix}.conv3", planes, planes * 4, (b.p, b.q), 1)
                net.bn(f"{prefix}.bn3", last)
            else:
                a = net.conv(f"{prefix}.conv1", in_ch, planes, hw, 3, stride)
                net.bn(f"{prefix}.bn1", a)
                net.relu(f"{prefix}.relu1", net.out(a))
                last = net.conv(f"{prefix}.conv2", planes, planes, (a.p, a.q), 3)
                net.bn(f"{prefix}.bn2", last)
            if stride != 1 or in_ch != planes * expansion:
                down = net.conv(f"{prefix}.downsample.0", in_ch, planes * expansion, hw, 1, stride)
                net.bn(f"{prefix}.downsample.1", down)
            net.relu(f"{prefix}.add", net.out(last), op="Add")
            net.relu(f"{prefix}.relu", net.out(last))
            in_ch, shape = planes * expansion, (planes * expansion, last.p, last.q)
    net.global_pool("avgpool", shape)
    net.fc("fc", batch, in_ch, 1000)
    return net.build(name)


@register_model("resnet18", source=_TORCHVISION.format("resnet18; He et al. 2016"))
def resnet18(batch: int = 1) -> Workload:
    """ResNet-18 (torchvision), 224x224: 20 convolutions and the fc layer."""
    return _resnet("resnet18", (2, 2, 2, 2), False, batch)


@register_model("resnet34", source=_TORCHVISION.format("resnet34; He et al. 2016"))
def resnet34(batch: int = 1) -> Workload:
    """ResNet-34 (torchvision), 224x224: 36 convolutions and the fc layer."""
    return _resnet("resnet34", (3, 4, 6, 3), False, batch)


@register_model("resnet50", source=_TORCHVISION.format("resnet50, v1.5; He et al. 2016"))
def resnet50(batch: int = 1) -> Workload:
    """ResNet-50 v1.5 (torchvision), 224x224: 53 convolutions and the fc layer."""
    return _resnet("resnet50", (3, 4, 6, 3), True, batch)


# ---- VGG-16 and AlexNet -------------------------------------------------------------------------


@register_model("vgg16", source=_TORCHVISION.format("vgg16, configuration D; Simonyan 2014"))
def vgg16(batch: int = 1) -> Workload:
    """VGG-16 (torchvision, no batch norm), 224x224: 13 convolutions and 3 fc layers."""
    cfg: list[int | str] = [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        "M",
    ]
    net = _Net(batch)
    shape, index = (3, 224, 224), 0
    for item in cfg:
        if item == "M":
            shape = net.maxpool(f"features.{index}", shape, 2, 2, 0)
            index += 1
            continue
        assert isinstance(item, int)
        conv = net.conv(f"features.{index}", shape[0], item, shape[1:], 3, bias=True)
        net.relu(f"features.{index + 1}", net.out(conv))
        shape, index = (item, conv.p, conv.q), index + 2
    # avgpool: adaptive to 7x7, the size it already has (identity)
    flat = shape[0] * shape[1] * shape[2]
    net.fc("classifier.0", batch, flat, 4096)
    net.relu("classifier.1", batch * 4096)
    net.fc("classifier.3", batch, 4096, 4096)
    net.relu("classifier.4", batch * 4096)
    net.fc("classifier.6", batch, 4096, 1000)
    return net.build("vgg16")


@register_model("alexnet", source=_TORCHVISION.format("alexnet; Krizhevsky 2014 one-GPU variant"))
def alexnet(batch: int = 1) -> Workload:
    """AlexNet (torchvision), 224x224: 5 convolutions and 3 fc layers."""
    net = _Net(batch)
    shape = (3, 224, 224)
    # (index, filters, kernel, stride, pad, max pool after)
    convs = [
        (0, 64, 11, 4, 2, True),
        (3, 192, 5, 1, 2, True),
        (6, 384, 3, 1, 1, False),
        (8, 256, 3, 1, 1, False),
        (10, 256, 3, 1, 1, True),
    ]
    for index, filters, kernel, stride, pad, pool in convs:
        conv = net.conv(
            f"features.{index}", shape[0], filters, shape[1:], kernel, stride, pad, bias=True
        )
        net.relu(f"features.{index + 1}", net.out(conv))
        shape = (filters, conv.p, conv.q)
        if pool:
            shape = net.maxpool(f"features.{index + 2}", shape, 3, 2, 0)
    # avgpool: adaptive to 6x6, the size it already has (identity)
    net.fc("classifier.1", batch, shape[0] * shape[1] * shape[2], 4096)
    net.relu("classifier.2", batch * 4096)
    net.fc("classifier.4", batch, 4096, 4096)
    net.relu("classifier.5", batch * 4096)
    net.fc("classifier.6", batch, 4096, 1000)
    return net.build("alexnet")


# ---- MobileNetV2 and EfficientNet-B0 -------------------------------------------------------------


def _conv_norm_act(
    net: _Net,
    prefix: str,
    c: int,
    k: int,
    hw: tuple[int, int],
    kernel: int,
    stride: int = 1,
    groups: int = 1,
    act: str | None = "Relu",
) -> ConvLayer:
    """torchvision's ``Conv2dNormActivation``: ``prefix.0`` conv (no bias), ``prefix.1`` batch
    norm, ``prefix.2`` activation (``Relu`` for ReLU6 as a clip, ``Silu``, or none)."""
    conv = net.conv(f"{prefix}.0", c, k, hw, kernel, stride, groups=groups)
    net.bn(f"{prefix}.1", conv)
    if act == "Relu":
        net.relu(f"{prefix}.2", net.out(conv), op="Clip")  # ReLU6
    elif act is not None:
        net.vec(f"{prefix}.2", act, "activation", net.out(conv))
    return conv


@register_model("mobilenet_v2", source=_TORCHVISION.format("mobilenet_v2; Sandler et al. 2018"))
def mobilenet_v2(batch: int = 1) -> Workload:
    """MobileNetV2 1.0 (torchvision), 224x224: depthwise convs as one grouped layer each."""
    net = _Net(batch)
    stem = _conv_norm_act(net, "features.0", 3, 32, (224, 224), 3, 2)
    shape = (32, stem.p, stem.q)
    settings = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ]
    index = 1
    for t, c, n, s in settings:
        for i in range(n):
            stride = s if i == 0 else 1
            inp, hidden = shape[0], shape[0] * t
            prefix, part = f"features.{index}.conv", 0
            hw = shape[1:]
            if t != 1:
                expand = _conv_norm_act(net, f"{prefix}.0", inp, hidden, hw, 1)
                hw, part = (expand.p, expand.q), 1
            dw = _conv_norm_act(net, f"{prefix}.{part}", hidden, hidden, hw, 3, stride, hidden)
            proj = net.conv(f"{prefix}.{part + 1}", hidden, c, (dw.p, dw.q), 1)
            net.bn(f"{prefix}.{part + 2}", proj)
            if stride == 1 and inp == c:
                net.relu(f"features.{index}.add", net.out(proj), op="Add")
            shape, index = (c, proj.p, proj.q), index + 1
    last = _conv_norm_act(net, f"features.{index}", shape[0], 1280, shape[1:], 1)
    net.global_pool("avgpool", (1280, last.p, last.q))
    net.fc("classifier.1", batch, 1280, 1000)
    return net.build("mobilenet_v2")


@register_model("efficientnet_b0", source=_TORCHVISION.format("efficientnet_b0; Tan & Le 2019"))
def efficientnet_b0(batch: int = 1) -> Workload:
    """EfficientNet-B0 (torchvision), 224x224: MBConv blocks with squeeze-and-excitation."""
    net = _Net(batch)
    stem = _conv_norm_act(net, "features.0", 3, 32, (224, 224), 3, 2, act="Silu")
    shape = (32, stem.p, stem.q)
    # (expand ratio, kernel, stride, input channels, output channels, layers)
    stages = [
        (1, 3, 1, 32, 16, 1),
        (6, 3, 2, 16, 24, 2),
        (6, 5, 2, 24, 40, 2),
        (6, 3, 2, 40, 80, 3),
        (6, 5, 1, 80, 112, 3),
        (6, 5, 2, 112, 192, 4),
        (6, 3, 1, 192, 320, 1),
    ]
    for stage, (expand, kernel, first_stride, _, out_c, layers) in enumerate(stages, 1):
        for i in range(layers):
            stride = first_stride if i == 0 else 1
            inp = shape[0]
            hidden = inp * expand
            prefix, part, hw = f"features.{stage}.{i}.block", 0, shape[1:]
            if hidden != inp:
                _conv_norm_act(net, f"{prefix}.0", inp, hidden, hw, 1, act="Silu")
                part = 1
            dw = _conv_norm_act(
                net, f"{prefix}.{part}", hidden, hidden, hw, kernel, stride, hidden, act="Silu"
            )
            se, squeeze = f"{prefix}.{part + 1}", max(1, inp // 4)
            net.global_pool(f"{se}.avgpool", (hidden, dw.p, dw.q))
            fc1 = net.conv(f"{se}.fc1", hidden, squeeze, (1, 1), 1, bias=True)
            net.vec(f"{se}.activation", "Silu", "activation", net.out(fc1))
            fc2 = net.conv(f"{se}.fc2", squeeze, hidden, (1, 1), 1, bias=True)
            net.vec(f"{se}.scale_activation", "Sigmoid", "activation", net.out(fc2))
            net.relu(f"{se}.mul", net.out(dw), op="Mul")
            proj = _conv_norm_act(
                net, f"{prefix}.{part + 2}", hidden, out_c, (dw.p, dw.q), 1, act=None
            )
            if stride == 1 and inp == out_c:
                net.relu(f"features.{stage}.{i}.add", net.out(proj), op="Add")
            shape = (out_c, proj.p, proj.q)
    head = _conv_norm_act(net, "features.8", shape[0], 1280, shape[1:], 1, act="Silu")
    net.global_pool("avgpool", (1280, head.p, head.q))
    net.fc("classifier.1", batch, 1280, 1000)
    return net.build("efficientnet_b0")


# ---- Transformers ------------------------------------------------------------------------------


def _attention(
    net: _Net, prefix: str, seq: int, keys: int, width: int, heads: int, mask: bool
) -> None:
    """``softmax(Q K^T / sqrt(d)) V`` for ``batch * heads`` heads: ``seq`` queries against
    ``keys`` keys, ``width / heads`` wide each; one GEMM per head (``groups``)."""
    groups, head = net.batch * heads, width // heads
    scores = groups * seq * keys
    net.matmul(f"{prefix}.scores", seq, head, keys, groups)
    net.vec(f"{prefix}.scale", "Div", "elementwise", scores)
    if mask:
        net.vec(f"{prefix}.mask", "Add", "elementwise", scores)
    net.vec(f"{prefix}.softmax", "Softmax", "softmax", scores)
    net.matmul(f"{prefix}.context", seq, keys, head, groups)


@register_model(
    "vit_b_16",
    source="torchvision.models.vit_b_16 (Dosovitskiy et al. 2021), 224x224, 16x16 patches, "
    "197 tokens, 1000 classes",
)
def vit_b_16(batch: int = 1) -> Workload:
    """ViT-B/16 (torchvision), 224x224: patch embedding, 12 encoder layers, head."""
    width, heads, mlp, depth = 768, 12, 3072, 12
    net = _Net(batch)
    patches = net.conv("conv_proj", 3, width, (224, 224), 16, 16, 0, bias=True)
    seq = patches.p * patches.q + 1
    tokens = batch * seq
    net.vec("class_token", "Concat", "data_movement", tokens * width, width)
    net.vec("encoder.pos_embedding", "Add", "elementwise", tokens * width, seq * width)
    for i in range(depth):
        p = f"encoder.layers.encoder_layer_{i}"
        net.layer_norm(f"{p}.ln_1", tokens, width)
        net.fc(f"{p}.self_attention.in_proj", tokens, width, 3 * width)
        _attention(net, f"{p}.self_attention", seq, seq, width, heads, mask=False)
        net.fc(f"{p}.self_attention.out_proj", tokens, width, width)
        net.vec(f"{p}.add_1", "Add", "elementwise", tokens * width)
        net.layer_norm(f"{p}.ln_2", tokens, width)
        net.fc(f"{p}.mlp.0", tokens, width, mlp)
        net.vec(f"{p}.mlp.1", "Gelu", "activation", tokens * mlp)
        net.fc(f"{p}.mlp.3", tokens, mlp, width)
        net.vec(f"{p}.add_2", "Add", "elementwise", tokens * width)
    net.layer_norm("encoder.ln", tokens, width)
    net.fc("heads.head", batch, width, 1000)  # the class token only
    return net.build("vit_b_16")


@register_model(
    "bert_base",
    source="Hugging Face transformers BertModel, bert-base-uncased (Devlin et al. 2019): "
    "12 layers, 768 wide, 12 heads, vocabulary 30522, with the pooler",
    options=(("seq", 128, 1, 512),),
)
def bert_base(batch: int = 1, seq: int = 128) -> Workload:
    """BERT-base encoder (uncased) at sequence length seq (default 128, up to 512)."""
    width, heads, mlp, depth, vocab = 768, 12, 3072, 12, 30522
    net = _Net(batch)
    tokens = batch * seq
    e = "embeddings"
    net.vec(f"{e}.word_embeddings", "Gather", "data_movement", tokens * width, vocab * width)
    net.vec(f"{e}.token_type_embeddings", "Gather", "data_movement", tokens * width, 2 * width)
    net.vec(f"{e}.position_embeddings", "Gather", "data_movement", tokens * width, 512 * width)
    net.vec(f"{e}.add", "Add", "elementwise", 2 * tokens * width)
    net.layer_norm(f"{e}.LayerNorm", tokens, width)
    for i in range(depth):
        p = f"encoder.layer.{i}"
        for proj in ("query", "key", "value"):
            net.fc(f"{p}.attention.self.{proj}", tokens, width, width)
        _attention(net, f"{p}.attention.self", seq, seq, width, heads, mask=True)
        net.fc(f"{p}.attention.output.dense", tokens, width, width)
        net.vec(f"{p}.attention.output.add", "Add", "elementwise", tokens * width)
        net.layer_norm(f"{p}.attention.output.LayerNorm", tokens, width)
        net.fc(f"{p}.intermediate.dense", tokens, width, mlp)
        net.vec(f"{p}.intermediate.gelu", "Gelu", "activation", tokens * mlp)
        net.fc(f"{p}.output.dense", tokens, mlp, width)
        net.vec(f"{p}.output.add", "Add", "elementwise", tokens * width)
        net.layer_norm(f"{p}.output.LayerNorm", tokens, width)
    net.fc("pooler.dense", batch, width, width)  # the [CLS] token only
    net.vec("pooler.activation", "Tanh", "activation", batch * width)
    return net.build("bert_base")


_GPT2_SOURCE = (
    "Hugging Face transformers GPT2LMHeadModel, gpt2 (124M; Radford et al. 2019): 12 layers, "
    "768 wide, 12 heads, vocabulary 50257, 1024 positions, LM head tied to the token embedding"
)


def _gpt2(name: str, batch: int, new: int, past: int) -> Workload:
    """GPT-2 small running ``new`` tokens with ``past`` tokens already in the KV cache. The LM
    head runs on the last token only (what generation needs)."""
    width, heads, mlp, depth, vocab, positions = 768, 12, 3072, 12, 50257, 1024
    net = _Net(batch)
    tokens, keys = batch * new, past + new
    # The token embedding table is the LM head's filter (tied): lm_head owns its parameters.
    net.vec("transformer.wte", "Gather", "data_movement", tokens * width)
    net.vec("transformer.wpe", "Gather", "data_movement", tokens * width, positions * width)
    net.vec("transformer.add", "Add", "elementwise", tokens * width)
    for i in range(depth):
        p = f"transformer.h.{i}"
        net.layer_norm(f"{p}.ln_1", tokens, width)
        net.fc(f"{p}.attn.c_attn", tokens, width, 3 * width)
        net.vec(f"{p}.attn.kv_cache", "ScatterND", "data_movement", 2 * tokens * width)
        _attention(net, f"{p}.attn", new, keys, width, heads, mask=new > 1)
        net.fc(f"{p}.attn.c_proj", tokens, width, width)
        net.vec(f"{p}.add_1", "Add", "elementwise", tokens * width)
        net.layer_norm(f"{p}.ln_2", tokens, width)
        net.fc(f"{p}.mlp.c_fc", tokens, width, mlp)
        net.vec(f"{p}.mlp.act", "Gelu", "activation", tokens * mlp)
        net.fc(f"{p}.mlp.c_proj", tokens, mlp, width)
        net.vec(f"{p}.add_2", "Add", "elementwise", tokens * width)
    net.layer_norm("transformer.ln_f", tokens, width)
    net.fc("lm_head", batch, width, vocab, bias=False)
    return net.build(name)


@register_model("gpt2_prefill", source=_GPT2_SOURCE, options=(("prompt", 128, 1, 1024),))
def gpt2_prefill(batch: int = 1, prompt: int = 128) -> Workload:
    """GPT-2 small, prefill: a prompt of prompt tokens (default 128) into an empty KV cache."""
    return _gpt2("gpt2_prefill", batch, prompt, 0)


@register_model("gpt2_decode", source=_GPT2_SOURCE, options=(("context", 128, 0, 1023),))
def gpt2_decode(batch: int = 1, context: int = 128) -> Workload:
    """GPT-2 small, decode: one new token with context tokens in the KV cache (default 128)."""
    return _gpt2("gpt2_decode", batch, 1, context)
