"""The model zoo: every model's MACs and parameters against published or independently computed
figures, options, batching, grouped convolutions, SCALE-Sim export, and a run of every model on
a 32x32 array with every dataflow."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import accelsim
from accelsim.errors import WorkloadError
from accelsim.workloads import (
    MODEL_SPECS,
    SCALESIM_HEADER,
    ConvLayer,
    GemmLayer,
    MatmulLayer,
    VectorOp,
    Workload,
    get_model,
    model_names,
    model_options,
)

ZOO = [
    "alexnet",
    "bert_base",
    "efficientnet_b0",
    "gpt2_decode",
    "gpt2_prefill",
    "mobilenet_v2",
    "resnet18",
    "resnet34",
    "resnet50",
    "vgg16",
    "vit_b_16",
]

# Parameter counts as published: torchvision's model metadata (``num_params`` of each
# ``*_Weights.IMAGENET1K_V1``), Hugging Face's bert-base-uncased (109,482,240) and gpt2
# (124,439,808). They include biases, normalization and embeddings, so they check every channel
# count of the tables.
PUBLISHED_PARAMS = {
    "alexnet": 61_100_840,
    "vgg16": 138_357_544,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872,
    "efficientnet_b0": 5_288_548,
    "vit_b_16": 86_567_656,
    "bert_base": 109_482_240,
    "gpt2_prefill": 124_439_808,
    "gpt2_decode": 124_439_808,
}

# torchvision's published ``GFLOPS`` (multiply-accumulates of conv, linear and matmul, in 1e9,
# rounded to 3 decimals in the weights' metadata).
PUBLISHED_GMACS = {
    "alexnet": 0.714,
    "vgg16": 15.470,
    "resnet18": 1.814,
    "resnet34": 3.664,
    "resnet50": 4.089,
    "mobilenet_v2": 0.301,
    "efficientnet_b0": 0.386,
    "vit_b_16": 17.564,
}


# ---- independent MAC counts, from the papers' stage tables ---------------------------------------


def resnet_macs(blocks: tuple[int, ...], bottleneck: bool) -> int:
    """ResNet at 224: conv1 on a 112x112 output, stages at 56, 28, 14, 7 (He et al. Table 1)."""
    total = 112 * 112 * 3 * 49 * 64
    in_ch = 64
    for planes, n, hw, first_in_hw in zip(
        (64, 128, 256, 512), blocks, (56, 28, 14, 7), (56, 56, 28, 14), strict=True
    ):
        out_ch = planes * (4 if bottleneck else 1)
        for i in range(n):
            src = first_in_hw if i == 0 else hw
            if bottleneck:
                total += src * src * in_ch * planes  # 1x1 at the block's input size
                total += hw * hw * planes * 9 * planes  # 3x3 with the stride
                total += hw * hw * planes * out_ch
            else:
                total += hw * hw * in_ch * 9 * planes + hw * hw * planes * 9 * planes
            if i == 0 and (src != hw or in_ch != out_ch):
                total += hw * hw * in_ch * out_ch  # projection shortcut
            in_ch = out_ch
    return total + in_ch * 1000


def vgg16_macs() -> int:
    convs = [(224, 3, 64), (224, 64, 64), (112, 64, 128), (112, 128, 128)]
    convs += [(56, 128, 256), (56, 256, 256), (56, 256, 256)]
    convs += [(28, 256, 512), (28, 512, 512), (28, 512, 512)]
    convs += [(14, 512, 512)] * 3
    return sum(hw * hw * c * 9 * k for hw, c, k in convs) + 25088 * 4096 + 4096 * 4096 + 4096000


def alexnet_macs() -> int:
    convs = [(55, 3 * 121, 64), (27, 64 * 25, 192), (13, 192 * 9, 384), (13, 384 * 9, 256)]
    convs += [(13, 256 * 9, 256)]
    return sum(hw * hw * k_in * k for hw, k_in, k in convs) + 9216 * 4096 + 4096 * 4096 + 4096000


def mobilenet_v2_macs() -> int:
    """Sandler et al. Table 2: (input size, t, c, n, s) rows."""
    rows = [(112, 1, 16, 1, 1), (112, 6, 24, 2, 2), (56, 6, 32, 3, 2), (28, 6, 64, 4, 2)]
    rows += [(14, 6, 96, 3, 1), (14, 6, 160, 3, 2), (7, 6, 320, 1, 1)]
    total, cin = 112 * 112 * 27 * 32, 32
    for size, t, c, n, s in rows:
        for i in range(n):
            hw_in = size if i == 0 else size // s
            hw_out = size // s
            hidden = cin * t
            if t != 1:
                total += hw_in * hw_in * cin * hidden
            total += hw_out * hw_out * 9 * hidden + hw_out * hw_out * hidden * c
            cin = c
    return total + 7 * 7 * 320 * 1280 + 1280 * 1000


def efficientnet_b0_macs() -> int:
    """Tan & Le Table 1 (stage input size, kernel, channels, layers, stride), with
    squeeze-and-excitation to in_channels // 4."""
    stages = [(112, 1, 3, 16, 1, 1), (112, 6, 3, 24, 2, 2), (56, 6, 5, 40, 2, 2)]
    stages += [(28, 6, 3, 80, 3, 2), (14, 6, 5, 112, 3, 1), (14, 6, 5, 192, 4, 2)]
    stages += [(7, 6, 3, 320, 1, 1)]
    total, cin = 112 * 112 * 27 * 32, 32
    for size, t, k, c, n, s in stages:
        for i in range(n):
            hw_in = size if i == 0 else size // s
            hw_out = size // s
            hidden = cin * t
            if t != 1:
                total += hw_in * hw_in * cin * hidden
            total += hw_out * hw_out * k * k * hidden
            total += 2 * hidden * max(1, cin // 4)  # SE fc1, fc2 on 1x1
            total += hw_out * hw_out * hidden * c
            cin = c
    return total + 7 * 7 * 320 * 1280 + 1280 * 1000


def encoder_layer_macs(tokens: int, keys: int, width: int = 768, mlp: int = 3072) -> int:
    """Projections (Q, K, V, output: 4 d^2 per token), MLP (2 d m per token), attention
    (Q K^T and P V: 2 * tokens * keys * d)."""
    return tokens * (4 * width * width + 2 * width * mlp) + 2 * tokens * keys * width


def vit_b_16_macs() -> int:
    return 196 * 768 * 768 + 12 * encoder_layer_macs(197, 197) + 768 * 1000


def bert_base_macs(seq: int) -> int:
    return 12 * encoder_layer_macs(seq, seq) + 768 * 768  # + pooler on [CLS]


def gpt2_macs(new: int, past: int) -> int:
    return 12 * encoder_layer_macs(new, past + new) + 768 * 50257  # + LM head on one token


INDEPENDENT_MACS = {
    "alexnet": alexnet_macs(),
    "vgg16": vgg16_macs(),
    "resnet18": resnet_macs((2, 2, 2, 2), False),
    "resnet34": resnet_macs((3, 4, 6, 3), False),
    "resnet50": resnet_macs((3, 4, 6, 3), True),
    "mobilenet_v2": mobilenet_v2_macs(),
    "efficientnet_b0": efficientnet_b0_macs(),
    "vit_b_16": vit_b_16_macs(),
    "bert_base": bert_base_macs(128),
    "gpt2_prefill": gpt2_macs(128, 0),
    "gpt2_decode": gpt2_macs(1, 128),
}


def test_zoo_lists_every_model() -> None:
    assert model_names() == sorted(ZOO)
    for name in ZOO:
        assert MODEL_SPECS[name].source, name
        assert MODEL_SPECS[name].description, name


@pytest.mark.parametrize("name", ZOO)
def test_macs_match_independent_count(name: str) -> None:
    assert get_model(name).total_macs == INDEPENDENT_MACS[name]


def test_resnet18_independent_count_is_the_known_figure() -> None:
    assert INDEPENDENT_MACS["resnet18"] == 1_814_073_344


@pytest.mark.parametrize("name", sorted(PUBLISHED_GMACS))
def test_macs_match_torchvision(name: str) -> None:
    assert get_model(name).total_macs / 1e9 == pytest.approx(PUBLISHED_GMACS[name], abs=5e-4)


@pytest.mark.parametrize("name", ZOO)
def test_params_match_published(name: str) -> None:
    wl = get_model(name)
    assert wl.total_params == PUBLISHED_PARAMS[name]
    assert wl.total_weights <= wl.total_params


@pytest.mark.parametrize("seq", [128, 512, 1, 77])
def test_bert_sequence_lengths(seq: int) -> None:
    wl = get_model(f"bert_base:seq={seq}")
    assert wl.total_macs == bert_base_macs(seq)
    assert wl.name == ("bert_base" if seq == 128 else f"bert_base:seq={seq}")
    assert get_model(wl.name) == wl  # the name rebuilds it
    scores = wl["encoder.layer.0.attention.self.scores"]
    assert isinstance(scores, MatmulLayer)
    assert scores.gemm() == (seq, 64, seq, 12)
    assert wl.op("encoder.layer.0.attention.self.softmax") == VectorOp(
        "encoder.layer.0.attention.self.softmax", "Softmax", "softmax", 12 * seq * seq
    )


def test_bert_512_figure() -> None:
    # 12 layers x (512 tokens x 7,077,888 weights + 2 x 512^2 x 768) + pooler
    assert get_model("bert_base", seq=512).total_macs == 48_318_971_904


@pytest.mark.parametrize(("prompt", "context"), [(128, 128), (1, 0), (1024, 1023), (300, 7)])
def test_gpt2_prefill_and_decode(prompt: int, context: int) -> None:
    prefill = get_model("gpt2_prefill", prompt=prompt)
    decode = get_model(f"gpt2_decode:context={context}")
    assert prefill.total_macs == gpt2_macs(prompt, 0)
    assert decode.total_macs == gpt2_macs(1, context)
    # decode attends to the cache plus the new token, one query row per head
    assert decode["transformer.h.0.attn.scores"].gemm() == (1, 64, context + 1, 12)
    assert decode["transformer.h.0.attn.context"].gemm() == (1, context + 1, 64, 12)
    assert decode["transformer.h.11.mlp.c_fc"].gemm() == (1, 768, 3072, 1)
    assert prefill["transformer.h.0.attn.scores"].gemm() == (prompt, 64, prompt, 12)
    assert prefill["lm_head"].gemm() == (1, 768, 50257, 1)
    # a causal mask only when more than one token runs
    names = {op.name for op in decode.ops}
    assert "transformer.h.0.attn.mask" not in names
    assert ("transformer.h.0.attn.mask" in {op.name for op in prefill.ops}) == (prompt > 1)


def test_model_options_and_errors() -> None:
    assert model_options("bert_base") == {"seq": 128}
    assert model_options("gpt2_decode") == {"context": 128}
    assert model_options("resnet50") == {}
    cases = [
        ("bert_base:sequence=5", "unknown option 'sequence=5'; valid options: seq \\(1..512\\)"),
        ("bert_base:seq=513", "seq must be in 1..512, got 513"),
        ("bert_base:seq=x", "seq must be an integer, got 'x'"),
        ("gpt2_prefill:prompt=0", "prompt must be in 1..1024"),
        ("resnet50:seq=3", "valid options: none"),
        ("bert", "unknown model 'bert'"),
    ]
    for spec, match in cases:
        with pytest.raises(WorkloadError, match=match):
            get_model(spec)
    with pytest.raises(WorkloadError, match="unknown option 'prompt=3'"):
        get_model("gpt2_decode", prompt=3)


@pytest.mark.parametrize("name", ZOO)
def test_batch_scales_every_model(name: str) -> None:
    one, three = get_model(name), get_model(name, batch=3)
    assert three.total_macs == 3 * one.total_macs
    assert three.total_params == one.total_params
    assert len(three) == len(one) and len(three.ops) == len(one.ops)
    assert three.total_vector_elements == 3 * one.total_vector_elements


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_b0"])
def test_depthwise_convs_stay_one_layer(name: str) -> None:
    wl = get_model(name)
    depthwise = [
        layer
        for layer in wl
        if isinstance(layer, ConvLayer) and layer.groups > 1 and layer.groups == layer.c
    ]
    assert len(depthwise) == (17 if name == "mobilenet_v2" else 16)
    for layer in depthwise:
        assert layer.gemm().n == 1 and layer.gemm().groups == layer.c
    # tens of layers, not one per channel
    assert len(wl) < 100
    assert sum(layer.c for layer in depthwise) > 5000


def test_layer_kinds() -> None:
    vit = get_model("vit_b_16")
    kinds = {layer.kind for layer in vit}
    assert kinds == {"conv", "gemm", "matmul"}
    assert {op.kind for op in vit.ops} == {"conv", "gemm", "matmul", "vector"}
    assert all(isinstance(op, VectorOp) for op in vit.vector_ops)
    resnet = get_model("resnet50")
    classes = {op.op_class for op in resnet.vector_ops}
    assert classes == {"normalization", "elementwise", "pooling", "reduction"}
    assert isinstance(resnet["fc"], GemmLayer) and resnet["fc"].bias


def test_vector_ops_follow_their_layers() -> None:
    wl = get_model("resnet18")
    after = {op.name: prev for op, prev in wl.vector_ops_after()}
    assert after["bn1"] == "conv1" and after["maxpool"] == "conv1"
    assert after["layer1.0.add"] == "layer1.0.conv2"
    assert after["layer2.0.add"] == "layer2.0.downsample.0"
    assert after["avgpool"] == "layer4.1.conv2"
    # resnet18 at 224: maxpool on 64 x 56 x 56 outputs with 3x3 windows
    assert wl.op("maxpool") == VectorOp("maxpool", "MaxPool", "pooling", 64 * 56 * 56 * 9)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("name", ZOO)
def test_every_model_runs_on_32x32(name: str, dataflow: str) -> None:
    acc = accelsim.Accelerator(rows=32, cols=32, dataflow=dataflow)
    result = accelsim.run(name, acc)
    assert result.total_macs == INDEPENDENT_MACS[name]
    assert len(result.layers) == len(get_model(name))
    assert all(r.cycles > 0 for r in result.layers)
    assert 0 < result.utilization <= 1


# ---- SCALE-Sim topology export -----------------------------------------------------------------


def scalesim_macs(text: str) -> int:
    """MACs of a SCALE-Sim topology the way SCALE-Sim counts them (no padding)."""
    rows = list(csv.reader(io.StringIO(text)))
    total = 0
    for row in rows[1:]:
        _, h, w, r, s, c, k, stride = (row[0], *map(int, row[1:8]))
        total += ((h - r) // stride + 1) * ((w - s) // stride + 1) * r * s * c * k
    return total


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "mobilenet_v2", "vgg16", "bert_base"])
def test_scalesim_export_keeps_macs(name: str) -> None:
    wl = get_model(name)
    text = wl.to_scalesim_csv()
    assert text.splitlines()[0] == ",".join(SCALESIM_HEADER) + ","
    assert all(line.endswith(",") for line in text.splitlines())
    assert scalesim_macs(text) == wl.total_macs


