//! `accelsim._core`: the thin binding of `accelsim-core`.
//!
//! It converts types, releases the GIL around simulations (`Python::detach`) and maps core
//! errors onto the classes of `accelsim.errors`. No timing logic lives here.

use accelsim_core::pe::Operands;
use accelsim_core::timing::CancelHook;
use accelsim_core::{
    closed_form, gemm, simulate_cancellable, simulate_traced, ArrayConfig as CoreConfig,
    ArrayParams, Dataflow, DrainEdge, Engine, Error, Gemm, GemmStats, IdealMemory, Request,
};
use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyboardInterrupt, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::sync::Mutex;

mod dram;
mod memory;
mod scalesim;
mod search;
mod trace;
mod vector;

/// Raise the `accelsim.errors` class matching a core error.
pub(crate) fn to_py(err: Error) -> PyErr {
    Python::attach(|py| {
        let class = match &err {
            Error::Config { .. } => "ConfigError",
            Error::Workload { .. } => "WorkloadError",
            Error::Simulation(_) => "SimulationError",
            Error::Cancelled => return PyKeyboardInterrupt::new_err("simulation cancelled"),
        };
        match py
            .import("accelsim.errors")
            .and_then(|m| m.getattr(class))
            .and_then(|cls| cls.call1((err.to_string(),)))
        {
            Ok(exc) => PyErr::from_value(exc),
            Err(import_err) => import_err,
        }
    })
}

/// Run `f` with the GIL released. The engines poll the hook it gets every few thousand cycles;
/// the hook re-attaches briefly to check for signals, so Ctrl-C stops a long run and raises
/// `KeyboardInterrupt` (or whatever the signal handler raised) instead of waiting for the end.
pub(crate) fn detached<T: Send>(
    py: Python<'_>,
    f: impl FnOnce(CancelHook<'_>) -> Result<T, Error> + Send,
) -> PyResult<T> {
    let pending: Mutex<Option<PyErr>> = Mutex::new(None);
    let hook = || {
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                *pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                true
            }
        })
    };
    match py.detach(|| f(&hook)) {
        Ok(v) => {
            py.check_signals()?;
            Ok(v)
        }
        Err(Error::Cancelled) => Err(pending
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or_else(|| PyKeyboardInterrupt::new_err("simulation cancelled"))),
        Err(e) => Err(to_py(e)),
    }
}

pub(crate) fn parse<T: std::str::FromStr<Err = Error>>(s: &str) -> PyResult<T> {
    s.parse::<T>().map_err(to_py)
}

fn to_u32(field: &str, v: i64) -> PyResult<u32> {
    u32::try_from(v).map_err(|_| {
        to_py(Error::config(
            field,
            format!("{v} is out of range; it must be a positive integer"),
        ))
    })
}

fn to_u64(field: &str, v: i64) -> PyResult<u64> {
    u64::try_from(v).map_err(|_| {
        to_py(Error::workload(
            field,
            format!("{v} is out of range; it must be a positive integer"),
        ))
    })
}

/// A validated, immutable description of the systolic array (see docs/timing.md).
#[pyclass(frozen, eq, hash, module = "accelsim._core")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct ArrayConfig {
    pub(crate) inner: CoreConfig,
}

#[pymethods]
impl ArrayConfig {
    #[new]
    #[pyo3(signature = (rows, cols, dataflow="ws", mac_latency=1, acc_latency=1,
        stationary_double_buffer=true, os_drain="right", os_output_double_buffer=true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        rows: i64,
        cols: i64,
        dataflow: &str,
        mac_latency: i64,
        acc_latency: i64,
        stationary_double_buffer: bool,
        os_drain: &str,
        os_output_double_buffer: bool,
    ) -> PyResult<Self> {
        let inner = CoreConfig::new(ArrayParams {
            rows: to_u32("rows", rows)?,
            cols: to_u32("cols", cols)?,
            dataflow: parse::<Dataflow>(dataflow)?,
            mac_latency: to_u32("mac_latency", mac_latency)?,
            acc_latency: to_u32("acc_latency", acc_latency)?,
            stationary_double_buffer,
            os_drain: parse::<DrainEdge>(os_drain)?,
            os_output_double_buffer,
        })
        .map_err(to_py)?;
        Ok(ArrayConfig { inner })
    }

    #[getter]
    fn rows(&self) -> u32 {
        self.inner.rows()
    }
    #[getter]
    fn cols(&self) -> u32 {
        self.inner.cols()
    }
    #[getter]
    fn dataflow(&self) -> &'static str {
        self.inner.dataflow().name()
    }
    #[getter]
    fn mac_latency(&self) -> u32 {
        self.inner.mac_latency()
    }
    #[getter]
    fn acc_latency(&self) -> u32 {
        self.inner.acc_latency()
    }
    #[getter]
    fn stationary_double_buffer(&self) -> bool {
        self.inner.stationary_double_buffer()
    }
    #[getter]
    fn os_drain(&self) -> &'static str {
        self.inner.os_drain().name()
    }
    #[getter]
    fn os_output_double_buffer(&self) -> bool {
        self.inner.os_output_double_buffer()
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let c = &self.inner;
        d.set_item("rows", c.rows())?;
        d.set_item("cols", c.cols())?;
        d.set_item("dataflow", c.dataflow().name())?;
        d.set_item("mac_latency", c.mac_latency())?;
        d.set_item("acc_latency", c.acc_latency())?;
        d.set_item("stationary_double_buffer", c.stationary_double_buffer())?;
        d.set_item("os_drain", c.os_drain().name())?;
        d.set_item("os_output_double_buffer", c.os_output_double_buffer())?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let c = &self.inner;
        format!(
            "ArrayConfig(rows={}, cols={}, dataflow='{}', mac_latency={}, acc_latency={}, \
             stationary_double_buffer={}, os_drain='{}', os_output_double_buffer={})",
            c.rows(),
            c.cols(),
            c.dataflow(),
            c.mac_latency(),
            c.acc_latency(),
            if c.stationary_double_buffer() {
                "True"
            } else {
                "False"
            },
            c.os_drain(),
            if c.os_output_double_buffer() {
                "True"
            } else {
                "False"
            },
        )
    }
}

