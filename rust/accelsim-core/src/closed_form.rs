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
            let (nk_i, f_i) = (nk as i128, folds as i128);
            // S_{F-1}: the stream start of the last fold.
            let mut s_last = rows_of(0);
            if cfg.stationary_double_buffer() {
                // S_1 = S_0 + max(V, K_1); S_g = S_{g-1} + max(V, lag(K_g) + K_g).
                if folds >= 2 {
                    s_last += v.max(rows_of(1 % nk));
                }
                for res in 0..nk {
                    let n = count_residue(2, f_i - 1, res as i128, nk_i);
                    let kg = rows_of(res);
                    s_last += n * v.max(lag(kg) + kg);
                }
            } else {
                // S_g = S_{g-1} + (V - 1) + lag(K_g) + K_g.
                for res in 0..nk {
                    let n = count_residue(1, f_i - 1, res as i128, nk_i);
                    let kg = rows_of(res);
                    s_last += n * (v - 1 + lag(kg) + kg);
                }
            }
            // The last fold streams V vectors; its last sum descends all R rows (acc_latency
            // each) from its last tile column, after mac_latency multiplier stages.
            s_last + v + r * la + t_last + lm - 1
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
