//! Closed-form lower bounds on a candidate's cycles and energy, for pruning: no candidate can
//! take fewer cycles or less energy than its bound (`tests/search.rs` checks this against the
//! simulation), so a candidate whose bound is worse than the best found so far is never
//! simulated.
//!
//! Cycles: the larger of
//! - the array's own bound: a fold cannot start streaming before the previous fold's vectors
//!   have entered (one per cycle, or per `acc_latency` cycles for OS pairs, slower when a
//!   scratchpad's banks throttle it), nor before its stationary tile has been loaded into the
//!   idle bank, nor (OS) before the previous fold's drain frees the output registers; the
//!   first fold loads its tile from cycle 0; the last result leaves a full pipeline later, and
//!   the last write-back takes at least a cycle (plus the latency of a bandwidth DRAM);
//! - the DRAM's bound: the layer's DRAM bytes at the DRAM's peak rate (the filter, output and
//!   partial-sum bytes of `TrafficEstimate`, and the ifmap's for a plain GEMM; a convolution's
//!   window reads are not counted).
//!
//! Energy: MACs, the array's scratchpad reads, the DMA's scratchpad writes and the DRAM bytes
//! above, each at its energy (the ofmap buffer's accesses and a convolution's ifmap DRAM bytes
//! left out).

use crate::config::{ArrayConfig, Dataflow};
use crate::gemm::Gemm;
use crate::memory::schedule::FoldPlan;
use crate::memory::{DramModel, MemoryConfig, Tiling, TrafficEstimate};
use crate::timing::bank_write_lag;

/// Lower bounds of one candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub cycles: u64,
    pub energy_pj: f64,
}

/// Peak DRAM bytes per accelerator cycle, and a fixed latency every transfer pays at least.
pub fn dram_peak(mem: &MemoryConfig) -> (f64, u64) {
    match &mem.dram {
        &DramModel::Bandwidth {
            bytes_per_cycle,
            latency,
        } => (bytes_per_cycle, latency),
        DramModel::Cycle { config, freq_mhz } => {
            // Per channel a burst of bus_width * BL bits takes BL/2 DRAM cycles: bus_width/8
            // bytes per data-rate transfer, data_rate million transfers per second.
            let per_second = config.org.channels as f64
                * (config.org.bus_width as f64 / 8.0)
                * config.data_rate as f64
                * 1e6;
            (per_second / (freq_mhz * 1e6), 0)
        }
    }
}

/// A fold as the bound needs it.
#[derive(Debug, Clone, Copy)]
struct F {
    rows: u64,
    cols: u64,
    vectors: u64,
    stream: u64,
    load: u64,
}

struct Ctx<'a> {
    array: &'a ArrayConfig,
    mem: &'a MemoryConfig,
    la: u64,
    lm: u64,
}

impl Ctx<'_> {
    fn fold(&self, plan: &FoldPlan, xi: u64, yi: u64) -> F {
        let (rows, cols, vectors) = plan.fold_at(xi, yi);
        let (m, df) = (self.mem, self.array.dataflow());
        let (stream, load) = match df {
            Dataflow::Ws => (m.ifmap.vector_cycles(rows), m.filter.vector_cycles(cols)),
            Dataflow::Is => (m.filter.vector_cycles(rows), m.ifmap.vector_cycles(cols)),
            Dataflow::Os => (
                m.ifmap
                    .vector_cycles(rows)
                    .max(m.filter.vector_cycles(cols)),
                1,
            ),
        };
        F {
            rows,
            cols,
            vectors,
            stream: stream.max(1),
            load: load.max(1),
        }
    }

    fn pair(&self, f: &F) -> u64 {
        self.la.max(f.stream)
    }

    /// Cycles from a fold's first streamed vector (pair) to the cycle after it can be
    /// followed: how far the stream port alone keeps the next fold away.
    fn stream_gap(&self, f: &F) -> u64 {
        match self.array.dataflow() {
            Dataflow::Os => (f.vectors - 1) * self.pair(f) + 1,
            _ => (f.vectors - 1) * f.stream + 1,
        }
    }

    fn to_first_final(&self, f: &F) -> u64 {
        (f.vectors - 1) * self.pair(f) + self.lm + self.la
    }

    /// A lower bound on `S_cur - S_prev` for consecutive folds (the stream starts), valid from
    /// the third fold of a layer on.
    fn gap(&self, prev: &F, cur: &F) -> u64 {
        let a = self.stream_gap(prev);
        let arr = self.array;
        match arr.dataflow() {
            Dataflow::Os => {
                let d = arr.drain_beats();
                let skew = prev.rows + prev.cols - 2;
                let drain = if arr.os_output_double_buffer() {
                    (self.to_first_final(prev) + skew + d).saturating_sub(self.to_first_final(cur))
                } else {
                    self.to_first_final(prev) + skew + d + 1
                };
                a.max(drain)
            }
            _ => {
                let lag = bank_write_lag(cur.rows, self.la, cur.load);
                let load = lag + (cur.rows - 1) * cur.load + 1;
                if arr.stationary_double_buffer() {
                    a.max(load)
                } else {
                    // one bank: load after the previous fold's last vector, then stream
                    (prev.vectors - 1) * prev.stream + load
                }
            }
        }
    }

    /// The cycles a fold adds after its stream start until its last result has left.
    fn tail(&self, f: &F) -> u64 {
        let arr = self.array;
        match arr.dataflow() {
            Dataflow::Os => self.to_first_final(f) + f.rows + f.cols - 2 + arr.drain_beats(),
            _ => (f.vectors - 1) * f.stream + arr.rows() as u64 * self.la + (f.cols - 1) + self.lm,
        }
    }
}

