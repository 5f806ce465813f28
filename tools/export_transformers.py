"""Export BERT-base and GPT-2 small to ONNX, weightless, as import fixtures for accelsim.

Not run by CI (CI has no torch). Run it in a throwaway virtualenv outside the repository:

    python3 -m venv /tmp/export-venv
    /tmp/export-venv/bin/pip install torch transformers onnx onnxscript
    /tmp/export-venv/bin/python tools/export_transformers.py [--out tests/fixtures/onnx]

Every model is built from its Hugging Face config with random initialisation (nothing is
downloaded) and exported with ``torch.onnx.export``, once with the dynamo exporter
(``dynamo=True``, the default) and once with the legacy TorchScript one (``dynamo=False``).
The exported graphs are kept as the exporter wrote them, except that

* every initializer larger than ``--inline-bytes`` bytes is pointed at an absent external file
  (``weights.absent``) with onnx's external-data fields: the file keeps every tensor's name, type
  and dims but no data, so it is small and accelsim (which never loads weights) imports it as is;
* node ``doc_string``s and ``metadata_props`` (the dynamo exporter's source locations and module
  stack, which would make up most of the file) are dropped.

Models (batch 1):

* ``bert_base_seq128``: ``BertModel(BertConfig())`` (bert-base-uncased's shape, with pooler),
  inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` of ``[1, 128]``.
* ``gpt2_prefill128``: ``GPT2LMHeadModel(GPT2Config())`` (gpt2, 124M) on a 128-token prompt,
  ``use_cache=False``, ``logits_to_keep=1`` (the LM head on the last token, as generation runs
  it).
* ``gpt2_decode128``: one new token with a 128-token KV cache given as 24 inputs
  ``past_key_i``/``past_value_i`` of ``[1, 12, 128, 64]``; outputs the logits and the 24
  updated cache tensors ``[1, 12, 129, 64]``.

The dynamo BERT export also exists with dynamic batch and sequence dims
(``bert_base_dynamic``): accelsim needs ``input_shapes`` for it.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import torch
import transformers
from onnx import external_data_helper

ABSENT = "weights.absent"


class Gpt2Decode(torch.nn.Module):
    """GPT-2 with its KV cache as plain tensors: ``input_ids, attention_mask, k_0, v_0, ...``."""

    def __init__(self, model: torch.nn.Module, layers: int) -> None:
        super().__init__()
        self.model = model
        self.layers = layers

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *past: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        cache = transformers.DynamicCache(config=self.model.config)
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        present = out.past_key_values
        flat: list[torch.Tensor] = []
        for i in range(self.layers):
            layer = present.layers[i]
            flat += [layer.keys, layer.values]
        return (out.logits, *flat)


class Gpt2Prefill(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.model(
            input_ids=input_ids, attention_mask=attention_mask, use_cache=False, logits_to_keep=1
        )
        return out.logits


class Bert(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        return out.last_hidden_state, out.pooler_output


def randomized(model: torch.nn.Module) -> torch.nn.Module:
    """Every parameter drawn from N(0, 0.02), biases and normalization weights included.

    A fresh model has zero biases and unit normalization scales, and the exporters take
    advantage of that: the dynamo exporter's optimizer drops a ``Gemm``'s all-zero ``C``, and
    the TorchScript exporter shares equal initializers through ``Identity`` nodes. Trained
    weights have neither, so neither should the fixtures.
    """
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.02)
    return model.eval()


def bert(seq: int) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...], list[str], list[str]]:
    model = randomized(transformers.BertModel(transformers.BertConfig()))
    ids = torch.randint(0, 30522, (1, seq))
    args = (ids, torch.ones(1, seq, dtype=torch.int64), torch.zeros(1, seq, dtype=torch.int64))
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    return Bert(model), args, inputs, ["last_hidden_state", "pooler_output"]


def gpt2_prefill(
    prompt: int,
) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...], list[str], list[str]]:
    model = randomized(transformers.GPT2LMHeadModel(transformers.GPT2Config()))
    ids = torch.randint(0, 50257, (1, prompt))
    args = (ids, torch.ones(1, prompt, dtype=torch.int64))
    return Gpt2Prefill(model), args, ["input_ids", "attention_mask"], ["logits"]


def gpt2_decode(
    context: int,
) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...], list[str], list[str]]:
    config = transformers.GPT2Config()
    model = randomized(transformers.GPT2LMHeadModel(config))
    layers, heads, head = config.n_layer, config.n_head, config.n_embd // config.n_head
    ids = torch.randint(0, 50257, (1, 1))
    mask = torch.ones(1, context + 1, dtype=torch.int64)
    past = [torch.randn(1, heads, context, head) for _ in range(2 * layers)]
    inputs = ["input_ids", "attention_mask"]
    outputs = ["logits"]
    for i in range(layers):
        inputs += [f"past_key_{i}", f"past_value_{i}"]
        outputs += [f"present_key_{i}", f"present_value_{i}"]
    return Gpt2Decode(model, layers), (ids, mask, *past), inputs, outputs


def weightless(model: onnx.ModelProto, inline_bytes: int) -> tuple[int, int]:
    """Point large initializers at an absent file; drop doc strings and metadata."""
    moved = kept = 0
    offset = 0
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.name == "value" and attr.HasField("t"):
                tensors.append(attr.t)
    for tensor in tensors:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise SystemExit(f"{tensor.name}: external data was not loaded")
        data = onnx.numpy_helper.to_array(tensor)
        size = data.nbytes
        if size <= inline_bytes or data.dtype.kind not in "fc":  # index and shape data stay
            kept += 1
            continue
        tensor.raw_data = data.tobytes()  # set_external_data wants raw_data to be there
        external_data_helper.set_external_data(tensor, ABSENT, offset=offset, length=size)
        for field in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
            tensor.ClearField(field)
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        offset += size
        moved += 1
    for node in model.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    for info in (*model.graph.value_info, *model.graph.input, *model.graph.output):
        del info.metadata_props[:]
    model.graph.doc_string = ""
    return moved, kept


def export(
    build: Callable[[], tuple[torch.nn.Module, tuple[torch.Tensor, ...], list[str], list[str]]],
    path: Path,
    dynamo: bool,
    inline_bytes: int,
    dynamic: bool = False,
    opset: int | None = None,
) -> dict[str, Any]:
    module, args, inputs, outputs = build()
    module.eval()
    kwargs: dict[str, Any] = dict(input_names=inputs, output_names=outputs, dynamo=dynamo)
    if opset is not None:
        kwargs["opset_version"] = opset
    if dynamic:
        batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=512)
        kwargs["dynamic_shapes"] = tuple({0: batch, 1: seq} for _ in args)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        raw = Path(tmp) / "model.onnx"
        torch.onnx.export(module, args, str(raw), **kwargs)
        model = onnx.load(str(raw))  # the weights too, wherever the exporter put them
    moved, kept = weightless(model, inline_bytes)
    onnx.save(model, str(path))
    ops: dict[str, int] = {}
    for node in model.graph.node:
        key = node.op_type if not node.domain else f"{node.domain}.{node.op_type}"
        ops[key] = ops.get(key, 0) + 1
    opset = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    return {
        "file": path.name,
        "exporter": "dynamo" if dynamo else "torchscript",
        "opset": opset,
        "inputs": {i.name: _shape(i) for i in model.graph.input},
        "nodes": len(model.graph.node),
        "ops": dict(sorted(ops.items())),
        "initializers_absent": moved,
        "initializers_inline": kept,
        "bytes": path.stat().st_size,
    }


def _shape(info: onnx.ValueInfoProto) -> list[int | str]:
    return [
        d.dim_value if d.HasField("dim_value") else d.dim_param
        for d in info.type.tensor_type.shape.dim
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/onnx"))
    parser.add_argument("--inline-bytes", type=int, default=1024)
    parser.add_argument("--only", nargs="*", help="file stems to export (default: all)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    # (file stem, model, dynamo exporter, dynamic batch and sequence, opset or the default)
    jobs: list[tuple[str, Callable[..., Any], bool, bool, int | None]] = []
    for dynamo in (True, False):
        tag = "dynamo" if dynamo else "torchscript"
        jobs += [
            (f"bert_base_seq128_{tag}", lambda: bert(128), dynamo, False, None),
            (f"gpt2_prefill128_{tag}", lambda: gpt2_prefill(128), dynamo, False, None),
            (f"gpt2_decode128_{tag}", lambda: gpt2_decode(128), dynamo, False, None),
        ]
    jobs += [
        ("bert_base_dynamic_dynamo", lambda: bert(128), True, True, None),
        ("bert_base_seq128_dynamo_opset18", lambda: bert(128), True, False, 18),
        ("bert_base_seq128_torchscript_opset14", lambda: bert(128), False, False, 14),
    ]
    report = []
    for stem, build, dynamo, dynamic, opset in jobs:
        if args.only and stem not in args.only:
            continue
        torch.manual_seed(0)
        path = args.out / f"{stem}.onnx"
        try:
            info = export(build, path, dynamo, args.inline_bytes, dynamic, opset)
        except Exception as exc:  # record what does not export, keep going
            info = {"file": f"{stem}.onnx", "error": f"{type(exc).__name__}: {exc}"[:2000]}
        print(json.dumps(info), flush=True)
        report.append(info)
    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
    }
    try:
        import onnxscript

        versions["onnxscript"] = onnxscript.__version__
    except ImportError:
        pass
    print(json.dumps(versions))
    return 1 if any("error" in r for r in report) else 0


if __name__ == "__main__":
    sys.exit(main())
