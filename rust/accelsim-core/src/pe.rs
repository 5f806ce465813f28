//! The `pe` engine: register-level. Every cycle it updates every PE's operand registers,
//! multiplier pipeline (`mac_latency` stages) and adder pipeline (`acc_latency` stages), the
//! skew registers at the array's edges, the stationary-load bus (WS/IS) and the output
//! registers and drain chain (OS), carrying real int8 operands and int32 sums.
//!
//! Its controller issues operands by the rules of docs/timing.md, deciding from what it has
//! issued and observed so far; every end cycle, edge count and MAC is *observed* from the
//! datapath, never computed. Each value carries the fold (and vector) it belongs to, so any
//! operand meeting the wrong partner, any weight overwritten before its last use, any output
//! register overwritten before it drained is reported as a `SimulationError` (a hazard),
//! rather than silently producing a wrong number.

use crate::config::{ArrayConfig, Dataflow, DrainEdge};
use crate::error::{Error, Result};
use crate::gemm::{ArrayFold, Fold, Gemm};
use crate::stats::GemmStats;
use crate::timing::{bank_write_lag, CancelHook, FoldTiming, Readiness};

/// Cycles between two polls of the cancel hook.
const CANCEL_POLL_CYCLES: u64 = 1 << 10;

/// Operand values of the GEMM, row-major and group-major: `a` is `groups x M x K`,
/// `b` is `groups x K x N`. Empty slices mean "all zeros" (timing only).
#[derive(Debug, Clone, Copy)]
pub struct Operands<'a> {
    pub a: &'a [i8],
    pub b: &'a [i8],
}

impl Operands<'_> {
    fn a(&self, g: &Gemm, grp: u64, m: u64, k: u64) -> i32 {
        if self.a.is_empty() {
            0
        } else {
            self.a[((grp * g.m + m) * g.k + k) as usize] as i32
        }
    }
    fn b(&self, g: &Gemm, grp: u64, k: u64, n: u64) -> i32 {
        if self.b.is_empty() {
            0
        } else {
            self.b[((grp * g.k + k) * g.n + n) as usize] as i32
        }
    }
}

/// What the `pe` engine returns besides statistics.
#[derive(Debug, Clone)]
pub struct PeOutcome {
    pub stats: GemmStats,
    pub timing: Vec<FoldTiming>,
    /// `groups x M x N` int32 results (wrapping accumulation, as int32 hardware does).
    pub output: Vec<i32>,
}

fn hazard(what: String) -> Error {
    Error::Simulation(format!("pe engine hazard: {what}"))
}

/// A value on a lane: which fold it belongs to and its index along the streamed dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tagged {
    val: i32,
    fold: u32,
    idx: u32,
}

/// A stationary-operand word on the load bus.
#[derive(Debug, Clone, Copy)]
struct LoadWord {
    val: i32,
    fold: u32,
    row: u32,
    bank: u8,
}

/// Fixed-length shift registers for many lanes, stored flat: lane `l`, stage `s`.
#[derive(Clone)]
struct Pipes<T: Copy> {
    depth: usize,
    data: Vec<Option<T>>,
}

impl<T: Copy> Pipes<T> {
    fn new(lanes: usize, depth: usize) -> Self {
        Pipes {
            depth,
            data: vec![None; lanes * depth],
        }
    }
    #[inline]
    fn last(&self, lane: usize) -> Option<T> {
        self.data[lane * self.depth + self.depth - 1]
    }
    /// Advance lane `lane` by one stage, feeding `input` into stage 0.
    #[inline]
    fn shift(&mut self, lane: usize, input: Option<T>) {
        let s = &mut self.data[lane * self.depth..(lane + 1) * self.depth];
        s.copy_within(0..self.depth - 1, 1);
        s[0] = input;
    }
    fn any(&self) -> bool {
        self.data.iter().any(Option::is_some)
    }
}

/// Skew chains of different lengths (lane `l` has `len(l)` >= 1 stages). A value set into a
/// lane's entry during cycle t is in stage s during cycle t+s.
struct Skew<T: Copy> {
    offs: Vec<usize>,
    data: Vec<Option<T>>,
}

