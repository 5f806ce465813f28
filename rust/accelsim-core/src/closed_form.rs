//! The closed-form model of docs/timing.md: total cycles of a GEMM on the array with ideal
//! memory, from M, K, N, groups and the array's knobs alone. It is written from the formulas in
//! the document (sums over residue classes of the fold index, never over folds or cycles), so
//! it is an independent oracle for both engines.

use crate::config::{ArrayConfig, Dataflow};
use crate::gemm::Gemm;

/// How many integers g in [lo, hi] have g mod n == r.
fn count_residue(lo: i128, hi: i128, r: i128, n: i128) -> u64 {
    if hi < lo {
        return 0;
    }
    let below = |x: i128| (x - r).div_euclid(n); // #{g <= x : g ≡ r} up to a constant
    (below(hi) - below(lo - 1)) as u64
}

/// Total cycles of `gemm` on `cfg`'s array with every operand available from cycle 0.
pub fn total_cycles(gemm: &Gemm, cfg: &ArrayConfig) -> u64 {
    let (r, c) = (cfg.rows() as u64, cfg.cols() as u64);
    let (lm, la) = (cfg.mac_latency() as u64, cfg.acc_latency() as u64);
    match cfg.dataflow() {
        Dataflow::Ws | Dataflow::Is => {
            // Stationary tile: K rows (cut by R) x T columns (cut by C); V vectors stream.
            let (t, v) = match cfg.dataflow() {
                Dataflow::Ws => (gemm.n, gemm.m),
                _ => (gemm.m, gemm.n),
            };
            let nk = gemm.k.div_ceil(r);
            let k_last = gemm.k - (nk - 1) * r;
            let t_last = t - (t.div_ceil(c) - 1) * c;
            let folds = gemm.groups * t.div_ceil(c) * nk;
            // Fold g's tile rows depend only on g mod nk.
            let rows_of = |res: u64| if res == nk - 1 { k_last } else { r };
            let lag = |k: u64| (k - 1) * (la - 1);
            let nk_i = nk as i128;
            // S_idx: the stream start of fold idx, summed over residue classes of g mod nk.
            let stream_start = |idx: u64| -> u64 {
                let hi = idx as i128;
                let mut s = rows_of(0);
                if cfg.stationary_double_buffer() {
                    // S_1 = S_0 + max(V, K_1); S_g = S_{g-1} + max(V, lag(K_g) + K_g).
                    if idx >= 1 {
                        s += v.max(rows_of(1 % nk));
                    }
                    for res in 0..nk {
                        let kg = rows_of(res);
                        s += count_residue(2, hi, res as i128, nk_i) * v.max(lag(kg) + kg);
                    }
                } else {
                    // S_g = S_{g-1} + (V - 1) + lag(K_g) + K_g.
                    for res in 0..nk {
                        let kg = rows_of(res);
                        s += count_residue(1, hi, res as i128, nk_i) * (v - 1 + lag(kg) + kg);
                    }
                }
                s
            };
            // A fold ends when its last vector's sum, after mac_latency multiplier stages,
            // has descended all R rows (acc_latency each) in its last tile column. The last
            // fold may be narrower (ragged T); then the last full-width fold, the one before
            // the last T tile's nk folds, can end later.
            let end = |idx: u64, width: u64| stream_start(idx) + v - 1 + r * la + width - 1 + lm;
            let mut last_end = end(folds - 1, t_last);
            if t.div_ceil(c) >= 2 {
                last_end = last_end.max(end(folds - 1 - nk, c));
            }
            last_end + 1
        }
        Dataflow::Os => {
            let (nm, nn) = (gemm.m.div_ceil(r), gemm.n.div_ceil(c));
            let (m_last, n_last) = (gemm.m - (nm - 1) * r, gemm.n - (nn - 1) * c);
            let d = cfg.drain_beats();
            let to_first_final = (gemm.k - 1) * la + lm + la;
            // Fold shapes and how many folds of each (groups x M tiles x N tiles).
            let g = gemm.groups;
            let kinds = [
                (r, c, g * (nm - 1) * (nn - 1)),
                (r, n_last, g * (nm - 1)),
                (m_last, c, g * (nn - 1)),
                (m_last, n_last, g),
            ];
            let tail = to_first_final + m_last + n_last - 2 + d + 1;
            if cfg.os_output_double_buffer() {
                // Fold f+1 starts max((K-1)*acc_latency + 1, skew_f + drain) after fold f;
                // the last fold (an m_last x n_last one) adds its whole latency.
                let mut total = tail;
                for (i, (mt, nt, n)) in kinds.into_iter().enumerate() {
                    let n = if i == 3 { n - 1 } else { n };
                    total += n * ((gemm.k - 1) * la + 1).max(mt + nt - 2 + d);
                }
                total
            } else {
                // Folds run one after another, each its full latency.
                kinds
                    .into_iter()
                    .map(|(mt, nt, n)| n * (to_first_final + mt + nt - 2 + d + 1))
                    .sum()
            }
        }
    }
}
