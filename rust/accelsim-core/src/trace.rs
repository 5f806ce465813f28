//! Trace recording, as an observer of a run.
//!
//! The simulators take an `Option<&mut Trace>`: `None` (the default everywhere) records nothing
//! and costs one untaken branch per fold or transfer. With a [`Trace`], they record *slices*
//! (intervals on a track: a fold streaming through the array, a DMA transfer, a DRAM command, a
//! stall with its cause) and *counter samples* (buffer occupancy), bounded by a cycle window, a
//! set of categories and a maximum event count. Everything is kept as columns of numbers; the
//! Python side turns them into Perfetto / Chrome trace JSON (docs/trace.md).
//!
//! Time: layers run one after another; layer `i` starts at global accelerator cycle
//! `layers[i].start` (the previous layer's start plus its cycles plus the gap the caller asked
//! for after it, e.g. vector-unit work), or where its caller places it (`begin_layer_at`; a
//! scheduled network run records its overlapping layers as one span and cuts it into their
//! shares afterwards, `split_last_layer`). Every event is stored relative to its layer's start, in
//! its track's clock: accelerator cycles, or DRAM cycles for DRAM command tracks (the DRAM clock
//! starts with the layer). Slices on one track never overlap: a slice that would start before
//! the previous one on its track ended is recorded from that end (the recorders are built so this
//! does not happen; a test checks it), and no slice extends past its layer's end.

use std::collections::HashMap;

use crate::config::{named_enum, Dataflow};
use crate::dram::ClockConverter;
use crate::error::{Error, Result};
use crate::gemm::Fold;
use crate::timing::FoldTiming;

named_enum!(
    /// What a track records; a trace records the categories it is asked for.
    Category, "trace_categories", {
        /// Folds streaming through the array, stationary loads.
        Array => "array",
        /// Cycles the array waited, by cause (ifmap, filter, ofmap, bank).
        Stall => "stall",
        /// DMA transfers per operand and buffer half.
        Dma => "dma",
        /// The DRAM: its commands per bank (cycle-level model) or the interface's busy
        /// intervals (bandwidth model).
        Dram => "dram",
        /// Buffer occupancy counters.
        Buffer => "buffer",
    }
);

impl Category {
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Which clock a track's times are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Accelerator cycles.
    Acc,
    /// DRAM cycles (the cycle-level model's clock, `Trace::dram_khz`).
    Dram,
}

/// What to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceConfig {
    /// Global accelerator cycles `[start, end)`: events outside are dropped, events across an
    /// edge are cut at it.
    pub window: (u64, u64),
    /// Bit set of [`Category`]s (`1 << category as u8`); see `with_categories`.
    pub categories: u8,
    /// At most this many events (slices plus counter samples); past it, events are dropped and
    /// the trace says up to which cycle it is complete.
    pub max_events: u64,
    /// Cycles between the end of layer `i` and the start of layer `i + 1` (work that runs
    /// between them off the array); missing entries are 0.
    pub gaps: Vec<u64>,
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            window: (0, u64::MAX),
            categories: Category::ALL.iter().fold(0, |b, c| b | c.bit()),
            max_events: 1_000_000,
            gaps: Vec::new(),
        }
    }
}

impl TraceConfig {
    /// Record only `categories`.
    pub fn with_categories(mut self, categories: &[Category]) -> Self {
        self.categories = categories.iter().fold(0, |b, c| b | c.bit());
        self
    }

    pub fn categories(&self) -> Vec<Category> {
        Category::ALL
            .iter()
            .copied()
            .filter(|c| self.categories & c.bit() != 0)
            .collect()
    }

