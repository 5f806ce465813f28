"""The ``accelsim`` command line (also ``python -m accelsim``).

    accelsim run resnet18 --pe 32x32 --dataflow ws
    accelsim run resnet18 --pe 32x32 --sram ifmap=64K,filter=64K,ofmap=64K --bandwidth 16
    accelsim run --config runs/a/config.json --run-dir runs/b
    accelsim run resnet18 --json | jq .total_cycles
    accelsim plot runs/b            # runs/b/plots/*.png, *.svg
    accelsim report runs/b -o report.html
    accelsim models
    accelsim stats

Exit codes: 0 success, 1 simulation or output error, 2 usage error (bad flag, unknown model,
malformed ``--pe``, invalid configuration, a missing optional dependency). Errors are one line
on stderr; ``--debug`` shows the traceback instead, for unexpected errors too. Tables and
progress bars are Rich. ``--quiet`` prints no table and no progress bar: only errors and the
files written. ``--json`` alone prints JSON to stdout (``--json FILE`` writes FILE, ``-`` is
stdout). Every file a command writes is listed (``wrote PATH``; with ``--quiet`` just
``PATH``), on stdout, or on stderr when stdout carries JSON or CSV. This is the only module
that prints (with ``accelsim.search``'s command).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from accelsim.api import ProgressCallback, load_workload, models, run
from accelsim.config import (
    DATAFLOWS,
    DRAM_MODELS,
    ENGINES,
    OS_DRAIN_EDGES,
    RunConfig,
    parse_pe,
    parse_size,
    read_config_file,
)
from accelsim.errors import AccelsimError, ConfigError
from accelsim.mapping import read_mapping, read_schedule
from accelsim.results import (
    LayerResult,
    NetworkResult,
    VectorOpResult,
    memory_stat_catalog,
    stall_stats,
    stat_catalog,
)
from accelsim.rundir import RUN_DIR_FILES, write_run_dir
from accelsim.trace import TraceOptions

__all__ = ["build_parser", "main"]

PROG = "accelsim"


class UsageError(Exception):
    """A usage error found after parsing (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``accelsim: error: <message>``, exit code 2."""

    def error(self, message: str) -> NoReturn:
        _error_line(message)
        raise SystemExit(2)


def _console(*, stderr: bool = False) -> Console:
    """A Rich console; when writing to a pipe or file it is wide enough for the tables
    (Rich would otherwise assume 80 columns and truncate numbers; the per-layer table of a
    memory-system run is about 190 columns)."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, width=200)
    return console


def _error_line(message: object) -> None:
    text = " ".join(str(message).split()) or type(message).__name__
    sys.stderr.write(f"{PROG}: error: {text}\n")
    sys.stderr.flush()


def build_parser() -> argparse.ArgumentParser:
    from accelsim import __version__

    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")

    parser = _Parser(
        prog=PROG,
        description="Cycle-accurate simulator of systolic-array DNN accelerators.",
    )
    # A separate dest: a subcommand's own --debug default would overwrite a shared one.
    parser.add_argument(
        "--debug", dest="debug_global", action="store_true", help="show tracebacks of errors"
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p_run = sub.add_parser(
        "run",
        parents=[common],
        help="simulate a model layer by layer",
        description="Simulate every layer of MODEL on a rows x cols systolic array.",
    )
    p_run.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="a zoo model (see `models`; options as NAME:opt=value, e.g. bert_base:seq=512) "
        "or an .onnx file",
    )
    p_run.add_argument(
        "--pe", metavar="RxC", help="array size ROWSxCOLS, e.g. 32x32 (default 32x32)"
    )
    p_run.add_argument("--dataflow", choices=DATAFLOWS, help="stationary operand (default ws)")
    p_run.add_argument("--engine", choices=ENGINES, help="simulation engine (default fast)")
    p_run.add_argument("--freq-mhz", type=float, metavar="F", help="clock (default 1000)")
    p_run.add_argument("--batch", type=int, metavar="N", help="batch size (default 1)")
    p_run.add_argument("--mac-latency", type=int, metavar="N", help="cycles per MAC (default 1)")
    p_run.add_argument(
        "--acc-latency", type=int, metavar="N", help="cycles per accumulation (default 1)"
    )
    p_run.add_argument(
        "--stationary-double-buffer",
        action=argparse.BooleanOptionalAction,
        help="preload the next fold's stationary operand (default on)",
    )
    p_run.add_argument(
        "--os-drain", choices=OS_DRAIN_EDGES, help="os ofmap drain edge (default right)"
    )
    p_run.add_argument(
        "--os-output-double-buffer",
        action=argparse.BooleanOptionalAction,
        help="overlap the os ofmap drain with the next fold (default on)",
    )
    p_run.add_argument(
        "--input-shape",
        action="append",
        metavar="NAME=DIMS",
        help="shape of an ONNX graph input, e.g. input=1x3x224x224 (repeatable)",
    )
    _add_memory_flags(p_run)
    vec = p_run.add_argument_group(
        "vector unit",
        "Operations off the array (pooling, element-wise, normalization, softmax, ...) are "
        "listed with their element counts; with a vector unit they are also costed: "
        "ceil(elements / lanes) * cycles_per_element + latency (docs/workloads.md).",
    )
    vec.add_argument("--vector-lanes", type=int, metavar="N", help="vector unit lanes")
    vec.add_argument(
        "--vector-latency", type=int, metavar="N", help="vector unit pipeline latency (default 4)"
    )
    _add_trace_flags(p_run)
    add_json_flag(p_run, "results")
    p_run.add_argument("--csv", metavar="FILE", help="write one CSV row per layer ('-' = stdout)")
    p_run.add_argument("--run-dir", metavar="DIR", help="write config, stats, CSV, metadata")
    p_run.add_argument(
        "--config",
        metavar="FILE",
        help="run configuration (.json or .toml, e.g. RUN/config.json); flags override it",
    )
    add_quiet_flag(p_run)
    p_run.set_defaults(handler=_cmd_run)

    p_models = sub.add_parser("models", parents=[common], help="list the model zoo")
    add_json_flag(p_models, "the model list")
    p_models.set_defaults(handler=_cmd_models)
    p_stats = sub.add_parser(
        "stats", parents=[common], help="list the statistics with units and descriptions"
    )
    add_json_flag(p_stats, "the statistics")
    p_stats.set_defaults(handler=_cmd_stats)
    _add_dram_command(sub, common)
    from accelsim.search import add_command as add_search_command

    add_search_command(sub, common)
    _add_scalesim_command(sub, common)
    _add_plot_commands(sub, common)
    return parser


def add_json_flag(p: argparse.ArgumentParser, what: str) -> None:
    """``--json [FILE]``: JSON to stdout when given alone or as ``-``, else to FILE."""
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help=f"write {what} as JSON to FILE (alone or '-': to stdout)",
    )


