"""SCALE-Sim compatibility: readers, reports against SCALE-Sim 3.0.0's own output, the CLI.

The reference reports under ``tests/fixtures/scalesim/expected/`` were made by SCALE-Sim 3.0.0
itself (``tests/fixtures/scalesim/make_fixtures.py``, command in its docstring and README);
these tests never run SCALE-Sim.
"""

from __future__ import annotations

import functools
import importlib.util
import operator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from accelsim import cli, scalesim
from accelsim.errors import ConfigError, WorkloadError

FIXTURES = Path(__file__).parent / "fixtures" / "scalesim"


def _cases() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases: dict[str, Any] = module.CASES
    return cases


CASES = _cases()
EXPECTED = sorted(p.name for p in (FIXTURES / "expected").iterdir())


def test_every_case_has_its_reference_reports() -> None:
    assert sorted(CASES) == EXPECTED
    dataflows = {CASES[c][2] for c in EXPECTED}
    shapes = {(CASES[c][0], CASES[c][1]) for c in EXPECTED}
    kinds = {CASES[c][7] for c in EXPECTED}
    assert dataflows == {"ws", "os", "is"} and kinds == {"conv", "gemm"}
    assert any(r != c for r, c in shapes) and any(r == c for r, c in shapes)


def _run_case(case: str) -> scalesim.ScaleSimResult:
    topology, kind = CASES[case][6], CASES[case][7]
    config = scalesim.read_config(FIXTURES / "configs" / f"{case}.cfg")
    layers = scalesim.read_topology(FIXTURES / "topologies" / topology, kind)
    return scalesim.simulate(config, layers)


@pytest.mark.parametrize("case", EXPECTED)
@pytest.mark.parametrize("report", scalesim.REPORT_FILES)
def test_reports_equal_scalesims_byte_for_byte(case: str, report: str) -> None:
    expected = (FIXTURES / "expected" / case / report).read_text(encoding="utf-8")
    got = _run_case(case).report(report)
    for want_line, got_line in zip(expected.splitlines(), got.splitlines(), strict=True):
        assert got_line == want_line
    assert got == expected