/// Extents of a dimension's tiles: (size, how many), the full ones then the last.
fn extents(full: u64, tile: u64) -> [(u64, u64); 2] {
    let n = full.div_ceil(tile);
    [(tile, n - 1), (full - (n - 1) * tile, 1)]
}

/// The array's bound on a layer's cycles, up to its last result (see the module
/// documentation): `S_0 + sum of gap(f-1, f) + tail(last) + 1`, every gap a lower bound on the
/// distance between consecutive stream starts.
fn array_cycles(ctx: &Ctx<'_>, g: &Gemm, t: &Tiling) -> u64 {
    let a = ctx.array;
    let stationary = a.dataflow() != Dataflow::Os;
    // Every kind of tile (full or last along M, K and N) with how many there are.
    let mut kinds: Vec<(u64, FoldPlan)> = Vec::with_capacity(8);
    for (m, cm) in extents(g.m, t.m) {
        for (k, ck) in extents(g.k, t.k) {
            for (n, cn) in extents(g.n, t.n) {
                let count = g.groups * cm * ck * cn;
                if count > 0 {
                    kinds.push((count, FoldPlan::new(a, m, k, n)));
                }
            }
        }
    }
    // A tile's first fold follows the last fold of some tile.
    let lasts: Vec<F> = kinds
        .iter()
        .map(|(_, p)| {
            let (nx, ny) = p.loops();
            ctx.fold(p, nx - 1, ny - 1)
        })
        .collect();
    let after_any = |cur: &F| lasts.iter().map(|p| ctx.gap(p, cur)).min().unwrap_or(0);
    let load_term = |f: &F| bank_write_lag(f.rows, ctx.la, f.load) + (f.rows - 1) * f.load + 1;
    let mut sum = 0u64;
    let mut max_load = 0u64;
    for (count, plan) in &kinds {
        let (nx, ny) = plan.loops();
        let mut within = 0u64;
        // Along the inner fold loop, in a column of full outer extent and in the last one.
        for (xi, cx) in [(0, nx - 1), (nx - 1, 1)] {
            if cx == 0 || ny < 2 {
                continue;
            }
            let full = ctx.fold(plan, xi, 0);
            let last = ctx.fold(plan, xi, ny - 1);
            within += cx * ((ny - 2) * ctx.gap(&full, &full) + ctx.gap(&full, &last));
        }
        // From a column's last fold to the next column's first.
        if nx >= 2 {
            let prev = ctx.fold(plan, 0, ny - 1);
            let full = ctx.fold(plan, 0, 0);
            let last = ctx.fold(plan, nx - 1, 0);
            within += (nx - 2) * ctx.gap(&prev, &full) + ctx.gap(&prev, &last);
        }
        let first = ctx.fold(plan, 0, 0);
        sum += count * (within + after_any(&first));
        if stationary {
            for xi in [0, nx - 1] {
                for yi in [0, ny - 1] {
                    max_load = max_load.max(load_term(&ctx.fold(plan, xi, yi)));
                }
            }
        }
    }
    // The layer's first tile has no predecessor: its first fold starts once its stationary
    // tile is in (WS, IS), and the second fold need not wait for the bank rule (which the
    // sum may have counted in one gap).
    let first_plan = FoldPlan::new(a, t.m.min(g.m), t.k.min(g.k), t.n.min(g.n));
    let first = ctx.fold(&first_plan, 0, 0);
    let start = if stationary {
        (first.rows - 1) * first.load + 1
    } else {
        0
    };
    let correction = if stationary && a.stationary_double_buffer() {
        max_load
    } else {
        0
    };
    let total = (sum.saturating_sub(after_any(&first)) + start).saturating_sub(correction);
    // The last fold of the layer: the last tile (last extent along every dimension) and its
    // last fold.
    let last_extent = |full: u64, tile: u64| full - (full.div_ceil(tile) - 1) * tile;
    let last_plan = FoldPlan::new(
        a,
        last_extent(g.m, t.m),
        last_extent(g.k, t.k),
        last_extent(g.n, t.n),
    );
    let (nx, ny) = last_plan.loops();
    total + ctx.tail(&ctx.fold(&last_plan, nx - 1, ny - 1)) + 1
}