pub(crate) fn gemm_of(m: i64, k: i64, n: i64, groups: i64) -> PyResult<Gemm> {
    Gemm::new(
        to_u64("m", m)?,
        to_u64("k", k)?,
        to_u64("n", n)?,
        to_u64("groups", groups)?,
    )
    .map_err(to_py)
}

fn set_stats(d: &Bound<'_, PyDict>, s: &GemmStats) -> PyResult<()> {
    for ((name, _, _), v) in GemmStats::CATALOG.iter().zip(s.values()) {
        d.set_item(*name, v)?;
    }
    Ok(())
}

/// Check an int8 operand's shape and return its contiguous data.
fn operand(
    arr: &PyReadonlyArrayDyn<'_, i8>,
    name: &str,
    groups: u64,
    rows: u64,
    cols: u64,
) -> PyResult<Vec<i8>> {
    // (rows, cols) for a single group, or (groups, rows, cols).
    let want = [groups as usize, rows as usize, cols as usize];
    let ok = arr.shape() == want.as_slice() || (groups == 1 && arr.shape() == &want[1..]);
    if !ok {
        return Err(to_py(Error::workload(
            name,
            if groups == 1 {
                format!(
                    "has shape {:?}; expected {:?} or {:?}",
                    arr.shape(),
                    &want[1..],
                    want
                )
            } else {
                format!("has shape {:?}; expected {:?}", arr.shape(), want)
            },
        )));
    }
    Ok(arr.as_array().iter().copied().collect())
}

