//! The pass memo of the search's evaluator (docs/search.md, "Scoring a candidate").
//!
//! A layer's tiles are cut into passes: the innermost loop's tiles, in pieces of at most
//! [`CHUNK`] (`chunk`). What a pass does depends only on the state of the memory system and
//! the array when it starts and on what it asks of them (its *content*: the tiles' extents,
//! which loads and write-backs it issues and what each transfer costs), and every rule of the
//! model is a sum or a maximum of times: a state moved by `d` cycles gives the same pass moved
//! by `d` cycles. So a pass is simulated once per (state relative to a reference cycle,
//! content); a later pass that starts from the same relative state with the same content
//! takes the recorded outcome, moved to its own reference, without stepping its tiles. The
//! key holds the whole state and content (interned, never a hash alone): a hit is exact.
//!
//! The key leaves out what cannot change what the pass does, so that passes deep in a long
//! loop find the ones before them:
//! - a time the pass only ever takes a maximum of with later times it knows bounds for (the
//!   DMA engine free before the pass's first transfer may start, a load ready before the
//!   array can read it, a visit's readiness or latest result before the pass's first fold
//!   could pass them) is "early", whatever its value; and so, where the DMA engine's free
//!   cycle is in the key (it is only ever free later), is a time that only sets when a
//!   transfer may start (the last read of a double buffer's other half, a write-back a
//!   read-back waits for) at or before that cycle;
//! - the previous fold's stationary load (WS, IS) where a bank bound at or after its last row
//!   sets the next fold's load bound (`PassState::load_read`);
//! - the write-backs of earlier visits, when the pass neither begins nor ends a visit (it
//!   does not look at them and they stay as they are);
//! - the maxima kept only for the report (latest write-back and result), and the words the
//!   open visit has accumulated (they add to the statistics when it ends): the pass's own
//!   part is recorded and added.
//!
//! Passes taken one after another only move counters and totals (a run of the same outcome
//! adds its statistics once, times the run's length); the run's fields are put in the last
//! one's end state when a tile is stepped again. Recorded passes are kept per
//! context (array, buffers, layer, tile sizes, DMA parameters): candidates that differ only
//! in loop order share them, and so do a convolution's ifmap segments (its input windows,
//! the same for every candidate with its `M_t` and `K_t`).
//!
//! Only the untraced, unrecorded single-layer run with a DMA that answers at issue and whose
//! answers move with the issue cycle (the bandwidth model and its stand-in, and the array
//! alone) uses it: `evaluate_layer` and `evaluate_layer_timed`. `tests/search.rs` holds it to
//! `simulate_conv_layer` and to the memo off.

use super::super::backend::Transfer;
use super::super::tiling::Dim;
use super::super::{MemStats, Operand};
use super::{Dma, InputStream, Load, Mix, Prepared, Prev, Sim, Tile, TileOrder, Write};
use crate::config::Dataflow;
use crate::stats::GemmStats;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Added to the open visit's words while a pass is recorded (far above any real count).
const WORDS_MARK: u64 = 1 << 48;

/// Passes a layer records at most (each entry holds its key: a few hundred bytes).
const MEMO_LIMIT: usize = 1 << 12;

/// Whether `op`'s tiles change along `d` (ifmap: M x K, filter: K x N, ofmap: M x N).
fn depends_on(op: Operand, d: Dim) -> bool {
    !matches!(
        (op, d),
        (Operand::Ifmap, Dim::N) | (Operand::Filter, Dim::M) | (Operand::Ofmap, Dim::K)
    )
}

impl TileOrder {
    /// Tile `t` with its innermost loop's index set to `j`.
    fn with_inner(&self, t: &Tile, j: u64) -> Tile {
        let mut t = *t;
        let (full, step, _) = self.ext[2];
        let (idx, o, l) = t.along(self.dims[2]);
        (*idx, *o, *l) = (j, j * step, step.min(full - j * step));
        t
    }

    /// Which row along the innermost loop tile `t` is in, for operand `op` (which changes
    /// along it): an input's row is set by the group and its other dimension's index; the
    /// ofmap's by every outer index (K's too: it decides read-backs and what is written).
    fn row_slot(&self, op: Operand, t: &Tile) -> usize {
        let [d0, d1, _] = self.dims;
        let c = self.counts;
        if op == Operand::Ofmap {
            return ((t.group * c[0] + t.index(d0)) * c[1] + t.index(d1)) as usize;
        }
        let (other, count) = if depends_on(op, d0) {
            (d0, c[0])
        } else {
            (d1, c[1])
        };
        (t.group * count + t.index(other)) as usize
    }
}

/// A time relative to a reference cycle (`None`: the time 0, "not yet").
type Rel = Option<i64>;

fn rel(x: u64, r: u64) -> Rel {
    (x != 0).then(|| x.wrapping_sub(r) as i64)
}

/// The absolute time of `t` at reference cycle `r`; 0 for a time before cycle 0 (an early
/// time, see `push_time`, recorded further from its reference than this one is from 0: it is
/// as early as 0 for everything after).
fn abs(t: Rel, r: u64) -> u64 {
    t.map_or(0, |v| {
        if v < 0 && v.unsigned_abs() > r {
            0
        } else {
            r.wrapping_add(v as u64)
        }
    })
}

/// Key words of time `t`: exact (`floor` = `None`), or "early" when it is at most `floor`
/// (0, "not yet", is early against any floor).
fn push_time(key: &mut Vec<u64>, t: Rel, floor: Option<i64>) {
    match (t, floor) {
        (None, Some(_)) => key.push(1),
        (Some(v), Some(f)) if v <= f => key.push(1),
        (None, None) => key.push(0),
        (Some(v), _) => key.extend_from_slice(&[2, v as u64]),
    }
}

