//! The pass memo of the search's evaluator (docs/search.md, "Scoring a candidate").
//!
//! A layer's tiles are cut into passes: runs of `P` consecutive tiles in loop order (`P` the
//! innermost loop's tile count). What a pass does depends only on the state of the memory
//! system and the array when it starts and on what it asks of them (its *content*: the tiles'
//! extents, which loads and write-backs it issues and what each transfer costs), and every
//! rule of the model is a sum or a maximum of times: a state moved by `d` cycles gives the
//! same pass moved by `d` cycles. So a pass is simulated once per (state relative to a
//! reference cycle, content); a later pass that starts from the same relative state with the
//! same content takes the recorded outcome, moved to its own reference, without stepping its
//! tiles. The key holds the whole state and content, not a hash of them: a hit is exact.
//!
//! Times that stand for "not yet" (a load not read yet, no write-back yet, nothing on the
//! array yet: the value 0) are kept apart from real times in the key, and restored as 0:
//! they only ever enter maxima with real times, so they act the same in every pass.
//!
//! Only the untraced, unrecorded single-layer run with a DMA that answers at issue and whose
//! answers move with the issue cycle (the bandwidth model) uses it: `evaluate_layer`.

use super::super::backend::Transfer;
use super::super::tiling::Dim;
use super::super::{MemStats, Operand};
use super::{Dma, InputStream, Load, Mix, Prepared, Prev, Sim, Tile, TileOrder, Write};
use crate::config::Dataflow;
use crate::stats::GemmStats;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Passes a layer records at most (each entry holds its key: a few hundred bytes).
const MEMO_LIMIT: usize = 1 << 12;

/// Whether `op`'s tiles change along `d` (ifmap: M x K, filter: K x N, ofmap: M x N).
fn depends_on(op: Operand, d: Dim) -> bool {
    !matches!(
        (op, d),
        (Operand::Ifmap, Dim::N) | (Operand::Filter, Dim::M) | (Operand::Ofmap, Dim::K)
    )
}

fn index_of(t: &Tile, d: Dim) -> u64 {
    match d {
        Dim::M => t.im,
        Dim::K => t.ik,
        Dim::N => t.in_,
    }
}

impl TileOrder {
    /// Tile `t` with its innermost loop's index set to `j`.
    fn with_inner(&self, t: &Tile, j: u64) -> Tile {
        let mut t = *t;
        let d = self.dims[2];
        let (full, step) = match d {
            Dim::M => (self.gemm.m, self.tiling.m),
            Dim::K => (self.gemm.k, self.tiling.k),
            Dim::N => (self.gemm.n, self.tiling.n),
        };
        let (o, l) = (j * step, step.min(full - j * step));
        match d {
            Dim::M => (t.im, t.m0, t.m) = (j, o, l),
            Dim::K => (t.ik, t.k0, t.k) = (j, o, l),
            Dim::N => (t.in_, t.n0, t.n) = (j, o, l),
        }
        t
    }

    /// Which row along the innermost loop tile `t` is in, for operand `op` (which changes
    /// along it): an input's row is set by the group and its other dimension's index; the
    /// ofmap's by every outer index (K's too: it decides read-backs and what is written).
    fn row_slot(&self, op: Operand, t: &Tile) -> usize {
        let [d0, d1, _] = self.dims;
        let c = self.counts;
        if op == Operand::Ofmap {
            return ((t.group * c[0] + index_of(t, d0)) * c[1] + index_of(t, d1)) as usize;
        }
        let (other, count) = if depends_on(op, d0) {
            (d0, c[0])
        } else {
            (d1, c[1])
        };
        (t.group * count + index_of(t, other)) as usize
    }
}

/// A time of the state, relative to the pass's reference cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Time {
    /// 0: "not yet" (no read, no write-back, nothing issued yet).
    Zero,
    /// Early enough that the pass overrides it before it could matter (see `dominated`).
    Early,
    /// A real time, relative to the reference cycle (wrapping).
    At(u64),
}

impl Time {
    fn of(x: u64, r: u64) -> Time {
        if x == 0 {
            Time::Zero
        } else {
            Time::At(x.wrapping_sub(r))
        }
    }

    /// `x`, or `Early` when it is at most `floor`: the pass only ever uses it in a maximum
    /// with a time it knows is at least `floor`.
    fn dominated(x: u64, r: u64, floor: u64) -> Time {
        if x <= floor {
            Time::Early
        } else {
            Time::of(x, r)
        }
    }

    fn at(self, r: u64) -> u64 {
        match self {
            Time::Zero | Time::Early => 0,
            Time::At(v) => v.wrapping_add(r),
        }
    }

