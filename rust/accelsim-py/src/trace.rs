//! Binding of the trace recorder: `TraceRecorder`, filled by the simulate functions and read
//! back as columns of numbers (docs/trace.md).

use crate::{parse, to_py};
use accelsim_core::trace::{Category, Clock, Trace, TraceConfig};
use accelsim_core::Error;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// A trace being recorded: pass it as `trace=` to `simulate_layers` or
/// `simulate_memory_layers` (each call appends its layers), then call `finish()` and read the
/// columns.
#[pyclass(module = "accelsim._core")]
pub(crate) struct TraceRecorder {
    /// `None` while a simulation holds it.
    inner: Option<Trace>,
}

impl TraceRecorder {
    /// Take the trace out for a run (the GIL is released meanwhile); `give_back` returns it.
    pub(crate) fn take(slf: &Bound<'_, TraceRecorder>) -> PyResult<Trace> {
        slf.borrow_mut().inner.take().ok_or_else(|| {
            to_py(Error::config(
                "trace",
                "this TraceRecorder is in use by another simulation",
            ))
        })
    }

    pub(crate) fn give_back(slf: &Bound<'_, TraceRecorder>, t: Trace) {
        slf.borrow_mut().inner = Some(t);
    }

    fn get(&self) -> PyResult<&Trace> {
        self.inner.as_ref().ok_or_else(|| {
            to_py(Error::config(
                "trace",
                "this TraceRecorder is in use by a simulation",
            ))
        })
    }
}

fn col<'py, T: numpy::Element + Copy>(py: Python<'py>, v: &[T]) -> Bound<'py, PyArray1<T>> {
    PyArray1::from_slice(py, v)
}

#[pymethods]
impl TraceRecorder {
    /// `window=(start, end)` in global accelerator cycles (end exclusive; default the whole
    /// run), `categories` (default all of `TRACE_CATEGORIES`), `max_events` (slices plus
    /// counter samples), `gaps[i]`: cycles between layer `i`'s end and layer `i + 1`'s start.
    #[new]
    #[pyo3(signature = (*, window=None, categories=None, max_events=1_000_000, gaps=None))]
    fn new(
        window: Option<(i64, i64)>,
        categories: Option<Vec<String>>,
        max_events: i64,
        gaps: Option<Vec<i64>>,
    ) -> PyResult<Self> {
        let mut cfg = TraceConfig::default();
        if let Some((a, b)) = window {
            if a < 0 || b < 0 {
                return Err(to_py(Error::config(
                    "trace_window",
                    format!("({a}, {b}): cycles must not be negative"),
                )));
            }
            cfg.window = (a as u64, b as u64);
        }
        if let Some(names) = categories {
            let cats = names
                .iter()
                .map(|n| parse::<Category>(n))
                .collect::<PyResult<Vec<_>>>()?;
            cfg = cfg.with_categories(&cats);
        }
        cfg.max_events = u64::try_from(max_events).map_err(|_| {
            to_py(Error::config(
                "trace_max_events",
                format!("{max_events} must be a positive number of events"),
            ))
        })?;
        if let Some(g) = gaps {
            cfg.gaps = g
                .iter()
                .map(|&x| {
                    u64::try_from(x).map_err(|_| {
                        to_py(Error::config(
                            "trace_gaps",
                            format!("{x} must not be negative"),
                        ))
                    })
                })
                .collect::<PyResult<_>>()?;
        }
        Ok(TraceRecorder {
            inner: Some(Trace::new(cfg).map_err(to_py)?),
        })
    }

    /// Close the recording (after the last simulate call): with dropped events, keep only what
    /// starts before the first of them.
    fn finish(&mut self) -> PyResult<()> {
        match &mut self.inner {
            Some(t) => {
                t.finish();
                Ok(())
            }
            None => self.get().map(|_| ()),
        }
    }

    #[getter]
    fn window(&self) -> PyResult<(u64, u64)> {
        Ok(self.get()?.config().window)
    }