/// Lower bounds on the cycles and the energy of `t` for `g` on `array` (whose dataflow is the
/// candidate's) with `mem`; `conv` when the GEMM is a convolution's (its ifmap DRAM bytes are
/// then not counted).
pub fn lower_bounds(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    g: &Gemm,
    conv: bool,
    t: &Tiling,
) -> Bounds {
    let ctx = Ctx {
        array,
        mem,
        la: array.acc_latency() as u64,
        lm: array.mac_latency() as u64,
    };
    // The last write-back: at least one cycle after the last result, plus a bandwidth DRAM's
    // latency.
    let (peak, latency) = dram_peak(mem);
    let compute = array_cycles(&ctx, g, t) + 1 + latency;
    let traffic = TrafficEstimate::of(t, g, mem);
    let ifmap_dram = if conv { 0 } else { traffic.ifmap_bytes };
    let bytes = ifmap_dram
        + traffic.filter_bytes
        + traffic.ofmap_bytes
        + traffic.psum_read_bytes
        + traffic.psum_write_bytes;
    let dram = match &mem.dram {
        DramModel::Bandwidth { .. } => (bytes as f64 / peak).ceil() as u64 + latency,
        DramModel::Cycle { .. } => (bytes as f64 / peak).floor() as u64,
    };
    // Energy.
    let e = &mem.energy;
    let mut reads = (0u64, 0u64);
    for (m, cm) in extents(g.m, t.m) {
        for (k, ck) in extents(g.k, t.k) {
            for (n, cn) in extents(g.n, t.n) {
                let count = g.groups * cm * ck * cn;
                if count == 0 {
                    continue;
                }
                let st = FoldPlan::new(array, m, k, n).stats(array.drain_beats());
                reads.0 += count * st.ifmap_reads;
                reads.1 += count * st.filter_reads;
            }
        }
    }
    let sram = |buf: &crate::memory::BufferConfig, words: u64| {
        words as f64 * buf.word_bytes as f64 * e.sram_pj_per_byte(buf.size_bytes)
    };
    let ifmap_writes = traffic.ifmap_bytes / mem.ifmap.word_bytes as u64;
    let filter_writes = traffic.filter_bytes / mem.filter.word_bytes as u64;
    let reads_bytes = (traffic.psum_read_bytes + ifmap_dram + traffic.filter_bytes) as f64;
    let writes_bytes = (traffic.ofmap_bytes + traffic.psum_write_bytes) as f64;
    let energy = g.macs() as f64 * e.mac_pj
        + sram(&mem.ifmap, reads.0 + ifmap_writes)
        + sram(&mem.filter, reads.1 + filter_writes)
        + reads_bytes * e.dram_read_pj_per_byte
        + writes_bytes * e.dram_write_pj_per_byte;
    Bounds {
        cycles: compute.max(dram),
        // Rounding: never above what the simulation's own sum gives.
        energy_pj: energy * (1.0 - 1e-9),
    }
}