impl<T: Copy> Skew<T> {
    fn new(lens: impl Iterator<Item = usize>) -> Self {
        let mut offs = vec![0];
        for l in lens {
            offs.push(offs.last().unwrap() + l);
        }
        let total = *offs.last().unwrap();
        Skew {
            offs,
            data: vec![None; total],
        }
    }
    #[inline]
    fn set_entry(&mut self, lane: usize, v: Option<T>) {
        debug_assert!(self.offs[lane + 1] > self.offs[lane]);
        self.data[self.offs[lane]] = v;
    }
    /// Shift the lane by one stage (stage 0 becomes empty); returns the value that leaves.
    #[inline]
    fn advance(&mut self, lane: usize) -> Option<T> {
        let s = &mut self.data[self.offs[lane]..self.offs[lane + 1]];
        let out = s[s.len() - 1];
        s.copy_within(0..s.len() - 1, 1);
        s[0] = None;
        out
    }
    fn any(&self) -> bool {
        self.data.iter().any(Option::is_some)
    }
}

/// Run the register-level engine. `folds` in issue order; `ops` may be empty (zeros).
pub fn run<R: Readiness>(
    cfg: &ArrayConfig,
    gemm: &Gemm,
    folds: &[Fold],
    ops: Operands<'_>,
    ready: &R,
    cancel: CancelHook<'_>,
) -> Result<PeOutcome> {
    if folds.len() > u32::MAX as usize - 1 {
        return Err(Error::workload("m", "too many folds for the pe engine"));
    }
    let out_len = (gemm.groups * gemm.m * gemm.n) as usize;
    let mut out = PeOutcome {
        stats: GemmStats {
            folds: folds.len() as u64,
            ..Default::default()
        },
        timing: vec![FoldTiming::default(); folds.len()],
        output: vec![0; out_len],
    };
    if folds.is_empty() {
        return Ok(out);
    }
    match cfg.dataflow() {
        Dataflow::Ws | Dataflow::Is => stationary(cfg, gemm, folds, ops, ready, cancel, &mut out)?,
        Dataflow::Os => output_stationary(cfg, gemm, folds, ops, ready, cancel, &mut out)?,
    }
    let first = out.timing.iter().map(|t| t.start).min().unwrap();
    let last = out.timing.iter().map(|t| t.end).max().unwrap();
    out.stats.cycles = last - first + 1;
    out.stats.pe_cycles = out.stats.cycles * cfg.pes();
    Ok(out)
}

/// A generous bound on a run's length, so a controller bug ends in an error, not a hang.
fn cycle_limit(cfg: &ArrayConfig, folds: &[Fold]) -> u64 {
    let per = 4
        * (cfg.rows() as u64 + cfg.cols() as u64 + 8)
        * (cfg.mac_latency() as u64 + cfg.acc_latency() as u64);
    folds
        .iter()
        .map(|f| {
            let a = f.on_array(cfg.dataflow());
            a.vectors * cfg.acc_latency() as u64 + a.tile_rows + per
        })
        .sum::<u64>()
        + 1_000
}

/// Where a canonical (stream index, tile column) result goes in `groups x M x N`.
#[inline]
fn out_index(df: Dataflow, g: &Gemm, f: &Fold, v: u64, c: u64) -> usize {
    let (m, n) = match df {
        Dataflow::Ws => (f.m0 + v, f.n0 + c),
        _ => (f.m0 + c, f.n0 + v), // IS: the stream runs over N, tile columns over M
    };
    ((f.group * g.m + m) * g.n + n) as usize
}