def test_scalesim_rows(tmp_path: object) -> None:
    wl = Workload(
        "t",
        [
            ConvLayer("c", 1, 3, 8, 10, 12, 3, 3, stride=2, pad=(1, 2, 0, 1)),
            VectorOp("relu", "Relu", "elementwise", 100),
            ConvLayer("dw", 2, 4, 4, 5, 5, 3, 3, pad=1, groups=2),
            GemmLayer("fc", 7, 30, 9),
        ],
    )
    assert wl.scalesim_rows() == [
        ("c", 13, 13, 3, 3, 3, 8, 2),  # 10 + 1 + 2, 12 + 0 + 1
        ("dw.n0.g0", 7, 7, 3, 3, 2, 2, 1),
        ("dw.n0.g1", 7, 7, 3, 3, 2, 2, 1),
        ("dw.n1.g0", 7, 7, 3, 3, 2, 2, 1),
        ("dw.n1.g1", 7, 7, 3, 3, 2, 2, 1),
        ("fc", 7, 1, 1, 1, 30, 9, 1),
    ]
    assert scalesim_macs(wl.to_scalesim_csv()) == wl.total_macs
    with pytest.raises(WorkloadError, match="'d': SCALE-Sim topologies have no dilation"):
        Workload("x", [ConvLayer("d", 1, 1, 1, 9, 9, 3, 3, dilation=2)]).to_scalesim_csv()
    with pytest.raises(WorkloadError, match="'s': SCALE-Sim topologies have one stride"):
        Workload("x", [ConvLayer("s", 1, 1, 1, 9, 9, 3, 3, stride=(1, 2))]).to_scalesim_csv()


