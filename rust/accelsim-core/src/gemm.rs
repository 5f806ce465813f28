//! The GEMM view of a layer and its folds onto the array.
//!
//! `out[M,N] = A[M,K] @ B[K,N]`, repeated for `groups` independent groups (a grouped or
//! depthwise convolution). A fold is the part of one group's GEMM that the array holds at once;
//! which dimensions are cut depends on the dataflow (see `docs/timing.md`).

use crate::config::{ArrayConfig, Dataflow};
use crate::error::{Error, Result};

/// Largest accepted GEMM dimension (M, K, N) and group count.
pub const MAX_DIM: u64 = 1 << 40;

/// One layer's GEMM: `groups` independent products `A[M,K] @ B[K,N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gemm {
    pub m: u64,
    pub k: u64,
    pub n: u64,
    pub groups: u64,
}

impl Gemm {
    pub fn new(m: u64, k: u64, n: u64, groups: u64) -> Result<Self> {
        for (field, v) in [("m", m), ("k", k), ("n", n), ("groups", groups)] {
            if v == 0 || v > MAX_DIM {
                return Err(Error::workload(
                    field,
                    format!(
                        "{v} is out of range; GEMM dimensions must be integers from 1 to {MAX_DIM}"
                    ),
                ));
            }
        }
        let g = Gemm { m, k, n, groups };
        g.macs_checked()
            .ok_or_else(|| Error::workload("m", "M*K*N*groups overflows a 64-bit count"))?;
        Ok(g)
    }

    fn macs_checked(&self) -> Option<u64> {
        self.m
            .checked_mul(self.k)?
            .checked_mul(self.n)?
            .checked_mul(self.groups)
    }

    /// Multiply-accumulates: M*K*N*groups.
    pub fn macs(&self) -> u64 {
        self.m * self.k * self.n * self.groups
    }
}

/// One fold: the ranges of M, K and N of one group that the array works on at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fold {
    pub group: u64,
    pub m0: u64,
    pub m: u64,
    pub k0: u64,
    pub k: u64,
    pub n0: u64,
    pub n: u64,
}

/// The fold as the array sees it, independent of which GEMM operand plays which role.
///
/// For WS and IS (`stationary` dataflows) the stationary tile occupies `tile_rows` x
/// `tile_cols` PEs and `vectors` operand vectors stream past it. For OS the output tile occupies
/// `tile_rows` x `tile_cols` PEs and `vectors` (= K) operand vector pairs stream in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrayFold {
    pub tile_rows: u64,
    pub tile_cols: u64,
    pub vectors: u64,
}

impl Fold {
    pub fn on_array(&self, dataflow: Dataflow) -> ArrayFold {
        match dataflow {
            Dataflow::Ws => ArrayFold {
                tile_rows: self.k,
                tile_cols: self.n,
                vectors: self.m,
            },
            Dataflow::Is => ArrayFold {
                tile_rows: self.k,
                tile_cols: self.m,
                vectors: self.n,
            },
            Dataflow::Os => ArrayFold {
                tile_rows: self.m,
                tile_cols: self.n,
                vectors: self.k,
            },
        }
    }
}

fn tiles(total: u64, step: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..total.div_ceil(step)).map(move |i| (i * step, step.min(total - i * step)))
}

/// Number of folds of `gemm` on `cfg`'s array.
pub fn fold_count(gemm: &Gemm, cfg: &ArrayConfig) -> u64 {
    let (r, c) = (cfg.rows() as u64, cfg.cols() as u64);
    let per_group = match cfg.dataflow() {
        Dataflow::Ws => gemm.k.div_ceil(r) * gemm.n.div_ceil(c),
        Dataflow::Is => gemm.k.div_ceil(r) * gemm.m.div_ceil(c),
        Dataflow::Os => gemm.m.div_ceil(r) * gemm.n.div_ceil(c),
    };
    per_group * gemm.groups
}

/// Largest number of folds a single simulation accepts (each fold is kept as a record).
pub const MAX_FOLDS: u64 = 1 << 28;

/// The default fold order (groups outermost):
/// - WS: N tiles outer, K tiles inner (partial sums of one output block come out back to back);
///   every fold streams all M rows of A.
/// - IS: M tiles outer, K tiles inner; every fold streams all N columns of B.
/// - OS: M tiles outer, N tiles inner; every fold streams all K.
pub fn default_folds(gemm: &Gemm, cfg: &ArrayConfig) -> Result<Vec<Fold>> {
    let count = fold_count(gemm, cfg);
    if count > MAX_FOLDS {
        return Err(Error::workload(
            "m",
            format!("the GEMM needs {count} folds on this array; at most {MAX_FOLDS} are supported per layer"),
        ));
    }
    let (r, c) = (cfg.rows() as u64, cfg.cols() as u64);
    let mut folds = Vec::with_capacity(count as usize);
    for group in 0..gemm.groups {
        match cfg.dataflow() {
            Dataflow::Ws => {
                for (n0, n) in tiles(gemm.n, c) {
                    for (k0, k) in tiles(gemm.k, r) {
                        folds.push(Fold {
                            group,
                            m0: 0,
                            m: gemm.m,
                            k0,
                            k,
                            n0,
                            n,
                        });
                    }
                }
            }
            Dataflow::Is => {
                for (m0, m) in tiles(gemm.m, c) {
                    for (k0, k) in tiles(gemm.k, r) {
                        folds.push(Fold {
                            group,
                            m0,
                            m,
                            k0,
                            k,
                            n0: 0,
                            n: gemm.n,
                        });
                    }
                }
            }
            Dataflow::Os => {
                for (m0, m) in tiles(gemm.m, r) {
                    for (n0, n) in tiles(gemm.n, c) {
                        folds.push(Fold {
                            group,
                            m0,
                            m,
                            k0: 0,
                            k: gemm.k,
                            n0,
                            n,
                        });
                    }
                }
            }
        }
    }
    Ok(folds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ArrayConfig;

    #[test]
    fn folds_cover_every_mac_once() {
        let g = Gemm::new(37, 19, 41, 2).unwrap();
        for df in Dataflow::ALL {
            let cfg = ArrayConfig::square_default(8, 5, *df).unwrap();
            let folds = default_folds(&g, &cfg).unwrap();
            assert_eq!(folds.len() as u64, fold_count(&g, &cfg));
            let macs: u64 = folds.iter().map(|f| f.m * f.k * f.n).sum();
            assert_eq!(macs, g.macs());
            for f in &folds {
                let a = f.on_array(*df);
                assert!(a.tile_rows <= 8 && a.tile_cols <= 5, "{df:?} {f:?}");
            }
        }
    }

    #[test]
    fn rejects_zero_dimensions() {
        let err = Gemm::new(4, 0, 4, 1).unwrap_err();
        assert!(
            matches!(&err, Error::Workload { field, .. } if field == "k"),
            "{err}"
        );
    }
}