/// Weight-stationary and input-stationary: the same hardware, with the roles of A and B
/// swapped. The stationary tile X[k][c] sits in PE(k, c); streamed vector v brings S[v][k] into
/// row k; column c's partial sums descend and leave through the bottom edge.
fn stationary<R: Readiness>(
    cfg: &ArrayConfig,
    g: &Gemm,
    folds: &[Fold],
    ops: Operands<'_>,
    ready: &R,
    cancel: CancelHook<'_>,
    out: &mut PeOutcome,
) -> Result<()> {
    let df = cfg.dataflow();
    let (rows, cols) = (cfg.rows() as usize, cfg.cols() as usize);
    let (lm, la) = (cfg.mac_latency() as usize, cfg.acc_latency() as usize);
    let double = cfg.stationary_double_buffer();
    let shape: Vec<ArrayFold> = folds.iter().map(|f| f.on_array(df)).collect();
    // Operand accessors in the array's terms.
    let stream_val = |f: &Fold, v: u64, k: u64| -> i32 {
        match df {
            Dataflow::Ws => ops.a(g, f.group, f.m0 + v, f.k0 + k),
            _ => ops.b(g, f.group, f.k0 + k, f.n0 + v),
        }
    };
    let stat_val = |f: &Fold, k: u64, c: u64| -> i32 {
        match df {
            Dataflow::Ws => ops.b(g, f.group, f.k0 + k, f.n0 + c),
            _ => ops.a(g, f.group, f.m0 + c, f.k0 + k),
        }
    };

    let pes = rows * cols;
    // Registers. The streamed operand enters row r through r*acc_latency skew registers.
    // Lane r-1 of `skew` is row r's chain; row 0 is accepted straight into PE(0,0).
    let mut skew: Skew<(Tagged, u8)> = Skew::new((1..rows).map(|r| r * la));
    let mut a_reg: Vec<Option<(Tagged, u8)>> = vec![None; pes];
    let mut mul: Pipes<Tagged> = Pipes::new(pes, lm);
    let mut add: Pipes<Tagged> = Pipes::new(pes, la);
    // The load bus: column c's word passes c+1 registers, so PE(r, c) captures row r's word
    // at the end of cycle P + r + c.
    let mut lbus: Skew<LoadWord> = Skew::new((0..cols).map(|c| c + 1));
    // Two banks of stationary registers (one used when not double buffered), with the fold
    // each word was loaded for (+1; 0 = never loaded).
    let mut wval = [vec![0i32; pes], vec![0i32; pes]];
    let mut wtag = [vec![0u32; pes], vec![0u32; pes]];

    // Controller state.
    let nf = folds.len();
    let mut load_fold = 0usize; // next fold to load
    let mut load_row = 0u64; // next row of the fold being loaded (0 = not started)
    let mut loaded_before = vec![false; nf]; // every row issued in an earlier cycle
    let mut stream_fold = 0usize;
    let mut stream_vec = 0u64;
    let mut stream_started = vec![false; nf];
    let mut stream_done_before = vec![false; nf]; // last vector issued in an earlier cycle
    let mut expected_outputs: u64 = shape.iter().map(|a| a.vectors * a.tile_cols).sum();
    let mut end_seen = vec![false; nf];
    let limit = cycle_limit(cfg, folds);

    let mut row_in: Vec<Option<(Tagged, u8)>> = vec![None; rows];
    let mut col_in: Vec<Option<LoadWord>> = vec![None; cols];
    let mut t: u64 = 0;
    while expected_outputs > 0 {
        if t > limit {
            return Err(hazard(format!("run did not finish within {limit} cycles")));
        }
        if t % CANCEL_POLL_CYCLES == CANCEL_POLL_CYCLES - 1 && cancel() {
            return Err(Error::Cancelled);
        }
        // ---- controller: streaming port (decided first: a load may key off this cycle's issue)
        row_in.iter_mut().for_each(|x| *x = None);
        let mut issued_last_vector = None;
        if stream_fold < nf {
            let s = stream_fold;
            let can_start = stream_vec > 0
                || (t >= ready.stream_ready(s)
                    && loaded_before[s]
                    && (s == 0 || stream_done_before[s - 1]));
            if can_start {
                if stream_vec == 0 {
                    stream_started[s] = true;
                    out.timing[s].stream_start = t;
                }
                let f = &folds[s];
                let bank = if double { (s % 2) as u8 } else { 0 };
                for (r, slot) in row_in
                    .iter_mut()
                    .enumerate()
                    .take(shape[s].tile_rows as usize)
                {
                    let val = stream_val(f, stream_vec, r as u64);
                    *slot = Some((
                        Tagged {
                            val,
                            fold: s as u32,
                            idx: stream_vec as u32,
                        },
                        bank,
                    ));
                    out.stats.ifmap_reads += (df == Dataflow::Ws) as u64;
                    out.stats.filter_reads += (df == Dataflow::Is) as u64;
                }
                out.stats.stream_vectors += 1;
                stream_vec += 1;
                if stream_vec == shape[s].vectors {
                    issued_last_vector = Some(s);
                    stream_fold += 1;
                    stream_vec = 0;
                }
            }
        }
        // ---- controller: stationary load port
        col_in.iter_mut().for_each(|x| *x = None);
        if load_fold < nf {
            let l = load_fold;
            let k = shape[l].tile_rows;
            let can_start = load_row > 0
                || (t >= ready.stationary_ready(l)
                    && (l == 0 || loaded_before[l - 1])
                    && if double {
                        // The idle bank was last used by fold l-2 or earlier; fold l-1's first
                        // vector (which switched the PEs away from it) must have entered, and
                        // the write must trail that wavefront.
                        l < 2 || {
                            let s1 = out.timing[l - 1].stream_start;
                            stream_started[l - 1] && t >= s1 + bank_write_lag(k, la as u64, 1)
                        }
                    } else {
                        // Single bank: fold l-1's last vector must have entered.
                        l == 0 || {
                            let done =
                                stream_done_before[l - 1] || issued_last_vector == Some(l - 1);
                            let last_vec =
                                out.timing[l - 1].stream_start + shape[l - 1].vectors - 1;
                            done && t >= last_vec + bank_write_lag(k, la as u64, 1)
                        }
                    });
            if can_start {
                if load_row == 0 {
                    out.timing[l].start = t;
                }
                let f = &folds[l];
                let bank = if double { (l % 2) as u8 } else { 0 };
                for (c, slot) in col_in
                    .iter_mut()
                    .enumerate()
                    .take(shape[l].tile_cols as usize)
                {
                    let val = stat_val(f, load_row, c as u64);
                    *slot = Some(LoadWord {
                        val,
                        fold: l as u32,
                        row: load_row as u32,
                        bank,
                    });
                    out.stats.filter_reads += (df == Dataflow::Ws) as u64;
                    out.stats.ifmap_reads += (df == Dataflow::Is) as u64;
                }
                out.stats.stationary_load_cycles += 1;
                load_row += 1;
                if load_row == k {
                    load_fold += 1;
                    load_row = 0;
                }
            }
        }

        // ---- what the controller issued is in the first register stages during cycle t
        a_reg[0] = row_in[0];
        for (r, x) in row_in.iter().enumerate().skip(1) {
            skew.set_entry(r - 1, *x);
        }
        for (c, w) in col_in.iter().enumerate() {
            lbus.set_entry(c, *w);
        }

        // ---- observe: partial sums leaving the bottom edge during cycle t
        for c in 0..cols {
            if let Some(ps) = add.last((rows - 1) * cols + c) {
                let fi = ps.fold as usize;
                if c as u64 >= shape[fi].tile_cols {
                    return Err(hazard(format!("sum for fold {fi} left unused column {c}")));
                }
                let idx = out_index(df, g, &folds[fi], ps.idx as u64, c as u64);
                out.output[idx] = out.output[idx].wrapping_add(ps.val);
                out.stats.ofmap_writes += 1;
                out.timing[fi].end = out.timing[fi].end.max(t);
                end_seen[fi] = true;
                expected_outputs -= 1;
            }
        }

        // ---- advance every register to cycle t+1 (bottom-right first, so each read sees the
        // value of cycle t before its owner is overwritten)
        for r in (0..rows).rev() {
            for c in (0..cols).rev() {
                let p = r * cols + c;
                // adder: partial sum from the PE above plus this PE's product
                let psum_in = if r > 0 { add.last(p - cols) } else { None };
                let prod = mul.last(p);
                let sum = match (psum_in, prod) {
                    (None, None) => None,
                    (None, Some(pr)) if r == 0 => Some(pr),
                    (None, Some(pr)) => {
                        return Err(hazard(format!(
                            "PE({r},{c}) product of fold {} vector {} met no partial sum",
                            pr.fold, pr.idx
                        )))
                    }
                    (Some(ps), None) => {
                        if (r as u64) < shape[ps.fold as usize].tile_rows {
                            return Err(hazard(format!(
                                "PE({r},{c}) partial sum of fold {} vector {} met no product",
                                ps.fold, ps.idx
                            )));
                        }
                        Some(ps)
                    }
                    (Some(ps), Some(pr)) => {
                        if (ps.fold, ps.idx) != (pr.fold, pr.idx) {
                            return Err(hazard(format!(
                                "PE({r},{c}) partial sum of fold {} vector {} met product of fold {} vector {}",
                                ps.fold, ps.idx, pr.fold, pr.idx
                            )));
                        }
                        Some(Tagged {
                            val: ps.val.wrapping_add(pr.val),
                            ..ps
                        })
                    }
                };
                add.shift(p, sum);
                // multiplier: operand register times the stationary word of its bank
                let product = match a_reg[p] {
                    Some((op, bank)) if (c as u64) < shape[op.fold as usize].tile_cols => {
                        let b = bank as usize;
                        if wtag[b][p] != op.fold + 1 {
                            return Err(hazard(format!(
                                "PE({r},{c}) vector {} of fold {} found bank {b} holding fold {}",
                                op.idx,
                                op.fold,
                                wtag[b][p] as i64 - 1
                            )));
                        }
                        out.stats.macs += 1;
                        Some(Tagged {
                            val: op.val.wrapping_mul(wval[b][p]),
                            ..op
                        })
                    }
                    _ => None,
                };
                mul.shift(p, product);
                // operand register: from the left neighbour, or the row's skew chain
                a_reg[p] = match (r, c) {
                    (_, 1..) => a_reg[p - 1],
                    (0, 0) => None, // the port sets it next cycle
                    (_, 0) => skew.advance(r - 1),
                };
            }
        }
        // stationary load bus: words captured at the end of this cycle
        for c in 0..cols {
            if let Some(w) = lbus.advance(c) {
                let p = w.row as usize * cols + c;
                wval[w.bank as usize][p] = w.val;
                wtag[w.bank as usize][p] = w.fold + 1;
            }
        }
        // load completion and stream completion become visible from the next cycle
        if load_fold > 0 {
            loaded_before[load_fold - 1] = true;
        }
        if let Some(s) = issued_last_vector {
            stream_done_before[s] = true;
        }
        t += 1;
    }
    // (Operands may still be passing through columns the last tile does not use: that is
    // wiring, not work, and they fall off the far edge.)
    if skew.any() || mul.any() || add.any() {
        return Err(hazard(
            "work left in the array after the last output".into(),
        ));
    }
    if lbus.any() || load_fold < nf || stream_fold < nf {
        return Err(hazard("controller did not issue every fold".into()));
    }
    if !end_seen.iter().all(|&e| e) {
        return Err(hazard("a fold produced no output".into()));
    }
    Ok(())
}