    fn push(self, key: &mut Vec<u64>) {
        match self {
            Time::Zero => key.push(0),
            Time::Early => key.push(1),
            Time::At(v) => key.extend_from_slice(&[2, v]),
        }
    }
}

/// An input stream's state at a pass's start (tile `i`): the load serving tile `i` (always
/// the last one, asked for during tile `i - 1`), and for a double-buffered stream the load
/// before it (its last read starts the next load into its half).
#[derive(Debug, Clone, Copy)]
struct StreamState {
    loads: usize,
    /// Tiles back from `i` of the tile asked for last (0), its load's ready and last read.
    asked: Option<(u64, Time, Time)>,
    /// The last read of the load before (double buffering).
    reused: Option<Time>,
    /// The tile asked for before (restored only: the pass never looks at it).
    before: Option<(u64, usize)>,
}

impl StreamState {
    /// `floor`: the earliest the array reads this operand in the pass.
    fn capture<I: Copy>(s: &InputStream<I>, li: usize, i: u64, r: u64, floor: u64) -> Self {
        let len = s.loads.len();
        let asked = s.asked.map(|((l, t), j)| {
            debug_assert!(l == li && j + 1 == len, "tile i's load is the last");
            let load = &s.loads[j];
            debug_assert!(load.ids.is_empty(), "an eager DMA resolves loads at issue");
            let ready = Time::dominated(load.ready.unwrap_or(0), r, floor);
            (
                i.wrapping_sub(t),
                ready,
                Time::dominated(load.last_read, r, floor),
            )
        });
        let reused = (s.double && len >= 2).then(|| Time::of(s.loads[len - 2].last_read, r));
        StreamState {
            loads: len.min(2),
            asked,
            reused,
            before: s.before.map(|((_, t), j)| (i.wrapping_sub(t), len - j)),
        }
    }

    fn push(&self, key: &mut Vec<u64>) {
        key.push(self.loads as u64);
        match self.asked {
            Some((t, ready, read)) => {
                key.extend_from_slice(&[1, t]);
                ready.push(key);
                read.push(key);
            }
            None => key.push(0),
        }
        if let Some(t) = self.reused {
            t.push(key);
        }
    }
}

/// The ofmap buffer's state.
#[derive(Debug, Clone, Copy)]
struct OutState {
    /// The last visits' write-backs (as many as the buffer has halves): done at (`Some`),
    /// or still pending.
    writes: [Option<Time>; 2],
    count: usize,
    ready: Time,
    end: Time,
    words: u64,
    readback: bool,
}

/// Everything a pass reads of the run at its start, relative to a reference cycle (where
/// the last fold started streaming) and to its first tile.
#[derive(Debug, Clone, Copy)]
pub(super) struct PassState {
    free: Time,
    streams: [StreamState; 2],
    out: OutState,
    prev: Option<Prev>,
    index_past_first_two: bool,
}

impl PassState {
    fn push(&self, df: Dataflow, key: &mut Vec<u64>) {
        self.free.push(key);
        for s in &self.streams {
            s.push(key);
        }
        let o = &self.out;
        key.push(o.count as u64);
        for w in &o.writes[..o.count] {
            match w {
                Some(t) => t.push(key),
                None => key.push(3),
            }
        }
        o.ready.push(key);
        o.end.push(key);
        key.extend_from_slice(&[o.words, o.readback as u64]);
        match &self.prev {
            // Only the fields the dataflow's rules read (`Stepper::step`).
            Some(p) => {
                key.extend_from_slice(&[1, p.load_start, p.stream_start, p.rows, p.vectors]);
                key.push(p.last_vector);
                match df {
                    Dataflow::Os => key.extend_from_slice(&[p.pair_interval, p.last_copy]),
                    _ => key.push(p.last_row),
                }
            }
            None => key.push(0),
        }
        key.push(self.index_past_first_two as u64);
    }
}

/// The maxima a run keeps only to report them (never read while the layer runs): the
/// latest write-back, the latest result and the latest conflict-free result.
type Maxima = [u64; 3];

/// What a recorded pass did: the state it ends in (an interned state, relative to its own
/// reference cycle, `shift` cycles after the pass's) and what it added.
#[derive(Debug, Clone)]
struct Outcome {
    /// The pass's entry state id, then its content.
    key: Vec<u64>,
    /// The next entry with the same hash.
    next: Option<u32>,
    exit: u32,
    shift: u64,
    /// The pass's own maxima (`Maxima`), relative to its reference cycle.
    maxima: [Time; 3],
    st: MemStats,
    array: GemmStats,
    busy: u64,
    loads: [usize; 2],
    writes: usize,
    folds: u64,
}

