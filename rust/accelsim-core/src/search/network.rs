//! A whole network: every distinct layer shape searched once, then the layers scheduled as one
//! run (`crate::memory::schedule`): the next layer's first filter tile prefetched while the
//! current one finishes, and a layer's output kept on chip as the next layer's input where the
//! ifmap buffer holds it. The schedule is kept only if it beats the layers run alone.

use super::driver::{search_layers, LayerSearch, Progress, SearchOptions, SearchStats};
use super::eval::LayerShape;
use super::{Candidate, Cost, Objective};
use crate::config::ArrayConfig;
use crate::error::Result;
use crate::gemm::Gemm;
use crate::memory::schedule::{
    check_plan, output_bytes, simulate_network, NetworkRun, PlannedLayer, ScheduleOptions,
};
use crate::memory::{choose_tiling, ConvGeometry, MemoryConfig};
use crate::timing::CancelHook;

/// One layer of a network to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkLayer {
    pub gemm: Gemm,
    pub conv: Option<ConvGeometry>,
    /// Its input is the previous layer's output (so that output may stay on chip for it).
    pub chained: bool,
}

/// One layer's outcome.
#[derive(Debug, Clone, Copy)]
pub struct SearchedLayer {
    /// Index of its shape's search in [`NetworkSearch::searches`].
    pub search: usize,
    /// The default tiling and its cost, alone.
    pub default: Option<(Candidate, Cost)>,
    /// The searched mapping and its cost, alone.
    pub best: Candidate,
    pub best_cost: Option<Cost>,
}

/// A network's search.
#[derive(Debug, Clone)]
pub struct NetworkSearch {
    pub layers: Vec<SearchedLayer>,
    /// One per distinct layer shape.
    pub searches: Vec<LayerSearch>,
    pub stats: SearchStats,
    /// The chosen plan (tilings, dataflows, inputs kept on chip) and how it runs.
    pub plan: Vec<PlannedLayer>,
    pub schedule: ScheduleOptions,
    /// The chosen plan's run: what `simulate_network(plan, schedule)` gives.
    pub run: NetworkRun,
    /// The searched mappings with every layer alone, and (when asked for) as one schedule.
    pub alone: NetworkRun,
    pub scheduled: Option<NetworkRun>,
}

/// Totals of a run: cycles and energy.
pub fn run_cost(run: &NetworkRun) -> Cost {
    Cost {
        cycles: run.cycles,
        energy_pj: run
            .layers
            .iter()
            .map(|l| l.result.energy.energy_total_pj)
            .sum(),
    }
}

/// Which layers may take their input from the chip: chained to the previous layer, and the
/// ifmap buffer holds the producer's input (tiles, or its own input kept on chip) next to the
/// output it keeps, and the consumer's kept input next to its own kept output (greedy, first
/// layer first).
pub fn keep_on_chip(mem: &MemoryConfig, layers: &[NetworkLayer], plan: &mut [PlannedLayer]) {
    for i in 1..plan.len() {
        plan[i].input_on_chip = false;
        if !layers[i].chained {
            continue;
        }
        plan[i].input_on_chip = true;
        if check_plan(mem, &plan[..=i], ScheduleOptions::default()).is_err() {
            plan[i].input_on_chip = false;
        }
    }
}

/// Search every layer of `layers`, then schedule them (`schedule`: `None` runs them alone).
pub fn search_network(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    layers: &[NetworkLayer],
    opts: &SearchOptions,
    schedule: Option<ScheduleOptions>,
    cancel: CancelHook<'_>,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<NetworkSearch> {
    // Each distinct shape once.
    let mut shapes: Vec<LayerShape> = Vec::new();
    let mut of_layer = Vec::with_capacity(layers.len());
    for l in layers {
        let s = LayerShape {
            gemm: l.gemm,
            conv: l.conv,
        };
        let i = match shapes.iter().position(|x| *x == s) {
            Some(i) => i,
            None => {
                shapes.push(s);
                shapes.len() - 1
            }
        };
        of_layer.push(i);
    }
    let (searches, stats) = search_layers(array, mem, &shapes, opts, cancel, progress)?;
    let mut out_layers = Vec::with_capacity(layers.len());
    let mut plan = Vec::with_capacity(layers.len());
    for (l, &si) in layers.iter().zip(&of_layer) {
        let s = &searches[si];
        let (best, best_cost) = match (s.best, s.default) {
            (Some((c, cost)), _) => (c, Some(cost)),
            (None, Some((c, cost))) => (c, Some(cost)),
            (None, None) => (
                // Interrupted before anything was scored: the default tiling.
                Candidate {
                    tiling: choose_tiling(&l.gemm, array, mem)?,
                    dataflow: array.dataflow(),
                },
                None,
            ),
        };
        out_layers.push(SearchedLayer {
            search: si,
            default: s.default,
            best,
            best_cost,
        });
        plan.push(PlannedLayer {
            gemm: l.gemm,
            conv: l.conv,
            tiling: best.tiling,
            dataflow: best.dataflow,
            input_on_chip: false,
        });
    }
    let alone_opts = ScheduleOptions {
        overlap: false,
        write_through: false,
    };
    let never = || false;
    let alone = simulate_network(array, mem, &plan, alone_opts, &never)?;
    let mut chosen = (plan.clone(), alone_opts, alone.clone());
    let mut scheduled = None;
    if let Some(sched) = schedule.filter(|s| s.overlap) {
        let mut splan = plan.clone();
        keep_on_chip(mem, layers, &mut splan);
        let run = simulate_network(array, mem, &splan, sched, &never)?;
        let obj = opts.objective;
        let (a, b) = (run_cost(&run), run_cost(&alone));
        if obj.value(&a) <= obj.value(&b) {
            chosen = (splan, sched, run.clone());
        }
        scheduled = Some(run);
    }
    let _ = Objective::Cycles;
    Ok(NetworkSearch {
        layers: out_layers,
        searches,
        stats,
        plan: chosen.0,
        schedule: chosen.1,
        run: chosen.2,
        alone,
        scheduled,
    })
}

/// Bytes a layer's output occupies on chip (re-exported for callers deciding by hand).
pub fn layer_output_bytes(gemm: &Gemm, mem: &MemoryConfig) -> u64 {
    output_bytes(gemm, mem)
}
