//! The `fast` engine: the timing rules of docs/timing.md evaluated per fold, without stepping
//! PEs. O(folds) time and O(1) memory beyond what the caller keeps.
//!
//! [`FastArray`] decides one fold at a time, so a memory system can answer each fold's operand
//! readiness from what it has seen of the earlier folds; [`run`] drives it with a `Readiness`.

use crate::config::{ArrayConfig, Dataflow};
use crate::error::{Error, Result};
use crate::gemm::Fold;
use crate::stats::GemmStats;
use crate::timing::{bank_write_lag, CancelHook, FoldTiming, Readiness};

/// Folds between two polls of the cancel hook.
const CANCEL_POLL_FOLDS: usize = 1 << 16;

/// How fast the scratchpads feed the array during a fold: cycles per streamed vector and per
/// stationary row (1 = every cycle; more when a buffer's banks cannot deliver a whole vector in
/// one cycle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    pub stream: u64,
    pub load: u64,
}

impl Default for Rates {
    fn default() -> Self {
        Rates { stream: 1, load: 1 }
    }
}

/// What the array decided for one fold, and what a memory system needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub timing: FoldTiming,
    /// The stream start the array alone would have allowed (operands ready at cycle 0), given
    /// the folds before it as they actually ran: `timing.stream_start` minus this is the stall
    /// the operand readiness caused.
    pub array_stream_start: u64,
    /// The same with every buffer delivering a vector per cycle (`Rates::default()`): the
    /// difference to `array_stream_start` is the stall the buffers' bandwidth caused.
    pub conflict_free_stream_start: u64,
    /// How much later this fold ends than it would with conflict-free buffers from the same
    /// start.
    pub conflict_tail: u64,
    /// Whether the stream start waited for the stationary load (WS/IS), rather than for the
    /// streamed operand or the array itself.
    pub waited_on_load: bool,
    /// The last cycle the fold reads its stationary operand (WS/IS: the last load-port cycle;
    /// OS: the last streamed pair) and its streamed operand.
    pub last_stationary_read: u64,
    pub last_stream_read: u64,
}

/// The previous fold, as the next one's constraints need it.
#[derive(Debug, Clone, Copy)]
struct Prev {
    load_start: u64,
    stream_start: u64,
    rows: u64,
    vectors: u64,
    last_row: u64,
    last_vector: u64,
    /// OS: cycles between pairs, and the cycle of the last copy into the output registers.
    pair_interval: u64,
    last_copy: u64,
}

/// The fold-level state machine of the array.
#[derive(Debug, Clone)]
pub struct FastArray {
    cfg: ArrayConfig,
    index: usize,
    prev: Option<Prev>,
    first_start: u64,
    last_end: u64,
    stats: GemmStats,
}

impl FastArray {
    pub fn new(cfg: &ArrayConfig) -> Self {
        FastArray {
            cfg: *cfg,
            index: 0,
            prev: None,
            first_start: u64::MAX,
            last_end: 0,
            stats: GemmStats::default(),
        }
    }

    /// Decide the next fold, given the cycles its operands become available.
    pub fn step(&mut self, f: &Fold, stationary_ready: u64, stream_ready: u64) -> Step {
        self.step_at(f, stationary_ready, stream_ready, Rates::default())
    }

