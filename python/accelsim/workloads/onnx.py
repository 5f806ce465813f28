"""ONNX import: a :class:`~accelsim.workloads.Workload` from an ``.onnx`` file.

Shapes come from ONNX shape inference (``onnx.shape_inference.infer_shapes`` with data
propagation); the file is read with ``load_external_data=False``, so weights are never loaded
and a graph whose weights live in an absent external file imports all the same.

Matrix work becomes array layers (``docs/workloads.md`` has the rules):

* ``Conv``, ``ConvInteger``, ``QLinearConv`` (1-D and 2-D; pads including asymmetric ones and
  ``auto_pad``, strides, dilations, group) -> :class:`ConvLayer`, a grouped convolution as one
  layer of ``group`` GEMMs.
* ``ConvTranspose`` -> ``group`` GEMMs ``[N*H*W, C/g] @ [C/g, (K/g)*R*S]`` (every input pixel
  times every filter tap, no multiplications by inserted zeros) plus the overlap-add of the
  results (``col2im``) as a vector op.
* ``Gemm`` (transA, transB), ``MatMul``, ``MatMulInteger``, ``QLinearMatMul`` and ``Einsum``
  where it is a matrix product -> :class:`GemmLayer` when one operand is a parameter,
  :class:`MatmulLayer` when both are activations. Batch dimensions that only one operand has
  join that operand's free dimension (M for the left one: one weight tile serves every row;
  N for the right one); batch dimensions both operands have become ``groups`` (separate
  GEMMs, as attention's heads are).

A ``MatMul`` (or ``Gemm`` without ``C``) whose only use is the ``Add`` of one value per output
column is a GEMM with that bias (PyTorch's ``Linear`` as exporters write it).

Everything else that runs is a :class:`VectorOp` with its element count. Nodes computed from
constants and shapes only (shape arithmetic) are folded away as any inference compiler would;
where ONNX's data propagation cannot follow them (``Where``, ``Equal``, ``ConstantOfShape``,
``Range``, ...) they are evaluated with ONNX's reference implementation and shapes inferred
again. A view of a parameter (``Transpose``, ``Identity``, ...) is that parameter, counted once
(a filter shared with a vector op, as a tied embedding, belongs to the matrix layer); a node
computing on parameters (an embedding looked up at constant positions) is listed.
A matrix op whose shapes are unknown (a dynamic dimension: give ``input_shapes``) or which
cannot be mapped is a :class:`WorkloadError` naming the node.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from accelsim.errors import WorkloadError
from accelsim.workloads.layers import ConvLayer, GemmLayer, MatmulLayer, Op, VectorOp
from accelsim.workloads.workload import Workload

__all__ = ["VECTOR_OP_TYPES", "load_onnx", "parse_input_shape"]

_INSTALL = "ONNX import needs the onnx package: pip install 'accelsim[onnx]'"


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise WorkloadError(_INSTALL) from None
    return onnx


_VECTOR_CLASSES: dict[str, list[str]] = {
    "elementwise": (
        "Add Sub Mul Div Pow Max Min Mean Sum Relu LeakyRelu PRelu Clip Abs Neg Sqrt Reciprocal "
        "Floor Ceil Round Sign Where Equal Greater Less GreaterOrEqual LessOrEqual And Or Not Xor "
        "BitShift Mod ThresholdedRelu Cast CastLike QuantizeLinear DequantizeLinear "
        "DynamicQuantizeLinear IsNaN IsInf BitwiseAnd BitwiseOr BitwiseXor BitwiseNot"
    ).split(),
    "activation": (
        "Sigmoid Tanh Exp Log Erf Gelu FastGelu BiasGelu Elu Selu Celu Softplus Softsign "
        "HardSigmoid HardSwish Mish Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh Swish"
    ).split(),
    "pooling": "MaxPool AveragePool LpPool MaxRoiPool RoiAlign MaxUnpool".split(),
    "reduction": (
        "GlobalAveragePool GlobalMaxPool GlobalLpPool ReduceMean ReduceSum ReduceMax ReduceMin "
        "ReduceProd ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceSumSquare ArgMax ArgMin "
        "CumSum TopK"
    ).split(),
    "normalization": (
        "BatchNormalization LayerNormalization GroupNormalization InstanceNormalization "
        "LpNormalization LRN MeanVarianceNormalization SimplifiedLayerNormalization "
        "SkipLayerNormalization SkipSimplifiedLayerNormalization RMSNormalization"
    ).split(),
    "softmax": "Softmax LogSoftmax Hardmax".split(),
    "data_movement": (
        "Transpose Concat Split Slice Gather GatherElements GatherND Scatter ScatterND "
        "ScatterElements Pad Expand Tile Resize Upsample DepthToSpace SpaceToDepth Compress "
        "OneHot NonZero Trilu ReverseSequence Col2Im CenterCropPad"
    ).split(),
    "reshape": "Reshape Flatten Squeeze Unsqueeze Identity Dropout".split(),
}

#: ONNX operator -> vector op class, for the operators off the array accelsim knows (any other
#: operator that is not matrix work is class ``other``).
VECTOR_OP_TYPES: dict[str, str] = {op: cls for cls, ops in _VECTOR_CLASSES.items() for op in ops}

_POOLING_WINDOW = frozenset(("MaxPool", "AveragePool", "LpPool"))
_INPUT_COUNTED = frozenset(
    _VECTOR_CLASSES["reduction"] + _VECTOR_CLASSES["normalization"] + _VECTOR_CLASSES["softmax"]
)
# Matrix work accelsim does not map: an error rather than a silent omission.
_UNMAPPED_MATRIX = frozenset(
    (
        "LSTM GRU RNN Attention MultiHeadAttention DeformConv QAttention "
        "ConvTransposeWithDynamicPads"
    ).split()
)
_FOLDABLE_SOURCES = frozenset(("Constant", "Shape", "Size"))
# Ops that pass a tensor's elements through unchanged (a parameter seen through them is the
# same parameter).
_VIEWS = frozenset(
    "Identity Transpose Reshape Flatten Squeeze Unsqueeze Cast CastLike DequantizeLinear".split()
)

_SHAPE_RE = re.compile(r"\s*([^=]+?)\s*=\s*(\d+(?:\s*[xX,]\s*\d+)*)\s*")


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``"input=1x3x224x224"`` as ``("input", (1, 3, 224, 224))``."""
    match = _SHAPE_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise WorkloadError(
            f"input-shape: expected NAME=DIMS such as input=1x3x224x224, got {text!r}"
        )
    dims = tuple(int(d) for d in re.split(r"\s*[xX,]\s*", match.group(2)))
    if any(d < 1 for d in dims):
        raise WorkloadError(f"input-shape: every dimension must be positive, got {text!r}")
    return match.group(1), dims


