//! Tiling: each layer's GEMM is cut into memory tiles `(M_t, K_t, N_t)` visited in a loop order,
//! such that one tile of each operand fits its buffer (half of it when double buffered).

use super::{BufferConfig, MemoryConfig};
use crate::config::{named_enum, ArrayConfig, Dataflow};
use crate::error::{Error, Result};
use crate::gemm::Gemm;

named_enum!(
    /// A loop nest over the tile indices, outermost first (`Mnk`: for m { for n { for k } }).
    #[derive(PartialOrd, Ord)]
    LoopOrder, "order", {
        Mnk => "mnk",
        Mkn => "mkn",
        Nmk => "nmk",
        Nkm => "nkm",
        Kmn => "kmn",
        Knm => "knm",
    }
);

/// GEMM dimensions, as loop variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    M,
    K,
    N,
}

impl LoopOrder {
    /// The loops, outermost first.
    pub fn dims(self) -> [Dim; 3] {
        use Dim::*;
        match self {
            LoopOrder::Mnk => [M, N, K],
            LoopOrder::Mkn => [M, K, N],
            LoopOrder::Nmk => [N, M, K],
            LoopOrder::Nkm => [N, K, M],
            LoopOrder::Kmn => [K, M, N],
            LoopOrder::Knm => [K, N, M],
        }
    }
}

/// Tile sizes and the order tiles are visited in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tiling {
    pub m: u64,
    pub k: u64,
    pub n: u64,
    pub order: LoopOrder,
}

impl Tiling {
    fn tile(&self, d: Dim) -> u64 {
        match d {
            Dim::M => self.m,
            Dim::K => self.k,
            Dim::N => self.n,
        }
    }

    /// Number of tiles along each loop of `order`, outermost first.
    pub fn counts(&self, g: &Gemm) -> [u64; 3] {
        self.order
            .dims()
            .map(|d| dim_of(g, d).div_ceil(self.tile(d)))
    }

    /// Check that every tile fits its buffer; the error names the buffer, its capacity and what
    /// the tiling asked for.
    /// Whether [`Self::check`] passes (without building its error message).
    pub fn fits(&self, g: &Gemm, mem: &MemoryConfig) -> bool {
        let dims_ok = [(self.m, g.m), (self.k, g.k), (self.n, g.n)]
            .iter()
            .all(|&(v, full)| v >= 1 && v <= full);
        let fits = |buf: &BufferConfig, rows: u64, cols: u64| {
            rows * cols * buf.word_bytes as u64 <= buf.tile_capacity()
        };
        dims_ok
            && fits(&mem.ifmap, self.m, self.k)
            && fits(&mem.filter, self.k, self.n)
            && fits(&mem.ofmap, self.m, self.n)
    }

    pub fn check(&self, g: &Gemm, mem: &MemoryConfig) -> Result<()> {
        for (name, v, full) in [("m", self.m, g.m), ("k", self.k, g.k), ("n", self.n, g.n)] {
            if v == 0 || v > full {
                return Err(Error::config(
                    &format!("tiling.{name}"),
                    format!("{v} is out of range; a tile dimension must be from 1 to the GEMM's {} = {full}", name.to_uppercase()),
                ));
            }
        }
        let fits = |buf: &BufferConfig,
                    name: &str,
                    rows: u64,
                    cols: u64,
                    what: &str|
         -> Result<()> {
            let need = rows * cols * buf.word_bytes as u64;
            let cap = buf.tile_capacity();
            if need > cap {
                let half = if buf.double_buffered {
                    " (half of a double-buffered buffer)"
                } else {
                    ""
                };
                return Err(Error::config(
                    name,
                    format!(
                        "a {what} tile of {rows} x {cols} words of {} B needs {need} B, but the {name} buffer of {} B holds {cap} B per tile{half}",
                        buf.word_bytes, buf.size_bytes
                    ),
                ));
            }
            Ok(())
        };
        fits(&mem.ifmap, "ifmap", self.m, self.k, "M_t x K_t ifmap")?;
        fits(&mem.filter, "filter", self.k, self.n, "K_t x N_t filter")?;
        fits(&mem.ofmap, "ofmap", self.m, self.n, "M_t x N_t partial-sum")?;
        Ok(())
    }
}

pub(crate) fn dim_of(g: &Gemm, d: Dim) -> u64 {
    match d {
        Dim::M => g.m,
        Dim::K => g.k,
        Dim::N => g.n,
    }
}

/// DRAM traffic of a tiling, in closed form (the system's simulated counts must equal it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrafficEstimate {
    pub ifmap_bytes: u64,
    pub filter_bytes: u64,
    pub ofmap_bytes: u64,
    pub psum_read_bytes: u64,
    pub psum_write_bytes: u64,
}