#[pyfunction]
#[pyo3(signature = (m, k, n, config, engine="fast", a=None, b=None, groups=1))]
#[allow(clippy::too_many_arguments)]
fn simulate_gemm<'py>(
    py: Python<'py>,
    m: i64,
    k: i64,
    n: i64,
    config: &ArrayConfig,
    engine: &str,
    a: Option<Bound<'py, PyAny>>,
    b: Option<Bound<'py, PyAny>>,
    groups: i64,
) -> PyResult<Bound<'py, PyDict>> {
    let g = gemm_of(m, k, n, groups)?;
    let engine = parse::<Engine>(engine)?;
    let read = |x: &Bound<'py, PyAny>, name: &str, r: u64, c: u64| -> PyResult<Vec<i8>> {
        let arr: PyReadonlyArrayDyn<'py, i8> = x.extract().map_err(|_| {
            PyTypeError::new_err(format!("operand '{name}' must be a numpy int8 array"))
        })?;
        operand(&arr, name, g.groups, r, c)
    };
    // The output has a leading groups axis when the operands do (or groups > 1).
    let grouped_shape = g.groups > 1
        || a.as_ref()
            .and_then(|x| x.getattr("ndim").ok())
            .and_then(|d| d.extract::<usize>().ok())
            == Some(3);
    let ops = match (&a, &b) {
        (None, None) => None,
        (Some(a), Some(b)) => Some((read(a, "a", g.m, g.k)?, read(b, "b", g.k, g.n)?)),
        _ => {
            return Err(to_py(Error::workload(
                if a.is_none() { "a" } else { "b" },
                "give both operands a and b, or neither",
            )))
        }
    };
    let cfg = config.inner;
    let res = detached(py, |cancel| {
        let operands = ops.as_ref().map(|(a, b)| Operands { a, b });
        let req = Request {
            gemm: g,
            engine,
            operands,
            keep_folds: true,
        };
        simulate_cancellable(&cfg, &req, &IdealMemory, cancel)
    })?;

    let d = PyDict::new(py);
    set_stats(&d, &res.stats)?;
    let col = |f: &dyn Fn(&(accelsim_core::Fold, accelsim_core::FoldTiming)) -> u64| -> Vec<i64> {
        res.folds.iter().map(|x| f(x) as i64).collect()
    };
    let columns: [(&str, Vec<i64>); 10] = [
        ("fold_group", col(&|x| x.0.group)),
        ("fold_m0", col(&|x| x.0.m0)),
        ("fold_m", col(&|x| x.0.m)),
        ("fold_k0", col(&|x| x.0.k0)),
        ("fold_k", col(&|x| x.0.k)),
        ("fold_n0", col(&|x| x.0.n0)),
        ("fold_n", col(&|x| x.0.n)),
        ("fold_start", col(&|x| x.1.start)),
        ("fold_stream_start", col(&|x| x.1.stream_start)),
        ("fold_end", col(&|x| x.1.end)),
    ];
    for (name, v) in columns {
        d.set_item(name, v.into_pyarray(py))?;
    }
    match res.output {
        Some(out) => {
            let arr = out.into_pyarray(py);
            let shape: Vec<usize> = if grouped_shape {
                vec![g.groups as usize, g.m as usize, g.n as usize]
            } else {
                vec![g.m as usize, g.n as usize]
            };
            d.set_item("output", arr.reshape(shape)?)?;
        }
        None => d.set_item("output", py.None())?,
    }
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (shapes, config, engine="fast", trace=None))]
fn simulate_layers<'py>(
    py: Python<'py>,
    shapes: Vec<(i64, i64, i64, i64)>,
    config: &ArrayConfig,
    engine: &str,
    trace: Option<&Bound<'py, trace::TraceRecorder>>,
) -> PyResult<Bound<'py, PyDict>> {
    let engine = parse::<Engine>(engine)?;
    let gemms: Vec<Gemm> = shapes
        .iter()
        .map(|&(m, k, n, g)| gemm_of(m, k, n, g))
        .collect::<PyResult<_>>()?;
    let cfg = config.inner;
    let per_layer: Vec<GemmStats> = match trace {
        None => detached(py, |cancel| {
            gemms
                .iter()
                .map(|&gemm| {
                    simulate_cancellable(&cfg, &Request::timing(gemm, engine), &IdealMemory, cancel)
                        .map(|r| r.stats)
                })
                .collect::<Result<Vec<_>, Error>>()
        })?,
        Some(rec) => {
            if engine != Engine::Fast {
                return Err(to_py(Error::config(
                    "engine",
                    "a trace is recorded by the fast engine; valid choice with a trace: fast",
                )));
            }
            let mut t = trace::TraceRecorder::take(rec)?;
            let out = detached(py, |cancel| {
                gemms
                    .iter()
                    .map(|gemm| simulate_traced(&cfg, gemm, cancel, &mut t))
                    .collect::<Result<Vec<_>, Error>>()
            });
            trace::TraceRecorder::give_back(rec, t);
            out?
        }
    };
    let d = PyDict::new(py);
    for (i, (name, _, _)) in GemmStats::CATALOG.iter().enumerate() {
        let column: Vec<i64> = per_layer.iter().map(|s| s.values()[i] as i64).collect();
        d.set_item(*name, PyArray1::from_vec(py, column))?;
    }
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (m, k, n, config, groups=1))]
fn closed_form_cycles(m: i64, k: i64, n: i64, config: &ArrayConfig, groups: i64) -> PyResult<u64> {
    let g = gemm_of(m, k, n, groups)?;
    // The formula holds for any shape the engines accept; refuse the same ones they refuse.
    gemm::default_folds(&g, &config.inner).map_err(to_py)?;
    Ok(closed_form::total_cycles(&g, &config.inner))
}

#[pyfunction]
fn stat_catalog() -> Vec<(&'static str, &'static str, &'static str)> {
    GemmStats::CATALOG.to_vec()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // Load NumPy's C API now, not on the first result (where a pending signal could break it).
    let _ = Vec::<i64>::new().into_pyarray(py);
    m.add("__version__", accelsim_core::VERSION)?;
    m.add("DATAFLOWS", PyTuple::new(py, Dataflow::NAMES)?)?;
    m.add("ENGINES", PyTuple::new(py, Engine::NAMES)?)?;
    m.add("OS_DRAIN_EDGES", PyTuple::new(py, DrainEdge::NAMES)?)?;
    m.add_class::<ArrayConfig>()?;
    m.add_function(wrap_pyfunction!(simulate_gemm, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_layers, m)?)?;
    m.add_function(wrap_pyfunction!(closed_form_cycles, m)?)?;
    m.add_function(wrap_pyfunction!(stat_catalog, m)?)?;
    memory::register(m)?;
    dram::register(m)?;
    scalesim::register(m)?;
    search::register(m)?;
    trace::register(m)?;
    vector::register(m)?;
    Ok(())
}
