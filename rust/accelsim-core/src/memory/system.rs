//! One layer through the memory system: tiles in loop order, DMA loads into buffer halves
//! (prefetched one tile ahead when double buffered), output tiles accumulated on chip and
//! written back (or spilled as partial sums), the array's folds stepped with the resulting
//! operand readiness, and every cycle the array waited attributed to the operand it waited for.

use super::backend::{Backend, BandwidthModel, DramBackend, Transfer, TransferId};
use super::conv::{ActivationLayout, ConvGeometry};
use super::tiling::{choose_tiling, dim_of, Dim, Tiling};
use super::tracks::{dma_track, held_track};
use super::{roles, DramModel, EnergyStats, MemStats, MemoryConfig, Operand};
use crate::config::{ArrayConfig, Dataflow};
use crate::dram::DramStats;
use crate::error::{Error, Result};
use crate::fast::{FastArray, Rates};
use crate::gemm::{default_folds, Fold, Gemm, MAX_FOLDS};
use crate::stats::GemmStats;
use crate::timing::{CancelHook, FoldTiming};
use crate::trace::{ArrayTracks, Trace, TrackId};

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
    /// The cycle-level DRAM's statistics (row hits, latencies, ...), with that model.
    pub dram: Option<DramStats>,
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

/// Where the layer's tensors live in DRAM: row-major GEMM operands, group-major, and a
/// partial-sum region after the outputs.
struct Addresses {
    ifmap: u64,
    filter: u64,
    ofmap: u64,
    psum: u64,
    conv: Option<ConvGeometry>,
    layout: ActivationLayout,
}

impl Addresses {
    fn new(g: &Gemm, mem: &MemoryConfig, conv: Option<ConvGeometry>) -> Self {
        let out_bytes = g.groups * g.m * g.n * mem.output_bytes as u64;
        Addresses {
            ifmap: mem.layout.ifmap_base,
            filter: mem.layout.filter_base,
            ofmap: mem.layout.ofmap_base,
            psum: mem.layout.ofmap_base + out_bytes.div_ceil(4096) * 4096,
            conv,
            layout: mem.layout.activations,
        }
    }

    /// What an input tile's load reads: for a convolution's ifmap, its windows' input region
    /// (docs/memory.md); otherwise the tile's block of the row-major operand.
    fn input_transfers(&self, g: &Gemm, t: &Tile, op: Operand, word: u64) -> Vec<Transfer> {
        match (op, &self.conv) {
            (Operand::Ifmap, Some(c)) => c.ifmap_blocks(
                self.layout,
                self.ifmap,
                g.groups,
                t.group,
                (t.m0, t.m),
                (t.k0, t.k),
                word,
            ),
            _ => vec![self.block(g, t, op, word, false)],
        }
    }

    /// Where a finished output tile is written: the convolution's output tensor in the
    /// activation layout, or the row-major GEMM result.
    fn output_transfers(&self, g: &Gemm, t: &Tile, word: u64) -> Vec<Transfer> {
        match &self.conv {
            Some(c) => c.ofmap_blocks(
                self.layout,
                self.ofmap,
                g.groups,
                g.n,
                t.group,
                (t.m0, t.m),
                (t.n0, t.n),
                word,
            ),
            None => vec![self.block(g, t, Operand::Ofmap, word, false)],
        }
    }

    /// The block of tile `t` of operand `op` (`word` bytes per element; for the ofmap, which
    /// region: final outputs or partial sums), as a read issued at cycle 0.
    fn block(&self, g: &Gemm, t: &Tile, op: Operand, word: u64, psum: bool) -> Transfer {
        let (base, ld, r0, c0, rows, cols, plane) = match op {
            Operand::Ifmap => (self.ifmap, g.k, t.m0, t.k0, t.m, t.k, g.m * g.k),
            Operand::Filter => (self.filter, g.n, t.k0, t.n0, t.k, t.n, g.k * g.n),
            Operand::Ofmap => (
                if psum { self.psum } else { self.ofmap },
                g.n,
                t.m0,
                t.n0,
                t.m,
                t.n,
                g.m * g.n,
            ),
        };
        Transfer::block(
            base + (t.group * plane + r0 * ld + c0) * word,
            rows,
            cols * word,
            ld * word,
        )
    }
}