/// An input stream's state at a pass's start (tile `i`): the load serving tile `i` (always
/// the last one, asked for during tile `i - 1`), and for a double-buffered stream the load
/// before it (its last read starts the next load into its half).
#[derive(Debug, Clone, Copy)]
struct StreamState {
    loads: usize,
    /// Tiles back from `i` of the tile asked for last (0), its load's ready and last read.
    asked: Option<(u64, Rel, Rel)>,
    /// The last read of the load before (double buffering).
    reused: Option<Rel>,
    /// The tile asked for before (restored only: the pass never looks at it).
    before: Option<(u64, usize)>,
    /// The earliest the array reads this operand in the pass.
    floor: i64,
}

impl StreamState {
    fn capture<I: Copy>(s: &InputStream<I>, li: usize, i: u64, r: u64, floor: i64) -> Self {
        let len = s.loads.len();
        let asked = s.asked.map(|((l, t), j)| {
            debug_assert!(l == li && j + 1 == len, "tile i's load is the last");
            let load = &s.loads[j];
            debug_assert!(load.ids.is_empty(), "an eager DMA resolves loads at issue");
            let ready = rel(load.ready.unwrap_or(0), r);
            (i.wrapping_sub(t), ready, rel(load.last_read, r))
        });
        let reused = (s.double && len >= 2).then(|| rel(s.loads[len - 2].last_read, r));
        StreamState {
            loads: len.min(2),
            asked,
            reused,
            before: s.before.map(|((_, t), j)| (i.wrapping_sub(t), len - j)),
            floor,
        }
    }

    /// Key words; `dma_floor`: see `PassState::push`.
    fn push(&self, dma_floor: Option<i64>, key: &mut Vec<u64>) {
        key.push(self.loads as u64);
        match self.asked {
            Some((t, ready, read)) => {
                key.extend_from_slice(&[1, t]);
                push_time(key, ready, Some(self.floor));
                push_time(key, read, Some(self.floor));
            }
            None => key.push(0),
        }
        if let Some(t) = self.reused {
            // Read only as the start of the next load into its half (after it).
            push_time(key, t, dma_floor.map(|f| f - 1));
        }
    }

    /// The earliest a load into this (double-buffered) stream's free half may start.
    fn next_start(&self) -> Option<i64> {
        match self.reused {
            Some(Some(t)) => Some(t + 1),
            // Not read yet or no load before: no bound known.
            _ => None,
        }
    }
}

/// The ofmap buffer's state.
#[derive(Debug, Clone, Copy)]
struct OutState {
    /// The last visits' write-backs (as many as the buffer has halves): done at (`Some`),
    /// or still pending.
    writes: [Option<Rel>; 2],
    count: usize,
    reuse: usize,
    ready: Rel,
    end: Rel,
    words: u64,
    readback: bool,
}

/// Everything a pass reads of the run at its start, relative to a reference cycle (where
/// the last fold started streaming) and to its first tile; and lower bounds of what its first
/// fold does.
#[derive(Debug, Clone, Copy)]
pub(super) struct PassState {
    df: Dataflow,
    free: Rel,
    streams: [StreamState; 2],
    out: OutState,
    prev: Prev,
    index_past_first_two: bool,
    /// WS and IS: the first fold's stationary load bound reads the last fold's load (its
    /// start, rows and last row), which is only so for a double-buffered stationary operand
    /// before the layer's third fold (`pass_state`).
    load_read: bool,
    /// The first fold streams from `stream_floor` on and ends at `end_floor` or later.
    stream_floor: i64,
    end_floor: i64,
    stationary_floor: i64,
}

impl PassState {
    /// The key words of this state for a pass that begins or ends a visit (`touched`) or not.
    fn push(&self, touched: bool, key: &mut Vec<u64>) {
        // The earliest any transfer of the pass may start: a load into a double buffer's
        // free half (after that half's last read), a partial-sum read-back (after the
        // write-back that held its half: only a pass that begins a visit), anything else after
        // the first fold's reads.
        let mut first_issue = Some(self.stream_floor.min(self.stationary_floor));
        for s in &self.streams {
            if s.reused.is_some() || s.loads < 2 {
                // Double-buffered (or not two loads yet: no bound).
                let double_start = if s.reused.is_some() {
                    s.next_start()
                } else {
                    None
                };
                first_issue = match (first_issue, double_start) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    _ => None,
                };
            }
        }
        let o = &self.out;
        if touched {
            // Read-backs of the pass's visits wait for the write-backs that held their half:
            // first those of the ring, then the pass's own (after its folds).
            let mut free_out = (o.count == o.reuse).then_some(i64::MAX);
            for w in &o.writes[..o.count] {
                free_out = match (free_out, w) {
                    (Some(a), Some(Some(t))) => Some(a.min(t + 1)),
                    // Pending: written after a fold of the pass.
                    (Some(a), None) => Some(a),
                    _ => None,
                };
            }
            first_issue = match (first_issue, free_out) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            };
        }
        key.push(touched as u64);
        push_time(key, self.free, first_issue);
        // The DMA is free from `free` on and only ever later (its transfers start at their
        // issue cycle or when it is free, whichever comes last): where `free` is in the key,
        // a transfer the pass (or any later one) asks to start at `free` or before starts
        // when the DMA is free, whatever cycle it asked for. So the last read of a double
        // buffer's other half (the next load into it starts after it) is early before
        // `free`; so is a write-back of the ring that a visit of the pass waits for: its
        // read-back starts after it (early before `free`), or else it sets when the visit's
        // first fold may stream (early before `stream_floor`).
        let dma_floor = match (self.free, first_issue) {
            (Some(v), Some(f)) if v > f => Some(v),
            (Some(v), None) => Some(v),
            _ => None,
        };
        for s in &self.streams {
            s.push(dma_floor, key);
        }
        if touched {
            key.push(o.count as u64);
            let floor = dma_floor.map(|f| f.min(self.stream_floor) - 1);
            for w in &o.writes[..o.count] {
                match w {
                    Some(t) => push_time(key, *t, floor),
                    None => key.push(3),
                }
            }
        }
        push_time(key, o.ready, Some(self.stream_floor));
        push_time(key, o.end, Some(self.end_floor));
        key.push(o.readback as u64);
        // Only the fields the dataflow's rules read (`Stepper::step`). OS: the last fold's
        // stream, pair interval and last copy (not its rows: its load start is its stream
        // start). WS and IS: its stream, and its load only where the first fold's load bound
        // reads it (`load_read`).
        let p = &self.prev;
        key.extend_from_slice(&[p.stream_start, p.vectors, p.last_vector]);
        match self.df {
            Dataflow::Os => key.extend_from_slice(&[p.pair_interval, p.last_copy]),
            _ if self.load_read => key.extend_from_slice(&[p.load_start, p.rows, p.last_row]),
            _ => {}
        }
        key.push(self.index_past_first_two as u64);
    }
}

