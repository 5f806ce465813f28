"""The ``accelsim`` command line: in-process through ``main([...])`` and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import accelsim
from accelsim import cli
from accelsim.errors import SimulationError
from accelsim.workloads import MODELS, ConvLayer, GemmLayer, Workload

RESNET18_MACS = 1_814_073_344


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def python_m(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accelsim", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture
def tiny_model(monkeypatch: pytest.MonkeyPatch) -> str:
    """A three-layer model in the zoo, small enough for the register-level engine."""

    def tiny(batch: int) -> Workload:
        return Workload(
            "tiny",
            [
                ConvLayer("conv", batch, 3, 8, 8, 8, 3, 3, pad=1),
                ConvLayer("dw", batch, 8, 8, 8, 8, 3, 3, pad=1, groups=8),
                GemmLayer("fc", batch, 8 * 8 * 8, 10),
            ],
        )

    monkeypatch.setitem(MODELS, "tiny", tiny)
    return "tiny"


# ---- run ----------------------------------------------------------------------------------------


def test_run_json_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json = tmp_path / "out.json"
    code, out, err = run_cli(capsys, "run", "resnet18", "--pe", "32x32", "--json", str(out_json))
    assert code == 0, err
    data = json.loads(out_json.read_text())
    assert len(data["layers"]) == 21
    assert data["total_macs"] == RESNET18_MACS
    assert data["total_cycles"] == sum(layer["cycles"] for layer in data["layers"])
    assert data["config"]["accelerator"]["rows"] == 32
    # The human table went to stdout: every layer name and the totals.
    for layer in data["layers"]:
        assert layer["name"] in out
    assert "1,814,073,344" in out
    assert f"{data['total_cycles']:,}" in out
    assert err == ""


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_run_each_dataflow_json_stdout(capsys: pytest.CaptureFixture[str], dataflow: str) -> None:
    code, out, err = run_cli(
        capsys, "run", "resnet18", "--pe", "16x8", "--dataflow", dataflow, "--json", "-"
    )
    assert code == 0, err
    data = json.loads(out)  # stdout holds the JSON only
    assert data["config"]["accelerator"]["dataflow"] == dataflow
    assert (data["config"]["accelerator"]["rows"], data["config"]["accelerator"]["cols"]) == (16, 8)
    assert len(data["layers"]) == 21
    assert data["total_macs"] == RESNET18_MACS
    expected = accelsim.run("resnet18", accelsim.Accelerator(rows=16, cols=8, dataflow=dataflow))
    assert data["total_cycles"] == expected.total_cycles


def test_run_flags_reach_the_accelerator(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys,
        "run",
        "resnet18",
        "--pe",
        "8x4",
        "--dataflow",
        "os",
        "--batch",
        "2",
        "--freq-mhz",
        "500",
        "--mac-latency",
        "2",
        "--acc-latency",
        "3",
        "--no-stationary-double-buffer",
        "--os-drain",
        "bottom",
        "--no-os-output-double-buffer",
        "--json",
        "-",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["config"] == {
        "model": "resnet18",
        "batch": 2,
        "engine": "fast",
        "accelerator": {
            "rows": 8,
            "cols": 4,
            "dataflow": "os",
            "mac_latency": 2,
            "acc_latency": 3,
            "stationary_double_buffer": False,
            "os_drain": "bottom",
            "os_output_double_buffer": False,
            "freq_mhz": 500.0,
        },
    }
    assert data["total_macs"] == 2 * RESNET18_MACS
    assert data["time_s"] == pytest.approx(data["total_cycles"] / 500e6)


def test_run_csv_and_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "layers.csv"
    code, out, err = run_cli(capsys, "run", "resnet18", "--csv", str(path), "--quiet")
    assert code == 0, err
    assert out == f"{path}\n" and err == ""  # quiet: only the files written
    lines = path.read_text().splitlines()
    assert len(lines) == 22
    assert lines[1].startswith("conv1,conv,12544,147,64,1,")


def test_run_csv_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", "resnet18", "--csv", "-")
    assert code == 0, err
    lines = out.splitlines()  # the CSV only: no table
    assert len(lines) == 22 and lines[0].startswith("name,kind,m,k,n,groups,")
    code, out, err = run_cli(capsys, "run", "resnet18", "--csv", "-", "--json", "-")
    assert code == 2 and out == ""
    assert err == (
        "accelsim: error: --json - and --csv - cannot both write to stdout; give one a FILE\n"
    )


def test_run_pe_engine_with_progress(tiny_model: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", tiny_model, "--pe", "4x4", "--engine", "pe")
    assert code == 0, err
    for name in ("conv", "dw", "fc"):
        assert name in out
    fast = accelsim.run("tiny", accelsim.Accelerator(rows=4, cols=4))
    assert f"{fast.total_macs:,}" in out


# ---- run directories ----------------------------------------------------------------------------


def test_run_dir_round_trip_is_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    code, _, err = run_cli(
        capsys, "run", "resnet18", "--pe", "16x8", "--dataflow", "is", "--batch", "3",
        "--freq-mhz", "800", "--acc-latency", "2", "--run-dir", str(first), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run_cli(
        capsys, "run", "--config", str(first / "config.json"), "--run-dir", str(second), "-q"
    )
    assert code == 0, err
    for name in ("config.json", "stats.json", "layers.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    config = json.loads((first / "config.json").read_text())
    assert config["batch"] == 3 and config["accelerator"]["dataflow"] == "is"
    meta = json.loads((second / "metadata.json").read_text())
    assert meta["command"][:3] == ["accelsim", "run", "--config"]


def test_toml_config_and_flag_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(
        'model = "resnet18"\nbatch = 2\n\n[accelerator]\nrows = 16\ncols = 16\ndataflow = "os"\n'
    )
    code, _, err = run_cli(capsys, "run", "--config", str(toml), "--run-dir", str(tmp_path / "t"))
    assert code == 0, err
    code, _, err = run_cli(
        capsys, "run", "resnet18", "--pe", "16x16", "--dataflow", "os", "--batch", "2",
        "--run-dir", str(tmp_path / "f"),
    )  # fmt: skip
    assert code == 0, err
    for name in ("config.json", "stats.json", "layers.csv"):
        assert (tmp_path / "t" / name).read_bytes() == (tmp_path / "f" / name).read_bytes()
    # Flags override the file.
    code, out, err = run_cli(
        capsys, "run", "--config", str(toml), "--dataflow", "ws", "--json", "-"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["config"]["accelerator"]["dataflow"] == "ws"
    assert data["config"]["accelerator"]["rows"] == 16 and data["config"]["batch"] == 2


# ---- models, stats ------------------------------------------------------------------------------


def test_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "models")
    assert code == 0, err
    row = next(line for line in out.splitlines() if "resnet18" in line)
    assert "21" in row.split() and "1,814,073,344" in row and "11,678,912" in row


def test_stats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "stats")
    assert code == 0, err
    for info in accelsim.stat_catalog():
        row = next(line for line in out.splitlines() if line.split()[:1] == [info.name])
        assert info.unit in row


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0
    assert out.strip() == f"accelsim {accelsim.__version__}"


# ---- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "must_contain"),
    [
        (["run", "resnet81"], ["'resnet81'", "did you mean 'resnet18'", "valid choices"]),
        (["run", "resnet18", "--pe", "32by32"], ["pe", "ROWSxCOLS", "32x32", "'32by32'"]),
        (["run", "resnet18", "--pe", "0x4"], ["pe", "ROWSxCOLS", "'0x4'"]),
        (["run", "resnet18", "--pe=-4x4"], ["pe", "ROWSxCOLS", "'-4x4'"]),
        (["run", "resnet18", "--pe", "-4x4"], ["--pe", "expected one argument"]),
        (["run", "resnet18", "--dataflow", "rs"], ["--dataflow", "'rs'", "ws", "os", "is"]),
        (["run", "resnet18", "--engine", "rtl"], ["--engine", "'rtl'", "fast", "pe"]),
        (["run", "resnet18", "--os-drain", "left"], ["--os-drain", "'left'", "right", "bottom"]),
        (["run", "resnet18", "--batch", "0"], ["batch", "positive"]),
        (["run", "resnet18", "--batch", "two"], ["--batch", "invalid int value"]),
        (["run", "resnet18", "--mac-latency", "0"], ["mac_latency"]),
        (["run", "resnet18", "--acc-latency", "-1"], ["acc_latency"]),
        (["run", "resnet18", "--freq-mhz", "0"], ["freq_mhz"]),
        (["run", "resnet18", "--pe", "70000x4"], ["rows"]),
        (["run"], ["MODEL", "--config"]),
        (["run", "--config", "nope.json"], ["config", "nope.json"]),
        (["run", "resnet18", "--config", "run.yaml"], [".json, .toml"]),
        (["fly"], ["invalid choice", "run", "models", "stats"]),
        ([], ["required"]),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], must_contain: list[str]
) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("accelsim: error: ")
    for text in must_contain:
        assert text in lines[0]
    assert "Traceback" not in err


def test_bad_config_key_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model": "resnet18", "accelerator": {"rows": 8, "colls": 8}}))
    code, _, err = run_cli(capsys, "run", "--config", str(path))
    assert code == 2
    assert err.count("\n") == 1
    assert "unknown accelerator key 'colls'" in err and "did you mean 'cols'" in err


def test_simulation_error_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise SimulationError("simulation failed: fold 3 never finished")

    monkeypatch.setattr(cli, "run", broken)
    code, out, err = run_cli(capsys, "run", "resnet18")
    assert code == 1
    assert out == ""
    assert err == "accelsim: error: simulation failed: fold 3 never finished\n"
    with pytest.raises(SimulationError):
        cli.main(["run", "resnet18", "--debug"])


def test_unwritable_output_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", "resnet18", "-q", "--json", str(tmp_path / "no/x.json"))
    assert code == 1
    assert err.startswith("accelsim: error: ") and err.count("\n") == 1


def test_process_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    bad = python_m("run", "resnet81", "--pe", "32x32")
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.startswith("accelsim: error: model: unknown model 'resnet81'")
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr

    debug = python_m("run", "resnet81", "--debug")
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "WorkloadError" in debug.stderr

    ok = python_m("run", "resnet18", "--pe", "32x32", "--json", "out.json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    data = json.loads((tmp_path / "out.json").read_text())
    assert len(data["layers"]) == 21 and data["total_macs"] == RESNET18_MACS


# ---- --json alone, --quiet, files written, unexpected errors -------------------------------------


def test_json_alone_prints_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", "resnet18", "--pe", "16x16", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)  # stdout holds the JSON only
    assert data["total_macs"] == RESNET18_MACS
    # the same as --json - and as --json FILE
    code, out_dash, _ = run_cli(capsys, "run", "resnet18", "--pe", "16x16", "--json", "-")
    assert code == 0 and out_dash == out
    path = tmp_path / "r.json"
    code, out_file, _ = run_cli(capsys, "run", "resnet18", "--pe", "16x16", "--json", str(path))
    assert code == 0 and path.read_text() == out
    assert out_file.splitlines()[-1] == f"wrote {path}"  # after the tables, the files written
    # a flag after a bare --json is still a flag
    code, out, err = run_cli(capsys, "run", "resnet18", "--json", "--quiet")
    assert code == 0 and json.loads(out)["total_macs"] == RESNET18_MACS and err == ""
    # --json with --csv - : both want stdout
    code, _, err = run_cli(capsys, "run", "resnet18", "--csv", "-", "--json")
    assert code == 2 and "cannot both write to stdout" in err


@pytest.mark.parametrize("command", ["models", "stats"])
def test_listing_commands_take_json(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, command, "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    if command == "models":
        assert "resnet18" in {m["name"] for m in data}
        resnet = next(m for m in data if m["name"] == "resnet18")
        assert resnet["macs"] == RESNET18_MACS and resnet["layers"] == 21
    else:
        assert {"cycles", "macs"} <= {s["name"] for s in data["stats"]}
        assert "stall_filter_cycles" in {s["name"] for s in data["memory_stats"]}
        assert all({"name", "unit", "description"} == set(s) for s in data["vector_stats"])


def test_dram_json_alone_and_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.trace"
    trace.write_text("".join(f"{i} R {i * 64:#x}\n" for i in range(50)))
    code, out, err = run_cli(capsys, "dram", str(trace), "--json")
    assert code == 0 and json.loads(out)["stats"]["reads"] == 50
    path = tmp_path / "d.json"
    code, out, err = run_cli(capsys, "dram", str(trace), "--json", str(path), "-q")
    assert code == 0 and out == f"{path}\n" and err == ""
    code, out, err = run_cli(capsys, "dram", str(trace), "-q")
    assert code == 0 and out == "" and err == ""


def test_quiet_run_lists_only_the_files_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, path = tmp_path / "run", tmp_path / "r.json"
    code, out, err = run_cli(
        capsys, "run", "resnet18", "--run-dir", str(run_dir), "--json", str(path), "-q"
    )
    assert code == 0 and err == ""
    names = ("config.json", "stats.json", "layers.csv", "metadata.json")
    assert out.splitlines() == [str(path), *(str(run_dir / n) for n in names)]
    # JSON on stdout: the files written go to stderr, so stdout stays parseable
    code, out, err = run_cli(capsys, "run", "resnet18", "--run-dir", str(run_dir), "--json")
    assert code == 0 and json.loads(out)["total_macs"] == RESNET18_MACS
    assert err.splitlines() == [f"wrote {run_dir / n}" for n in names]


def test_unexpected_error_is_one_line_unless_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def bug(*args: object, **kwargs: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(cli, "run", bug)
    code, out, err = run_cli(capsys, "run", "resnet18")
    assert code == 1 and out == ""
    assert err.startswith("accelsim: error: internal error: KeyError") and "--debug" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(KeyError):
        cli.main(["run", "resnet18", "--debug"])


# ---- plot ----------------------------------------------------------------------------------------


def test_plot_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    from accelsim.timeline import LayerSpan, Timeline

    run_dir = tmp_path / "run"
    flags = ["--pe", "8x8", "--bandwidth", "4", "--sram", "ifmap=16K,filter=16K,ofmap=16K"]
    assert cli.main(["run", "resnet18", *flags, "--run-dir", str(run_dir), "-q"]) == 0
    capsys.readouterr()
    code, out, err = run_cli(capsys, "plot", str(run_dir))
    assert code == 0, err
    plots_dir = run_dir / "plots"
    expected = [
        plots_dir / f"{stem}.{fmt}" for stem in ("layers", "roofline") for fmt in ("png", "svg")
    ]
    assert out.splitlines() == [f"wrote {p}" for p in expected]
    assert all(p.stat().st_size > 1000 for p in expected)
    assert err.count("\n") == 1 and err.startswith("note: ") and "--trace" in err
    # quiet: the paths only, no note; --format and -o
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        capsys, "plot", str(run_dir), "-q", "-o", str(out_dir), "--format", "svg"
    )
    assert code == 0 and err == ""
    assert out.splitlines() == [str(out_dir / "layers.svg"), str(out_dir / "roofline.svg")]
    # a traced run (timeline.csv) gets the plots over time too
    stats = json.loads((run_dir / "stats.json").read_text())
    total = stats["total_cycles"]
    Timeline(
        bin_cycles=1000,
        freq_mhz=1000.0,
        total_cycles=total,
        pes=64,
        start=np.arange(-(-total // 1000), dtype=np.int64) * 1000,
        pe_utilization=np.full(-(-total // 1000), 0.5),
        dram_bytes=np.full(-(-total // 1000), 2000.0),
        peak_bytes_per_cycle=4.0,
        layers=(LayerSpan("all", 0, total),),
    ).to_csv(run_dir / "timeline.csv")
    code, out, err = run_cli(capsys, "plot", str(run_dir), "--format", "png")
    assert code == 0 and err == ""
    stems = ("layers", "roofline", "utilization", "dram_bandwidth")
    assert out.splitlines() == [f"wrote {plots_dir / s}.png" for s in stems]


def test_plot_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, needle in (
        (["plot", str(tmp_path / "nope")], "not a run directory"),
        (["plot", str(tmp_path), "--format", "jpg"], "png, svg"),
    ):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and out == ""
        assert err.startswith("accelsim: error:") and needle in err and err.count("\n") == 1


def test_plot_without_matplotlib_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "resnet18", "--pe", "8x8", "--run-dir", str(tmp_path), "-q"]) == 0
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    for command in ("plot", "report"):
        code, out, err = run_cli(capsys, command, str(tmp_path))
        assert code == 2 and out == ""
        assert err == "accelsim: error: plotting needs matplotlib: pip install 'accelsim[plot]'\n"


def test_plot_a_search_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "s.json"
    argv = ["search", "resnet18", "--pe", "8x8", "--bandwidth", "8", "--threads", "1"]
    code, out, err = run_cli(capsys, *argv, "--json", str(path), "-q")
    assert code == 0 and out == f"{path}\n", err
    code, out, err = run_cli(capsys, "plot", str(path))
    assert code == 0 and err == ""
    assert out.splitlines() == [
        f"wrote {tmp_path / 's.comparison.png'}",
        f"wrote {tmp_path / 's.comparison.svg'}",
    ]
    assert (tmp_path / "s.comparison.png").read_bytes().startswith(b"\x89PNG")
