"""ONNX import: graphs built here with ``onnx.helper`` for every mapped op and attribute
combination, their MACs checked against counts computed independently (output shapes from
ONNX's reference evaluator, MACs from the operators' definitions), plus the real export in
``shared/onnx`` when it is there."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import accelsim
from accelsim.cli import main
from accelsim.errors import WorkloadError
from accelsim.workloads import ConvLayer, GemmLayer, MatmulLayer, VectorOp, get_model
from accelsim.workloads.onnx import load_onnx, parse_input_shape

onnx = pytest.importorskip("onnx", reason="ONNX import tests need onnx: pip install accelsim[onnx]")
from onnx import TensorProto, helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESNET18_ONNX = REPO.parent / "shared" / "onnx" / "resnet18_timm.onnx"
FLOAT = TensorProto.FLOAT


def vinfo(name: str, shape: Sequence[int | str] | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, FLOAT, None if shape is None else list(shape))


def weight(name: str, shape: Sequence[int], seed: int = 0) -> onnx.TensorProto:
    data = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return onnx.numpy_helper.from_array(data, name)


def save(
    tmp_path: Path,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    inits: Sequence[onnx.TensorProto] = (),
    name: str = "m.onnx",
    opset: int = 18,
) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def run_reference(path: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Execute the graph with ONNX's own reference implementation."""
    return list(ReferenceEvaluator(str(path)).run(None, feeds))


def rand(*shape: int) -> np.ndarray:
    return np.random.default_rng(1).standard_normal(shape).astype(np.float32)


# ---- Conv ------------------------------------------------------------------------------------