/// The last visits' write-backs (done at, or pending) and how many there are.
type Ring = ([Option<Rel>; 2], usize);

/// The maxima a run keeps only to report them (never read while the layer runs): the
/// latest write-back, the latest result and the latest conflict-free result.
type Maxima = [u64; 3];

/// What a recorded pass did: the state it ends in (relative to its own reference cycle,
/// `shift` cycles after the pass's) and what it added.
#[derive(Debug, Clone)]
struct Outcome {
    exit: PassState,
    /// The exit state's id for a next pass that does not touch the write-backs (one that does
    /// reads them from the run).
    exit_id: Option<u32>,
    /// The last id for a next pass that does, and the write-backs it was made with.
    exit_touched: Option<(Ring, u32)>,
    shift: u64,
    /// The pass began or ended a visit: its write-backs at the end are the exit's.
    touched: bool,
    /// The open visit at the start ended in the pass (its words then went into the
    /// statistics); no visit began in the pass (the open visit's words carry on); the open
    /// visit's words at the start.
    ended: bool,
    carried: bool,
    words: u64,
    /// The pass's own maxima (`Maxima`), relative to its reference cycle.
    maxima: [Rel; 3],
    /// What the pass added.
    added: Tally,
}

/// What a pass adds to: the layer's statistics, the DMA's busy cycles, the loads of each
/// input stream, the visits of the ofmap buffer and the folds of the array.
#[derive(Debug, Clone, Copy)]
struct Tally {
    st: MemStats,
    array: GemmStats,
    busy: u64,
    loads: [usize; 2],
    writes: usize,
    folds: u64,
}

impl Tally {
    /// What was added from `earlier` to this.
    fn since(&self, earlier: &Tally) -> Tally {
        Tally {
            st: self.st.minus(&earlier.st),
            array: self.array.minus(&earlier.array),
            busy: self.busy - earlier.busy,
            loads: [
                self.loads[0] - earlier.loads[0],
                self.loads[1] - earlier.loads[1],
            ],
            writes: self.writes - earlier.writes,
            folds: self.folds - earlier.folds,
        }
    }
}

/// A pass being simulated, to record when it ends.
#[derive(Debug)]
pub(super) struct Pending {
    /// The pass's content, then its entry state's id.
    key: Vec<u64>,
    hash: u64,
    r: u64,
    touched: bool,
    /// The run's maxima before the pass (they are zeroed while it runs, to see its own).
    maxima: Maxima,
    words: u64,
    /// The run's counters and totals before the pass.
    at: Tally,
}

/// What the memo knows of the run's state at a pass boundary.
#[derive(Debug, Default)]
pub(super) enum Cursor {
    /// Nothing: look at the run.
    #[default]
    Unknown,
    /// The exit of outcome `.0`, at reference cycle `.1`.
    At(u32, u64),
}

/// Interned keys: by hash, the first of a chain of entries with that hash.
#[derive(Debug, Default)]
struct Interner {
    map: HashMap<u64, u32, BuildHasherDefault<Mix>>,
    entries: Vec<(Vec<u64>, Option<u32>)>,
}

impl Interner {
    fn clear(&mut self) {
        self.map.clear();
        self.entries.clear();
    }

    /// The id of `key` (whose hash is `hash`), if it was added.
    fn find(&self, key: &[u64], hash: u64) -> Option<u32> {
        let mut at = self.map.get(&hash).copied();
        while let Some(x) = at {
            let (k, next) = &self.entries[x as usize];
            if k[..] == *key {
                return Some(x);
            }
            at = *next;
        }
        None
    }

    /// Add `key` (not added yet; its hash is `hash`): its id, the next one.
    fn add(&mut self, key: Vec<u64>, hash: u64) -> u32 {
        let id = self.entries.len() as u32;
        let next = self.map.insert(hash, id);
        self.entries.push((key, next));
        id
    }

    /// The id of `key`, the same for equal keys.
    fn intern(&mut self, key: &[u64]) -> u32 {
        let hash = hash_of(key);
        match self.find(key, hash) {
            Some(x) => x,
            None => self.add(key.to_vec(), hash),
        }
    }
}

/// What a layer's passes depend on besides their state and content: evaluations that share
/// it (candidates that differ only in loop order) share their recorded passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Context {
    pub(super) array: crate::config::ArrayConfig,
    pub(super) buffers: [super::super::BufferConfig; 3],
    pub(super) output_bytes: u32,
    pub(super) layout: super::super::Layout,
    pub(super) gemm: crate::gemm::Gemm,
    pub(super) conv: Option<super::super::ConvGeometry>,
    /// M_t, K_t, N_t.
    pub(super) sizes: [u64; 3],
    /// The DMA's parameters (`Dma::memo_context`).
    pub(super) dma: [u64; 3],
}

