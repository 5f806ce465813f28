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


# ---- what real exporters write ------------------------------------------------------------------


def int64(name: str, values: Sequence[int]) -> onnx.NodeProto:
    tensor = helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values))
    return helper.make_node("Constant", [], [name], value=tensor, name=f"const_{name}")


def test_shape_arithmetic_onnx_data_propagation_cannot_follow(tmp_path: Path) -> None:
    # The TorchScript exporter's expand: shape = Where(Equal(s, -1), ones, s), from constants.
    # ONNX's data propagation stops at Where, so the batch of the expanded mask, of the scores
    # it is added to and of the context matmul after them would be unknown.
    nodes = [
        int64("target", [2, 3, 4, 4]),
        int64("four", [4]),
        helper.make_node(
            "ConstantOfShape",
            ["four"],
            ["ones"],
            name="cos",
            value=helper.make_tensor("v", TensorProto.INT64, [1], [1]),
        ),
        helper.make_node("Mul", ["ones", "minus1"], ["neg"], name="neg"),
        helper.make_node("Equal", ["target", "neg"], ["is_neg"], name="eq"),
        helper.make_node("Where", ["is_neg", "ones", "target"], ["shape"], name="where"),
        helper.make_node("Expand", ["mask", "shape"], ["mask4"], name="expand"),
        helper.make_node("MatMul", ["Q", "K"], ["scores"], name="scores"),
        helper.make_node("Add", ["scores", "mask4"], ["masked"], name="add_mask"),
        helper.make_node("MatMul", ["masked", "V"], ["Y"], name="context"),
    ]
    minus1 = onnx.numpy_helper.from_array(np.array(-1, dtype=np.int64), "minus1")
    inputs = [
        vinfo("Q", (2, 3, 4, 5)),
        vinfo("K", (2, 3, 5, 4)),
        vinfo("V", (2, 3, 4, 6)),
        vinfo("mask", (1, 1, 4, 4)),
    ]
    path = save(tmp_path, nodes, inputs, [vinfo("Y", None)], [minus1])
    feeds = {"Q": rand(2, 3, 4, 5), "K": rand(2, 3, 5, 4), "V": rand(2, 3, 4, 6)}
    (y,) = run_reference(path, {**feeds, "mask": rand(1, 1, 4, 4)})
    assert y.shape == (2, 3, 4, 6)
    inferred = onnx.shape_inference.infer_shapes(onnx.load(str(path)), data_prop=True)
    mask4 = next(v for v in inferred.graph.value_info if v.name == "mask4")
    assert not mask4.type.tensor_type.shape.dim[0].HasField("dim_value")  # ONNX alone: unknown
    wl = load_onnx(path)
    assert wl["context"].gemm() == (4, 4, 6, 6)
    assert wl.op("add_mask") == VectorOp("add_mask", "Add", "elementwise", 2 * 3 * 4 * 4)
    assert wl.op("expand") == VectorOp("expand", "Expand", "data_movement", 2 * 3 * 4 * 4)
    assert [op.name for op in wl.ops] == ["expand", "scores", "add_mask", "context"]


