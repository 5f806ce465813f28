//! Layers through the memory system one after another with their transfers overlapped, and a
//! fast evaluator of one layer for the mapping search (`crate::search`, docs/search.md).
//!
//! [`simulate_network`] runs a whole network on one DMA engine and one DRAM: the next layer's
//! first filter tile is prefetched while the current layer finishes, a layer's output may stay
//! on chip as the next layer's input, and the array carries its state (load port, banks,
//! drains) from one layer's last fold to the next layer's first. With
//! [`ScheduleOptions::overlap`] off it is the layers run alone, each from an idle memory system:
//! exactly [`super::simulate_conv_layer`] per layer.
//!
//! Both run the model of `docs/memory.md` tile by tile, as `simulate_conv_layer` does (the
//! same DMA issue order, the same calls to the DRAM backend, the same stall attribution;
//! `tests/search.rs` holds them to it), with two differences in how, not what:
//! - a tile's folds after its first depend only on where the first one left the array (their
//!   operands are in the buffers already), so that part of a tile is computed once per tile
//!   shape and replayed shifted in time ([`FoldCache`]);
//! - the bandwidth DRAM model answers each transfer at issue.
//!
//! Why this tile loop is not `system.rs`'s `run_tiles`: that one steps every fold through
//! `FastArray`, keeps per-fold records and records traces (every fold and transfer an event),
//! on any DRAM behind `dyn Backend`; this one is generic over the DMA, replays cached folds and
//! carries the memory system and the array across layers. Merging them would put the trace
//! hooks into the search's hot loop or the fold cache into the traced one (docs/search.md);
//! the tests hold them equal instead.
//!
//! A network run is traced ([`simulate_network_traced`]) by this same loop compiled with the
//! const generic `T` of `Sim` on: it then steps a tile's folds one by one instead of replaying
//! them and records the tracks `run_tiles` records (docs/trace.md, "Scheduled runs"). With
//! `T` off (the search's evaluator, untraced runs) every hook compiles away.

use super::backend::{Backend, DramBackend, Transfer, TransferId};
use super::conv::{ActivationLayout, ConvGeometry};
use super::tiling::{Dim, Tiling};
use super::tracks::{dma_track, held_track, interface_track};
use super::{roles, DramModel, EnergyStats, LayerResult, MemStats, MemoryConfig, Operand};
use crate::config::{ArrayConfig, ArrayParams, Dataflow};
use crate::dram::ClockConverter;
use crate::dram::DramStats;
use crate::error::{Error, Result};
use crate::gemm::Fold;
use crate::gemm::{fold_count, Gemm, MAX_FOLDS};
use crate::stats::GemmStats;
use crate::timing::{bank_write_lag, CancelHook, FoldTiming};
use crate::trace::{ArrayTracks, Category, LayerSpan, Trace};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

mod memo;
pub use memo::MemoCounts;

// ---------------------------------------------------------------------------------------------
// The DMA engine's view of a DRAM backend.

/// A DRAM behind the DMA engine, as the scheduler drives it.
pub(crate) trait Dma {
    type Id: Copy;
    /// Whether `complete` may be asked at issue without changing the answer (no clock to
    /// advance): then loads are resolved at once.
    const EAGER: bool;
    fn issue(&mut self, t: &Transfer) -> Self::Id;
    /// [`Self::issue`] of `t` issued no earlier than `start` instead of `t.start`.
    #[inline(always)]
    fn issue_at(&mut self, t: &Transfer, start: u64) -> Self::Id {
        self.issue(&Transfer { start, ..*t })
    }
    fn complete(&mut self, id: Self::Id) -> u64;
    fn busy_cycles(&self) -> u64;
    /// Whether the pass memo (`memo.rs`) may replay this DMA's work: it answers at issue, its
    /// whole state is `memo_free` and its busy cycles, and its answers move with the issue cycle.
    const MEMO: bool = false;
    /// The memo: the cycle the DMA is free from (its one time).
    fn memo_free(&self) -> u64 {
        0
    }
    fn memo_set_free(&mut self, _free: u64) {}
    fn memo_add_busy(&mut self, _busy: u64) {}
    /// The memo: what besides its byte count a transfer's cost depends on, and whether that
    /// is never its address.
    fn memo_cost(&self, _t: &Transfer) -> u64 {
        0
    }
    fn memo_address_free(&self) -> bool {
        true
    }
    /// What `memo_cost` depends on besides the transfer.
    fn memo_cost_key(&self) -> u64 {
        0
    }
    /// The DMA's parameters (its answers depend on nothing else but the transfers).
    fn memo_context(&self) -> [u64; 3] {
        [0; 3]
    }
    /// Traces: issue `t`, recording what the DRAM model shows of it (the bandwidth model: the
    /// interface's busy interval), and the cycle its first byte moves when known at issue.
    fn issue_traced(&mut self, t: &Transfer, _trace: &mut Trace) -> (Self::Id, Option<u64>) {
        (self.issue(t), None)
    }
    /// Traces: the cycle a completed transfer's first byte moved.
    fn started(&mut self, _id: Self::Id) -> u64 {
        0
    }
    fn clock(&self) -> Option<ClockConverter> {
        None
    }
    fn begin_trace(&mut self, _trace: &mut Trace) {}
    /// Traces: the DRAM's commands since the last call.
    fn trace(&mut self, _trace: &mut Trace) {}
}

/// The bandwidth model (`super::BandwidthModel`'s arithmetic), answering at issue: the id of a
/// transfer is the cycle it completes. With `burst` > 1 every contiguous run of a transfer
/// occupies the interface for whole bursts (a stand-in for a burst-oriented DRAM).
#[derive(Debug, Clone)]
pub(crate) struct Bandwidth {
    bytes_per_cycle: f64,
    /// `bytes_per_cycle` when it is a whole number: then `ceil(bytes / it)` is integer
    /// division (for byte counts below 2^53 the quotient's rounding error is below `1/it`, the
    /// distance from a fraction to the next integer, so the float ceiling is the same).
    whole: Option<u64>,
    /// `whole` when it is a power of two: its log (the division is a shift).
    shift: Option<u32>,
    latency: u64,
    burst: u64,
    free: u64,
    busy: u64,
}

impl Bandwidth {
    pub(crate) fn new(bytes_per_cycle: f64, latency: u64) -> Self {
        Self::with_bursts(bytes_per_cycle, latency, 1)
    }

    pub(crate) fn with_bursts(bytes_per_cycle: f64, latency: u64, burst: u64) -> Self {
        let whole = (bytes_per_cycle.fract() == 0.0 && (1.0..=9.0e15).contains(&bytes_per_cycle))
            .then_some(bytes_per_cycle as u64);
        Bandwidth {
            bytes_per_cycle,
            whole,
            shift: whole
                .filter(|w| w.is_power_of_two())
                .map(|w| w.trailing_zeros()),
            latency,
            burst: burst.max(1),
            free: 0,
            busy: 0,
        }
    }
}

/// `x.ceil() as u64` for `x >= 0` (what `BandwidthModel` computes), without the libm call
/// `f64::ceil` becomes on baseline x86-64: truncation is the floor of a non-negative number.
#[inline]
fn ceil_u64(x: f64) -> u64 {
    let t = x as u64;
    if (t as f64) < x {
        t + 1
    } else {
        t
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Bytes a transfer occupies on a bus that moves whole `burst`-byte bursts: each contiguous
/// run covers the bursts from the one holding its first byte to the one holding its last
/// (as `DramBackend` splits transfers into requests).
pub(crate) fn bus_bytes(t: &Transfer, burst: u64) -> u64 {
    if burst <= 1 || t.bytes() == 0 {
        return t.bytes();
    }
    let runs = |offset: u64| (offset + t.row_bytes).div_ceil(burst);
    // Offsets of consecutive runs repeat with a period that divides `burst`.
    let period = |stride: u64| burst / gcd(stride % burst, burst);
    let plane_sum = |base: u64| -> u64 {
        let p = period(t.stride).min(t.rows);
        let one: u64 = (0..p)
            .map(|r| runs((base + r * (t.stride % burst)) % burst))
            .sum();
        let (full, rest) = (t.rows / p, t.rows % p);
        let tail: u64 = (0..rest)
            .map(|r| runs((base + r * (t.stride % burst)) % burst))
            .sum();
        full * one + tail
    };
    let pp = period(t.plane_stride).min(t.planes);
    let mut total = 0;
    for p in 0..pp {
        let base = (t.addr % burst + p * (t.plane_stride % burst)) % burst;
        let count = t.planes / pp + u64::from(p < t.planes % pp);
        total += count * plane_sum(base);
    }
    total * burst
}

impl Dma for Bandwidth {
    type Id = u64;
    const EAGER: bool = true;
    #[inline]
    fn issue(&mut self, t: &Transfer) -> u64 {
        self.issue_at(t, t.start)
    }
    #[inline(always)]
    fn issue_at(&mut self, t: &Transfer, start: u64) -> u64 {
        let bytes = if self.burst > 1 {
            bus_bytes(t, self.burst)
        } else {
            t.bytes()
        };
        let cycles = match (self.shift, self.whole) {
            (Some(s), _) if bytes < 1 << 53 => (bytes + (1 << s) - 1) >> s,
            (_, Some(w)) if bytes < 1 << 53 => bytes.div_ceil(w),
            _ => ceil_u64(bytes as f64 / self.bytes_per_cycle),
        }
        .max(1);
        let issue = start.max(self.free);
        self.free = issue + cycles;
        self.busy += cycles;
        issue + cycles - 1 + self.latency
    }
    #[inline]
    fn complete(&mut self, id: u64) -> u64 {
        id
    }
    fn busy_cycles(&self) -> u64 {
        self.busy
    }
    const MEMO: bool = true;
    fn memo_free(&self) -> u64 {
        self.free
    }
    fn memo_set_free(&mut self, free: u64) {
        self.free = free;
    }
    fn memo_add_busy(&mut self, busy: u64) {
        self.busy += busy;
    }
    fn memo_address_free(&self) -> bool {
        self.burst <= 1
    }
    fn memo_cost_key(&self) -> u64 {
        self.burst
    }
    fn memo_context(&self) -> [u64; 3] {
        [self.bytes_per_cycle.to_bits(), self.latency, self.burst]
    }
    fn memo_cost(&self, t: &Transfer) -> u64 {
        // The bursts a transfer occupies depend on where its runs start.
        if self.burst > 1 {
            bus_bytes(t, self.burst)
        } else {
            0
        }
    }
    fn issue_traced(&mut self, t: &Transfer, trace: &mut Trace) -> (u64, Option<u64>) {
        let first = t.start.max(self.free);
        let id = self.issue(t);
        if trace.wants(Category::Dram) {
            let track = interface_track(trace);
            let name = trace.name(if t.write { "write" } else { "read" });
            let args = [t.bytes() as i64, 0, 0, 0];
            trace.slice(track, name, first, self.free - first, args);
        }
        (id, Some(first))
    }
}

/// A DRAM that delivers everything at once (every transfer completes in cycle 0): the array
/// alone, with operands usable from cycle 1. Every cycle count it gives is a lower bound of
/// the same layer with any DRAM (the rules only ever wait for a completion).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Unbounded;

impl Dma for Unbounded {
    type Id = u64;
    const EAGER: bool = true;
    // Every transfer is done at cycle 0: its data usable from cycle 1, before any fold a pass
    // starts from (the memo's floors), so the passes move with the array alone.
    const MEMO: bool = true;
    fn memo_context(&self) -> [u64; 3] {
        [u64::MAX; 3]
    }
    fn issue(&mut self, _t: &Transfer) -> u64 {
        0
    }
    fn complete(&mut self, id: u64) -> u64 {
        id
    }
    fn busy_cycles(&self) -> u64 {
        0
    }
}

/// Any [`Backend`] (the cycle-level DRAM): completions are asked for lazily, in the order the
/// memory system needs them, as `simulate_conv_layer` does.
pub(crate) struct Lazy<B: Backend>(pub(crate) B);

impl<B: Backend> Dma for Lazy<B> {
    type Id = TransferId;
    const EAGER: bool = false;
    fn issue(&mut self, t: &Transfer) -> TransferId {
        self.0.issue(t)
    }
    fn complete(&mut self, id: TransferId) -> u64 {
        self.0.complete(id)
    }
    fn busy_cycles(&self) -> u64 {
        self.0.busy_cycles()
    }
    fn started(&mut self, id: TransferId) -> u64 {
        self.0.started(id)
    }
    fn clock(&self) -> Option<ClockConverter> {
        self.0.clock()
    }
    fn begin_trace(&mut self, trace: &mut Trace) {
        self.0.begin_trace(trace)
    }
    fn trace(&mut self, trace: &mut Trace) {
        self.0.trace(trace)
    }
}

// ---------------------------------------------------------------------------------------------
// The array, fold by fold: the rules of `crate::fast::FastArray` with the state visible.

/// The previous fold, as the next one's constraints need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Prev {
    load_start: u64,
    stream_start: u64,
    rows: u64,
    vectors: u64,
    last_row: u64,
    last_vector: u64,
    pair_interval: u64,
    last_copy: u64,
}

impl Prev {
    /// Every time field moved by `to - from`.
    fn rebase(self, from: u64, to: u64) -> Prev {
        // Wrapping: fields a dataflow does not use (0) may wrap, and wrap back.
        let m = |t: u64| t.wrapping_add(to).wrapping_sub(from);
        Prev {
            load_start: m(self.load_start),
            stream_start: m(self.stream_start),
            last_row: m(self.last_row),
            last_vector: m(self.last_vector),
            last_copy: m(self.last_copy),
            ..self
        }
    }
}

/// What one fold did (`crate::fast::Step`).
#[derive(Debug, Clone, Copy)]
struct Step {
    stream_start: u64,
    end: u64,
    array_stream_start: u64,
    conflict_free_stream_start: u64,
    conflict_tail: u64,
    waited_on_load: bool,
    last_stationary_read: u64,
    last_stream_read: u64,
}

/// A fold as the array sees it: stationary (or output) tile rows and columns, vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    rows: u64,
    cols: u64,
    vectors: u64,
}

#[derive(Debug, Clone, Copy)]
struct Stepper {
    df: Dataflow,
    la: u64,
    lm: u64,
    rows: u64,
    drain: u64,
    stationary_double_buffer: bool,
    os_output_double_buffer: bool,
    index: u64,
    prev: Option<Prev>,
}