/// One load of an input operand into a buffer half.
struct Load {
    transfers: Vec<TransferId>,
    /// The cycle its data is usable, once known.
    ready: Option<u64>,
    /// The cycle of the last read by the array so far.
    last_read: u64,
    /// Words it puts in the buffer, bytes it reads from DRAM, and its first tile.
    words: u64,
    bytes: u64,
    tile: usize,
}

/// Loads of one input operand into its buffer's halves.
struct InputStream {
    op: Operand,
    double: bool,
    word_bytes: u64,
    loads: Vec<Load>,
    last_key: Option<(u64, u64, u64)>,
    /// Load index of each tile.
    tile_load: Vec<usize>,
    /// Loads whose transfer, and whose release, are already recorded in a trace, and the
    /// trace's tracks of this stream.
    traced_loads: usize,
    traced: usize,
    tracks: Option<HalfTracks>,
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
            traced_loads: 0,
            traced: 0,
            tracks: None,
        }
    }

    /// Issue the load tile `t` needs, if it needs a new one. Its half is free once the load that
    /// last used it has been read for the last time.
    fn issue(
        &mut self,
        g: &Gemm,
        t: &Tile,
        addrs: &Addresses,
        backend: &mut dyn Backend,
        st: &mut MemStats,
    ) {
        let key = t.key(self.op);
        if self.last_key == Some(key) {
            self.tile_load.push(self.loads.len() - 1);
            return;
        }
        let j = self.loads.len();
        let reuse_distance = if self.double { 2 } else { 1 };
        let start = if j >= reuse_distance {
            self.loads[j - reuse_distance].last_read + 1
        } else {
            0
        };
        let mut ids = Vec::new();
        let mut bytes = 0;
        for tr in addrs.input_transfers(g, t, self.op, self.word_bytes) {
            bytes += tr.bytes();
            ids.push(backend.issue(&Transfer { start, ..tr }));
        }
        // The buffer holds the tile's words (a convolution's windows expanded on the way in).
        let words = match self.op {
            Operand::Ifmap => t.m * t.k,
            _ => t.k * t.n,
        };
        self.loads.push(Load {
            transfers: ids,
            ready: None,
            last_read: 0,
            words,
            bytes,
            tile: self.tile_load.len(),
        });
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

    fn ready(&mut self, tile: usize, backend: &mut dyn Backend) -> u64 {
        let l = &mut self.loads[self.tile_load[tile]];
        // A load that reads nothing (a window of only padding) is ready at once.
        *l.ready.get_or_insert_with(|| {
            l.transfers
                .iter()
                .map(|&id| backend.complete(id) + 1)
                .max()
                .unwrap_or(0)
        })
    }

    fn read_until(&mut self, tile: usize, cycle: u64) {
        let l = &mut self.loads[self.tile_load[tile]];
        l.last_read = l.last_read.max(cycle);
    }

    /// Loads whose half has been given to a later load: their last read is known.
    fn released(&self) -> usize {
        let reuse = if self.double { 2 } else { 1 };
        self.loads.len().saturating_sub(reuse)
    }

    /// The DMA track and the occupancy counter of each buffer half, and the slice name;
    /// made on the first call of a layer, then kept.
    fn tracks(&mut self, trace: &mut Trace) -> &HalfTracks {
        let (op, halves) = (self.op, if self.double { 2 } else { 1 });
        self.tracks.get_or_insert_with(|| {
            let mut t = HalfTracks::default();
            for h in 0..halves {
                t.dma.push(dma_track(trace, op, halves, h));
                t.held.push(held_track(trace, op, halves, h));
            }
            t.name = trace.name(&format!("{} load", op.name()));
            t
        })
    }

    /// Record loads `traced_loads..upto` (each complete): a DMA slice on their buffer half's
    /// track, from the first byte moved to the data being usable, and the half's occupancy
    /// rising to the load's bytes at its first byte. Called as the run goes, so a trace's events
    /// come nearly in time order (what the event cap keeps is then most of what it can).
    fn trace_loads(&mut self, trace: &mut Trace, backend: &mut dyn Backend, upto: usize) {
        if self.traced_loads >= upto {
            return;
        }
        let HalfTracks { dma, held, name } = self.tracks(trace).clone();
        let halves = dma.len();
        for j in self.traced_loads..upto {
            let l = &self.loads[j];
            if l.transfers.is_empty() {
                continue;
            }
            let first = l
                .transfers
                .iter()
                .map(|&id| backend.started(id))
                .min()
                .unwrap();
            let ready = l.ready.unwrap_or(first + 1);
            trace.slice(
                dma[j % halves],
                name,
                first,
                ready - first,
                [l.bytes as i64, l.tile as i64, j as i64, 0],
            );
            trace.counter(held[j % halves], first, (l.words * self.word_bytes) as f64);
        }
        self.traced_loads = upto;
    }

    /// Record the release of loads `traced..upto` (recorded, and released: a later load took
    /// their half): the half's occupancy falls to 0 the cycle after the array last read them.
    fn trace_releases(&mut self, trace: &mut Trace, upto: usize) {
        let upto = upto.min(self.traced_loads);
        if self.traced >= upto {
            return;
        }
        let held = self.tracks(trace).held.clone();
        let halves = held.len();
        for j in self.traced..upto {
            let l = &self.loads[j];
            if !l.transfers.is_empty() {
                trace.counter(held[j % halves], l.last_read + 1, 0.0);
            }
        }
        self.traced = upto;
    }
}