    #[getter]
    fn categories(&self) -> PyResult<Vec<&'static str>> {
        Ok(self
            .get()?
            .config()
            .categories()
            .iter()
            .map(|c| c.name())
            .collect())
    }

    #[getter]
    fn max_events(&self) -> PyResult<u64> {
        Ok(self.get()?.config().max_events)
    }

    /// Events recorded (slices plus counter samples).
    #[getter]
    fn events(&self) -> PyResult<u64> {
        Ok(self.get()?.events())
    }

    /// Slices moved to start where the previous one on their track ended (0 unless a
    /// recorder is wrong).
    #[getter]
    fn shifted(&self) -> PyResult<u64> {
        Ok(self.get()?.shifted)
    }

    /// Events dropped because `max_events` was reached.
    #[getter]
    fn dropped(&self) -> PyResult<u64> {
        Ok(self.get()?.dropped)
    }

    /// With dropped events: the global accelerator cycle up to which the trace is complete.
    #[getter]
    fn complete_until(&self) -> PyResult<Option<u64>> {
        Ok(self.get()?.complete_until)
    }

    /// The cycle-level DRAM's clock in kHz (0 when none ran).
    #[getter]
    fn dram_khz(&self) -> PyResult<u64> {
        Ok(self.get()?.dram_khz)
    }

    /// The slice names, indexed by the `name` column.
    #[getter]
    fn names(&self) -> PyResult<Vec<String>> {
        Ok(self.get()?.names.clone())
    }

    /// One tuple per track, indexed by the `track` columns: `(category, process, thread,
    /// clock, is_counter, arg_names)`; clock is `"acc"` or `"dram"`.
    fn tracks<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.get()?
            .tracks
            .iter()
            .map(|t| {
                let clock = match t.clock {
                    Clock::Acc => "acc",
                    Clock::Dram => "dram",
                };
                PyTuple::new(
                    py,
                    [
                        t.category.name().into_pyobject(py)?.into_any(),
                        t.process.as_str().into_pyobject(py)?.into_any(),
                        t.thread.as_str().into_pyobject(py)?.into_any(),
                        clock.into_pyobject(py)?.into_any(),
                        pyo3::types::PyBool::new(py, t.counter)
                            .to_owned()
                            .into_any(),
                        PyTuple::new(py, t.args)?.into_any(),
                    ],
                )
            })
            .collect()
    }

    /// Slices as columns: `track`, `name`, `layer`, `start`, `dur` (layer-relative, in the
    /// track's clock), `full_dur` (before any cut) and `arg0`..`arg3` (meaning per track).
    fn slices<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = &self.get()?.slices;
        let d = PyDict::new(py);
        d.set_item("track", col(py, &s.track))?;
        d.set_item("name", col(py, &s.name))?;
        d.set_item("layer", col(py, &s.layer))?;
        d.set_item("start", col(py, &s.start))?;
        d.set_item("dur", col(py, &s.dur))?;
        d.set_item("full_dur", col(py, &s.full_dur))?;
        for (i, a) in s.args.iter().enumerate() {
            d.set_item(format!("arg{i}"), col(py, a))?;
        }
        Ok(d)
    }

    /// Counter samples as columns: `track`, `layer`, `time` (layer-relative, the track's
    /// clock), `value`.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.get()?.counters;
        let d = PyDict::new(py);
        d.set_item("track", col(py, &c.track))?;
        d.set_item("layer", col(py, &c.layer))?;
        d.set_item("time", col(py, &c.time))?;
        d.set_item("value", col(py, &c.value))?;
        Ok(d)
    }

    /// Each traced layer's `start` (global accelerator cycle) and `cycles`.
    fn layers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let l = &self.get()?.layers;
        let d = PyDict::new(py);
        let start: Vec<u64> = l.iter().map(|x| x.start).collect();
        let cycles: Vec<u64> = l.iter().map(|x| x.cycles).collect();
        d.set_item("start", PyArray1::from_vec(py, start))?;
        d.set_item("cycles", PyArray1::from_vec(py, cycles))?;
        Ok(d)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<TraceRecorder>()?;
    m.add("TRACE_CATEGORIES", PyTuple::new(py, Category::NAMES)?)?;
    Ok(())
}
