//! SCALE-Sim 3.0.0's compute model (`compute/systolic_compute_{ws,os,is}.py`) in closed form.
//!
//! SCALE-Sim builds three *demand matrices* per layer, one line per cycle and one column per
//! array row or column, holding the address each edge port reads or writes in that cycle (-1 for
//! none). Every fold contributes the same number of lines, `lines_per_fold`: its operands
//! padded to the array, framed by idle lines for the stationary load and the pipeline's fill and
//! drain, and skewed by one line per column. This module describes those matrices as blocks
//! (which lines and columns of a fold carry data) instead of building them, and computes the
//! compute report's per-fold averages exactly as SCALE-Sim sums them.

use super::layer::Layer;
use super::num::{int_div, PySum};
use crate::config::Dataflow;

/// Where a fold's demand matrix for one operand has data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    /// `skew_matrix` of `prefix` idle lines, then `rows` data lines of `width` used columns:
    /// data row `t`, column `c` is on line `prefix + t + c`.
    Skewed { prefix: u64, rows: u64, width: u64 },
    /// The stationary tile, flipped so its first row enters last: line `l` (of `pad_rows`)
    /// carries tile row `pad_rows - 1 - l` when that row is used (`< rows`), in `width` columns.
    Stationary {
        pad_rows: u64,
        rows: u64,
        width: u64,
    },
}

impl Block {
    /// Calls `f(line, row, col)` for every data cell, line by line, columns ascending (the order
    /// SCALE-Sim's memory model sees the requests).
    #[inline]
    pub(crate) fn for_each(self, mut f: impl FnMut(u64, u64, u64)) {
        match self {
            Block::Skewed {
                prefix,
                rows,
                width,
            } => {
                for line in prefix..prefix + rows + width - 1 {
                    let d = line - prefix;
                    let lo = (d + 1).saturating_sub(rows);
                    let hi = d.min(width - 1);
                    for c in lo..=hi {
                        f(line, d - c, c);
                    }
                }
            }
            Block::Stationary {
                pad_rows,
                rows,
                width,
            } => {
                for line in pad_rows - rows..pad_rows {
                    let row = pad_rows - 1 - line;
                    for c in 0..width {
                        f(line, row, c);
                    }
                }
            }
        }
    }

    /// Data cells on `line`.
    #[inline]
    pub(crate) fn count(self, line: u64) -> u64 {
        match self {
            Block::Skewed {
                prefix,
                rows,
                width,
            } => {
                if line < prefix {
                    return 0;
                }
                let d = line - prefix;
                let lo = (d + 1).saturating_sub(rows);
                let hi = d.min(width - 1);
                if hi >= lo {
                    hi - lo + 1
                } else {
                    0
                }
            }
            Block::Stationary {
                pad_rows,
                rows,
                width,
            } => {
                if line < pad_rows && pad_rows - 1 - line < rows {
                    width
                } else {
                    0
                }
            }
        }
    }

    /// The first and one past the last line that can carry data.
    pub(crate) fn line_span(self) -> (u64, u64) {
        match self {
            Block::Skewed {
                prefix,
                rows,
                width,
            } => (prefix, prefix + rows + width - 1),
            Block::Stationary { pad_rows, rows, .. } => (pad_rows - rows, pad_rows),
        }
    }
}

/// Operand coordinates of a demand cell: `(ifmap pixel, window position)` for the ifmap,
/// `(window position, filter)` for the filter.
pub(crate) type Coords = (u64, u64);

/// One fold: its demand blocks and how their cells map to operand coordinates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fold {
    pub(crate) ifmap: Block,
    pub(crate) filter: Block,
    pub(crate) ofmap: Block,
    dataflow: Dataflow,
    /// Operand offsets of the fold: the first row of the array's rows dimension and the first
    /// column of its columns dimension (which GEMM dimensions depends on the dataflow).
    row0: u64,
    col0: u64,
}

