"""Workloads: layer shapes (``ConvLayer``, ``GemmLayer``), ``Workload`` and the model zoo."""

from accelsim.workloads.layers import ConvLayer, GemmLayer, GemmShape, Layer
from accelsim.workloads.workload import Workload
from accelsim.workloads.zoo import MODELS, get_model, model_names, register_model

__all__ = [
    "MODELS",
    "ConvLayer",
    "GemmLayer",
    "GemmShape",
    "Layer",
    "Workload",
    "get_model",
    "model_names",
    "register_model",
]