impl Stepper {
    fn new(a: &ArrayConfig) -> Self {
        Stepper {
            df: a.dataflow(),
            la: a.acc_latency() as u64,
            lm: a.mac_latency() as u64,
            rows: a.rows() as u64,
            drain: a.drain_beats(),
            stationary_double_buffer: a.stationary_double_buffer(),
            os_output_double_buffer: a.os_output_double_buffer(),
            index: 0,
            prev: None,
        }
    }

    /// `FastArray::step_at`, line for line.
    #[inline(always)]
    fn step(&mut self, a: Shape, stationary_ready: u64, stream_ready: u64, rates: Rates) -> Step {
        let (la, lm) = (self.la, self.lm);
        let (ii_s, ii_l) = (rates.stream.max(1), rates.load.max(1));
        let step = match self.df {
            Dataflow::Ws | Dataflow::Is => {
                let (k, c, v) = (a.rows, a.cols, a.vectors);
                let bounds = |at_rate: bool, ii_l: u64| -> (u64, u64) {
                    let Some(pr) = &self.prev else { return (0, 0) };
                    let (last_row, last_vector) = if at_rate {
                        (pr.last_row, pr.last_vector)
                    } else {
                        (
                            pr.load_start + pr.rows - 1,
                            pr.stream_start + pr.vectors - 1,
                        )
                    };
                    let mut p0 = last_row + 1;
                    if !self.stationary_double_buffer {
                        p0 = p0.max(last_vector + bank_write_lag(k, la, ii_l));
                    } else if self.index >= 2 {
                        p0 = p0.max(pr.stream_start + bank_write_lag(k, la, ii_l));
                    }
                    (p0, last_vector + 1)
                };
                let (p0, s0) = bounds(true, ii_l);
                let (p0_cf, s0_cf) = bounds(false, 1);
                let p = p0.max(stationary_ready);
                let array_s = s0.max(p0 + (k - 1) * ii_l + 1);
                let s = s0.max(p + (k - 1) * ii_l + 1).max(stream_ready);
                let last_vector = s + (v - 1) * ii_s;
                let end = last_vector + self.rows * la + (c - 1) + lm;
                let last_row = p + (k - 1) * ii_l;
                self.prev = Some(Prev {
                    load_start: p,
                    stream_start: s,
                    rows: k,
                    vectors: v,
                    last_row,
                    last_vector,
                    pair_interval: 0,
                    last_copy: 0,
                });
                Step {
                    stream_start: s,
                    end,
                    array_stream_start: array_s,
                    conflict_free_stream_start: s0_cf.max(p0_cf + k),
                    conflict_tail: (v - 1) * (ii_s - 1),
                    waited_on_load: last_row + 1 > s0.max(stream_ready) && last_row + 1 > array_s,
                    last_stationary_read: last_row,
                    last_stream_read: last_vector,
                }
            }
            Dataflow::Os => {
                let d = self.drain;
                let (mt, nt, kv) = (a.rows, a.cols, a.vectors);
                let pair = la.max(ii_s);
                let to_first_final = |pair: u64| (kv - 1) * pair + lm + la;
                let skew = mt + nt - 2;
                let bound = |pair_now: u64, at_rate: bool| -> u64 {
                    let Some(pr) = self.prev else { return 0 };
                    let prev_pair = if at_rate { pr.pair_interval } else { la };
                    let mut s0 = pr.stream_start + (pr.vectors - 1) * prev_pair + 1;
                    if self.os_output_double_buffer {
                        s0 = s0.max((pr.last_copy + d).saturating_sub(to_first_final(pair_now)));
                    } else {
                        s0 = s0.max(pr.last_copy + d + 1);
                    }
                    s0
                };
                let s0 = bound(pair, true);
                let s0_cf = bound(la, false);
                let s = s0.max(stream_ready);
                let last_copy = s + to_first_final(pair) + skew;
                let end = last_copy + d;
                let last_read = s + (kv - 1) * pair;
                self.prev = Some(Prev {
                    load_start: s,
                    stream_start: s,
                    rows: mt,
                    vectors: kv,
                    last_row: 0,
                    last_vector: last_read,
                    pair_interval: pair,
                    last_copy,
                });
                Step {
                    stream_start: s,
                    end,
                    array_stream_start: s0,
                    conflict_free_stream_start: s0_cf,
                    conflict_tail: (kv - 1) * (pair - la),
                    waited_on_load: false,
                    last_stationary_read: last_read,
                    last_stream_read: last_read,
                }
            }
        };
        self.index += 1;
        step
    }
}

/// Cycles per streamed vector and per stationary row (`crate::fast::Rates`).
#[derive(Debug, Clone, Copy)]
struct Rates {
    stream: u64,
    load: u64,
}

fn rates(df: Dataflow, mem: &MemoryConfig, a: Shape) -> Rates {
    match df {
        Dataflow::Ws => Rates {
            stream: mem.ifmap.vector_cycles(a.rows),
            load: mem.filter.vector_cycles(a.cols),
        },
        Dataflow::Is => Rates {
            stream: mem.filter.vector_cycles(a.rows),
            load: mem.ifmap.vector_cycles(a.cols),
        },
        Dataflow::Os => Rates {
            stream: mem
                .ifmap
                .vector_cycles(a.rows)
                .max(mem.filter.vector_cycles(a.cols)),
            load: 1,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// A tile's folds.

/// The folds of one memory tile (`crate::gemm::default_folds` of its sub-GEMM): an outer loop
/// over `x` extents and an inner one over `y` extents.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FoldPlan {
    df: Dataflow,
    /// (extent, side) of the outer and inner fold loops, and the streamed length.
    x: (u64, u64),
    y: (u64, u64),
    v: u64,
    /// Whether `count() <= 1`.
    one: bool,
}

impl FoldPlan {
    pub(crate) fn new(a: &ArrayConfig, m: u64, k: u64, n: u64) -> Self {
        let (r, c) = (a.rows() as u64, a.cols() as u64);
        let df = a.dataflow();
        let (x, y, v) = match df {
            Dataflow::Ws => ((n, c), (k, r), m),
            Dataflow::Is => ((m, c), (k, r), n),
            Dataflow::Os => ((m, r), (n, c), k),
        };
        let one = x.0 == 0 || y.0 == 0 || (x.0 <= x.1 && y.0 <= y.1);
        FoldPlan { df, x, y, v, one }
    }

    pub(crate) fn count(&self) -> u64 {
        self.x.0.div_ceil(self.x.1) * self.y.0.div_ceil(self.y.1)
    }

    /// Whether `count() <= 1`, without its divisions.
    #[inline]
    fn at_most_one(&self) -> bool {
        self.one
    }

    /// Folds along the outer and the inner fold loop.
    pub(crate) fn loops(&self) -> (u64, u64) {
        (self.x.0.div_ceil(self.x.1), self.y.0.div_ceil(self.y.1))
    }

    /// The fold at outer index `xi`, inner index `yi`.
    pub(crate) fn fold_at(&self, xi: u64, yi: u64) -> (u64, u64, u64) {
        let (_, ny) = self.loops();
        let a = self.fold(xi * ny + yi);
        (a.rows, a.cols, a.vectors)
    }

    /// Fold `i` (outer index `i / ny`, inner `i % ny`) as the array sees it.
    #[inline]
    fn fold(&self, i: u64) -> Shape {
        let ny = self.y.0.div_ceil(self.y.1);
        let (xi, yi) = (i / ny, i % ny);
        let xe = self.x.1.min(self.x.0 - xi * self.x.1);
        let ye = self.y.1.min(self.y.0 - yi * self.y.1);
        match self.df {
            Dataflow::Ws | Dataflow::Is => Shape {
                rows: ye,
                cols: xe,
                vectors: self.v,
            },
            Dataflow::Os => Shape {
                rows: xe,
                cols: ye,
                vectors: self.v,
            },
        }
    }

    /// The array statistics of all the tile's folds (what `FastArray` counts).
    pub(crate) fn stats(&self, drain: u64) -> GemmStats {
        let mut st = GemmStats::default();
        let nx = self.x.0.div_ceil(self.x.1);
        let ny = self.y.0.div_ceil(self.y.1);
        // Four kinds: full or ragged along each loop.
        let xl = self.x.0 - (nx - 1) * self.x.1;
        let yl = self.y.0 - (ny - 1) * self.y.1;
        for (xe, cx) in [(self.x.1, nx - 1), (xl, 1)] {
            for (ye, cy) in [(self.y.1, ny - 1), (yl, 1)] {
                let count = cx * cy;
                if count == 0 {
                    continue;
                }
                let v = self.v;
                st.folds += count;
                match self.df {
                    Dataflow::Ws | Dataflow::Is => {
                        let (k, c) = (ye, xe);
                        st.stream_vectors += count * v;
                        st.stationary_load_cycles += count * k;
                        st.macs += count * v * k * c;
                        st.ofmap_writes += count * v * c;
                        let (stream, stationary) = (count * v * k, count * k * c);
                        if self.df == Dataflow::Ws {
                            st.ifmap_reads += stream;
                            st.filter_reads += stationary;
                        } else {
                            st.filter_reads += stream;
                            st.ifmap_reads += stationary;
                        }
                    }
                    Dataflow::Os => {
                        let (mt, nt) = (xe, ye);
                        st.stream_vectors += count * v;
                        st.drain_beats += count * drain;
                        st.macs += count * mt * nt * v;
                        st.ifmap_reads += count * mt * v;
                        st.filter_reads += count * v * nt;
                        st.ofmap_writes += count * mt * nt;
                    }
                }
            }
        }
        st
    }
}

/// The folds of a tile shape, with what every tile of that shape adds.
#[derive(Debug, Clone, Copy)]
struct ShapePlan {
    /// The tile's (M, K, N) extents.
    key: (u64, u64, u64),
    plan: FoldPlan,
    /// The array statistics of the tile's folds, and the words they add to the ofmap buffer.
    stats: GemmStats,
    words: u64,
    /// The first fold and its rates.
    fold0: (Shape, Rates),
}

impl ShapePlan {
    #[inline(never)]
    fn new(array: &ArrayConfig, mem: &MemoryConfig, (m, k, n): (u64, u64, u64)) -> Result<Self> {
        let plan = FoldPlan::new(array, m, k, n);
        let sub = Gemm { m, k, n, groups: 1 };
        let count = fold_count(&sub, array);
        if count > MAX_FOLDS {
            return Err(Error::workload(
                "m",
                format!("the GEMM needs {count} folds on this array; at most {MAX_FOLDS} are supported per layer"),
            ));
        }
        let stats = plan.stats(array.drain_beats());
        let a = plan.fold(0);
        Ok(ShapePlan {
            key: (m, k, n),
            plan,
            stats,
            words: stats.ofmap_writes,
            fold0: (a, rates(array.dataflow(), mem, a)),
        })
    }
}

/// What a tile's folds after its first did, relative to the first fold's stream start.
#[derive(Debug, Clone, Copy)]
struct Rest {
    prev: Prev,
    folds: u64,
    max_end: u64,
    max_end_conflict_free: u64,
    last_stationary_read: u64,
    last_stream_read: u64,
    stall_bank: u64,
}

/// Folds being stepped after a tile's first, with what the memory system needs of them.
#[derive(Debug, Clone, Copy)]
struct Run {
    s: Stepper,
    max_end: u64,
    max_end_cf: u64,
    stationary_read: u64,
    stream_read: u64,
    bank: u64,
}

/// A `Run`'s state: its times (which a steady state moves all by the same amount), what must
/// not change, and its stall count.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Snapshot {
    times: [u64; 8],
    fixed: [u64; 4],
    bank: u64,
}

impl Snapshot {
    /// `Some((by, bank))` when `self` is `before` with every time moved by the same `by` > 0.
    fn shift_from(&self, before: &Snapshot) -> Option<(u64, u64)> {
        if self.fixed != before.fixed {
            return None;
        }
        let by = self.times[0].checked_sub(before.times[0])?;
        if by == 0 {
            return None;
        }
        for (a, b) in self.times.iter().zip(&before.times) {
            if a.checked_sub(*b) != Some(by) {
                return None;
            }
        }
        Some((by, self.bank - before.bank))
    }
}

impl Run {
    #[inline]
    fn step(&mut self, a: Shape, r: Rates) {
        let st = self.s.step(a, 0, 0, r);
        self.bank += st
            .array_stream_start
            .saturating_sub(st.conflict_free_stream_start);
        self.max_end = self.max_end.max(st.end);
        self.max_end_cf = self.max_end_cf.max(st.end - st.conflict_tail);
        self.stationary_read = self.stationary_read.max(st.last_stationary_read);
        self.stream_read = self.stream_read.max(st.last_stream_read);
    }

    fn snapshot(&self) -> Snapshot {
        let p = self.s.prev.expect("a tile's first fold was stepped");
        // The times a dataflow uses (the others are constants its steps write).
        let (t0, t1, t2) = match self.s.df {
            Dataflow::Os => (p.stream_start, p.last_vector, p.last_copy),
            _ => (p.load_start, p.last_row, p.last_vector),
        };
        Snapshot {
            times: [
                p.stream_start,
                t0,
                t1,
                t2,
                self.max_end,
                self.max_end_cf,
                self.stationary_read,
                self.stream_read,
            ],
            fixed: [
                p.rows,
                p.vectors,
                p.pair_interval,
                (self.s.index >= 2) as u64,
            ],
            bank: self.bank,
        }
    }

    /// Move every time by `by * times`, add `bank * times` stall cycles and `folds` folds.
    fn advance(&mut self, (by, bank): (u64, u64), times: u64, folds: u64) {
        let d = by * times;
        let p = self.s.prev.as_mut().expect("stepped");
        p.load_start += d;
        p.stream_start += d;
        p.last_vector += d;
        match self.s.df {
            Dataflow::Os => p.last_copy += d,
            _ => p.last_row += d,
        }
        self.max_end += d;
        self.max_end_cf += d;
        self.stationary_read += d;
        self.stream_read += d;
        self.bank += bank * times;
        self.s.index += folds;
    }

    /// `count` folds of shape `a`; once one moves the whole state by the same amount, every
    /// further one does (the rules are the same at every time), so the rest are skipped.
    fn repeat(&mut self, a: Shape, r: Rates, count: u64) {
        let mut left = count;
        while left > 0 {
            let before = self.snapshot();
            self.step(a, r);
            left -= 1;
            if left > 0 {
                if let Some(d) = self.snapshot().shift_from(&before) {
                    self.advance(d, left, left);
                    left = 0;
                }
            }
        }
    }
}

/// Base of the relative times in [`Rest`]: far from 0 in both directions.
const BASE: u64 = 1 << 40;

/// The folds after a tile's first, per tile shape and the way the first one started: they read
/// operands already in the buffers, so they depend on nothing else.
#[derive(Debug, Default)]
pub struct FoldCache {
    map: HashMap<[u64; 5], Option<Rest>, BuildHasherDefault<Mix>>,
    /// The last lookup (consecutive tiles mostly have the same shape).
    last: Option<([u64; 5], Option<Rest>)>,

    /// The array (but its dataflow, which is in the key) and the scratchpads the entries were
    /// computed for (their banks set the rates).
    owner: Option<(ArrayParams, [super::BufferConfig; 2])>,

    /// Buffers an evaluation reuses from the previous one (no allocation per candidate).
    inputs: InputMemo,
    scratch: Vec<Transfer>,
    memo: memo::PassMemo,
}

/// A convolution's ifmap tiles' DRAM transfers (input windows), computed once per tile and
/// kept across evaluations: candidates with the same `M_t` and `K_t` read the same ifmap
/// tiles (an ifmap tile is also read again for every pass over it that does not find it in
/// its buffer half).
#[derive(Debug, Default)]
struct InputMemo {
    /// Per layer and (`M_t`, `K_t`): the tiles' transfers.
    blocks: Vec<InputBlock>,
    index: HashMap<InputKey, usize, BuildHasherDefault<Mix>>,
    /// The block of the layer being run.
    cur: usize,
    /// Transfers held in all blocks (past `INPUT_MEMO_LIMIT` they are dropped), and how many
    /// times they were.
    held: usize,
    generation: u64,
}

/// What an ifmap tile's transfers depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct InputKey {
    gemm: Gemm,
    conv: Option<ConvGeometry>,
    base: u64,
    layout: ActivationLayout,
    word: u64,
    m: u64,
    k: u64,
}