def test_matmul_and_bias_add_are_one_gemm_with_its_bias(tmp_path: Path) -> None:
    # PyTorch's Linear as exported: MatMul, then Add of the bias (either operand order)
    nodes = [
        helper.make_node("MatMul", ["X", "W1"], ["h"], name="fc1"),
        helper.make_node("Add", ["B1", "h"], ["hb"], name="fc1_bias"),
        helper.make_node("MatMul", ["hb", "W2"], ["o"], name="fc2"),
        helper.make_node("Add", ["o", "B2"], ["ob"], name="fc2_add"),  # not one value per column
        helper.make_node("MatMul", ["ob", "W3"], ["p"], name="fc3"),
        helper.make_node("Add", ["p", "B3"], ["pb"], name="fc3_bias"),
        helper.make_node("Relu", ["p"], ["Y2"], name="relu"),  # p is used twice: not fused
        helper.make_node("Identity", ["pb"], ["Y"], name="out"),
    ]
    inits = [
        weight("W1", (8, 16)),
        weight("B1", (16,)),
        weight("W2", (16, 4)),
        weight("B2", (3, 4)),
        weight("W3", (4, 5)),
        weight("B3", (1, 5)),
    ]
    outs = [vinfo("Y", None), vinfo("Y2", None)]
    path = save(tmp_path, nodes, [vinfo("X", (2, 3, 8))], outs, inits)
    run_reference(path, {"X": rand(2, 3, 8)})
    wl = load_onnx(path)
    assert wl["fc1"] == GemmLayer("fc1", 6, 8, 16, bias=True)
    assert wl["fc2"] == GemmLayer("fc2", 6, 16, 4)
    assert wl["fc3"] == GemmLayer("fc3", 6, 4, 5)
    assert [op.name for op in wl.vector_ops] == ["fc2_add", "fc3_bias", "relu", "out"]
    assert wl.op("fc2_add").params == 12
    assert wl.total_params == 8 * 16 + 16 + 16 * 4 + 12 + 4 * 5 + 5


def test_a_tied_weight_counts_once_and_lookups_of_constants_are_listed(tmp_path: Path) -> None:
    # GPT-2: the token embedding is also the LM head's filter (through a Transpose); the position
    # embedding is looked up at constant positions, which is work on a parameter, not shape
    # arithmetic, so it is listed (with its table)
    nodes = [
        int64("positions", [0, 1, 2]),
        helper.make_node("Gather", ["wte", "ids"], ["tok"], name="wte_lookup"),
        helper.make_node("Gather", ["wpe", "positions"], ["pos"], name="wpe_lookup"),
        helper.make_node("Add", ["tok", "pos"], ["h"], name="add"),
        helper.make_node("Transpose", ["wte"], ["wte_t"], name="tie", perm=[1, 0]),
        helper.make_node("MatMul", ["h", "wte_t"], ["Y"], name="lm_head"),
    ]
    inits = [weight("wte", (50, 8)), weight("wpe", (16, 8))]
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 3])
    path = save(tmp_path, nodes, [ids], [vinfo("Y", None)], inits)
    (y,) = run_reference(path, {"ids": np.array([[1, 4, 9]], dtype=np.int64)})
    assert y.shape == (1, 3, 50)
    wl = load_onnx(path)
    assert wl["lm_head"] == GemmLayer("lm_head", 3, 8, 50)
    assert wl.op("wte_lookup") == VectorOp("wte_lookup", "Gather", "data_movement", 24, 0)
    assert wl.op("wpe_lookup") == VectorOp("wpe_lookup", "Gather", "data_movement", 24, 16 * 8)
    assert wl.total_params == 50 * 8 + 16 * 8


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


# ---- real transformer exports (tests/fixtures/onnx, made by tools/export_transformers.py) ------

FIXTURES = REPO / "tests" / "fixtures" / "onnx"
WIDTH, HEADS, HEAD, FFN, LAYERS = 768, 12, 64, 3072, 12
BERT_POOLER = WIDTH * WIDTH
GPT2_VOCAB = 50257


def transformer_macs(batch: int, new: int, keys: int) -> int:
    """MACs of one pre- or post-norm transformer block stack (BERT-base, GPT-2 small), written
    out from the architecture: ``new`` tokens per sequence attending to ``keys`` keys."""
    tokens = batch * new
    qkv = 3 * tokens * WIDTH * WIDTH  # query, key and value projections
    scores = batch * HEADS * new * keys * HEAD  # Q K^T, one GEMM per (sequence, head)
    context = batch * HEADS * new * keys * HEAD  # softmax(.) V
    out = tokens * WIDTH * WIDTH  # output projection
    ffn = tokens * WIDTH * FFN + tokens * FFN * WIDTH  # two FFN layers
    return LAYERS * (qkv + scores + context + out + ffn)


def bert_macs(batch: int, seq: int) -> int:
    return transformer_macs(batch, seq, seq) + batch * BERT_POOLER  # pooler on [CLS]


def gpt2_macs(batch: int, new: int, past: int) -> int:
    return transformer_macs(batch, new, past + new) + batch * WIDTH * GPT2_VOCAB  # LM head, last