def test_cli_writes_the_three_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = "conv_4x12_os"
    code = cli.main(
        [
            "scalesim",
            "-c",
            str(FIXTURES / "configs" / f"{case}.cfg"),
            "-t",
            str(FIXTURES / "topologies" / "conv_small.csv"),
            "-p",
            str(tmp_path / "out"),
            "-l",
            str(FIXTURES / "layout_test.csv"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "DP_convChannel_2" in out and "Pointwise" in out
    for report in scalesim.REPORT_FILES:
        got = (tmp_path / "out" / case / report).read_bytes()
        assert got == (FIXTURES / "expected" / case / report).read_bytes()
    assert sorted(p.name for p in (tmp_path / "out" / case).iterdir()) == sorted(
        scalesim.REPORT_FILES
    )


def test_cli_gemm_input_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = "gemm_5x9_is"
    argv = ["scalesim", "-q", "-c", str(FIXTURES / "configs" / f"{case}.cfg")]
    argv += ["-t", str(FIXTURES / "topologies" / "gemm_small.csv"), "-i", "gemm"]
    argv += ["-p", str(tmp_path)]
    assert cli.main(argv) == 0
    out, _ = capsys.readouterr()
    assert out == ""
    got = (tmp_path / case / "COMPUTE_REPORT.csv").read_text()
    assert got == (FIXTURES / "expected" / case / "COMPUTE_REPORT.csv").read_text()


# ---- readers --------------------------------------------------------------------------------


def test_conv_reader_conventions(tmp_path: Path) -> None:
    topo = tmp_path / "t.csv"
    topo.write_text(
        "whatever the header says\n"
        "\n"
        "Conv1, 224, 224, 7, 7, 3, 64, 2,\n"
        "  \n"
        "my_DP_layer,6,6,3,3,3,4,1,\n"
        "sparse,5,5,1,1,2,2,1,2:4,\n"
    )
    layers = scalesim.read_topology(topo)
    assert [layer.name for layer in layers] == [
        "Conv1",
        "my_DP_layerChannel_0",
        "my_DP_layerChannel_1",
        "my_DP_layerChannel_2",
        "sparse",
    ]
    conv1 = layers[0]
    assert (conv1.stride_h, conv1.stride_w) == (2, 2)
    assert (conv1.ofmap_h, conv1.m, conv1.k, conv1.n) == (110, 12100, 147, 64)
    assert {layer.channels for layer in layers[1:4]} == {1}
    assert layers[1].filters == 4


def test_gemm_reader_maps_mnk_to_a_convolution(tmp_path: Path) -> None:
    topo = tmp_path / "g.csv"
    topo.write_text("Layer Name, M, N, K,\nTest 1, 256, 128, 64,\nDP_not_split, 2, 3, 4,\n")
    first, second = scalesim.read_topology(topo, "gemm")
    assert (first.m, first.n, first.k) == (256, 128, 64)
    assert (first.ifmap_h, first.ifmap_w, first.filter_h, first.filter_w) == (256, 64, 1, 64)
    assert second.name == "DP_not_split" and second.channels == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("Conv1,224,224,7,7,3,64,2", "does not end with a comma"),
        ("Conv1,224,224,7,x,3,64,2,", "field 'Filter Width': 'x' is not an integer"),
        ("Conv1,224,224,7,7,3,0,2,", "field 'Num Filter': 0 must be a positive integer"),
        ("Conv1,224,224,7,7,3,64,2,,,110,110,", "12 fields"),
        ("Conv1,4,4,5,1,3,64,2,", "filter height 5 is larger than the IFMAP height 4"),
        ("Conv1,4,4,1,1,3,64,2,1/2,", "field 'Sparsity'"),
    ],
)
def test_malformed_topology_names_file_line_and_field(
    tmp_path: Path, row: str, message: str
) -> None:
    topo = tmp_path / "bad.csv"
    topo.write_text(f"header,\nok,4,4,1,1,1,1,1,\n{row}\n")
    with pytest.raises(WorkloadError, match=message) as info:
        scalesim.read_topology(topo)
    assert f"{topo}:3:" in str(info.value)


def _cfg(tmp_path: Path, edit: dict[str, str | None] | None = None) -> Path:
    """SCALE-Sim's example config with ``key: value`` lines replaced (None drops the line)."""
    lines = (FIXTURES / "configs" / "conv_8x8_ws.cfg").read_text().splitlines()
    out = []
    for line in lines:
        key = line.split(":")[0].split("=")[0].strip()
        if edit and key in edit:
            if edit[key] is not None:
                out.append(f"{key}: {edit[key]}")
            continue
        out.append(line)
    path = tmp_path / "x.cfg"
    path.write_text("\n".join(out) + "\n")
    return path


def test_config_reader_reads_what_scalesim_reads(tmp_path: Path) -> None:
    c = scalesim.read_config(_cfg(tmp_path, {"ArrayWidth": " 12", "Dataflow": "is"}))
    assert (c.run_name, c.rows, c.cols, c.dataflow) == ("conv_8x8_ws", 8, 12, "is")
    assert (c.ifmap_kb, c.filter_kb, c.ofmap_kb) == (1, 1, 1)
    assert (c.ifmap_offset, c.filter_offset, c.ofmap_offset) == (0, 10_000_000, 20_000_000)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"ArrayHeight": None}, r"\[architecture_presets\] ArrayHeight is missing"),
        ({"ArrayHeight": "32x"}, "ArrayHeight: '32x' is not an integer"),
        ({"ArrayHeight": "0"}, "ArrayHeight: 0 must be at least 1"),
        ({"Dataflow": "WS"}, "Dataflow: unknown value 'WS'; valid choices: os, ws, is"),
        ({"InterfaceBandwidth": "USER"}, "InterfaceBandwidth: USER .* valid choices: CALC"),
        ({"InterfaceBandwidth": "EST"}, "valid choices: CALC, USER"),
        ({"UseRamulatorTrace": "True"}, "valid choices: False"),
        ({"SparsitySupport": "true"}, "valid choices: false"),
        ({"IfmapCustomLayout": "maybe"}, "not a boolean"),
        ({"IfmapOffset": "-4"}, "IfmapOffset: -4 must be at least 0"),
        ({"Arrayheigth": "4"}, "unknown key 'arrayheigth' in \\[architecture_presets\\]"),
    ],
)
def test_bad_config_names_file_line_and_key(
    tmp_path: Path, edit: dict[str, str | None], message: str
) -> None:
    path = _cfg(tmp_path, edit)
    if "Arrayheigth" in edit:  # a new key: append it to its section
        text = path.read_text().replace("ArrayWidth:", "Arrayheigth: 4\nArrayWidth:")
        path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        scalesim.read_config(path)
    assert str(path) in str(info.value)


def test_config_errors_carry_the_line(tmp_path: Path) -> None:
    path = _cfg(tmp_path, {"Dataflow": "xs"})
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "Dataflow" in t)
    with pytest.raises(ConfigError, match=f"{path}:{line}: Dataflow"):
        scalesim.read_config(path)