/// A pass being simulated, to record when it ends.
#[derive(Debug)]
pub(super) struct Pending {
    key: Vec<u64>,
    hash: u64,
    r: u64,
    /// The run's maxima before the pass (they are zeroed while it runs, to see its own).
    maxima: Maxima,
    st: MemStats,
    array: GemmStats,
    busy: u64,
    loads: [usize; 2],
    writes: usize,
    folds: u64,
}

/// Where a layer's run stands at a pass boundary, as the memo knows it.
#[derive(Debug, Default)]
pub(super) struct Cursor {
    /// The run's state (interned) and its reference cycle, when known without looking.
    at: Option<(u32, u64)>,
    /// The run's fields are behind (passes were taken from the memo): this is the state to
    /// put them in before a tile is stepped.
    stale: Option<(u32, u64)>,
}

/// Interned keys: by hash, the first of a chain of entries with that hash.
#[derive(Debug)]
struct Interner<T> {
    map: HashMap<u64, u32, BuildHasherDefault<Mix>>,
    entries: Vec<(Vec<u64>, Option<u32>, T)>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            map: HashMap::default(),
            entries: Vec::new(),
        }
    }
}

impl<T> Interner<T> {
    fn clear(&mut self) {
        self.map.clear();
        self.entries.clear();
    }

    fn find(&self, key: &[u64], hash: u64) -> Option<u32> {
        let mut at = self.map.get(&hash).copied();
        while let Some(x) = at {
            let (k, next, _) = &self.entries[x as usize];
            if k[..] == *key {
                return Some(x);
            }
            at = *next;
        }
        None
    }

    /// The id of `key` (added with `value()` when new).
    fn intern(&mut self, key: &[u64], value: impl FnOnce() -> T) -> u32 {
        let hash = hash_of(key);
        if let Some(x) = self.find(key, hash) {
            return x;
        }
        let id = self.entries.len() as u32;
        let next = self.map.insert(hash, id);
        self.entries.push((key.to_vec(), next, value()));
        id
    }
}

/// The recorded passes of the layer being run (cleared per layer; the buffers stay).
#[derive(Debug, Default)]
pub struct PassMemo {
    /// Pass outcomes by (entry state, content).
    map: HashMap<u64, u32, BuildHasherDefault<Mix>>,
    outcomes: Vec<Outcome>,
    /// States at pass boundaries.
    states: Interner<PassState>,
    /// Contents of segments of rows (see `segment_id`).
    contents: Interner<()>,
    /// Per operand (ifmap, filter, ofmap): the content id of each segment of a row of tiles
    /// along the innermost loop (`u32::MAX`: not computed yet).
    rows: [Vec<u32>; 3],
    key: Vec<u64>,
    sig: Vec<u64>,
    scratch: Vec<Transfer>,
    /// What the memo did so far (for the bench and tests).
    pub(crate) counts: MemoCounts,
    /// Off: every tile is stepped (for tests and comparisons).
    pub(crate) off: bool,
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
    pub(super) fn reset(&mut self) {
        self.map.clear();
        self.outcomes.clear();
        self.states.clear();
        self.contents.clear();
        for r in &mut self.rows {
            r.clear();
        }
    }
}

fn hash_of(key: &[u64]) -> u64 {
    let mut h = Mix::default();
    for &x in key {
        h.write_u64(x);
    }
    h.finish()
}

/// Reference cycle of a state: where the array's last fold started streaming.
fn reference(prev: &Option<Prev>) -> u64 {
    prev.map_or(0, |p| p.stream_start)
}

impl<D: Dma, const T: bool> Sim<'_, '_, D, T> {
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

