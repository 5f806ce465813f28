"""The HTML report (``accelsim.report``, ``accelsim report``): one self-contained file whose
table and images render in a real browser (headless Chromium, Debian's ``chromium``)."""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the report's plots need matplotlib: accelsim[plot]")

import accelsim
from accelsim import cli, report
from accelsim.plots import read_run_dir
from accelsim.timeline import LayerSpan, Timeline
from accelsim.workloads import ConvLayer, GemmLayer, VectorOp, Workload

EVIL = '<img src=x onerror="alert(1)">&"quoted"'


def browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


needs_chromium = pytest.mark.skipif(
    browser() is None,
    reason="headless Chromium not found (Debian: apt-get install chromium; tests/run_all.sh "
    "installs it when run as root with apt)",
)


def workload() -> Workload:
    return Workload(
        "tiny",
        [
            ConvLayer("conv1", 1, 3, 16, 16, 16, 3, 3, pad=1),
            VectorOp("relu1", "Relu", "elementwise", 16 * 16 * 16),
            ConvLayer(EVIL, 1, 16, 16, 16, 16, 3, 3, pad=1),
            GemmLayer("fc", 1, 16 * 16 * 16, 10),
        ],
    )


@pytest.fixture(scope="module")
def result() -> accelsim.NetworkResult:
    memory = accelsim.Memory(
        ifmap_bytes=4 << 10, filter_bytes=4 << 10, ofmap_bytes=8 << 10, bandwidth=2.0
    )
    return accelsim.run(
        workload(),
        accelsim.Accelerator(rows=8, cols=8),
        memory=memory,
        vector=accelsim.VectorUnit(lanes=8),
    )


