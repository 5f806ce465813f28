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

/// What the array decided for one fold, and what a memory system needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub timing: FoldTiming,
    /// The stream start the array alone would have allowed (operands ready at cycle 0), given
    /// the folds before it as they actually ran: `timing.stream_start` minus this is the stall
    /// the operand readiness caused.
    pub array_stream_start: u64,
    /// Whether the stream start waited for the stationary load (WS/IS), rather than for the
    /// streamed operand or the array itself.
    pub waited_on_load: bool,
    /// The last cycle the fold reads its stationary operand (WS/IS: the last load-port cycle;
    /// OS: the last streamed pair) and its streamed operand.
    pub last_stationary_read: u64,
    pub last_stream_read: u64,
}

/// The fold-level state machine of the array.
#[derive(Debug, Clone)]
pub struct FastArray {
    cfg: ArrayConfig,
    index: usize,
    /// Previous fold: (load start, stream start, tile rows, vectors, last OS copy).
    prev: Option<(u64, u64, u64, u64, u64)>,
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
        let cfg = &self.cfg;
        let df = cfg.dataflow();
        let la = cfg.acc_latency() as u64;
        let lm = cfg.mac_latency() as u64;
        let a = f.on_array(df);
        let st = &mut self.stats;
        st.folds += 1;
        let step = match df {
            Dataflow::Ws | Dataflow::Is => {
                let (k, c, v) = (a.tile_rows, a.tile_cols, a.vectors);
                // the array's own constraints on the load start and the stream start
                let mut p0 = 0;
                let mut s0 = 0;
                if let Some((pp, ps, pk, pv, _)) = self.prev {
                    p0 = pp + pk; // load port
                    if !cfg.stationary_double_buffer() {
                        // one bank: after the previous fold's last vector entered
                        p0 = p0.max(ps + pv - 1 + bank_write_lag(k, la));
                    } else if self.index >= 2 {
                        // the idle bank: after the previous fold's first vector switched the
                        // PEs away from it
                        p0 = p0.max(ps + bank_write_lag(k, la));
                    }
                    s0 = ps + pv; // streaming port
                }
                let p = p0.max(stationary_ready);
                let array_s = s0.max(p0 + k);
                let s = s0.max(p + k).max(stream_ready);
                let end = s + v - 1 + cfg.rows() as u64 * la + (c - 1) + lm;
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
                self.prev = Some((p, s, k, v, 0));
                Step {
                    timing: FoldTiming {
                        start: p,
                        stream_start: s,
                        end,
                    },
                    array_stream_start: array_s,
                    waited_on_load: p + k > s0.max(stream_ready) && p + k > array_s,
                    last_stationary_read: p + k - 1,
                    last_stream_read: s + v - 1,
                }
            }
            Dataflow::Os => {
                let d = cfg.drain_beats();
                let (mt, nt, kv) = (a.tile_rows, a.tile_cols, a.vectors);
                // Cycles from the first vector to PE(0,0)'s final sum, and the skew to the far
                // corner PE(mt-1, nt-1).
                let to_first_final = (kv - 1) * la + lm + la;
                let skew = mt + nt - 2;
                let mut s0 = 0;
                if let Some((_, ps, _, pk, pt)) = self.prev {
                    s0 = ps + (pk - 1) * la + 1; // streaming port
                    if cfg.os_output_double_buffer() {
                        // PE(0,0)'s first copy must not precede the end of the previous drain.
                        s0 = s0.max((pt + d).saturating_sub(to_first_final));
                    } else {
                        s0 = s0.max(pt + d + 1);
                    }
                }
                let s = s0.max(stream_ready);
                let last_copy = s + to_first_final + skew;
                let end = last_copy + d;
                st.stream_vectors += kv;
                st.drain_beats += d;
                st.macs += mt * nt * kv;
                st.ifmap_reads += mt * kv;
                st.filter_reads += kv * nt;
                st.ofmap_writes += mt * nt;
                self.prev = Some((s, s, mt, kv, last_copy));
                let last_read = s + (kv - 1) * la;
                Step {
                    timing: FoldTiming {
                        start: s,
                        stream_start: s,
                        end,
                    },
                    array_stream_start: s0,
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
