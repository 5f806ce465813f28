"""Timeline traces of a run: what to record, the recording, and Perfetto / Chrome trace JSON.

``accelsim.run(model, acc, memory=..., trace=TraceOptions())`` records, in the native core, what
every unit did and when (docs/trace.md): the array's folds and stationary loads, the cycles it
waited and why, the DMA transfers of each operand per buffer half, the DRAM's commands per bank
(or the bandwidth model's busy intervals) and the buffers' occupancy. The result's ``trace`` is a
:class:`Trace`: columns of numbers, written as Perfetto / Chrome trace JSON by
:meth:`Trace.write_perfetto` and binned into a :class:`~accelsim.timeline.Timeline` by
:meth:`Trace.timeline`.

Time: layers run one after another from cycle 0 (a vector unit's work between the layers it
follows). A trace event's timestamp is its cycle divided by the clock of its unit, in
microseconds: accelerator cycles at ``freq_mhz``, DRAM commands at the DRAM's own clock (half
its data rate), both counted from the start of their layer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accelsim import _core
from accelsim.errors import ConfigError
from accelsim.timeline import LayerSpan, Timeline

__all__ = [
    "DEFAULT_MAX_EVENTS",
    "TRACE_CATEGORIES",
    "Trace",
    "TraceOptions",
    "TrackInfo",
]

#: What a trace can record (``--trace-categories``).
TRACE_CATEGORIES: tuple[str, ...] = tuple(_core.TRACE_CATEGORIES)
#: Events (slices plus counter samples) a trace keeps unless told otherwise.
DEFAULT_MAX_EVENTS = 1_000_000

# Largest cycle or count accepted from a user (the core counts in 64-bit).
_MAX_CYCLE = 2**63

# Processes of the trace viewer, in display order.
_PROCESSES = ("layers", "array", "dma", "dram", "buffers")


@dataclass(frozen=True)
class TraceOptions:
    """What to record.

    Attributes:
        window: ``(start, end)`` in accelerator cycles of the whole run (end exclusive);
            events outside are dropped and events across an edge are cut at it. ``None``:
            the whole run.
        categories: a subset of :data:`TRACE_CATEGORIES` (``None``: all).
        max_events: at most this many events (slices plus counter samples); when reached,
            the trace keeps everything that starts before the first dropped event and says
            up to which cycle it is complete.
    """

    window: tuple[int, int] | None = None
    categories: tuple[str, ...] | None = None
    max_events: int = DEFAULT_MAX_EVENTS

    def __post_init__(self) -> None:
        if self.categories is not None:
            if isinstance(self.categories, str) or not all(
                isinstance(c, str) for c in self.categories
            ):
                raise ConfigError(
                    "trace_categories must be a list of names, e.g. ('array', 'dma'); "
                    f"valid choices: {', '.join(TRACE_CATEGORIES)}"
                )
            unknown = [c for c in self.categories if c not in TRACE_CATEGORIES]
            if unknown:
                raise ConfigError(
                    f"trace_categories: unknown category {unknown[0]!r}; "
                    f"valid choices: {', '.join(TRACE_CATEGORIES)}"
                )
            if not self.categories:
                raise ConfigError(
                    "trace_categories: no category given; "
                    f"valid choices: {', '.join(TRACE_CATEGORIES)}"
                )
        if isinstance(self.max_events, bool) or not isinstance(self.max_events, int):
            raise ConfigError(f"trace_max_events must be an integer, got {self.max_events!r}")
        if not 1 <= self.max_events < _MAX_CYCLE:
            raise ConfigError(
                f"trace_max_events must be from 1 to {_MAX_CYCLE - 1}, got {self.max_events}"
            )
        if self.window is not None:
            window = self.window
            if (
                not isinstance(window, tuple | list)
                or len(window) != 2
                or not all(isinstance(c, int) and not isinstance(c, bool) for c in window)
            ):
                raise ConfigError(
                    f"trace_window must be two integer cycles (start, end), got {window!r}"
                )
            start, end = window
            if start < 0 or end <= start or end >= _MAX_CYCLE:
                raise ConfigError(
                    f"trace_window: ({start}, {end}) must be two cycles with "
                    f"0 <= start < end < {_MAX_CYCLE}"
                )

    def recorder(self, gaps: Sequence[int] = (), offset: int = 0) -> _core.TraceRecorder:
        """A native recorder for these options; ``gaps[i]``: cycles after layer ``i`` before
        the next (vector-unit work), ``offset``: cycles before the first layer."""
        window = None
        if self.window is not None:
            start, end = self.window
            if end <= offset:
                # all of it before the first array layer: no array-layer event is in it
                window = (_MAX_CYCLE - 2, _MAX_CYCLE - 1)
            else:
                window = (max(start - offset, 0), end - offset)
        return _core.TraceRecorder(
            window=window,
            categories=list(self.categories) if self.categories is not None else None,
            max_events=self.max_events,
            gaps=list(gaps),
        )


@dataclass(frozen=True)
class TrackInfo:
    """One track of the trace: a thread of a process in the viewer."""

    category: str
    process: str
    thread: str
    clock: str
    counter: bool
    args: tuple[str, ...]


def _us_text(ns: int) -> str:
    """``ns`` nanoseconds as microseconds with exactly three decimals (what Perfetto reads
    back as the same whole nanosecond)."""
    return f"{ns // 1000}.{ns % 1000:03d}"


def _bin_spread(
    starts: NDArray[np.float64],
    durs: NDArray[np.float64],
    amounts: NDArray[np.float64],
    edges: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Spread each ``amount`` uniformly over ``[start, start + dur)`` (a zero ``dur``: all at
    ``start``) and sum what falls in each bin between consecutive ``edges``."""
    nbins = len(edges) - 1
    out = np.zeros(nbins, dtype=np.float64)
    if len(starts) == 0 or nbins <= 0:
        return out
    point = durs <= 0
    if point.any():
        idx = np.searchsorted(edges, starts[point], side="right") - 1
        ok = (idx >= 0) & (idx < nbins)
        np.add.at(out, idx[ok], amounts[point][ok])
    spread = ~point
    if spread.any():
        s, d, a = starts[spread], durs[spread], amounts[spread]
        rate = a / d
        # The amount done by time t is piecewise linear: its slope changes by +rate at each
        # start and by -rate at each end.
        times = np.concatenate([s, s + d])
        slopes = np.concatenate([rate, -rate])
        order = np.argsort(times, kind="stable")
        times, slopes = times[order], slopes[order]
        slope = np.cumsum(slopes)
        done = np.concatenate([[0.0], np.cumsum(slope[:-1] * np.diff(times))])
        cumulative = np.interp(edges, times, done, left=0.0, right=done[-1])
        out += np.diff(cumulative)
    return out