/// Recorded passes of one context.
#[derive(Debug, Default)]
struct Tables {
    /// Passes recorded (their content and entry state; an id is its outcome's index).
    keys: Interner,
    outcomes: Vec<Outcome>,
    /// States at pass boundaries.
    states: Interner,
}

impl Tables {
    fn clear(&mut self) {
        self.keys.clear();
        self.outcomes.clear();
        self.states.clear();
    }
}

/// Contexts whose recorded passes are kept.
const CONTEXTS: usize = 8;

/// The recorded passes of the layer being run, and of the last few contexts.
#[derive(Debug, Default)]
pub struct PassMemo {
    t: Tables,
    context: Option<Context>,
    parked: Vec<(Context, Tables)>,
    /// Contents of segments of rows (see `segment_id`).
    contents: Interner,
    /// Per operand (ifmap, filter, ofmap): the content id of each segment of a row of tiles
    /// along the innermost loop (`u32::MAX`: not computed yet).
    rows: [Vec<u32>; 3],
    /// Ifmap segment tables kept across evaluations, and the key of the one in use.
    kept: HashMap<SegmentsKey, Vec<u32>>,
    keep: Option<SegmentsKey>,
    kept_generation: u64,
    /// The run's fields are behind (passes were taken from the memo): the exit of this
    /// outcome, at this reference cycle, is where they are to be put before a tile is stepped.
    stale: Option<(u32, u64)>,
    /// The outcome taken last, how many times in a row, and the open visits' words those
    /// passes ended (wrapping: see `take`): not in the totals yet (added when another is
    /// taken and when the layer ends). The totals are only read as differences over a pass
    /// being recorded, during which none is taken.
    unadded: Option<(u32, u64, u64)>,
    key: Vec<u64>,
    sig: Vec<u64>,
    scratch: Vec<Transfer>,
    /// What the memo did so far (for the bench and tests).
    pub(crate) counts: MemoCounts,
    /// Off: every tile is stepped (for tests and comparisons).
    pub(crate) off: bool,
    /// Segment contents kept at most (0: `CONTENTS_LIMIT`; tests make it small).
    pub(crate) limit: usize,
}

/// What a [`super::FoldCache`]'s pass memo did over the evaluations it served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoCounts {
    /// Passes taken from the memo.
    pub hits: u64,
    /// Passes looked up and not found (then stepped and recorded).
    pub misses: u64,
    /// Tiles stepped by layers that use the memo.
    pub tiles_stepped: u64,
    /// Tiles in the passes taken from the memo.
    pub tiles_skipped: u64,
}

impl MemoCounts {
    pub fn add(&mut self, o: &MemoCounts) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.tiles_stepped += o.tiles_stepped;
        self.tiles_skipped += o.tiles_skipped;
    }
}

impl PassMemo {
    /// Start a layer. `ifmap`: what its ifmap rows' segments depend on when they are kept
    /// across evaluations (a convolution's input windows: the ifmap memo's block, the
    /// innermost loop, the pass length and the DMA's cost key); its table is taken out.
    pub(super) fn reset(&mut self, context: Context, ifmap: Option<SegmentsKey>) {
        if self.contents.entries.len() > self.contents_limit() {
            // Content ids are about to be given again: forget everything keyed by them.
            self.contents.clear();
            self.kept.clear();
            self.t.clear();
            self.parked.clear();
            self.context = None;
        }
        if self.context != Some(context) {
            // Park the tables in use; take the context's own if kept (the oldest go).
            let tables = match self.parked.iter().position(|(c, _)| *c == context) {
                Some(at) => self.parked.remove(at).1,
                None if self.parked.len() >= CONTEXTS => {
                    let mut t = self.parked.remove(0).1;
                    t.clear();
                    t
                }
                None => Tables::default(),
            };
            let old = std::mem::replace(&mut self.t, tables);
            if let Some(c) = self.context.replace(context) {
                self.parked.push((c, old));
            }
        }
        self.stale = None;
        self.unadded = None;
        for r in &mut self.rows {
            r.clear();
        }
        if let Some(k) = ifmap {
            if k.0 != self.kept_generation {
                // The ifmap memo started afresh: tables of its old blocks can never be asked.
                self.kept.clear();
                self.kept_generation = k.0;
            }
            if let Some(t) = self.kept.remove(&k) {
                self.rows[0] = t;
            }
        }
        self.keep = ifmap;
    }

    fn contents_limit(&self) -> usize {
        if self.limit == 0 {
            CONTENTS_LIMIT
        } else {
            self.limit
        }
    }

    /// End a layer: its ifmap segments' table is kept for later evaluations.
    pub(super) fn finish(&mut self) {
        if let Some(k) = self.keep.take() {
            let t = std::mem::take(&mut self.rows[0]);
            self.kept.insert(k, t);
        }
    }
}

/// What a convolution's ifmap segment ids depend on beyond the segment: the ifmap memo's
/// block (its generation and index), the innermost loop, the pass length, the DMA's cost key.
pub(super) type SegmentsKey = (u64, usize, u8, u64, u64);

/// Segment contents the memo keeps at most across evaluations.
const CONTENTS_LIMIT: usize = 1 << 14;

/// The hash of a key (only ever compared with other keys' hashes: a match is then checked
/// word by word). Four words at a time in four independent lanes, as `Mix` mixes one (a
/// single chain waits on every multiply), then the lanes and the rest mixed into one.
fn hash_of(key: &[u64]) -> u64 {
    let mix = Mix::mix;
    let mut lanes = [0u64, 1, 2, 3];
    let mut quads = key.chunks_exact(4);
    for q in &mut quads {
        for (h, &x) in lanes.iter_mut().zip(q) {
            *h = mix(*h, x);
        }
    }
    let mut h = key.len() as u64;
    for &x in quads.remainder().iter().chain(&lanes) {
        h = mix(h, x);
    }
    h
}