impl Fold {
    /// The ifmap coordinates of cell `(row, col)` of the ifmap block.
    #[inline]
    pub(crate) fn ifmap_coords(&self, row: u64, col: u64) -> Coords {
        match self.dataflow {
            // WS: data row t is output pixel t, column c window position row0 + c.
            Dataflow::Ws => (row, self.row0 + col),
            // OS: data row t is window position t, column c output pixel row0 + c.
            Dataflow::Os => (self.row0 + col, row),
            // IS: tile row p is window position row0 + p, column c output pixel col0 + c.
            Dataflow::Is => (self.col0 + col, self.row0 + row),
        }
    }

    /// The filter coordinates of cell `(row, col)` of the filter block.
    #[inline]
    pub(crate) fn filter_coords(&self, row: u64, col: u64) -> Coords {
        match self.dataflow {
            // WS: tile row p is window position row0 + p, column c filter col0 + c.
            Dataflow::Ws => (self.row0 + row, self.col0 + col),
            // OS: data row t is window position t, column c filter col0 + c.
            Dataflow::Os => (row, self.col0 + col),
            // IS: data row t is filter t, column c window position row0 + c.
            Dataflow::Is => (self.row0 + col, row),
        }
    }
}

/// The fold structure of one layer on one array.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) dataflow: Dataflow,
    pub(crate) rows: u64,
    pub(crate) cols: u64,
    /// The layer's GEMM.
    pub(crate) m: u64,
    pub(crate) k: u64,
    pub(crate) n: u64,
    /// SCALE-Sim's `T`: what streams through time (WS: M, OS: K, IS: N).
    pub(crate) t: u64,
    /// Folds along the outer and the inner loop (`col_fold`, `row_fold`).
    pub(crate) outer: u64,
    pub(crate) inner: u64,
    pub(crate) lines_per_fold: u64,
}

impl Plan {
    pub(crate) fn new(layer: &Layer, dataflow: Dataflow, rows: u64, cols: u64) -> Self {
        let (m, k, n) = (layer.m(), layer.k(), layer.n());
        let (r, c) = (rows, cols);
        // (T, outer folds, inner folds, lines per fold); the outer loop is `fc` in SCALE-Sim.
        let (t, outer, inner, lines) = match dataflow {
            // Sr = K over rows, Sc = N over columns; lines: R load + T + R + C - 2 pipeline.
            Dataflow::Ws => (m, n.div_ceil(c), k.div_ceil(r), m + 2 * r + c - 2),
            // Sr = M over rows, Sc = N over columns; lines: T + R + C - 2 (no drain).
            Dataflow::Os => (k, n.div_ceil(c), m.div_ceil(r), k + r + c - 2),
            // Sr = K over rows, Sc = M over columns; lines as WS with T = N.
            Dataflow::Is => (n, m.div_ceil(c), k.div_ceil(r), n + 2 * r + c - 2),
        };
        Plan {
            dataflow,
            rows,
            cols,
            m,
            k,
            n,
            t,
            outer,
            inner,
            lines_per_fold: lines,
        }
    }

    pub(crate) fn folds(&self) -> u64 {
        self.outer * self.inner
    }

    /// Demand lines of the layer: one per cycle of the compute model.
    #[cfg(test)]
    pub(crate) fn lines(&self) -> u64 {
        self.folds() * self.lines_per_fold
    }