CONV_CASES = [
    # (input NCHW, filters, kernel, attributes)
    ((1, 3, 9, 9), 4, (3, 3), {}),
    ((2, 4, 10, 7), 6, (3, 2), dict(pads=[1, 0, 1, 1], strides=[2, 1])),  # asymmetric pads
    ((1, 2, 11, 11), 4, (3, 3), dict(dilations=[2, 2], pads=[2, 2, 2, 2])),
    ((1, 4, 8, 8), 8, (3, 3), dict(group=2, pads=[1, 1, 1, 1])),
    ((1, 6, 8, 8), 6, (3, 3), dict(group=6, strides=[2, 2], pads=[1, 1, 1, 1])),  # depthwise
    ((1, 3, 9, 8), 4, (3, 3), dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    ((1, 3, 9, 8), 4, (4, 4), dict(auto_pad="SAME_LOWER", strides=[2, 3])),
    ((1, 3, 9, 8), 4, (3, 3), dict(auto_pad="VALID", strides=[2, 2])),
    ((3, 2, 5, 6), 2, (1, 1), dict(strides=[2, 2])),
    ((1, 3, 12, 12), 5, (5, 3), dict(dilations=[1, 3], strides=[3, 1], pads=[0, 2, 3, 1])),
    # 1-D
    ((2, 3, 20), 4, (5,), dict(pads=[2, 1], strides=[2])),
    ((1, 4, 16), 4, (3,), dict(group=4, dilations=[2])),
    ((1, 2, 15), 6, (4,), dict(auto_pad="SAME_UPPER", strides=[2])),
]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize(("x_shape", "filters", "kernel", "attrs"), CONV_CASES)
def test_conv(
    tmp_path: Path,
    x_shape: tuple[int, ...],
    filters: int,
    kernel: tuple[int, ...],
    attrs: dict[str, object],
    bias: bool,
) -> None:
    group = int(attrs.get("group", 1))  # type: ignore[call-overload]
    c = x_shape[1]
    inits = [weight("W", (filters, c // group, *kernel))]
    inputs = ["X", "W"]
    if bias:
        inits.append(weight("B", (filters,)))
        inputs.append("B")
    node = helper.make_node("Conv", inputs, ["Y"], name="conv", **attrs)  # type: ignore[arg-type]
    path = save(tmp_path, [node], [vinfo("X", x_shape)], [vinfo("Y", None)], inits)
    (y,) = run_reference(path, {"X": rand(*x_shape)})
    # MACs by definition: every output element sums (C / group) * prod(kernel) products.
    expected = y.size * (c // group) * math.prod(kernel)
    wl = load_onnx(path)
    assert len(wl.ops) == 1
    layer = wl["conv"]
    assert isinstance(layer, ConvLayer)
    assert layer.macs == expected
    assert layer.groups == group
    assert (layer.n, layer.k) == (x_shape[0], filters)
    assert (layer.p, layer.q) == ((1, *y.shape[2:]) if len(kernel) == 1 else y.shape[2:])
    assert layer.bias == bias
    assert wl.total_params == sum(t.dims[0] if len(t.dims) == 1 else 0 for t in inits) + (
        filters * (c // group) * math.prod(kernel)
    )


def test_conv_kernel_shape_attribute_and_quantized_variants(tmp_path: Path) -> None:
    x = vinfo("X", (1, 4, 8, 8))
    nodes = [
        helper.make_node("Conv", ["X", "W"], ["Y"], name="c", kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("ConvInteger", ["Xq", "Wq"], ["Yq"], name="ci"),
    ]
    inits = [
        weight("W", (8, 4, 3, 3)),
        onnx.numpy_helper.from_array(np.ones((2, 4, 3, 3), np.int8), "Wq"),
    ]
    xq = helper.make_tensor_value_info("Xq", TensorProto.INT8, [1, 4, 6, 6])
    path = save(tmp_path, nodes, [x, xq], [vinfo("Y", None), vinfo("Yq", None)], inits)
    wl = load_onnx(path)
    assert wl["c"].macs == 8 * 8 * 8 * 4 * 9
    assert wl["ci"].macs == 4 * 4 * 2 * 4 * 9


def test_conv_3d_is_an_error_naming_the_node(tmp_path: Path) -> None:
    node = helper.make_node("Conv", ["X", "W"], ["Y"], name="conv3d")
    path = save(
        tmp_path,
        [node],
        [vinfo("X", (1, 2, 4, 4, 4))],
        [vinfo("Y", None)],
        [weight("W", (2, 2, 3, 3, 3))],
    )
    with pytest.raises(WorkloadError, match="node 'conv3d' \\(Conv\\): only 1-D and 2-D"):
        load_onnx(path)


def test_dynamic_dims_need_input_shapes(tmp_path: Path) -> None:
    node = helper.make_node("Conv", ["X", "W"], ["Y"], name="stem", pads=[1] * 4)
    path = save(
        tmp_path,
        [node],
        [vinfo("X", ("batch", 3, "h", "w"))],
        [vinfo("Y", None)],
        [weight("W", (8, 3, 3, 3))],
    )
    with pytest.raises(WorkloadError) as info:
        load_onnx(path)
    message = str(info.value)
    assert "node 'stem' (Conv)" in message and "--input-shape" in message
    assert "X[?, 3, ?, ?]" in message
    wl = load_onnx(path, {"X": (2, 3, 16, 12)})
    assert wl["stem"].macs == 2 * 16 * 12 * 8 * 27
    with pytest.raises(WorkloadError, match="has no input 'x'; valid choices: X"):
        load_onnx(path, {"x": (1, 3, 4, 4)})
    with pytest.raises(WorkloadError, match="has rank 4"):
        load_onnx(path, {"X": (3, 4, 4)})


def test_parse_input_shape() -> None:
    assert parse_input_shape("x=1x3x224x224") == ("x", (1, 3, 224, 224))
    assert parse_input_shape(" input_ids = 4 X 128 ") == ("input_ids", (4, 128))
    for bad in ("x", "x=", "x=1xx2", "=3", "x=0x3"):
        with pytest.raises(WorkloadError, match="input-shape"):
            parse_input_shape(bad)


# ---- ConvTranspose ---------------------------------------------------------------------------

CONV_T_CASES = [
    ((1, 4, 5, 5), 6, (3, 3), {}),
    ((2, 4, 5, 6), 8, (4, 4), dict(strides=[2, 2], pads=[1, 1, 1, 1])),
    ((1, 6, 4, 4), 4, (3, 3), dict(group=2, strides=[2, 2], output_padding=[1, 1])),
    ((1, 3, 7), 5, (4,), dict(strides=[2])),
]


@pytest.mark.parametrize(("x_shape", "filters", "kernel", "attrs"), CONV_T_CASES)
def test_conv_transpose(
    tmp_path: Path,
    x_shape: tuple[int, ...],
    filters: int,
    kernel: tuple[int, ...],
    attrs: dict[str, object],
) -> None:
    group = int(attrs.get("group", 1))  # type: ignore[call-overload]
    n, c = x_shape[:2]
    w = weight("W", (c, filters // group, *kernel))
    node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], name="up", **attrs)  # type: ignore[arg-type]
    path = save(tmp_path, [node], [vinfo("X", x_shape)], [vinfo("Y", None)], [w])
    if group == 1:  # ONNX's reference ConvTranspose does not implement groups
        run_reference(path, {"X": rand(*x_shape)})  # a valid graph
    # by definition: every input element is multiplied with its group's (K/g) * prod(kernel)
    expected = math.prod(x_shape) * (filters // group) * math.prod(kernel)
    wl = load_onnx(path)
    layer = wl["up"]
    assert isinstance(layer, GemmLayer) and not isinstance(layer, MatmulLayer)
    assert layer.macs == expected
    assert layer.groups == group
    assert layer.weights == math.prod(w.dims)
    col2im = wl.op("up.col2im")
    # one accumulation per product of a group into the output: N * H * W * K * prod(kernel)
    assert isinstance(col2im, VectorOp)
    assert col2im.elements == math.prod(x_shape[2:]) * n * filters * math.prod(kernel)


# ---- Gemm ------------------------------------------------------------------------------------


@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("bias", [None, "row", "full"])
def test_gemm(tmp_path: Path, trans_a: int, trans_b: int, bias: str | None) -> None:
    m, k, n = 5, 7, 3
    a_shape = (k, m) if trans_a else (m, k)
    b_shape = (n, k) if trans_b else (k, n)
    inits = [weight("B", b_shape)]
    inputs = ["A", "B"]
    if bias:
        inits.append(weight("C", (n,) if bias == "row" else (m, n)))
        inputs.append("C")
    node = helper.make_node("Gemm", inputs, ["Y"], name="fc", transA=trans_a, transB=trans_b)
    path = save(tmp_path, [node], [vinfo("A", a_shape)], [vinfo("Y", None)], inits)
    (y,) = run_reference(path, {"A": rand(*a_shape)})
    assert y.shape == (m, n)
    wl = load_onnx(path)
    layer = wl["fc"]
    assert isinstance(layer, GemmLayer) and layer.gemm() == (m, k, n, 1)
    assert layer.macs == y.size * k
    assert layer.bias == (bias == "row")
    assert wl.total_params == sum(math.prod(t.dims) for t in inits)
    assert ("fc.bias" in {op.name for op in wl.ops}) == (bias == "full")


def test_gemm_of_two_activations_is_a_matmul(tmp_path: Path) -> None:
    node = helper.make_node("Gemm", ["A", "B"], ["Y"], name="g", transB=1)
    path = save(tmp_path, [node], [vinfo("A", (4, 6)), vinfo("B", (9, 6))], [vinfo("Y", None)])
    layer = load_onnx(path)["g"]
    assert isinstance(layer, MatmulLayer) and layer.gemm() == (4, 6, 9, 1)
    assert layer.weights == 0


# ---- MatMul ----------------------------------------------------------------------------------

MATMUL_CASES = [
    # (A shape, B shape, B is a weight, expected (m, k, n, groups))
    ((6, 8), (8, 5), True, (6, 8, 5, 1)),
    ((2, 7, 8), (8, 5), True, (14, 8, 5, 1)),  # batch joins M: one weight for every row
    ((2, 3, 7, 8), (8, 5), True, (42, 8, 5, 1)),
    ((2, 3, 7, 8), (2, 3, 8, 7), False, (7, 8, 7, 6)),  # attention: one GEMM per head
    ((2, 1, 7, 8), (1, 3, 8, 4), False, (14, 8, 12, 1)),  # broadcast both ways
    ((2, 3, 7, 8), (1, 3, 8, 4), False, (14, 8, 4, 3)),
    ((8,), (8, 5), True, (1, 8, 5, 1)),  # 1-D left operand
    ((3, 6, 8), (8,), False, (18, 8, 1, 1)),  # 1-D right operand
    ((5, 8), (3, 8, 4), False, (5, 8, 12, 1)),  # only B has the batch: joins N
]


@pytest.mark.parametrize(("a_shape", "b_shape", "b_weight", "gemm"), MATMUL_CASES)
def test_matmul(
    tmp_path: Path,
    a_shape: tuple[int, ...],
    b_shape: tuple[int, ...],
    b_weight: bool,
    gemm: tuple[int, int, int, int],
) -> None:
    node = helper.make_node("MatMul", ["A", "B"], ["Y"], name="mm")
    inputs = [vinfo("A", a_shape)]
    inits = [weight("B", b_shape)] if b_weight else []
    if not b_weight:
        inputs.append(vinfo("B", b_shape))
    path = save(tmp_path, [node], inputs, [vinfo("Y", None)], inits)
    feeds = {"A": rand(*a_shape)} | ({} if b_weight else {"B": rand(*b_shape)})
    (y,) = run_reference(path, feeds)
    expected = y.size * a_shape[-1]  # every output element sums K products
    layer = load_onnx(path)["mm"]
    assert layer.macs == expected
    assert layer.gemm() == gemm
    assert isinstance(layer, GemmLayer)
    assert isinstance(layer, MatmulLayer) != b_weight


def test_matmul_with_the_weight_on_the_left(tmp_path: Path) -> None:
    node = helper.make_node("MatMul", ["W", "X"], ["Y"], name="mm")
    path = save(tmp_path, [node], [vinfo("X", (8, 5))], [vinfo("Y", None)], [weight("W", (6, 8))])
    layer = load_onnx(path)["mm"]
    assert not isinstance(layer, MatmulLayer)
    assert layer.gemm() == (5, 8, 6, 1)  # (W X)^T = X^T W^T: W is the filter
    assert layer.weights == 48


def test_matmul_shapes_that_do_not_broadcast(tmp_path: Path) -> None:
    node = helper.make_node("MatMul", ["A", "B"], ["Y"], name="bad")
    path = save(
        tmp_path, [node], [vinfo("A", (2, 3, 4)), vinfo("B", (3, 4, 5))], [vinfo("Y", None)]
    )
    with pytest.raises(WorkloadError, match="node 'bad' \\(MatMul\\): batch dimensions"):
        load_onnx(path)


# ---- Einsum ----------------------------------------------------------------------------------

EINSUM_CASES = [
    ("bhqd,bhkd->bhqk", (2, 3, 5, 4), (2, 3, 6, 4), (5, 4, 6, 6)),
    ("bij,jk->bik", (2, 5, 4), (4, 3), (10, 4, 3, 1)),
    ("ij,jk", (5, 4), (4, 3), (5, 4, 3, 1)),
    ("...ij,...jk->...ik", (2, 5, 4), (2, 4, 3), (5, 4, 3, 2)),
    ("i,i->", (7,), (7,), (1, 7, 1, 1)),
    ("i,j->ij", (3,), (4,), (3, 1, 4, 1)),
    ("bsd,hd->bsh", (2, 5, 4), (6, 4), (10, 4, 6, 1)),
]


@pytest.mark.parametrize(("equation", "a_shape", "b_shape", "gemm"), EINSUM_CASES)
def test_einsum(
    tmp_path: Path,
    equation: str,
    a_shape: tuple[int, ...],
    b_shape: tuple[int, ...],
    gemm: tuple[int, int, int, int],
) -> None:
    node = helper.make_node("Einsum", ["A", "B"], ["Y"], name="e", equation=equation)
    path = save(tmp_path, [node], [vinfo("A", a_shape), vinfo("B", b_shape)], [vinfo("Y", None)])
    a, b = rand(*a_shape), rand(*b_shape)
    (y,) = run_reference(path, {"A": a, "B": b})
    assert np.allclose(y, np.einsum(equation, a, b), atol=1e-4)
    # MACs of a two-operand contraction: one product per combination of all distinct indices
    lhs = equation.split("->")[0].replace("...", "Z")
    sizes = {}
    for term, shape in zip(lhs.split(","), (a_shape, b_shape), strict=True):
        sizes.update(zip(term, shape[-len(term) :], strict=True))
    layer = load_onnx(path)["e"]
    assert isinstance(layer, MatmulLayer)
    assert layer.macs == math.prod(sizes.values())
    assert layer.gemm() == gemm


def test_einsum_not_a_matrix_product(tmp_path: Path) -> None:
    def model(equation: str, shapes: list[tuple[int, ...]]) -> Path:
        names = [f"I{i}" for i in range(len(shapes))]
        node = helper.make_node("Einsum", names, ["Y"], name="e", equation=equation)
        matmul = helper.make_node("MatMul", ["P", "Q"], ["Z"], name="mm")  # some matrix work
        inputs = [vinfo(n, s) for n, s in zip(names, shapes, strict=True)]
        inputs += [vinfo("P", (2, 2)), vinfo("Q", (2, 2))]
        outputs = [vinfo("Y", None), vinfo("Z", None)]
        return save(tmp_path, [node, matmul], inputs, outputs, name=f"{len(shapes)}.onnx")

    transpose = load_onnx(model("ij->ji", [(3, 4)])).op("e")
    assert isinstance(transpose, VectorOp) and transpose.elements == 12
    product = load_onnx(model("ij,ij->ij", [(3, 4), (3, 4)])).op("e")
    assert isinstance(product, VectorOp) and product.op_class == "elementwise"
    with pytest.raises(WorkloadError, match="node 'e' \\(Einsum\\): 'ii,ij->j' takes a diagonal"):
        load_onnx(model("ii,ij->j", [(3, 3), (3, 4)]))
    with pytest.raises(WorkloadError, match="sums index 'k' within one operand"):
        load_onnx(model("ijk,jl->il", [(2, 3, 4), (3, 5)]))
    with pytest.raises(WorkloadError, match="3 operands"):
        load_onnx(model("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]))


# ---- ops off the array -----------------------------------------------------------------------


def test_vector_ops_are_listed_with_elements(tmp_path: Path) -> None:
    shape = helper.make_node("Shape", ["X"], ["s"], name="shape")
    idx = helper.make_node(
        "Constant", [], ["zero"], value=helper.make_tensor("zero", TensorProto.INT64, [1], [0])
    )
    gather = helper.make_node("Gather", ["s", "zero"], ["n"], name="gather")
    minus = helper.make_node(
        "Constant", [], ["m1"], value=helper.make_tensor("m1", TensorProto.INT64, [1], [-1])
    )
    concat = helper.make_node("Concat", ["n", "m1"], ["newshape"], name="concat", axis=0)
    nodes = [
        helper.make_node("Conv", ["X", "W"], ["c"], name="conv", pads=[1] * 4),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"], name="gap"),
        shape,
        idx,
        gather,
        minus,
        concat,
        helper.make_node("Reshape", ["g", "newshape"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "Wfc", "Bfc"], ["l"], name="fc", transB=1),
        helper.make_node("Softmax", ["l"], ["Y"], name="softmax"),
    ]
    inits = [weight("W", (8, 3, 3, 3)), weight("Wfc", (10, 8)), weight("Bfc", (10,))]
    path = save(tmp_path, nodes, [vinfo("X", (2, 3, 8, 8))], [vinfo("Y", None)], inits)
    (y,) = run_reference(path, {"X": rand(2, 3, 8, 8)})
    assert y.shape == (2, 10)
    wl = load_onnx(path)
    assert [op.name for op in wl.ops] == [
        "conv",
        "relu",
        "pool",
        "gap",
        "flatten",
        "fc",
        "softmax",
    ]  # shape arithmetic is folded away
    assert wl.op("relu") == VectorOp("relu", "Relu", "elementwise", 2 * 8 * 8 * 8)
    assert wl.op("pool") == VectorOp("pool", "MaxPool", "pooling", 2 * 8 * 4 * 4 * 4)
    assert wl.op("gap") == VectorOp("gap", "GlobalAveragePool", "reduction", 2 * 8 * 4 * 4)
    assert wl.op("flatten") == VectorOp("flatten", "Reshape", "reshape", 16)
    assert wl.op("softmax") == VectorOp("softmax", "Softmax", "softmax", 20)
    assert wl["fc"].gemm() == (2, 8, 10, 1) and wl["fc"].bias
    assert wl.total_params == 8 * 27 + 80 + 10  # the Reshape's int64 shape is no parameter
    assert [after for _, after in wl.vector_ops_after()] == ["conv"] * 4 + ["fc"]


def test_unknown_ops_are_listed_as_other(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["a"], name="mm"),
        helper.make_node("MyOp", ["a"], ["Y"], name="custom", domain="my.domain"),
    ]
    graph = helper.make_graph(
        nodes, "g", [vinfo("X", (4, 8))], [vinfo("Y", None)], [weight("W", (8, 8))]
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("my.domain", 1)],
    )
    path = tmp_path / "custom.onnx"
    onnx.save(model, str(path))
    op = load_onnx(path).op("custom")
    assert op == VectorOp("custom", "MyOp", "other", None)


def test_unmappable_matrix_op_is_an_error(tmp_path: Path) -> None:
    node = helper.make_node("LSTM", ["X", "W", "R"], ["Y"], name="lstm", hidden_size=4)
    inits = [weight("W", (1, 16, 3)), weight("R", (1, 16, 4))]
    path = save(tmp_path, [node], [vinfo("X", (5, 1, 3))], [vinfo("Y", None)], inits)
    with pytest.raises(WorkloadError, match="node 'lstm' \\(LSTM\\) is matrix work"):
        load_onnx(path)


def test_weights_in_an_absent_external_file(tmp_path: Path) -> None:
    w = TensorProto(name="W", data_type=FLOAT, dims=[16, 3, 3, 3])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "weights.absent"), ("offset", "0"), ("length", "1728")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    node = helper.make_node("Conv", ["X", "W"], ["Y"], name="conv", strides=[2, 2])
    path = save(tmp_path, [node], [vinfo("X", (1, 3, 32, 32))], [vinfo("Y", None)], [w])
    assert not (tmp_path / "weights.absent").exists()
    wl = load_onnx(path)
    assert wl["conv"].macs == 15 * 15 * 16 * 27
    assert wl.total_params == 16 * 27


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match="no such file"):
        load_onnx(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\x00 not a protobuf")
    with pytest.raises(WorkloadError, match="is not an ONNX model"):
        load_onnx(bad)
    relu = helper.make_node("Relu", ["X"], ["Y"], name="r")
    path = save(tmp_path, [relu], [vinfo("X", (3,))], [vinfo("Y", None)])
    with pytest.raises(WorkloadError, match="no matrix work"):
        load_onnx(path)


def test_missing_onnx_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(WorkloadError, match=r"pip install 'accelsim\[onnx\]'"):
        load_onnx("whatever.onnx")


# ---- a real export -----------------------------------------------------------------------------


@pytest.mark.skipif(
    not RESNET18_ONNX.exists(), reason="../shared/onnx/resnet18_timm.onnx is not beside the repo"
)
def test_real_resnet18_export() -> None:
    wl = load_onnx(RESNET18_ONNX)
    assert wl.total_macs == 1_814_073_344
    assert len(wl) == 21
    # the same GEMMs, in the same order, as the zoo's resnet18 (timm and torchvision agree)
    assert wl.gemm_shapes() == get_model("resnet18").gemm_shapes()
    assert [layer.kind for layer in wl] == ["conv"] * 20 + ["gemm"]
    ops = {op.op for op in wl.vector_ops}
    assert ops == {"Relu", "Add", "MaxPool", "ReduceMean", "Reshape"}
    result = accelsim.run(str(RESNET18_ONNX), accelsim.Accelerator(rows=32, cols=32))
    assert result.total_macs == 1_814_073_344
    assert result.array_cycles == accelsim.run("resnet18").array_cycles


# ---- the command line ----------------------------------------------------------------------------


def small_model(tmp_path: Path, batch: int | str = 1) -> Path:
    nodes = [
        helper.make_node("Conv", ["X", "W"], ["c"], name="conv", pads=[1] * 4),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flat"),
        helper.make_node("MatMul", ["f", "Wfc"], ["Y"], name="fc"),
    ]
    inits = [weight("W", (4, 3, 3, 3)), weight("Wfc", (4 * 6 * 6, 5))]
    return save(tmp_path, nodes, [vinfo("X", (batch, 3, 6, 6))], [vinfo("Y", None)], inits)


def test_cli_runs_an_onnx_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = small_model(tmp_path)
    assert main(["run", str(path), "--pe", "8x8", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_macs"] == 36 * 27 * 4 + 144 * 5
    assert [layer["name"] for layer in data["layers"]] == ["conv", "fc"]
    assert [op["name"] for op in data["vector_ops"]] == ["relu", "flat"]
    assert data["vector_ops"][0]["cycles"] is None and data["vector_cycles"] is None
    assert main(["run", str(path), "--pe", "8x8"]) == 0
    out = capsys.readouterr().out
    assert "Relu (elementwise)" in out and "not modelled" in out


def test_cli_input_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = small_model(tmp_path, batch="N")
    assert main(["run", str(path), "--pe", "8x8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "node 'conv' (Conv)" in err and "--input-shape" in err
    run_dir = tmp_path / "run"
    args = ["run", str(path), "--input-shape", "X=3x3x6x6", "--run-dir", str(run_dir), "-q"]
    assert main(args) == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["input_shapes"] == {"X": [3, 3, 6, 6]} and "batch" not in config
    stats = json.loads((run_dir / "stats.json").read_text())
    assert stats["total_macs"] == 3 * (36 * 27 * 4 + 144 * 5)
    # the recorded configuration replays the run
    again = tmp_path / "again"
    assert main(["run", "--config", str(run_dir / "config.json"), "--run-dir", str(again)]) == 0
    assert (again / "stats.json").read_text() == (run_dir / "stats.json").read_text()
    assert main(["run", str(path), "--input-shape", "X=3by3"]) == 2
    assert "input-shape: expected NAME=DIMS" in capsys.readouterr().err
    assert main(["run", "resnet18", "--input-shape", "X=1x3x2x2"]) == 2
    assert "apply to ONNX models only" in capsys.readouterr().err
