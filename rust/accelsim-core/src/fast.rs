//! The `fast` engine: the timing rules of docs/timing.md evaluated per fold, without stepping
//! PEs. O(folds) time and O(1) memory beyond what the caller keeps.

use crate::config::{ArrayConfig, Dataflow};
use crate::error::{Error, Result};
use crate::gemm::Fold;
use crate::stats::GemmStats;
use crate::timing::{bank_write_lag, CancelHook, FoldTiming, Readiness};

/// Folds between two polls of the cancel hook.
const CANCEL_POLL_FOLDS: usize = 1 << 16;

/// Simulate `folds` in order; `sink` sees every fold's timing as it is decided.
pub fn run<R: Readiness, S: FnMut(usize, &Fold, FoldTiming)>(
    cfg: &ArrayConfig,
    folds: &[Fold],
    ready: &R,
    cancel: CancelHook<'_>,
    mut sink: S,
) -> Result<GemmStats> {
    let df = cfg.dataflow();
    let la = cfg.acc_latency() as u64;
    let lm = cfg.mac_latency() as u64;
    let rows = cfg.rows() as u64;
    let mut st = GemmStats {
        folds: folds.len() as u64,
        ..Default::default()
    };
    if folds.is_empty() {
        return Ok(st);
    }
    let poll = |i: usize| -> Result<()> {
        if i % CANCEL_POLL_FOLDS == CANCEL_POLL_FOLDS - 1 && cancel() {
            return Err(Error::Cancelled);
        }
        Ok(())
    };
    let mut first_start = u64::MAX;
    let mut last_end = 0u64;

    match df {
        Dataflow::Ws | Dataflow::Is => {
            let double = cfg.stationary_double_buffer();
            // (load start, stream start, tile rows, vectors) of the previous fold.
            let mut prev: Option<(u64, u64, u64, u64)> = None;
            for (i, f) in folds.iter().enumerate() {
                poll(i)?;
                let a = f.on_array(df);
                let (k, c, v) = (a.tile_rows, a.tile_cols, a.vectors);
                let mut p = ready.stationary_ready(i);
                let mut s = ready.stream_ready(i);
                if let Some((pp, ps, pk, pv)) = prev {
                    p = p.max(pp + pk); // load port
                    if !double {
                        // one bank: after the previous fold's last vector entered
                        p = p.max(ps + pv - 1 + bank_write_lag(k, la));
                    } else if i >= 2 {
                        // the idle bank: after the previous fold's first vector switched the
                        // PEs away from it
                        p = p.max(ps + bank_write_lag(k, la));
                    }
                    s = s.max(ps + pv); // streaming port
                }
                s = s.max(p + k);
                let end = s + v - 1 + rows * la + (c - 1) + lm;
                sink(
                    i,
                    f,
                    FoldTiming {
                        start: p,
                        stream_start: s,
                        end,
                    },
                );
                first_start = first_start.min(p);
                last_end = last_end.max(end);
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
                prev = Some((p, s, k, v));
            }
        }
        Dataflow::Os => {
            let double = cfg.os_output_double_buffer();
            let d = cfg.drain_beats();
            // (stream start, vectors, cycle of the last copy into the output registers).
            let mut prev: Option<(u64, u64, u64)> = None;
            for (i, f) in folds.iter().enumerate() {
                poll(i)?;
                let a = f.on_array(df);
                let (mt, nt, kv) = (a.tile_rows, a.tile_cols, a.vectors);
                // Cycles from the first vector to PE(0,0)'s final sum, and the skew to the far
                // corner PE(mt-1, nt-1).
                let to_first_final = (kv - 1) * la + lm + la;
                let skew = mt + nt - 2;
                let mut s = ready.stream_ready(i);
                if let Some((ps, pk, pt)) = prev {
                    s = s.max(ps + (pk - 1) * la + 1); // streaming port
                    if double {
                        // PE(0,0)'s first copy must not precede the end of the previous drain.
                        s = s.max((pt + d).saturating_sub(to_first_final));
                    } else {
                        s = s.max(pt + d + 1);
                    }
                }
                let last_copy = s + to_first_final + skew;
                let end = last_copy + d;
                sink(
                    i,
                    f,
                    FoldTiming {
                        start: s,
                        stream_start: s,
                        end,
                    },
                );
                first_start = first_start.min(s);
                last_end = last_end.max(end);
                st.stream_vectors += kv;
                st.drain_beats += d;
                st.macs += mt * nt * kv;
                st.ifmap_reads += mt * kv;
                st.filter_reads += kv * nt;
                st.ofmap_writes += mt * nt;
                prev = Some((s, kv, last_copy));
            }
        }
    }
    st.cycles = last_end - first_start + 1;
    st.pe_cycles = st.cycles * cfg.pes();
    Ok(st)
}
