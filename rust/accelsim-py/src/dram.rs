//! Binding of the cycle-level DRAM model: presets, trace parsing and `run_trace`.

use crate::{detached, to_py};
use accelsim_core::dram::{
    parse_trace, run_trace_cancellable, ClockConverter, DramConfig, DramPreset, DramStats, Mapping,
    StatValue, TraceRequest,
};
use accelsim_core::Error;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

fn queue(field: &str, v: Option<i64>) -> PyResult<Option<u32>> {
    v.map(|v| {
        u32::try_from(v).map_err(|_| {
            to_py(Error::config(
                field,
                format!("{v} is out of range; it must be a positive integer"),
            ))
        })
    })
    .transpose()
}

/// The preset `dram` with the given overrides, validated.
fn config(
    dram: &str,
    mapping: Option<&str>,
    read_queue: Option<i64>,
    write_queue: Option<i64>,
    lookahead: Option<i64>,
) -> PyResult<DramConfig> {
    let mut c = DramConfig::preset(dram).map_err(to_py)?;
    if let Some(m) = mapping {
        c = c.with_mapping(m).map_err(to_py)?;
    }
    if let Some(v) = queue("read_queue", read_queue)? {
        c.read_queue = v;
    }
    if let Some(v) = queue("write_queue", write_queue)? {
        c.write_queue = v;
    }
    if let Some(v) = queue("lookahead", lookahead)? {
        c.lookahead = v;
    }
    c.validate().map_err(to_py)?;
    Ok(c)
}

fn set_stats(d: &Bound<'_, PyDict>, s: &DramStats) -> PyResult<()> {
    for (name, v) in s.values() {
        match v {
            StatValue::Int(x) => d.set_item(name, x)?,
            StatValue::Float(x) => d.set_item(name, x)?,
        }
    }
    Ok(())
}

fn describe<'py>(py: Python<'py>, c: &DramConfig) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("dram", c.preset.name())?;
    d.set_item("data_rate", c.data_rate)?;
    d.set_item("tck_ns", c.tck_ns())?;
    d.set_item("clock_mhz", c.clock_khz() as f64 / 1000.0)?;
    let o = &c.org;
    d.set_item("channels", o.channels)?;
    d.set_item("ranks", o.ranks)?;
    d.set_item("bank_groups", o.bank_groups)?;
    d.set_item("banks_per_group", o.banks_per_group)?;
    d.set_item("rows", o.rows)?;
    d.set_item("columns", o.columns)?;
    d.set_item("bus_width", o.bus_width)?;
    d.set_item("burst_length", o.burst_length)?;
    d.set_item("burst_bytes", c.burst_bytes())?;
    d.set_item("capacity_bytes", o.capacity_bytes())?;
    d.set_item("peak_bandwidth_gbps", c.peak_bandwidth_gbps())?;
    d.set_item("mapping", c.mapping.name())?;
    d.set_item("read_queue", c.read_queue)?;
    d.set_item("write_queue", c.write_queue)?;
    d.set_item("lookahead", c.lookahead)?;
    d.set_item("write_high_watermark", c.write_high_watermark)?;
    d.set_item("write_low_watermark", c.write_low_watermark)?;
    d.set_item("refresh", c.refresh)?;
    let t = PyDict::new(py);
    for (name, v) in c.cycles().entries() {
        t.set_item(name, v)?;
    }
    d.set_item("timing_cycles", t)?;
    Ok(d)
}

/// The resolved configuration of a preset with overrides: organization, queues, timing in
/// DRAM cycles, peak bandwidth.
#[pyfunction]
#[pyo3(signature = (dram="ddr4-3200", mapping=None, read_queue=None, write_queue=None,
    lookahead=None))]
fn dram_config<'py>(
    py: Python<'py>,
    dram: &str,
    mapping: Option<&str>,
    read_queue: Option<i64>,
    write_queue: Option<i64>,
    lookahead: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let c = config(dram, mapping, read_queue, write_queue, lookahead)?;
    describe(py, &c)
}

