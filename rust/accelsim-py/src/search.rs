//! Binding of the mapping search and the network schedule: `search_network`,
//! `simulate_schedule`.

use crate::memory::{config_error, convs_of, gemms, per_layer, MemoryConfig};
use crate::trace::TraceRecorder;
use crate::{parse, to_py, ArrayConfig};
use accelsim_core::dram::{DramStats, StatValue};
use accelsim_core::memory::schedule::{
    simulate_network_traced, NetworkRun, PlannedLayer, ScheduleOptions,
};
use accelsim_core::memory::{EnergyStats, LoopOrder, MemStats, Tiling};
use accelsim_core::search::{
    search_network as core_search, Candidate, NetworkLayer, Objective, SearchOptions, StrategyKind,
};
use accelsim_core::{Dataflow, Error, GemmStats};
use numpy::PyArray1;
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::sync::Mutex;

/// A candidate and, when it was scored alone, its `(cycles, energy_pj)`.
type Scored = Option<(Candidate, Option<(u64, f64)>)>;

fn dataflows_of(v: Option<Vec<String>>) -> PyResult<Vec<Dataflow>> {
    v.unwrap_or_default()
        .iter()
        .map(|s| parse::<Dataflow>(s))
        .collect()
}

/// Run `f` with the GIL released; Ctrl-C (or another signal's exception) makes the hook return
/// true, and `f` returns what it has. A `KeyboardInterrupt` is then swallowed (the caller sees
/// `interrupted`); any other exception a signal handler raised is re-raised.
fn detached_until_interrupt<T: Send>(
    py: Python<'_>,
    f: impl FnOnce(&(dyn Fn() -> bool + Sync)) -> Result<T, Error> + Send,
) -> PyResult<(T, bool)> {
    let pending: Mutex<Option<PyErr>> = Mutex::new(None);
    let hook = || {
        if pending.lock().map(|p| p.is_some()).unwrap_or(true) {
            return true;
        }
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                *pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                true
            }
        })
    };
    let r = py.detach(|| f(&hook));
    let pending = pending.into_inner().unwrap_or_else(|p| p.into_inner());
    let interrupted = match pending {
        Some(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => true,
        Some(e) => return Err(e),
        None => false,
    };
    match r {
        Ok(v) => Ok((v, interrupted)),
        Err(Error::Cancelled) => Err(PyKeyboardInterrupt::new_err("search cancelled")),
        Err(e) => Err(to_py(e)),
    }
}

/// Per-layer columns of a network run: every statistic, the tiling, the dataflow, where the
/// input came from, and when the layer ran.
fn run_columns(
    py: Python<'_>,
    d: &Bound<'_, PyDict>,
    run: &NetworkRun,
    plan: &[PlannedLayer],
) -> PyResult<()> {
    let rs: Vec<_> = run.layers.iter().map(|l| &l.result).collect();
    for (i, (name, _, _)) in GemmStats::CATALOG.iter().enumerate() {
        let col: Vec<i64> = rs.iter().map(|r| r.array.values()[i] as i64).collect();
        d.set_item(*name, PyArray1::from_vec(py, col))?;
    }
    for (i, (name, _, _)) in MemStats::CATALOG.iter().enumerate() {
        let col: Vec<i64> = rs.iter().map(|r| r.mem.values()[i] as i64).collect();
        d.set_item(*name, PyArray1::from_vec(py, col))?;
    }
    for (i, (name, _, _)) in EnergyStats::CATALOG.iter().enumerate() {
        let col: Vec<f64> = rs.iter().map(|r| r.energy.values()[i]).collect();
        d.set_item(*name, PyArray1::from_vec(py, col))?;
    }
    let tcol = |f: &dyn Fn(&Tiling) -> u64| -> Vec<i64> {
        plan.iter().map(|p| f(&p.tiling) as i64).collect()
    };
    d.set_item("tile_m", PyArray1::from_vec(py, tcol(&|t| t.m)))?;
    d.set_item("tile_k", PyArray1::from_vec(py, tcol(&|t| t.k)))?;
    d.set_item("tile_n", PyArray1::from_vec(py, tcol(&|t| t.n)))?;
    let orders: Vec<&str> = plan.iter().map(|p| p.tiling.order.name()).collect();
    d.set_item("tile_order", orders)?;
    let dfs: Vec<&str> = plan.iter().map(|p| p.dataflow.name()).collect();
    d.set_item("dataflow", dfs)?;
    let on_chip: Vec<bool> = plan.iter().map(|p| p.input_on_chip).collect();
    d.set_item("input_on_chip", on_chip)?;
    let col = |f: &dyn Fn(usize) -> u64| -> Vec<i64> {
        (0..run.layers.len()).map(|i| f(i) as i64).collect()
    };
    d.set_item(
        "start",
        PyArray1::from_vec(py, col(&|i| run.layers[i].start)),
    )?;
    d.set_item("end", PyArray1::from_vec(py, col(&|i| run.layers[i].end)))?;
    d.set_item(
        "array_start",
        PyArray1::from_vec(py, col(&|i| run.layers[i].array_start)),
    )?;
    d.set_item(
        "array_end",
        PyArray1::from_vec(py, col(&|i| run.layers[i].array_end)),
    )?;
    d.set_item("cycles_total", run.cycles)?;
    match &run.dram {
        Some(s) => d.set_item("dram_stats", dram_dict(py, s)?)?,
        None => d.set_item("dram_stats", py.None())?,
    }
    Ok(())
}