#[derive(Debug, Default)]
struct InputBlock {
    /// Per ifmap tile (group, M index, K index): where its transfers start in `transfers`
    /// and how many there are (`u32::MAX` starts: not computed yet).
    slots: Vec<(u32, u32)>,
    transfers: Vec<Transfer>,
    /// Tiles along M and K.
    counts: (u64, u64),
}

/// Transfers and tile slots the ifmap memo holds at most over all its blocks (64 and 8 bytes
/// each): past it, it starts afresh.
const INPUT_MEMO_LIMIT: usize = 1 << 18;

impl InputMemo {
    fn reset(&mut self, addrs: &Addresses, gemm: &Gemm, tiling: &Tiling, word: u64) {
        if addrs.conv.is_none() {
            // A GEMM's ifmap tile is one block, computed when asked.
            return;
        }
        let key = InputKey {
            gemm: *gemm,
            conv: addrs.conv,
            base: addrs.ifmap,
            layout: addrs.layout,
            word,
            m: tiling.m,
            k: tiling.k,
        };
        if let Some(&at) = self.index.get(&key) {
            self.cur = at;
            return;
        }
        if self.held > INPUT_MEMO_LIMIT {
            self.blocks.clear();
            self.index.clear();
            self.held = 0;
            self.generation += 1;
        }
        let (cm, ck) = (gemm.m.div_ceil(tiling.m), gemm.k.div_ceil(tiling.k));
        self.held += (gemm.groups * cm * ck) as usize;
        self.cur = self.blocks.len();
        self.index.insert(key, self.cur);
        self.blocks.push(InputBlock {
            slots: vec![(u32::MAX, 0); (gemm.groups * cm * ck) as usize],
            transfers: Vec::new(),
            counts: (cm, ck),
        });
    }

    /// Which block is in use: (generation, index).
    fn block(&self) -> (u64, usize) {
        (self.generation, self.cur)
    }

    /// The transfers of tile `t`'s ifmap tile (`word` and the layer as given to `reset`).
    #[inline(always)]
    fn get(&mut self, addrs: &Addresses, g: &Gemm, t: &Tile, word: u64) -> &[Transfer] {
        let block = &self.blocks[self.cur];
        let i = ((t.group * block.counts.0 + t.im) * block.counts.1 + t.ik) as usize;
        let (start, len) = block.slots[i];
        if start == u32::MAX {
            return self.fill(addrs, g, t, word, i);
        }
        &self.blocks[self.cur].transfers[start as usize..(start + len) as usize]
    }

    /// [`Self::get`] for a tile not computed yet (slot `i`): computed and kept.
    #[inline(never)]
    fn fill(&mut self, addrs: &Addresses, g: &Gemm, t: &Tile, word: u64, i: usize) -> &[Transfer] {
        let block = &mut self.blocks[self.cur];
        let start = block.transfers.len();
        addrs.input_transfers_into(g, t, Operand::Ifmap, word, &mut block.transfers);
        let len = block.transfers.len() - start;
        if start == 0 {
            // The block's first tile: room for as many transfers in every tile at once (the
            // tiles' are alike in number), not grown and copied over and over as they come.
            block.transfers.reserve(len * (block.slots.len() - 1));
        }
        self.held += len;
        block.slots[i] = (start as u32, len as u32);
        &block.transfers[start..]
    }
}

/// The operands of the input streams, by stream index (`Sim::ifmap`, `Sim::filter`).
const INPUTS: [Operand; 2] = [Operand::Ifmap, Operand::Filter];

/// A multiplicative hasher for the cache's small integer keys.
#[derive(Default)]
struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Eight bytes at a time (a key of `u64`s hashed as a slice is written as its bytes).
        for c in bytes.chunks(8) {
            let mut x = [0u8; 8];
            x[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(x));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = Mix::mix(self.0, x);
    }
}

impl Mix {
    /// Hash `h` with `x` mixed in.
    #[inline(always)]
    fn mix(h: u64, x: u64) -> u64 {
        (h.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
    }
}

/// Entries a cache keeps before it stops adding (each is a few dozen bytes).
const FOLD_CACHE_LIMIT: usize = 1 << 12;

impl FoldCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// What the pass memo did over the evaluations this cache served.
    pub fn memo_counts(&self) -> memo::MemoCounts {
        self.memo.counts
    }

    /// Turn the pass memo off (every tile stepped) or on (the default): the results are the
    /// same either way; for tests and comparisons.
    pub fn set_pass_memo(&mut self, on: bool) {
        self.memo.off = !on;
    }

    /// How many segment contents the pass memo keeps before it starts afresh (0: its
    /// default); tests make it small to start afresh often.
    #[doc(hidden)]
    pub fn set_pass_memo_limit(&mut self, contents: usize) {
        self.memo.limit = contents;
    }

    /// The rest of a tile whose first fold left `stepper` as it is.
    /// Forget entries computed for another array or other scratchpads.
    fn use_for(&mut self, array: &ArrayConfig, mem: &MemoryConfig) {
        let owner = (
            ArrayParams {
                dataflow: Dataflow::Ws,
                ..array.params()
            },
            [mem.ifmap, mem.filter],
        );
        if self.owner != Some(owner) {
            self.map.clear();
            self.last = None;
            self.owner = Some(owner);
        }
    }

    #[inline(always)]
    fn rest(
        &mut self,
        stepper: &Stepper,
        plan: &FoldPlan,
        tile: (u64, u64, u64),
        mem: &MemoryConfig,
    ) -> Option<&Rest> {
        // (By reference: the first fold just stored it field by field, and a copy would load
        // it in wider pieces than were stored, which waits for the stores to complete.)
        let pr = stepper.prev.as_ref()?;
        if plan.at_most_one() {
            return None;
        }
        // How long before its stream start the first fold began loading its stationary rows
        // (0 for OS): the rest depends on it only where the second fold's load has no bank
        // bound (a double-buffered stationary operand at the layer's first tile). Any bank
        // bound lies at or after the first fold's stream start, after its last row was loaded
        // (`Stepper::step`: the stream starts after the load's last row), so it wins.
        let gap = if stepper.stationary_double_buffer && stepper.index < 2 {
            pr.stream_start.wrapping_sub(pr.load_start)
        } else {
            0
        };
        let key = [
            tile.0,
            tile.1,
            tile.2,
            gap,
            (stepper.index >= 2) as u64 | (plan.df as u64) << 1,
        ];
        // (Word by word, without branches: an array comparison calls `memcmp`.)
        let same = |k: &[u64; 5]| k.iter().zip(&key).fold(0, |d, (a, b)| d | (a ^ b)) == 0;
        if !matches!(&self.last, Some((k, _)) if same(k)) {
            self.rest_missed(stepper, *pr, plan, key, mem);
        }
        self.last.as_ref().and_then(|(_, r)| r.as_ref())
    }

    /// [`Self::rest`] when the last lookup was another: from the map, or stepped; made the
    /// last lookup.
    #[inline(never)]
    fn rest_missed(
        &mut self,
        stepper: &Stepper,
        pr: Prev,
        plan: &FoldPlan,
        key: [u64; 5],
        mem: &MemoryConfig,
    ) {
        let n = plan.count();
        if let Some(r) = self.map.get(&key) {
            self.last = Some((key, *r));
            return;
        }
        // Step the rest from the first fold's state moved to BASE.
        let mut s = *stepper;
        s.prev = Some(pr.rebase(pr.stream_start, BASE));
        let mut run = Run {
            s,
            max_end: 0,
            max_end_cf: 0,
            stationary_read: 0,
            stream_read: 0,
            bank: 0,
        };
        let (nx, ny) = plan.loops();
        let shape = |xi: u64, yi: u64| plan.fold(xi * ny + yi);
        let rate = |a: Shape| rates(plan.df, mem, a);
        // One outer index's folds (all of them but the tile's first for xi = 0).
        let column = |run: &mut Run, xi: u64| {
            let first = if xi == 0 { 1 } else { 0 };
            if ny >= 2 {
                let full = shape(xi, 0);
                run.repeat(full, rate(full), ny - 1 - first);
                let last = shape(xi, ny - 1);
                run.repeat(last, rate(last), 1);
            } else if first == 0 {
                let only = shape(xi, 0);
                run.repeat(only, rate(only), 1);
            }
        };
        column(&mut run, 0);
        // Columns 1 ..= nx-2 are alike: once one moves the whole state by the same amount,
        // every one does.
        let mut xi = 1;
        while xi + 1 < nx {
            let before = run.snapshot();
            column(&mut run, xi);
            xi += 1;
            let left = (nx - 1) - xi;
            if left > 0 {
                if let Some(d) = run.snapshot().shift_from(&before) {
                    run.advance(d, left, left * ny);
                    xi += left;
                }
            }
        }
        if nx >= 2 {
            column(&mut run, nx - 1);
        }
        let r = Rest {
            prev: pr,
            folds: n - 1,
            max_end: run.max_end,
            max_end_conflict_free: run.max_end_cf,
            last_stationary_read: run.stationary_read,
            last_stream_read: run.stream_read,
            stall_bank: run.bank,
        };
        let s = run.s;
        let out = Some(Rest {
            prev: s.prev.expect("stepped"),
            ..r
        });
        if self.map.len() >= FOLD_CACHE_LIMIT {
            // Most entries serve the evaluation that made them; start afresh.
            self.map.clear();
        }
        self.map.insert(key, out);
        self.last = Some((key, out));
    }
}

// ---------------------------------------------------------------------------------------------
// The memory system, tile by tile.

/// One memory tile of a layer: its indices along M, K, N (within the layer), extents and
/// origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tile {
    group: u64,
    im: u64,
    ik: u64,
    in_: u64,
    m0: u64,
    m: u64,
    k0: u64,
    k: u64,
    n0: u64,
    n: u64,
}

impl Tile {
    fn key(&self, op: Operand) -> (u64, u64, u64) {
        match op {
            Operand::Ifmap => (self.group, self.im, self.ik),
            Operand::Filter => (self.group, self.ik, self.in_),
            Operand::Ofmap => (self.group, self.im, self.in_),
        }
    }
}

/// A layer's tiles in loop order, by index.
#[derive(Debug, Clone, Copy)]
struct TileOrder {
    gemm: Gemm,
    tiling: Tiling,
    dims: [Dim; 3],
    counts: [u64; 3],
    total: u64,
    /// Per loop (outermost first): the GEMM's extent along its dimension, the tile's, and the
    /// tiles along it.
    ext: [(u64, u64, u64); 3],
}

impl Tile {
    /// The index along `d`.
    #[inline(always)]
    fn index(&self, d: Dim) -> u64 {
        match d {
            Dim::M => self.im,
            Dim::K => self.ik,
            Dim::N => self.in_,
        }
    }

    /// The index, origin and extent along `d`.
    #[inline(always)]
    fn along(&mut self, d: Dim) -> (&mut u64, &mut u64, &mut u64) {
        match d {
            Dim::M => (&mut self.im, &mut self.m0, &mut self.m),
            Dim::K => (&mut self.ik, &mut self.k0, &mut self.k),
            Dim::N => (&mut self.in_, &mut self.n0, &mut self.n),
        }
    }
}

impl TileOrder {
    fn new(gemm: Gemm, tiling: Tiling) -> Self {
        let counts = tiling.counts(&gemm);
        let dims = tiling.order.dims();
        let ext = |j: usize| {
            let (full, step) = match dims[j] {
                Dim::M => (gemm.m, tiling.m),
                Dim::K => (gemm.k, tiling.k),
                Dim::N => (gemm.n, tiling.n),
            };
            (full, step, counts[j])
        };
        TileOrder {
            gemm,
            tiling,
            dims,
            counts,
            total: gemm.groups * counts.iter().product::<u64>(),
            ext: [ext(0), ext(1), ext(2)],
        }
    }

    /// The tile after `t` (`tile(i + 1)` for `t = tile(i)`, `i + 1 < total`), without
    /// divisions.
    #[inline(always)]
    fn next(&self, t: &Tile) -> Tile {
        let mut t = *t;
        self.advance(&mut t);
        t
    }

    /// `t` becomes the tile after it ([`Self::next`] in place).
    #[inline(always)]
    fn advance(&self, t: &mut Tile) {
        // Innermost loop first; a loop that wraps carries into the next one out.
        for j in (0..3).rev() {
            let (full, step, count) = self.ext[j];
            let (idx, o, l) = t.along(self.dims[j]);
            if *idx + 1 < count {
                *idx += 1;
                *o += step;
                *l = step.min(full - *o);
                return;
            }
            *idx = 0;
            *o = 0;
            *l = step.min(full);
        }
        t.group += 1;
    }

