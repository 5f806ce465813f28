//! Runs the searches of many layers at once on every core.
//!
//! In rounds: every unfinished layer's strategy is asked for a batch of requests (a fixed
//! number, whatever the thread count), all of them are scored in parallel, and each strategy is
//! told its results in the order it asked. A strategy only ever sees its own results in a
//! fixed order, so the answer does not depend on the thread count or on timing: same seed,
//! same answer.

use super::bound::{dram_peak, lower_bounds, Bounds};
use super::eval::{Evaluator, LayerShape};
use super::strategy::{Exhaustive, Guided, Problem, RandomSearch, Request, Strategy};
use super::{Candidate, Cost, Fidelity, Objective, Space, StrategyKind};
use crate::config::{ArrayConfig, ArrayParams, Dataflow};
use crate::error::{Error, Result};
use crate::memory::schedule::MemoCounts;
use crate::memory::{choose_tiling, DramModel, MemoryConfig};
use crate::timing::CancelHook;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Requests per layer and round that do not run an expensive DRAM model.
pub const CHEAP_BATCH: usize = 256;
/// Requests per layer and round that run an expensive (cycle-level) DRAM model.
pub const EXACT_BATCH: usize = 2;
/// Exact scores the random strategy spends by default: with a cheap model, and with an
/// expensive one.
pub const RANDOM_DEFAULT_BUDGET: (usize, usize) = (4096, 24);

/// How to search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    pub objective: Objective,
    pub strategy: StrategyKind,
    /// Most scores by the configured memory model per layer (`None`: the strategy's default:
    /// unlimited for exhaustive search, and for guided search with the bandwidth model).
    pub budget: Option<usize>,
    pub seed: u64,
    /// Dataflows the hardware can run (empty: only the array's own).
    pub dataflows: Vec<Dataflow>,
    /// Worker threads (0: every core).
    pub threads: usize,
    /// Take repeated passes of tiles from the evaluators' pass memo (the default; the costs
    /// are the same without it, only slower to compute).
    pub pass_memo: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            objective: Objective::Cycles,
            strategy: StrategyKind::Guided,
            budget: None,
            seed: 0,
            dataflows: Vec::new(),
            threads: 0,
            pass_memo: true,
        }
    }
}

/// A layer to search (its GEMM and convolution geometry).
pub type LayerTask = LayerShape;

/// Evaluations by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalCounts {
    /// By the configured memory model.
    pub exact: u64,
    /// By a bandwidth stand-in for a cycle-level DRAM.
    pub stand_in: u64,
    /// By the array alone (lower bounds).
    pub bound: u64,
}

impl EvalCounts {
    pub fn total(&self) -> u64 {
        self.exact + self.stand_in + self.bound
    }

    fn add(&mut self, f: &Fidelity) {
        match f {
            Fidelity::Exact => self.exact += 1,
            Fidelity::Bandwidth { .. } => self.stand_in += 1,
            Fidelity::Bound => self.bound += 1,
        }
    }
}

/// One layer's search.
#[derive(Debug, Clone)]
pub struct LayerSearch {
    pub space_size: usize,
    /// The best candidate scored by the configured model, and its cost.
    pub best: Option<(Candidate, Cost)>,
    /// The default tiling (`choose_tiling`) and its cost.
    pub default: Option<(Candidate, Cost)>,
    pub evaluations: EvalCounts,
    /// Candidates whose closed-form bound was computed (the whole space).
    pub bounded: usize,
    /// The strategy ran to its end (not interrupted).
    pub complete: bool,
}

/// Figures of a search run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchStats {
    pub seconds: f64,
    pub threads: usize,
    pub evaluations: EvalCounts,
    /// Seconds the threads spent scoring, by kind (exact, stand-in, bound).
    pub busy: [f64; 3],
    pub interrupted: bool,
    /// What the evaluators' pass memos did (`memory::schedule`'s `memo.rs`).
    pub memo: MemoCounts,
}