/// Parse the text trace format; returns (arrival, write, addr) columns.
#[pyfunction]
#[pyo3(signature = (text, source="<trace>"))]
#[allow(clippy::type_complexity)]
fn dram_parse_trace<'py>(
    py: Python<'py>,
    text: &str,
    source: &str,
) -> PyResult<(
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<bool>>,
    Bound<'py, PyArray1<u64>>,
)> {
    let reqs = py.detach(|| parse_trace(text, source)).map_err(to_py)?;
    let arrival: Vec<u64> = reqs.iter().map(|r| r.arrival).collect();
    let write: Vec<bool> = reqs.iter().map(|r| r.write).collect();
    let addr: Vec<u64> = reqs.iter().map(|r| r.addr).collect();
    Ok((
        arrival.into_pyarray(py),
        write.into_pyarray(py),
        addr.into_pyarray(py),
    ))
}

/// Run a request trace (columns) through a fresh DRAM; returns the statistics, the resolved
/// configuration under "config", and per-request "enqueued" and "completion" cycles.
#[pyfunction]
#[pyo3(signature = (arrival, write, addr, dram="ddr4-3200", mapping=None, read_queue=None,
    write_queue=None, lookahead=None, freq_mhz=None))]
#[allow(clippy::too_many_arguments)]
fn dram_run_trace<'py>(
    py: Python<'py>,
    arrival: PyReadonlyArray1<'py, u64>,
    write: PyReadonlyArray1<'py, bool>,
    addr: PyReadonlyArray1<'py, u64>,
    dram: &str,
    mapping: Option<&str>,
    read_queue: Option<i64>,
    write_queue: Option<i64>,
    lookahead: Option<i64>,
    freq_mhz: Option<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let c = config(dram, mapping, read_queue, write_queue, lookahead)?;
    let clock = freq_mhz
        .map(|f| ClockConverter::new(&c, f))
        .transpose()
        .map_err(to_py)?;
    let (a, w, x) = (arrival.as_slice()?, write.as_slice()?, addr.as_slice()?);
    if a.len() != w.len() || a.len() != x.len() {
        return Err(to_py(Error::workload(
            "trace",
            format!(
                "columns differ in length: arrival {}, write {}, addr {}",
                a.len(),
                w.len(),
                x.len()
            ),
        )));
    }
    let trace: Vec<TraceRequest> = (0..a.len())
        .map(|i| TraceRequest {
            arrival: clock.map_or(a[i], |k| k.to_dram(a[i])),
            addr: x[i],
            write: w[i],
        })
        .collect();
    let r = detached(py, |cancel| run_trace_cancellable(&c, &trace, cancel))?;
    let d = PyDict::new(py);
    set_stats(&d, &r.stats)?;
    d.set_item("config", describe(py, &c)?)?;
    if let Some(k) = clock {
        let to_acc = |v: &[u64]| v.iter().map(|&x| k.to_acc(x)).collect::<Vec<u64>>();
        d.set_item("freq_mhz", k.acc_khz() as f64 / 1000.0)?;
        d.set_item("acc_cycles", k.to_acc(r.stats.cycles))?;
        d.set_item("completion_acc", to_acc(&r.completion).into_pyarray(py))?;
    }
    d.set_item("enqueued", r.enqueued.into_pyarray(py))?;
    d.set_item("completion", r.completion.into_pyarray(py))?;
    Ok(d)
}

/// Every DRAM statistic as `(name, unit, description)`.
#[pyfunction]
fn dram_stat_catalog() -> Vec<(&'static str, &'static str, &'static str)> {
    DramStats::CATALOG.to_vec()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("DRAM_PRESETS", PyTuple::new(py, DramPreset::NAMES)?)?;
    m.add("DRAM_MAPPINGS", PyTuple::new(py, Mapping::NAMES)?)?;
    m.add_function(wrap_pyfunction!(dram_config, m)?)?;
    m.add_function(wrap_pyfunction!(dram_parse_trace, m)?)?;
    m.add_function(wrap_pyfunction!(dram_run_trace, m)?)?;
    m.add_function(wrap_pyfunction!(dram_stat_catalog, m)?)?;
    Ok(())
}