    fn tile(&self, i: u64) -> Tile {
        let c = self.counts;
        let i2 = i % c[2];
        let i1 = (i / c[2]) % c[1];
        let i0 = (i / (c[2] * c[1])) % c[0];
        let group = i / (c[2] * c[1] * c[0]);
        let mut t = Tile {
            group,
            im: 0,
            ik: 0,
            in_: 0,
            m0: 0,
            m: 0,
            k0: 0,
            k: 0,
            n0: 0,
            n: 0,
        };
        for (d, idx) in self.dims.iter().zip([i0, i1, i2]) {
            let (full, step) = match d {
                Dim::M => (self.gemm.m, self.tiling.m),
                Dim::K => (self.gemm.k, self.tiling.k),
                Dim::N => (self.gemm.n, self.tiling.n),
            };
            let (o, l) = (idx * step, step.min(full - idx * step));
            match d {
                Dim::M => (t.im, t.m0, t.m) = (idx, o, l),
                Dim::K => (t.ik, t.k0, t.k) = (idx, o, l),
                Dim::N => (t.in_, t.n0, t.n) = (idx, o, l),
            }
        }
        t
    }
}

/// Where a layer's tensors live in DRAM (`system.rs`'s `Addresses`).
#[derive(Debug, Clone, Copy)]
struct Addresses {
    ifmap: u64,
    filter: u64,
    ofmap: u64,
    psum: u64,
    conv: Option<ConvGeometry>,
    layout: ActivationLayout,
}

impl Addresses {
    fn new(g: &Gemm, mem: &MemoryConfig, conv: Option<ConvGeometry>) -> Self {
        let out_bytes = g.groups * g.m * g.n * mem.output_bytes as u64;
        Addresses {
            ifmap: mem.layout.ifmap_base,
            filter: mem.layout.filter_base,
            ofmap: mem.layout.ofmap_base,
            psum: mem.layout.ofmap_base + out_bytes.div_ceil(4096) * 4096,
            conv,
            layout: mem.layout.activations,
        }
    }

    /// [`Self::input_transfers`] appended to `out`.
    fn input_transfers_into(
        &self,
        g: &Gemm,
        t: &Tile,
        op: Operand,
        word: u64,
        out: &mut Vec<Transfer>,
    ) {
        match (op, &self.conv) {
            (Operand::Ifmap, Some(c)) => c.ifmap_blocks_into(
                self.layout,
                self.ifmap,
                g.groups,
                t.group,
                (t.m0, t.m),
                (t.k0, t.k),
                word,
                out,
            ),
            _ => out.push(self.block(g, t, op, word, false)),
        }
    }

    fn output_transfers(&self, g: &Gemm, t: &Tile, word: u64, out: &mut Vec<Transfer>) {
        out.clear();
        match &self.conv {
            Some(c) => c.ofmap_blocks_into(
                self.layout,
                self.ofmap,
                g.groups,
                g.n,
                t.group,
                (t.m0, t.m),
                (t.n0, t.n),
                word,
                out,
            ),
            None => out.push(self.block(g, t, Operand::Ofmap, word, false)),
        }
    }

    fn block(&self, g: &Gemm, t: &Tile, op: Operand, word: u64, psum: bool) -> Transfer {
        let (base, ld, r0, c0, rows, cols, plane) = match op {
            Operand::Ifmap => (self.ifmap, g.k, t.m0, t.k0, t.m, t.k, g.m * g.k),
            Operand::Filter => (self.filter, g.n, t.k0, t.n0, t.k, t.n, g.k * g.n),
            Operand::Ofmap => (
                if psum { self.psum } else { self.ofmap },
                g.n,
                t.m0,
                t.n0,
                t.m,
                t.n,
                g.m * g.n,
            ),
        };
        Transfer::block(
            base + (t.group * plane + r0 * ld + c0) * word,
            rows,
            cols * word,
            ld * word,
        )
    }
}

/// The last few items of a sequence, by absolute index (older ones are never needed again).
#[derive(Debug)]
struct Ring<T> {
    items: [Option<T>; 4],
    len: usize,
}

impl<T> Ring<T> {
    fn new() -> Self {
        Ring {
            items: [None, None, None, None],
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, x: T) {
        self.items[self.len % 4] = Some(x);
        self.len += 1;
    }
}

impl<T> std::ops::Index<usize> for Ring<T> {
    type Output = T;
    fn index(&self, j: usize) -> &T {
        debug_assert!(
            j < self.len && j + 4 >= self.len,
            "ring item {j} of {}",
            self.len
        );
        self.items[j % 4].as_ref().expect("a pushed item")
    }
}

impl<T> std::ops::IndexMut<usize> for Ring<T> {
    fn index_mut(&mut self, j: usize) -> &mut T {
        debug_assert!(
            j < self.len && j + 4 >= self.len,
            "ring item {j} of {}",
            self.len
        );
        self.items[j % 4].as_mut().expect("a pushed item")
    }
}

/// One load of an input operand into a buffer half.
#[derive(Debug, Clone)]
struct Load<I> {
    ids: Vec<I>,
    ready: Option<u64>,
    last_read: u64,
}

/// Loads of one input operand (`system.rs`'s `InputStream`), across the layers of a network.
#[derive(Debug)]
struct InputStream<I> {
    op: Operand,
    double: bool,
    word_bytes: u64,
    loads: Ring<Load<I>>,
    /// Key of the last tile asked for, with the layer it belongs to.
    last_key: Option<(usize, (u64, u64, u64))>,
    /// (layer, tile) asked for last, and the load serving it; and the one before.
    asked: Option<((usize, u64), usize)>,
    before: Option<((usize, u64), usize)>,
}

impl<I: Copy> InputStream<I> {
    fn new(op: Operand, double: bool, word_bytes: u32) -> Self {
        InputStream {
            op,
            double,
            word_bytes: word_bytes as u64,
            loads: Ring::new(),
            last_key: None,
            asked: None,
            before: None,
        }
    }

    fn asked_for(&self, at: (usize, u64)) -> bool {
        self.asked.is_some_and(|(a, _)| a == at)
    }

    #[inline(always)]
    fn load_of(&self, at: (usize, u64)) -> usize {
        // (`asked` and `before` are never the same tile. A double-buffered stream has mostly
        // been asked for the next tile already: look at the one before first.)
        let hit = |x: &Option<((usize, u64), usize)>| match x {
            Some((a, j)) if *a == at => Some(*j),
            _ => None,
        };
        let found = if self.double {
            hit(&self.before).or_else(|| hit(&self.asked))
        } else {
            hit(&self.asked).or_else(|| hit(&self.before))
        };
        match found {
            Some(j) => j,
            None => unreachable!("tile {at:?} was never asked for"),
        }
    }

    fn note(&mut self, at: (usize, u64), j: usize) {
        self.before = self.asked;
        self.asked = Some((at, j));
    }

    /// The start rule of a new load: its half is free once the load that last used it has been
    /// read for the last time.
    fn next_start(&self) -> u64 {
        let j = self.loads.len();
        let reuse_distance = if self.double { 2 } else { 1 };
        if j >= reuse_distance {
            self.loads[j - reuse_distance].last_read + 1
        } else {
            0
        }
    }

    /// The cycle load `j` (a [`Self::load_of`]) is usable from.
    #[inline(always)]
    fn ready<D: Dma<Id = I>>(&mut self, j: usize, dma: &mut D) -> u64 {
        let l = &mut self.loads[j];
        match l.ready {
            Some(r) => r,
            None => {
                let r = l
                    .ids
                    .iter()
                    .map(|&id| dma.complete(id) + 1)
                    .max()
                    .unwrap_or(0);
                l.ready = Some(r);
                r
            }
        }
    }

    /// Load `j` is read until `cycle`.
    #[inline(always)]
    fn read_until(&mut self, j: usize, cycle: u64) {
        let l = &mut self.loads[j];
        l.last_read = l.last_read.max(cycle);
    }
}

/// A visit's write-back: transfers to resolve, or done at a known cycle (kept on chip).
#[derive(Debug, Clone)]
enum Write<I> {
    Pending,
    Ids(Vec<I>),
    Done(u64),
}

/// The output (ofmap) buffer's visits (`system.rs`'s `OutputStream`), across layers.
#[derive(Debug)]
struct OutputStream<I> {
    reuse_distance: usize,
    /// The last visits' write-backs.
    writes: Ring<Write<I>>,
    /// Per layer: the latest known write-back completion, and (lazy DRAM) the transfers to ask
    /// about, in issue order.
    done: Vec<u64>,
    ids: Vec<(usize, I)>,
    ready: u64,
    end: u64,
    words: u64,
    readback: bool,
}

/// The layer-level options of one layer in a network run.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LayerCtx {
    input_on_chip: bool,
    keep_output: bool,
    write_through: bool,
}

/// A layer prepared to run.
#[derive(Debug, Clone)]
struct Prepared {
    array: ArrayConfig,
    order: TileOrder,
    addrs: Addresses,
    ctx: LayerCtx,
}

/// A stall of the array: `cycles` cycles ending at `until`, charged to `cause`.
#[derive(Debug, Clone, Copy)]
struct Stall {
    until: u64,
    cycles: u64,
    cause: Cause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Ifmap,
    Filter,
    Ofmap,
    Bank,
}

/// Per-layer bookkeeping of a run.
#[derive(Debug, Clone, Default)]
struct LayerTotals {
    first_start: Option<u64>,
    st: MemStats,
    array: GemmStats,
    last_end: u64,
    last_end_conflict_free: u64,
    first_busy: u64,
}

/// What a traced run records (docs/trace.md, "Scheduled runs"): the same tracks as
/// `system.rs`'s `run_tiles`, in the run's time.
struct Tracer<'t> {
    trace: &'t mut Trace,
    array: Option<ArrayTracks>,
    /// Per input stream (ifmap, filter): loads recorded so far, and what each of the last
    /// loads needs for its slice (first byte when known at issue, bytes, tile; `None`: holds
    /// no DRAM data).
    loads_traced: [usize; 2],
    loads: [[Option<LoadTrace>; 4]; 2],
    /// Per input stream: loads whose half's release is recorded, and each load's words.
    released: [usize; 2],
    words: [[u64; 4]; 2],
    /// Per output visit (the last few): its write (first byte when known at issue, bytes,
    /// final outputs or partial sums, tile, whether it went to DRAM: not when kept on chip).
    visits: [Option<VisitTrace>; 4],
    visits_traced: usize,
}

/// A load as a trace needs it: its first byte when known at issue, bytes, tile.
type LoadTrace = (Option<u64>, u64, u64);

/// A visit's write as a trace needs it: its first byte when known at issue, bytes, final
/// outputs (or partial sums), tile, whether it went to DRAM (not when kept on chip).
type VisitTrace = (Option<u64>, u64, bool, u64, bool);

/// The fold at index `i` of a tile's plan, with its GEMM origin.
fn fold_of(plan: &FoldPlan, a: &ArrayConfig, t: &Tile, i: u64) -> Fold {
    let (r, c) = (a.rows() as u64, a.cols() as u64);
    let (_, ny) = plan.loops();
    let (xi, yi) = (i / ny, i % ny);
    let sh = plan.fold(i);
    let mut f = Fold {
        group: t.group,
        m0: t.m0,
        m: t.m,
        k0: t.k0,
        k: t.k,
        n0: t.n0,
        n: t.n,
    };
    match plan.df {
        Dataflow::Ws => {
            (f.k0, f.k, f.n0, f.n) = (t.k0 + yi * r, sh.rows, t.n0 + xi * c, sh.cols);
        }
        Dataflow::Is => {
            (f.k0, f.k, f.m0, f.m) = (t.k0 + yi * r, sh.rows, t.m0 + xi * c, sh.cols);
        }
        Dataflow::Os => {
            (f.m0, f.m, f.n0, f.n) = (t.m0 + xi * r, sh.rows, t.n0 + yi * c, sh.cols);
        }
    }
    f
}

#[inline(always)]
fn issue_on<D: Dma, const T: bool>(
    dma: &mut D,
    tr: &mut Option<Tracer<'_>>,
    t: &Transfer,
) -> (D::Id, Option<u64>) {
    if T {
        if let Some(tr) = tr.as_mut() {
            return dma.issue_traced(t, tr.trace);
        }
    }
    (dma.issue(t), None)
}

/// The memory system and the array, run tile by tile over one or more layers; `T`: recording
/// a trace (`tr`), else every trace hook compiles away.
struct Sim<'m, 'c, D: Dma, const T: bool = false> {
    mem: &'m MemoryConfig,
    dma: D,
    stepper: Stepper,
    stepper_array: Option<ArrayConfig>,
    ifmap: InputStream<D::Id>,
    filter: InputStream<D::Id>,
    out: OutputStream<D::Id>,
    cache: &'c mut FoldCache,
    /// Record stall intervals (network runs split them over the layers).
    record: Option<Vec<Stall>>,
    tiles_done: u64,
    cancel: CancelHook<'c>,
    /// Cycle from which a layer's resident input is complete (its producer's last result).
    resident_ready: u64,
    /// A layer reading its input from DRAM waits for its producer's writes: the producer
    /// (resolved on the first load), then the cycle.
    dram_input_floor: Option<usize>,
    input_floor: u64,
    /// Per-layer totals.
    totals: Vec<LayerTotals>,
    tr: Option<Tracer<'c>>,
    /// Take repeated passes from the pass memo (`memo.rs`; a single layer, untraced).
    memo: bool,
}

impl<'m, 'c, D: Dma, const T: bool> Sim<'m, 'c, D, T> {
    fn new(
        mem: &'m MemoryConfig,
        dma: D,
        array: &ArrayConfig,
        cache: &'c mut FoldCache,
        cancel: CancelHook<'c>,
    ) -> Self {
        Sim {
            mem,
            dma,
            stepper: Stepper::new(array),
            stepper_array: Some(*array),
            ifmap: InputStream::new(
                Operand::Ifmap,
                mem.ifmap.double_buffered,
                mem.ifmap.word_bytes,
            ),
            filter: InputStream::new(
                Operand::Filter,
                mem.filter.double_buffered,
                mem.filter.word_bytes,
            ),
            out: OutputStream {
                reuse_distance: if mem.ofmap.double_buffered { 2 } else { 1 },
                writes: Ring::new(),
                done: Vec::new(),
                ids: Vec::new(),
                ready: 0,
                end: 0,
                words: 0,
                readback: false,
            },
            cache,
            record: None,
            tiles_done: 0,
            cancel,
            resident_ready: 0,
            dram_input_floor: None,
            input_floor: 0,
            totals: Vec::new(),
            tr: None,
            memo: false,
        }
    }