Shape = tuple[int | None, ...]


def _dims(type_proto: Any) -> Shape | None:
    """The dims of a tensor type (``None`` for an unknown dim), or ``None`` if unranked."""
    if not type_proto.HasField("tensor_type"):
        return None
    tensor = type_proto.tensor_type
    if not tensor.HasField("shape"):
        return None
    return tuple(
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
        for d in tensor.shape.dim
    )


def _fmt(shape: Shape | None) -> str:
    if shape is None:
        return "unknown rank"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _attrs(onnx: Any, node: Any) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class _Graph:
    """Shapes and constness of the tensors of a shape-inferred graph."""

    def __init__(self, onnx: Any, model: Any, source: str) -> None:
        self.source = source
        graph = model.graph
        self.shapes: dict[str, Shape | None] = {}
        # Elements of each parameter: initializers and constants of a numeric type that holds
        # weights (integer index and shape constants such as a Reshape's shape are not).
        self.sizes: dict[str, int] = {}
        self.static: set[str] = set()
        not_params = {
            onnx.TensorProto.INT64,
            onnx.TensorProto.INT32,
            onnx.TensorProto.BOOL,
            onnx.TensorProto.STRING,
        }
        for init in graph.initializer:
            self.shapes[init.name] = tuple(int(d) for d in init.dims)
            if init.data_type not in not_params:
                self.sizes[init.name] = math.prod(int(d) for d in init.dims)
            self.static.add(init.name)
        initializers = set(self.static)
        self.inputs = [i for i in graph.input if i.name not in initializers]
        for info in (*graph.input, *graph.value_info, *graph.output):
            if info.name not in initializers:
                self.shapes[info.name] = _dims(info.type)
        for node in graph.node:
            if node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value" and attr.HasField("t"):
                        dims = tuple(int(d) for d in attr.t.dims)
                        self.shapes.setdefault(node.output[0], dims)
                        if attr.t.data_type not in not_params:
                            self.sizes[node.output[0]] = math.prod(dims)

        # A folded view of a parameter (Identity, Transpose, ...) -> the tensor it views.
        self.alias: dict[str, str] = {}
        # Parameters read by matrix layers (their roots), and each vector op's parameters.
        self.filters: set[str] = set()
        self.vector_inputs: dict[str, list[str]] = {}

    def fold(self, node: Any) -> None:
        """Mark the outputs of a node computed from constants only as constants; a view of a
        parameter (``Identity``, ``Transpose``, ``Reshape``, ...) stays that parameter."""
        outputs = [o for o in node.output if o]
        self.static.update(outputs)
        if node.op_type in _VIEWS and node.input and node.input[0] in self.sizes and outputs:
            self.sizes[outputs[0]] = self.sizes[node.input[0]]
            self.alias[outputs[0]] = self.root(node.input[0])

    def computes_on_params(self, node: Any) -> bool:
        """Whether ``node`` computes on parameters (a position embedding looked up at constant
        positions): work the graph does, listed, unlike shape arithmetic and views."""
        return node.op_type not in _VIEWS and any(self.sizes.get(i, 0) > 1 for i in node.input if i)

    def root(self, name: str) -> str:
        return self.alias.get(name, name)

    def vector_params(self, op_name: str) -> int:
        return sum(
            self.sizes[i] for i in self.vector_inputs[op_name] if self.root(i) not in self.filters
        )

    def shape(self, name: str) -> Shape | None:
        return self.shapes.get(name)

    def known(self, name: str) -> tuple[int, ...] | None:
        shape = self.shapes.get(name)
        if shape is None or any(d is None for d in shape):
            return None
        return tuple(d for d in shape if d is not None)

    def need(self, node_name: str, op: str, tensor: str) -> tuple[int, ...]:
        """The fully known shape of ``tensor``, or an error naming the node."""
        shape = self.known(tensor)
        if shape is None:
            inputs = ", ".join(f"{i.name}{_fmt(_dims(i.type))}" for i in self.inputs)
            raise WorkloadError(
                f"{self.source}: node {node_name!r} ({op}): the shape of {tensor!r} is not "
                f"known ({_fmt(self.shapes.get(tensor))}), so its MACs cannot be counted; give "
                f"the graph inputs' shapes with --input-shape NAME=DIMS (input_shapes=...); "
                f"graph inputs: {inputs or 'none'}"
            )
        return shape

    def elements(self, name: str) -> int | None:
        shape = self.known(name)
        return None if shape is None else math.prod(shape)


