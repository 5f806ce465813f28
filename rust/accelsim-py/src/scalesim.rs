//! Binding of the SCALE-Sim 3.0.0 compatibility model (`accelsim_core::scalesim`).

use crate::{detached, to_py};
use accelsim_core::scalesim::{simulate_layers, Config, Layer, Value, CATALOG};
use accelsim_core::{Dataflow, Error};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn positive(field: &str, v: i64) -> PyResult<u64> {
    u64::try_from(v).map_err(|_| {
        to_py(Error::workload(
            field,
            format!("{v} is out of range; it must be a positive integer"),
        ))
    })
}

fn config_int<T: TryFrom<i64>>(field: &str, v: i64) -> PyResult<T> {
    T::try_from(v).map_err(|_| {
        to_py(Error::config(
            field,
            format!("{v} is out of range; it must be a positive integer"),
        ))
    })
}

/// Layers as `(ifmap_h, ifmap_w, filter_h, filter_w, channels, filters, stride_h, stride_w)`.
type LayerTuple = (i64, i64, i64, i64, i64, i64, i64, i64);

fn layer_of(t: &LayerTuple) -> PyResult<Layer> {
    let names = [
        "ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "filters", "stride_h", "stride_w",
    ];
    let vals = [t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7];
    let mut d = [0u64; 8];
    for i in 0..8 {
        d[i] = positive(names[i], vals[i])?;
    }
    Layer::conv(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]).map_err(to_py)
}

/// Every figure of SCALE-Sim's COMPUTE, BANDWIDTH and DETAILED_ACCESS reports per layer, as
/// columns (`scalesim_catalog()` names them), plus the layers' `m`, `k`, `n`.
#[pyfunction]
#[pyo3(signature = (layers, rows, cols, dataflow, ifmap_kb, filter_kb, ofmap_kb))]
#[allow(clippy::too_many_arguments)]
fn scalesim_simulate<'py>(
    py: Python<'py>,
    layers: Vec<LayerTuple>,
    rows: i64,
    cols: i64,
    dataflow: &str,
    ifmap_kb: i64,
    filter_kb: i64,
    ofmap_kb: i64,
) -> PyResult<Bound<'py, PyDict>> {
    let cfg = Config::new(
        config_int("ArrayHeight", rows)?,
        config_int("ArrayWidth", cols)?,
        dataflow
            .parse::<Dataflow>()
            .map_err(|_| {
                Error::config(
                    "Dataflow",
                    format!(
                        "unknown value '{dataflow}'; valid choices: {}",
                        Dataflow::NAMES.join(", ")
                    ),
                )
            })
            .map_err(to_py)?,
        config_int("IfmapSramSzkB", ifmap_kb)?,
        config_int("FilterSramSzkB", filter_kb)?,
        config_int("OfmapSramSzkB", ofmap_kb)?,
    )
    .map_err(to_py)?;
    let layers: Vec<Layer> = layers.iter().map(layer_of).collect::<PyResult<_>>()?;
    let reports = detached(py, |cancel| simulate_layers(&cfg, &layers, cancel))?;
    let d = PyDict::new(py);
    for (i, (name, _, _)) in CATALOG.iter().enumerate() {
        let values: Vec<Value> = reports.iter().map(|r| r.values()[i]).collect();
        match values.first() {
            Some(Value::Float(_)) => {
                let col: Vec<f64> = values
                    .iter()
                    .map(|v| match v {
                        Value::Float(x) => *x,
                        Value::Int(x) => *x as f64,
                    })
                    .collect();
                d.set_item(*name, PyArray1::from_vec(py, col))?;
            }
            _ => {
                let col: Vec<i64> = values
                    .iter()
                    .map(|v| match v {
                        Value::Int(x) => *x,
                        Value::Float(x) => *x as i64,
                    })
                    .collect();
                d.set_item(*name, PyArray1::from_vec(py, col))?;
            }
        }
    }
    for (name, f) in [
        ("m", Layer::m as fn(&Layer) -> u64),
        ("k", Layer::k),
        ("n", Layer::n),
    ] {
        let col: Vec<i64> = layers.iter().map(|l| f(l) as i64).collect();
        d.set_item(name, PyArray1::from_vec(py, col))?;
    }
    Ok(d)
}

/// `(name, unit, description)` of every per-layer figure `scalesim_simulate` returns.
#[pyfunction]
fn scalesim_catalog() -> Vec<(&'static str, &'static str, &'static str)> {
    CATALOG.to_vec()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scalesim_simulate, m)?)?;
    m.add_function(wrap_pyfunction!(scalesim_catalog, m)?)?;
    Ok(())
}