    /// Issue `t` on the DMA engine; with a trace, also the cycle its first byte moves when
    /// the model knows it at issue.
    #[inline(always)]
    fn issue(&mut self, t: &Transfer) -> (D::Id, Option<u64>) {
        issue_on::<D, T>(&mut self.dma, &mut self.tr, t)
    }

    /// Traces: record the loads of stream `which` up to load `upto` (each complete): a DMA
    /// slice from its first byte moved to its data being usable.
    fn trace_loads(&mut self, which: usize, upto: usize) {
        let Some(tr) = self.tr.as_mut() else { return };
        let stream = if which == 0 {
            &mut self.ifmap
        } else {
            &mut self.filter
        };
        let halves = if stream.double { 2 } else { 1 };
        let name = tr.trace.name(&format!("{} load", stream.op.name()));
        for j in tr.loads_traced[which]..upto {
            let Some((first, bytes, tile)) = tr.loads[which][j % 4] else {
                continue;
            };
            let bytes_held = tr.words[which][j % 4] * stream.word_bytes;
            let l = &stream.loads[j];
            let Some(ready) = l.ready else { continue };
            let first = match first {
                Some(f) => f,
                None => match l.ids.iter().map(|&id| self.dma.started(id)).min() {
                    Some(f) => f,
                    None => continue,
                },
            };
            if bytes == 0 {
                continue;
            }
            let track = dma_track(tr.trace, stream.op, halves, j);
            let args = [bytes as i64, tile as i64, j as i64, 0];
            tr.trace
                .slice(track, name, first, ready.saturating_sub(first), args);
            let held = held_track(tr.trace, stream.op, halves, j);
            tr.trace.counter(held, first, bytes_held as f64);
        }
        tr.loads_traced[which] = tr.loads_traced[which].max(upto);
    }

    /// Traces: record the release of loads up to `upto` whose half a later load took (or the
    /// run ended): the half's occupancy falls to 0 the cycle after the array last read them.
    fn trace_releases(&mut self, which: usize, upto: usize) {
        let Some(tr) = self.tr.as_mut() else { return };
        let stream = if which == 0 {
            &self.ifmap
        } else {
            &self.filter
        };
        let halves = if stream.double { 2 } else { 1 };
        let upto = upto.min(tr.loads_traced[which]);
        for j in tr.released[which]..upto {
            if let Some((_, bytes, _)) = tr.loads[which][j % 4] {
                if bytes > 0 {
                    let held = held_track(tr.trace, stream.op, halves, j);
                    tr.trace.counter(held, stream.loads[j].last_read + 1, 0.0);
                }
            }
        }
        tr.released[which] = tr.released[which].max(upto);
    }

    /// Traces: record the write-backs of visits up to `upto` (each resolved).
    fn trace_writes(&mut self, upto: usize) {
        let Some(tr) = self.tr.as_mut() else { return };
        let halves = self.out.reuse_distance;
        let (write, spill) = (
            tr.trace.name("ofmap write-back"),
            tr.trace.name("psum spill"),
        );
        for v in tr.visits_traced..upto {
            let Some((first, bytes, complete, tile, wrote)) = tr.visits[v % 4] else {
                continue;
            };
            let held = held_track(tr.trace, Operand::Ofmap, halves, v);
            if !wrote {
                // kept on chip: the half is free the cycle after its last result
                if let Write::Done(t) = &self.out.writes[v] {
                    tr.trace.counter(held, t + 1, 0.0);
                }
                continue;
            }
            let (first, done) = match &self.out.writes[v] {
                Write::Ids(ids) if !ids.is_empty() => {
                    let done = ids.iter().map(|&id| self.dma.complete(id) + 1).max();
                    let first = ids.iter().map(|&id| self.dma.started(id)).min();
                    (first.unwrap_or(0), done.unwrap_or(0))
                }
                Write::Done(t) => match first {
                    Some(f) => (f, t + 1),
                    None => continue,
                },
                _ => continue,
            };
            let track = dma_track(tr.trace, Operand::Ofmap, halves, v);
            let args = [bytes as i64, tile as i64, v as i64, 0];
            let name = if complete { write } else { spill };
            tr.trace
                .slice(track, name, first, done.saturating_sub(first), args);
            tr.trace.counter(held, done, 0.0);
        }
        tr.visits_traced = tr.visits_traced.max(upto);
    }

    /// Traces: fold `i` of the tile, stepped (`step`), and its bank stall.
    fn trace_fold(&mut self, plan: &FoldPlan, array: &ArrayConfig, t: &Tile, i: u64, step: &Step) {
        let Some(tr) = self.tr.as_mut() else { return };
        let Some(tk) = &tr.array else { return };
        let f = fold_of(plan, array, t, i);
        let p = self.stepper.prev.expect("stepped");
        let os = plan.df == Dataflow::Os;
        let timing = FoldTiming {
            start: if os { step.stream_start } else { p.load_start },
            stream_start: step.stream_start,
            end: step.end,
        };
        let last_load = (!os).then_some(step.last_stationary_read);
        tk.fold(tr.trace, &f, &timing, step.last_stream_read, last_load);
        tk.stall(
            tr.trace,
            "bank",
            step.conflict_free_stream_start,
            step.array_stream_start,
        );
    }

    /// Traces: the array waited from `from` to `to` for `cause`.
    fn trace_stall(&mut self, cause: &str, from: u64, to: u64) {
        if let Some(tr) = self.tr.as_mut() {
            if let Some(tk) = &tr.array {
                tk.stall(tr.trace, cause, from, to);
            }
        }
    }

    /// Traces: the folds of a tile after its first, stepped one by one (what the fold cache
    /// replays), recorded; their latest end, conflict-free end, reads and bank stalls.
    fn rest_traced(
        &mut self,
        plan: &FoldPlan,
        array: &ArrayConfig,
        t: &Tile,
        mem: &MemoryConfig,
    ) -> Option<(u64, u64, u64, u64, u64)> {
        let n = plan.count();
        if n <= 1 {
            return None;
        }
        let mut r = (0u64, 0u64, 0u64, 0u64, 0u64);
        for i in 1..n {
            let a = plan.fold(i);
            let st = self.stepper.step(a, 0, 0, rates(plan.df, mem, a));
            r.4 += st
                .array_stream_start
                .saturating_sub(st.conflict_free_stream_start);
            r.0 = r.0.max(st.end);
            r.1 = r.1.max(st.end - st.conflict_tail);
            r.2 = r.2.max(st.last_stationary_read);
            r.3 = r.3.max(st.last_stream_read);
            self.trace_fold(plan, array, t, i, &st);
        }
        Some(r)
    }

    /// Issue the load tile `at` of `layer` needs from the stream `which` (0 ifmap, 1 filter).
    /// The common cases (already asked for, or the same tile as the last load) inline; a new
    /// load goes to [`Self::load_input`].
    #[inline(always)]
    fn issue_input(&mut self, which: usize, layer: &Prepared, at: (usize, u64), t: &Tile) {
        let stream = if which == 0 {
            &mut self.ifmap
        } else {
            &mut self.filter
        };
        if stream.asked_for(at) {
            return;
        }
        // (`which` is a constant where this inlines: so is the operand)
        let op = INPUTS[which];
        debug_assert_eq!(op, stream.op);
        let key = (at.0, t.key(op));
        if stream.last_key == Some(key) {
            let j = stream.loads.len() - 1;
            stream.note(at, j);
            return;
        }
        self.load_input(which, layer, at, t, key);
    }

    /// Add to layer `li`'s array statistics those of `tiles` tiles of one shape (`stats` each),
    /// not added yet; none are left.
    #[inline(always)]
    fn add_tiles(&mut self, li: usize, stats: &GemmStats, tiles: &mut u64) {
        if *tiles > 0 {
            self.totals[li].array.add(&stats.times(*tiles));
            *tiles = 0;
        }
    }

