//! Search strategies behind one ask/tell interface (Timeloop's mapper): a strategy proposes
//! candidates to score and is told their cost; it never runs the model itself.
//!
//! - [`Exhaustive`]: every candidate, in the order of its closed-form lower bound; a candidate
//!   whose bound is worse than the best found is never scored, and once one is, neither is
//!   any after it. With an expensive DRAM model a candidate is first bounded by the array
//!   alone (`Fidelity::Bound`), also a lower bound. Finds the optimum of the space.
//! - [`RandomSearch`]: a seeded sample of `budget` candidates (the default tiling first).
//! - [`Guided`]: branch and bound over the space with a fast scorer (the configured model when
//!   it is the bandwidth model, which makes it the exhaustive search; otherwise a bandwidth
//!   stand-in calibrated on the default tiling), then the configured model on the best
//!   `budget` candidates by that score, then a greedy refinement: the best candidate's
//!   neighbours (one tile size one step up or down, another loop order) while they improve.

use super::bound::Bounds;
use super::{Cost, Fidelity, Objective, Space};
use crate::config::named_enum;
use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

named_enum!(
    /// The strategies, by name.
    StrategyKind, "strategy", {
        Exhaustive => "exhaustive",
        Random => "random",
        Guided => "guided",
    }
);

/// One candidate to score, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    pub id: usize,
    pub fidelity: Fidelity,
}

/// What a strategy knows about its layer.
#[derive(Debug, Clone)]
pub struct Problem {
    pub space: Arc<Space>,
    /// Closed-form lower bounds per candidate.
    pub bounds: Vec<Bounds>,
    pub objective: Objective,
    /// The default tiling's candidate, when it is in the space.
    pub default: Option<usize>,
    /// Whether the configured model is cheap (the bandwidth model): then no stand-in is used.
    pub exact_is_cheap: bool,
    /// Peak bytes per cycle and fixed latency of the configured DRAM (the stand-in's start).
    pub peak: (f64, u64),
    /// Bytes of one DRAM burst (1 for the bandwidth model).
    pub burst: u64,
    /// Most scores by the configured model (`None`: as many as the strategy needs).
    pub budget: Option<usize>,
    pub seed: u64,
}

impl Problem {
    fn lb(&self, id: usize) -> f64 {
        let b = &self.bounds[id];
        self.objective.value(&Cost {
            cycles: b.cycles,
            energy_pj: b.energy_pj,
        })
    }

    fn budget_left(&self, used: usize) -> bool {
        self.budget.is_none_or(|b| used < b)
    }

    /// How the strategy's exact requests are scored.
    fn exact(&self) -> Fidelity {
        Fidelity::Exact
    }
}

/// A search strategy.
pub trait Strategy: Send {
    /// Up to `cheap` requests that do not run the configured (expensive) DRAM model and up to
    /// `exact` that do (when the configured model is cheap, every request counts as cheap).
    /// Empty when the search is over.
    fn ask(&mut self, cheap: usize, exact: usize) -> Vec<Request>;
    /// The cost of a request asked for.
    fn tell(&mut self, req: &Request, cost: Cost);
}

/// The best candidate scored exactly so far.
#[derive(Debug, Clone, Copy, Default)]
struct Best(Option<(usize, Cost)>);

impl Best {
    fn offer(&mut self, obj: Objective, id: usize, c: Cost) {
        if self
            .0
            .is_none_or(|(bi, bc)| obj.compare((&c, id), (&bc, bi)) == Ordering::Less)
        {
            self.0 = Some((id, c));
        }
    }

    /// Whether a candidate whose objective is at least `lb` cannot beat the best.
    fn beats(&self, obj: Objective, lb: f64) -> bool {
        self.0.is_some_and(|(_, c)| lb > obj.value(&c))
    }
}

/// Candidate ids by closed-form bound, then id.
fn by_bound(p: &Problem) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.space.len()).collect();
    order.sort_by(|&a, &b| p.lb(a).total_cmp(&p.lb(b)).then(a.cmp(&b)));
    order
}