def load_onnx(
    path: str | Path,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    name: str | None = None,
) -> Workload:
    """The workload of the ONNX model at ``path``.

    Args:
        path: an ``.onnx`` file; its weights are not loaded (they may be absent).
        input_shapes: ``{input name: dims}`` for graph inputs with dynamic (or other) dims.
        name: the workload's name (default: ``path`` as given).

    Raises:
        WorkloadError: the file cannot be read, an input shape does not fit the graph, or a
            matrix op's shapes are unknown or cannot be mapped (the message names the node).
    """
    onnx = _onnx()
    source = str(path)
    try:
        model = onnx.load(source, load_external_data=False)
    except FileNotFoundError:
        raise WorkloadError(f"cannot read ONNX model {source!r}: no such file") from None
    except OSError as exc:
        raise WorkloadError(f"cannot read ONNX model {source!r}: {exc.strerror or exc}") from None
    except Exception as exc:  # protobuf's DecodeError and friends
        raise WorkloadError(f"{source!r} is not an ONNX model: {exc}") from None
    _set_input_shapes(model, input_shapes or {}, source)
    inferred = _infer(onnx, model, source)
    # ONNX's data propagation follows shape arithmetic through a few ops only (Shape, Gather,
    # Slice, Concat, ...); exporters also compute shapes with Where, Equal, ConstantOfShape,
    # Range, Expand and more (the TorchScript exporter's attention masks do), leaving a batch or
    # sequence dim unknown downstream. Evaluate what is computed from constants and known
    # shapes, and infer again, until nothing more folds.
    for _ in range(_FOLD_ROUNDS):
        if not _fold_constants(onnx, model, inferred):
            break
        inferred = _infer(onnx, model, source)
    return _import(onnx, inferred, source, name or source)


def _infer(onnx: Any, model: Any, source: str) -> Any:
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as exc:
        raise WorkloadError(f"{source}: ONNX shape inference failed: {exc}") from None


_FOLD_ROUNDS = 8
# Largest tensor (elements) evaluated while folding: shape tensors and small masks, never weights.
_FOLD_LIMIT = 1 << 16