    /// A new load of stream `which` for tile `at` (whose key is `key`), issued. (Inlined where
    /// `issue_input` is: `which` is then a constant, and the call's register saves go.)
    #[inline(always)]
    fn load_input(
        &mut self,
        which: usize,
        layer: &Prepared,
        at: (usize, u64),
        t: &Tile,
        key: (usize, (u64, u64, u64)),
    ) {
        let li = at.0;
        let ifmap = which == 0;
        let stream = if ifmap {
            &mut self.ifmap
        } else {
            &mut self.filter
        };
        let mut start = stream.next_start();
        if which == 0 {
            if let Some(producer) = self.dram_input_floor.take() {
                // The producer's outputs must be in DRAM before they are read back.
                self.input_floor = self.writes_done(producer) + 1;
            }
            start = start.max(self.input_floor);
        }
        let stream = if which == 0 {
            &mut self.ifmap
        } else {
            &mut self.filter
        };
        let word = stream.word_bytes;
        let g = &layer.order.gemm;
        let one;
        let transfers: &[Transfer] = if ifmap && layer.addrs.conv.is_some() {
            self.cache.inputs.get(&layer.addrs, g, t, word)
        } else {
            one = layer.addrs.block(g, t, INPUTS[which], word, false);
            std::slice::from_ref(&one)
        };
        let mut ids = Vec::with_capacity(if D::EAGER { 0 } else { transfers.len() });
        let mut bytes = 0;
        let mut ready = 0;
        let mut first: Option<u64> = None;
        for tr in transfers {
            bytes += tr.bytes();
            let (id, f) = if T && self.tr.is_some() {
                issue_on::<D, T>(&mut self.dma, &mut self.tr, &Transfer { start, ..*tr })
            } else {
                (self.dma.issue_at(tr, start), None)
            };
            if T {
                first = match (first, f) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            if D::EAGER {
                ready = ready.max(self.dma.complete(id) + 1);
            } else {
                ids.push(id);
            }
        }
        let j = stream.loads.len();
        stream.loads.push(Load {
            ids,
            ready: if D::EAGER { Some(ready) } else { None },
            last_read: 0,
        });
        stream.last_key = Some(key);
        stream.note(at, j);
        let words = if ifmap { t.m * t.k } else { t.k * t.n };
        if T && self.tr.is_some() {
            if let Some(tr) = self.tr.as_mut() {
                tr.loads[which][j % 4] = Some((first, bytes, at.1));
                tr.words[which][j % 4] = words;
            }
        }
        let st = &mut self.totals[li].st;
        st.dram_read_bytes += bytes;
        if ifmap {
            st.dram_ifmap_bytes += bytes;
            st.ifmap_sram_writes += words;
        } else {
            st.dram_filter_bytes += bytes;
            st.filter_sram_writes += words;
        }
        if T && self.tr.is_some() {
            // The load that used this half before is released.
            let s = if which == 0 {
                &self.ifmap
            } else {
                &self.filter
            };
            let reuse = if s.double { 2 } else { 1 };
            self.trace_releases(which, s.loads.len().saturating_sub(reuse));
        }
    }

    /// The cycle every write-back of layer `li` has been accepted (0 if none).
    fn writes_done(&mut self, li: usize) -> u64 {
        let mut done = self.out.done.get(li).copied().unwrap_or(0);
        for &(l, id) in &self.out.ids {
            if l == li {
                done = done.max(self.dma.complete(id));
            }
        }
        done
    }

    /// Issue the inputs tile `at` needs whose buffering is `double` (ifmap, then filter), as
    /// `run_tiles`' `issue_inputs`; `filter_only` for the next layer's first tile.
    #[inline(always)]
    fn issue_inputs(
        &mut self,
        layer: &Prepared,
        at: (usize, u64),
        t: &Tile,
        double: bool,
        filter_only: bool,
    ) {
        if !filter_only && !layer.ctx.input_on_chip && self.ifmap.double == double {
            self.issue_input(0, layer, at, t);
        }
        if self.filter.double == double {
            self.issue_input(1, layer, at, t);
        }
    }

    fn charge(&mut self, li: usize, until: u64, cycles: u64, cause: Cause) {
        if cycles == 0 {
            return;
        }
        let st = &mut self.totals[li].st;
        match cause {
            Cause::Ifmap => st.stall_ifmap_cycles += cycles,
            Cause::Filter => st.stall_filter_cycles += cycles,
            Cause::Ofmap => st.stall_ofmap_cycles += cycles,
            Cause::Bank => st.stall_bank_cycles += cycles,
        }
        if let Some(rec) = &mut self.record {
            rec.push(Stall {
                until,
                cycles,
                cause,
            });
        }
    }

    /// Run layer `li` (`layers[li]`); `next` is the following layer, whose first filter tile is
    /// prefetched during this one's last tile.
    fn run_layer(&mut self, li: usize, layer: &Prepared, next: Option<&Prepared>) -> Result<()> {
        let mem = self.mem;
        let array = &layer.array;
        let df = array.dataflow();
        let (stationary_op, stream_op) = roles(df);
        self.cache.use_for(array, mem);
        self.cache.inputs.reset(
            &layer.addrs,
            &layer.order.gemm,
            &layer.order.tiling,
            mem.ifmap.word_bytes as u64,
        );
        let mut floor = 0;
        if self.stepper_array != Some(*array) {
            // Another dataflow: the array starts afresh once the previous layer has drained.
            self.stepper = Stepper::new(array);
            self.stepper_array = Some(*array);
            if li > 0 {
                floor = self.totals[li - 1].last_end + 1;
            }
        }
        if let (true, Some(x)) = (T, self.tr.as_mut()) {
            x.array = Some(ArrayTracks::new(x.trace, df));
        }
        let mut resident_read = 0u64;
        let order = layer.order;
        let n = order.total;
        self.totals[li].st.tiles = n;
        self.totals[li].first_busy = self.dma.busy_cycles();
        // The current tile shape's plan, `shapes[c]`, and the one before (none yet: the
        // first tile switches).
        let none = ShapePlan {
            key: (u64::MAX, u64::MAX, u64::MAX),
            plan: FoldPlan::new(array, 1, 1, 1),
            stats: GemmStats::default(),
            words: 0,
            fold0: (
                Shape {
                    rows: 1,
                    cols: 1,
                    vectors: 1,
                },
                Rates { stream: 1, load: 1 },
            ),
        };
        let mut shapes = [none, none];
        let mut c = 0;
        // Tiles of the current plan whose array statistics are not in the totals yet: they are
        // added at once, when the plan changes, at the end, and before the pass memo reads
        // the totals (at a pass's edges).
        let mut unadded = 0u64;
        let mut cur = order.tile(0);
        // The tile before (kept for the pass memo's passes, which read it).
        let mut before: Option<Tile> = None;
        // Whether the tile before ended its ofmap visit (the first starts one); after a pass
        // taken from the memo, whether the pass's last tile did.
        let mut visit_ended = true;
        // Passes of at most `chunk` tiles along the innermost loop, taken from the memo where
        // they repeat (`memo.rs`).
        let inner = order.counts[2];
        let chunk = memo::chunk(inner);
        let memo_on = !T
            && D::MEMO
            && self.memo
            && self.record.is_none()
            && next.is_none()
            && mem.accumulator
            && !layer.ctx.input_on_chip
            && !layer.ctx.keep_output
            && floor == 0
            // Passes of a few tiles, and layers of few passes, take longer to look up and
            // record than to step (timed with `search_eval search`, docs/search.md).
            && inner > 4
            && n >= 16 * chunk;
        if memo_on {
            // A convolution's ifmap segments are the same for every candidate with its
            // M_t and K_t, innermost loop and pass length.
            let ifmap = layer.addrs.conv.map(|_| {
                let (generation, block) = self.cache.inputs.block();
                let d2 = order.dims[2] as u8;
                (generation, block, d2, chunk, self.dma.memo_cost_key())
            });
            let context = memo::Context {
                array: *array,
                buffers: [mem.ifmap, mem.filter, mem.ofmap],
                output_bytes: mem.output_bytes,
                layout: mem.layout,
                gemm: order.gemm,
                conv: layer.addrs.conv,
                sizes: [order.tiling.m, order.tiling.k, order.tiling.n],
                dma: self.dma.memo_context(),
            };
            self.cache.memo.reset(context, ifmap);
        }
        // Which indices along the innermost loop begin a pass (looked up at every tile, not
        // divided).
        let pass_starts: Vec<bool> = if memo_on {
            (0..inner).map(|j| j % chunk == 0).collect()
        } else {
            Vec::new()
        };
        let mut pending: Option<memo::Pending> = None;
        let mut cursor = memo::Cursor::default();
        let mut i = 0;
        while i < n {
            // (Read from the tile, not divided out: only the memo reads it.)
            let j = if memo_on { cur.index(order.dims[2]) } else { 0 };
            debug_assert!(!memo_on || j == i % inner);
            if memo_on && i > 0 && pass_starts[j as usize] {
                self.add_tiles(li, &shapes[c].stats, &mut unadded);
                if let Some(p) = pending.take() {
                    self.memo_record(li, layer, i, p, &mut cursor);
                }
                let l = chunk.min(inner - j);
                if i + l < n {
                    let b = before.expect("a tile before");
                    let pass = (j, l, chunk);
                    let hit =
                        self.memo_pass(li, layer, i, (cur, b), pass, &mut cursor, &mut pending);
                    if let Some((next_tile, last)) = hit {
                        let done = self.tiles_done;
                        self.tiles_done += l;
                        if done >> 12 != self.tiles_done >> 12 && (self.cancel)() {
                            return Err(Error::Cancelled);
                        }
                        i += l;
                        // (The memo runs with an accumulator: a visit ends where the ofmap
                        // tile changes.)
                        visit_ended = last.key(Operand::Ofmap) != next_tile.key(Operand::Ofmap);
                        cur = next_tile;
                        before = Some(last);
                        continue;
                    }
                }
            }
            if memo_on {
                self.memo_step(li, i, &cur, &mut cursor);
            }
            let t = &cur;
            let at = (li, i);
            let mut nt = cur;
            let following = if i + 1 < n {
                order.advance(&mut nt);
                Some(&nt)
            } else {
                None
            };
            if i == 0 {
                self.issue_inputs(layer, at, t, true, false);
                self.issue_inputs(layer, at, t, false, false);
            } else {
                // The tile before asked for this one's inputs from every stream (a pass taken
                // from the memo did too: its exit state, put in the run's fields by
                // `memo_step`, says so).
                debug_assert!(layer.ctx.input_on_chip || self.ifmap.asked_for(at));
                debug_assert!(self.filter.asked_for(at));
            }
            if let Some(nt) = following {
                self.issue_inputs(layer, (li, i + 1), nt, true, false);
            } else if let Some(nx) = next {
                self.issue_inputs(nx, (li + 1, 0), &nx.order.tile(0), true, true);
            }

            debug_assert!(
                !memo_on
                    || visit_ended
                        == before.is_none_or(|b| b.key(Operand::Ofmap) != t.key(Operand::Ofmap))
            );
            let new_visit = visit_ended;
            let out_words = t.m * t.n;
            if new_visit {
                let v = self.out.writes.len();
                let free = if v >= self.out.reuse_distance {
                    let dma = &mut self.dma;
                    match &self.out.writes[v - self.out.reuse_distance] {
                        Write::Ids(ids) => ids
                            .iter()
                            .map(|&id| dma.complete(id) + 1)
                            .max()
                            .unwrap_or(0),
                        Write::Done(t) => t + 1,
                        Write::Pending => unreachable!("an earlier visit was written back"),
                    }
                } else {
                    0
                };
                self.out.ready = free;
                self.out.readback = t.k0 > 0;
                if self.out.readback {
                    let tr = Transfer {
                        start: free,
                        ..layer.addrs.block(&order.gemm, t, Operand::Ofmap, 4, true)
                    };
                    let (id, first) = self.issue(&tr);
                    self.out.ready = self.dma.complete(id) + 1;
                    if T {
                        if let Some(x) = self.tr.as_mut() {
                            let first = match first {
                                Some(f) => f,
                                None => self.dma.started(id),
                            };
                            let track =
                                dma_track(x.trace, Operand::Ofmap, self.out.reuse_distance, v);
                            let name = x.trace.name("psum read-back");
                            let args = [tr.bytes() as i64, i as i64, v as i64, 0];
                            x.trace
                                .slice(track, name, first, self.out.ready - first, args);
                        }
                    }
                    let st = &mut self.totals[li].st;
                    st.dram_read_bytes += tr.bytes();
                    st.dram_psum_read_bytes += tr.bytes();
                    st.ofmap_sram_writes += out_words;
                }
                self.out.end = 0;
                self.out.words = 0;
                self.out.writes.push(Write::Pending);
                if let (true, Some(x)) = (T, self.tr.as_mut()) {
                    x.visits[v % 4] = None;
                }
                if T && self.tr.is_some() {
                    if v >= self.out.reuse_distance {
                        self.trace_writes(v + 1 - self.out.reuse_distance);
                    }
                    if let Some(x) = self.tr.as_mut() {
                        let held = held_track(x.trace, Operand::Ofmap, self.out.reuse_distance, v);
                        let bytes = out_words * mem.ofmap.word_bytes as u64;
                        x.trace.counter(held, free, bytes as f64);
                    }
                }
            }

            // The loads serving this tile (a resident input has none).
            let ifmap_load = if layer.ctx.input_on_chip {
                0
            } else {
                self.ifmap.load_of(at)
            };
            let filter_load = self.filter.load_of(at);
            // ifmap first: a cycle-level DRAM's clock advances in the order completions are asked.
            let x = if layer.ctx.input_on_chip {
                self.resident_ready
            } else {
                self.ifmap.ready(ifmap_load, &mut self.dma)
            };
            let f = self.filter.ready(filter_load, &mut self.dma);
            if T && self.tr.is_some() {
                if !layer.ctx.input_on_chip {
                    self.trace_loads(0, ifmap_load + 1);
                }
                self.trace_loads(1, filter_load + 1);
                if let Some(tr) = self.tr.as_mut() {
                    self.dma.trace(tr.trace);
                }
            }
            let (ifmap_ready, filter_ready) = (x.max(floor), f.max(floor));
            let out_ready = self.out.ready.max(floor);
            let ready_of = |op: Operand| match op {
                Operand::Ifmap => ifmap_ready,
                Operand::Filter => filter_ready,
                Operand::Ofmap => out_ready,
            };
            if (t.m, t.k, t.n) != shapes[c].key {
                self.add_tiles(li, &shapes[c].stats, &mut unadded);
                // Back to the shape before (tiles at a ragged edge alternate with full ones),
                // or a new one in its place.
                c ^= 1;
                if shapes[c].key != (t.m, t.k, t.n) {
                    shapes[c] = ShapePlan::new(array, mem, (t.m, t.k, t.n))?;
                }
            }
            let sp = &shapes[c];
            let plan = &sp.plan;

            // The tile's first fold waits for its operands.
            let (stat_ready, stream_inputs) = match df {
                Dataflow::Os => (0, ifmap_ready.max(filter_ready)),
                _ => (ready_of(stationary_op), ready_of(stream_op)),
            };
            let (a, a_rates) = sp.fold0;
            let step = self
                .stepper
                .step(a, stat_ready, stream_inputs.max(out_ready), a_rates);
            let fold_start = match df {
                Dataflow::Os => step.stream_start,
                _ => self
                    .stepper
                    .prev
                    .map_or(step.stream_start, |p| p.load_start),
            };
            self.totals[li].first_start.get_or_insert(fold_start);
            if T {
                self.trace_fold(plan, array, t, 0, &step);
            }
            let bank = step
                .array_stream_start
                .saturating_sub(step.conflict_free_stream_start);
            self.charge(li, step.array_stream_start, bank, Cause::Bank);
            let mut end_cf = step.end - step.conflict_tail;
            let stall = step.stream_start - step.array_stream_start;
            if stall > 0 {
                // Else the operand the stream waited for last (on a tie the first of ifmap,
                // filter, ofmap).
                let cause = if step.waited_on_load {
                    stationary_op
                } else {
                    let input = match df {
                        Dataflow::Os if filter_ready > ifmap_ready => Operand::Filter,
                        Dataflow::Os => Operand::Ifmap,
                        _ => stream_op,
                    };
                    if out_ready > ready_of(input) {
                        Operand::Ofmap
                    } else {
                        input
                    }
                };
                let cause = match cause {
                    Operand::Ifmap => Cause::Ifmap,
                    Operand::Filter => Cause::Filter,
                    Operand::Ofmap => Cause::Ofmap,
                };
                self.charge(li, step.stream_start, stall, cause);
                if T {
                    let name = match cause {
                        Cause::Ifmap => "ifmap",
                        Cause::Filter => "filter",
                        _ => "ofmap",
                    };
                    self.trace_stall(name, step.array_stream_start, step.stream_start);
                }
            }
            let mut end = step.end;
            let (mut stat_read, mut stream_read) =
                (step.last_stationary_read, step.last_stream_read);

            // The rest of the tile's folds, stepped one by one for a trace (the same numbers).
            if T && self.tr.is_some() {
                if let Some((max_end, max_cf, stat, stream, bank)) =
                    self.rest_traced(plan, array, t, mem)
                {
                    let base = step.stream_start;
                    if bank > 0 {
                        let until = max_cf.max(base).max(bank);
                        self.charge(li, until, bank, Cause::Bank);
                    }
                    end = end.max(max_end);
                    end_cf = end_cf.max(max_cf);
                    stat_read = stat_read.max(stat);
                    stream_read = stream_read.max(stream);
                }
            }
            // The rest of the tile's folds, from the cache.
            else if let Some(r) = self.cache.rest(&self.stepper, plan, sp.key, mem) {
                // (Read in place: the cache holds it.)
                let base = step.stream_start;
                let shift = |x: u64| x + base - BASE;
                let (stall_bank, max_cf) = (r.stall_bank, r.max_end_conflict_free);
                end = end.max(shift(r.max_end));
                end_cf = end_cf.max(shift(r.max_end_conflict_free));
                stat_read = stat_read.max(shift(r.last_stationary_read));
                stream_read = stream_read.max(shift(r.last_stream_read));
                self.stepper.prev = Some(r.prev.rebase(BASE, base));
                self.stepper.index += r.folds;
                if stall_bank > 0 {
                    // Bank stalls of the rest: one interval per tile is enough to split them
                    // over layers (they all lie within this tile's span).
                    let until = shift(max_cf.max(BASE)).max(stall_bank);
                    self.charge(li, until, stall_bank, Cause::Bank);
                }
            }
            let (ifmap_last, filter_last) = match df {
                Dataflow::Ws => (stream_read, stat_read),
                Dataflow::Is => (stat_read, stream_read),
                Dataflow::Os => (stream_read, stream_read),
            };
            if !layer.ctx.input_on_chip {
                self.ifmap.read_until(ifmap_load, ifmap_last);
            } else {
                resident_read = resident_read.max(ifmap_last);
            }
            self.filter.read_until(filter_load, filter_last);
            self.out.words += sp.words;
            self.out.end = self.out.end.max(end);
            {
                let tot = &mut self.totals[li];
                tot.last_end = tot.last_end.max(end);
                tot.last_end_conflict_free = tot.last_end_conflict_free.max(end_cf);
                unadded += 1;
            }

            let visit_ends = following
                .is_none_or(|nt| nt.key(Operand::Ofmap) != t.key(Operand::Ofmap))
                || !mem.accumulator;
            if visit_ends {
                let st = &mut self.totals[li].st;
                let first_contributions = if self.out.readback { 0 } else { out_words };
                st.ofmap_sram_reads += self.out.words - first_contributions;
                st.ofmap_sram_writes += self.out.words;
                let complete = t.k0 + t.k == order.gemm.k;
                st.ofmap_sram_reads += out_words;
                let keep = complete && layer.ctx.keep_output;
                if keep {
                    // The finished outputs move on chip into the ifmap buffer for the next layer.
                    st.ifmap_sram_writes += out_words;
                }
                let write = if keep && !layer.ctx.write_through {
                    Write::Done(self.out.end)
                } else {
                    let word = if complete { mem.output_bytes as u64 } else { 4 };
                    if complete {
                        layer
                            .addrs
                            .output_transfers(&order.gemm, t, word, &mut self.cache.scratch);
                    } else {
                        self.cache.scratch.clear();
                        self.cache.scratch.push(layer.addrs.block(
                            &order.gemm,
                            t,
                            Operand::Ofmap,
                            word,
                            true,
                        ));
                    }
                    let mut ids = Vec::with_capacity(if D::EAGER {
                        0
                    } else {
                        self.cache.scratch.len()
                    });
                    let mut bytes = 0;
                    let mut done = None;
                    let mut first: Option<u64> = None;
                    for tr in &self.cache.scratch {
                        bytes += tr.bytes();
                        let (id, f) = issue_on::<D, T>(
                            &mut self.dma,
                            &mut self.tr,
                            &Transfer {
                                start: self.out.end + 1,
                                write: true,
                                ..*tr
                            },
                        );
                        if T {
                            first = match (first, f) {
                                (Some(a), Some(b)) => Some(a.min(b)),
                                (a, b) => a.or(b),
                            };
                        }
                        if D::EAGER {
                            done = Some(done.unwrap_or(0).max(self.dma.complete(id)));
                        } else {
                            ids.push(id);
                        }
                    }
                    if T {
                        if let Some(x) = self.tr.as_mut() {
                            let v = self.out.writes.len() - 1;
                            x.visits[v % 4] = Some((first, bytes, complete, i, true));
                        }
                    }
                    let st = &mut self.totals[li].st;
                    st.dram_write_bytes += bytes;
                    if complete {
                        st.dram_ofmap_bytes += bytes;
                    } else {
                        st.dram_psum_write_bytes += bytes;
                    }
                    match done {
                        Some(t) => Write::Done(t),
                        None => Write::Ids(ids),
                    }
                };
                if let (true, Some(x)) = (T, self.tr.as_mut()) {
                    let v = self.out.writes.len() - 1;
                    if x.visits[v % 4].is_none() {
                        x.visits[v % 4] = Some((None, 0, complete, i, false));
                    }
                }
                if self.out.done.len() <= li {
                    self.out.done.resize(li + 1, 0);
                }
                match &write {
                    Write::Done(t) => self.out.done[li] = self.out.done[li].max(*t),
                    Write::Ids(ids) => self.out.ids.extend(ids.iter().map(|&id| (li, id))),
                    Write::Pending => {}
                }
                let last = self.out.writes.len() - 1;
                self.out.writes[last] = write;
            }
            if let Some(nt) = following {
                self.issue_inputs(layer, (li, i + 1), nt, false, false);
            } else if let Some(nx) = next {
                self.issue_inputs(nx, (li + 1, 0), &nx.order.tile(0), false, true);
            }
            self.tiles_done += 1;
            if self.tiles_done % (1 << 12) == 0 && (self.cancel)() {
                return Err(Error::Cancelled);
            }
            visit_ended = visit_ends;
            if memo_on {
                before = Some(*t);
            }
            cur = nt;
            i += 1;
        }
        if memo_on {
            self.memo_finish(li);
        }
        self.add_tiles(li, &shapes[c].stats, &mut unadded);
        if layer.ctx.input_on_chip {
            // The resident input held the ifmap buffer until its last read: the next loads
            // into either half start after it.
            if T {
                // The loads before the resident input are done with.
                self.trace_releases(0, self.ifmap.loads.len());
            }
            for _ in 0..2 {
                if let (true, Some(x)) = (T, self.tr.as_mut()) {
                    x.loads[0][self.ifmap.loads.len() % 4] = None;
                }
                self.ifmap.loads.push(Load {
                    ids: Vec::new(),
                    ready: Some(0),
                    last_read: resident_read,
                });
            }
            self.ifmap.last_key = None;
            if let (true, Some(x)) = (T, self.tr.as_mut()) {
                // Every earlier load was recorded; these hold no DRAM data.
                x.loads_traced[0] = self.ifmap.loads.len();
                x.released[0] = self.ifmap.loads.len();
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Public entry points.

/// One layer of a network run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedLayer {
    pub gemm: Gemm,
    /// The convolution behind the GEMM, if any (its ifmap tiles are read as input windows).
    pub conv: Option<ConvGeometry>,
    pub tiling: Tiling,
    /// The dataflow this layer runs with (the array's other parameters stay).
    pub dataflow: Dataflow,
    /// The layer's ifmap is the previous layer's output, kept on chip: no DRAM reads.
    pub input_on_chip: bool,
}

/// How the layers of a network run follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleOptions {
    /// One DMA engine and one DRAM for the whole network: the next layer's first filter tile
    /// loads while the current layer finishes and the array goes from one layer's last fold
    /// to the next layer's first. Off: every layer runs alone from an idle memory system (the
    /// sum of `simulate_conv_layer`s); `input_on_chip` then must be false everywhere.
    pub overlap: bool,
    /// A layer whose output stays on chip also writes it to DRAM (other layers may read it).
    pub write_through: bool,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            overlap: true,
            write_through: false,
        }
    }
}

/// One layer of a network run: its statistics (with `array.cycles` the cycles it adds to the
/// network) and when it ran.
#[derive(Debug, Clone)]
pub struct ScheduledLayer {
    pub result: LayerResult,
    /// First cycle of the layer's share of the run (the cycle after the previous layer's
    /// share ended) and the last; its cycles are `end - start + 1`.
    pub start: u64,
    pub end: u64,
    /// Cycle of the layer's first fold's first operand, and its last result.
    pub array_start: u64,
    pub array_end: u64,
}

/// A network run.
#[derive(Debug, Clone)]
pub struct NetworkRun {
    pub layers: Vec<ScheduledLayer>,
    /// From the first DMA transfer to the last write-back, both counted.
    pub cycles: u64,
    /// The cycle-level DRAM's statistics over the whole run, with that model.
    pub dram: Option<DramStats>,
}

/// Bytes of a layer's output tensor (what stays on chip for the next layer).
pub fn output_bytes(gemm: &Gemm, mem: &MemoryConfig) -> u64 {
    gemm.groups * gemm.m * gemm.n * mem.output_bytes as u64
}

/// Bytes a layer occupies in the ifmap buffer: its input tensor when it stays on chip (the
/// producer's output), else its tiles (two halves when double buffered).
fn ifmap_footprint(
    layer: &PlannedLayer,
    producer: Option<&PlannedLayer>,
    mem: &MemoryConfig,
) -> u64 {
    match producer {
        Some(p) if layer.input_on_chip => output_bytes(&p.gemm, mem),
        _ => {
            let tile = layer.tiling.m * layer.tiling.k * mem.ifmap.word_bytes as u64;
            if mem.ifmap.double_buffered {
                2 * tile
            } else {
                tile
            }
        }
    }
}

/// Check a network plan: every tiling fits its buffers, and where a layer's input stays on
/// chip, the ifmap buffer holds what the producer and the consumer need at once (their own
/// input, resident or tiles, plus the tensor they keep). Errors name the layer.
pub fn check_plan(
    mem: &MemoryConfig,
    layers: &[PlannedLayer],
    opts: ScheduleOptions,
) -> Result<()> {
    mem.validate()?;
    for (i, l) in layers.iter().enumerate() {
        let at = |e: Error| match e {
            Error::Config { field, message } => Error::Config {
                field: format!("layers[{i}].{field}"),
                message,
            },
            Error::Workload { field, message } => Error::Workload {
                field: format!("layers[{i}].{field}"),
                message,
            },
            other => other,
        };
        l.tiling.check(&l.gemm, mem).map_err(at)?;
        if let Some(c) = &l.conv {
            c.check(&l.gemm).map_err(at)?;
        }
        if l.input_on_chip {
            if i == 0 {
                return Err(Error::config(
                    "layers[0].input_on_chip",
                    "the first layer has no previous layer whose output it could take",
                ));
            }
            if !opts.overlap {
                return Err(Error::config(
                    &format!("layers[{i}].input_on_chip"),
                    "an input kept on chip needs the layers to run as one schedule (overlap)",
                ));
            }
        }
        let producer = if i > 0 { Some(&layers[i - 1]) } else { None };
        let keeps = layers.get(i + 1).is_some_and(|n| n.input_on_chip);
        let need =
            ifmap_footprint(l, producer, mem) + if keeps { output_bytes(&l.gemm, mem) } else { 0 };
        if need > mem.ifmap.size_bytes {
            return Err(Error::config(
                &format!("layers[{i}]"),
                format!(
                    "the ifmap buffer of {} B cannot hold {need} B: {} B of the layer's own input{}",
                    mem.ifmap.size_bytes,
                    ifmap_footprint(l, producer, mem),
                    if keeps {
                        format!(
                            " and its {} B output kept on chip for the next layer",
                            output_bytes(&l.gemm, mem)
                        )
                    } else {
                        String::new()
                    }
                ),
            ));
        }
    }
    Ok(())
}

fn prepare(
    array: &ArrayConfig,
    layers: &[PlannedLayer],
    mem: &MemoryConfig,
    opts: ScheduleOptions,
) -> Result<Vec<Prepared>> {
    (0..layers.len())
        .map(|i| prepare_layer(array, layers, i, mem, opts))
        .collect()
}

/// Layer `i` of `layers` prepared to run.
fn prepare_layer(
    array: &ArrayConfig,
    layers: &[PlannedLayer],
    i: usize,
    mem: &MemoryConfig,
    opts: ScheduleOptions,
) -> Result<Prepared> {
    let l = &layers[i];
    let a = ArrayConfig::new(ArrayParams {
        dataflow: l.dataflow,
        ..array.params()
    })?;
    let order = TileOrder::new(l.gemm, l.tiling);
    if order.total > MAX_FOLDS {
        return Err(Error::config(
            "tiling",
            format!("{} tiles; at most {MAX_FOLDS} per layer", order.total),
        ));
    }
    Ok(Prepared {
        array: a,
        order,
        addrs: Addresses::new(&l.gemm, mem, l.conv),
        ctx: LayerCtx {
            input_on_chip: l.input_on_chip,
            keep_output: layers.get(i + 1).is_some_and(|n| n.input_on_chip),
            write_through: opts.write_through,
        },
    })
}

/// Finish a standalone layer as `run_tiles` does: the tail after the last result is the wait
/// for the last write-back.
fn finish_layer<D: Dma>(
    sim: &mut Sim<'_, '_, D>,
    array: &ArrayConfig,
    tiling: Tiling,
) -> LayerResult {
    let last_dma = sim.writes_done(0);
    let mem = sim.mem;
    let tot = &mut sim.totals[0];
    let mut st = tot.st;
    let mut a = tot.array;
    let end = tot.last_end.max(last_dma);
    st.stall_ofmap_cycles += end - tot.last_end;
    st.stall_bank_cycles += tot.last_end - tot.last_end_conflict_free.min(tot.last_end);
    a.cycles = end + 1;
    a.pe_cycles = a.cycles * array.pes();
    st.compute_cycles = a.cycles
        - st.stall_ifmap_cycles
        - st.stall_filter_cycles
        - st.stall_ofmap_cycles
        - st.stall_bank_cycles
        - st.stall_refresh_cycles;
    st.dram_busy_cycles = sim.dma.busy_cycles();
    let energy = EnergyStats::of(&mem.energy, mem, &a, &st);
    LayerResult {
        array: a,
        mem: st,
        energy,
        tiling,
        folds: Vec::new(),
        dram: None,
    }
}

/// One layer alone, as `simulate_conv_layer` computes it (without its refresh attribution:
/// `stall_refresh_cycles` stays 0 and refresh shows in the other stalls), on `dma`.
#[allow(clippy::too_many_arguments)]
fn layer_on<D: Dma>(
    dma: D,
    array: &ArrayConfig,
    mem: &MemoryConfig,
    gemm: &Gemm,
    conv: Option<&ConvGeometry>,
    tiling: Tiling,
    cache: &mut FoldCache,
    cancel: CancelHook<'_>,
) -> Result<(LayerResult, D)> {
    let l = PlannedLayer {
        gemm: *gemm,
        conv: conv.copied(),
        tiling,
        dataflow: array.dataflow(),
        input_on_chip: false,
    };
    // (One layer: prepared without a vector.)
    let prepared = prepare_layer(
        array,
        std::slice::from_ref(&l),
        0,
        mem,
        ScheduleOptions::default(),
    )?;
    let mut sim = Sim::new(mem, dma, array, cache, cancel);
    sim.memo = !sim.cache.memo.off;
    // (Allocated at their size: no vector grown from empty per candidate.)
    sim.totals = vec![LayerTotals::default()];
    sim.out.done = vec![0];
    sim.run_layer(0, &prepared, None)?;
    let r = finish_layer(&mut sim, array, tiling);
    Ok((r, sim.dma))
}

/// Checks `simulate_conv_layer` makes before it simulates.
fn check_layer(
    mem: &MemoryConfig,
    gemm: &Gemm,
    conv: Option<&ConvGeometry>,
    tiling: &Tiling,
) -> Result<()> {
    mem.validate()?;
    if let Some(c) = conv {
        c.check(gemm)?;
    }
    tiling.check(gemm, mem)
}

/// Which DRAM [`evaluate_layer_timed`] puts behind the DMA engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LayerTiming {
    /// The memory configuration's own DRAM model.
    Configured,
    /// A bandwidth model in its place (a fast stand-in for a cycle-level DRAM); with
    /// `burst_bytes` > 1 every contiguous run of a transfer occupies it for whole bursts.
    Bandwidth {
        bytes_per_cycle: f64,
        latency: u64,
        burst_bytes: u64,
    },
    /// Every transfer done at once: the array alone. Its cycles are a lower bound of the
    /// layer's with any DRAM; every access count (and so the energy) is the same as with any
    /// DRAM.
    Unbounded,
}