impl<D: Dma, const T: bool> Sim<'_, '_, D, T> {
    /// The run's counters and totals for layer `li` (see `Tally`).
    fn tally(&self, li: usize) -> Tally {
        let tot = &self.totals[li];
        Tally {
            st: tot.st,
            array: tot.array,
            busy: self.dma.busy_cycles(),
            loads: [self.ifmap.loads.len(), self.filter.loads.len()],
            writes: self.out.writes.len(),
            folds: self.stepper.index,
        }
    }

    fn maxima(&self, li: usize) -> Maxima {
        let t = &self.totals[li];
        let done = self.out.done.get(li).copied().unwrap_or(0);
        [done, t.last_end, t.last_end_conflict_free]
    }

    fn set_maxima(&mut self, li: usize, m: Maxima) {
        if self.out.done.len() <= li {
            self.out.done.resize(li + 1, 0);
        }
        self.out.done[li] = m[0];
        let t = &mut self.totals[li];
        (t.last_end, t.last_end_conflict_free) = (m[1], m[2]);
    }

    /// The last visits' write-backs (as many as the ofmap buffer has halves), relative to
    /// cycle `r`: done at (`Some`) or pending; and how many there are.
    fn ring(&self, r: u64) -> Ring {
        let o = &self.out;
        let count = o.writes.len().min(o.reuse_distance);
        let mut writes = [None; 2];
        for (k, w) in writes.iter_mut().enumerate().take(count) {
            *w = match &o.writes[o.writes.len() - count + k] {
                Write::Pending => None,
                Write::Done(t) => Some(rel(*t, r)),
                Write::Ids(_) => unreachable!("an eager DMA resolves write-backs at issue"),
            };
        }
        (writes, count)
    }

    /// The run's state at the start of tile `i`, relative to where its last fold started
    /// streaming (returned).
    fn pass_state(&self, df: Dataflow, i: u64, li: usize) -> (PassState, u64) {
        let pr = self.stepper.prev.expect("a fold before the pass");
        let r = pr.stream_start;
        let st = &self.stepper;
        // Lower bounds of what the pass's first tile's first fold does (`Stepper::step`):
        // it streams after the last fold's last vector (every dataflow's stream bound is at
        // least `last_vector + 1`), and ends a pipeline after its first vector. WS and IS load
        // their stationary rows at the bound `p0` or later: the last fold's last row + 1
        // (`p0`'s first term) is at most its stream start, and so at most either bank bound
        // (`last_vector + lag` without double buffering, `stream_start + lag` from the
        // layer's third fold on, `lag` >= 0), which then set `p0` and never read the last
        // fold's load (`load_read` false); the conflict-free bound likewise (its load term,
        // `load_start + rows`, is at most `last_row + 1`).
        let last_vector = pr.last_vector.wrapping_sub(r) as i64;
        let stream_floor = last_vector + 1;
        let load_read = df != Dataflow::Os && st.stationary_double_buffer && st.index < 2;
        let (stationary_floor, end_floor) = match df {
            Dataflow::Os => (
                stream_floor,
                stream_floor + (st.lm + st.la + st.drain) as i64,
            ),
            _ => (
                if load_read {
                    pr.last_row.wrapping_sub(r) as i64 + 1
                } else if st.stationary_double_buffer {
                    0
                } else {
                    last_vector
                },
                stream_floor + (st.rows * st.la + st.lm) as i64,
            ),
        };
        let floor_of = |op: Operand| match (df, op) {
            (Dataflow::Ws, Operand::Filter) | (Dataflow::Is, Operand::Ifmap) => stationary_floor,
            _ => stream_floor,
        };
        let o = &self.out;
        let reuse = o.reuse_distance;
        let (writes, count) = self.ring(r);
        let free = self.dma.memo_free();
        let state = PassState {
            df,
            free: rel(free, r),
            streams: [
                StreamState::capture(&self.ifmap, li, i, r, floor_of(Operand::Ifmap)),
                StreamState::capture(&self.filter, li, i, r, floor_of(Operand::Filter)),
            ],
            out: OutState {
                writes,
                count,
                reuse,
                ready: rel(o.ready, r),
                end: rel(o.end, r),
                words: o.words,
                readback: o.readback,
            },
            prev: pr.rebase(r, 0),
            index_past_first_two: self.stepper.index >= 2,
            load_read,
            stream_floor,
            end_floor,
            stationary_floor,
        };
        (state, r)
    }

    /// Put the run's fields in the exit state of outcome `x` at reference cycle `r`, at tile
    /// `i` (`cur`); the counts (loads, visits, folds), the write-backs, the open visit's words
    /// and the totals are already there.
    #[inline(never)]
    fn materialize(&mut self, li: usize, i: u64, cur: &Tile, (x, r): (u32, u64)) {
        let s = self.cache.memo.t.outcomes[x as usize].exit;
        self.dma.memo_set_free(abs(s.free, r));
        for (which, ss) in s.streams.iter().enumerate() {
            let stream = if which == 0 {
                &mut self.ifmap
            } else {
                &mut self.filter
            };
            let len = stream.loads.len;
            let load = |ready: Rel, read: Rel| Load {
                ids: Vec::new(),
                ready: Some(abs(ready, r)),
                last_read: abs(read, r),
            };
            if let Some(read) = ss.reused {
                stream.loads.items[(len - 2) % 4] = Some(load(None, read));
            }
            stream.asked = ss.asked.map(|(t, ready, read)| {
                stream.loads.items[(len - 1) % 4] = Some(load(ready, read));
                ((li, i.wrapping_sub(t)), len - 1)
            });
            stream.before = ss.before.map(|(t, j)| ((li, i.wrapping_sub(t)), len - j));
            let op = stream.op;
            stream.last_key = stream.asked.map(|((l, _), _)| (l, cur.key(op)));
        }
        let out = &mut self.out;
        out.ready = abs(s.out.ready, r);
        out.end = abs(s.out.end, r);
        out.readback = s.out.readback;
        self.stepper.prev = Some(s.prev.rebase(0, r));
    }

