//! Binding of the vector unit: `VectorUnitConfig`, the op-class catalog and the cost of the
//! operations a workload runs off the array. The cost model lives in `accelsim_core::vector`.

use crate::to_py;
use accelsim_core::vector::{VectorOpClass, VectorStats, VectorUnit, N_CLASSES};
use accelsim_core::Error;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::collections::HashMap;

/// A validated, immutable vector unit: lanes, pipeline latency, cycles per element by op class.
#[pyclass(frozen, eq, hash, module = "accelsim._core")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct VectorUnitConfig {
    inner: VectorUnit,
}

fn count(field: &str, v: i64) -> PyResult<u32> {
    u32::try_from(v).map_err(|_| {
        to_py(Error::config(
            field,
            format!(
                "{v} is out of range; it must be an integer from 0 to {}",
                u32::MAX
            ),
        ))
    })
}

#[pymethods]
impl VectorUnitConfig {
    #[new]
    #[pyo3(signature = (lanes, latency=0, cycles_per_element=None))]
    fn new(
        lanes: i64,
        latency: i64,
        cycles_per_element: Option<HashMap<String, i64>>,
    ) -> PyResult<Self> {
        let mut unit =
            VectorUnit::new(count("lanes", lanes)?, count("latency", latency)?).map_err(to_py)?;
        let mut given: Vec<(String, i64)> =
            cycles_per_element.unwrap_or_default().into_iter().collect();
        given.sort();
        for (name, cycles) in given {
            let class = name.parse::<VectorOpClass>().map_err(|_| {
                to_py(Error::config(
                    "cycles_per_element",
                    format!(
                        "unknown vector op class '{name}'; valid choices: {}",
                        VectorOpClass::NAMES.join(", ")
                    ),
                ))
            })?;
            let field = format!("cycles_per_element.{}", class.name());
            unit = unit.with_cost(class, count(&field, cycles)?);
        }
        Ok(VectorUnitConfig { inner: unit })
    }

    #[getter]
    fn lanes(&self) -> u32 {
        self.inner.lanes()
    }

    #[getter]
    fn latency(&self) -> u32 {
        self.inner.latency()
    }

    /// `{class: cycles per element}` for every class, in catalog order.
    #[getter]
    fn cycles_per_element<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for class in VectorOpClass::ALL {
            d.set_item(class.name(), self.inner.cycles_per_element(*class))?;
        }
        Ok(d)
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("lanes", self.inner.lanes())?;
        d.set_item("latency", self.inner.latency())?;
        d.set_item("cycles_per_element", self.cycles_per_element(py)?)?;
        Ok(d)
    }

    /// Cycles of one operation of `op_class` over `elements` elements.
    fn cycles(&self, op_class: &str, elements: u64) -> PyResult<u64> {
        let class = op_class.parse::<VectorOpClass>().map_err(to_py)?;
        Ok(self.inner.cycles(class, elements))
    }

    fn __repr__(&self) -> String {
        format!(
            "VectorUnitConfig(lanes={}, latency={})",
            self.inner.lanes(),
            self.inner.latency()
        )
    }
}

/// Cost `(op_class, elements)` operations run one after another on `unit`: one int64 column
/// per statistic of `vector_stat_catalog()`.
#[pyfunction]
fn simulate_vector_ops<'py>(
    py: Python<'py>,
    ops: Vec<(String, u64)>,
    unit: &VectorUnitConfig,
) -> PyResult<Bound<'py, PyDict>> {
    let parsed: Vec<(VectorOpClass, u64)> = ops
        .iter()
        .map(|(name, elements)| {
            name.parse::<VectorOpClass>()
                .map(|c| (c, *elements))
                .map_err(to_py)
        })
        .collect::<PyResult<_>>()?;
    let stats = unit.inner.run(&parsed);
    let d = PyDict::new(py);
    for (i, (name, _, _)) in VectorStats::CATALOG.iter().enumerate() {
        let column: Vec<i64> = stats
            .iter()
            .map(|s| i64::try_from(s.values()[i]).unwrap_or(i64::MAX))
            .collect();
        d.set_item(*name, PyArray1::from_vec(py, column))?;
    }
    Ok(d)
}

/// Every vector op class as `(name, default cycles per element, description)`.
#[pyfunction]
fn vector_op_catalog() -> Vec<(&'static str, u32, &'static str)> {
    VectorOpClass::CATALOG.to_vec()
}

/// Every statistic of a vector operation as `(name, unit, description)`.
#[pyfunction]
fn vector_stat_catalog() -> Vec<(&'static str, &'static str, &'static str)> {
    VectorStats::CATALOG.to_vec()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    debug_assert_eq!(VectorOpClass::NAMES.len(), N_CLASSES);
    m.add("VECTOR_OP_CLASSES", PyTuple::new(py, VectorOpClass::NAMES)?)?;
    m.add_class::<VectorUnitConfig>()?;
    m.add_function(wrap_pyfunction!(simulate_vector_ops, m)?)?;
    m.add_function(wrap_pyfunction!(vector_op_catalog, m)?)?;
    m.add_function(wrap_pyfunction!(vector_stat_catalog, m)?)?;
    Ok(())
}