    pub fn validate(&self) -> Result<()> {
        if self.window.0 >= self.window.1 {
            return Err(Error::config(
                "trace_window",
                format!(
                    "start {} must be below end {}",
                    self.window.0, self.window.1
                ),
            ));
        }
        if self.max_events == 0 {
            return Err(Error::config("trace_max_events", "must be at least 1"));
        }
        if self.categories == 0 {
            return Err(Error::config(
                "trace_categories",
                format!(
                    "no category given; valid choices: {}",
                    Category::NAMES.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// One track: a thread of a process in the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    pub category: Category,
    pub process: String,
    pub thread: String,
    pub clock: Clock,
    /// Whether the track holds counter samples rather than slices.
    pub counter: bool,
    /// What each slice's four arguments mean ("" = unused).
    pub args: [&'static str; 4],
}

/// Index of a track in [`Trace::tracks`].
pub type TrackId = u32;

/// Slices, as columns.
#[derive(Debug, Clone, Default)]
pub struct Slices {
    pub track: Vec<u32>,
    pub name: Vec<u32>,
    pub layer: Vec<u32>,
    pub start: Vec<u64>,
    pub dur: Vec<u64>,
    /// The duration asked for, before any cut (window, layer end, previous slice): a slice's
    /// amounts (MACs, bytes) belong to that whole interval.
    pub full_dur: Vec<u64>,
    pub args: [Vec<i64>; 4],
}

/// Counter samples, as columns: from `time` on, the track's value is `value`.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub track: Vec<u32>,
    pub layer: Vec<u32>,
    pub time: Vec<u64>,
    pub value: Vec<f64>,
}

/// Where a layer sits on the run's timeline, in accelerator cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSpan {
    pub start: u64,
    pub cycles: u64,
}

/// A recording in progress, or finished.
#[derive(Debug, Clone)]
pub struct Trace {
    cfg: TraceConfig,
    pub tracks: Vec<Track>,
    track_ids: HashMap<(String, String), TrackId>,
    /// Per track, where its last slice ended (layer-relative, its clock).
    track_end: Vec<u64>,
    pub names: Vec<String>,
    name_ids: HashMap<String, u32>,
    pub slices: Slices,
    pub counters: Counters,
    pub layers: Vec<LayerSpan>,
    /// The current layer's clock converter, when it has a cycle-level DRAM.
    clock: Option<ClockConverter>,
    /// DRAM clock in kHz (0 when no cycle-level DRAM ran), and the accelerator's.
    pub dram_khz: u64,
    pub acc_khz: u64,
    /// Slices that would have started before the previous one on their track ended and were
    /// moved to its end (0 in every recorder of this crate; tested).
    pub shifted: u64,
    /// Events dropped because the cap was reached.
    pub dropped: u64,
    /// Global accelerator cycle up to which the trace is complete, when events were dropped.
    pub complete_until: Option<u64>,
    /// First event of the current layer, to cut them at its end.
    layer_first_slice: usize,
    layer_first_counter: usize,
    in_layer: bool,
}

impl Trace {
    pub fn new(cfg: TraceConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Trace {
            cfg,
            tracks: Vec::new(),
            track_ids: HashMap::new(),
            track_end: Vec::new(),
            names: Vec::new(),
            name_ids: HashMap::new(),
            slices: Slices::default(),
            counters: Counters::default(),
            layers: Vec::new(),
            clock: None,
            dram_khz: 0,
            acc_khz: 0,
            shifted: 0,
            dropped: 0,
            complete_until: None,
            layer_first_slice: 0,
            layer_first_counter: 0,
            in_layer: false,
        })
    }

    pub fn config(&self) -> &TraceConfig {
        &self.cfg
    }

    /// Whether category `c` is recorded.
    #[inline]
    pub fn wants(&self, c: Category) -> bool {
        self.cfg.categories & c.bit() != 0
    }

    /// Events recorded so far.
    pub fn events(&self) -> u64 {
        (self.slices.track.len() + self.counters.track.len()) as u64
    }

    /// Start the next layer; `clock` converts its DRAM cycles when it has a cycle-level DRAM.
    pub fn begin_layer(&mut self, clock: Option<ClockConverter>) {
        assert!(!self.in_layer, "begin_layer twice");
        let start = self.next_start();
        self.begin_layer_at(start, clock);
    }

    /// Where `begin_layer` would place the next layer: after the last one and its gap.
    pub fn next_start(&self) -> u64 {
        match self.layers.last() {
            Some(l) => {
                let gap = self
                    .cfg
                    .gaps
                    .get(self.layers.len() - 1)
                    .copied()
                    .unwrap_or(0);
                l.start + l.cycles + gap
            }
            None => 0,
        }
    }

    /// Start the next layer at global accelerator cycle `start` (a network run whose layers
    /// overlap places them itself); otherwise as `begin_layer`.
    pub fn begin_layer_at(&mut self, start: u64, clock: Option<ClockConverter>) {
        assert!(!self.in_layer, "begin_layer twice");
        self.layers.push(LayerSpan { start, cycles: 0 });
        if let Some(c) = clock {
            self.dram_khz = c.dram_khz();
            self.acc_khz = c.acc_khz();
        }
        self.clock = clock;
        self.track_end.iter_mut().for_each(|e| *e = 0);
        self.layer_first_slice = self.slices.track.len();
        self.layer_first_counter = self.counters.track.len();
        self.in_layer = true;
    }

    /// End the current layer, `cycles` long: its slices are cut at its end.
    pub fn end_layer(&mut self, cycles: u64) {
        assert!(self.in_layer, "end_layer without begin_layer");
        let layer = self.layers.last_mut().expect("a layer");
        layer.cycles = cycles;
        let clock = self.clock;
        for i in self.layer_first_slice..self.slices.track.len() {
            let end = match self.tracks[self.slices.track[i] as usize].clock {
                Clock::Acc => cycles,
                // the last DRAM cycle boundary at or before the layer's end
                Clock::Dram => clock.map_or(u64::MAX, |c| {
                    (cycles as u128 * c.dram_khz() as u128 / c.acc_khz() as u128) as u64
                }),
            };
            let s = &mut self.slices;
            let (start0, dur0) = (s.start[i], s.dur[i]);
            s.start[i] = s.start[i].min(end);
            s.dur[i] = s.dur[i].min(end - s.start[i]);
            // What the layer's end cut off is not a window's cut: the slice keeps its amounts.
            let cut = (start0 + dur0) - (s.start[i] + s.dur[i]);
            s.full_dur[i] = s.full_dur[i].saturating_sub(cut);
        }
        // Counter samples past the layer's end were moved there by a window that starts later:
        // they do not belong to this layer.
        let first = self.layer_first_counter;
        let keep: Vec<bool> = (0..self.counters.track.len())
            .map(|i| i < first || self.counters.time[i] <= cycles)
            .collect();
        if keep.iter().any(|k| !k) {
            let c = &mut self.counters;
            retain(&mut c.track, &keep);
            retain(&mut c.layer, &keep);
            retain(&mut c.time, &keep);
            retain(&mut c.value, &keep);
        }
        self.in_layer = false;
    }

    /// Cut the last layer, recorded as one span (a scheduled network run, its events in the
    /// run's time), into the consecutive `spans` that cover it: every accelerator-clock event
    /// moves to the span its start falls in, its time made relative to that span. Events in
    /// the DRAM clock stay with the first span (one DRAM clock runs from the run's start; a
    /// span's start is not a whole DRAM cycle in general). The first span must start where the
    /// layer did.
    pub fn split_last_layer(&mut self, spans: &[LayerSpan]) {
        assert!(!self.in_layer, "split_last_layer inside a layer");
        let (Some(whole), Some(first)) = (self.layers.last().copied(), spans.first()) else {
            return;
        };
        assert_eq!(
            whole.start, first.start,
            "the spans start where the layer did"
        );
        let li = (self.layers.len() - 1) as u32;
        self.layers.pop();
        self.layers.extend_from_slice(spans);
        let starts: Vec<u64> = spans.iter().map(|s| s.start - whole.start).collect();
        let span_of = |t: u64| (starts.partition_point(|&s| s <= t).max(1) - 1) as u32;
        for i in 0..self.slices.track.len() {
            if self.slices.layer[i] != li
                || self.tracks[self.slices.track[i] as usize].clock != Clock::Acc
            {
                continue;
            }
            let k = span_of(self.slices.start[i]);
            self.slices.layer[i] = li + k;
            self.slices.start[i] -= starts[k as usize];
        }
        for i in 0..self.counters.track.len() {
            if self.counters.layer[i] != li
                || self.tracks[self.counters.track[i] as usize].clock != Clock::Acc
            {
                continue;
            }
            let k = span_of(self.counters.time[i]);
            self.counters.layer[i] = li + k;
            self.counters.time[i] -= starts[k as usize];
        }
    }

    /// The track `process`/`thread`, created on first use.
    pub fn track(
        &mut self,
        category: Category,
        process: &str,
        thread: &str,
        clock: Clock,
        counter: bool,
        args: [&'static str; 4],
    ) -> TrackId {
        let key = (process.to_string(), thread.to_string());
        if let Some(&id) = self.track_ids.get(&key) {
            return id;
        }
        let id = self.tracks.len() as TrackId;
        self.tracks.push(Track {
            category,
            process: key.0.clone(),
            thread: key.1.clone(),
            clock,
            counter,
            args,
        });
        self.track_end.push(0);
        self.track_ids.insert(key, id);
        id
    }

    /// The id of slice name `name`.
    pub fn name(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.name_ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.name_ids.insert(name.to_string(), id);
        id
    }

    /// Global accelerator cycle of layer-relative time `t` on a track of clock `clock`.
    fn global(&self, clock: Clock, t: u64) -> u64 {
        self.global_of((self.layers.len() - 1) as u32, clock, t)
    }

    /// Layer-relative time on `clock` of global accelerator cycle `g` (saturating at 0).
    fn local(&self, clock: Clock, g: u64) -> u64 {
        if g == u64::MAX {
            return u64::MAX; // an open window's end
        }
        let t = g.saturating_sub(self.layers.last().map_or(0, |l| l.start));
        match (clock, self.clock) {
            (Clock::Dram, Some(c)) => c.to_dram(t),
            _ => t,
        }
    }

    /// Whether an event starting at global cycle `g` is past the cut the cap made (and so is
    /// dropped, counted).
    fn past_cut(&mut self, g: u64) -> bool {
        let past = self.complete_until.is_some_and(|c| g >= c);
        self.dropped += past as u64;
        past
    }

    /// Keep the event count bounded: past `max_events` plus a slack, keep only the earliest
    /// `max_events` by start (`trim`).
    fn bound(&mut self) {
        let cap = self.cfg.max_events;
        if self.events() > cap.saturating_add((cap / 2).max(1024)) {
            self.trim(cap);
        }
    }

    /// Keep at most `keep` events: those that start before the `keep`-th earliest start, which
    /// becomes the cycle the trace is complete up to. Later events are dropped as they come.
    fn trim(&mut self, keep: u64) {
        let n = self.events();
        if n <= keep {
            return;
        }
        let slices = self.slices.track.len();
        let times: Vec<u64> = (0..slices)
            .map(|i| {
                let clock = self.tracks[self.slices.track[i] as usize].clock;
                self.global_of(self.slices.layer[i], clock, self.slices.start[i])
            })
            .chain((0..self.counters.track.len()).map(|i| {
                let clock = self.tracks[self.counters.track[i] as usize].clock;
                self.global_of(self.counters.layer[i], clock, self.counters.time[i])
            }))
            .collect();
        let mut sorted = times.clone();
        let (_, &mut cut, _) = sorted.select_nth_unstable(keep as usize);
        let cut = self.complete_until.map_or(cut, |c| c.min(cut));
        self.complete_until = Some(cut);
        let keep_slice: Vec<bool> = times[..slices].iter().map(|&g| g < cut).collect();
        let keep_counter: Vec<bool> = times[slices..].iter().map(|&g| g < cut).collect();
        let kept = keep_slice
            .iter()
            .chain(&keep_counter)
            .filter(|&&k| k)
            .count() as u64;
        self.dropped += n - kept;
        let sl = &mut self.slices;
        retain(&mut sl.track, &keep_slice);
        retain(&mut sl.name, &keep_slice);
        retain(&mut sl.layer, &keep_slice);
        retain(&mut sl.start, &keep_slice);
        retain(&mut sl.dur, &keep_slice);
        retain(&mut sl.full_dur, &keep_slice);
        for col in sl.args.iter_mut() {
            retain(col, &keep_slice);
        }
        let c = &mut self.counters;
        retain(&mut c.track, &keep_counter);
        retain(&mut c.layer, &keep_counter);
        retain(&mut c.time, &keep_counter);
        retain(&mut c.value, &keep_counter);
        // The current layer's events are still the last ones.
        let current = (self.layers.len().max(1) - 1) as u32;
        self.layer_first_slice = self.slices.layer.partition_point(|&l| l < current);
        self.layer_first_counter = self.counters.layer.partition_point(|&l| l < current);
    }

    /// Record a slice `[start, start + dur)` (layer-relative, the track's clock).
    pub fn slice(&mut self, track: TrackId, name: u32, start: u64, dur: u64, args: [i64; 4]) {
        let t = &self.tracks[track as usize];
        if !self.wants(t.category) {
            return;
        }
        let clock = t.clock;
        // Never before the previous slice on the track ended.
        let end = start.saturating_add(dur);
        if start < self.track_end[track as usize] {
            self.shifted += 1;
        }
        let start = start.max(self.track_end[track as usize]);
        let end = end.max(start);
        // Inside the window.
        let (w0, w1) = (
            self.local(clock, self.cfg.window.0),
            self.local(clock, self.cfg.window.1),
        );
        let (s, e) = (start.max(w0), end.min(w1));
        if s > e || (s == e && (start < w0 || start >= w1)) {
            return;
        }
        let g = self.global(clock, s);
        if self.past_cut(g) {
            return;
        }
        self.track_end[track as usize] = e;
        let layer = (self.layers.len() - 1) as u32;
        let sl = &mut self.slices;
        sl.track.push(track);
        sl.name.push(name);
        sl.layer.push(layer);
        sl.start.push(s);
        sl.dur.push(e - s);
        sl.full_dur.push(dur);
        for (col, a) in sl.args.iter_mut().zip(args) {
            col.push(a);
        }
        self.bound();
    }

    /// Record a counter sample: from `time` (layer-relative, the track's clock) the value is
    /// `value`.
    pub fn counter(&mut self, track: TrackId, time: u64, value: f64) {
        let t = &self.tracks[track as usize];
        if !self.wants(t.category) {
            return;
        }
        let clock = t.clock;
        let (w0, w1) = (
            self.local(clock, self.cfg.window.0),
            self.local(clock, self.cfg.window.1),
        );
        if time >= w1 {
            return;
        }
        // A sample before the window sets the value at its start.
        let time = time.max(w0);
        let g = self.global(clock, time);
        if self.past_cut(g) {
            return;
        }
        let layer = (self.layers.len() - 1) as u32;
        let c = &mut self.counters;
        c.track.push(track);
        c.layer.push(layer);
        c.time.push(time);
        c.value.push(value);
        self.bound();
    }

    /// Close the recording: past the cap, keep the `max_events` earliest events (by start), so
    /// the trace holds every event that starts before `complete_until`.
    pub fn finish(&mut self) {
        self.trim(self.cfg.max_events);
    }

    /// Global accelerator cycle of a stored event: the cycle it starts in (DRAM times rounded
    /// down to the accelerator cycle they fall in).
    fn global_of(&self, layer: u32, clock: Clock, t: u64) -> u64 {
        let base = self.layers[layer as usize].start;
        match clock {
            Clock::Acc => base.saturating_add(t),
            Clock::Dram => {
                if self.dram_khz == 0 || self.acc_khz == 0 {
                    base.saturating_add(t)
                } else {
                    let acc = t as u128 * self.acc_khz as u128 / self.dram_khz as u128;
                    base.saturating_add(acc as u64)
                }
            }
        }
    }
}

/// The array's tracks: folds streaming (`stream`), stationary loads (`load`, WS and IS) and
/// the cycles the array waited (`stalls`, one slice per wait, named by its cause).
pub struct ArrayTracks {
    stream: TrackId,
    load: TrackId,
    stalls: TrackId,
    fold: u32,
    load_name: u32,
}

impl ArrayTracks {
    pub fn new(trace: &mut Trace, df: Dataflow) -> Self {
        let args = ["m0", "k0", "n0", "macs"];
        let stream = trace.track(Category::Array, "array", "stream", Clock::Acc, false, args);
        let load = if df == Dataflow::Os {
            u32::MAX
        } else {
            trace.track(
                Category::Array,
                "array",
                "stationary load",
                Clock::Acc,
                false,
                args,
            )
        };
        let stalls = trace.track(
            Category::Stall,
            "array",
            "stalls",
            Clock::Acc,
            false,
            ["", "", "", ""],
        );
        ArrayTracks {
            stream,
            load,
            stalls,
            fold: trace.name("fold"),
            load_name: trace.name("load"),
        }
    }

    /// A fold: its operands entering the array from `stream_start` to `last_stream` and, in WS
    /// and IS, its stationary tile loaded from `start`, one row per cycle.
    pub fn fold(
        &self,
        trace: &mut Trace,
        f: &Fold,
        t: &FoldTiming,
        last_stream: u64,
        last_load: Option<u64>,
    ) {
        if !trace.wants(Category::Array) {
            return;
        }
        let args = [
            f.m0 as i64,
            f.k0 as i64,
            f.n0 as i64,
            (f.m * f.k * f.n) as i64,
        ];
        trace.slice(
            self.stream,
            self.fold,
            t.stream_start,
            last_stream + 1 - t.stream_start,
            args,
        );
        if let Some(last) = last_load {
            trace.slice(self.load, self.load_name, t.start, last + 1 - t.start, args);
        }
    }

    /// The array waited from `from` to `to` (exclusive) for `cause`.
    pub fn stall(&self, trace: &mut Trace, cause: &str, from: u64, to: u64) {
        if to <= from || !trace.wants(Category::Stall) {
            return;
        }
        let name = trace.name(cause);
        trace.slice(self.stalls, name, from, to - from, [0; 4]);
    }
}

fn retain<T: Copy>(v: &mut Vec<T>, keep: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        let k = keep[i];
        i += 1;
        k
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(cfg: TraceConfig) -> (Trace, TrackId) {
        let mut t = Trace::new(cfg).unwrap();
        let id = t.track(
            Category::Array,
            "array",
            "stream",
            Clock::Acc,
            false,
            [""; 4],
        );
        (t, id)
    }

    #[test]
    fn slices_never_overlap_and_stop_at_the_layer_end() {
        let (mut t, id) = trace(TraceConfig::default());
        t.begin_layer(None);
        t.slice(id, 0, 0, 10, [0; 4]);
        t.slice(id, 0, 5, 10, [0; 4]); // overlaps: starts at 10
        t.slice(id, 0, 18, 10, [0; 4]); // past the end (20): cut
        t.end_layer(20);
        assert_eq!(t.slices.start, vec![0, 10, 18]);
        assert_eq!(t.slices.dur, vec![10, 5, 2]);
        t.begin_layer(None);
        t.slice(id, 0, 0, 3, [0; 4]);
        t.end_layer(3);
        assert_eq!(
            t.layers[1],
            LayerSpan {
                start: 20,
                cycles: 3
            }
        );
    }

    #[test]
    fn window_cuts_and_gaps_shift_layers() {
        let cfg = TraceConfig {
            window: (15, 30),
            gaps: vec![5],
            ..Default::default()
        };
        let (mut t, id) = trace(cfg);
        t.begin_layer(None);
        t.slice(id, 0, 0, 10, [0; 4]); // before the window
        t.slice(id, 0, 10, 10, [0; 4]); // cut to 15..20
        t.end_layer(20);
        t.begin_layer(None); // starts at 25
        t.slice(id, 0, 0, 10, [0; 4]); // global 25..35: cut to 25..30
        t.end_layer(10);
        assert_eq!(t.slices.start, vec![15, 0]);
        assert_eq!(t.slices.dur, vec![5, 5]);
        assert_eq!(t.layers[1].start, 25);
    }

    #[test]
    fn a_run_recorded_as_one_span_splits_into_its_layers() {
        let (mut t, id) = trace(TraceConfig::default());
        let dram = t.track(
            Category::Dram,
            "dram",
            "ch0 bg0 b0",
            Clock::Dram,
            false,
            [""; 4],
        );
        t.begin_layer_at(0, None);
        t.slice(id, 0, 2, 5, [0; 4]); // layer 0
        t.slice(id, 0, 12, 10, [0; 4]); // layer 1, across its end: kept whole
        t.slice(dram, 0, 15, 3, [0; 4]); // the DRAM's clock: stays with the first span
        t.end_layer(30);
        let spans = [
            LayerSpan {
                start: 0,
                cycles: 10,
            },
            LayerSpan {
                start: 10,
                cycles: 8,
            },
            LayerSpan {
                start: 18,
                cycles: 12,
            },
        ];
        t.split_last_layer(&spans);
        assert_eq!(t.layers, spans.to_vec());
        assert_eq!(t.slices.layer, vec![0, 1, 0]);
        assert_eq!(t.slices.start, vec![2, 2, 15]);
        assert_eq!(t.slices.dur, vec![5, 10, 3]);
        // a layer placed by its caller; the next one follows it
        t.begin_layer_at(100, None);
        t.end_layer(5);
        t.begin_layer(None);
        assert_eq!(t.layers.last().unwrap().start, 105);
        t.end_layer(1);
        assert_eq!(t.shifted, 0);
    }

    #[test]
    fn the_cap_keeps_a_complete_prefix() {
        let cfg = TraceConfig {
            max_events: 3,
            ..Default::default()
        };
        let (mut t, id) = trace(cfg);
        let other = t.track(Category::Dma, "dma", "ifmap", Clock::Acc, false, [""; 4]);
        t.begin_layer(None);
        t.slice(id, 0, 0, 5, [0; 4]);
        t.slice(id, 0, 5, 5, [0; 4]);
        t.slice(other, 0, 20, 5, [0; 4]); // recorded late in time
        t.slice(id, 0, 10, 5, [0; 4]); // recorded after a later event, but earlier
        t.slice(id, 0, 15, 5, [0; 4]);
        t.end_layer(30);
        t.finish();
        // the three earliest are kept: everything that starts before 15
        assert_eq!(t.dropped, 2);
        assert_eq!(t.complete_until, Some(15));
        assert_eq!(t.slices.start, vec![0, 5, 10]);
    }

    #[test]
    fn the_cap_bounds_memory_while_recording() {
        let cfg = TraceConfig {
            max_events: 100,
            ..Default::default()
        };
        let (mut t, id) = trace(cfg);
        t.begin_layer(None);
        for i in 0..5000u64 {
            t.slice(id, 0, i * 10, 5, [0; 4]);
            assert!(
                t.events() <= 100 + 1024,
                "the recording grew to {}",
                t.events()
            );
        }
        t.end_layer(50_000);
        t.finish();
        assert_eq!(t.events(), 100);
        assert_eq!(t.complete_until, Some(1000));
        assert_eq!(t.dropped, 4900);
    }

    #[test]
    fn categories_filter_and_bad_configs_are_named() {
        let cfg = TraceConfig::default().with_categories(&[Category::Dma]);
        let (mut t, id) = trace(cfg);
        t.begin_layer(None);
        t.slice(id, 0, 0, 5, [0; 4]);
        t.end_layer(5);
        assert_eq!(t.events(), 0);
        let bad = TraceConfig {
            window: (5, 5),
            ..Default::default()
        };
        assert!(Trace::new(bad)
            .unwrap_err()
            .to_string()
            .contains("trace_window"));
        let none = TraceConfig::default().with_categories(&[]);
        assert!(Trace::new(none)
            .unwrap_err()
            .to_string()
            .contains("array, stall"));
    }
}
