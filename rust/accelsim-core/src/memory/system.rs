//! One layer through the memory system: tiles in loop order, DMA loads into buffer halves
//! (prefetched one tile ahead when double buffered), output tiles accumulated on chip and
//! written back (or spilled as partial sums), the array's folds stepped with the resulting
//! operand readiness, and every cycle the array waited attributed to the operand it waited for.

use super::backend::{Backend, BandwidthModel, Transfer};
use super::tiling::{choose_tiling, dim_of, Dim, Tiling};
use super::{roles, EnergyStats, MemStats, MemoryConfig, Operand};
use crate::config::{ArrayConfig, Dataflow};
use crate::error::{Error, Result};
use crate::fast::FastArray;
use crate::gemm::{default_folds, Fold, Gemm, MAX_FOLDS};
use crate::stats::GemmStats;
use crate::timing::{CancelHook, FoldTiming};

/// A layer simulated with its memory system.
#[derive(Debug, Clone)]
pub struct LayerResult {
    /// The array's statistics; `cycles` spans the whole layer, from its first DMA transfer to
    /// its last write-back.
    pub array: GemmStats,
    pub mem: MemStats,
    pub energy: EnergyStats,
    pub tiling: Tiling,
    /// Per-fold timing, when asked for.
    pub folds: Vec<(Fold, FoldTiming)>,
}

/// One memory tile of the GEMM.
#[derive(Debug, Clone, Copy)]
struct Tile {
    group: u64,
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
            Operand::Ifmap => (self.group, self.m0, self.k0),
            Operand::Filter => (self.group, self.k0, self.n0),
            Operand::Ofmap => (self.group, self.m0, self.n0),
        }
    }
}

fn tiles(g: &Gemm, t: &Tiling) -> Vec<Tile> {
    let dims = t.order.dims();
    let size = |d: Dim| match d {
        Dim::M => t.m,
        Dim::K => t.k,
        Dim::N => t.n,
    };
    let ranges = |d: Dim| -> Vec<(u64, u64)> {
        let (full, step) = (dim_of(g, d), size(d));
        (0..full.div_ceil(step))
            .map(|i| (i * step, step.min(full - i * step)))
            .collect()
    };
    let (r0, r1, r2) = (ranges(dims[0]), ranges(dims[1]), ranges(dims[2]));
    let mut out = Vec::with_capacity((g.groups as usize) * r0.len() * r1.len() * r2.len());
    for group in 0..g.groups {
        for a in &r0 {
            for b in &r1 {
                for c in &r2 {
                    let mut tile = Tile {
                        group,
                        m0: 0,
                        m: 0,
                        k0: 0,
                        k: 0,
                        n0: 0,
                        n: 0,
                    };
                    for (d, (o, l)) in dims.iter().zip([a, b, c]) {
                        match d {
                            Dim::M => (tile.m0, tile.m) = (*o, *l),
                            Dim::K => (tile.k0, tile.k) = (*o, *l),
                            Dim::N => (tile.n0, tile.n) = (*o, *l),
                        }
                    }
                    out.push(tile);
                }
            }
        }
    }
    out
}

/// Loads of one input operand into its buffer's halves.
struct InputStream {
    op: Operand,
    double: bool,
    word_bytes: u64,
    /// Per load: (cycle its data is usable, cycle of the last read by the array so far).
    loads: Vec<(u64, u64)>,
    last_key: Option<(u64, u64, u64)>,
    /// Load index of each tile.
    tile_load: Vec<usize>,
}

impl InputStream {
    fn new(op: Operand, double: bool, word_bytes: u32, n_tiles: usize) -> Self {
        InputStream {
            op,
            double,
            word_bytes: word_bytes as u64,
            loads: Vec::new(),
            last_key: None,
            tile_load: Vec::with_capacity(n_tiles),
        }
    }

    /// Issue the load tile `t` needs, if it needs a new one. Its half is free once the load that
    /// last used it has been read for the last time.
    fn issue<B: Backend>(&mut self, t: &Tile, backend: &mut B, st: &mut MemStats) {
        let key = t.key(self.op);
        if self.last_key == Some(key) {
            self.tile_load.push(self.loads.len() - 1);
            return;
        }
        let j = self.loads.len();
        let reuse_distance = if self.double { 2 } else { 1 };
        let start = if j >= reuse_distance {
            self.loads[j - reuse_distance].1 + 1
        } else {
            0
        };
        let (rows, cols) = match self.op {
            Operand::Ifmap => (t.m, t.k),
            _ => (t.k, t.n),
        };
        let words = rows * cols;
        let bytes = words * self.word_bytes;
        let done = backend.serve(&Transfer {
            start,
            bytes,
            write: false,
        });
        self.loads.push((done + 1, 0));
        self.last_key = Some(key);
        self.tile_load.push(j);
        st.dram_read_bytes += bytes;
        match self.op {
            Operand::Ifmap => {
                st.dram_ifmap_bytes += bytes;
                st.ifmap_sram_writes += words;
            }
            _ => {
                st.dram_filter_bytes += bytes;
                st.filter_sram_writes += words;
            }
        }
    }