impl SearchStats {
    /// Scores per second per core, by kind (exact, stand-in, bound; 0 when none ran).
    pub fn rates(&self) -> [f64; 3] {
        let n = [
            self.evaluations.exact,
            self.evaluations.stand_in,
            self.evaluations.bound,
        ];
        let mut out = [0.0; 3];
        for i in 0..3 {
            if self.busy[i] > 0.0 {
                out[i] = n[i] as f64 / self.busy[i];
            }
        }
        out
    }
}

/// Where a search run is, for a progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub layers_done: usize,
    pub layers: usize,
    pub evaluations: u64,
}

fn kind_index(f: &Fidelity) -> usize {
    match f {
        Fidelity::Exact => 0,
        Fidelity::Bandwidth { .. } => 1,
        Fidelity::Bound => 2,
    }
}

struct Task {
    shape: LayerShape,
    problem: Problem,
    strategy: Box<dyn Strategy>,
    best: Option<(usize, Cost)>,
    default: Option<(usize, Cost)>,
    counts: EvalCounts,
    done: bool,
}

/// Search every layer of `shapes` (each once: pass unique shapes) on `array` with `mem`.
pub fn search_layers(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    shapes: &[LayerShape],
    opts: &SearchOptions,
    cancel: CancelHook<'_>,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<(Vec<LayerSearch>, SearchStats)> {
    let started = Instant::now();
    mem.validate()?;
    let exact_is_cheap = matches!(mem.dram, DramModel::Bandwidth { .. });
    let peak = dram_peak(mem);
    let burst = match &mem.dram {
        DramModel::Cycle { config, .. } => config.burst_bytes(),
        DramModel::Bandwidth { .. } => 1,
    };
    let mut tasks = Vec::with_capacity(shapes.len());
    for shape in shapes {
        if let Some(c) = &shape.conv {
            c.check(&shape.gemm)?;
        }
        let space = Arc::new(Space::new(&shape.gemm, array, mem, &opts.dataflows)?);
        let bounds: Vec<Bounds> = space
            .candidates
            .iter()
            .map(|c| {
                let a = ArrayConfig::new(ArrayParams {
                    dataflow: c.dataflow,
                    ..array.params()
                })?;
                Ok(lower_bounds(
                    &a,
                    mem,
                    &shape.gemm,
                    shape.conv.is_some(),
                    &c.tiling,
                ))
            })
            .collect::<Result<_>>()?;
        let default = choose_tiling(&shape.gemm, array, mem).ok().and_then(|t| {
            space.find(&Candidate {
                tiling: t,
                dataflow: array.dataflow(),
            })
        });
        let problem = Problem {
            space,
            bounds,
            objective: opts.objective,
            default,
            exact_is_cheap,
            peak,
            burst,
            budget: opts.budget,
            seed: opts.seed,
        };
        let strategy: Box<dyn Strategy> = match opts.strategy {
            StrategyKind::Exhaustive => Box::new(Exhaustive::new(problem.clone())),
            StrategyKind::Random => Box::new(RandomSearch::new(
                problem.clone(),
                if exact_is_cheap {
                    RANDOM_DEFAULT_BUDGET.0
                } else {
                    RANDOM_DEFAULT_BUDGET.1
                },
            )),
            StrategyKind::Guided => Box::new(Guided::new(problem.clone())),
        };
        tasks.push(Task {
            shape: *shape,
            problem,
            strategy,
            best: None,
            default: None,
            counts: EvalCounts::default(),
            done: false,
        });
    }
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.threads
    };
    let mut evaluators: Vec<Evaluator> = (0..threads).map(|_| Evaluator::new()).collect();
    for ev in &mut evaluators {
        ev.set_pass_memo(opts.pass_memo);
    }
    let mut stats = SearchStats {
        threads,
        ..Default::default()
    };
    let total_layers = tasks.len();
    loop {
        // Ask every unfinished layer for a batch.
        let mut jobs: Vec<(usize, Request)> = Vec::new();
        for (ti, t) in tasks.iter_mut().enumerate() {
            if t.done {
                continue;
            }
            let asked = t.strategy.ask(CHEAP_BATCH, EXACT_BATCH);
            if asked.is_empty() {
                t.done = true;
            }
            jobs.extend(asked.into_iter().map(|r| (ti, r)));
        }
        if jobs.is_empty() {
            break;
        }
        // Score them on every thread.
        let next = AtomicUsize::new(0);
        let views: Vec<(LayerShape, Arc<Space>)> = tasks
            .iter()
            .map(|t| (t.shape, Arc::clone(&t.problem.space)))
            .collect();
        let views_ref = &views;
        let jobs_ref = &jobs;
        let results: Vec<Vec<(usize, Result<Cost>, f64)>> = std::thread::scope(|s| {
            let handles: Vec<_> = evaluators
                .iter_mut()
                .map(|ev| {
                    let next = &next;
                    s.spawn(move || {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((ti, req)) = jobs_ref.get(i) else {
                                break;
                            };
                            let (shape, space) = &views_ref[*ti];
                            let c = space.candidates[req.id];
                            let t0 = Instant::now();
                            let r = ev.eval(array, mem, shape, &c, req.fidelity, cancel);
                            out.push((i, r, t0.elapsed().as_secs_f64()));
                            if out.len() % 64 == 0 && cancel() {
                                break;
                            }
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a search thread panicked"))
                .collect()
        });
        let mut scored: Vec<Option<Result<Cost>>> = (0..jobs.len()).map(|_| None).collect();
        for (i, r, secs) in results.into_iter().flatten() {
            stats.busy[kind_index(&jobs[i].1.fidelity)] += secs;
            scored[i] = Some(r);
        }
        let mut cancelled = false;
        for ((ti, req), r) in jobs.iter().zip(scored) {
            match r {
                Some(Ok(cost)) => {
                    let t = &mut tasks[*ti];
                    t.counts.add(&req.fidelity);
                    stats.evaluations.add(&req.fidelity);
                    if req.fidelity.is_exact() {
                        let obj = t.problem.objective;
                        if t.best.is_none_or(|(bi, bc)| {
                            obj.compare((&cost, req.id), (&bc, bi)) == std::cmp::Ordering::Less
                        }) {
                            t.best = Some((req.id, cost));
                        }
                        if Some(req.id) == t.problem.default {
                            t.default = Some((req.id, cost));
                        }
                    }
                    if !cancelled {
                        t.strategy.tell(req, cost);
                    }
                }
                Some(Err(Error::Cancelled)) | None => cancelled = true,
                Some(Err(e)) => return Err(e),
            }
        }
        let done = tasks.iter().filter(|t| t.done).count();
        progress(&Progress {
            layers_done: done,
            layers: total_layers,
            evaluations: stats.evaluations.total(),
        });
        if cancelled || cancel() {
            stats.interrupted = true;
            break;
        }
    }
    if !stats.interrupted {
        progress(&Progress {
            layers_done: tasks.iter().filter(|t| t.done).count(),
            layers: total_layers,
            evaluations: stats.evaluations.total(),
        });
    }
    stats.seconds = started.elapsed().as_secs_f64();
    for ev in &evaluators {
        stats.memo.add(&ev.memo_counts());
    }
    let out = tasks
        .iter()
        .map(|t| {
            let cand = |id: usize| t.problem.space.candidates[id];
            LayerSearch {
                space_size: t.problem.space.len(),
                best: t.best.map(|(i, c)| (cand(i), c)),
                default: t.default.map(|(i, c)| (cand(i), c)),
                evaluations: t.counts,
                bounded: t.problem.bounds.len(),
                complete: t.done && !stats.interrupted,
            }
        })
        .collect();
    Ok((out, stats))
}