    /// The state at the start of tile `i`, relative to cycle `r` (where the last fold
    /// started streaming).
    fn pass_state(&self, df: Dataflow, i: u64, li: usize, r: u64) -> PassState {
        let pr = self.stepper.prev.expect("a fold before the pass");
        let st = &self.stepper;
        // Lower bounds of what the pass's first tile's first fold does (`Stepper::step`):
        // it streams from `r + 1` on (after the last fold's vectors), loads its stationary
        // rows after the last fold's, and ends a pipeline after its first vector.
        let stream_floor = r + 1;
        let (stationary_floor, end_floor) = match df {
            Dataflow::Os => (stream_floor, r + 1 + st.lm + st.la + st.drain),
            _ => (pr.last_row + 1, r + 1 + st.rows * st.la + st.lm),
        };
        let floor_of = |op: Operand| match (df, op) {
            (Dataflow::Ws, Operand::Filter) | (Dataflow::Is, Operand::Ifmap) => stationary_floor,
            _ => stream_floor,
        };
        let o = &self.out;
        let reuse = o.reuse_distance;
        let count = o.writes.len().min(reuse);
        let mut writes = [None; 2];
        for (k, w) in writes.iter_mut().enumerate().take(count) {
            *w = match &o.writes[o.writes.len() - count + k] {
                Write::Pending => None,
                Write::Done(t) => Some(Time::of(*t, r)),
                Write::Ids(_) => unreachable!("an eager DMA resolves write-backs at issue"),
            };
        }
        // The earliest any transfer of the pass may start: its first loads into a double
        // buffer's free half (after that half's last read), a partial-sum read-back (after
        // the write-back that held its half), anything else after the first fold's reads.
        let mut first_issue = stream_floor.min(stationary_floor);
        for s in [&self.ifmap, &self.filter] {
            if s.double {
                let len = s.loads.len();
                first_issue = first_issue.min(if len >= 2 {
                    s.loads[len - 2].last_read + 1
                } else {
                    0
                });
            }
        }
        let v = o.writes.len();
        first_issue = first_issue.min(if v >= reuse {
            match &o.writes[v - reuse] {
                Write::Done(t) => t + 1,
                _ => 0,
            }
        } else {
            0
        });
        let [free, _] = self.dma.memo_state();
        PassState {
            free: Time::dominated(free, r, first_issue),
            streams: [
                StreamState::capture(&self.ifmap, li, i, r, floor_of(Operand::Ifmap)),
                StreamState::capture(&self.filter, li, i, r, floor_of(Operand::Filter)),
            ],
            out: OutState {
                writes,
                count,
                ready: Time::dominated(o.ready, r, stream_floor),
                end: Time::dominated(o.end, r, end_floor),
                words: o.words,
                readback: o.readback,
            },
            prev: Some(pr.rebase(r, 0)),
            index_past_first_two: self.stepper.index >= 2,
        }
    }