class Trace:
    """A recorded trace: columns of numbers, as the native core recorded them.

    ``layers`` places every layer (and vector op, with a vector unit) on the run's timeline;
    ``slices()`` and ``counters()`` hold the events with their times in global accelerator
    cycles (DRAM commands: in global time converted to accelerator cycles, as floats).
    """

    def __init__(
        self,
        recorder: _core.TraceRecorder,
        *,
        layer_names: Sequence[str],
        freq_mhz: float,
        pes: int,
        vector_spans: Sequence[LayerSpan] = (),
        offset: int = 0,
        peak_bytes_per_cycle: float | None = None,
        title: str = "accelsim",
        window: tuple[int, int] | None = None,
    ) -> None:
        self.freq_mhz = float(freq_mhz)
        self.pes = int(pes)
        self.title = title
        self.peak_bytes_per_cycle = peak_bytes_per_cycle
        self.categories = tuple(recorder.categories)
        #: The window asked for, in cycles of the run (``None``: the whole run).
        self.window = window
        self.max_events = int(recorder.max_events)
        self.dropped = int(recorder.dropped)
        self.shifted = int(recorder.shifted)
        self.dram_mhz = recorder.dram_khz / 1000.0
        self.names = list(recorder.names)
        self.tracks = tuple(TrackInfo(*t) for t in recorder.tracks())
        # Per track: whether it holds the cycle-level DRAM's commands (one per bank or rank).
        self._command_track = np.array(
            [t.process == "dram" and t.clock == "dram" for t in self.tracks], dtype=bool
        )
        native_layers = recorder.layers()
        starts = native_layers["start"].astype(np.int64) + offset
        cycles = native_layers["cycles"].astype(np.int64)
        if len(layer_names) != len(starts):
            raise ConfigError(
                f"trace: {len(starts)} layers recorded but {len(layer_names)} names given"
            )
        self.layer_spans = tuple(
            LayerSpan(name, int(s), int(c))
            for name, s, c in zip(layer_names, starts, cycles, strict=True)
        )
        self.vector_spans = tuple(vector_spans)
        cut = recorder.complete_until
        self.complete_until = None if cut is None else int(cut) + offset
        self._layer_start = starts.astype(np.float64)
        slices = recorder.slices()
        counters = recorder.counters()
        self._slices = {k: np.asarray(v) for k, v in slices.items()}
        self._counters = {k: np.asarray(v) for k, v in counters.items()}
        # Per track, how many accelerator cycles one of its clock's cycles is.
        acc_per_tick = np.array(
            [
                self.freq_mhz / self.dram_mhz if t.clock == "dram" and self.dram_mhz else 1.0
                for t in self.tracks
            ]
            or [1.0],
            dtype=np.float64,
        )
        track = self._slices["track"].astype(np.int64)
        scale = acc_per_tick[track] if len(track) else np.zeros(0)
        layer = self._slices["layer"].astype(np.int64)
        self.slice_start = self._layer_start[layer] + self._slices["start"] * scale
        self.slice_dur = self._slices["dur"] * scale
        # The share of each slice's amounts (MACs, bytes) that falls in what was kept of it.
        full = self._slices["full_dur"].astype(np.float64)
        dur = self._slices["dur"].astype(np.float64)
        self._kept = np.divide(dur, full, out=np.ones_like(full), where=full > 0)
        ctrack = self._counters["track"].astype(np.int64)
        cscale = acc_per_tick[ctrack] if len(ctrack) else np.zeros(0)
        clayer = self._counters["layer"].astype(np.int64)
        self.counter_time = self._layer_start[clayer] + self._counters["time"] * cscale

    # ---- reading ------------------------------------------------------------------------

    @property
    def events(self) -> int:
        """Events kept (slices plus counter samples)."""
        return len(self.slice_start) + len(self.counter_time)

    @property
    def truncated(self) -> bool:
        """Whether the event cap dropped events."""
        return self.dropped > 0

    @property
    def recorded_range(self) -> tuple[int, int]:
        """``[from, until)`` in cycles of the run: the window, cut at the cycle up to which
        the trace is complete when the cap dropped events."""
        start, end = self.window if self.window is not None else (0, self.total_cycles)
        end = min(end, self.total_cycles)
        if self.complete_until is not None:
            end = min(end, self.complete_until)
        return start, max(start, end)

    @property
    def total_cycles(self) -> int:
        spans = self.layer_spans + self.vector_spans
        return max((s.start + s.cycles for s in spans), default=0)

    def slices(self) -> dict[str, NDArray[Any]]:
        """Slices as columns: ``track``, ``name`` (indices into ``tracks`` and ``names``),
        ``layer``, ``start`` and ``dur`` in global accelerator cycles (floats: DRAM commands
        fall between accelerator cycles), ``arg0``..``arg3`` as the track's ``args`` name
        them."""
        out: dict[str, NDArray[Any]] = {
            "track": self._slices["track"].astype(np.int64),
            "name": self._slices["name"].astype(np.int64),
            "layer": self._slices["layer"].astype(np.int64),
            "start": self.slice_start,
            "dur": self.slice_dur,
        }
        for i in range(4):
            out[f"arg{i}"] = self._slices[f"arg{i}"]
        return out

    def counters(self) -> dict[str, NDArray[Any]]:
        """Counter samples: ``track``, ``time`` (global accelerator cycles), ``value``."""
        return {
            "track": self._counters["track"].astype(np.int64),
            "time": self.counter_time,
            "value": self._counters["value"],
        }

    def track_ids(self, *, process: str | None = None, thread: str | None = None) -> list[int]:
        """Tracks of ``process`` whose thread is ``thread`` or starts with it."""
        return [
            i
            for i, t in enumerate(self.tracks)
            if (process is None or t.process == process)
            and (thread is None or t.thread == thread or t.thread.startswith(thread))
        ]

    def busy_cycles(self, *, process: str, thread: str, name: str | None = None) -> float:
        """Summed slice durations (accelerator cycles) on the matching tracks, of slices
        called ``name`` if given."""
        ids = self.track_ids(process=process, thread=thread)
        mask = np.isin(self._slices["track"], ids)
        if name is not None:
            mask &= self._slices["name"] == (self.names.index(name) if name in self.names else -1)
        return float(self.slice_dur[mask].sum())

    # ---- the timeline -----------------------------------------------------------------

    def timeline(self, bin_cycles: int | None = None) -> Timeline:
        """PE utilization and DRAM bytes in bins of ``bin_cycles`` (default: about 1,000 bins
        over the run). A fold's MACs are spread over the cycles its operands enter the array
        (the wavefront's skew moves them by at most rows + cols cycles); a DMA transfer's bytes
        over its span. Needs the ``array`` and ``dma`` categories (a missing one gives zeros)."""
        total = max(self.total_cycles, 1)
        if bin_cycles is None:
            bin_cycles = max(1, -(-total // 1000))
        if bin_cycles < 1:
            raise ConfigError(f"bin_cycles must be at least 1, got {bin_cycles}")
        nbins = -(-total // bin_cycles)
        edges = np.arange(nbins + 1, dtype=np.float64) * bin_cycles
        track = self._slices["track"]
        stream = np.isin(track, self.track_ids(process="array", thread="stream"))
        macs = _bin_spread(
            self.slice_start[stream],
            self.slice_dur[stream],
            self._slices["arg3"][stream].astype(np.float64) * self._kept[stream],
            edges,
        )
        recorded = self.recorded_range
        dram_bytes = _bin_spread(*self._dram_traffic(), edges)
        return Timeline(
            bin_cycles=int(bin_cycles),
            freq_mhz=self.freq_mhz,
            total_cycles=int(total),
            pes=self.pes,
            start=(np.arange(nbins, dtype=np.int64) * bin_cycles),
            pe_utilization=macs / (self.pes * bin_cycles),
            dram_bytes=dram_bytes,
            peak_bytes_per_cycle=self.peak_bytes_per_cycle,
            layers=tuple(sorted(self.layer_spans + self.vector_spans, key=lambda s: s.start)),
            recorded_from=recorded[0],
            recorded_until=recorded[1],
        )

    def _on_command_track(self) -> NDArray[np.bool_]:
        """Per slice: whether it is a DRAM command (on a bank or rank track)."""
        track = self._slices["track"].astype(np.int64)
        if len(track) == 0:
            return np.zeros(0, dtype=bool)
        return self._command_track[track]

    def _dram_traffic(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Starts, durations and bytes of what crossed the DRAM interface: the bursts of the
        cycle-level DRAM's RD and WR commands, the bandwidth model's interface intervals, or
        (without the ``dram`` category) the DMA transfers' spans."""
        track = self._slices["track"]
        bursts = self._on_command_track() & (self._slices["arg1"] > 0)
        if bursts.any():
            sel, amount = bursts, self._slices["arg1"]
        else:
            interface = np.isin(track, self.track_ids(process="dram", thread="interface"))
            if interface.any():
                sel, amount = interface, self._slices["arg0"]
            else:
                sel = np.isin(track, self.track_ids(process="dma"))
                amount = self._slices["arg0"]
        return (
            self.slice_start[sel],
            self.slice_dur[sel],
            amount[sel].astype(np.float64) * self._kept[sel],
        )

    # ---- Perfetto / Chrome trace JSON -------------------------------------------------

    def _ns(self, cycles: NDArray[np.float64]) -> NDArray[np.int64]:
        """Whole nanoseconds of the run of these cycles (Perfetto keeps nanoseconds)."""
        return np.round(np.asarray(cycles, dtype=np.float64) * 1000.0 / self.freq_mhz).astype(
            np.int64
        )

    def write_perfetto(self, path: str | Path, counter_bins: int = 1000) -> Path:
        """Write the trace as Chrome trace JSON (opens in ui.perfetto.dev and
        chrome://tracing; docs/trace.md and traces/README.md say what each track means).
        ``counter_bins``: samples of the utilization and DRAM bandwidth counters."""
        out = Path(path)
        if out.parent and not out.parent.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as f:
            f.write('{"displayTimeUnit":"ns","otherData":')
            f.write(json.dumps(self._other_data(), separators=(",", ":")))
            f.write(',"traceEvents":[\n')
            first = True
            for chunk in self._event_chunks(counter_bins):
                if not chunk:
                    continue
                if not first:
                    f.write(",\n")
                f.write(",\n".join(chunk))
                first = False
            f.write("\n]}\n")
        return out

    def _other_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "title": self.title,
            "clock": f"accelerator {self.freq_mhz:g} MHz"
            + (f", DRAM {self.dram_mhz:g} MHz" if self.dram_mhz else ""),
            "time_unit": "microseconds from the start of the run (ts, dur)",
            "categories": ",".join(self.categories),
            "window_cycles": "whole run"
            if self.window is None
            else f"{self.window[0]}..{self.window[1]}",
            "max_events": str(self.max_events),
            "events": str(self.events),
        }
        burst = self._slices["arg1"][self._on_command_track()]
        if len(burst) and burst.max() > 0:
            data["dram_burst_bytes"] = f"{int(burst.max())} (each RD and WR slice moves one burst)"
        if self.shifted:
            data["shifted_slices"] = str(self.shifted)
        if self.truncated:
            data["truncated"] = (
                f"the event cap ({self.max_events}) dropped {self.dropped} events; the trace "
                f"is complete up to cycle {self.complete_until}"
            )
        return data

    def _pids(self) -> dict[str, int]:
        return {p: i + 1 for i, p in enumerate(_PROCESSES)}

    def _metadata(self) -> list[str]:
        pids = self._pids()
        events: list[str] = []

        def meta(name: str, pid: int, args: dict[str, Any], tid: int | None = None) -> None:
            e: dict[str, Any] = {"ph": "M", "name": name, "pid": pid}
            if tid is not None:
                e["tid"] = tid
            e["args"] = args
            events.append(json.dumps(e, separators=(",", ":")))

        titles = {
            "layers": "layers",
            "array": f"array ({self.pes} PEs)",
            "dma": "dma",
            "dram": "dram" + (f" ({self.dram_mhz:g} MHz)" if self.dram_mhz else ""),
            "buffers": "buffers (bytes held)",
        }
        for proc, pid in pids.items():
            meta("process_name", pid, {"name": titles[proc]})
            meta("process_sort_index", pid, {"sort_index": pid})
        meta("thread_name", pids["layers"], {"name": "array layers"}, 1)
        meta("thread_name", pids["layers"], {"name": "vector ops"}, 2)
        for i, t in enumerate(self.tracks):
            if t.counter:
                continue
            pid = pids.get(t.process, len(pids) + 1)
            meta("thread_name", pid, {"name": t.thread}, i + 10)
            meta("thread_sort_index", pid, {"sort_index": i + 10}, i + 10)
        return events

    def _event_chunks(self, counter_bins: int) -> list[list[str]]:
        chunks = [self._metadata(), self._layer_events(), self._slice_events()]
        chunks.append(self._counter_events())
        chunks.append(self._timeline_counters(counter_bins))
        if self.truncated and self.complete_until is not None:
            ts = _us_text(int(self._ns(np.array([self.complete_until]))[0]))
            name = json.dumps(f"trace cap reached: {self.dropped} events dropped after this point")
            chunks.append([f'{{"ph":"i","s":"g","name":{name},"ts":{ts},"pid":1,"tid":1}}'])
        return chunks

    def _layer_events(self) -> list[str]:
        pid = self._pids()["layers"]
        out = []
        for tid, spans in ((1, self.layer_spans), (2, self.vector_spans)):
            for s in spans:
                a, b = self._ns(np.array([s.start, s.start + s.cycles])).tolist()
                out.append(
                    f'{{"ph":"X","cat":"layer","name":{json.dumps(s.name)},"pid":{pid},'
                    f'"tid":{tid},"ts":{_us_text(a)},"dur":{_us_text(b - a)},'
                    f'"args":{{"cycles":{s.cycles},"start_cycle":{s.start}}}}}'
                )
        return out

    def _slice_events(self) -> list[str]:
        pids = self._pids()
        n = len(self.slice_start)
        if n == 0:
            return []
        track = self._slices["track"].tolist()
        name = self._slices["name"].tolist()
        # Round the start and the end (to the picosecond), so that slices that touch still
        # touch and slices that do not overlap still do not.
        start_ns = self._ns(self.slice_start)
        end_ns = self._ns(self.slice_start + self.slice_dur)
        ts = [_us_text(x) for x in start_ns.tolist()]
        dur = [_us_text(x) for x in (end_ns - start_ns).tolist()]
        args = [self._slices[f"arg{i}"].tolist() for i in range(4)]
        # Per track: its pid, tid, category and the JSON fragment naming each argument.
        heads = []
        for i, t in enumerate(self.tracks):
            pid = pids.get(t.process, len(pids) + 1)
            heads.append((f'"cat":"{t.category}","pid":{pid},"tid":{i + 10}', t.args))
        names = [json.dumps(x) for x in self.names]
        head_dram = self._command_track.tolist()
        # DRAM commands: the row of ACT, RD and WR (the burst size is in otherData).
        no_row = {"REF", "PREA", "PRE"}
        out = []
        # In time order (stable: a track's slices keep their order), as viewers read best.
        for j in np.argsort(self.slice_start, kind="stable").tolist():
            head, arg_names = heads[track[j]]
            nm = self.names[name[j]]
            parts = [
                f'"{a}":{args[k][j]}'
                for k, a in enumerate(arg_names)
                if a
                and not ((nm in no_row and a == "row") or (a == "bytes" and head_dram[track[j]]))
            ]
            arg_text = ',"args":{' + ",".join(parts) + "}" if parts else ""
            out.append(
                f'{{"ph":"X",{head},"name":{names[name[j]]},"ts":{ts[j]},"dur":{dur[j]}{arg_text}}}'
            )
        return out

    def _counter_events(self) -> list[str]:
        pids = self._pids()
        track = self._counters["track"].tolist()
        ts = [_us_text(x) for x in self._ns(self.counter_time).tolist()]
        value = self._counters["value"].tolist()
        out = []
        for j in np.argsort(self.counter_time, kind="stable").tolist():
            t = self.tracks[track[j]]
            pid = pids.get(t.process, len(pids) + 1)
            unit = t.args[0] or "value"
            v = int(value[j]) if float(value[j]).is_integer() else value[j]
            out.append(
                f'{{"ph":"C","cat":"{t.category}","pid":{pid},"name":{json.dumps(t.thread)},'
                f'"ts":{ts[j]},"args":{{"{unit}":{v}}}}}'
            )
        return out

    def _timeline_counters(self, bins: int) -> list[str]:
        """PE utilization (%) and DRAM bandwidth (GB/s) counters, binned."""
        has_array = "array" in self.categories
        has_dma = "dma" in self.categories or "dram" in self.categories
        if not (has_array or has_dma) or bins < 1:
            return []
        total = max(self.total_cycles, 1)
        tl = self.timeline(max(1, -(-total // bins)))
        pids = self._pids()
        out = []
        # Only the bins of the recorded range: outside it the trace knows nothing.
        lo = tl.recorded_from
        hi = tl.total_cycles if tl.recorded_until is None else tl.recorded_until
        inside = (tl.start + tl.bin_cycles > lo) & (tl.start < hi)
        ts = [_us_text(x) for x in self._ns(tl.start[inside].astype(np.float64)).tolist()]
        if has_array:
            util = np.round(tl.pe_utilization[inside] * 100, 3).tolist()
            for t, u in zip(ts, util, strict=True):
                out.append(
                    f'{{"ph":"C","cat":"array","pid":{pids["array"]},'
                    f'"name":"PE utilization","ts":{t},"args":{{"%":{u}}}}}'
                )
        if has_dma:
            gbps = np.round(tl.dram_gbps()[inside], 4).tolist()
            peak = tl.peak_gbps()
            name = "DRAM bandwidth" + (f" (peak {peak:.4g} GB/s)" if peak else "")
            for t, g in zip(ts, gbps, strict=True):
                out.append(
                    f'{{"ph":"C","cat":"dma","pid":{pids["dma"]},'
                    f'"name":{json.dumps(name)},"ts":{t},"args":{{"GB/s":{g}}}}}'
                )
        return out