/// A stream's tracks: per buffer half its DMA track and occupancy counter, and the name of
/// its slices.
#[derive(Debug, Clone, Default)]
struct HalfTracks {
    dma: Vec<TrackId>,
    held: Vec<TrackId>,
    name: u32,
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
    simulate_conv_layer(array, mem, gemm, None, tiling, keep_folds, cancel)
}

/// `simulate_layer` for a GEMM that is the im2col view of convolution `conv`: its ifmap tiles
/// are read as input windows and its outputs written in the configured activation layout
/// (`crate::memory::ConvGeometry`, docs/memory.md).
pub fn simulate_conv_layer(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    gemm: &Gemm,
    conv: Option<&ConvGeometry>,
    tiling: Option<Tiling>,
    keep_folds: bool,
    cancel: CancelHook<'_>,
) -> Result<LayerResult> {
    simulate_conv_layer_traced(array, mem, gemm, conv, tiling, keep_folds, cancel, None)
}

/// `simulate_conv_layer`, recording into `trace` when given (one layer of it: the layer's
/// events are placed after the trace's previous layers).
#[allow(clippy::too_many_arguments)]
pub fn simulate_conv_layer_traced(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    gemm: &Gemm,
    conv: Option<&ConvGeometry>,
    tiling: Option<Tiling>,
    keep_folds: bool,
    cancel: CancelHook<'_>,
    trace: Option<&mut Trace>,
) -> Result<LayerResult> {
    mem.validate()?;
    if let Some(c) = conv {
        c.check(gemm)?;
    }
    let addrs = Addresses::new(gemm, mem, conv.copied());
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
    if let Some(mut b) = BandwidthModel::from_model(&mem.dram) {
        return run_tiles(
            array, mem, gemm, &addrs, tiling, &tiles, &mut b, keep_folds, cancel, trace,
        );
    }
    let mut b = DramBackend::new(&mem.dram)?.expect("every DRAM model has a backend");
    let mut r = run_tiles(
        array, mem, gemm, &addrs, tiling, &tiles, &mut b, keep_folds, cancel, trace,
    )?;
    let dram_stats = b.stats();
    r.energy = r.energy.with_dram(mem, &dram_stats);
    r.dram = Some(dram_stats);
    // What refresh cost: the same layer with refresh off, cycle for cycle otherwise.
    if let DramModel::Cycle { config, freq_mhz } = &mem.dram {
        if config.refresh {
            let quiet = MemoryConfig {
                dram: DramModel::Cycle {
                    config: Box::new((**config).clone().with_refresh(false)),
                    freq_mhz: *freq_mhz,
                },
                ..mem.clone()
            };
            let mut b = DramBackend::new(&quiet.dram)?.expect("a cycle-level backend");
            let without = run_tiles(
                array, &quiet, gemm, &addrs, tiling, &tiles, &mut b, false, cancel, None,
            )?;
            charge_refresh(
                &mut r.mem,
                r.array.cycles.saturating_sub(without.array.cycles),
            );
        }
    }
    Ok(r)
}