def _fold_constants(onnx: Any, model: Any, inferred: Any) -> bool:
    """Replace the nodes of ``model`` computed from constants and known shapes only by
    ``Constant`` nodes holding their values (evaluated with ONNX's reference implementation).

    ``Shape`` and ``Size`` read the shapes of ``inferred`` (the same graph, shape-inferred);
    other nodes are evaluated when every input is an integer or boolean constant (or a scalar)
    of at most ``_FOLD_LIMIT`` elements (initializers whose data is in the file, ``Constant``
    outputs, folded outputs), and replaced when their outputs are too. Such nodes are shape
    arithmetic, which the importer leaves out anyway: folding them only lets shape inference
    see their values. Nodes that read parameters (floating-point tensors) are left alone: the
    importer lists computations on parameters and follows views of them.
    Returns whether any node was replaced.
    """
    import numpy as np
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    external = onnx.TensorProto.EXTERNAL
    initializers = {i.name: i for i in graph.initializer}
    shapes = {
        info.name: _dims(info.type)
        for info in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output)
    }
    for init in graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    opsets = {o.domain or "": o.version for o in model.opset_import}
    subgraph = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
    values: dict[str, Any] = {}

    def shape_data(array: Any) -> bool:
        return (
            isinstance(array, np.ndarray)
            and (array.dtype.kind in "iub" or (array.dtype.kind == "f" and array.size <= 1))
            and array.size <= _FOLD_LIMIT
        )

    def value(tensor: str) -> Any:
        if tensor not in values:
            init = initializers.get(tensor)
            if init is None or init.data_location == external:
                return None
            if math.prod(int(d) for d in init.dims) > _FOLD_LIMIT:
                return None
            try:
                array = onnx.numpy_helper.to_array(init)
            except Exception:
                return None
            if not shape_data(array):
                return None
            values[tensor] = array
        return values[tensor]

    def evaluate(node: Any) -> list[Any] | None:
        op = node.op_type
        if op in ("Shape", "Size"):
            shape = shapes.get(node.input[0])
            if shape is None or any(d is None for d in shape):
                return None
            if op == "Size":
                return [np.array(math.prod(d for d in shape if d is not None), dtype=np.int64)]
            attrs = _attrs(onnx, node)
            start, end = attrs.get("start", 0), attrs.get("end", len(shape))
            return [np.array(shape[start:end], dtype=np.int64)]  # ONNX clamps like Python
        if op == "Constant" and node.attribute and node.attribute[0].name == "value":
            tensor = node.attribute[0].t
            if tensor.data_location == external:
                return None  # data in an external file, perhaps absent: a weight
            try:
                return [onnx.numpy_helper.to_array(tensor)]
            except Exception:
                return None
        feeds = {}
        for tensor in node.input:
            if tensor:
                feeds[tensor] = value(tensor)
                if feeds[tensor] is None:
                    return None
        if not feeds and op != "Constant":
            return None  # a generator (RandomNormal, ...)
        try:
            outputs = ReferenceEvaluator(node, opsets=opsets).run(None, feeds)
        except Exception:
            return None  # an op the reference implementation cannot run: leave it
        return list(outputs)

    nodes: list[Any] = []
    folded: set[str] = set()
    for node in graph.node:
        results = None
        if node.domain in ("", "ai.onnx") and not any(a.type in subgraph for a in node.attribute):
            results = evaluate(node)
        if results is None or not all(shape_data(r) for r in results):
            nodes.append(node)
            continue
        values.update(zip(node.output, results, strict=False))
        if node.op_type == "Constant":
            nodes.append(node)
            continue
        for output, result in zip(node.output, results, strict=False):
            if output:
                tensor = onnx.numpy_helper.from_array(np.asarray(result), output)
                nodes.append(
                    onnx.helper.make_node(
                        "Constant", [], [output], name=node.name or output, value=tensor
                    )
                )
                folded.add(output)
    if not folded:
        return False
    del graph.node[:]
    graph.node.extend(nodes)
    stale = [info for info in graph.value_info if info.name in folded]
    for info in stale:
        graph.value_info.remove(info)
    return True


def _set_input_shapes(model: Any, shapes: Mapping[str, Sequence[int]], source: str) -> None:
    initializers = {i.name for i in model.graph.initializer}
    inputs = {i.name: i for i in model.graph.input if i.name not in initializers}
    for input_name, dims in shapes.items():
        if input_name not in inputs:
            raise WorkloadError(
                f"input-shape: {source} has no input {input_name!r}; valid choices: "
                f"{', '.join(inputs) or 'none'}"
            )
        info = inputs[input_name]
        dims = tuple(int(d) for d in dims)
        if any(d < 1 for d in dims):
            raise WorkloadError(f"input-shape: every dimension of {input_name!r} must be > 0")
        old = _dims(info.type)
        if old is not None and len(old) != len(dims):
            raise WorkloadError(
                f"input-shape: input {input_name!r} of {source} has rank {len(old)} "
                f"({_fmt(old)}), got {len(dims)} dims {list(dims)}"
            )
        shape = info.type.tensor_type.shape
        shape.ClearField("dim")
        for d in dims:
            shape.dim.add().dim_value = d