def add_quiet_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print no table and no progress bar: only errors and the files written",
    )


def list_written(
    paths: Sequence[str | Path], *, quiet: bool = False, stdout_taken: bool = False
) -> None:
    """List files a command wrote: ``wrote PATH`` per file (``PATH`` alone when ``quiet``),
    on stdout, or on stderr when stdout carries data (JSON or CSV)."""
    console = _console(stderr=stdout_taken)
    for path in paths:
        text = Text(str(path)) if quiet else Text.assemble(("wrote ", "dim"), str(path))
        console.print(text, soft_wrap=True)


def _note(message: str) -> None:
    """A one-line note on stderr (not an error)."""
    _console(stderr=True).print(Text.assemble(("note: ", "yellow"), message), soft_wrap=True)


def _add_trace_flags(p_run: argparse.ArgumentParser) -> None:
    """``--trace [FILE]`` and its limits (docs/trace.md)."""
    from accelsim.trace import DEFAULT_MAX_EVENTS, TRACE_CATEGORIES

    g = p_run.add_argument_group(
        "trace",
        "A timeline of the run as Perfetto / Chrome trace JSON (open it in ui.perfetto.dev; "
        "traces/README.md). Engine fast only; results are the same with and without it.",
    )
    g.add_argument(
        "--trace",
        nargs="?",
        const="",
        metavar="FILE",
        help="write the trace to FILE (default: RUN_DIR/trace.json with --run-dir, else "
        "traces/MODEL-ROWSxCOLS-DATAFLOW.json)",
    )
    g.add_argument(
        "--trace-window",
        metavar="START:END",
        help="record only accelerator cycles START..END of the run (END exclusive)",
    )
    g.add_argument(
        "--trace-categories",
        metavar="LIST",
        help=f"comma-separated subset of {','.join(TRACE_CATEGORIES)} (default all)",
    )
    g.add_argument(
        "--trace-max-events",
        type=int,
        metavar="N",
        help=f"keep at most N events (default {DEFAULT_MAX_EVENTS:,}); past it the trace "
        "says up to which cycle it is complete",
    )


def parse_trace_options(args: argparse.Namespace) -> TraceOptions | None:
    """The trace options of ``run``'s flags, or ``None`` without ``--trace``."""
    limits = ("trace_window", "trace_categories", "trace_max_events")
    if args.trace is None:
        given = [name for name in limits if getattr(args, name) is not None]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise UsageError(f"{flag} needs --trace")
        return None
    window = None
    if args.trace_window is not None:
        start, sep, end = args.trace_window.partition(":")
        try:
            window = (int(start.replace("_", "")), int(end.replace("_", "")))
        except ValueError:
            window = None
        if not sep or window is None:
            raise UsageError(
                f"--trace-window: expected START:END in cycles (e.g. 0:100000), "
                f"got {args.trace_window!r}"
            )
    categories = None
    if args.trace_categories is not None:
        categories = tuple(c.strip() for c in args.trace_categories.split(",") if c.strip())
    options: dict[str, Any] = {"window": window, "categories": categories}
    if args.trace_max_events is not None:
        options["max_events"] = args.trace_max_events
    try:
        return TraceOptions(**options)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc


def _trace_path(args: argparse.Namespace, config: RunConfig) -> Path:
    """Where ``--trace`` writes: its FILE, else the run directory, else ``traces/``."""
    if args.trace:
        return Path(args.trace)
    if args.run_dir is not None:
        return Path(args.run_dir) / "trace.json"
    acc = config.accelerator
    stem = re.sub(
        r"[^A-Za-z0-9_.=-]+",
        "_",
        Path(config.model).stem if config.model.lower().endswith(".onnx") else config.model,
    )
    return Path("traces") / f"{stem}-{acc.rows}x{acc.cols}-{acc.dataflow}.json"