/// Move `cycles` of the stalls spent waiting on DRAM (ifmap, filter, ofmap) to
/// `stall_refresh_cycles`, in proportion to each cause's share (the largest takes the rounding).
fn charge_refresh(st: &mut MemStats, cycles: u64) {
    let causes = [
        st.stall_ifmap_cycles,
        st.stall_filter_cycles,
        st.stall_ofmap_cycles,
    ];
    let waited: u64 = causes.iter().sum();
    let cycles = cycles.min(waited);
    if cycles == 0 {
        return;
    }
    let mut take: Vec<u64> = causes
        .iter()
        .map(|&c| (c as u128 * cycles as u128 / waited as u128) as u64)
        .collect();
    let largest = (0..3)
        .max_by_key(|&i| (causes[i], std::cmp::Reverse(i)))
        .unwrap();
    take[largest] += cycles - take.iter().sum::<u64>();
    st.stall_ifmap_cycles -= take[0];
    st.stall_filter_cycles -= take[1];
    st.stall_ofmap_cycles -= take[2];
    st.stall_refresh_cycles += cycles;
}

/// The per-layer state of the output (ofmap) buffer: visits are runs of consecutive tiles with
/// the same output tile (one tile per visit without the accumulator).
struct OutputStream {
    reuse_distance: usize,
    /// Per visit: the write-back (or spill) transfer, once issued.
    writes: Vec<Option<Vec<TransferId>>>,
    /// Per visit: when its half was free, its partial-sum read-back, its words and bytes
    /// written, whether it wrote final outputs, and its last tile (for traces).
    visits: Vec<Visit>,
    /// Visits already recorded in a trace, and the trace's tracks of the buffer.
    traced: usize,
    tracks: Option<HalfTracks>,
    /// When the current visit's half is free and, if needed, its partial sums are back.
    ready: u64,
    end: u64,
    words: u64,
    readback: bool,
}

/// One visit of the output buffer, as a trace shows it.
struct Visit {
    free: u64,
    readback: Option<(TransferId, u64)>,
    words: u64,
    write_bytes: u64,
    complete: bool,
    tile: usize,
}

impl OutputStream {
    /// The DMA track and the occupancy counter of each half, and the read-back's slice name;
    /// made on the first call of a layer, then kept.
    fn tracks(&mut self, trace: &mut Trace) -> &HalfTracks {
        let halves = self.reuse_distance;
        self.tracks.get_or_insert_with(|| {
            let mut t = HalfTracks::default();
            for h in 0..halves {
                t.dma.push(dma_track(trace, Operand::Ofmap, halves, h));
                t.held.push(held_track(trace, Operand::Ofmap, halves, h));
            }
            t.name = trace.name("psum read-back");
            t
        })
    }

    /// Record the start of the newest visit: its partial-sum read-back on its half's DMA track
    /// and the half's occupancy rising to its words at the cycle the half was free.
    fn trace_start(&mut self, trace: &mut Trace, backend: &mut dyn Backend, mem: &MemoryConfig) {
        let HalfTracks { dma, held, name } = self.tracks(trace).clone();
        let v = self.visits.len() - 1;
        let visit = &self.visits[v];
        let halves = dma.len();
        if let Some((id, bytes)) = visit.readback {
            let first = backend.started(id);
            let done = backend.complete(id) + 1;
            let args = [bytes as i64, visit.tile as i64, v as i64, 0];
            trace.slice(dma[v % halves], name, first, done - first, args);
        }
        let bytes = visit.words * mem.ofmap.word_bytes as u64;
        trace.counter(held[v % halves], visit.free, bytes as f64);
    }