/// Branch and bound over the whole space (see the module documentation).
pub struct Exhaustive {
    p: Problem,
    order: Vec<usize>,
    next: usize,
    /// Bounded by the array alone and not pruned: waiting for the configured model.
    queue: VecDeque<(usize, f64)>,
    best: Best,
    exact_asked: usize,
    started: bool,
}

impl Exhaustive {
    pub fn new(p: Problem) -> Self {
        Exhaustive {
            order: by_bound(&p),
            p,
            next: 0,
            queue: VecDeque::new(),
            best: Best::default(),
            exact_asked: 0,
            started: false,
        }
    }
}

impl Strategy for Exhaustive {
    fn ask(&mut self, cheap: usize, exact: usize) -> Vec<Request> {
        let mut out = Vec::new();
        let obj = self.p.objective;
        let exact_cap = if self.p.exact_is_cheap { cheap } else { exact };
        let mut exact_n = 0;
        // The default first: a good first best prunes early.
        if !self.started {
            self.started = true;
            if let Some(d) = self.p.default {
                out.push(Request {
                    id: d,
                    fidelity: self.p.exact(),
                });
                self.exact_asked += 1;
                return out;
            }
        }
        while exact_n < exact_cap && self.p.budget_left(self.exact_asked) {
            let Some((id, lb)) = self.queue.pop_front() else {
                break;
            };
            if self.best.beats(obj, lb) || Some(id) == self.p.default {
                continue;
            }
            out.push(Request {
                id,
                fidelity: Fidelity::Exact,
            });
            exact_n += 1;
            self.exact_asked += 1;
        }
        while self.next < self.order.len() && out.len() < cheap.max(exact_cap) {
            let id = self.order[self.next];
            if self.best.beats(obj, self.p.lb(id)) {
                // Sorted by bound: nothing after it can win either.
                self.next = self.order.len();
                break;
            }
            if Some(id) == self.p.default {
                self.next += 1;
                continue;
            }
            if self.p.exact_is_cheap {
                if !self.p.budget_left(self.exact_asked) {
                    break;
                }
                self.exact_asked += 1;
                out.push(Request {
                    id,
                    fidelity: Fidelity::Exact,
                });
            } else {
                out.push(Request {
                    id,
                    fidelity: Fidelity::Bound,
                });
            }
            self.next += 1;
        }
        out
    }

    fn tell(&mut self, req: &Request, cost: Cost) {
        match req.fidelity {
            Fidelity::Exact => self.best.offer(self.p.objective, req.id, cost),
            _ => {
                let lb = self.p.objective.value(&cost).max(self.p.lb(req.id));
                if !self.best.beats(self.p.objective, lb) {
                    self.queue.push_back((req.id, lb));
                }
            }
        }
    }
}

/// SplitMix64: a small, seeded, portable generator (the same sequence on every machine).
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// A seeded sample of the space, scored by the configured model.
pub struct RandomSearch {
    order: Vec<usize>,
    next: usize,
    budget: usize,
    exact_is_cheap: bool,
}

impl RandomSearch {
    pub fn new(p: Problem, default_budget: usize) -> Self {
        let n = p.space.len();
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = SplitMix::new(p.seed);
        for i in (1..n).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        if let Some(d) = p.default {
            let pos = order.iter().position(|&x| x == d).expect("in the space");
            order.remove(pos);
            order.insert(0, d);
        }
        RandomSearch {
            order,
            next: 0,
            budget: p.budget.unwrap_or(default_budget).min(n),
            exact_is_cheap: p.exact_is_cheap,
        }
    }
}

impl Strategy for RandomSearch {
    fn ask(&mut self, cheap: usize, exact: usize) -> Vec<Request> {
        let cap = if self.exact_is_cheap { cheap } else { exact }.max(1);
        let mut out = Vec::new();
        while self.next < self.budget && out.len() < cap {
            out.push(Request {
                id: self.order[self.next],
                fidelity: Fidelity::Exact,
            });
            self.next += 1;
        }
        out
    }

    fn tell(&mut self, _req: &Request, _cost: Cost) {}
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Default,
    Calibrate { lo: f64, hi: f64, step: u32 },
    Screen,
    Exact,
    Refine,
    Done,
}

/// Steps of the stand-in's bandwidth calibration (bisection on the fraction of peak).
const CALIBRATION_STEPS: u32 = 14;