fn dram_dict<'py>(py: Python<'py>, s: &DramStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, v) in s.values() {
        match v {
            StatValue::Int(x) => d.set_item(name, x)?,
            StatValue::Float(x) => d.set_item(name, x)?,
        }
    }
    Ok(d)
}

/// Search every layer's mapping, then schedule the network (see `docs/search.md`).
///
/// `shapes` are the layers' `(m, k, n, groups)`; `convs` their convolution geometries (or
/// `None`); `chained[i]` says layer `i` reads layer `i-1`'s output (so that output may stay on
/// chip). `progress(layers_done, layers, evaluations)` is called between rounds. Ctrl-C stops
/// the search and returns the best found so far (`interrupted` is then true).
#[pyfunction]
#[pyo3(signature = (shapes, config, memory, convs=None, chained=None, objective="cycles",
    strategy="guided", budget=None, seed=0, dataflows=None, schedule=true, write_through=false,
    threads=0, progress=None))]
#[allow(clippy::too_many_arguments)]
fn search_network<'py>(
    py: Python<'py>,
    shapes: Vec<(i64, i64, i64, i64)>,
    config: &ArrayConfig,
    memory: &MemoryConfig,
    convs: Option<Vec<Option<Vec<u64>>>>,
    chained: Option<Vec<bool>>,
    objective: &str,
    strategy: &str,
    budget: Option<i64>,
    seed: u64,
    dataflows: Option<Vec<String>>,
    schedule: bool,
    write_through: bool,
    threads: i64,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let g = gemms(&shapes)?;
    let n = g.len();
    if n == 0 {
        return Err(to_py(Error::workload("shapes", "no layers to search")));
    }
    let convs = convs_of(convs, n)?;
    let chained = per_layer("chained", chained, n, false, config_error)?;
    let budget = match budget {
        None => None,
        Some(b) if b >= 1 => Some(b as usize),
        Some(b) => {
            return Err(to_py(Error::config(
                "budget",
                format!("{b} must be at least 1 evaluation"),
            )))
        }
    };
    let threads = usize::try_from(threads).map_err(|_| {
        to_py(Error::config(
            "threads",
            format!("{threads} must be >= 0 (0: every core)"),
        ))
    })?;
    let opts = SearchOptions {
        objective: parse::<Objective>(objective)?,
        strategy: parse::<StrategyKind>(strategy)?,
        budget,
        seed,
        dataflows: dataflows_of(dataflows)?,
        threads,
        pass_memo: true,
    };
    let layers: Vec<NetworkLayer> = (0..n)
        .map(|i| NetworkLayer {
            gemm: g[i],
            conv: convs[i],
            chained: chained[i] && i > 0,
        })
        .collect();
    let sched = schedule.then_some(ScheduleOptions {
        overlap: true,
        write_through,
    });
    let (array, mem) = (config.inner, memory.inner.clone());
    let callback_error: Mutex<Option<PyErr>> = Mutex::new(None);
    let (res, mut interrupted) = detached_until_interrupt(py, |cancel| {
        let report = |p: &accelsim_core::search::Progress| {
            if let Some(cb) = &progress {
                Python::attach(|py| {
                    if let Err(e) = cb.call1(py, (p.layers_done, p.layers, p.evaluations)) {
                        *callback_error.lock().unwrap_or_else(|x| x.into_inner()) = Some(e);
                    }
                });
            }
        };
        let stop = || callback_error.lock().map(|e| e.is_some()).unwrap_or(true) || cancel();
        core_search(&array, &mem, &layers, &opts, sched, &stop, &report)
    })?;
    if let Some(e) = callback_error
        .into_inner()
        .unwrap_or_else(|x| x.into_inner())
    {
        // Ctrl-C while the callback ran is Ctrl-C: the best found so far.
        if !e.is_instance_of::<PyKeyboardInterrupt>(py) {
            return Err(e);
        }
        interrupted = true;
    }
    let d = PyDict::new(py);
    run_columns(py, &d, &res.run, &res.plan)?;
    // The searches: per layer, its shape's; per shape, the counts.
    let idx: Vec<i64> = res.layers.iter().map(|l| l.search as i64).collect();
    d.set_item("search", PyArray1::from_vec(py, idx))?;
    let cand_cols = |prefix: &str, get: &dyn Fn(usize) -> Scored| -> PyResult<()> {
        let c: Vec<_> = (0..n).map(get).collect();
        let num = |f: &dyn Fn(&Tiling) -> u64| -> Vec<i64> {
            c.iter()
                .map(|x| x.map_or(-1, |(cand, _)| f(&cand.tiling) as i64))
                .collect()
        };
        d.set_item(format!("{prefix}_m"), PyArray1::from_vec(py, num(&|t| t.m)))?;
        d.set_item(format!("{prefix}_k"), PyArray1::from_vec(py, num(&|t| t.k)))?;
        d.set_item(format!("{prefix}_n"), PyArray1::from_vec(py, num(&|t| t.n)))?;
        let order: Vec<Option<&str>> = c
            .iter()
            .map(|x| x.map(|(cand, _)| cand.tiling.order.name()))
            .collect();
        d.set_item(format!("{prefix}_order"), order)?;
        let df: Vec<Option<&str>> = c
            .iter()
            .map(|x| x.map(|(cand, _)| cand.dataflow.name()))
            .collect();
        d.set_item(format!("{prefix}_dataflow"), df)?;
        let cyc: Vec<i64> = c
            .iter()
            .map(|x| x.and_then(|(_, k)| k).map_or(-1, |k| k.0 as i64))
            .collect();
        let en: Vec<f64> = c
            .iter()
            .map(|x| x.and_then(|(_, k)| k).map_or(f64::NAN, |k| k.1))
            .collect();
        d.set_item(format!("{prefix}_cycles"), PyArray1::from_vec(py, cyc))?;
        d.set_item(format!("{prefix}_energy_pj"), PyArray1::from_vec(py, en))?;
        Ok(())
    };
    cand_cols("default", &|i| {
        res.layers[i]
            .default
            .map(|(c, k)| (c, Some((k.cycles, k.energy_pj))))
    })?;
    cand_cols("best", &|i| {
        let l = &res.layers[i];
        Some((l.best, l.best_cost.map(|k| (k.cycles, k.energy_pj))))
    })?;
    let s = &res.searches;
    let scol = |f: &dyn Fn(usize) -> i64| -> Vec<i64> { (0..s.len()).map(f).collect() };
    d.set_item(
        "space_size",
        PyArray1::from_vec(py, scol(&|i| s[i].space_size as i64)),
    )?;
    d.set_item(
        "exact_evals",
        PyArray1::from_vec(py, scol(&|i| s[i].evaluations.exact as i64)),
    )?;
    d.set_item(
        "stand_in_evals",
        PyArray1::from_vec(py, scol(&|i| s[i].evaluations.stand_in as i64)),
    )?;
    d.set_item(
        "bound_evals",
        PyArray1::from_vec(py, scol(&|i| s[i].evaluations.bound as i64)),
    )?;
    d.set_item(
        "complete",
        (0..s.len()).map(|i| s[i].complete).collect::<Vec<bool>>(),
    )?;
    let total = |r: &NetworkRun| {
        (
            r.cycles,
            r.layers
                .iter()
                .map(|l| l.result.energy.energy_total_pj)
                .sum::<f64>(),
        )
    };
    let (ac, ae) = total(&res.alone);
    d.set_item("alone_cycles", ac)?;
    d.set_item("alone_energy_pj", ae)?;
    match &res.scheduled {
        Some(r) => {
            let (sc, se) = total(r);
            d.set_item("scheduled_cycles", sc)?;
            d.set_item("scheduled_energy_pj", se)?;
        }
        None => {
            d.set_item("scheduled_cycles", py.None())?;
            d.set_item("scheduled_energy_pj", py.None())?;
        }
    }
    d.set_item("overlap", res.schedule.overlap)?;
    d.set_item("write_through", res.schedule.write_through)?;
    let st = &res.stats;
    d.set_item("seconds", st.seconds)?;
    d.set_item("threads", st.threads)?;
    let rates = st.rates();
    d.set_item("exact_per_second_per_core", rates[0])?;
    d.set_item("stand_in_per_second_per_core", rates[1])?;
    d.set_item("bound_per_second_per_core", rates[2])?;
    d.set_item("interrupted", interrupted || st.interrupted)?;
    d.set_item("memo_hits", st.memo.hits)?;
    d.set_item("memo_misses", st.memo.misses)?;
    d.set_item("tiles_stepped", st.memo.tiles_stepped)?;
    d.set_item("tiles_skipped", st.memo.tiles_skipped)?;
    Ok(d)
}