    /// `step`, with the scratchpads feeding the array at `rates`.
    pub fn step_at(
        &mut self,
        f: &Fold,
        stationary_ready: u64,
        stream_ready: u64,
        rates: Rates,
    ) -> Step {
        let cfg = &self.cfg;
        let df = cfg.dataflow();
        let la = cfg.acc_latency() as u64;
        let lm = cfg.mac_latency() as u64;
        let a = f.on_array(df);
        let st = &mut self.stats;
        st.folds += 1;
        let (ii_s, ii_l) = (rates.stream.max(1), rates.load.max(1));
        let step = match df {
            Dataflow::Ws | Dataflow::Is => {
                let (k, c, v) = (a.tile_rows, a.tile_cols, a.vectors);
                // The array's own constraints on the load start and the stream start, at the
                // given rates and with every buffer at full rate (for stall attribution).
                let bounds = |ii_s_prev: bool, ii_l: u64| -> (u64, u64) {
                    let Some(pr) = self.prev else { return (0, 0) };
                    let (last_row, last_vector) = if ii_s_prev {
                        (pr.last_row, pr.last_vector)
                    } else {
                        (
                            pr.load_start + pr.rows - 1,
                            pr.stream_start + pr.vectors - 1,
                        )
                    };
                    let mut p0 = last_row + 1; // load port
                    if !cfg.stationary_double_buffer() {
                        // one bank: after the previous fold's last vector entered
                        p0 = p0.max(last_vector + bank_write_lag(k, la, ii_l));
                    } else if self.index >= 2 {
                        // the idle bank: after the previous fold's first vector switched the
                        // PEs away from it
                        p0 = p0.max(pr.stream_start + bank_write_lag(k, la, ii_l));
                    }
                    (p0, last_vector + 1) // and the streaming port
                };
                let (p0, s0) = bounds(true, ii_l);
                let (p0_cf, s0_cf) = bounds(false, 1);
                let p = p0.max(stationary_ready);
                let array_s = s0.max(p0 + (k - 1) * ii_l + 1);
                let s = s0.max(p + (k - 1) * ii_l + 1).max(stream_ready);
                let last_vector = s + (v - 1) * ii_s;
                let end = last_vector + cfg.rows() as u64 * la + (c - 1) + lm;
                st.stream_vectors += v;
                st.stationary_load_cycles += k;
                st.macs += v * k * c;
                st.ofmap_writes += v * c;
                let (stream_words, stationary_words) = (v * k, k * c);
                if df == Dataflow::Ws {
                    st.ifmap_reads += stream_words;
                    st.filter_reads += stationary_words;
                } else {
                    st.filter_reads += stream_words;
                    st.ifmap_reads += stationary_words;
                }
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
                    timing: FoldTiming {
                        start: p,
                        stream_start: s,
                        end,
                    },
                    array_stream_start: array_s,
                    conflict_free_stream_start: s0_cf.max(p0_cf + k),
                    conflict_tail: (v - 1) * (ii_s - 1),
                    waited_on_load: last_row + 1 > s0.max(stream_ready) && last_row + 1 > array_s,
                    last_stationary_read: last_row,
                    last_stream_read: last_vector,
                }
            }
            Dataflow::Os => {
                let d = cfg.drain_beats();
                let (mt, nt, kv) = (a.tile_rows, a.tile_cols, a.vectors);
                // Pairs enter every max(acc_latency, stream rate) cycles. Cycles from the first
                // pair to PE(0,0)'s final sum, and the skew to the far corner PE(mt-1, nt-1).
                let pair = la.max(ii_s);
                let to_first_final = |pair: u64| (kv - 1) * pair + lm + la;
                let skew = mt + nt - 2;
                let bound = |pair_now: u64, at_rate: bool| -> u64 {
                    let Some(pr) = self.prev else { return 0 };
                    let prev_pair = if at_rate { pr.pair_interval } else { la };
                    let mut s0 = pr.stream_start + (pr.vectors - 1) * prev_pair + 1; // ports
                    if cfg.os_output_double_buffer() {
                        // PE(0,0)'s first copy must not precede the end of the previous drain.
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
                st.stream_vectors += kv;
                st.drain_beats += d;
                st.macs += mt * nt * kv;
                st.ifmap_reads += mt * kv;
                st.filter_reads += kv * nt;
                st.ofmap_writes += mt * nt;
                self.prev = Some(Prev {
                    load_start: s,
                    stream_start: s,
                    rows: mt,
                    vectors: kv,
                    last_row: 0,
                    last_vector: s + (kv - 1) * pair,
                    pair_interval: pair,
                    last_copy,
                });
                let last_read = s + (kv - 1) * pair;
                Step {
                    timing: FoldTiming {
                        start: s,
                        stream_start: s,
                        end,
                    },
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
        self.first_start = self.first_start.min(step.timing.start);
        self.last_end = self.last_end.max(step.timing.end);
        step
    }

    /// The statistics of every fold decided so far (`cycles` spans all of them).
    pub fn stats(&self) -> GemmStats {
        let mut st = self.stats;
        if st.folds > 0 {
            st.cycles = self.last_end - self.first_start + 1;
            st.pe_cycles = st.cycles * self.cfg.pes();
        }
        st
    }
}

/// Simulate `folds` in order; `sink` sees every fold's timing as it is decided.
pub fn run<R: Readiness, S: FnMut(usize, &Fold, FoldTiming)>(
    cfg: &ArrayConfig,
    folds: &[Fold],
    ready: &R,
    cancel: CancelHook<'_>,
    mut sink: S,
) -> Result<GemmStats> {
    let mut array = FastArray::new(cfg);
    for (i, f) in folds.iter().enumerate() {
        if i % CANCEL_POLL_FOLDS == CANCEL_POLL_FOLDS - 1 && cancel() {
            return Err(Error::Cancelled);
        }
        let step = array.step(f, ready.stationary_ready(i), ready.stream_ready(i));
        sink(i, f, step.timing);
    }
    Ok(array.stats())
}