/// Screen with a fast scorer, score the most promising exactly, refine greedily.
pub struct Guided {
    p: Problem,
    phase: Phase,
    order: Vec<usize>,
    next: usize,
    /// Screening scores: (objective value, id), the best `keep` of them.
    screened: BTreeSet<(Score, usize)>,
    screen_value: Vec<Option<f64>>,
    keep: usize,
    /// Stand-in: fraction of peak bandwidth.
    eta: f64,
    default_cost: Option<Cost>,
    exact_done: Vec<bool>,
    exact_asked: usize,
    best: Best,
    /// Exact phase: candidates in screening order.
    plan: VecDeque<usize>,
    refined_from: Option<usize>,
}

/// An f64 with a total order, for sorted sets.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score(f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Exact scores the guided search spends by default with an expensive DRAM model.
pub const GUIDED_DEFAULT_BUDGET: usize = 24;

impl Guided {
    pub fn new(p: Problem) -> Self {
        let n = p.space.len();
        let keep = if p.exact_is_cheap {
            1
        } else {
            let b = p.budget.unwrap_or(GUIDED_DEFAULT_BUDGET).max(1);
            // Three quarters of the budget on the best screened, the rest on refinement.
            (b - b / 4).max(1)
        };
        Guided {
            order: by_bound(&p),
            phase: Phase::Default,
            next: 0,
            screened: BTreeSet::new(),
            screen_value: vec![None; n],
            keep,
            eta: 0.8,
            default_cost: None,
            exact_done: vec![false; n],
            exact_asked: 0,
            best: Best::default(),
            plan: VecDeque::new(),
            refined_from: None,
            p,
        }
    }

    fn budget(&self) -> usize {
        if self.p.exact_is_cheap {
            self.p.budget.unwrap_or(usize::MAX)
        } else {
            self.p.budget.unwrap_or(GUIDED_DEFAULT_BUDGET)
        }
    }

    fn stand_in(&self, eta: f64) -> Fidelity {
        if self.p.exact_is_cheap {
            Fidelity::Exact
        } else {
            Fidelity::Bandwidth {
                bytes_per_cycle: self.p.peak.0 * eta,
                latency: self.p.peak.1,
                burst_bytes: self.p.burst,
            }
        }
    }

    /// The value a screened candidate must beat to be kept.
    fn screen_cut(&self) -> Option<f64> {
        if self.screened.len() >= self.keep {
            self.screened.iter().next_back().map(|(s, _)| s.0)
        } else {
            None
        }
    }

    fn exact_request(&mut self, id: usize) -> Request {
        self.exact_done[id] = true;
        self.exact_asked += 1;
        Request {
            id,
            fidelity: Fidelity::Exact,
        }
    }

    fn start_screen(&mut self) {
        self.phase = Phase::Screen;
    }
}

