//! The search space of one layer: tile sizes along M, K and N, a loop order, and a dataflow
//! (one, unless the hardware offers several). Only tilings whose tiles fit their buffers and
//! that cut the layer into at most [`MAX_SPACE_TILES`] tiles are in it, and the default tiling
//! (`choose_tiling`) always is; loop orders that visit the same tiles in the same order (they
//! differ only where a loop has a single tile) appear once.

use crate::config::{ArrayConfig, Dataflow};
use crate::error::{Error, Result};
use crate::gemm::{Gemm, MAX_FOLDS};
use crate::memory::{choose_tiling, LoopOrder, MemoryConfig, Tiling};
use std::collections::HashMap;

/// One point of the space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Candidate {
    pub tiling: Tiling,
    pub dataflow: Dataflow,
}

/// Tile sizes tried along a dimension of `full` elements whose array granule is `granule`:
/// every size the default chooser tries (powers of two, powers of two times the granule, the
/// whole dimension) and every balanced multiple of the granule (the smallest multiple of it
/// that cuts the dimension into a given number of tiles), ascending.
pub fn tile_sizes(full: u64, granule: u64) -> Vec<u64> {
    let g = granule.max(1);
    let mut v = Vec::new();
    for base in [1, g] {
        let mut s = base;
        while s < full {
            v.push(s);
            s *= 2;
        }
    }
    let units = full.div_ceil(g);
    let mut c = 1;
    while c <= units {
        let per = units.div_ceil(c);
        v.push((per * g).min(full));
        // The next count that changes the size.
        c = units.div_ceil(per.max(2) - 1).max(c + 1);
        if per == 1 {
            break;
        }
    }
    v.push(full);
    v.retain(|&s| s >= 1 && s <= full);
    v.sort_unstable();
    v.dedup();
    v
}

/// The array's granule along M, K and N for a dataflow (the default chooser's: the stationary
/// tile's sides for WS and IS, the output tile's for OS).
pub fn granules(array: &ArrayConfig, df: Dataflow) -> (u64, u64, u64) {
    let (r, c) = (array.rows() as u64, array.cols() as u64);
    match df {
        Dataflow::Ws => (r, r, c),
        Dataflow::Is => (c, r, c),
        Dataflow::Os => (r, r, c),
    }
}

/// Most tiles a candidate may cut a layer into (per group times groups). Tilings of more
/// tiles are left out: every tile pays the DMA's and the array's per-tile overheads, and one
/// such candidate costs milliseconds to score with a cycle-level DRAM.
pub const MAX_SPACE_TILES: u64 = 1 << 14;

/// The loops of `order` that have more than one tile, outermost first: two orders with the
/// same signature visit the same tiles in the same order.
fn signature(order: LoopOrder, counts: [u64; 3]) -> [u8; 3] {
    let mut sig = [3u8; 3];
    let mut j = 0;
    for d in order.name().bytes() {
        let i = match d {
            b'm' => 0,
            b'k' => 1,
            _ => 2,
        };
        if counts[i as usize] > 1 {
            sig[j] = i;
            j += 1;
        }
    }
    sig
}

/// The candidates of one layer, in a fixed order (dataflow as given, then M, K and N tile
/// sizes ascending, then loop order as in `LoopOrder::ALL`; the default tiling last if the tile
/// limit left it out); a candidate's id is its index.
#[derive(Debug, Clone)]
pub struct Space {
    pub gemm: Gemm,
    pub candidates: Vec<Candidate>,
    /// Per dataflow: the sizes tried along M, K, N.
    pub sizes: Vec<(Dataflow, [Vec<u64>; 3])>,
    index: HashMap<Candidate, usize>,
}