def _unique(base: str, used: set[str]) -> str:
    name, i = base, 1
    while name in used:
        i += 1
        name = f"{base}_{i}"
    used.add(name)
    return name


def _import(onnx: Any, model: Any, source: str, name: str) -> Workload:
    g = _Graph(onnx, model, source)
    ops: list[Op] = []
    used: set[str] = set()
    consumers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    graph_outputs = {o.name for o in model.graph.output}
    fused: set[int] = set()  # ids of bias Adds folded into the matrix layer before them
    for index, node in enumerate(model.graph.node):
        if id(node) in fused:
            continue
        inputs = [i for i in node.input if i]
        if node.op_type in _FOLDABLE_SOURCES or (
            inputs and all(i in g.static for i in inputs) and not g.computes_on_params(node)
        ):
            g.fold(node)  # shape arithmetic, or a view of a parameter: folded
            continue
        if not inputs and node.op_type not in VECTOR_OP_TYPES:
            g.static.update(o for o in node.output if o)  # a generator (ConstantOfShape...)
            continue
        node_name = _unique(node.name or f"{node.op_type}_{index}", used)
        mapped = _map_node(onnx, g, node, node_name)
        if node.op_type in _MATRIX_OPS:
            g.filters.update(g.root(i) for i in node.input if i in g.static)
        if len(mapped) == 1 and type(mapped[0]) is GemmLayer and not mapped[0].bias:
            add = _bias_add(g, mapped[0], node, consumers, graph_outputs)
            if add is not None:
                fused.add(id(add))
                mapped = [dataclasses.replace(mapped[0], bias=True)]
        ops.extend(mapped)
    # A parameter that is also a matrix layer's filter (GPT-2's token embedding, tied to the LM
    # head) belongs to that layer: the vector ops that read it do not count it again.
    ops = [
        dataclasses.replace(op, params=g.vector_params(op.name))
        if isinstance(op, VectorOp) and op.name in g.vector_inputs
        else op
        for op in ops
    ]
    if not any(not isinstance(op, VectorOp) for op in ops):
        raise WorkloadError(
            f"{source}: no matrix work (Conv, ConvTranspose, Gemm, MatMul, Einsum) to run on "
            f"the array; {len(ops)} other op(s)"
        )
    return Workload(name, ops)


_MATRIX_OPS = frozenset(
    "Conv ConvInteger QLinearConv ConvTranspose Gemm MatMul MatMulInteger QLinearMatMul "
    "FusedMatMul Einsum".split()
)


def _bias_add(
    g: _Graph, layer: GemmLayer, node: Any, consumers: Mapping[str, list[Any]], outputs: set[str]
) -> Any:
    """The ``Add`` of a bias vector to the output of ``node`` (a ``MatMul`` or ``Gemm`` with a
    parameter filter and no bias), if that is the only use of the output: exporters write
    PyTorch's ``Linear`` as ``MatMul`` + ``Add``, which is a GEMM with a bias (as ``Gemm``'s
    ``C`` is). ``None`` otherwise."""
    out = node.output[0]
    users = consumers.get(out, [])
    if len(users) != 1 or out in outputs or layer.groups != 1:
        return None
    add = users[0]
    if add.op_type != "Add" or len(add.input) != 2:
        return None
    bias = add.input[1] if add.input[0] == out else add.input[0]
    shape = g.known(bias)
    if bias == out or bias not in g.static or bias not in g.sizes or shape is None:
        return None
    if not shape or shape[-1] != layer.n or math.prod(shape) != layer.n:
        return None  # not one value per output column
    if g.known(add.output[0]) != g.known(out):
        return None  # the add broadcasts the product: not a bias
    return add