BERT_SHAPES = {"input_ids": (1, 128), "attention_mask": (1, 128), "token_type_ids": (1, 128)}
# (file, input shapes, zoo model and options, batch, new tokens, keys)
REAL_EXPORTS = [
    ("bert_base_seq128_dynamo", None, ("bert_base", {}), 1, 128, 128),
    ("bert_base_seq128_dynamo_opset18", None, ("bert_base", {}), 1, 128, 128),
    ("bert_base_seq128_torchscript", None, ("bert_base", {}), 1, 128, 128),
    ("bert_base_seq128_torchscript_opset14", None, ("bert_base", {}), 1, 128, 128),
    ("bert_base_dynamic_dynamo", BERT_SHAPES, ("bert_base", {}), 1, 128, 128),
    ("gpt2_prefill128_dynamo", None, ("gpt2_prefill", {"prompt": 128}), 1, 128, 128),
    ("gpt2_prefill128_torchscript", None, ("gpt2_prefill", {"prompt": 128}), 1, 128, 128),
    ("gpt2_decode128_dynamo", None, ("gpt2_decode", {"context": 128}), 1, 1, 129),
    ("gpt2_decode128_torchscript", None, ("gpt2_decode", {"context": 128}), 1, 1, 129),
]


def test_transformer_mac_formulas_give_the_documented_totals() -> None:
    # docs/workloads.md's zoo table
    assert bert_macs(1, 128) == 11_174_215_680
    assert bert_macs(1, 512) == 48_318_971_904
    assert gpt2_macs(1, 128, 0) == 11_212_223_232
    assert gpt2_macs(1, 1, 128) == 125_909_760