/// A finished output waiting in (or shifting along) the output registers.
#[derive(Debug, Clone, Copy)]
struct Done {
    val: i32,
    fold: u32,
    r: u32,
    c: u32,
}

/// Output stationary: A[m0+r][k] enters row r through r skew registers, B[k][n0+c] enters
/// column c through c skew registers; PE(r, c) accumulates out[m0+r][n0+c]. Finished sums are
/// copied into output registers and shifted out through the drain edge, one beat per cycle.
fn output_stationary<R: Readiness>(
    cfg: &ArrayConfig,
    g: &Gemm,
    folds: &[Fold],
    ops: Operands<'_>,
    ready: &R,
    cancel: CancelHook<'_>,
    out: &mut PeOutcome,
) -> Result<()> {
    let df = cfg.dataflow();
    let (rows, cols) = (cfg.rows() as usize, cfg.cols() as usize);
    let (lm, la) = (cfg.mac_latency() as usize, cfg.acc_latency() as usize);
    let double = cfg.os_output_double_buffer();
    let d = cfg.drain_beats();
    let shape: Vec<ArrayFold> = folds.iter().map(|f| f.on_array(df)).collect();
    let pes = rows * cols;

    // Lane r-1 of `askew` is row r's chain (r stages); likewise `bskew` for columns.
    let mut askew: Skew<Tagged> = Skew::new(1..rows);
    let mut bskew: Skew<Tagged> = Skew::new(1..cols);
    let mut a_reg: Vec<Option<Tagged>> = vec![None; pes];
    let mut b_reg: Vec<Option<Tagged>> = vec![None; pes];
    let mut mul: Pipes<Tagged> = Pipes::new(pes, lm);
    let mut add: Pipes<Tagged> = Pipes::new(pes, la);
    let mut oreg: Vec<Option<Done>> = vec![None; pes];

    let nf = folds.len();
    let mut copies_left: Vec<u64> = shape.iter().map(|a| a.tile_rows * a.tile_cols).collect();
    let mut last_copy = vec![0u64; nf];
    // Drain: (fold, first beat cycle); at most one at a time. Folds whose copies are complete
    // wait in `drain_queue` (in order) for the chain.
    let mut drain: Option<(usize, u64)> = None;
    let mut drain_queue: std::collections::VecDeque<usize> = Default::default();
    let mut drained_before = vec![false; nf];
    let mut folds_left = nf;

    let mut stream_fold = 0usize;
    let mut stream_k = 0u64;
    let mut next_issue = 0u64; // cycle of the next vector within the current fold
    let limit = cycle_limit(cfg, folds);
    let mut row_in: Vec<Option<Tagged>> = vec![None; rows];
    let mut col_in: Vec<Option<Tagged>> = vec![None; cols];
    let mut t: u64 = 0;

    while folds_left > 0 {
        if t > limit {
            return Err(hazard(format!("run did not finish within {limit} cycles")));
        }
        if t % CANCEL_POLL_CYCLES == CANCEL_POLL_CYCLES - 1 && cancel() {
            return Err(Error::Cancelled);
        }
        // ---- controller: the streaming ports (A on the left edge, B on the top edge)
        row_in.iter_mut().for_each(|x| *x = None);
        col_in.iter_mut().for_each(|x| *x = None);
        if stream_fold < nf {
            let s = stream_fold;
            let kv = shape[s].vectors;
            let issue = if stream_k > 0 {
                t == next_issue
            } else {
                let to_first_final = (kv - 1) * la as u64 + (lm + la) as u64;
                t >= ready.stream_ready(s)
                    && (s == 0 || t >= next_issue)
                    && (s == 0
                        || if double {
                            // the previous fold's drain ends at its last copy + d beats; our
                            // first copy (PE(0,0)) must not come before that
                            let p = &shape[s - 1];
                            let prev_last_copy = out.timing[s - 1].stream_start
                                + (p.vectors - 1) * la as u64
                                + (lm + la) as u64
                                + p.tile_rows
                                + p.tile_cols
                                - 2;
                            t + to_first_final >= prev_last_copy + d
                        } else {
                            drained_before[s - 1]
                        })
            };
            if issue {
                if stream_k == 0 {
                    out.timing[s].start = t;
                    out.timing[s].stream_start = t;
                }
                let f = &folds[s];
                for (r, slot) in row_in
                    .iter_mut()
                    .enumerate()
                    .take(shape[s].tile_rows as usize)
                {
                    let val = ops.a(g, f.group, f.m0 + r as u64, f.k0 + stream_k);
                    *slot = Some(Tagged {
                        val,
                        fold: s as u32,
                        idx: stream_k as u32,
                    });
                    out.stats.ifmap_reads += 1;
                }
                for (c, slot) in col_in
                    .iter_mut()
                    .enumerate()
                    .take(shape[s].tile_cols as usize)
                {
                    let val = ops.b(g, f.group, f.k0 + stream_k, f.n0 + c as u64);
                    *slot = Some(Tagged {
                        val,
                        fold: s as u32,
                        idx: stream_k as u32,
                    });
                    out.stats.filter_reads += 1;
                }
                out.stats.stream_vectors += 1;
                stream_k += 1;
                if stream_k == kv {
                    stream_fold += 1;
                    stream_k = 0;
                    next_issue = t + 1; // the next fold may start in the next cycle
                } else {
                    next_issue = t + la as u64; // a dependent accumulate every acc_latency
                }
            }
        }
        // ---- what the controller issued is in the first register stages during cycle t
        a_reg[0] = row_in[0];
        b_reg[0] = col_in[0];
        for (r, x) in row_in.iter().enumerate().skip(1) {
            askew.set_entry(r - 1, *x);
        }
        for (c, x) in col_in.iter().enumerate().skip(1) {
            bskew.set_entry(c - 1, *x);
        }
        // ---- drain: start the next queued drain if the chain is free
        if drain.is_none() {
            if let Some(&f) = drain_queue.front() {
                if t > last_copy[f] {
                    drain_queue.pop_front();
                    drain = Some((f, t));
                }
            }
        }
        // ---- observe: the beat leaving the drain edge during cycle t
        let mut shifting = false;
        let mut last_beat = false;
        if let Some((f, first)) = drain {
            shifting = true;
            let beat = t - first;
            for e in 0..(if cfg.os_drain() == DrainEdge::Right {
                rows
            } else {
                cols
            }) {
                let p = match cfg.os_drain() {
                    DrainEdge::Right => e * cols + cols - 1,
                    DrainEdge::Bottom => (rows - 1) * cols + e,
                };
                if let Some(o) = oreg[p] {
                    if o.fold as usize != f {
                        return Err(hazard(format!(
                            "drain of fold {f} carried a result of fold {}",
                            o.fold
                        )));
                    }
                    let fo = &folds[f];
                    let idx =
                        ((fo.group * g.m + fo.m0 + o.r as u64) * g.n + fo.n0 + o.c as u64) as usize;
                    out.output[idx] = o.val;
                    out.stats.ofmap_writes += 1;
                }
            }
            out.stats.drain_beats += 1;
            if beat + 1 == d {
                last_beat = true;
                out.timing[f].end = t;
                drained_before[f] = true; // visible to the controller from cycle t+1
                folds_left -= 1;
                drain = None;
            }
        }

        // ---- advance to cycle t+1
        // output registers: shift toward the drain edge during a drain
        if shifting {
            match cfg.os_drain() {
                DrainEdge::Right => {
                    for r in 0..rows {
                        oreg.copy_within(r * cols..(r + 1) * cols - 1, r * cols + 1);
                        oreg[r * cols] = None;
                    }
                }
                DrainEdge::Bottom => {
                    oreg.copy_within(0..(rows - 1) * cols, cols);
                    oreg[..cols].iter_mut().for_each(|x| *x = None);
                }
            }
        }
        for r in (0..rows).rev() {
            for c in (0..cols).rev() {
                let p = r * cols + c;
                // accumulator: the adder's last stage holds the running sum
                let acc = add.last(p);
                if let Some(s) = acc {
                    let fi = s.fold as usize;
                    if s.idx as u64 + 1 == shape[fi].vectors {
                        // final sum: copy into the output register at the end of this cycle
                        if (shifting && !last_beat) || oreg[p].is_some() {
                            return Err(hazard(format!(
                                "PE({r},{c}) final sum of fold {fi} found its output register busy"
                            )));
                        }
                        oreg[p] = Some(Done {
                            val: s.val,
                            fold: s.fold,
                            r: r as u32,
                            c: c as u32,
                        });
                        copies_left[fi] -= 1;
                        if copies_left[fi] == 0 {
                            last_copy[fi] = t;
                            drain_queue.push_back(fi);
                        }
                    }
                }
                let prod = mul.last(p);
                let next_acc = match prod {
                    None => None,
                    Some(pr) if pr.idx == 0 => Some(pr),
                    Some(pr) => match acc {
                        Some(s) if s.fold == pr.fold && s.idx + 1 == pr.idx => Some(Tagged {
                            val: s.val.wrapping_add(pr.val),
                            ..pr
                        }),
                        _ => {
                            return Err(hazard(format!(
                                "PE({r},{c}) product of fold {} step {} found accumulator {:?}",
                                pr.fold, pr.idx, acc
                            )))
                        }
                    },
                };
                add.shift(p, next_acc);
                let product = match (a_reg[p], b_reg[p]) {
                    (Some(x), Some(y)) => {
                        if (x.fold, x.idx) != (y.fold, y.idx) {
                            return Err(hazard(format!(
                                "PE({r},{c}) A of fold {} step {} met B of fold {} step {}",
                                x.fold, x.idx, y.fold, y.idx
                            )));
                        }
                        out.stats.macs += 1;
                        Some(Tagged {
                            val: x.val.wrapping_mul(y.val),
                            ..x
                        })
                    }
                    _ => None,
                };
                mul.shift(p, product);
                a_reg[p] = match (r, c) {
                    (_, 1..) => a_reg[p - 1],
                    (0, 0) => None,
                    (_, 0) => askew.advance(r - 1),
                };
                b_reg[p] = match (r, c) {
                    (1.., _) => b_reg[p - cols],
                    (0, 0) => None,
                    (0, _) => bskew.advance(c - 1),
                };
            }
        }
        t += 1;
    }
    if askew.any() || bskew.any() || mul.any() || add.any() || oreg.iter().any(Option::is_some) {
        return Err(hazard(
            "values left in the array after the last drain".into(),
        ));
    }
    if stream_fold < nf {
        return Err(hazard("controller did not issue every fold".into()));
    }
    Ok(())
}