def traced_run_dir(result: accelsim.NetworkResult, path: Path) -> Path:
    """A run directory with a hand-made timeline.csv (as a traced run writes)."""
    run = accelsim.write_run_dir(result, path, argv=["accelsim", "run", "tiny"])
    spans, start = [], 0
    for layer in result.layers:
        spans.append(LayerSpan(layer.name, start, layer.cycles))
        start += layer.cycles
    bins = -(-start // 200)
    rng = np.random.default_rng(1)
    Timeline(
        bin_cycles=200,
        freq_mhz=1000.0,
        total_cycles=start,
        pes=64,
        start=np.arange(bins, dtype=np.int64) * 200,
        pe_utilization=rng.uniform(0, 1, bins),
        dram_bytes=rng.uniform(0, 400, bins),
        peak_bytes_per_cycle=2.0,
        layers=tuple(spans),
    ).to_csv(run / "timeline.csv")
    return run


class _Page(HTMLParser):
    """What the tests look at: <body> attributes, images, layer rows and their first cells,
    and every external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.images: list[str] = []
        self.rows: list[list[str]] = []
        self.external: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag == "img":
            self.images.append(a.get("src") or "")
        for key in ("src", "href"):
            value = a.get(key) or ""
            if tag != "a" and value and not value.startswith("data:"):
                self.external.append(value)
        if tag == "link":
            self.external.append(str(a))
        if tag == "tr" and a.get("class") == "layer":
            self._row = []
        if tag == "td" and self._row is not None:
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def dump_dom(path: Path, tmp_path: Path) -> str:
    """The DOM after the page loaded, from headless Chromium."""
    exe = browser()
    assert exe is not None
    profile = tmp_path / "chromium-profile"
    done = subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# ---- the page as written ---------------------------------------------------------------------


def test_report_holds_table_plots_config_and_escapes_text(
    result: accelsim.NetworkResult, tmp_path: Path
) -> None:
    run = traced_run_dir(result, tmp_path / "run")
    path = report.write_report(run)
    assert path == run / "report.html"
    text = path.read_text(encoding="utf-8")
    page = parse(text)
    # one row per array layer, in order, with the layer's cycles
    assert [row[1] for row in page.rows] == [layer.name for layer in result.layers]
    assert [row[8] for row in page.rows] == [f"{layer.cycles:,}" for layer in result.layers]
    # every plot, embedded; nothing fetched from anywhere
    assert len(page.images) == 4
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    for src in page.images:
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert page.external == []
    assert not re.search(r"@import|url\(|<link|https?://(?!www\.w3\.org)", text)
    # the layer name with markup is text, never markup
    assert EVIL not in text and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in text
    # headline numbers and the resolved configuration
    assert f"{result.total_cycles:,}" in text and "stall filter" in text
    assert '"bandwidth": 2.0' in html.unescape(text) and "relu1" in text


def test_report_without_timeline_says_why(result: accelsim.NetworkResult, tmp_path: Path) -> None:
    run = accelsim.write_run_dir(result, tmp_path / "run")
    text = report.render(read_run_dir(run))
    assert len(parse(text).images) == 2
    assert "need a traced run" in text


def test_report_of_an_ideal_memory_zoo_run(tmp_path: Path) -> None:
    r = accelsim.run("resnet18", accelsim.Accelerator(rows=8, cols=8))
    run = accelsim.write_run_dir(r, tmp_path / "run")
    page = parse(report.render(read_run_dir(run)))
    assert len(page.rows) == 21 and len(page.images) == 2
    assert all(len(row) == 11 for row in page.rows)  # no memory columns


# ---- in a browser ----------------------------------------------------------------------------


@needs_chromium
def test_report_renders_in_headless_chromium(
    result: accelsim.NetworkResult, tmp_path: Path
) -> None:
    run = traced_run_dir(result, tmp_path / "run")
    path = report.write_report(run, tmp_path / "out" / "report.html")
    dom = parse(dump_dom(path, tmp_path))
    assert dom.body.get("data-images") == "4", dom.body
    assert dom.body.get("data-images-ok") == "4", dom.body
    assert [row[1] for row in dom.rows] == [layer.name for layer in result.layers]
    assert dom.external == []


@needs_chromium
def test_a_broken_image_is_caught(result: accelsim.NetworkResult, tmp_path: Path) -> None:
    """The check above can fail: a corrupted image is counted as not rendered."""
    run = accelsim.write_run_dir(result, tmp_path / "run")
    path = report.write_report(run)
    text = path.read_text(encoding="utf-8")
    broken = text.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAAA", 1)
    assert broken != text
    path.write_text(broken, encoding="utf-8")
    dom = parse(dump_dom(path, tmp_path))
    assert dom.body.get("data-images") == "2" and dom.body.get("data-images-ok") == "1"


@needs_chromium
def test_report_screenshot_is_not_blank(result: accelsim.NetworkResult, tmp_path: Path) -> None:
    from matplotlib.image import imread

    run = accelsim.write_run_dir(result, tmp_path / "run")
    path = report.write_report(run)
    shot = tmp_path / "shot.png"
    exe = browser()
    assert exe is not None
    done = subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = imread(shot)
    assert pixels.shape[:2] == (1600, 1200)
    assert pixels.std() > 0.05  # text and plots, not a blank page


# ---- the command -----------------------------------------------------------------------------


def test_cli_report(
    result: accelsim.NetworkResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = accelsim.write_run_dir(result, tmp_path / "run")
    out_file = tmp_path / "r.html"
    assert cli.main(["report", str(run), "-o", str(out_file)]) == 0
    out, err = capsys.readouterr()
    assert out == f"wrote {out_file}\n"
    assert err.startswith("note: ") and "--trace" in err and err.count("\n") == 1
    assert len(parse(out_file.read_text(encoding="utf-8")).rows) == len(result.layers)
    assert cli.main(["report", str(run), "-q"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{run / 'report.html'}\n" and err == ""
    assert cli.main(["report", str(tmp_path / "nope")]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("accelsim: error:") and "not a run directory" in err
    assert err.count("\n") == 1 and "Traceback" not in err