@pytest.mark.parametrize(
    ("stem", "shapes", "zoo", "batch", "new", "keys"),
    REAL_EXPORTS,
    ids=[case[0] for case in REAL_EXPORTS],
)
def test_real_transformer_export(
    stem: str,
    shapes: dict[str, tuple[int, ...]] | None,
    zoo: tuple[str, dict[str, int]],
    batch: int,
    new: int,
    keys: int,
) -> None:
    wl = load_onnx(FIXTURES / f"{stem}.onnx", input_shapes=shapes)
    model = get_model(zoo[0], **zoo[1])
    expected = (
        bert_macs(batch, new)
        if stem.startswith("bert")
        else gpt2_macs(batch, new, 128 if new == 1 else 0)
    )
    assert wl.total_macs == expected == model.total_macs
    # layer for layer: the same GEMMs in the same order, weights and activations alike
    assert wl.gemm_shapes() == model.gemm_shapes()
    assert [layer.kind for layer in wl] == [layer.kind for layer in model]
    assert sum(layer.weights for layer in wl) == sum(layer.weights for layer in model)
    attention = [layer for layer in wl if isinstance(layer, MatmulLayer)]
    assert len(attention) == 2 * LAYERS
    assert {layer.gemm() for layer in attention} == {
        (new, HEAD, keys, batch * HEADS),  # scores: Q [S, 64] @ K^T [64, keys] per head
        (new, keys, HEAD, batch * HEADS),  # context: P [S, keys] @ V [keys, 64] per head
    }
    # Linear layers: MatMul + bias Add (or Gemm with C) are GEMMs with their bias
    linear = [layer for layer in wl if not isinstance(layer, MatmulLayer)]
    assert all(layer.groups == 1 for layer in linear)
    assert sum(layer.bias for layer in linear) == sum(layer.bias for layer in model)
    if stem == "gpt2_prefill128_torchscript" or stem == "gpt2_decode128_torchscript":
        # the legacy exporter writes the LM head's filter as its own (transposed) copy of the
        # token embedding: the tie is not in the file, so the table counts twice
        assert wl.total_params == model.total_params + GPT2_VOCAB * WIDTH
    else:
        assert wl.total_params == model.total_params  # 109,482,240 / 124,439,808
    # every op off the array is listed, with its element count
    tokens = batch * new
    ops: dict[str, list[VectorOp]] = {}
    for op in wl.vector_ops:
        assert op.elements is not None, op
        ops.setdefault(op.op, []).append(op)
    softmax = ops["Softmax"]
    assert [op.elements for op in softmax] == [batch * HEADS * new * keys] * LAYERS
    assert all(op.op_class == "softmax" for op in softmax)
    # each softmax follows the attention scores it normalizes
    after = dict((op.name, layer) for op, layer in wl.vector_ops_after())
    for op in softmax:
        assert wl[after[op.name]].gemm() == (new, HEAD, keys, batch * HEADS)
    if "opset14" in stem:  # LayerNorm written out: mean and variance reductions
        assert "LayerNormalization" not in ops
        assert [op.elements for op in ops["ReduceMean"]] == [tokens * WIDTH] * (2 * 2 * LAYERS + 2)
        assert len(ops["Sqrt"]) == 2 * LAYERS + 1
    else:
        norms = ops["LayerNormalization"]
        assert [op.elements for op in norms] == [tokens * WIDTH] * (2 * LAYERS + 1)
        assert all(op.op_class == "normalization" and op.params == 2 * WIDTH for op in norms)
    if stem.startswith("bert"):
        gelu = "Erf" if "opset1" in stem else "Gelu"  # Gelu is an ONNX op from opset 20
        assert [op.elements for op in ops[gelu]] == [tokens * FFN] * LAYERS
        assert all(op.op_class == "activation" for op in ops[gelu])
        assert ops["Tanh"][-1].elements == batch * WIDTH  # the pooler's activation
        tables = sorted(op.params for op in ops["Gather"] if op.params)
        assert tables == [2 * WIDTH, 512 * WIDTH, 30522 * WIDTH]  # token type, position, word
    else:  # GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        assert [op.elements for op in ops["Tanh"]] == [tokens * FFN] * LAYERS
        assert [op.elements for op in ops["Pow"]] == [tokens * FFN] * LAYERS
        tables = sorted(op.params for op in ops["Gather"] if op.params)
        # the token embedding belongs to the LM head (tied) unless the tie was lost
        lost = stem.endswith("torchscript")
        assert tables == ([1024 * WIDTH, GPT2_VOCAB * WIDTH] if lost else [1024 * WIDTH])
    residual = [op for op in ops["Add"] if op.elements == tokens * WIDTH]
    assert len(residual) >= 2 * LAYERS
    if new == 1:  # decode: the KV cache grows by one token per layer, keys and values
        appends = [op for op in ops["Concat"] if op.elements == batch * HEADS * keys * HEAD]
        assert len(appends) == 2 * LAYERS
    # nothing that multiplies matrices is hidden among them
    assert not {"MatMul", "Gemm", "Einsum", "Conv"} & set(ops)


def test_real_transformer_export_runs_like_the_zoo_model() -> None:
    path = FIXTURES / "bert_base_seq128_dynamo.onnx"
    acc = accelsim.Accelerator(rows=32, cols=32)
    result = accelsim.run(str(path), acc, vector=accelsim.VectorUnit(lanes=32))
    assert result.total_macs == 11_174_215_680
    assert result.array_cycles == accelsim.run("bert_base", acc).array_cycles
    assert result.vector_cycles is not None and result.vector_cycles > 0


def test_dynamic_transformer_export_takes_input_shapes() -> None:
    path = FIXTURES / "bert_base_dynamic_dynamo.onnx"
    with pytest.raises(WorkloadError, match=r"\(MatMul\): the shape of .*--input-shape"):
        load_onnx(path)
    for batch, seq in ((2, 64), (1, 512), (3, 7)):
        shapes = dict.fromkeys(BERT_SHAPES, (batch, seq))
        wl = load_onnx(path, input_shapes=shapes)
        model = get_model("bert_base", batch=batch, seq=seq)
        assert wl.total_macs == bert_macs(batch, seq) == model.total_macs
        assert wl.gemm_shapes() == model.gemm_shapes()
        softmax = [op for op in wl.vector_ops if op.op == "Softmax"]
        assert [op.elements for op in softmax] == [batch * HEADS * seq * seq] * LAYERS


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