    /// Before stepping tile `i` (`cur`): bring the run's fields up to date if passes were
    /// taken from the memo; the state is then known only by looking.
    /// (Inlined: it runs at every stepped tile; `materialize` only after a pass taken.)
    #[inline(always)]
    pub(super) fn memo_step(&mut self, li: usize, i: u64, cur: &Tile, cursor: &mut Cursor) {
        if let Some(at) = self.cache.memo.stale.take() {
            self.materialize(li, i, cur, at);
        }
        *cursor = Cursor::Unknown;
        self.cache.memo.counts.tiles_stepped += 1;
    }

    /// Content of the transfers of one load or write-back: count, then bytes and the DMA's
    /// cost key of each.
    fn push_transfers(dma: &D, key: &mut Vec<u64>, transfers: &[Transfer]) {
        key.push(transfers.len() as u64);
        for t in transfers {
            key.extend_from_slice(&[t.bytes(), dma.memo_cost(t)]);
        }
    }

    /// The transfers loading input `op` (ifmap or filter) for tile `t`, as `issue_input`
    /// computes them, pushed as content.
    fn push_load(&mut self, layer: &Prepared, op: Operand, t: &Tile, key: &mut Vec<u64>) {
        let g = &layer.order.gemm;
        if self.block_of(layer, op) && self.dma.memo_address_free() {
            // A block's bytes follow from the tile's extents, in the key already.
            return;
        }
        if op == Operand::Ifmap && layer.addrs.conv.is_some() {
            let word = self.ifmap.word_bytes;
            let tr = self.cache.inputs.get(&layer.addrs, g, t, word);
            Self::push_transfers(&self.dma, key, tr);
        } else {
            let word = if op == Operand::Ifmap {
                self.ifmap.word_bytes
            } else {
                self.filter.word_bytes
            };
            let one = layer.addrs.block(g, t, op, word, false);
            Self::push_transfers(&self.dma, key, std::slice::from_ref(&one));
        }
    }

    /// The write-back of tile `t`'s visit (and its partial-sum read-back, if it has one), as
    /// `run_layer` computes them, pushed as content.
    fn push_write(&mut self, layer: &Prepared, t: &Tile, key: &mut Vec<u64>) {
        let g = &layer.order.gemm;
        let complete = t.k0 + t.k == g.k;
        // Which statistics the transfers count to (partial sums or outputs).
        key.extend_from_slice(&[(t.k0 > 0) as u64, complete as u64]);
        if self.block_of(layer, Operand::Ofmap) && self.dma.memo_address_free() {
            return;
        }
        if t.k0 > 0 {
            let one = layer.addrs.block(g, t, Operand::Ofmap, 4, true);
            Self::push_transfers(&self.dma, key, std::slice::from_ref(&one));
        }
        let mut scratch = std::mem::take(&mut self.cache.memo.scratch);
        if complete {
            let word = self.mem.output_bytes as u64;
            layer.addrs.output_transfers(g, t, word, &mut scratch);
        } else {
            scratch.clear();
            scratch.push(layer.addrs.block(g, t, Operand::Ofmap, 4, true));
        }
        Self::push_transfers(&self.dma, key, &scratch);
        self.cache.memo.scratch = scratch;
    }

    /// Whether `op`'s transfers are one block per tile (a convolution's ifmap and output
    /// tiles are input windows and output rows instead).
    fn block_of(&self, layer: &Prepared, op: Operand) -> bool {
        op == Operand::Filter || layer.addrs.conv.is_none()
    }

    /// The id of the content of tiles `from .. to` along the innermost loop of `first`'s row,
    /// for operand `op`: an input's loads, or the ofmap's read-backs and write-backs. Computed
    /// once per segment (`slot`) and interned: segments alike share an id.
    fn segment_id(
        &mut self,
        layer: &Prepared,
        op: Operand,
        slot: usize,
        first: &Tile,
        (from, to): (u64, u64),
    ) -> u32 {
        let which = op as usize;
        if let Some(&id) = self.cache.memo.rows[which].get(slot) {
            if id != u32::MAX {
                return id;
            }
        }
        let mut sig = std::mem::take(&mut self.cache.memo.sig);
        sig.clear();
        let order = &layer.order;
        for j in from..to {
            let t = order.with_inner(first, j);
            if op == Operand::Ofmap {
                self.push_write(layer, &t, &mut sig);
            } else {
                self.push_load(layer, op, &t, &mut sig);
            }
        }
        let memo = &mut self.cache.memo;
        let id = memo.contents.intern(&sig);
        memo.sig = sig;
        let rows = &mut memo.rows[which];
        if rows.len() <= slot {
            rows.resize(slot + 1, u32::MAX);
        }
        rows[slot] = id;
        id
    }