    /// Record the ends of visits `traced..upto` (each written back): the write-back (or spill)
    /// on the half's DMA track and its occupancy falling to 0 the cycle after the write
    /// completed. Called for visits whose half a later visit has taken, and at the layer's end.
    fn trace_ends(&mut self, trace: &mut Trace, backend: &mut dyn Backend, upto: usize) {
        if self.traced >= upto {
            return;
        }
        let HalfTracks { dma, held, .. } = self.tracks(trace).clone();
        let halves = dma.len();
        let (write, spill) = (trace.name("ofmap write-back"), trace.name("psum spill"));
        for v in self.traced..upto {
            let visit = &self.visits[v];
            let Some(Some(ids)) = self.writes.get(v) else {
                continue;
            };
            let mut done = visit.free + 1;
            if !ids.is_empty() {
                let first = ids.iter().map(|&id| backend.started(id)).min().unwrap();
                done = ids
                    .iter()
                    .map(|&id| backend.complete(id) + 1)
                    .max()
                    .unwrap();
                trace.slice(
                    dma[v % halves],
                    if visit.complete { write } else { spill },
                    first,
                    done - first,
                    [visit.write_bytes as i64, visit.tile as i64, v as i64, 0],
                );
            }
            trace.counter(held[v % halves], done, 0.0);
        }
        self.traced = upto;
    }
}

