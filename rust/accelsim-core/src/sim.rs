//! The entry point: simulate one GEMM (a layer) with either engine.

use crate::config::{ArrayConfig, Dataflow, Engine};
use crate::error::{Error, Result};
use crate::fast;
use crate::gemm::{default_folds, Fold, Gemm};
use crate::pe::{self, Operands};
use crate::stats::GemmStats;
use crate::timing::{never_cancel, CancelHook, FoldTiming, IdealMemory, Readiness};
use crate::trace::{ArrayTracks, Trace};

/// One layer's result: statistics, and per-fold records when asked for.
#[derive(Debug, Clone)]
pub struct GemmResult {
    pub stats: GemmStats,
    /// The folds in issue order with their timing (empty unless `keep_folds`).
    pub folds: Vec<(Fold, FoldTiming)>,
    /// `groups x M x N` int32 results (only from the `pe` engine with operands).
    pub output: Option<Vec<i32>>,
}

/// What to simulate and how.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub gemm: Gemm,
    pub engine: Engine,
    /// Operand values for the `pe` engine (`groups x M x K` and `groups x K x N`, int8).
    pub operands: Option<Operands<'a>>,
    pub keep_folds: bool,
}

impl Request<'_> {
    /// A timing-only request (no operand values, no per-fold records).
    pub fn timing(gemm: Gemm, engine: Engine) -> Self {
        Request {
            gemm,
            engine,
            operands: None,
            keep_folds: false,
        }
    }
}

fn check_operands(gemm: &Gemm, ops: &Operands<'_>) -> Result<()> {
    let want_a = gemm.groups * gemm.m * gemm.k;
    let want_b = gemm.groups * gemm.k * gemm.n;
    if ops.a.len() as u64 != want_a {
        return Err(Error::workload(
            "a",
            format!(
                "has {} elements; expected groups*M*K = {want_a}",
                ops.a.len()
            ),
        ));
    }
    if ops.b.len() as u64 != want_b {
        return Err(Error::workload(
            "b",
            format!(
                "has {} elements; expected groups*K*N = {want_b}",
                ops.b.len()
            ),
        ));
    }
    Ok(())
}

/// Simulate `req.gemm` on `cfg` with operand readiness `ready`.
pub fn simulate<R: Readiness>(
    cfg: &ArrayConfig,
    req: &Request<'_>,
    ready: &R,
) -> Result<GemmResult> {
    simulate_cancellable(cfg, req, ready, &never_cancel)
}

/// The fast engine with ideal memory (every operand ready when asked), recording the array's
/// folds into `trace` as its next layer: each fold's stream (operands entering, one vector per
/// cycle; OS: one pair per `acc_latency` cycles) and, in WS and IS, its stationary load (one row
/// per cycle).
pub fn simulate_traced(
    cfg: &ArrayConfig,
    gemm: &Gemm,
    cancel: CancelHook<'_>,
    trace: &mut Trace,
) -> Result<GemmStats> {
    let folds = default_folds(gemm, cfg)?;
    let df = cfg.dataflow();
    trace.begin_layer(None);
    let tracks = ArrayTracks::new(trace, df);
    let pair = cfg.acc_latency().max(1) as u64;
    let stats = fast::run(cfg, &folds, &IdealMemory, cancel, |_, f, t| {
        let a = f.on_array(df);
        let (last_stream, last_load) = match df {
            Dataflow::Os => (t.stream_start + (a.vectors - 1) * pair, None),
            _ => (
                t.stream_start + a.vectors - 1,
                Some(t.start + a.tile_rows - 1),
            ),
        };
        tracks.fold(trace, f, &t, last_stream, last_load);
    })?;
    trace.end_layer(stats.cycles);
    Ok(stats)
}

/// `simulate`, polling `cancel` now and then; `Err(Error::Cancelled)` when it says stop.
pub fn simulate_cancellable<R: Readiness>(
    cfg: &ArrayConfig,
    req: &Request<'_>,
    ready: &R,
    cancel: CancelHook<'_>,
) -> Result<GemmResult> {
    let folds = default_folds(&req.gemm, cfg)?;
    match req.engine {
        Engine::Fast => {
            if req.operands.is_some() {
                return Err(Error::config(
                    "engine",
                    "operand values need the register-level engine; valid choice with operands: pe",
                ));
            }
            let mut kept = Vec::new();
            let stats = fast::run(cfg, &folds, ready, cancel, |_, f, t| {
                if req.keep_folds {
                    kept.push((*f, t));
                }
            })?;
            Ok(GemmResult {
                stats,
                folds: kept,
                output: None,
            })
        }
        Engine::Pe => {
            let ops = match req.operands {
                Some(ops) => {
                    check_operands(&req.gemm, &ops)?;
                    ops
                }
                None => Operands { a: &[], b: &[] },
            };
            let res = pe::run(cfg, &req.gemm, &folds, ops, ready, cancel)?;
            let kept = if req.keep_folds {
                folds
                    .iter()
                    .copied()
                    .zip(res.timing.iter().copied())
                    .collect()
            } else {
                Vec::new()
            };
            Ok(GemmResult {
                stats: res.stats,
                folds: kept,
                output: req.operands.map(|_| res.output),
            })
        }
    }
}