# ---- conv lowering: im2col on the register-level array equals a direct convolution ------------


def direct_conv(x: np.ndarray, w: np.ndarray, layer: ConvLayer) -> np.ndarray:
    """Direct convolution: for every filter tap (r, s), a strided window of the padded ifmap."""
    (sh, sw), (dh, dw) = layer.stride_hw, layer.dilation_hw
    xp = np.pad(
        x.astype(np.int64),
        ((0, 0), (0, 0), (layer.pad_top, layer.pad_bottom), (layer.pad_left, layer.pad_right)),
    )
    g, cg, kg = layer.groups, layer.c // layer.groups, layer.k // layer.groups
    out = np.zeros((layer.n, layer.k, layer.p, layer.q), dtype=np.int64)
    for r in range(layer.r):
        for s in range(layer.s):
            rows = slice(r * dh, r * dh + sh * (layer.p - 1) + 1, sh)
            cols = slice(s * dw, s * dw + sw * (layer.q - 1) + 1, sw)
            window = xp[:, :, rows, cols]
            for i in range(g):
                out[:, i * kg : (i + 1) * kg] += np.einsum(
                    "ncpq,kc->nkpq",
                    window[:, i * cg : (i + 1) * cg],
                    w[i * kg : (i + 1) * kg, :, r, s].astype(np.int64),
                )
    return out