impl Strategy for Guided {
    fn ask(&mut self, cheap: usize, exact: usize) -> Vec<Request> {
        let exact_cap = if self.p.exact_is_cheap { cheap } else { exact };
        let mut out = Vec::new();
        loop {
            match self.phase {
                Phase::Default => {
                    if let Some(d) = self.p.default {
                        self.phase = if self.p.exact_is_cheap {
                            Phase::Screen
                        } else {
                            Phase::Calibrate {
                                lo: 0.05,
                                hi: 1.0,
                                step: 0,
                            }
                        };
                        out.push(self.exact_request(d));
                        return out;
                    }
                    self.start_screen();
                }
                Phase::Calibrate { lo, hi, step } => {
                    let Some(d) = self.p.default else {
                        self.start_screen();
                        continue;
                    };
                    if step >= CALIBRATION_STEPS {
                        self.eta = hi;
                        self.start_screen();
                        continue;
                    }
                    let mid = 0.5 * (lo + hi);
                    out.push(Request {
                        id: d,
                        fidelity: self.stand_in(mid),
                    });
                    return out;
                }
                Phase::Screen => {
                    let fid = self.stand_in(self.eta);
                    while self.next < self.order.len() && out.len() < cheap {
                        if self.p.exact_is_cheap && self.exact_asked >= self.budget() {
                            break;
                        }
                        let id = self.order[self.next];
                        let lb = self.p.lb(id);
                        let cut = if self.p.exact_is_cheap {
                            self.best.0.map(|(_, c)| self.p.objective.value(&c))
                        } else {
                            self.screen_cut()
                        };
                        if cut.is_some_and(|c| lb > c) {
                            self.next = self.order.len();
                            break;
                        }
                        self.next += 1;
                        if self.exact_done[id] {
                            continue;
                        }
                        if self.p.exact_is_cheap {
                            out.push(self.exact_request(id));
                        } else {
                            out.push(Request { id, fidelity: fid });
                        }
                    }
                    if !out.is_empty() {
                        return out;
                    }
                    if self.p.exact_is_cheap || self.next < self.order.len() {
                        self.phase = Phase::Done;
                        continue;
                    }
                    // The best screened, best first, for the configured model.
                    self.plan = self.screened.iter().map(|&(_, id)| id).collect();
                    self.phase = Phase::Exact;
                }
                Phase::Exact => {
                    while out.len() < exact_cap && self.exact_asked < self.budget() {
                        let Some(id) = self.plan.pop_front() else {
                            break;
                        };
                        if self.exact_done[id] || self.best.beats(self.p.objective, self.p.lb(id)) {
                            continue;
                        }
                        out.push(self.exact_request(id));
                    }
                    if !out.is_empty() {
                        return out;
                    }
                    self.phase = Phase::Refine;
                }
                Phase::Refine => {
                    let Some((best, _)) = self.best.0 else {
                        self.phase = Phase::Done;
                        continue;
                    };
                    if self.refined_from == Some(best) || self.exact_asked >= self.budget() {
                        self.phase = Phase::Done;
                        continue;
                    }
                    self.refined_from = Some(best);
                    // Neighbours not scored yet, the ones screened best first, then by bound.
                    let mut nb: Vec<usize> = self
                        .p
                        .space
                        .neighbors(best)
                        .into_iter()
                        .filter(|&i| !self.exact_done[i])
                        .filter(|&i| !self.best.beats(self.p.objective, self.p.lb(i)))
                        .collect();
                    nb.sort_by(|&a, &b| {
                        let key = |i: usize| {
                            (self.screen_value[i].unwrap_or(f64::INFINITY), self.p.lb(i))
                        };
                        let (ka, kb) = (key(a), key(b));
                        ka.0.total_cmp(&kb.0)
                            .then(ka.1.total_cmp(&kb.1))
                            .then(a.cmp(&b))
                    });
                    for id in nb {
                        if self.exact_asked >= self.budget() {
                            break;
                        }
                        out.push(self.exact_request(id));
                    }
                    if !out.is_empty() {
                        return out;
                    }
                    self.phase = Phase::Done;
                }
                Phase::Done => return out,
            }
        }
    }

    fn tell(&mut self, req: &Request, cost: Cost) {
        let obj = self.p.objective;
        match (req.fidelity, self.phase) {
            (Fidelity::Exact, _) => {
                self.best.offer(obj, req.id, cost);
                if Some(req.id) == self.p.default {
                    self.default_cost = Some(cost);
                }
            }
            (Fidelity::Bandwidth { .. }, Phase::Calibrate { lo, hi, step }) => {
                // Bisection: the fraction of peak at which the stand-in takes as many cycles
                // as the configured model on the default tiling (fewer cycles: too fast).
                let target = self.default_cost.map_or(0, |c| c.cycles);
                let mid = 0.5 * (lo + hi);
                self.phase = if cost.cycles > target {
                    Phase::Calibrate {
                        lo: mid,
                        hi,
                        step: step + 1,
                    }
                } else {
                    Phase::Calibrate {
                        lo,
                        hi: mid,
                        step: step + 1,
                    }
                };
            }
            (Fidelity::Bandwidth { .. }, _) => {
                let v = obj.value(&cost);
                self.screen_value[req.id] = Some(v);
                self.screened.insert((Score(v), req.id));
                while self.screened.len() > self.keep {
                    let last = *self.screened.iter().next_back().unwrap();
                    self.screened.remove(&last);
                }
            }
            (Fidelity::Bound, _) => {}
        }
    }
}