    /// The content of the pass of tiles `first ..` (`l` of them along the innermost loop,
    /// from its index `j`; `before` = the tile before `first`), up to the loads it issues for
    /// the tile after it (which must exist): what it asks of the memory system and the array.
    /// Along the innermost loop the tiles' extents follow from the first's and the last's,
    /// which loads and visits happen from the loop order, and the transfers are segments of
    /// content computed once (`segment_id`); at the pass's edges the rest is pushed.
    fn push_content(
        &mut self,
        layer: &Prepared,
        (first, before): (Tile, Tile),
        (j, l, chunk): (u64, u64, u64),
        key: &mut Vec<u64>,
    ) -> (Tile, Tile, bool) {
        let order = &layer.order;
        let inner = order.dims[2];
        let chunks = order.counts[2].div_ceil(chunk) as usize;
        let last = order.with_inner(&first, j + l - 1);
        let next = order.next(&last);
        // Which words follow depends on the innermost loop (and on the pass length, the
        // layer and the DMA, which the context and `l` fix): the key says which it is, so
        // that keys of passes along different loops never read alike.
        key.extend_from_slice(&[inner as u64, l, first.m, first.k, first.n]);
        key.extend_from_slice(&[last.m, last.k, last.n]);
        key.extend_from_slice(&[next.m, next.k, next.n]);
        let seg = |op| order.row_slot(op, &first) * chunks + (j / chunk) as usize;
        // The loads inside the pass, and the next tile's.
        let blocks_free = self.dma.memo_address_free();
        for op in [Operand::Ifmap, Operand::Filter] {
            // (A block's content is its extents when its cost ignores the address: nothing to
            // look up.)
            if l > 1 && depends_on(op, inner) && !(blocks_free && self.block_of(layer, op)) {
                let id = self.segment_id(layer, op, seg(op), &first, (j + 1, j + l));
                key.push(id as u64);
            }
            if last.key(op) != next.key(op) {
                key.push(1);
                self.push_load(layer, op, &next, key);
            } else {
                key.push(0);
            }
        }
        // Visits: whether the first tile begins one and the last ends one, and the read-backs
        // and write-backs in between.
        let begins = before.key(Operand::Ofmap) != first.key(Operand::Ofmap);
        let ends = last.key(Operand::Ofmap) != next.key(Operand::Ofmap);
        key.extend_from_slice(&[begins as u64, ends as u64]);
        if depends_on(Operand::Ofmap, inner) {
            let id = self.segment_id(
                layer,
                Operand::Ofmap,
                seg(Operand::Ofmap),
                &first,
                (j, j + l),
            );
            key.push(id as u64);
        } else if ends {
            // One visit along the innermost loop (K): its write-back.
            self.push_write(layer, &last, key);
        }
        // Whether the pass begins or ends a visit (reads or writes the write-back ring).
        let touched = begins || ends || (l > 1 && depends_on(Operand::Ofmap, inner));
        (last, next, touched)
    }