impl Space {
    /// Every legal candidate of `gemm` on `array` (its rows, columns and latencies) with
    /// dataflows `dataflows` (the array's own when empty) and the buffers of `mem`.
    pub fn new(
        gemm: &Gemm,
        array: &ArrayConfig,
        mem: &MemoryConfig,
        dataflows: &[Dataflow],
    ) -> Result<Space> {
        let mut dfs: Vec<Dataflow> = Vec::new();
        for &d in dataflows {
            if !dfs.contains(&d) {
                dfs.push(d);
            }
        }
        if dfs.is_empty() {
            dfs.push(array.dataflow());
        }
        let mut candidates = Vec::new();
        let mut sizes = Vec::new();
        let mut first_err = None;
        let mut too_many = 0u64;
        for &df in &dfs {
            let (gm, gk, gn) = granules(array, df);
            let dims = [
                tile_sizes(gemm.m, gm),
                tile_sizes(gemm.k, gk),
                tile_sizes(gemm.n, gn),
            ];
            for &m in &dims[0] {
                for &k in &dims[1] {
                    for &n in &dims[2] {
                        let t = Tiling {
                            m,
                            k,
                            n,
                            order: LoopOrder::Mnk,
                        };
                        if !t.fits(gemm, mem) {
                            if first_err.is_none() {
                                first_err = t.check(gemm, mem).err();
                            }
                            continue;
                        }
                        let counts = [gemm.m.div_ceil(m), gemm.k.div_ceil(k), gemm.n.div_ceil(n)];
                        let tiles = gemm.groups.saturating_mul(counts.iter().product());
                        if tiles > MAX_SPACE_TILES.min(MAX_FOLDS) {
                            too_many += 1;
                            continue;
                        }
                        let mut seen: Vec<[u8; 3]> = Vec::with_capacity(6);
                        for &order in LoopOrder::ALL {
                            let sig = signature(order, counts);
                            if seen.contains(&sig) {
                                continue;
                            }
                            seen.push(sig);
                            candidates.push(Candidate {
                                tiling: Tiling { order, ..t },
                                dataflow: df,
                            });
                        }
                    }
                }
            }
            sizes.push((df, dims));
        }
        // The default tiling is always in the space (even past the tile limit), so no search
        // answers worse than it and none fails where the default chooser succeeds.
        if dfs.contains(&array.dataflow()) {
            if let Ok(t) = choose_tiling(gemm, array, mem) {
                let tiles = gemm.groups.saturating_mul(t.counts(gemm).iter().product());
                let counts = [
                    gemm.m.div_ceil(t.m),
                    gemm.k.div_ceil(t.k),
                    gemm.n.div_ceil(t.n),
                ];
                let sig = signature(t.order, counts);
                let present = candidates.iter().any(|c| {
                    c.dataflow == array.dataflow()
                        && (c.tiling.m, c.tiling.k, c.tiling.n) == (t.m, t.k, t.n)
                        && signature(c.tiling.order, counts) == sig
                });
                if !present && tiles <= MAX_FOLDS {
                    candidates.push(Candidate {
                        tiling: t,
                        dataflow: array.dataflow(),
                    });
                }
            }
        }
        if candidates.is_empty() {
            if too_many > 0 {
                return Err(Error::config(
                    "tiling",
                    format!(
                        "every tiling that fits the buffers cuts the layer into more than \
                         {MAX_SPACE_TILES} tiles, more than the search considers; use larger \
                         buffers"
                    ),
                ));
            }
            return Err(
                first_err.unwrap_or_else(|| Error::config("tiling", "no tiling fits the buffers"))
            );
        }
        let index = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i))
            .collect();
        Ok(Space {
            gemm: *gemm,
            candidates,
            sizes,
            index,
        })
    }

    pub fn len(&self) -> usize {
        self.candidates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }

    /// The id of `c`, or of the candidate that runs the same tiles in the same order.
    pub fn find(&self, c: &Candidate) -> Option<usize> {
        let g = &self.gemm;
        let t = &c.tiling;
        let counts = [g.m.div_ceil(t.m), g.k.div_ceil(t.k), g.n.div_ceil(t.n)];
        let sig = signature(c.tiling.order, counts);
        LoopOrder::ALL
            .iter()
            .filter(|&&o| signature(o, counts) == sig)
            .find_map(|&order| {
                self.index.get(&Candidate {
                    tiling: Tiling { order, ..c.tiling },
                    dataflow: c.dataflow,
                })
            })
            .copied()
    }

    /// Candidates one step away from `id`: the next smaller or larger size along one
    /// dimension, or another loop order (same dataflow), in id order.
    pub fn neighbors(&self, id: usize) -> Vec<usize> {
        let c = self.candidates[id];
        let Some((_, dims)) = self.sizes.iter().find(|(d, _)| *d == c.dataflow) else {
            return Vec::new();
        };
        let t = c.tiling;
        let mut out = Vec::new();
        let cur = [t.m, t.k, t.n];
        for (d, list) in dims.iter().enumerate() {
            let Ok(pos) = list.binary_search(&cur[d]) else {
                continue;
            };
            for p in [pos.checked_sub(1), Some(pos + 1)].into_iter().flatten() {
                if let Some(&s) = list.get(p) {
                    let mut v = cur;
                    v[d] = s;
                    let n = Candidate {
                        tiling: Tiling {
                            m: v[0],
                            k: v[1],
                            n: v[2],
                            order: t.order,
                        },
                        dataflow: c.dataflow,
                    };
                    if let Some(i) = self.find(&n) {
                        out.push(i);
                    }
                }
            }
        }
        for &order in LoopOrder::ALL {
            let n = Candidate {
                tiling: Tiling { order, ..t },
                dataflow: c.dataflow,
            };
            if let Some(i) = self.find(&n) {
                out.push(i);
            }
        }
        out.sort_unstable();
        out.dedup();
        out.retain(|&i| i != id);
        out
    }
}