def _map_node(onnx: Any, g: _Graph, node: Any, name: str) -> list[Op]:
    op = node.op_type
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        return _conv(onnx, g, node, name)
    if op == "ConvTranspose":
        return _conv_transpose(onnx, g, node, name)
    if op == "Gemm":
        return _gemm(onnx, g, node, name)
    if op in ("MatMul", "MatMulInteger", "QLinearMatMul", "FusedMatMul"):
        a, b = (node.input[0], node.input[3]) if op == "QLinearMatMul" else node.input[:2]
        attrs = _attrs(onnx, node) if op == "FusedMatMul" else {}
        return [_matmul(g, name, op, a, b, bool(attrs.get("transA")), bool(attrs.get("transB")))]
    if op == "Einsum":
        return _einsum(onnx, g, node, name)
    if op in _UNMAPPED_MATRIX or (op.startswith("Conv") and op not in VECTOR_OP_TYPES):
        raise WorkloadError(
            f"{g.source}: node {name!r} ({op}) is matrix work accelsim cannot map; supported: "
            "Conv, ConvInteger, QLinearConv, ConvTranspose, Gemm, MatMul, MatMulInteger, "
            "QLinearMatMul, Einsum (matrix products)"
        )
    return [_vector(onnx, g, node, name)]


def _vector(onnx: Any, g: _Graph, node: Any, name: str) -> VectorOp:
    op = node.op_type
    op_class = VECTOR_OP_TYPES.get(op, "other")
    out = node.output[0] if node.output else ""
    elements: int | None
    if op in _INPUT_COUNTED and node.input:
        elements = g.elements(node.input[0])
    else:
        elements = g.elements(out)
    if op in _POOLING_WINDOW and elements is not None:
        kernel = _attrs(onnx, node).get("kernel_shape")
        elements = elements * math.prod(kernel) if kernel else None
    # Parameters: the static tensors of a numeric type it reads (an embedding table, a
    # normalization's scale and shift, a bias), other than one-element constants of its formula
    # (GELU's 0.5, attention's 1/sqrt(d)).
    params = [i for i in dict.fromkeys(node.input) if i in g.static and g.sizes.get(i, 0) > 1]
    g.vector_inputs[name] = params
    return VectorOp(name, op, op_class, elements, sum(g.sizes[i] for i in params))


def _conv(onnx: Any, g: _Graph, node: Any, name: str) -> list[Op]:
    op = node.op_type
    x_in, w_in, bias_in = {
        "Conv": (0, 1, 2),
        "ConvInteger": (0, 1, None),
        "QLinearConv": (0, 3, 8),
    }[op]
    x = g.need(name, op, node.input[x_in])
    w = g.need(name, op, node.input[w_in])
    spatial = len(x) - 2
    if spatial not in (1, 2) or len(w) != len(x):
        raise WorkloadError(
            f"{g.source}: node {name!r} ({op}): only 1-D and 2-D convolutions are mapped, got "
            f"input {list(x)} and filter {list(w)}"
        )
    attrs = _attrs(onnx, node)
    group = int(attrs.get("group", 1))
    n, c, k = x[0], x[1], w[0]
    if w[1] * group != c:
        raise WorkloadError(
            f"{g.source}: node {name!r} ({op}): filter {list(w)} with group={group} does not "
            f"fit {c} input channels"
        )
    kernel = [int(v) for v in attrs.get("kernel_shape", w[2:])]
    strides = [int(v) for v in attrs.get("strides", [1] * spatial)]
    dilations = [int(v) for v in attrs.get("dilations", [1] * spatial)]
    pads = _pads(attrs, x[2:], kernel, strides, dilations)
    has_bias = bias_in is not None and len(node.input) > bias_in and node.input[bias_in] in g.static
    if spatial == 1:
        layer = ConvLayer(
            name,
            n,
            c,
            k,
            1,
            x[2],
            1,
            kernel[0],
            (1, strides[0]),
            (0, 0, pads[0], pads[1]),
            (1, dilations[0]),
            group,
            has_bias,
        )
    else:
        layer = ConvLayer(
            name,
            n,
            c,
            k,
            x[2],
            x[3],
            kernel[0],
            kernel[1],
            (strides[0], strides[1]),
            (pads[0], pads[2], pads[1], pads[3]),
            (dilations[0], dilations[1]),
            group,
            has_bias,
        )
    out = g.known(node.output[0])
    expected = (n, k, layer.q) if spatial == 1 else (n, k, layer.p, layer.q)
    if out is not None and out != expected:
        raise WorkloadError(
            f"{g.source}: node {name!r} ({op}): the output shape inferred by ONNX, {list(out)}, "
            f"differs from the one computed from the attributes, {list(expected)}"
        )
    return [layer]


