"""The cycle-level DRAM model from Python: ``accelsim.dram`` and ``accelsim dram``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim import cli, dram
from accelsim.errors import ConfigError, WorkloadError


def write_trace(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_presets_and_config() -> None:
    assert dram.DRAM_PRESETS == ("ddr4-2400", "ddr4-3200", "lpddr4-3200", "hbm2")
    assert "RoBaRaCoCh" in dram.DRAM_MAPPINGS and "RoRaCoBaBgCh" in dram.DRAM_MAPPINGS
    c = dram.dram_config("ddr4-3200")
    assert c["peak_bandwidth_gbps"] == 25.6
    assert c["burst_bytes"] == 64
    assert c["timing_cycles"]["tRCD"] == 22
    assert c["timing_cycles"]["tREFI"] == 12480
    h = dram.dram_config("hbm2", mapping="robaracoch", read_queue=8, lookahead=4)
    assert (h["channels"], h["mapping"], h["read_queue"], h["lookahead"]) == (
        16,
        "RoBaRaCoCh",
        8,
        4,
    )
    assert h["peak_bandwidth_gbps"] == 256.0


@pytest.mark.parametrize(
    ("kwargs", "field", "choices"),
    [
        ({"dram": "ddr5"}, "dram", "ddr4-2400, ddr4-3200, lpddr4-3200, hbm2"),
        ({"mapping": "RoCh"}, "mapping", "RoBaRaCoCh"),
        ({"read_queue": 0}, "read_queue", "1 to"),
        ({"lookahead": -1}, "lookahead", "positive"),
    ],
)
def test_bad_config_names_field_and_choices(
    kwargs: dict[str, object], field: str, choices: str
) -> None:
    with pytest.raises(ConfigError, match=field) as err:
        dram.run_trace([(0, "R", 0)], **kwargs)  # type: ignore[arg-type]
    assert choices in str(err.value)


def test_run_trace_rows_latencies_and_stats() -> None:
    t = dram.dram_config("ddr4-3200")["timing_cycles"]
    # Default mapping RoRaCoBaBgCh: column bits sit above bank and bank group (16 banks x 64 B).
    same_row_next_col = 16 * 64
    r = dram.run_trace([(0, "R", 0), (1000, "R", same_row_next_col), (2000, True, 0)])
    assert isinstance(r, dram.DramTraceResult)
    assert len(r) == 3
    lat = r.latency
    assert lat.dtype == np.uint64
    assert int(lat[0]) == t["tRCD"] + t["tCL"] + t["tBL"]
    assert int(lat[1]) == t["tCL"] + t["tBL"]
    assert int(lat[2]) == 1  # a posted write to the open row: WR in its arrival cycle
    assert (r.reads, r.writes, r.row_hits, r.row_misses) == (2, 1, 2, 1)
    assert r.bytes_read == 128 and r.bytes_written == 64
    assert r.cycles == int(r.completion.max())
    assert r.max_read_latency == t["tRCD"] + t["tCL"] + t["tBL"]
    assert r.avg_read_latency_ns == pytest.approx(r.avg_read_latency * 0.625)
    d = r.to_dict()
    assert d["requests"] == 3 and d["dram"]["dram"] == "ddr4-3200"
    assert list(d["stats"]) == [info.name for info in dram.stat_catalog()]
    json.loads(r.to_json())


def test_result_attributes_match_the_native_catalog() -> None:
    names = [info.name for info in dram.stat_catalog()]
    assert names == list(dram.DramTraceResult.stat_names())
    r = dram.run_trace([(0, "R", 0)])
    for info in dram.stat_catalog():
        assert isinstance(getattr(r, info.name), (int, float)), info.name
        assert info.unit and info.description


def test_sequential_stream_reaches_peak_and_rbc_is_tccd_bound() -> None:
    n = 20_000
    cols = dram.TraceColumns(
        np.zeros(n, np.uint64), np.zeros(n, np.bool_), np.arange(n, dtype=np.uint64) * 64
    )
    fast = dram.run_trace(cols, "ddr4-3200")
    assert fast.bandwidth_fraction > 0.9
    assert fast.row_hit_rate > 0.95
    slow = dram.run_trace(cols, "ddr4-3200", mapping="RoBaRaCoCh", lookahead=4)
    # tCCD_L = 8 cycles per 4-cycle burst: at most half the peak.
    assert 0.44 < slow.bandwidth_fraction <= 0.5


def test_trace_file_and_freq(tmp_path: Path) -> None:
    path = write_trace(
        tmp_path / "t.trace",
        ["# arrival kind address", "0 R 0x0", "", "10 W 0x40  # write", "20 r 128"],
    )
    cols = dram.read_trace(path)
    assert cols.arrival.tolist() == [0, 10, 20]
    assert cols.write.tolist() == [False, True, False]
    assert cols.addr.tolist() == [0, 64, 128]
    r = dram.run_trace(path, "lpddr4-3200")
    assert r.reads == 2 and r.writes == 1
    # At 800 MHz an accelerator cycle is two LPDDR4-3200 (1600 MHz) cycles.
    a = dram.run_trace(str(path), "lpddr4-3200", freq_mhz=800)
    assert a.enqueued.tolist() == [0, 20, 40]
    assert a.freq_mhz == 800 and a.acc_cycles == (a.cycles + 1) // 2
    assert a.completion_acc is not None
    assert a.completion_acc.tolist() == [(int(c) + 1) // 2 for c in a.completion]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("5 X 0x40", "neither R nor W"),
        ("five R 0x40", "arrival"),
        ("5 R 0xZZ", "address"),
        ("5 R", "three fields"),
    ],
)
def test_malformed_trace_names_file_and_line(tmp_path: Path, line: str, why: str) -> None:
    path = write_trace(tmp_path / "bad.trace", ["# ok", "0 R 0", line])
    with pytest.raises(WorkloadError, match=why) as err:
        dram.run_trace(path)
    assert f"{path}:3" in str(err.value)


@pytest.mark.parametrize(
    "rows",
    [[(0, "Q", 0)], [(-1, "R", 0)], [(0, "R", 1 << 64)], [(0, "R")], ["0 R 0"], [(0.5, "R", 0)]],
)
def test_malformed_rows(rows: list[object]) -> None:
    with pytest.raises(WorkloadError, match="trace row 0"):
        dram.run_trace(rows)  # type: ignore[arg-type]


def test_columns_are_checked() -> None:
    bad = dram.TraceColumns(np.array([0, -1]), np.zeros(2, np.bool_), np.zeros(2, np.uint64))
    with pytest.raises(WorkloadError, match="arrival"):
        dram.run_trace(bad)
    short = dram.TraceColumns(np.zeros(2, np.uint64), np.zeros(1, np.bool_), np.zeros(2, np.uint64))
    with pytest.raises(WorkloadError, match="differ in length"):
        dram.run_trace(short)


def test_empty_trace() -> None:
    r = dram.run_trace([])
    assert (r.cycles, r.reads, r.bandwidth_gbps, len(r)) == (0, 0, 0.0, 0)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 5_000),
            st.booleans(),
            st.integers(0, (1 << 24) - 1).map(lambda a: a * 64),
        ),
        max_size=60,
    ),
    st.sampled_from(dram.DRAM_PRESETS),
    st.sampled_from(dram.DRAM_MAPPINGS),
)
def test_every_request_completes_after_it_enters(
    rows: list[tuple[int, bool, int]], preset: str, mapping: str
) -> None:
    r = dram.run_trace(rows, preset, mapping, read_queue=4, write_queue=4, lookahead=3)
    assert r.reads + r.writes == len(rows)
    assert r.row_hits + r.row_misses + r.row_conflicts == len(rows)
    arrival = np.array([a for a, _, _ in rows], dtype=np.uint64)
    assert (r.enqueued >= arrival).all()
    assert (r.completion > r.enqueued).all()
    if rows:
        assert r.cycles == int(r.completion.max())
        assert 0.0 <= r.bandwidth_fraction <= 1.0


# ---- CLI ----------------------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_trace(tmp_path / "t.trace", [f"{i} R {i * 64:#x}" for i in range(100)])
    code, out, err = run_cli(capsys, "dram", str(path), "--dram", "hbm2", "--lookahead", "8")
    assert code == 0, err
    assert "bandwidth_gbps" in out and "row_hits" in out and "hbm2" in out
    out_json = tmp_path / "r.json"
    code, out, err = run_cli(
        capsys, "dram", str(path), "--mapping", "RoBaRaCoCh", "--json", str(out_json)
    )
    assert code == 0, err
    data = json.loads(out_json.read_text())
    assert data["stats"]["reads"] == 100 and data["dram"]["mapping"] == "RoBaRaCoCh"
    code, out, err = run_cli(capsys, "dram", str(path), "--freq-mhz", "500", "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert data["freq_mhz"] == 500 and data["acc_cycles"] > 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--dram", "ddr5"], "ddr4-2400, ddr4-3200, lpddr4-3200, hbm2"),
        (["--mapping", "nope"], "RoBaRaCoCh"),
        (["--read-queue", "0"], "read_queue"),
        (["--freq-mhz", "0"], "freq_mhz"),
    ],
)
def test_cli_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    path = write_trace(tmp_path / "t.trace", ["0 R 0"])
    code, _, err = run_cli(capsys, "dram", str(path), *argv)
    assert code == 2
    assert err.startswith("accelsim: error:") and needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_bad_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_trace(tmp_path / "bad.trace", ["0 R 0", "1 R"])
    code, _, err = run_cli(capsys, "dram", str(path))
    assert code == 2 and f"{path}:2" in err
    code, _, err = run_cli(capsys, "dram", str(tmp_path / "missing.trace"))
    assert code == 2 and "cannot read trace" in err
    with pytest.raises(cli.UsageError) as exc:  # --debug shows the traceback
        cli.main(["dram", str(path), "--debug"])
    assert isinstance(exc.value.__cause__, WorkloadError)