/// [`evaluate_layer`] with the DRAM of `timing`.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_layer_timed(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    gemm: &Gemm,
    conv: Option<&ConvGeometry>,
    tiling: Tiling,
    timing: LayerTiming,
    cache: &mut FoldCache,
    cancel: CancelHook<'_>,
) -> Result<LayerResult> {
    match timing {
        LayerTiming::Configured => evaluate_layer(array, mem, gemm, conv, tiling, cache, cancel),
        LayerTiming::Bandwidth {
            bytes_per_cycle,
            latency,
            burst_bytes,
        } => {
            check_layer(mem, gemm, conv, &tiling)?;
            if !(bytes_per_cycle.is_finite() && bytes_per_cycle > 0.0) {
                return Err(Error::config(
                    "bandwidth",
                    format!("{bytes_per_cycle} must be a positive number of bytes per cycle"),
                ));
            }
            let dma = Bandwidth::with_bursts(bytes_per_cycle, latency, burst_bytes);
            Ok(layer_on(dma, array, mem, gemm, conv, tiling, cache, cancel)?.0)
        }
        LayerTiming::Unbounded => {
            check_layer(mem, gemm, conv, &tiling)?;
            Ok(layer_on(Unbounded, array, mem, gemm, conv, tiling, cache, cancel)?.0)
        }
    }
}