def test_cli_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    topo = tmp_path / "bad.csv"
    topo.write_text("h,\nConv1,224,224,7,7,3,64,2\n")
    cfg = FIXTURES / "configs" / "conv_8x8_ws.cfg"
    code = cli.main(["scalesim", "-c", str(cfg), "-t", str(topo), "-p", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("accelsim: error: ")
    assert f"{topo}:2:" in err and "Traceback" not in err
    code = cli.main(["scalesim", "-c", str(tmp_path / "none.cfg"), "-t", str(topo)])
    _, err = capsys.readouterr()
    assert code == 2 and "cannot read the config" in err
    code = cli.main(["scalesim", "-c", str(cfg), "-t", str(topo), "-i", "mnk"])
    _, err = capsys.readouterr()
    assert code == 2 and "conv" in err and "gemm" in err
    with pytest.raises(cli.UsageError) as info:  # --debug: the traceback, not one line
        cli.main(["scalesim", "--debug", "-c", str(cfg), "-t", str(topo)])
    assert isinstance(info.value.__cause__, WorkloadError)


def test_api_columns_and_layers() -> None:
    result = _run_case("conv_7x5_ws")
    assert len(result) == 8
    assert result.column("stall_cycles") == [0] * 8
    assert [row["m"] for row in result.rows] == [layer.m for layer in result.layers]
    assert result.rows[0]["total_cycles"] == 1637
    with pytest.raises(WorkloadError, match="filter_h"):
        scalesim.ScaleSimLayer("x", 2, 2, 3, 1, 1, 1, 1, 1)
    with pytest.raises(ConfigError, match="run_name"):
        scalesim.ScaleSimConfig("a/b", 4, 4, "ws", 1, 1, 1)


# ---- the compute report against its formulas (docs/scalesim.md), re-derived in Python --------

layer_dims = st.integers(1, 12)


@st.composite
def scalesim_cases(draw: st.DrawFn) -> tuple[scalesim.ScaleSimConfig, scalesim.ScaleSimLayer]:
    h, w = draw(layer_dims), draw(layer_dims)
    layer = scalesim.ScaleSimLayer(
        "L",
        h,
        w,
        draw(st.integers(1, h)),
        draw(st.integers(1, w)),
        draw(st.integers(1, 5)),
        draw(st.integers(1, 20)),
        *[draw(st.integers(1, 3))] * 2,
    )
    config = scalesim.ScaleSimConfig(
        "case",
        draw(st.integers(1, 10)),
        draw(st.integers(1, 10)),
        draw(st.sampled_from(scalesim.DATAFLOWS)),
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
    )
    return config, layer


def _sum_311(values: list[float]) -> float:
    """``sum()`` of floats as CPython <= 3.11 (which made the fixtures) computes it: left to
    right; 3.12+ compensates (docs/scalesim.md)."""
    return functools.reduce(operator.add, values)


def _expected_compute(c: scalesim.ScaleSimConfig, layer: scalesim.ScaleSimLayer) -> dict[str, Any]:
    r, cc, m, k, n = c.rows, c.cols, layer.m, layer.k, layer.n
    ceil = lambda a, b: -(-a // b)  # noqa: E731
    if c.dataflow == "ws":
        t, outer, inner, lines = m, ceil(n, cc), ceil(k, r), m + 2 * r + cc - 2
        used = [min(r, k - i * r) * min(cc, n - o * cc) for o in range(outer) for i in range(inner)]
        util_cycles = 2 * r + 2 * cc + t - 3
        sram = (outer * m * k, k * n, inner * m * n)
    elif c.dataflow == "os":
        t, outer, inner, lines = k, ceil(n, cc), ceil(m, r), k + r + cc - 2
        used = [min(r, m - i * r) * min(cc, n - o * cc) for o in range(outer) for i in range(inner)]
        util_cycles = t + r + cc - 2
        sram = (outer * k * m, inner * k * n, m * n + outer * inner * (r + cc))
    else:
        t, outer, inner, lines = n, ceil(m, cc), ceil(k, r), n + 2 * r + cc - 2
        used = [min(r, k - i * r) * min(cc, m - o * cc) for o in range(outer) for i in range(inner)]
        util_cycles = 2 * r + 2 * cc + t - 3
        sram = (k * m, outer * n * k, inner * n * m)
    total = outer * inner * lines - 1
    pes = r * cc
    return {
        "folds": outer * inner,
        "total_cycles": total,
        "stall_cycles": 0,
        "overall_util": m * k * n * 100 / (total * pes),
        "mapping_efficiency": _sum_311([u / pes for u in used]) / len(used) * 100,
        "compute_util": _sum_311([u * t / (pes * util_cycles) for u in used]) / len(used) * 100,
        "ifmap_sram_reads": sram[0],
        "filter_sram_reads": sram[1],
        "ofmap_sram_writes": sram[2],
    }


@given(scalesim_cases())
def test_compute_report_follows_scalesims_formulas(
    case: tuple[scalesim.ScaleSimConfig, scalesim.ScaleSimLayer],
) -> None:
    config, layer = case
    assume(not (layer.m == layer.k == layer.n == 1 and config.rows == config.cols == 1))
    try:
        row = scalesim.simulate(config, [layer]).rows[0]
    except WorkloadError as exc:  # SCALE-Sim divides by zero on a one-cycle layer
        assert "ZeroDivisionError" in str(exc)
        return
    expected = _expected_compute(config, layer)
    assert {key: row[key] for key in expected} == expected
    assert row["total_cycles_incl_prefetch"] >= row["total_cycles"]
    assert row["filter_dram_reads"] <= row["filter_sram_reads"]