    fn ready(&self, tile: usize) -> u64 {
        self.loads[self.tile_load[tile]].0
    }

    fn read_until(&mut self, tile: usize, cycle: u64) {
        let l = &mut self.loads[self.tile_load[tile]];
        l.1 = l.1.max(cycle);
    }
}

/// Simulate one layer on `array` with the memory system `mem`; `tiling` overrides the default
/// chooser.
pub fn simulate_layer(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    gemm: &Gemm,
    tiling: Option<Tiling>,
    keep_folds: bool,
    cancel: CancelHook<'_>,
) -> Result<LayerResult> {
    mem.validate()?;
    let tiling = match tiling {
        Some(t) => {
            t.check(gemm, mem)?;
            t
        }
        None => choose_tiling(gemm, array, mem)?,
    };
    let tile_count = gemm.groups * tiling.counts(gemm).iter().product::<u64>();
    if tile_count > MAX_FOLDS {
        return Err(Error::config(
            "tiling",
            format!("{tile_count} tiles; at most {MAX_FOLDS} per layer"),
        ));
    }
    let tiles = tiles(gemm, &tiling);
    let df = array.dataflow();
    let (stationary_op, stream_op) = roles(df);
    let mut backend = match mem.dram {
        super::DramModel::Bandwidth { .. } => BandwidthModel::new(&mem.dram),
    };
    let mut st = MemStats {
        tiles: tiles.len() as u64,
        ..Default::default()
    };
    let mut ifmap = InputStream::new(
        Operand::Ifmap,
        mem.ifmap.double_buffered,
        mem.ifmap.word_bytes,
        tiles.len(),
    );
    let mut filter = InputStream::new(
        Operand::Filter,
        mem.filter.double_buffered,
        mem.filter.word_bytes,
        tiles.len(),
    );
    let mut fast = FastArray::new(array);
    let mut kept = Vec::new();
    let mut folds_done = 0usize;

    // Output visits: a run of consecutive tiles with the same output tile (only one tile per
    // visit without the accumulator). Per visit: the cycle its buffer half is free again.
    let mut visit_release: Vec<u64> = Vec::new();
    let out_reuse = if mem.ofmap.double_buffered { 2 } else { 1 };
    let mut ofmap_ready = 0u64;
    let mut visit_end = 0u64; // last result of the current visit
    let mut visit_words = 0u64; // array results written into the current visit's half
    let mut visit_readback = false;
    let mut last_end = 0u64;
    let mut last_dma = 0u64;

    let issue_inputs = |i: usize,
                        ifmap: &mut InputStream,
                        filter: &mut InputStream,
                        backend: &mut BandwidthModel,
                        st: &mut MemStats,
                        double_pass: bool| {
        for s in [ifmap, filter] {
            if s.double == double_pass && s.tile_load.len() == i {
                s.issue(&tiles[i], backend, st);
            }
        }
    };

    for i in 0..tiles.len() {
        let t = tiles[i];
        // Loads this tile needs that could not be prefetched, then the next tile's prefetch
        // (double-buffered operands only: its half was released by a tile already simulated).
        issue_inputs(i, &mut ifmap, &mut filter, &mut backend, &mut st, true);
        issue_inputs(i, &mut ifmap, &mut filter, &mut backend, &mut st, false);
        if i + 1 < tiles.len() {
            issue_inputs(i + 1, &mut ifmap, &mut filter, &mut backend, &mut st, true);
        }

        // A new output visit needs a free ofmap half and, for a tile with earlier K partial
        // sums off chip, those sums read back.
        let new_visit =
            i == 0 || !mem.accumulator || tiles[i - 1].key(Operand::Ofmap) != t.key(Operand::Ofmap);
        let out_words = t.m * t.n;
        if new_visit {
            let v = visit_release.len();
            let free = if v >= out_reuse {
                visit_release[v - out_reuse]
            } else {
                0
            };
            ofmap_ready = free;
            visit_readback = t.k0 > 0;
            if visit_readback {
                let bytes = 4 * out_words;
                let done = backend.serve(&Transfer {
                    start: free,
                    bytes,
                    write: false,
                });
                ofmap_ready = done + 1;
                last_dma = last_dma.max(done);
                st.dram_read_bytes += bytes;
                st.dram_psum_read_bytes += bytes;
                st.ofmap_sram_writes += out_words;
            }
            visit_end = 0;
            visit_words = 0;
            visit_release.push(u64::MAX); // set when the visit is written back
        }

        // The array runs the tile's folds.
        let sub = Gemm {
            m: t.m,
            k: t.k,
            n: t.n,
            groups: 1,
        };
        for f in default_folds(&sub, array)? {
            let fold = Fold {
                group: t.group,
                m0: t.m0 + f.m0,
                k0: t.k0 + f.k0,
                n0: t.n0 + f.n0,
                ..f
            };
            let ready_of = |op: Operand| match op {
                Operand::Ifmap => ifmap.ready(i),
                Operand::Filter => filter.ready(i),
                Operand::Ofmap => ofmap_ready,
            };
            let (stat_ready, stream_inputs) = match df {
                Dataflow::Os => (0, ready_of(Operand::Ifmap).max(ready_of(Operand::Filter))),
                _ => (ready_of(stationary_op), ready_of(stream_op)),
            };
            let step = fast.step(&fold, stat_ready, stream_inputs.max(ofmap_ready));
            // Attribute the wait to the operand the stream start waited for.
            let stall = step.timing.stream_start - step.array_stream_start;
            if stall > 0 {
                let cause = if step.waited_on_load {
                    stationary_op
                } else {
                    let candidates: &[Operand] = match df {
                        Dataflow::Os => &[Operand::Ifmap, Operand::Filter, Operand::Ofmap],
                        _ => &[stream_op, Operand::Ofmap],
                    };
                    *candidates
                        .iter()
                        .max_by_key(|op| (ready_of(**op), std::cmp::Reverse(**op as u8)))
                        .unwrap()
                };
                match cause {
                    Operand::Ifmap => st.stall_ifmap_cycles += stall,
                    Operand::Filter => st.stall_filter_cycles += stall,
                    Operand::Ofmap => st.stall_ofmap_cycles += stall,
                }
            }
            let (ifmap_last, filter_last) = match df {
                Dataflow::Ws => (step.last_stream_read, step.last_stationary_read),
                Dataflow::Is => (step.last_stationary_read, step.last_stream_read),
                Dataflow::Os => (step.last_stream_read, step.last_stream_read),
            };
            ifmap.read_until(i, ifmap_last);
            filter.read_until(i, filter_last);
            let a = fold.on_array(df);
            visit_words += match df {
                Dataflow::Os => a.tile_rows * a.tile_cols,
                _ => a.vectors * a.tile_cols,
            };
            visit_end = visit_end.max(step.timing.end);
            last_end = last_end.max(step.timing.end);
            if keep_folds {
                kept.push((fold, step.timing));
            }
            folds_done += 1;
            if folds_done % (1 << 16) == 0 && cancel() {
                return Err(Error::Cancelled);
            }
        }

        // End of a visit: accumulate reads, then write the tile back (final outputs) or spill
        // its partial sums; the half is free once the write has been accepted.
        let visit_ends = i + 1 == tiles.len()
            || !mem.accumulator
            || tiles[i + 1].key(Operand::Ofmap) != t.key(Operand::Ofmap);
        if visit_ends {
            let first_contributions = if visit_readback { 0 } else { out_words };
            st.ofmap_sram_reads += visit_words - first_contributions; // read-modify-write adds
            st.ofmap_sram_writes += visit_words;
            let complete = t.k0 + t.k == gemm.k;
            let bytes = if complete {
                mem.output_bytes as u64 * out_words
            } else {
                4 * out_words
            };
            let done = backend.serve(&Transfer {
                start: visit_end + 1,
                bytes,
                write: true,
            });
            st.ofmap_sram_reads += out_words;
            st.dram_write_bytes += bytes;
            if complete {
                st.dram_ofmap_bytes += bytes;
            } else {
                st.dram_psum_write_bytes += bytes;
            }
            last_dma = last_dma.max(done);
            *visit_release.last_mut().unwrap() = done + 1;
        }
        // Single-buffered operands load the next tile only now (their only half was in use).
        if i + 1 < tiles.len() {
            issue_inputs(i + 1, &mut ifmap, &mut filter, &mut backend, &mut st, false);
        }
    }

    let mut array_stats = fast.stats();
    // The layer runs from its first DMA transfer (cycle 0) to its last write-back; the tail
    // after the array's last result is the wait for that write-back.
    let end = last_end.max(last_dma);
    st.stall_ofmap_cycles += end - last_end;
    array_stats.cycles = end + 1;
    array_stats.pe_cycles = array_stats.cycles * array.pes();
    st.compute_cycles =
        array_stats.cycles - st.stall_ifmap_cycles - st.stall_filter_cycles - st.stall_ofmap_cycles;
    st.dram_busy_cycles = backend.busy_cycles();
    let energy = EnergyStats::of(&mem.energy, mem, &array_stats, &st);
    Ok(LayerResult {
        array: array_stats,
        mem: st,
        energy,
        tiling,
        folds: kept,
    })
}