/// One layer through the memory system, fast: the statistics `simulate_conv_layer` reports
/// for the same layer and tiling (cycles, array and memory statistics, energy; its refresh
/// attribution aside: `stall_refresh_cycles` is 0 and refresh time shows in the other
/// stalls). `cache` may be shared by every evaluation with the same array and buffers.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_layer(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    gemm: &Gemm,
    conv: Option<&ConvGeometry>,
    tiling: Tiling,
    cache: &mut FoldCache,
    cancel: CancelHook<'_>,
) -> Result<LayerResult> {
    check_layer(mem, gemm, conv, &tiling)?;
    match &mem.dram {
        &DramModel::Bandwidth {
            bytes_per_cycle,
            latency,
        } => Ok(layer_on(
            Bandwidth::new(bytes_per_cycle, latency),
            array,
            mem,
            gemm,
            conv,
            tiling,
            cache,
            cancel,
        )?
        .0),
        DramModel::Cycle { .. } => {
            let b = DramBackend::new(&mem.dram)?.expect("a cycle-level model has a backend");
            let (mut r, d) = layer_on(Lazy(b), array, mem, gemm, conv, tiling, cache, cancel)?;
            let dram_stats = d.0.stats();
            r.energy = r.energy.with_dram(mem, &dram_stats);
            r.dram = Some(dram_stats);
            Ok(r)
        }
    }
}

/// Run a network's layers as one schedule (see the module documentation). Every layer's
/// tiling must fit (`check_plan`). Per layer, `result.array.cycles` is the cycles the layer
/// adds to the run: the run is cut into consecutive shares, each ending where its layer's last
/// result has left the array and its last write-back has been accepted (or where the previous
/// share ended, if later); stalls are charged to the share they fall in, the tail after the
/// network's last result to its last layer.
pub fn simulate_network(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    layers: &[PlannedLayer],
    opts: ScheduleOptions,
    cancel: CancelHook<'_>,
) -> Result<NetworkRun> {
    simulate_network_traced(array, mem, layers, opts, cancel, None)
}

/// `simulate_network`, recording into `trace` when given (docs/trace.md, "Scheduled runs"):
/// with `overlap`, the run as one span of the trace cut into the layers' shares; without, the
/// layers one after another, each a layer of the trace. The results are the same.
pub fn simulate_network_traced(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    layers: &[PlannedLayer],
    opts: ScheduleOptions,
    cancel: CancelHook<'_>,
    trace: Option<&mut Trace>,
) -> Result<NetworkRun> {
    check_plan(mem, layers, opts)?;
    let prepared = prepare(array, layers, mem, opts)?;
    let mut cache = FoldCache::new();
    if !opts.overlap {
        // Every layer alone: simulate_conv_layer's numbers, back to back.
        let mut out = Vec::with_capacity(layers.len());
        let mut start = 0u64;
        let mut trace = trace;
        for (i, (l, p)) in layers.iter().zip(&prepared).enumerate() {
            if let Some(t) = trace.as_deref_mut() {
                // The layer alone, recorded (the same numbers as `evaluate_layer`'s).
                let one = &layers[i..=i];
                let mut c = FoldCache::new();
                let ps = &prepared[i..=i];
                match &mem.dram {
                    &DramModel::Bandwidth {
                        bytes_per_cycle,
                        latency,
                    } => {
                        let d = Bandwidth::new(bytes_per_cycle, latency);
                        network_on(d, array, mem, one, ps, &mut c, cancel, Some(t))?;
                    }
                    DramModel::Cycle { .. } => {
                        let b = DramBackend::new(&mem.dram)?.expect("a cycle-level backend");
                        network_on(Lazy(b), array, mem, one, ps, &mut c, cancel, Some(t))?;
                    }
                }
            }
            let r = evaluate_layer(
                &p.array,
                mem,
                &l.gemm,
                l.conv.as_ref(),
                l.tiling,
                &mut cache,
                cancel,
            )?;
            let cycles = r.array.cycles;
            out.push(ScheduledLayer {
                start,
                end: start + cycles - 1,
                array_start: start,
                array_end: start + cycles - 1,
                result: r,
            });
            start += cycles;
        }
        let dram = None;
        return Ok(NetworkRun {
            cycles: start,
            layers: out,
            dram,
        });
    }
    match &mem.dram {
        &DramModel::Bandwidth {
            bytes_per_cycle,
            latency,
        } => network_on(
            Bandwidth::new(bytes_per_cycle, latency),
            array,
            mem,
            layers,
            &prepared,
            &mut cache,
            cancel,
            trace,
        )
        .map(|(r, _)| r),
        DramModel::Cycle { .. } => {
            let b = DramBackend::new(&mem.dram)?.expect("a cycle-level model has a backend");
            let (mut r, d) = network_on(
                Lazy(b),
                array,
                mem,
                layers,
                &prepared,
                &mut cache,
                cancel,
                trace,
            )?;
            r.dram = Some(d.0.stats());
            Ok(r)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn network_on<D: Dma>(
    dma: D,
    array: &ArrayConfig,
    mem: &MemoryConfig,
    layers: &[PlannedLayer],
    prepared: &[Prepared],
    cache: &mut FoldCache,
    cancel: CancelHook<'_>,
    trace: Option<&mut Trace>,
) -> Result<(NetworkRun, D)> {
    match trace {
        None => network_run::<D, false>(dma, array, mem, layers, prepared, cache, cancel, None),
        Some(t) => {
            network_run::<D, true>(dma, array, mem, layers, prepared, cache, cancel, Some(t))
        }
    }
}

fn new_tracer(trace: &mut Trace) -> Tracer<'_> {
    Tracer {
        trace,
        array: None,
        loads_traced: [0, 0],
        loads: [[None; 4]; 2],
        released: [0, 0],
        words: [[0; 4]; 2],
        visits: [None; 4],
        visits_traced: 0,
    }
}

#[allow(clippy::too_many_arguments)]
fn network_run<'c, D: Dma, const T: bool>(
    dma: D,
    array: &ArrayConfig,
    mem: &MemoryConfig,
    layers: &[PlannedLayer],
    prepared: &[Prepared],
    cache: &'c mut FoldCache,
    cancel: CancelHook<'c>,
    trace: Option<&'c mut Trace>,
) -> Result<(NetworkRun, D)> {
    let mut sim: Sim<'_, 'c, D, T> = Sim::new(mem, dma, &prepared[0].array, cache, cancel);
    if let Some(t) = trace {
        t.begin_layer_at(t.next_start(), sim.dma.clock());
        sim.dma.begin_trace(t);
        sim.tr = Some(new_tracer(t));
    }
    sim.record = Some(Vec::new());
    // Every layer's totals from the start: a layer's first filter load is issued (and
    // counted) during the layer before it.
    sim.totals = vec![LayerTotals::default(); prepared.len()];
    let mut array_spans = Vec::with_capacity(layers.len());
    for li in 0..prepared.len() {
        // Where this layer's input comes from.
        sim.dram_input_floor = None;
        sim.input_floor = 0;
        if li > 0 {
            if prepared[li].ctx.input_on_chip {
                sim.resident_ready = sim.totals[li - 1].last_end + 1;
            } else {
                sim.dram_input_floor = Some(li - 1);
            }
            // A new tensor: no ifmap tile is reused across layers.
            sim.ifmap.last_key = None;
        }
        sim.run_layer(li, &prepared[li], prepared.get(li + 1))?;
        array_spans.push(sim.totals[li].last_end);
    }
    // Resolve every write-back, layer by layer, in issue order.
    let mut ends = Vec::with_capacity(layers.len());
    for li in 0..prepared.len() {
        let w = sim.writes_done(li);
        ends.push(sim.totals[li].last_end.max(w));
    }
    // Consecutive shares of the run.
    let mut shares = Vec::with_capacity(layers.len());
    let mut prev_end: Option<u64> = None;
    for &e in &ends {
        let end = prev_end.map_or(e, |p| p.max(e));
        let start = prev_end.map_or(0, |p| p + 1);
        shares.push((start, end));
        prev_end = Some(end);
    }
    let total_end = prev_end.unwrap_or(0);
    let last_fold_end = sim.totals.iter().map(|t| t.last_end).max().unwrap_or(0);
    // Re-charge the stalls by time: each interval to the shares it overlaps.
    let mut stalls = vec![[0u64; 4]; layers.len()];
    let record = sim.record.take().unwrap_or_default();
    let share_of = |t: u64| {
        shares
            .partition_point(|&(_, e)| e < t)
            .min(shares.len() - 1)
    };
    for s in &record {
        let (lo, hi) = (s.until - s.cycles, s.until); // cycles lo..hi-1
        let ci = s.cause as usize;
        let mut t = lo;
        while t < hi {
            let i = share_of(t);
            let seg_end = (shares[i].1 + 1).min(hi);
            let seg_end = if seg_end <= t { hi } else { seg_end };
            stalls[i][ci] += seg_end - t;
            t = seg_end;
        }
    }
    // The tail after the last result (write-back) and the last folds' own slower streaming.
    let nl = layers.len() - 1;
    stalls[nl][Cause::Ofmap as usize] += total_end - last_fold_end;
    let cf = sim
        .totals
        .iter()
        .map(|t| t.last_end_conflict_free)
        .max()
        .unwrap_or(0);
    stalls[nl][Cause::Bank as usize] += last_fold_end - cf.min(last_fold_end);
    if T {
        // The tails, the last loads and write-backs, the DRAM's last commands.
        sim.trace_stall("bank", cf.min(last_fold_end) + 1, last_fold_end + 1);
        sim.trace_stall("ofmap", last_fold_end + 1, total_end + 1);
        let (i, f) = (sim.ifmap.loads.len(), sim.filter.loads.len());
        sim.trace_loads(0, i);
        sim.trace_loads(1, f);
        sim.trace_releases(0, i);
        sim.trace_releases(1, f);
        sim.trace_writes(sim.out.writes.len());
        if let Some(x) = sim.tr.take() {
            sim.dma.trace(x.trace);
            x.trace.end_layer(total_end + 1);
            let base = x.trace.layers.last().map_or(0, |l| l.start);
            let spans: Vec<LayerSpan> = shares
                .iter()
                .map(|&(s, e)| LayerSpan {
                    start: base + s,
                    cycles: e + 1 - s,
                })
                .collect();
            x.trace.split_last_layer(&spans);
        }
    }
    let busy_total = sim.dma.busy_cycles();
    let mut out = Vec::with_capacity(layers.len());
    for li in 0..prepared.len() {
        let tot = &sim.totals[li];
        let (start, end) = shares[li];
        let mut st = tot.st;
        let mut a = tot.array;
        st.stall_ifmap_cycles = stalls[li][Cause::Ifmap as usize];
        st.stall_filter_cycles = stalls[li][Cause::Filter as usize];
        st.stall_ofmap_cycles = stalls[li][Cause::Ofmap as usize];
        st.stall_bank_cycles = stalls[li][Cause::Bank as usize];
        a.cycles = end + 1 - start;
        a.pe_cycles = a.cycles * array.pes();
        let stalls_sum = st.stall_ifmap_cycles
            + st.stall_filter_cycles
            + st.stall_ofmap_cycles
            + st.stall_bank_cycles;
        st.compute_cycles = a.cycles.saturating_sub(stalls_sum);
        let busy_end = sim.totals.get(li + 1).map_or(busy_total, |t| t.first_busy);
        st.dram_busy_cycles = busy_end - tot.first_busy;
        let energy = EnergyStats::of(&mem.energy, mem, &a, &st);
        out.push(ScheduledLayer {
            result: LayerResult {
                array: a,
                mem: st,
                energy,
                tiling: layers[li].tiling,
                folds: Vec::new(),
                dram: None,
            },
            start,
            end,
            array_start: sim.totals[li].first_start.unwrap_or(0),
            array_end: array_spans[li],
        });
    }
    Ok((
        NetworkRun {
            layers: out,
            cycles: total_end + 1,
            dram: None,
        },
        sim.dma,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::LoopOrder;

    #[test]
    fn the_next_tile_is_the_tile_at_the_next_index() {
        for (m, k, n, groups) in [(7, 5, 3, 1), (10, 1, 4, 3), (1, 9, 9, 2), (16, 16, 16, 1)] {
            let g = Gemm { m, k, n, groups };
            for (tm, tk, tn) in [(1, 1, 1), (3, 2, 2), (4, 5, 3), (m, k, n)] {
                for &order in LoopOrder::ALL.iter() {
                    let tiling = Tiling {
                        m: tm.min(m),
                        k: tk.min(k),
                        n: tn.min(n),
                        order,
                    };
                    let o = TileOrder::new(g, tiling);
                    let mut t = o.tile(0);
                    for i in 1..o.total {
                        t = o.next(&t);
                        assert_eq!(t, o.tile(i), "{g:?} {tiling:?} tile {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn whole_bandwidth_divides_as_the_float_model() {
        let t = |bytes: u64| Transfer {
            start: 0,
            ..Transfer::block(0, 1, bytes, bytes)
        };
        for bpc in [1.0, 3.0, 16.0, 64.0, 1000.0] {
            for bytes in (0..5000).chain([(1 << 40) + 7, (1 << 52) - 3]) {
                let mut a = Bandwidth::new(bpc, 0);
                let want = ((bytes as f64 / bpc).ceil() as u64).max(1);
                assert_eq!(a.issue(&t(bytes)) + 1, want, "{bytes} at {bpc}");
            }
        }
    }

    #[test]
    fn ceil_u64_is_ceil() {
        for x in [
            0.0,
            0.5,
            1.0,
            1.000001,
            2.5,
            3.0,
            1e15 + 0.5,
            4503599627370497.0,
            1e19,
        ] {
            assert_eq!(ceil_u64(x), x.ceil() as u64, "{x}");
        }
        let mut v = 1u64;
        for _ in 0..10_000 {
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1);
            let x = (v >> 11) as f64 / ((v & 0xffff) + 1) as f64;
            assert_eq!(ceil_u64(x), x.ceil() as u64, "{x}");
        }
    }

    #[test]
    fn bus_bytes_counts_every_runs_bursts() {
        let mut x = 7u64;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        for _ in 0..2000 {
            let t = Transfer {
                start: 0,
                addr: next(1 << 20),
                planes: 1 + next(5),
                plane_stride: next(5000),
                rows: 1 + next(70),
                row_bytes: next(200),
                stride: next(700),
                write: false,
            };
            for burst in [1, 2, 32, 64] {
                let mut want = 0;
                for p in 0..t.planes {
                    for r in 0..t.rows {
                        let a = t.addr + p * t.plane_stride + r * t.stride;
                        if t.row_bytes > 0 {
                            want += ((a % burst + t.row_bytes).div_ceil(burst)) * burst;
                        }
                    }
                }
                if burst == 1 {
                    want = t.bytes();
                }
                assert_eq!(bus_bytes(&t, burst), want, "{t:?} burst {burst}");
            }
        }
    }
}