def _pads(
    attrs: Mapping[str, Any],
    size: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> list[int]:
    """ONNX pads ``[begin_0, begin_1, ..., end_0, end_1, ...]``, resolving ``auto_pad``."""
    spatial = len(size)
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto in ("NOTSET", ""):
        return [int(v) for v in attrs.get("pads", [0] * (2 * spatial))]
    if auto == "VALID":
        return [0] * (2 * spatial)
    begins, ends = [], []
    for i in range(spatial):
        out = -(-size[i] // strides[i])
        total = max(0, (out - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1 - size[i])
        small, large = total // 2, total - total // 2
        begins.append(small if auto == "SAME_UPPER" else large)
        ends.append(large if auto == "SAME_UPPER" else small)
    return begins + ends


def _conv_transpose(onnx: Any, g: _Graph, node: Any, name: str) -> list[Op]:
    op = node.op_type
    x = g.need(name, op, node.input[0])
    w = g.need(name, op, node.input[1])
    if len(x) - 2 not in (1, 2) or len(w) != len(x):
        raise WorkloadError(
            f"{g.source}: node {name!r} ({op}): only 1-D and 2-D transposed convolutions are "
            f"mapped, got input {list(x)} and filter {list(w)}"
        )
    attrs = _attrs(onnx, node)
    group = int(attrs.get("group", 1))
    n, c = x[0], x[1]
    if w[0] != c or c % group:
        raise WorkloadError(
            f"{g.source}: node {name!r} ({op}): filter {list(w)} with group={group} does not "
            f"fit {c} input channels"
        )
    k_per_group = w[1]
    pixels, taps = math.prod(x[2:]), math.prod(w[2:])
    gemm = (n * pixels, c // group, k_per_group * taps)
    a_static = node.input[0] in g.static
    layer: GemmLayer = (MatmulLayer if a_static else GemmLayer)(name, *gemm, group)
    bias = len(node.input) > 2 and node.input[2] in g.static
    col2im = VectorOp(
        f"{name}.col2im",
        "Col2Im",
        "elementwise",
        n * pixels * k_per_group * group * taps,
        k_per_group * group if bias else 0,
    )
    return [layer, col2im]


def _gemm(onnx: Any, g: _Graph, node: Any, name: str) -> list[Op]:
    attrs = _attrs(onnx, node)
    a_in, b_in = node.input[0], node.input[1]
    a = g.need(name, "Gemm", a_in)
    b = g.need(name, "Gemm", b_in)
    if len(a) != 2 or len(b) != 2:
        raise WorkloadError(
            f"{g.source}: node {name!r} (Gemm): inputs must be 2-D, got {list(a)} and {list(b)}"
        )
    m, k = (a[1], a[0]) if attrs.get("transA") else a
    k2, n = (b[1], b[0]) if attrs.get("transB") else b
    if k != k2:
        raise WorkloadError(
            f"{g.source}: node {name!r} (Gemm): inner dimensions differ, {k} and {k2}"
        )
    ops: list[Op] = []
    c_in = node.input[2] if len(node.input) > 2 and node.input[2] else None
    a_param, b_param = a_in in g.static, b_in in g.static
    bias_size = g.sizes.get(c_in, -1) if c_in is not None and c_in in g.static else -1
    if b_param or not a_param:
        cls = GemmLayer if b_param else MatmulLayer
        folded_bias = b_param and bias_size == n
        ops.append(cls(name, m, k, n, bias=folded_bias))
    else:  # the left operand is the parameter: compute the transposed product
        folded_bias = bias_size == m
        ops.append(GemmLayer(name, n, k, m, bias=folded_bias))
    if c_in is not None and not folded_bias:
        params = max(bias_size, 0)
        ops.append(VectorOp(f"{name}.bias", "Add", "elementwise", m * n, params))
    return ops


def _matmul(
    g: _Graph,
    name: str,
    op: str,
    a_in: str,
    b_in: str,
    trans_a: bool = False,
    trans_b: bool = False,
) -> GemmLayer:
    a = list(g.need(name, op, a_in))
    b = list(g.need(name, op, b_in))
    if trans_a and len(a) >= 2:
        a[-1], a[-2] = a[-2], a[-1]
    if trans_b and len(b) >= 2:
        b[-1], b[-2] = b[-2], b[-1]
    if not a or not b:
        raise WorkloadError(f"{g.source}: node {name!r} ({op}): scalar operands")
    a2 = [1, *a] if len(a) == 1 else a
    b2 = [*b, 1] if len(b) == 1 else b
    m, k = a2[-2], a2[-1]
    k2, n = b2[-2], b2[-1]
    if k != k2:
        raise WorkloadError(f"{g.source}: node {name!r} ({op}): inner dimensions differ, {a} @ {b}")
    batch_a, batch_b = a2[:-2], b2[:-2]
    rank = max(len(batch_a), len(batch_b))
    batch_a = [1] * (rank - len(batch_a)) + batch_a
    batch_b = [1] * (rank - len(batch_b)) + batch_b
    groups = 1
    for da, db in zip(batch_a, batch_b, strict=True):
        if da == db:
            groups *= da
        elif db == 1:
            m *= da  # only the left operand varies: its rows share the right operand
        elif da == 1:
            n *= db  # only the right operand varies: its columns share the left operand
        else:
            raise WorkloadError(
                f"{g.source}: node {name!r} ({op}): batch dimensions {a} and {b} do not broadcast"
            )
    a_param, b_param = a_in in g.static, b_in in g.static
    if b_param:
        return GemmLayer(name, m, k, n, groups)
    if a_param:
        return GemmLayer(name, n, k, m, groups)  # (A B)^T = B^T A^T: A is the filter
    return MatmulLayer(name, m, k, n, groups)


def _einsum(onnx: Any, g: _Graph, node: Any, name: str) -> list[Op]:
    equation = _attrs(onnx, node).get("equation", b"")
    equation = equation.decode() if isinstance(equation, bytes) else str(equation)
    equation = equation.replace(" ", "")
    if len(node.input) == 1:
        return [_vector(onnx, g, node, name)]  # a transpose, trace or reduction of one tensor
    if len(node.input) != 2:
        raise WorkloadError(
            f"{g.source}: node {name!r} (Einsum): {equation!r} has {len(node.input)} operands; "
            "only products of two operands are mapped"
        )
    shapes = [g.need(name, "Einsum", i) for i in node.input]
    lhs, arrow, out = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != 2:
        raise WorkloadError(f"{g.source}: node {name!r} (Einsum): bad equation {equation!r}")
    # Expand "..." into fresh upper-case letters (broadcast dims, aligned from the right).
    sizes: dict[str, int] = {}
    expanded: list[str] = []
    ell = max(
        (
            len(s) - len(t.replace("...", ""))
            for t, s in zip(terms, shapes, strict=True)
            if "..." in t
        ),
        default=0,
    )
    fresh = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:ell]
    for term, shape in zip(terms, shapes, strict=True):
        if "..." in term:
            own = len(shape) - len(term.replace("...", ""))
            term = term.replace("...", fresh[ell - own :])
        if len(term) != len(shape):
            raise WorkloadError(
                f"{g.source}: node {name!r} (Einsum): {equation!r} does not fit shape {list(shape)}"
            )
        if len(set(term)) != len(term):
            raise WorkloadError(
                f"{g.source}: node {name!r} (Einsum): {equation!r} takes a diagonal; only matrix "
                "products are mapped"
            )
        for letter, size in zip(term, shape, strict=True):
            if sizes.get(letter, 1) != 1 and size not in (1, sizes[letter]):
                raise WorkloadError(
                    f"{g.source}: node {name!r} (Einsum): index {letter!r} has sizes "
                    f"{sizes[letter]} and {size}"
                )
            sizes[letter] = max(sizes.get(letter, 1), size)
        expanded.append(term)
    if not arrow:  # implicit output: the indices that appear once, in alphabetical order
        counts = "".join(expanded)
        out = fresh + "".join(
            sorted(c for c in set(counts) if counts.count(c) == 1 and c not in fresh)
        )
    else:
        out = out.replace("...", fresh)
    a_idx, b_idx = set(expanded[0]), set(expanded[1])
    if any(c not in a_idx | b_idx for c in out):
        raise WorkloadError(f"{g.source}: node {name!r} (Einsum): bad equation {equation!r}")
    summed_alone = [c for c in a_idx ^ b_idx if c not in out]
    if summed_alone:
        raise WorkloadError(
            f"{g.source}: node {name!r} (Einsum): {equation!r} sums index "
            f"{summed_alone[0]!r} within one operand; only matrix products are mapped"
        )
    m = math.prod(sizes[c] for c in a_idx - b_idx)
    n = math.prod(sizes[c] for c in b_idx - a_idx)
    k = math.prod(sizes[c] for c in a_idx & b_idx if c not in out)
    groups = math.prod(sizes[c] for c in a_idx & b_idx if c in out)
    if m == n == k == 1:  # element-wise product of two tensors
        return [VectorOp(name, "Einsum", "elementwise", groups)]
    a_param, b_param = node.input[0] in g.static, node.input[1] in g.static
    if b_param:
        return [GemmLayer(name, m, k, n, groups)]
    if a_param:
        return [GemmLayer(name, n, k, m, groups)]
    return [MatmulLayer(name, m, k, n, groups)]