def _add_memory_flags(p_run: argparse.ArgumentParser) -> None:
    """The memory-system flags of ``run``; any of them turns the memory system on."""
    mem = p_run.add_argument_group(
        "memory system",
        "Without these flags memory is ideal (every operand ready when asked). Any of them "
        "turns on scratchpads, DMA and DRAM with the defaults of accelsim.Memory (256 KiB "
        "buffers, 16 B/cycle, 100 cycles); engine fast only.",
    )
    mem.add_argument(
        "--sram",
        metavar="NAME=SIZE,...",
        help="scratchpad sizes, any of ifmap, filter, ofmap; SIZE in bytes or with a K, KiB, "
        "M or MiB suffix, e.g. ifmap=256K,filter=256K,ofmap=256K",
    )
    mem.add_argument("--bandwidth", type=float, metavar="B", help="DRAM bytes per cycle")
    mem.add_argument("--dram-latency", type=int, metavar="N", help="DRAM latency in cycles")
    mem.add_argument(
        "--dram",
        choices=(DRAM_IDEAL, *DRAM_MODELS),
        help=f"DRAM model ({DRAM_IDEAL}: no memory system; default {DRAM_MODELS[0]} with any "
        "memory flag)",
    )
    mem.add_argument(
        "--accumulator",
        action=argparse.BooleanOptionalAction,
        help="keep partial sums on chip across K tiles (default on)",
    )
    mem.add_argument(
        "--double-buffer",
        action=argparse.BooleanOptionalAction,
        help="double-buffered scratchpads: prefetch the next tile (default on)",
    )
    mem.add_argument(
        "--mapping",
        metavar="FILE",
        help='per-layer tilings, JSON {"layers": {"conv1": {"m": 128, "k": 147, "n": 64, '
        '"order": "mnk"}, ...}}; other layers get the default tiling',
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    handler: Callable[[argparse.Namespace, list[str]], int] = args.handler
    args.debug = args.debug or args.debug_global
    try:
        return handler(args, args_list)
    except UsageError as exc:
        if args.debug:
            raise
        _error_line(exc)
        return 2
    except (AccelsimError, OSError) as exc:
        if args.debug:
            raise
        _error_line(exc)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except Exception as exc:  # a bug: still one line, the traceback only with --debug
        if args.debug:
            raise
        _error_line(f"internal error: {type(exc).__name__}: {exc} (--debug shows the traceback)")
        return 1


# --- run --------------------------------------------------------------------------------------

_ACC_FLAGS = (
    ("dataflow", "dataflow"),
    ("mac_latency", "mac_latency"),
    ("acc_latency", "acc_latency"),
    ("stationary_double_buffer", "stationary_double_buffer"),
    ("os_drain", "os_drain"),
    ("os_output_double_buffer", "os_output_double_buffer"),
    ("freq_mhz", "freq_mhz"),
)


def resolve_run_config(args: argparse.Namespace) -> RunConfig:
    """``--config`` file (if any), overridden by the flags given on the command line."""
    data: dict[str, Any] = read_config_file(args.config) if args.config else {}
    acc: dict[str, Any] = dict(data.get("accelerator", {}))
    if args.model is not None:
        data["model"] = args.model
    if "model" not in data:
        raise ConfigError("model: give a MODEL (see `accelsim models`) or --config FILE")
    if args.pe is not None:
        acc["rows"], acc["cols"] = parse_pe(args.pe)
    for attr, key in _ACC_FLAGS:
        value = getattr(args, attr)
        if value is not None:
            acc[key] = value
    data["accelerator"] = acc
    if args.batch is not None:
        data["batch"] = args.batch
    if args.engine is not None:
        data["engine"] = args.engine
    _resolve_memory(args, data)
    _resolve_vector(args, data)
    config = RunConfig.from_dict(data)
    # an unknown model or an ONNX file that cannot be imported: a usage error, before simulating
    load_workload(config.model, config.batch, config.input_shapes)
    return config


def _resolve_vector(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """Fold ``--input-shape`` and the vector-unit flags into ``data``."""
    if args.input_shape:
        from accelsim.workloads.onnx import parse_input_shape

        shapes = dict(data.get("input_shapes") or {})
        for text in args.input_shape:
            name, dims = parse_input_shape(text)
            shapes[name] = list(dims)
        data["input_shapes"] = shapes
    flags = {
        key: value
        for key, value in (("lanes", args.vector_lanes), ("latency", args.vector_latency))
        if value is not None
    }
    if flags:
        data["vector"] = {**(data.get("vector") or {}), **flags}


DRAM_IDEAL = "ideal"
_SRAM_BUFFERS = ("ifmap", "filter", "ofmap")
_SRAM_FORM = (
    "NAME=SIZE[,NAME=SIZE...] with NAME one of ifmap, filter, ofmap and SIZE in bytes or with a "
    "K, KiB, M or MiB suffix, e.g. ifmap=256K,filter=256K,ofmap=256K"
)


def parse_sram(text: str) -> dict[str, int]:
    """``--sram ifmap=256K,filter=64K`` as memory keys: ``{"ifmap_bytes": 262144, ...}``."""
    sizes: dict[str, int] = {}
    for item in text.split(","):
        name, sep, size = item.partition("=")
        name = name.strip().lower()
        if not sep or name not in _SRAM_BUFFERS:
            raise ConfigError(f"--sram: bad item {item!r} in {text!r}; expected {_SRAM_FORM}")
        if f"{name}_bytes" in sizes:
            raise ConfigError(f"--sram: {name} is given twice in {text!r}")
        try:
            sizes[f"{name}_bytes"] = parse_size(size)
        except ConfigError:
            raise ConfigError(
                f"--sram: bad size {size.strip()!r} in {item!r}; expected {_SRAM_FORM}"
            ) from None
    return sizes


def _resolve_memory(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """Fold the memory flags into ``data`` (a run configuration read from ``--config``)."""
    flags: dict[str, Any] = {}
    if args.sram is not None:
        flags.update(parse_sram(args.sram))
    for attr, key in (
        ("bandwidth", "bandwidth"),
        ("dram_latency", "latency"),
        ("accumulator", "accumulator"),
        ("double_buffer", "double_buffer"),
    ):
        if getattr(args, attr) is not None:
            flags[key] = getattr(args, attr)
    if args.dram == DRAM_IDEAL:
        if flags or args.mapping is not None:
            given = [_flag(args, a) for a in _MEMORY_FLAG_ATTRS if getattr(args, a) is not None]
            raise ConfigError(
                f"--dram {DRAM_IDEAL} means no memory system, so {', '.join(given)} cannot "
                "apply; drop them or pick a DRAM model: " + ", ".join(DRAM_MODELS)
            )
        data.pop("memory", None)
        data.pop("tilings", None)
        return
    if args.dram is not None:
        flags["dram"] = args.dram
    if not flags and args.mapping is None and data.get("memory") is None:
        return  # ideal memory
    memory = data.get("memory") or {}
    data["memory"] = {**memory, **flags}
    if args.mapping is not None:
        data["tilings"] = {**(data.get("tilings") or {}), **read_mapping(args.mapping)}


_MEMORY_FLAG_ATTRS = (
    "sram",
    "bandwidth",
    "dram_latency",
    "accumulator",
    "double_buffer",
    "mapping",
)


def _flag(args: argparse.Namespace, attr: str) -> str:
    """How flag ``attr`` was spelled on the command line (``--no-accumulator``)."""
    no = "no-" if getattr(args, attr) is False else ""
    return f"--{no}{attr.replace('_', '-')}"


def _cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        config = resolve_run_config(args)
    except AccelsimError as exc:
        raise UsageError(str(exc)) from exc
    trace = parse_trace_options(args)
    json_to_stdout, csv_to_stdout = args.json == "-", args.csv == "-"
    if json_to_stdout and csv_to_stdout:
        raise UsageError("--json - and --csv - cannot both write to stdout; give one a FILE")
    show = not args.quiet
    out = _console()
    err = _console(stderr=True)

    layers = len(load_workload(config.model, config.batch, config.input_shapes))
    label = f"{config.model} ({config.engine} engine)"
    # A bar only where someone watches: engine "fast" takes milliseconds, and on a pipe or
    # a log file a transient bar would leave nothing useful behind.
    bar = show and config.engine != "fast" and err.is_terminal
    # A mapping written by `accelsim search` may schedule the layers as one run: replay it.
    schedule = read_schedule(args.mapping) if args.mapping is not None else None
    with _progress(err, layers, label, enabled=bar and schedule is None) as progress:
        try:
            if schedule is not None:
                from accelsim.search import run_schedule

                result = run_schedule(
                    config.model,
                    config.accelerator,
                    memory=config.memory,
                    tilings=config.tilings,
                    schedule=schedule,
                    batch=config.batch,
                    vector=config.vector,
                    input_shapes=config.input_shapes,
                    trace=trace,
                )
            else:
                result = run(
                    config.model,
                    config.accelerator,
                    engine=config.engine,
                    batch=config.batch,
                    memory=config.memory,
                    tilings=config.tilings,
                    progress=progress,
                    vector=config.vector,
                    input_shapes=config.input_shapes,
                    trace=trace,
                )
        except ConfigError as exc:  # e.g. a tiling that does not fit its buffer
            raise UsageError(str(exc)) from exc

    written: list[Path] = []
    if args.json is not None:
        if json_to_stdout:
            sys.stdout.write(result.to_json())
        else:
            Path(args.json).write_text(result.to_json(), encoding="utf-8")
            written.append(Path(args.json))
    if csv_to_stdout:
        sys.stdout.write(result.to_csv())
    elif args.csv is not None:
        result.to_csv(args.csv)
        written.append(Path(args.csv))
    trace_path = _trace_path(args, config) if trace is not None else None
    if args.run_dir is not None:
        root = write_run_dir(result, args.run_dir, argv=[PROG, *argv], trace_file=trace_path)
        written += [root / name for name in RUN_DIR_FILES]
        if trace is not None:
            written.append(root / "timeline.csv")
    if result.trace is not None and trace_path is not None:
        if args.run_dir is None:
            result.trace.write_perfetto(trace_path)
        written.append(trace_path)
        if result.trace.truncated:
            _note(
                f"trace: the event cap ({result.trace.max_events:,}) dropped "
                f"{result.trace.dropped:,} events; the trace is complete up to cycle "
                f"{result.trace.complete_until:,}. Raise --trace-max-events, narrow "
                "--trace-window or leave out categories (--trace-categories)."
            )
    data_on_stdout = json_to_stdout or csv_to_stdout
    if show and not data_on_stdout:
        table = _layer_table(result)
        out = _wide_enough(out, table)
        out.print(table)
        out.print(_totals_table(result))
    list_written(written, quiet=args.quiet, stdout_taken=data_on_stdout)
    return 0


def _wide_enough(console: Console, table: Table) -> Console:
    """On a pipe or file (no terminal width to respect), a console as wide as ``table``: a
    memory-system run with vector ops is wider than the default 200 columns."""
    if console.is_terminal or "COLUMNS" in os.environ:
        return console
    need = Measurement.get(console, console.options.update(width=10_000), table).maximum
    if need <= console.width:
        return console
    return Console(highlight=False, width=need)


@contextmanager
def _progress(
    console: Console, total: int, label: str, *, enabled: bool
) -> Iterator[ProgressCallback | None]:
    """A transient Rich progress bar over layers (on stderr), or no callback at all."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        TextColumn("[dim]{task.fields[layer]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("layers"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total, layer="")

        def advance(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, layer=f"done: {name}")

        yield advance


def _int(value: int) -> str:
    return f"{value:,}"


def _format_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3f} {unit}"
    return f"{seconds / 1e-9:.3f} ns"


def _layer_table(result: NetworkResult) -> Table:
    acc = result.accelerator
    table = Table(
        title=f"{result.model} on {acc.rows}x{acc.cols} {acc.dataflow} ({result.engine} engine)",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("layer", no_wrap=True)
    for name in ("M", "K", "N", "groups", "folds", "cycles", "util %", "MACs"):
        table.add_column(name, justify="right", no_wrap=True)
    vector_rows = _vector_rows(result)
    if result.vector_ops:
        table.add_column("vector op", no_wrap=True)
        table.add_column("elements", justify="right", no_wrap=True)
    memory = result.memory is not None
    causes = _stall_columns(result) if memory else []
    dram = memory and bool(result.layers) and result.layers[0].dram is not None
    if memory:
        headers = ["compute\ncycles", *(f"stall\n{c}" for c in causes), *_MEMORY_COLUMNS]
        if dram:
            headers.insert(-1, "row\nhit %")
        for name in headers:
            table.add_column(name, justify="right", no_wrap=True)
    extra = len(table.columns) - 11  # memory columns after the vector ones
    for op in vector_rows.get(None, []):
        table.add_row(*_vector_cells(op), *[""] * extra, style="dim")
    for r in result.layers:
        cells = [
            r.name,
            _int(r.m),
            _int(r.k),
            _int(r.n),
            str(r.groups),
            _int(r.folds),
            _int(r.cycles),
            f"{100 * r.utilization:.1f}",
            _int(r.macs),
        ]
        if result.vector_ops:
            cells.insert(9, "")
            cells.insert(9, "")
        if memory:
            cells += _memory_cells(r, causes)
            if dram and r.dram is not None:
                cells.insert(-1, f"{100 * float(r.dram['row_hit_rate']):.1f}")
        table.add_row(*cells)
        for op in vector_rows.get(r.name, []):
            table.add_row(*_vector_cells(op), *[""] * extra, style="dim")
    return table


def _vector_rows(result: NetworkResult) -> dict[str | None, list[VectorOpResult]]:
    """The vector ops of ``result`` by the array layer they follow."""
    rows: dict[str | None, list[VectorOpResult]] = {}
    for op in result.vector_ops:
        rows.setdefault(op.after, []).append(op)
    return rows


def _vector_cells(op: VectorOpResult) -> list[str]:
    """A vector op's row: name, cycles ("-" when not modelled), op and elements ("?" when
    unknown)."""
    cycles = "-" if op.cycles is None else _int(op.cycles)  # "-": not modelled
    elements = "?" if op.elements is None else _int(op.elements)
    return [op.name, "", "", "", "", "", cycles, "", "", f"{op.op} ({op.op_class})", elements]


# With a memory system: compute cycles, stall cycles by cause, then DRAM traffic and the tiling.
_MEMORY_COLUMNS = ("DRAM\nrd MB", "DRAM\nwr MB", "energy\nuJ", "tiling\nMxKxN order")
_OPERAND_STALLS = ("ifmap", "filter", "ofmap")


def _stall_columns(result: NetworkResult) -> list[str]:
    """Stall causes with a column: the three operands always, any further cause of
    ``stall_stats()`` (e.g. bank conflicts) when some layer has such stalls."""
    stalls = [r.stalls or {} for r in result.layers]
    return [
        cause
        for cause in stall_stats()
        if cause in _OPERAND_STALLS or any(s.get(cause, 0) for s in stalls)
    ]


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:,.2f}"


def _memory_cells(r: LayerResult, causes: list[str]) -> list[str]:
    stalls = r.stalls or {}
    return [
        _int(r.stat("compute_cycles")),
        *(_int(stalls.get(cause, 0)) for cause in causes),
        _mb(r.stat("dram_read_bytes")),
        _mb(r.stat("dram_write_bytes")),
        f"{(r.energy or {}).get('energy_total_pj', 0.0) / 1e6:,.1f}",
        str(r.tiling),
    ]


def _format_energy(pj: float) -> str:
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if pj >= scale:
            return f"{pj / scale:.3f} {unit}"
    return f"{pj:.3f} pJ"


def _totals_table(result: NetworkResult) -> Table:
    acc = result.accelerator
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_row("layers", str(len(result)))
    if result.vector_ops:
        vector_cycles = result.vector_cycles
        grid.add_row(
            "vector ops",
            f"{len(result.vector_ops)} ({_int(result.vector_elements)} elements)",
        )
        grid.add_row("array cycles", _int(result.array_cycles))
        if vector_cycles is None:
            grid.add_row("vector cycles", "not modelled (no vector unit; --vector-lanes N)")
        else:
            v = result.vector
            assert v is not None
            grid.add_row(
                "vector cycles", f"{_int(vector_cycles)} ({v.lanes} lanes, latency {v.latency})"
            )
        unknown = sum(1 for op in result.vector_ops if op.elements is None)
        if unknown:
            grid.add_row("vector ops of unknown size", str(unknown))
    grid.add_row("cycles", _int(result.total_cycles))
    grid.add_row("MACs", _int(result.total_macs))
    grid.add_row("utilization", f"{100 * result.utilization:.2f} %")
    grid.add_row("time", f"{_format_time(result.time_s)} at {acc.freq_mhz:g} MHz")
    if result.memory is not None:
        totals = result.totals()
        stalls = result.stalls or {}
        grid.add_row("compute cycles", _int(totals["compute_cycles"]))
        for cause, value in stalls.items():
            grid.add_row(f"stall {cause}", _int(value))
        for label, key in (("DRAM read", "dram_read_bytes"), ("DRAM written", "dram_write_bytes")):
            grid.add_row(label, f"{_int(totals[key])} B ({_mb(totals[key])} MB)")
        rate = result.dram_bandwidth or 0.0
        grid.add_row(
            "DRAM bandwidth",
            f"{rate:.2f} B/cycle ({rate * acc.freq_mhz / 1e3:.2f} GB/s at {acc.freq_mhz:g} MHz)",
        )
        hit_rate = result.dram_row_hit_rate
        if hit_rate is not None:
            grid.add_row("DRAM row hits", f"{100 * hit_rate:.1f} %")
            reads = sum(int(r.dram["reads"]) for r in result.layers if r.dram)
            lat = sum(
                float(r.dram["avg_read_latency_ns"]) * int(r.dram["reads"])
                for r in result.layers
                if r.dram
            )
            worst = max(float(r.dram["max_read_latency_ns"]) for r in result.layers if r.dram)
            if reads:
                grid.add_row("DRAM read latency", f"{lat / reads:.1f} ns mean, {worst:.1f} ns max")
        energies = result.energy_totals() or {}
        energy = energies.get("energy_total_pj")
        if energy is not None:
            grid.add_row("energy", _format_energy(energy))
            parts = [
                ("MACs", "energy_mac_pj"),
                ("SRAM", ("energy_ifmap_sram_pj", "energy_filter_sram_pj", "energy_ofmap_sram_pj")),
                ("DRAM", "energy_dram_pj"),
            ]
            cells = []
            for label, keys in parts:
                names = (keys,) if isinstance(keys, str) else keys
                if all(k in energies for k in names):
                    cells.append(f"{label} {_format_energy(sum(energies[k] for k in names))}")
            if cells:
                grid.add_row("  of which", ", ".join(cells))
            core, io = energies.get("energy_dram_core_pj"), energies.get("energy_dram_io_pj")
            if core is not None and io is not None and io > 0:
                grid.add_row("  DRAM", f"core {_format_energy(core)} + I/O {_format_energy(io)}")
    return grid


# --- models, stats ----------------------------------------------------------------------------


def _write_json(data: Any, target: str) -> list[Path]:
    """``data`` as JSON to stdout (``target`` ``-``) or to the file ``target``; return the
    files written."""
    import json

    text = json.dumps(data, indent=2) + "\n"
    if target == "-":
        sys.stdout.write(text)
        return []
    Path(target).write_text(text, encoding="utf-8")
    return [Path(target)]


def _cmd_models(args: argparse.Namespace, argv: list[str]) -> int:
    if args.json is not None:
        data = [{**info._asdict(), "options": dict(info.options)} for info in models()]
        list_written(_write_json(data, args.json))
        return 0
    table = Table(title="model zoo (batch 1, default options)", box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    table.add_column("layers", justify="right")
    table.add_column("vector\nops", justify="right")
    table.add_column("MACs", justify="right")
    table.add_column("weights", justify="right")
    table.add_column("params", justify="right")
    table.add_column("options", no_wrap=True)
    table.add_column("description")
    for info in models():
        options = ",".join(f"{k}={v}" for k, v in info.options.items()) or "-"
        table.add_row(
            info.name,
            str(info.layers),
            str(info.vector_ops),
            _int(info.macs),
            _int(info.weights),
            _int(info.params),
            options,
            info.description,
        )
    _console().print(table)
    return 0


def _cmd_stats(args: argparse.Namespace, argv: list[str]) -> int:
    from accelsim import _core

    if args.json is not None:
        data = {
            "stats": [info._asdict() for info in stat_catalog()],
            "memory_stats": [info._asdict() for info in memory_stat_catalog()],
            "vector_stats": [
                {"name": n, "unit": u, "description": d} for n, u, d in _core.vector_stat_catalog()
            ],
        }
        list_written(_write_json(data, args.json))
        return 0
    table = Table(title="statistics", box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    table.add_column("description")
    for info in stat_catalog():
        table.add_row(info.name, info.unit, info.description)
    console = _console()
    console.print(table)
    memory = Table(
        title="memory-system statistics (runs with --sram, --bandwidth, --dram ...)",
        box=box.SIMPLE_HEAD,
    )
    memory.add_column("name", no_wrap=True)
    memory.add_column("unit", no_wrap=True)
    memory.add_column("description")
    for info in memory_stat_catalog():
        memory.add_row(info.name, info.unit, info.description)
    console.print(memory)
    vector = Table(
        title="vector-unit statistics (per vector op; runs with --vector-lanes)",
        box=box.SIMPLE_HEAD,
    )
    for column in ("name", "unit", "description"):
        vector.add_column(column, no_wrap=column != "description")
    for name, unit, description in _core.vector_stat_catalog():
        vector.add_row(name, unit, description)
    console.print(vector)
    return 0


# --- dram -------------------------------------------------------------------------------------


def _add_dram_command(sub: Any, common: argparse.ArgumentParser) -> None:
    from accelsim.dram import DRAM_MAPPINGS, DRAM_PRESETS

    p = sub.add_parser(
        "dram",
        parents=[common],
        help="run a DRAM request trace through the cycle-level DRAM model",
        description="Run TRACE (one request per line: '<arrival_cycle> <R|W> <address>', "
        "'#' comments) through a DRAM controller and device; see docs/dram.md.",
    )
    p.add_argument("trace", metavar="TRACE", help="trace file")
    p.add_argument(
        "--dram",
        metavar="NAME",
        default="ddr4-3200",
        help=f"DRAM preset: {', '.join(DRAM_PRESETS)} (default ddr4-3200)",
    )
    p.add_argument(
        "--mapping",
        metavar="NAME",
        help=f"address mapping: {', '.join(DRAM_MAPPINGS)} (default: the preset's)",
    )
    p.add_argument("--read-queue", type=int, metavar="N", help="read-queue entries per channel")
    p.add_argument("--write-queue", type=int, metavar="N", help="write-queue entries per channel")
    p.add_argument("--lookahead", type=int, metavar="N", help="FR-FCFS look-ahead window")
    p.add_argument(
        "--freq-mhz",
        type=float,
        metavar="F",
        help="arrival cycles are accelerator cycles at F MHz (default: DRAM cycles)",
    )
    add_json_flag(p, "the results")
    add_quiet_flag(p)
    p.set_defaults(handler=_cmd_dram)


def _cmd_dram(args: argparse.Namespace, argv: list[str]) -> int:
    from accelsim.dram import DramTraceResult, dram_config, run_trace, stat_catalog
    from accelsim.errors import WorkloadError

    try:
        # Configuration first, so a bad flag is reported before the trace is read.
        dram_config(
            args.dram,
            mapping=args.mapping,
            read_queue=args.read_queue,
            write_queue=args.write_queue,
            lookahead=args.lookahead,
        )
        result: DramTraceResult = run_trace(
            args.trace,
            args.dram,
            args.mapping,
            args.read_queue,
            args.write_queue,
            args.lookahead,
            freq_mhz=args.freq_mhz,
        )
    except (ConfigError, WorkloadError) as exc:
        raise UsageError(str(exc)) from exc
    except OSError as exc:
        raise UsageError(f"cannot read trace {args.trace!r}: {exc.strerror or exc}") from exc

    to_stdout = args.json == "-"
    if args.json is not None:
        if to_stdout:
            sys.stdout.write(result.to_json())
        else:
            Path(args.json).write_text(result.to_json(), encoding="utf-8")
    written = [] if args.json in (None, "-") else [args.json]
    if to_stdout or args.quiet:
        list_written(written, quiet=args.quiet)
        return 0
    c = result.config
    table = Table(
        title=f"{args.trace}: {len(result):,} requests on {c['dram']} "
        f"({c['channels']} ch x {c['bus_width']} bit, {c['mapping']}, "
        f"queues {c['read_queue']}/{c['write_queue']}, look-ahead {c['lookahead']})",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("statistic", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    table.add_column("description")
    stats = result.stats
    for info in stat_catalog():
        v = stats[info.name]
        text = _int(v) if isinstance(v, int) else f"{v:,.3f}"
        table.add_row(info.name, text, info.unit, info.description)
    if result.acc_cycles is not None:
        table.add_row(
            "acc_cycles",
            _int(result.acc_cycles),
            "cycles",
            f"cycles in accelerator cycles at {result.freq_mhz:g} MHz (rounded up)",
        )
    _console().print(table)
    list_written(written)
    return 0


# --- scalesim ---------------------------------------------------------------------------------


def _add_scalesim_command(sub: Any, common: argparse.ArgumentParser) -> None:
    from accelsim.scalesim.command import add_arguments

    p = sub.add_parser(
        "scalesim",
        parents=[common],
        help="reproduce SCALE-Sim 3.0.0's reports from its .cfg and topology files",
        description="Read a SCALE-Sim config (-c) and topology (-t) and write its "
        "COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and DETAILED_ACCESS_REPORT.csv to "
        "OUTDIR/<run_name>/, as SCALE-Sim 3.0.0 does in CALC mode; see docs/scalesim.md.",
    )
    add_arguments(p)
    p.set_defaults(handler=_cmd_scalesim)


def _cmd_scalesim(args: argparse.Namespace, argv: list[str]) -> int:
    from accelsim.errors import WorkloadError
    from accelsim.scalesim.command import run_command

    try:
        done = run_command(args)
    except (ConfigError, WorkloadError) as exc:
        raise UsageError(str(exc)) from exc
    if args.quiet:
        return 0
    result, c = done.result, done.result.config
    table = Table(
        title=f"SCALE-Sim model: {args.topology} on {c.rows}x{c.cols} {c.dataflow} "
        f"(reports in {done.report_dir})",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("id", justify="right")
    table.add_column("layer", no_wrap=True)
    for name in ("M", "K", "N", "folds", "cycles", "stalls", "util %", "mapping %", "DRAM rd"):
        table.add_column(name, justify="right", no_wrap=True)
    for i, (layer, row) in enumerate(zip(result.layers, result.rows, strict=True)):
        table.add_row(
            str(i),
            layer.name,
            _int(layer.m),
            _int(layer.k),
            _int(layer.n),
            _int(int(row["folds"])),
            _int(int(row["total_cycles"])),
            _int(int(row["stall_cycles"])),
            f"{row['overall_util']:.2f}",
            f"{row['mapping_efficiency']:.2f}",
            _int(int(row["ifmap_dram_reads"]) + int(row["filter_dram_reads"])),
        )
    _console().print(table)
    total = sum(int(v) for v in result.column("total_cycles"))
    _console().print(f"{len(result)} layers, {_int(total)} cycles (sum of their Total Cycles)")
    return 0


# --- plot, report -----------------------------------------------------------------------------


def _add_plot_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "plot",
        parents=[common],
        help="draw the plots of a run directory (or of a search's --json file)",
        description="Draw the plots of RUN_DIR (written by `accelsim run ... --run-dir DIR`): "
        "cycles per layer with each stall cause, the roofline and, for a traced run "
        "(timeline.csv), array utilization and DRAM bandwidth over time. Given the JSON file "
        "of `accelsim search ... --json FILE`, draw default versus searched per layer. "
        "Needs matplotlib: pip install 'accelsim[plot]'. See docs/report.md.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory or a search JSON file")
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT_DIR",
        help="where to write the plots (default RUN_DIR/plots; a search file's directory)",
    )
    p.add_argument(
        "--format",
        default="png,svg",
        metavar="FMT,...",
        help="file formats, any of png, svg (default png,svg)",
    )
    add_quiet_flag(p)
    p.set_defaults(handler=_cmd_plot)

    r = sub.add_parser(
        "report",
        parents=[common],
        help="write a one-file HTML report of a run directory",
        description="Write one self-contained HTML page (opens offline) with the headline "
        "numbers, the plots, the per-layer table and the configuration of RUN_DIR. Needs "
        "matplotlib: pip install 'accelsim[plot]'. See docs/report.md.",
    )
    r.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (accelsim run --run-dir)")
    r.add_argument(
        "-o", "--output", metavar="FILE", help="the HTML file (default RUN_DIR/report.html)"
    )
    add_quiet_flag(r)
    r.set_defaults(handler=_cmd_report)


def _cmd_plot(args: argparse.Namespace, argv: list[str]) -> int:
    from accelsim import plots

    try:
        formats = plots.parse_formats(args.format)
        if plots.is_search_json(args.run_dir):
            done = plots.plot_search_json(args.run_dir, args.output, formats)
        else:
            done = plots.plot_run_dir(args.run_dir, args.output, formats)
    except ConfigError as exc:  # not a run directory, a bad --format, no matplotlib
        raise UsageError(str(exc)) from exc
    if not args.quiet:
        for note in sorted(set(done.skipped.values())):
            _note(f"skipped: {note}")
    list_written(done.paths, quiet=args.quiet)
    return 0


def _cmd_report(args: argparse.Namespace, argv: list[str]) -> int:
    from accelsim import plots, report

    try:
        run = plots.read_run_dir(args.run_dir)
        text = report.render(run)
    except ConfigError as exc:  # not a run directory, no matplotlib
        raise UsageError(str(exc)) from exc
    target = Path(args.run_dir) / "report.html" if args.output is None else Path(args.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    if not args.quiet and run.timeline is None:
        _note(f"the report has no plots over time: {plots.TRACE_NOTE}")
    list_written([target], quiet=args.quiet)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
