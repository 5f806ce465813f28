"""A one-file HTML report of a run directory (``accelsim report RUN_DIR -o report.html``).

The page holds the headline numbers, the plots of :mod:`accelsim.plots` (embedded as base64
PNG), the per-layer table, the resolved configuration and the run's metadata. It needs nothing
else to open: no network, no external stylesheet, script or font, so it can be mailed or
archived with the run. Every piece of text from the run (layer names, model, paths) is escaped.

A short inline script records on ``<body>`` how many images the browser decoded
(``data-images`` and ``data-images-ok``), so a test can load the page in a headless browser
(``chromium --headless --dump-dom``) and check that every plot rendered.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from accelsim.plots import RunDir, read_run_dir, run_dir_figures, run_title

__all__ = ["render", "write_report"]

_CAPTIONS = {
    "layers": "Cycles per layer: compute and each memory stall cause (where the array waited). "
    "With ideal memory every cycle is compute.",
    "roofline": "Roofline: each layer by arithmetic intensity and achieved ops per cycle, under "
    "the compute roof (every PE busy) and the memory roof (DRAM at its peak).",
    "utilization": "Array utilization over time, layer by layer.",
    "dram_bandwidth": "DRAM bandwidth over time against the DRAM's peak.",
}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 1.5rem auto; max-width: 1400px; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.82rem; }
th, td { padding: 0.2rem 0.55rem; border-bottom: 1px solid #eee; white-space: nowrap; }
th { background: #f5f5f7; position: sticky; top: 0; text-align: right; }
th.text, td.text { text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.headline td:first-child { font-weight: 600; }
tr.vector td { color: #777; }
.scroll { overflow-x: auto; max-height: 80vh; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.85rem; }
pre { background: #f5f5f7; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
.note { color: #8a5300; background: #fff6e5; padding: 0.4rem 0.7rem; border-radius: 4px; }
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var images = document.images, ok = 0;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) { ok++; }
  }
  document.body.setAttribute("data-images", String(images.length));
  document.body.setAttribute("data-images-ok", String(ok));
});
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _int(value: int) -> str:
    return f"{int(value):,}"


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3f} {unit}"
    return f"{seconds / 1e-9:.3f} ns"


def _energy(pj: float) -> str:
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("µJ", 1e6), ("nJ", 1e3)):
        if pj >= scale:
            return f"{pj / scale:.3f} {unit}"
    return f"{pj:.3f} pJ"


def headline(stats: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The report's headline numbers as ``(label, value)`` rows."""
    config = stats["config"]
    acc = config["accelerator"]
    freq = float(acc["freq_mhz"])
    total = int(stats["total_cycles"])
    rows = [
        (
            "model",
            str(config["model"]) + (f", batch {config['batch']}" if "batch" in config else ""),
        ),
        (
            "array",
            f"{acc['rows']}x{acc['cols']} PEs, {acc['dataflow']} dataflow, "
            f"{config.get('engine', 'fast')} engine",
        ),
        ("layers", str(len(stats["layers"]))),
        ("total cycles", _int(total)),
        ("time", f"{_time(total / (freq * 1e6))} at {freq:g} MHz"),
        ("MACs", _int(stats["total_macs"])),
        ("utilization", f"{100 * float(stats['utilization']):.2f} %"),
    ]
    if stats.get("vector_ops"):
        vector = stats.get("vector_cycles")
        rows.append(("array cycles", _int(stats["array_cycles"])))
        rows.append(
            (
                "vector cycles",
                "not modelled (no vector unit)" if vector is None else _int(vector),
            )
        )
    memory = config.get("memory")
    if memory is None:
        rows.append(("memory", "ideal (every operand ready when asked): no stalls, no DRAM"))
        return rows
    dram = memory["dram"]
    rows.append(
        (
            "memory",
            f"DRAM {dram}"
            + (f", {float(memory['bandwidth']):g} B/cycle" if dram == "bandwidth" else "")
            + f"; scratchpads ifmap {_int(memory['ifmap_bytes'])} B, filter "
            f"{_int(memory['filter_bytes'])} B, ofmap {_int(memory['ofmap_bytes'])} B",
        )
    )
    rows.append(("compute cycles", _int(stats["compute_cycles"])))
    for cause, cycles in (stats.get("stalls") or {}).items():
        share = 100 * int(cycles) / total if total else 0.0
        rows.append((f"stall {cause}", f"{_int(cycles)} ({share:.1f} % of cycles)"))
    rows.append(("DRAM read", f"{_int(stats['dram_read_bytes'])} B"))
    rows.append(("DRAM written", f"{_int(stats['dram_write_bytes'])} B"))
    rate = float(stats.get("dram_bytes_per_cycle") or 0.0)
    rows.append(("DRAM bandwidth", f"{rate:.2f} B/cycle ({rate * freq / 1e3:.2f} GB/s)"))
    layers = stats["layers"]
    if layers and layers[0].get("dram"):
        hits = sum(int(x["dram"]["row_hits"]) for x in layers)
        requests = sum(int(x["dram"]["reads"]) + int(x["dram"]["writes"]) for x in layers)
        if requests:
            rows.append(("DRAM row hits", f"{100 * hits / requests:.1f} %"))
    energy = (stats.get("totals") or {}).get("energy_total_pj")
    if energy is not None:
        rows.append(("energy", _energy(float(energy))))
    return rows