    /// At the start of the pass of tiles `i .. i + l` (`cur` = tile `i`, index `j` along the
    /// innermost loop; `before` = tile `i - 1`; `i + l` < the layer's tiles; passes cut the
    /// innermost loop into `chunk` tiles): take it from the memo if it was recorded (the run
    /// is then at tile `i + l`: its tile and the one before are returned), or note it to
    /// record (`None`: step it).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn memo_pass(
        &mut self,
        li: usize,
        layer: &Prepared,
        i: u64,
        (cur, before): (Tile, Tile),
        (j, l, chunk): (u64, u64, u64),
        cursor: &mut Cursor,
        pending: &mut Option<Pending>,
    ) -> Option<(Tile, Tile)> {
        let mut key = std::mem::take(&mut self.cache.memo.key);
        key.clear();
        let (last, next, touched) =
            self.push_content(layer, (cur, before), (j, l, chunk), &mut key);
        let content = key.len();
        // The state's id: the exit of the pass before (known) or the run's (looked at).
        let (id, r) = match *cursor {
            Cursor::At(x, r) => {
                let o = &self.cache.memo.t.outcomes[x as usize];
                let ring = if touched { Some(self.ring(r)) } else { None };
                let cached = match (ring, o.exit_id, o.exit_touched) {
                    (None, Some(id), _) => Some(id),
                    (Some(now), _, Some((then, id))) if now == then => Some(id),
                    _ => None,
                };
                match cached {
                    Some(id) => (id, r),
                    None => {
                        // The write-backs are the run's own: a pass that does not touch them
                        // leaves them as they were, which need not be as where it was
                        // recorded (they were not in its key).
                        let mut exit = o.exit;
                        if let Some(now) = ring {
                            (exit.out.writes, exit.out.count) = now;
                        }
                        exit.push(touched, &mut key);
                        let id = self.cache.memo.t.states.intern(&key[content..]);
                        let o = &mut self.cache.memo.t.outcomes[x as usize];
                        match ring {
                            None => o.exit_id = Some(id),
                            Some(now) => o.exit_touched = Some((now, id)),
                        }
                        (id, r)
                    }
                }
            }
            Cursor::Unknown => {
                let (state, r) = self.pass_state(layer.array.dataflow(), i, li);
                state.push(touched, &mut key);
                (self.cache.memo.t.states.intern(&key[content..]), r)
            }
        };
        key.truncate(content);
        key.push(id as u64);
        let hash = hash_of(&key);
        let at = self.cache.memo.t.keys.find(&key, hash);
        self.cache.memo.key = key;
        if let Some(x) = at {
            self.take(li, x, r);
            self.cache.memo.counts.hits += 1;
            self.cache.memo.counts.tiles_skipped += l;
            let shift = self.cache.memo.t.outcomes[x as usize].shift;
            *cursor = Cursor::At(x, r.wrapping_add(shift));
            return Some((next, last));
        }
        self.cache.memo.counts.misses += 1;
        self.memo_step(li, i, &cur, cursor);
        self.cache.memo.counts.tiles_stepped -= 1;
        if self.cache.memo.t.outcomes.len() < MEMO_LIMIT {
            let maxima = self.maxima(li);
            self.set_maxima(li, [0; 3]);
            // Mark the open visit's words: they count only toward statistics, and the mark
            // shows at the end whether they went into them and whether they carry on.
            let words = self.out.words;
            self.out.words += WORDS_MARK;
            *pending = Some(Pending {
                key: self.cache.memo.key.clone(),
                hash,
                r,
                touched,
                maxima,
                words,
                at: self.tally(li),
            });
        }
        None
    }

    /// Take outcome `x` for a pass whose reference cycle is `r`: what it adds now, its exit
    /// state once a tile is stepped.
    fn take(&mut self, li: usize, x: u32, r: u64) {
        let o = &self.cache.memo.t.outcomes[x as usize];
        // (The statistics are added in place at the end, not copied out.)
        let Tally {
            busy,
            loads,
            writes,
            folds,
            ..
        } = o.added;
        let maxima = o.maxima.map(|t| abs(t, r));
        let exit_r = r.wrapping_add(o.shift);
        let touched = o.touched;
        let (exit_words, exit_writes, exit_count) =
            (o.exit.out.words, o.exit.out.writes, o.exit.out.count);
        // The open visit's words at the start: in the statistics if it ended in the pass, in
        // the words at the end if no visit began.
        let (ended, carried, words) = (o.ended, o.carried, o.words);
        let now = self.out.words;
        let d = now.wrapping_sub(words);
        self.out.words = if carried {
            exit_words.wrapping_add(d)
        } else {
            exit_words
        };
        self.dma.memo_add_busy(busy);
        self.ifmap.loads.len += loads[0];
        self.filter.loads.len += loads[1];
        let out = &mut self.out;
        out.writes.len += writes;
        if touched {
            let len = out.writes.len;
            for (k, w) in exit_writes[..exit_count].iter().enumerate() {
                out.writes.items[(len - exit_count + k) % 4] = Some(match w {
                    Some(t) => Write::Done(abs(*t, exit_r)),
                    None => Write::Pending,
                });
            }
        }
        self.stepper.index += folds;
        let mut m = self.maxima(li);
        for (a, b) in m.iter_mut().zip(maxima) {
            *a = (*a).max(b);
        }
        self.set_maxima(li, m);
        // The statistics it added, and the open visit's words if it ended: once per run of the
        // same outcome taken.
        if !matches!(self.cache.memo.unadded, Some((y, ..)) if y == x) {
            self.memo_add_taken(li);
        }
        let memo = &mut self.cache.memo;
        let (_, n, words) = memo.unadded.get_or_insert((x, 0, 0));
        *n += 1;
        if ended {
            *words = words.wrapping_add(d);
        }
        memo.stale = Some((x, exit_r));
    }

    /// Add to layer `li`'s totals the statistics of the passes taken and not added yet
    /// (`PassMemo::unadded`).
    fn memo_add_taken(&mut self, li: usize) {
        let memo = &mut self.cache.memo;
        if let Some((x, n, words)) = memo.unadded.take() {
            let added = &memo.t.outcomes[x as usize].added;
            let tot = &mut self.totals[li];
            tot.st.add(&added.st.times(n));
            tot.array.add(&added.array.times(n));
            // (Last: the words may be less than the recorded passes' own, never than all.)
            let st = &mut tot.st;
            st.ofmap_sram_reads = st.ofmap_sram_reads.wrapping_add(words);
            st.ofmap_sram_writes = st.ofmap_sram_writes.wrapping_add(words);
        }
    }

    /// End layer `li`: the statistics of the passes taken are all added.
    pub(super) fn memo_finish(&mut self, li: usize) {
        self.memo_add_taken(li);
        self.cache.memo.finish();
    }

    /// Record the pass `p` started, now that it has ended at tile `i`; the run's state there
    /// is known.
    pub(super) fn memo_record(
        &mut self,
        li: usize,
        layer: &Prepared,
        i: u64,
        p: Pending,
        cursor: &mut Cursor,
    ) {
        let (exit, r) = self.pass_state(layer.array.dataflow(), i, li);
        let own = self.maxima(li);
        let mut m = p.maxima;
        for (x, y) in m.iter_mut().zip(own) {
            *x = (*x).max(y);
        }
        self.set_maxima(li, m);
        // The open visit's words carried a mark while the pass ran (`memo_pass`): where it
        // shows, the words at the start went.
        let ended = self.totals[li].st.ofmap_sram_reads - p.at.st.ofmap_sram_reads >= WORDS_MARK;
        let carried = self.out.words >= WORDS_MARK;
        if ended {
            let st = &mut self.totals[li].st;
            st.ofmap_sram_reads -= WORDS_MARK;
            st.ofmap_sram_writes -= WORDS_MARK;
        }
        if carried {
            self.out.words -= WORDS_MARK;
        }
        let exit = PassState {
            out: OutState {
                words: self.out.words,
                ..exit.out
            },
            ..exit
        };
        let o = Outcome {
            exit,
            exit_id: None,
            exit_touched: None,
            shift: r.wrapping_sub(p.r),
            touched: p.touched,
            ended,
            carried,
            words: p.words,
            maxima: own.map(|x| rel(x, p.r)),
            added: self.tally(li).since(&p.at),
        };
        let memo = &mut self.cache.memo;
        let x = memo.t.keys.add(p.key, p.hash);
        debug_assert_eq!(
            x as usize,
            memo.t.outcomes.len(),
            "an outcome per recorded key"
        );
        memo.t.outcomes.push(o);
        *cursor = Cursor::At(x, r);
    }
}

/// Tiles per pass along an innermost loop of `inner` tiles: all of them up to
/// [`CHUNK`], else the loop cut into equal passes of at most that many.
pub(super) fn chunk(inner: u64) -> u64 {
    let passes = inner.div_ceil(CHUNK);
    inner.div_ceil(passes)
}

/// The longest pass.
const CHUNK: u64 = 24;
