"""Workloads: layer shapes (``ConvLayer``, ``GemmLayer``, ``MatmulLayer``), operations off the
array (``VectorOp``), ``Workload``, the model zoo and ONNX import (``load_onnx``)."""

from accelsim.workloads.layers import (
    VECTOR_OP_CLASSES,
    ConvLayer,
    GemmLayer,
    GemmShape,
    Layer,
    MatmulLayer,
    Op,
    VectorOp,
)
from accelsim.workloads.workload import SCALESIM_HEADER, Workload
from accelsim.workloads.zoo import (
    MODEL_SPECS,
    MODELS,
    ModelSpec,
    get_model,
    model_names,
    model_options,
    parse_model_spec,
    register_model,
)

__all__ = [
    "MODELS",
    "MODEL_SPECS",
    "SCALESIM_HEADER",
    "VECTOR_OP_CLASSES",
    "ConvLayer",
    "GemmLayer",
    "GemmShape",
    "Layer",
    "MatmulLayer",
    "ModelSpec",
    "Op",
    "VectorOp",
    "Workload",
    "get_model",
    "model_names",
    "model_options",
    "parse_model_spec",
    "register_model",
]