def _layer_columns(stats: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Stall causes with a column (the operand stalls always, others when some layer has
    them) and the table's header."""
    layers = stats["layers"]
    memory = stats["config"].get("memory") is not None
    causes: list[str] = []
    if memory:
        for layer in layers:
            for cause, value in (layer.get("stalls") or {}).items():
                if cause not in causes and (cause in ("ifmap", "filter", "ofmap") or value):
                    causes.append(cause)
    header = ["#", "layer", "kind", "M", "K", "N", "groups", "folds", "cycles", "util %", "MACs"]
    if memory:
        header += ["compute", *(f"stall {c}" for c in causes)]
        header += ["DRAM read B", "DRAM written B", "energy µJ", "tiling"]
    return causes, header


def _layer_table(stats: Mapping[str, Any]) -> str:
    causes, header = _layer_columns(stats)
    memory = stats["config"].get("memory") is not None
    text_columns = {"layer", "kind", "tiling"}
    head = "".join(
        f'<th class="{"text" if h in text_columns else "num"}">{_e(h)}</th>' for h in header
    )
    rows = []
    vector_after: dict[str | None, list[Mapping[str, Any]]] = {}
    for op in stats.get("vector_ops") or []:
        vector_after.setdefault(op.get("after"), []).append(op)
    width = len(header)

    def vector_rows(after: str | None) -> None:
        for op in vector_after.get(after, []):
            cycles = "not modelled" if op.get("cycles") is None else _int(op["cycles"])
            elements = "?" if op.get("elements") is None else _int(op["elements"])
            rows.append(
                f'<tr class="vector"><td></td><td class="text">{_e(op["name"])}</td>'
                f'<td class="text">vector</td><td class="text" colspan="5">'
                f"{_e(op['op'])} ({_e(op['op_class'])}), {elements} elements</td>"
                f'<td class="num">{cycles}</td>'
                f'<td colspan="{width - 9}"></td></tr>'
            )

    vector_rows(None)
    for i, layer in enumerate(stats["layers"]):
        cells = [
            (str(i), "num"),
            (layer["name"], "text"),
            (layer["kind"], "text"),
            (_int(layer["m"]), "num"),
            (_int(layer["k"]), "num"),
            (_int(layer["n"]), "num"),
            (_int(layer["groups"]), "num"),
            (_int(layer["folds"]), "num"),
            (_int(layer["cycles"]), "num"),
            (f"{100 * float(layer['utilization']):.1f}", "num"),
            (_int(layer["macs"]), "num"),
        ]
        if memory:
            stalls = layer.get("stalls") or {}
            cells.append((_int(layer["compute_cycles"]), "num"))
            cells += [(_int(stalls.get(c, 0)), "num") for c in causes]
            cells.append((_int(layer["dram_read_bytes"]), "num"))
            cells.append((_int(layer["dram_write_bytes"]), "num"))
            cells.append((f"{float(layer.get('energy_total_pj', 0.0)) / 1e6:,.1f}", "num"))
            t = layer.get("tiling")
            tiling = f"{t['m']}x{t['k']}x{t['n']} {t['order']}" if t else ""
            cells.append((tiling, "text"))
        body = "".join(f'<td class="{cls}">{_e(text)}</td>' for text, cls in cells)
        rows.append(f'<tr class="layer">{body}</tr>')
        vector_rows(layer["name"])
    return (
        '<div class="scroll"><table id="layers">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figures(run: RunDir) -> tuple[list[str], dict[str, str]]:
    figures, skipped = run_dir_figures(run)
    parts = []
    for stem, fig in figures.items():
        caption = _CAPTIONS.get(stem, stem)
        parts.append(
            f'<figure id="plot-{_e(stem)}"><img alt="{_e(caption)}" '
            f'src="data:image/png;base64,{_png(fig)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )
    return parts, skipped


def render(run: RunDir) -> str:
    """The report of a run directory (read with :func:`accelsim.plots.read_run_dir`) as one
    HTML document."""
    stats = run.stats
    title = f"accelsim report: {run_title(stats)}"
    figures, skipped = _figures(run)
    notes = sorted(set(skipped.values()))
    headline_rows = "".join(
        f'<tr><td>{_e(k)}</td><td class="text">{_e(v)}</td></tr>' for k, v in headline(stats)
    )
    meta = run.metadata or {}
    sub = []
    if meta.get("command_line"):
        sub.append(f"command: <code>{_e(meta['command_line'])}</code>")
    if meta.get("accelsim_version"):
        sub.append(f"accelsim {_e(meta['accelsim_version'])}")
    if meta.get("created_utc"):
        sub.append(f"created {_e(meta['created_utc'])}")
    csv_link = ""
    if run.layers_csv is not None:
        data = base64.b64encode(run.layers_csv.encode("utf-8")).decode("ascii")
        csv_link = (
            f' <a download="layers.csv" href="data:text/csv;base64,{data}">'
            "(layers.csv, every statistic)</a>"
        )
    config = json.dumps(run.config, indent=2)
    metadata = json.dumps(run.metadata, indent=2) if run.metadata else ""
    trace_note = ""
    if meta.get("trace"):
        trace_note = (
            f'<p class="note" id="trace">The run\'s timeline is in <code>{_e(meta["trace"])}'
            "</code>: open it in ui.perfetto.dev (Open trace file) to see the array, the DMA "
            "and the DRAM on one time axis (traces/README.md in the accelsim sources says what "
            "each track shows).</p>"
        )
    parts: Sequence[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">{" · ".join(sub)}</p>' if sub else "",
        f'<p class="sub">run directory <code>{_e(run.path)}</code></p>',
        '<h2 id="summary">Headline numbers</h2>',
        f'<table class="headline" id="headline"><tbody>{headline_rows}</tbody></table>',
        '<h2 id="plots">Plots</h2>',
        *(f'<p class="note">{_e(note)}</p>' for note in notes),
        *figures,
        trace_note,
        f'<h2 id="per-layer">Per layer</h2><p class="sub">{len(stats["layers"])} layers'
        f"{csv_link}</p>",
        _layer_table(stats),
        '<h2 id="config">Configuration (config.json, fully resolved)</h2>',
        f'<pre id="config-json">{_e(config)}</pre>',
        f'<h2 id="metadata">Metadata</h2><pre>{_e(metadata)}</pre>' if metadata else "",
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def write_report(run_dir: str | Path, path: str | Path | None = None) -> Path:
    """Write the report of ``run_dir`` to ``path`` (default ``run_dir/report.html``); return
    the path. Needs matplotlib (``pip install 'accelsim[plot]'``) for the plots."""
    run = read_run_dir(run_dir)
    target = Path(run_dir) / "report.html" if path is None else Path(path)
    text = render(run)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