def im2col(x: np.ndarray, layer: ConvLayer, group: int) -> np.ndarray:
    """Rows (n, p, q), columns (c, r, s) of one group's input channels."""
    (sh, sw), (dh, dw) = layer.stride_hw, layer.dilation_hw
    xp = np.pad(
        x, ((0, 0), (0, 0), (layer.pad_top, layer.pad_bottom), (layer.pad_left, layer.pad_right))
    )
    cg = layer.c // layer.groups
    rows = []
    for n in range(layer.n):
        for p in range(layer.p):
            for q in range(layer.q):
                patch = xp[
                    n,
                    group * cg : (group + 1) * cg,
                    p * sh : p * sh + dh * (layer.r - 1) + 1 : dh,
                    q * sw : q * sw + dw * (layer.s - 1) + 1 : dw,
                ]
                rows.append(patch.reshape(-1))
    return np.stack(rows)


@st.composite
def small_convs(draw: st.DrawFn) -> ConvLayer:
    groups = draw(st.integers(1, 3))
    c = groups * draw(st.integers(1, 3))
    k = groups * draw(st.integers(1, 3))
    r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = draw(st.integers(max(1, dilation[0] * (r - 1) + 1 - pad[0] - pad[1]), 7))
    w = draw(st.integers(max(1, dilation[1] * (s - 1) + 1 - pad[2] - pad[3]), 7))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    n = draw(st.integers(1, 2))
    return ConvLayer("conv", n, c, k, h, w, r, s, stride, pad, dilation, groups)  # type: ignore[arg-type]


