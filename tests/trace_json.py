"""Helpers the trace tests share for reading a written Perfetto / Chrome trace JSON."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any


def thread_ids(data: dict[str, Any], prefix: str) -> set[tuple[int, int]]:
    """``(pid, tid)`` of every thread whose name starts with ``prefix``."""
    return {
        (e["pid"], e["tid"])
        for e in data["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name" and e["args"]["name"].startswith(prefix)
    }


def slices(data: dict[str, Any], prefix: str, name: str | None = None) -> list[dict[str, Any]]:
    """The complete events on the threads ``prefix`` names, of name ``name`` if given."""
    ids = thread_ids(data, prefix)
    return [
        e
        for e in data["traceEvents"]
        if e["ph"] == "X" and (e["pid"], e["tid"]) in ids and (name is None or e["name"] == name)
    ]


def check_well_formed(data: dict[str, Any], end_us: float) -> None:
    """Every event lies in ``[0, end_us]``, every thread and counter's process is named, and
    complete events on one thread never overlap."""
    named: set[tuple[int, int]] = set()
    processes: set[int] = set()
    per_thread: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for e in data["traceEvents"]:
        if e["ph"] == "M":
            if e["name"] == "thread_name":
                named.add((e["pid"], e["tid"]))
            if e["name"] == "process_name":
                processes.add(e["pid"])
            continue
        assert e["ts"] >= 0
        if e["ph"] == "X":
            assert e["dur"] >= 0
            assert e["ts"] + e["dur"] <= end_us + 1e-6, e
            per_thread[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
        elif e["ph"] == "C":
            assert e["ts"] <= end_us + 1e-6
            assert e["pid"] in processes
    assert per_thread
    for thread, spans in per_thread.items():
        assert thread in named, f"thread {thread} has no name"
        spans.sort()
        for a, b in itertools.pairwise(spans):
            assert a[1] <= b[0] + 1e-9, f"{thread}: {a} overlaps {b}"