impl TrafficEstimate {
    pub fn total(&self) -> u64 {
        self.ifmap_bytes
            + self.filter_bytes
            + self.ofmap_bytes
            + self.psum_read_bytes
            + self.psum_write_bytes
    }

    /// An operand depending on two of the three loops is reloaded once per iteration of the
    /// loops outside its innermost own loop that are not its own: its bytes times the product
    /// of those loops' tile counts. A loop of one tile changes nothing, so the innermost own
    /// loop is the innermost one with more than one tile (none: loaded once). Per group;
    /// multiplied by `groups`.
    pub fn of(t: &Tiling, g: &Gemm, mem: &MemoryConfig) -> Self {
        let dims = t.order.dims();
        let counts = t.counts(g);
        let repeats = |own: [Dim; 2]| -> u64 {
            match (0..3)
                .rev()
                .find(|&i| own.contains(&dims[i]) && counts[i] > 1)
            {
                Some(innermost) => (0..innermost)
                    .filter(|&i| !own.contains(&dims[i]))
                    .map(|i| counts[i])
                    .product(),
                None => 1,
            }
        };
        let n_k = g.k.div_ceil(t.k);
        let out_elems = g.m * g.n;
        // Visits of each output tile: once if K is inside its loops, else once per K tile.
        let visits = if mem.accumulator {
            repeats([Dim::M, Dim::N])
        } else {
            n_k
        };
        let psum = 4 * out_elems * (visits - 1);
        TrafficEstimate {
            ifmap_bytes: g.groups
                * repeats([Dim::M, Dim::K])
                * g.m
                * g.k
                * mem.ifmap.word_bytes as u64,
            filter_bytes: g.groups
                * repeats([Dim::K, Dim::N])
                * g.k
                * g.n
                * mem.filter.word_bytes as u64,
            ofmap_bytes: g.groups * out_elems * mem.output_bytes as u64,
            psum_read_bytes: g.groups * psum,
            psum_write_bytes: g.groups * psum,
        }
    }
}

/// Candidate sizes for one dimension: powers of two and powers-of-two multiples of the array's
/// granule that are smaller than the dimension, and the dimension itself.
fn candidates(full: u64, granule: u64) -> Vec<u64> {
    let mut v = Vec::new();
    for base in [1, granule.max(1)] {
        let mut s = base;
        while s < full {
            v.push(s);
            s *= 2;
        }
    }
    v.push(full);
    v.sort_unstable();
    v.dedup();
    v
}

/// The default tiling: among tiles that fit, the one with the least DRAM traffic; ties go to
/// fewer tiles, then to the first loop order in `LoopOrder::ALL`. Errors when not even the
/// smallest candidate fits, naming the buffer.
pub fn choose_tiling(g: &Gemm, array: &ArrayConfig, mem: &MemoryConfig) -> Result<Tiling> {
    let (r, c) = (array.rows() as u64, array.cols() as u64);
    // The array's granule along each dimension: the stationary tile's sides for WS/IS, the
    // output tile's for OS; the streamed dimension in units of the array's side too.
    let (gm, gk, gn) = match array.dataflow() {
        Dataflow::Ws => (r, r, c),
        Dataflow::Is => (c, r, c),
        Dataflow::Os => (r, r, c),
    };
    let mut best: Option<(u64, u64, Tiling)> = None;
    let mut first_err = None;
    for &m in &candidates(g.m, gm) {
        for &k in &candidates(g.k, gk) {
            for &n in &candidates(g.n, gn) {
                for &order in LoopOrder::ALL {
                    let t = Tiling { m, k, n, order };
                    if !t.fits(g, mem) {
                        if first_err.is_none() {
                            first_err = t.check(g, mem).err();
                        }
                        continue;
                    }
                    let cost = TrafficEstimate::of(&t, g, mem).total();
                    let tiles: u64 = t.counts(g).iter().product();
                    let key = (cost, tiles);
                    if best.as_ref().is_none_or(|(bc, bt, _)| key < (*bc, *bt)) {
                        best = Some((cost, tiles, t));
                    }
                }
            }
        }
    }
    match best {
        Some((_, _, t)) => Ok(t),
        None => {
            // Report the smallest tile's failure: that is what no tiling can get under.
            let smallest = Tiling {
                m: 1.min(g.m),
                k: 1.min(g.k),
                n: 1.min(g.n),
                order: LoopOrder::Mnk,
            };
            Err(smallest
                .check(g, mem)
                .err()
                .or(first_err)
                .unwrap_or_else(|| Error::config("tiling", "no tiling fits the buffers")))
        }
    }
}
