//! Scoring a candidate with the cycle-level model (`crate::memory::schedule::evaluate_layer`:
//! the statistics `simulate_conv_layer` gives, computed faster).

use super::{Candidate, Cost};
use crate::config::{ArrayConfig, ArrayParams};
use crate::error::Result;
use crate::gemm::Gemm;
use crate::memory::schedule::{evaluate_layer_timed, FoldCache, LayerTiming, MemoCounts};
use crate::memory::{ConvGeometry, MemoryConfig};
use crate::timing::CancelHook;

/// How a candidate is scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fidelity {
    /// The configured memory system: the answer.
    Exact,
    /// A bandwidth DRAM model in place of a cycle-level one, moving whole `burst_bytes`
    /// bursts: fast, approximate cycles, exact energy (access counts do not depend on timing).
    Bandwidth {
        bytes_per_cycle: f64,
        latency: u64,
        burst_bytes: u64,
    },
    /// The array alone, every transfer done at once: a lower bound on the cycles with any
    /// DRAM, exact energy.
    Bound,
}

impl Fidelity {
    /// Whether this costs a run of the configured DRAM model.
    pub fn is_exact(&self) -> bool {
        matches!(self, Fidelity::Exact)
    }
}

/// A layer to search: its GEMM and, for a convolution, its geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LayerShape {
    pub gemm: Gemm,
    pub conv: Option<ConvGeometry>,
}

/// Scores candidates; one per thread (it keeps the fold cache of its evaluations).
#[derive(Debug, Default)]
pub struct Evaluator {
    cache: FoldCache,
}

impl Evaluator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Turn the evaluator's pass memo off or on (the default); the costs are the same.
    pub fn set_pass_memo(&mut self, on: bool) {
        self.cache.set_pass_memo(on);
    }

    /// What the pass memo did over this evaluator's evaluations.
    pub fn memo_counts(&self) -> MemoCounts {
        self.cache.memo_counts()
    }

    /// The cost of `c` for `layer` on `array` (whose dataflow `c` replaces) with `mem`.
    pub fn eval(
        &mut self,
        array: &ArrayConfig,
        mem: &MemoryConfig,
        layer: &LayerShape,
        c: &Candidate,
        fidelity: Fidelity,
        cancel: CancelHook<'_>,
    ) -> Result<Cost> {
        let a = if c.dataflow == array.dataflow() {
            *array
        } else {
            ArrayConfig::new(ArrayParams {
                dataflow: c.dataflow,
                ..array.params()
            })?
        };
        let timing = match fidelity {
            Fidelity::Exact => LayerTiming::Configured,
            Fidelity::Bandwidth {
                bytes_per_cycle,
                latency,
                burst_bytes,
            } => LayerTiming::Bandwidth {
                bytes_per_cycle,
                latency,
                burst_bytes,
            },
            Fidelity::Bound => LayerTiming::Unbounded,
        };
        let r = evaluate_layer_timed(
            &a,
            mem,
            &layer.gemm,
            layer.conv.as_ref(),
            c.tiling,
            timing,
            &mut self.cache,
            cancel,
        )?;
        Ok(Cost {
            cycles: r.array.cycles,
            energy_pj: r.energy.energy_total_pj,
        })
    }
}