#[allow(clippy::too_many_arguments)]
fn run_tiles(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    gemm: &Gemm,
    addrs: &Addresses,
    tiling: Tiling,
    tiles: &[Tile],
    backend: &mut dyn Backend,
    keep_folds: bool,
    cancel: CancelHook<'_>,
    mut trace: Option<&mut Trace>,
) -> Result<LayerResult> {
    let df = array.dataflow();
    let tracks = trace.as_deref_mut().map(|t| {
        t.begin_layer(backend.clock());
        backend.begin_trace(t);
        ArrayTracks::new(t, df)
    });
    let (stationary_op, stream_op) = roles(df);
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
    let mut out = OutputStream {
        reuse_distance: if mem.ofmap.double_buffered { 2 } else { 1 },
        writes: Vec::new(),
        ready: 0,
        end: 0,
        words: 0,
        readback: false,
        visits: Vec::new(),
        traced: 0,
        tracks: None,
    };
    let mut fast = FastArray::new(array);
    let mut kept = Vec::new();
    let mut folds_done = 0usize;
    let mut last_end = 0u64;
    let mut last_end_conflict_free = 0u64;

    // Issue tile i's loads of the operands whose buffering matches `double`.
    let issue_inputs = |i: usize,
                        double: bool,
                        ifmap: &mut InputStream,
                        filter: &mut InputStream,
                        backend: &mut dyn Backend,
                        st: &mut MemStats| {
        for s in [ifmap, filter] {
            if s.double == double && s.tile_load.len() == i {
                s.issue(gemm, &tiles[i], addrs, backend, st);
            }
        }
    };

    for i in 0..tiles.len() {
        let t = tiles[i];
        // This tile's loads that could not be prefetched, then the next tile's prefetch
        // (double-buffered operands: its half was released by a tile already simulated).
        issue_inputs(i, true, &mut ifmap, &mut filter, backend, &mut st);
        issue_inputs(i, false, &mut ifmap, &mut filter, backend, &mut st);
        if i + 1 < tiles.len() {
            issue_inputs(i + 1, true, &mut ifmap, &mut filter, backend, &mut st);
        }

        // A new output visit needs a free ofmap half and, for a tile with earlier K partial
        // sums off chip, those sums read back.
        let new_visit =
            i == 0 || !mem.accumulator || tiles[i - 1].key(Operand::Ofmap) != t.key(Operand::Ofmap);
        let out_words = t.m * t.n;
        if new_visit {
            let v = out.writes.len();
            let free = if v >= out.reuse_distance {
                let w = out.writes[v - out.reuse_distance]
                    .as_ref()
                    .expect("an earlier visit was written back");
                w.iter()
                    .map(|&id| backend.complete(id) + 1)
                    .max()
                    .unwrap_or(0)
            } else {
                0
            };
            out.ready = free;
            out.readback = t.k0 > 0;
            let mut readback = None;
            if out.readback {
                let tr = Transfer {
                    start: free,
                    ..addrs.block(gemm, &t, Operand::Ofmap, 4, true)
                };
                let id = backend.issue(&tr);
                out.ready = backend.complete(id) + 1;
                st.dram_read_bytes += tr.bytes();
                st.dram_psum_read_bytes += tr.bytes();
                st.ofmap_sram_writes += out_words;
                readback = Some((id, tr.bytes()));
            }
            out.visits.push(Visit {
                free,
                readback,
                words: out_words,
                write_bytes: 0,
                complete: false,
                tile: i,
            });
            // The visit that last held this half is written back: record it, then this one's
            // start.
            if let Some(tr) = trace.as_deref_mut() {
                let upto = (v + 1).saturating_sub(out.reuse_distance);
                out.trace_ends(tr, backend, upto);
                out.trace_start(tr, backend, mem);
            }
            out.end = 0;
            out.words = 0;
            out.writes.push(None);
        }

        // The array runs the tile's folds.
        let sub = Gemm {
            m: t.m,
            k: t.k,
            n: t.n,
            groups: 1,
        };
        let ifmap_ready = ifmap.ready(i, backend);
        let filter_ready = filter.ready(i, backend);
        if let Some(tr) = trace.as_deref_mut() {
            // The loads this tile waited for, then the DRAM's commands that served them (each
            // load starts before its bursts), before the tile's folds.
            let upto = ifmap.tile_load[i] + 1;
            ifmap.trace_loads(tr, backend, upto);
            let upto = filter.tile_load[i] + 1;
            filter.trace_loads(tr, backend, upto);
            backend.trace(tr);
        }
        let ready_of = |op: Operand| match op {
            Operand::Ifmap => ifmap_ready,
            Operand::Filter => filter_ready,
            Operand::Ofmap => out.ready,
        };
        for f in default_folds(&sub, array)? {
            let fold = Fold {
                group: t.group,
                m0: t.m0 + f.m0,
                k0: t.k0 + f.k0,
                n0: t.n0 + f.n0,
                ..f
            };
            let (stat_ready, stream_inputs) = match df {
                Dataflow::Os => (0, ifmap_ready.max(filter_ready)),
                _ => (ready_of(stationary_op), ready_of(stream_op)),
            };
            let a = fold.on_array(df);
            let rates = match df {
                Dataflow::Ws => Rates {
                    stream: mem.ifmap.vector_cycles(a.tile_rows),
                    load: mem.filter.vector_cycles(a.tile_cols),
                },
                Dataflow::Is => Rates {
                    stream: mem.filter.vector_cycles(a.tile_rows),
                    load: mem.ifmap.vector_cycles(a.tile_cols),
                },
                Dataflow::Os => Rates {
                    stream: mem
                        .ifmap
                        .vector_cycles(a.tile_rows)
                        .max(mem.filter.vector_cycles(a.tile_cols)),
                    load: 1,
                },
            };
            let step = fast.step_at(&fold, stat_ready, stream_inputs.max(out.ready), rates);
            if let (Some(tr), Some(tk)) = (trace.as_deref_mut(), &tracks) {
                let load = (df != Dataflow::Os).then_some(step.last_stationary_read);
                tk.fold(tr, &fold, &step.timing, step.last_stream_read, load);
                tk.stall(
                    tr,
                    "bank",
                    step.conflict_free_stream_start,
                    step.array_stream_start,
                );
            }
            // What the buffers' bandwidth cost, then what waiting for operands cost.
            st.stall_bank_cycles += step
                .array_stream_start
                .saturating_sub(step.conflict_free_stream_start);
            last_end_conflict_free =
                last_end_conflict_free.max(step.timing.end - step.conflict_tail);
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
                if let (Some(tr), Some(tk)) = (trace.as_deref_mut(), &tracks) {
                    tk.stall(
                        tr,
                        cause.name(),
                        step.array_stream_start,
                        step.timing.stream_start,
                    );
                }
            }
            let (ifmap_last, filter_last) = match df {
                Dataflow::Ws => (step.last_stream_read, step.last_stationary_read),
                Dataflow::Is => (step.last_stationary_read, step.last_stream_read),
                Dataflow::Os => (step.last_stream_read, step.last_stream_read),
            };
            ifmap.read_until(i, ifmap_last);
            filter.read_until(i, filter_last);
            out.words += match df {
                Dataflow::Os => a.tile_rows * a.tile_cols,
                _ => a.vectors * a.tile_cols,
            };
            out.end = out.end.max(step.timing.end);
            last_end = last_end.max(step.timing.end);
            if keep_folds {
                kept.push((fold, step.timing));
            }
            folds_done += 1;
            if folds_done % (1 << 16) == 0 && cancel() {
                return Err(Error::Cancelled);
            }
        }

        // End of a visit: the tile's results are written back (final outputs) or spilled (partial
        // sums); the half is free once the write has been accepted.
        let visit_ends = i + 1 == tiles.len()
            || !mem.accumulator
            || tiles[i + 1].key(Operand::Ofmap) != t.key(Operand::Ofmap);
        if visit_ends {
            let first_contributions = if out.readback { 0 } else { out_words };
            st.ofmap_sram_reads += out.words - first_contributions; // read-modify-write adds
            st.ofmap_sram_writes += out.words;
            let complete = t.k0 + t.k == gemm.k;
            let word = if complete { mem.output_bytes as u64 } else { 4 };
            let transfers = if complete {
                addrs.output_transfers(gemm, &t, word)
            } else {
                vec![addrs.block(gemm, &t, Operand::Ofmap, word, true)]
            };
            let mut ids = Vec::with_capacity(transfers.len());
            let mut bytes = 0;
            for tr in transfers {
                bytes += tr.bytes();
                ids.push(backend.issue(&Transfer {
                    start: out.end + 1,
                    write: true,
                    ..tr
                }));
            }
            *out.writes.last_mut().unwrap() = Some(ids);
            let v = out.visits.last_mut().expect("a visit");
            (v.write_bytes, v.complete, v.tile) = (bytes, complete, i);
            st.ofmap_sram_reads += out_words;
            st.dram_write_bytes += bytes;
            if complete {
                st.dram_ofmap_bytes += bytes;
            } else {
                st.dram_psum_write_bytes += bytes;
            }
        }
        // Single-buffered operands load the next tile only now (their only half was in use).
        if i + 1 < tiles.len() {
            issue_inputs(i + 1, false, &mut ifmap, &mut filter, backend, &mut st);
        }
        // The DRAM's commands so far (drained tile by tile, so its log stays small) and the
        // loads whose half a later load has taken.
        if let Some(tr) = trace.as_deref_mut() {
            backend.trace(tr);
            let upto = ifmap.released();
            ifmap.trace_releases(tr, upto);
            let upto = filter.released();
            filter.trace_releases(tr, upto);
        }
    }

    // The layer runs from its first DMA transfer (cycle 0) to its last write-back; the tail
    // after the array's last result is the wait for that write-back.
    let last_dma = out
        .writes
        .iter()
        .flatten()
        .flatten()
        .map(|&w| backend.complete(w))
        .max()
        .unwrap_or(0);
    let mut array_stats = fast.stats();
    let end = last_end.max(last_dma);
    st.stall_ofmap_cycles += end - last_end;
    // The last folds' own slower streaming, past where they would have ended.
    st.stall_bank_cycles += last_end - last_end_conflict_free.min(last_end);
    array_stats.cycles = end + 1;
    array_stats.pe_cycles = array_stats.cycles * array.pes();
    st.compute_cycles = array_stats.cycles
        - st.stall_ifmap_cycles
        - st.stall_filter_cycles
        - st.stall_ofmap_cycles
        - st.stall_bank_cycles
        - st.stall_refresh_cycles;
    st.dram_busy_cycles = backend.busy_cycles();
    if let (Some(tr), Some(tk)) = (trace, &tracks) {
        tk.stall(
            tr,
            "bank",
            last_end_conflict_free.min(last_end) + 1,
            last_end + 1,
        );
        tk.stall(tr, "ofmap", last_end + 1, end + 1);
        backend.trace(tr);
        for s in [&mut ifmap, &mut filter] {
            let upto = s.loads.len();
            s.trace_loads(tr, backend, upto);
            s.trace_releases(tr, upto);
        }
        let upto = out.visits.len();
        out.trace_ends(tr, backend, upto);
        tr.end_layer(array_stats.cycles);
    }
    let energy = EnergyStats::of(&mem.energy, mem, &array_stats, &st);
    Ok(LayerResult {
        array: array_stats,
        mem: st,
        energy,
        tiling,
        folds: kept,
        dram: None,
    })
}