    /// Put the run's fields in interned state `id` relative to cycle `r`, at tile `i`
    /// (`cur`); the counts (loads, visits, folds) and totals are already there.
    fn materialize(&mut self, li: usize, i: u64, cur: &Tile, (id, r): (u32, u64)) {
        let s = self.cache.memo.states.entries[id as usize].2;
        self.dma.memo_set_free(s.free.at(r));
        for (which, ss) in s.streams.iter().enumerate() {
            let stream = if which == 0 {
                &mut self.ifmap
            } else {
                &mut self.filter
            };
            let len = stream.loads.len;
            let load = |ready: Time, read: Time| Load {
                ids: Vec::new(),
                ready: Some(ready.at(r)),
                last_read: read.at(r),
            };
            if let Some(read) = ss.reused {
                stream.loads.items[(len - 2) % 4] = Some(load(Time::Zero, read));
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
        let len = out.writes.len;
        let so = &s.out;
        for (k, w) in so.writes[..so.count].iter().enumerate() {
            out.writes.items[(len - so.count + k) % 4] = Some(match w {
                Some(t) => Write::Done(t.at(r)),
                None => Write::Pending,
            });
        }
        out.ready = so.ready.at(r);
        out.end = so.end.at(r);
        out.words = so.words;
        out.readback = so.readback;
        self.stepper.prev = s.prev.map(|p| p.rebase(0, r));
    }

    /// Before stepping tile `i` (`cur`): bring the run's fields up to date if passes were
    /// taken from the memo; the run's state is then no longer known without looking.
    pub(super) fn memo_step(&mut self, li: usize, i: u64, cur: &Tile, cursor: &mut Cursor) {
        if let Some(at) = cursor.stale.take() {
            self.materialize(li, i, cur, at);
        }
        cursor.at = None;
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
        let id = memo.contents.intern(&sig, || ());
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
    ) -> (Tile, Tile) {
        let order = layer.order;
        let inner = order.dims[2];
        let chunks = order.counts[2].div_ceil(chunk) as usize;
        let last = order.with_inner(&first, j + l - 1);
        let next = order.next(&last);
        key.extend_from_slice(&[l, first.m, first.k, first.n, last.m, last.k, last.n]);
        key.extend_from_slice(&[next.m, next.k, next.n]);
        let seg = |op| order.row_slot(op, &first) * chunks + (j / chunk) as usize;
        // The loads inside the pass, and the next tile's.
        for op in [Operand::Ifmap, Operand::Filter] {
            if l > 1 && depends_on(op, inner) {
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
        (last, next)
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
        let (id, r) = match cursor.at {
            Some(at) => at,
            None => {
                let df = layer.array.dataflow();
                let r = reference(&self.stepper.prev);
                let state = self.pass_state(df, i, li, r);
                let mut key = std::mem::take(&mut self.cache.memo.key);
                key.clear();
                state.push(df, &mut key);
                let id = self.cache.memo.states.intern(&key, || state);
                self.cache.memo.key = key;
                (id, r)
            }
        };
        let mut key = std::mem::take(&mut self.cache.memo.key);
        key.clear();
        key.push(id as u64);
        let (last, next) = self.push_content(layer, (cur, before), (j, l, chunk), &mut key);
        let hash = hash_of(&key);
        let memo = &self.cache.memo;
        let mut at = memo.map.get(&hash).copied();
        while let Some(x) = at {
            let o = &memo.outcomes[x as usize];
            if o.key == key {
                break;
            }
            at = o.next;
        }
        self.cache.memo.key = key;
        if let Some(x) = at {
            self.cache.memo.counts.hits += 1;
            self.cache.memo.counts.tiles_skipped += l;
            let o = &self.cache.memo.outcomes[x as usize];
            let at = (o.exit, r.wrapping_add(o.shift));
            let (st, array, busy, loads, writes, folds) =
                (o.st, o.array, o.busy, o.loads, o.writes, o.folds);
            let maxima = o.maxima.map(|t| t.at(r));
            self.dma.memo_add_busy(busy);
            self.ifmap.loads.len += loads[0];
            self.filter.loads.len += loads[1];
            self.out.writes.len += writes;
            self.stepper.index += folds;
            let mut m = self.maxima(li);
            for (x, y) in m.iter_mut().zip(maxima) {
                *x = (*x).max(y);
            }
            self.set_maxima(li, m);
            let tot = &mut self.totals[li];
            tot.st.add(&st);
            tot.array.add(&array);
            cursor.at = Some(at);
            cursor.stale = Some(at);
            return Some((next, last));
        }
        self.cache.memo.counts.misses += 1;
        self.memo_step(li, i, &cur, cursor);
        if self.cache.memo.outcomes.len() < MEMO_LIMIT {
            let maxima = self.maxima(li);
            self.set_maxima(li, [0; 3]);
            let tot = &self.totals[li];
            *pending = Some(Pending {
                key: self.cache.memo.key.clone(),
                hash,
                r,
                maxima,
                st: tot.st,
                array: tot.array,
                busy: self.dma.busy_cycles(),
                loads: [self.ifmap.loads.len(), self.filter.loads.len()],
                writes: self.out.writes.len(),
                folds: self.stepper.index,
            });
        }
        None
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
        let df = layer.array.dataflow();
        let r = reference(&self.stepper.prev);
        let exit = self.pass_state(df, i, li, r);
        let mut key = std::mem::take(&mut self.cache.memo.key);
        key.clear();
        exit.push(df, &mut key);
        let exit_id = self.cache.memo.states.intern(&key, || exit);
        self.cache.memo.key = key;
        cursor.at = Some((exit_id, r));
        let own = self.maxima(li);
        let mut m = p.maxima;
        for (x, y) in m.iter_mut().zip(own) {
            *x = (*x).max(y);
        }
        self.set_maxima(li, m);
        let tot = &self.totals[li];
        let o = Outcome {
            next: self.cache.memo.map.get(&p.hash).copied(),
            key: p.key,
            exit: exit_id,
            shift: r.wrapping_sub(p.r),
            maxima: own.map(|x| Time::of(x, p.r)),
            st: tot.st.minus(&p.st),
            array: tot.array.minus(&p.array),
            busy: self.dma.busy_cycles() - p.busy,
            loads: [
                self.ifmap.loads.len() - p.loads[0],
                self.filter.loads.len() - p.loads[1],
            ],
            writes: self.out.writes.len() - p.writes,
            folds: self.stepper.index - p.folds,
        };
        let memo = &mut self.cache.memo;
        memo.map.insert(p.hash, memo.outcomes.len() as u32);
        memo.outcomes.push(o);
    }
}

/// Tiles per pass along an innermost loop of `inner` tiles: all of them up to
/// [`CHUNK`], else the loop cut into equal passes of at most that many.
pub(super) fn chunk(inner: u64) -> u64 {
    let passes = inner.div_ceil(CHUNK);
    inner.div_ceil(passes)
}

/// The longest pass.
const CHUNK: u64 = 16;