@given(
    layer=small_convs(),
    rows=st.integers(1, 5),
    cols=st.integers(1, 5),
    dataflow=st.sampled_from(["ws", "os", "is"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_im2col_on_the_pe_engine_equals_direct_conv(
    layer: ConvLayer, rows: int, cols: int, dataflow: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (layer.n, layer.c, layer.h, layer.w), dtype=np.int8)
    w = rng.integers(-128, 128, (layer.k, layer.c // layer.groups, layer.r, layer.s), dtype=np.int8)
    m, k, n, g = layer.gemm()
    kg = layer.k // g
    a = np.stack([im2col(x, layer, i) for i in range(g)])
    b = np.stack([w[i * kg : (i + 1) * kg].reshape(kg, -1).T for i in range(g)])
    assert a.shape == (g, m, k) and b.shape == (g, k, n)
    acc = accelsim.Accelerator(rows=rows, cols=cols, dataflow=dataflow)
    if g == 1:  # one GEMM takes 2-D operands
        a, b = a[0], b[0]
    result = accelsim.simulate_gemm(m, k, n, acc, engine="pe", a=a, b=b, groups=g)
    assert result.output is not None and result.macs == layer.macs
    out = result.output.reshape(g, layer.n, layer.p, layer.q, kg).transpose(1, 0, 4, 2, 3)
    assert (out.reshape(layer.n, layer.k, layer.p, layer.q) == direct_conv(x, w, layer)).all()