/// Run layers as a schedule (`accelsim.search`'s mapping replayed): `tilings` per layer
/// `(m_t, k_t, n_t, order)`, `dataflows` per layer (default: the array's), `input_on_chip`
/// per layer; `overlap` false runs every layer alone. `trace`: a `TraceRecorder` that records
/// the run (docs/trace.md, "Scheduled runs").
#[pyfunction]
#[pyo3(signature = (shapes, config, memory, tilings, convs=None, dataflows=None,
    input_on_chip=None, overlap=true, write_through=false, trace=None))]
#[allow(clippy::too_many_arguments)]
fn simulate_schedule<'py>(
    py: Python<'py>,
    shapes: Vec<(i64, i64, i64, i64)>,
    config: &ArrayConfig,
    memory: &MemoryConfig,
    tilings: Vec<(i64, i64, i64, String)>,
    convs: Option<Vec<Option<Vec<u64>>>>,
    dataflows: Option<Vec<Option<String>>>,
    input_on_chip: Option<Vec<bool>>,
    overlap: bool,
    write_through: bool,
    trace: Option<&Bound<'py, TraceRecorder>>,
) -> PyResult<Bound<'py, PyDict>> {
    let g = gemms(&shapes)?;
    let n = g.len();
    if n == 0 {
        return Err(to_py(Error::workload("shapes", "no layers to run")));
    }
    let convs = convs_of(convs, n)?;
    let tilings = per_layer(
        "tilings",
        Some(tilings),
        n,
        (0, 0, 0, String::new()),
        config_error,
    )?;
    let dfs = per_layer("dataflows", dataflows, n, None, config_error)?;
    let on_chip = per_layer("input_on_chip", input_on_chip, n, false, config_error)?;
    let mut plan = Vec::with_capacity(n);
    for i in 0..n {
        let (m, k, nn, order) = &tilings[i];
        let dim = |name: &str, v: i64| {
            u64::try_from(v).map_err(|_| {
                to_py(Error::config(
                    &format!("tilings[{i}].{name}"),
                    format!("{v} must be a positive integer"),
                ))
            })
        };
        plan.push(PlannedLayer {
            gemm: g[i],
            conv: convs[i],
            tiling: Tiling {
                m: dim("m", *m)?,
                k: dim("k", *k)?,
                n: dim("n", *nn)?,
                order: parse::<LoopOrder>(order)?,
            },
            dataflow: match &dfs[i] {
                Some(s) => parse::<Dataflow>(s)?,
                None => config.inner.dataflow(),
            },
            input_on_chip: on_chip[i],
        });
    }
    let opts = ScheduleOptions {
        overlap,
        write_through,
    };
    let (array, mem) = (config.inner, memory.inner.clone());
    let mut recording = trace.map(TraceRecorder::take).transpose()?;
    let run = crate::detached(py, |cancel| {
        simulate_network_traced(&array, &mem, &plan, opts, cancel, recording.as_mut())
    });
    if let (Some(rec), Some(t)) = (trace, recording) {
        TraceRecorder::give_back(rec, t);
    }
    let run = run?;
    let d = PyDict::new(py);
    run_columns(py, &d, &run, &plan)?;
    Ok(d)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SEARCH_OBJECTIVES", PyTuple::new(py, Objective::NAMES)?)?;
    m.add("SEARCH_STRATEGIES", PyTuple::new(py, StrategyKind::NAMES)?)?;
    m.add_function(wrap_pyfunction!(search_network, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_schedule, m)?)?;
    Ok(())
}