    /// Fold `index` in SCALE-Sim's order (`for fc: for fr:`).
    pub(crate) fn fold(&self, index: u64) -> Fold {
        let (o, i) = (index / self.inner, index % self.inner);
        let (r, c) = (self.rows, self.cols);
        let used = |total: u64, step: u64, at: u64| step.min(total - at * step);
        match self.dataflow {
            Dataflow::Ws => {
                let (ku, nu) = (used(self.k, r, i), used(self.n, c, o));
                Fold {
                    ifmap: Block::Skewed {
                        prefix: r,
                        rows: self.m,
                        width: ku,
                    },
                    filter: Block::Stationary {
                        pad_rows: r,
                        rows: ku,
                        width: nu,
                    },
                    ofmap: Block::Skewed {
                        prefix: 2 * r - 1,
                        rows: self.m,
                        width: nu,
                    },
                    dataflow: self.dataflow,
                    row0: i * r,
                    col0: o * c,
                }
            }
            Dataflow::Os => {
                let (mu, nu) = (used(self.m, r, i), used(self.n, c, o));
                Fold {
                    ifmap: Block::Skewed {
                        prefix: 0,
                        rows: self.k,
                        width: mu,
                    },
                    filter: Block::Skewed {
                        prefix: 0,
                        rows: self.k,
                        width: nu,
                    },
                    // The output tile, padded to R rows and flipped, after T - 1 idle lines: its
                    // used rows are the last `mu` of the R.
                    ofmap: Block::Skewed {
                        prefix: self.k - 1 + r - mu,
                        rows: mu,
                        width: nu,
                    },
                    dataflow: self.dataflow,
                    row0: i * r,
                    col0: o * c,
                }
            }
            Dataflow::Is => {
                let (ku, mu) = (used(self.k, r, i), used(self.m, c, o));
                Fold {
                    ifmap: Block::Stationary {
                        pad_rows: r,
                        rows: ku,
                        width: mu,
                    },
                    filter: Block::Skewed {
                        prefix: r,
                        rows: self.n,
                        width: ku,
                    },
                    ofmap: Block::Skewed {
                        prefix: 2 * r - 1,
                        rows: self.n,
                        width: mu,
                    },
                    dataflow: self.dataflow,
                    row0: i * r,
                    col0: o * c,
                }
            }
        }
    }

    /// PEs a fold maps (`mac_used`): the used part of the R x C tile.
    fn used_pes(&self, index: u64) -> u64 {
        let (o, i) = (index / self.inner, index % self.inner);
        let (r, c) = (self.rows, self.cols);
        let used = |total: u64, step: u64, at: u64| step.min(total - at * step);
        match self.dataflow {
            Dataflow::Ws => used(self.k, r, i) * used(self.n, c, o),
            Dataflow::Os => used(self.m, r, i) * used(self.n, c, o),
            Dataflow::Is => used(self.k, r, i) * used(self.m, c, o),
        }
    }

    /// The `cycles_this_fold` SCALE-Sim divides by for the compute utilization: the shape of
    /// one of its per-fold demand matrices, rows + columns - 1. For WS and IS that is the
    /// unskewed stationary-operand matrix (`2R + C + T - 2` lines) plus `C - 1`, so
    /// `2R + 2C + T - 3`, one skew more than the fold's `lines_per_fold`; for OS the ofmap matrix
    /// before its skew, `T + R + C - 2`.
    fn util_cycles(&self) -> u64 {
        let (r, c, t) = (self.rows, self.cols, self.t);
        match self.dataflow {
            Dataflow::Ws | Dataflow::Is => 2 * r + 2 * c + t - 3,
            Dataflow::Os => t + r + c - 2,
        }
    }

