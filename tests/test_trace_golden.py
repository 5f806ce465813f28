"""Golden traces: the Perfetto JSON of a tiny run, kept under traces/golden/, must come out
byte for byte. A change in what a trace records, or in the timing, shows up here first; after
checking the difference is intended, rewrite them with ``ACCELSIM_REGEN_GOLDEN=1 pytest
tests/test_trace_golden.py``."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

import accelsim
from accelsim import Accelerator, Memory
from accelsim.workloads import ConvLayer, GemmLayer, Workload

GOLDEN = Path(__file__).resolve().parent.parent / "traces" / "golden"


def _run(dram: str) -> str:
    workload = Workload(
        "golden",
        [
            ConvLayer("conv", n=1, c=4, k=8, h=8, w=8, r=3, s=3, stride=1, pad=1),
            GemmLayer("fc", m=2, k=64, n=10),
        ],
    )
    memory = Memory(ifmap_bytes=1024, filter_bytes=1024, ofmap_bytes=4096, dram=dram)
    r = accelsim.run(workload, Accelerator(rows=4, cols=4), memory=memory, trace=True)
    assert r.trace is not None
    out = GOLDEN / f"tiny-{dram}.json.new"
    r.trace.write_perfetto(out, counter_bins=20)
    text = out.read_text(encoding="utf-8")
    out.unlink()
    return text


@pytest.mark.parametrize("dram", ["bandwidth", "ddr4-3200"])
def test_golden_trace(dram: str) -> None:
    path = GOLDEN / f"tiny-{dram}.json"
    text = _run(dram)
    if os.environ.get("ACCELSIM_REGEN_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    str(path),
                    "this build",
                    n=1,
                )
            )[:40]
        )
        pytest.fail(f"the trace of the tiny run changed (first lines of the diff):\n{diff}")
