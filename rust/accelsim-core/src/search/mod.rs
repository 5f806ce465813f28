//! Mapping search: per layer, which tiling (tile sizes and loop order, and the dataflow when
//! the hardware offers several) gives the fewest cycles, the least energy or the least
//! energy-delay product, scored by the cycle-level model with the configured memory system;
//! then a schedule across the network (`crate::memory::schedule`). `docs/search.md` describes
//! the space, the bounds and the strategies.
//!
//! - [`space`]: the candidates, legal by construction;
//! - [`bound`]: closed-form lower bounds on a candidate's cycles and energy;
//! - [`eval`]: scoring a candidate: exactly, with a bandwidth stand-in for a cycle-level DRAM,
//!   or as a bound (the array alone);
//! - [`strategy`]: exhaustive, random and guided search behind one ask/tell interface;
//! - [`driver`]: runs many layers' searches at once on every core;
//! - [`network`]: a whole network: layers searched once per shape, then scheduled.

pub mod bound;
pub mod driver;
pub mod eval;
pub mod network;
pub mod space;
pub mod strategy;

pub use driver::{search_layers, LayerSearch, LayerTask, Progress, SearchOptions, SearchStats};
pub use eval::Fidelity;
pub use network::{search_network, NetworkLayer, NetworkSearch, SearchedLayer};
pub use space::{Candidate, Space};
pub use strategy::StrategyKind;

use crate::config::named_enum;
use std::cmp::Ordering;

named_enum!(
    /// What a search minimizes.
    Objective, "objective", {
        /// Cycles of the layer.
        Cycles => "cycles",
        /// Energy of the layer (pJ).
        Energy => "energy",
        /// Energy times cycles.
        Edp => "edp",
    }
);

impl Objective {
    /// The value minimized, for a candidate of `cost`.
    pub fn value(self, cost: &Cost) -> f64 {
        match self {
            Objective::Cycles => cost.cycles as f64,
            Objective::Energy => cost.energy_pj,
            Objective::Edp => cost.energy_pj * cost.cycles as f64,
        }
    }

    /// Order two candidates: by the objective, then by the other measure (cycles for energy,
    /// energy for cycles), then by candidate id (the lower first): every tie is broken, the
    /// same way every run.
    pub fn compare(self, a: (&Cost, usize), b: (&Cost, usize)) -> Ordering {
        let second = |c: &Cost| match self {
            Objective::Cycles => c.energy_pj,
            _ => c.cycles as f64,
        };
        self.value(a.0)
            .total_cmp(&self.value(b.0))
            .then(second(a.0).total_cmp(&second(b.0)))
            .then(a.1.cmp(&b.1))
    }
}

/// A candidate's score: cycles and energy of the layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    pub cycles: u64,
    pub energy_pj: f64,
}