    /// `(mapping efficiency, compute utilization)` as fractions: the means over folds of
    /// `mac_used / (R*C)` and `mac_used * T / (R*C * cycles_this_fold)`, summed left to right
    /// in fold order as SCALE-Sim's `sum()` does.
    pub(crate) fn efficiencies(&self, cancel: &dyn Fn() -> bool) -> Option<(f64, f64)> {
        let pes = u128::from(self.rows * self.cols);
        let denom = pes * u128::from(self.util_cycles());
        let (mut mapping, mut compute) = (PySum::default(), PySum::default());
        // The per-fold values depend only on whether the fold is the last along each loop, so
        // compute the (at most four) distinct values once.
        let last_o = self.outer - 1;
        let last_i = self.inner - 1;
        let value = |index: u64| {
            let used = u128::from(self.used_pes(index));
            (
                int_div(used, pes),
                int_div(used * u128::from(self.t), denom),
            )
        };
        let corner = |o: u64, i: u64| value(o * self.inner + i);
        let table = [
            [corner(0, 0), corner(0, last_i)],
            [corner(last_o, 0), corner(last_o, last_i)],
        ];
        for o in 0..self.outer {
            if o % 4096 == 0 && cancel() {
                return None;
            }
            let row = &table[usize::from(o == last_o)];
            for i in 0..self.inner {
                let (me, cu) = row[usize::from(i == last_i)];
                mapping.add(me);
                compute.add(cu);
            }
        }
        Some((mapping.mean(), compute.mean()))
    }

    /// `(ifmap reads, filter reads, ofmap writes)` at the SRAMs, SCALE-Sim's request counters
    /// (`ifmap_reads`, `filter_reads`, `ofmap_writes` of the compute classes). They count every
    /// cell of the unpadded operand slices, -1 entries (windows over the edge) included; OS also
    /// adds `R + C` per fold to its ofmap writes (the shape of the padded tile, added as if it
    /// were a count).
    pub(crate) fn sram_counts(&self) -> (u64, u64, u64) {
        let (m, k, n) = (self.m, self.k, self.n);
        match self.dataflow {
            Dataflow::Ws => (self.outer * m * k, k * n, self.inner * m * n),
            Dataflow::Os => (
                self.outer * k * m,
                self.inner * k * n,
                m * n + self.folds() * (self.rows + self.cols),
            ),
            Dataflow::Is => (k * m, self.outer * n * k, self.inner * n * m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(b: Block) -> Vec<(u64, u64, u64)> {
        let mut v = vec![];
        b.for_each(|l, r, c| v.push((l, r, c)));
        v
    }

    #[test]
    fn skewed_block_puts_row_t_column_c_on_line_prefix_plus_t_plus_c() {
        let b = Block::Skewed {
            prefix: 2,
            rows: 3,
            width: 2,
        };
        assert_eq!(
            cells(b),
            vec![
                (2, 0, 0),
                (3, 1, 0),
                (3, 0, 1),
                (4, 2, 0),
                (4, 1, 1),
                (5, 2, 1)
            ]
        );
        let counts: Vec<u64> = (0..7).map(|l| b.count(l)).collect();
        assert_eq!(counts, vec![0, 0, 1, 2, 2, 1, 0]);
        assert_eq!(b.line_span(), (2, 6));
    }

    #[test]
    fn stationary_block_is_flipped() {
        let b = Block::Stationary {
            pad_rows: 4,
            rows: 2,
            width: 3,
        };
        let got = cells(b);
        assert_eq!(got.len(), 6);
        assert_eq!(got[0], (2, 1, 0));
        assert_eq!(got[5], (3, 0, 2));
        assert_eq!((0..5).map(|l| b.count(l)).sum::<u64>(), 6);
    }

    #[test]
    fn resnet18_conv1_ws_on_32x32_matches_scalesim() {
        // SCALE-Sim 3.0.0 reports for this layer (tests/fixtures/scalesim/expected/
        // r18first2_32x32_ws): 121939 cycles, mapping 91.875 %, compute 90.93558282208589 %,
        // SRAM reads 3557400 / 9408, writes 3872000.
        let l = Layer::conv(224, 224, 7, 7, 3, 64, 2, 2).unwrap();
        let p = Plan::new(&l, Dataflow::Ws, 32, 32);
        assert_eq!(p.lines() - 1, 121_939);
        let (me, cu) = p.efficiencies(&|| false).unwrap();
        assert_eq!(me * 100.0, 91.875);
        assert_eq!(cu * 100.0, 90.93558282208589);
        assert_eq!(p.sram_counts(), (3_557_400, 9408, 3_872_000));
    }
}
