//! The memory controller and the device state it drives.
//!
//! Per channel: a read queue and a write queue, an open-page policy, FR-FCFS over the oldest
//! `lookahead` entries of the active queue (ready row hits first, then the oldest ready
//! command), write draining between watermarks, and all-bank refresh every tREFI. The device
//! side keeps, per channel / rank / bank group / bank, the next cycle each command is legal
//! (Ramulator 2's timing bookkeeping), plus a four-ACT window per rank for tFAW.
//!
//! Each cycle a channel issues at most one command, and only a command whose constraints all
//! allow it in that cycle. A channel that could not issue anything remembers the first cycle in
//! which some candidate becomes legal (`next_try`); until then, or until a request arrives, its
//! state cannot change, so ticks in between cost one comparison and `skip_to` jumps over them.

use super::mapping::AddressMapper;
use super::spec::{
    constraint_table, Command, Constraint, DramConfig, Level, TimingCycles, NUM_COMMANDS,
};
use super::stats::DramStats;
use crate::error::{Error, Result};
use std::collections::VecDeque;

const CLOSED: u32 = u32::MAX;

/// How a request found its bank: no command issued for it yet (a hit when served), an ACT
/// issued for it (a miss), or a PRE issued for it (a conflict).
const KIND_HIT: u8 = 0;
const KIND_MISS: u8 = 1;
const KIND_CONFLICT: u8 = 2;

#[derive(Debug, Clone, Copy)]
struct Req {
    id: u64,
    arrival: u64,
    rank: u32,
    /// Bank group, flat within the channel: rank * bank_groups + group.
    bg: u32,
    /// Bank, flat within the channel: bg * banks_per_group + bank.
    bank: u32,
    row: u32,
    kind: u8,
}

/// One command as issued (the optional command log, for tests and traces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IssuedCommand {
    pub cycle: u64,
    pub command: Command,
    pub channel: u32,
    pub rank: u32,
    /// Bank group within the rank (0 for PREA and REF).
    pub bank_group: u32,
    /// Bank within the bank group (0 for PREA and REF).
    pub bank: u32,
    /// The row opened (ACT) or accessed (RD, WR); 0 otherwise.
    pub row: u32,
    /// The request this command was issued for (none for PREA and REF).
    pub request: Option<u64>,
}

/// The constraint table arranged for issuing. A constraint started at a level applies to
/// every bank (or rank) below that node; per preceding command the pairs
/// `(following command, cycles)` are merged by target set, keeping the largest cycles per
/// following command: the banks of the issuing rank, of its bank group, the bank itself, the
/// banks of the other ranks; the issuing rank and the other ranks (for PREA and REF).
#[derive(Debug, Clone, Default)]
struct Table {
    own_rank_banks: Vec<Vec<(usize, u64)>>,
    group_banks: Vec<Vec<(usize, u64)>>,
    bank: Vec<Vec<(usize, u64)>>,
    other_rank_banks: Vec<Vec<(usize, u64)>>,
    own_rank: Vec<Vec<(usize, u64)>>,
    other_ranks: Vec<Vec<(usize, u64)>>,
    faw: u64,
}

/// Add `(next, cycles)` to `pairs`, keeping one entry per `next` with the largest cycles.
fn merge(pairs: &mut Vec<(usize, u64)>, next: usize, cycles: u64) {
    match pairs.iter_mut().find(|p| p.0 == next) {
        Some(p) => p.1 = p.1.max(cycles),
        None => pairs.push((next, cycles)),
    }
}

impl Table {
    fn new(rows: &[Constraint]) -> Result<Self> {
        let empty = || vec![Vec::new(); NUM_COMMANDS];
        let mut t = Table {
            own_rank_banks: empty(),
            group_banks: empty(),
            bank: empty(),
            other_rank_banks: empty(),
            own_rank: empty(),
            other_ranks: empty(),
            faw: 0,
        };
        for c in rows {
            let (p, n, cy) = (c.prev.index(), c.next.index(), c.cycles);
            if c.window > 1 {
                if c.window != 4 || c.prev != Command::Act || c.next != Command::Act {
                    return Err(Error::Simulation(format!(
                        "unsupported windowed constraint {c:?} (only the 4-ACT window)"
                    )));
                }
                t.faw = cy;
                continue;
            }
            let to_bank = c.next.scope() == Level::Bank;
            if !to_bank && c.level > Level::Rank {
                return Err(Error::Simulation(format!(
                    "constraint {c:?} on a rank-wide command below rank level"
                )));
            }
            let (own, other) = if to_bank {
                (&mut t.own_rank_banks[p], &mut t.other_rank_banks[p])
            } else {
                (&mut t.own_rank[p], &mut t.other_ranks[p])
            };
            match (c.level, c.sibling) {
                (Level::Channel, _) => {
                    merge(own, n, cy);
                    merge(other, n, cy);
                }
                (Level::Rank, false) => merge(own, n, cy),
                (Level::Rank, true) => merge(other, n, cy),
                (Level::BankGroup, _) => merge(&mut t.group_banks[p], n, cy),
                (Level::Bank, _) => merge(&mut t.bank[p], n, cy),
            }
        }
        Ok(t)
    }
}

/// What every channel shares: geometry, timing, the table and the controller's knobs.
#[derive(Debug, Clone)]
struct Shared {
    t: TimingCycles,
    table: Table,
    ranks: usize,
    bank_groups: u32,
    banks_per_group: u32,
    lookahead: usize,
    rq_cap: usize,
    wq_cap: usize,
    wr_high: usize,
    wr_low: usize,
    refresh: bool,
}

/// Timing and bank state of one channel. Rather than one "next legal cycle" table per level,
/// each bank keeps the maximum over its channel, rank, bank group and itself (and each rank
/// the maximum over the channel and itself): a constraint started at a level is applied to
/// every bank below it at issue time, so checking a candidate is one load.
#[derive(Debug, Clone)]
struct ChanState {
    banks: usize,
    /// `rank_ready[cmd * ranks + rank]`: first legal cycle of PREA and REF.
    rank_ready: Vec<u64>,
    /// `bank_ready[cmd * banks + bank]`: first legal cycle of ACT, PRE, RD and WR.
    bank_ready: Vec<u64>,
    /// The last four ACT cycles per rank (a ring indexed by `act_count % 4`).
    acts: Vec<[u64; 4]>,
    act_count: Vec<u64>,
    open_row: Vec<u32>,
    open_banks: Vec<u32>,
    /// Per rank: the cycle its first bank opened (meaningful while `open_banks > 0`).
    open_since: Vec<u64>,
    /// Rank-cycles with at least one bank open, of closed spans (`rank_active_cycles`).
    active_cycles: u64,
    next_ref: Vec<u64>,
    /// Scratch for "a request in the window hits this bank's open row" (compared to `stamp`).
    hit_stamp: Vec<u64>,
    /// Scratch for "this bank's ACT or PRE was evaluated in this scan".
    cmd_stamp: Vec<u64>,
    stamp: u64,
    /// Scratch: PRE candidates of the current scan (window index, bank, earliest cycle).
    pres: Vec<(usize, u32, u64)>,
}

/// Raise `ready[n * stride + range]` to at least `t + cycles` for every `(n, cycles)`.
#[inline]
fn bump(ready: &mut [u64], stride: usize, lo: usize, hi: usize, pairs: &[(usize, u64)], t: u64) {
    for &(n, lat) in pairs {
        let v = t + lat;
        for x in &mut ready[n * stride + lo..n * stride + hi] {
            *x = (*x).max(v);
        }
    }
}

impl ChanState {
    /// First cycle the constraints allow `cmd` (to `bank` for bank-scoped commands).
    #[inline(always)]
    fn earliest(&self, cmd: Command, rank: u32, bank: u32, faw: u64) -> u64 {
        let r = rank as usize;
        match cmd {
            Command::PreA | Command::Ref => self.rank_ready[cmd.index() * self.act_count.len() + r],
            Command::Act => {
                let e = self.bank_ready[cmd.index() * self.banks + bank as usize];
                if faw > 0 && self.act_count[r] >= 4 {
                    e.max(self.acts[r][(self.act_count[r] % 4) as usize] + faw)
                } else {
                    e
                }
            }
            _ => self.bank_ready[cmd.index() * self.banks + bank as usize],
        }
    }

    /// Record `cmd` issued at `t`: every constraint it starts, and the bank state it changes.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        sh: &Shared,
        cmd: Command,
        t: u64,
        rank: u32,
        bg: u32,
        bank: u32,
        row: u32,
    ) {
        let c = cmd.index();
        let r = rank as usize;
        let nb = self.banks;
        let nr = sh.ranks;
        let per_rank = nb / nr;
        let tb = &sh.table;
        bump(&mut self.rank_ready, nr, r, r + 1, &tb.own_rank[c], t);
        bump(
            &mut self.bank_ready,
            nb,
            r * per_rank,
            (r + 1) * per_rank,
            &tb.own_rank_banks[c],
            t,
        );
        if nr > 1 {
            for o in (0..nr).filter(|&o| o != r) {
                bump(&mut self.rank_ready, nr, o, o + 1, &tb.other_ranks[c], t);
                let (lo, hi) = (o * per_rank, (o + 1) * per_rank);
                bump(&mut self.bank_ready, nb, lo, hi, &tb.other_rank_banks[c], t);
            }
        }
        if cmd.scope() == Level::Bank {
            let g = bg as usize * sh.banks_per_group as usize;
            let g_hi = g + sh.banks_per_group as usize;
            bump(&mut self.bank_ready, nb, g, g_hi, &tb.group_banks[c], t);
            let b = bank as usize;
            bump(&mut self.bank_ready, nb, b, b + 1, &tb.bank[c], t);
        }
        let ranks = r * per_rank..(r + 1) * per_rank;
        match cmd {
            Command::Act => {
                self.open_row[bank as usize] = row;
                if self.open_banks[r] == 0 {
                    self.open_since[r] = t;
                }
                self.open_banks[r] += 1;
                self.acts[r][(self.act_count[r] % 4) as usize] = t;
                self.act_count[r] += 1;
            }
            Command::Pre => {
                self.open_row[bank as usize] = CLOSED;
                self.open_banks[r] -= 1;
                if self.open_banks[r] == 0 {
                    self.active_cycles += t - self.open_since[r];
                }
            }
            Command::PreA => {
                for b in &mut self.open_row[ranks] {
                    *b = CLOSED;
                }
                if self.open_banks[r] > 0 {
                    self.active_cycles += t - self.open_since[r];
                }
                self.open_banks[r] = 0;
            }
            Command::Ref => self.next_ref[r] += sh.t.refi,
            Command::Rd | Command::Wr => {}
        }
    }
}

#[derive(Debug, Clone)]
struct Channel {
    rq: VecDeque<Req>,
    wq: VecDeque<Req>,
    write_mode: bool,
    /// No command can be issued before this cycle unless a request arrives.
    next_try: u64,
    st: ChanState,
}

/// Counters and completions, shared by all channels.
#[derive(Debug, Clone, Default)]
struct Outputs {
    reads: u64,
    writes: u64,
    hits: u64,
    misses: u64,
    conflicts: u64,
    acts: u64,
    pres: u64,
    preas: u64,
    refs: u64,
    drains: u64,
    rejected: u64,
    read_lat_sum: u128,
    read_lat_max: u64,
    write_lat_sum: u128,
    /// Busy time: requests queued, the current busy segment, and the total of closed ones.
    queued: u64,
    seg_start: u64,
    seg_end: u64,
    busy_acc: u64,
    last_completion: u64,
    read_done: VecDeque<(u64, u64)>,
    write_done: VecDeque<(u64, u64)>,
    log: Option<Vec<IssuedCommand>>,
}

impl Outputs {
    fn log(&mut self, c: IssuedCommand) {
        if let Some(log) = &mut self.log {
            log.push(c);
        }
    }
}

impl Channel {
    /// Try to issue one command at cycle `t` (`t >= next_try`), then set `next_try`.
    fn schedule(&mut self, ch: u32, t: u64, sh: &Shared, out: &mut Outputs) {
        use Command::*;
        let faw = sh.table.faw;
        let mut wake = u64::MAX;
        let mut blocked: u64 = 0;

        // A due refresh goes first and closes its rank to everything else until REF issues.
        if sh.refresh {
            for r in 0..sh.ranks {
                let due = self.st.next_ref[r];
                if due > t {
                    wake = wake.min(due);
                    continue;
                }
                blocked |= 1 << r;
                let cmd = if self.st.open_banks[r] > 0 { PreA } else { Ref };
                let e = self.st.earliest(cmd, r as u32, 0, faw);
                if e <= t {
                    self.st.apply(sh, cmd, t, r as u32, 0, 0, 0);
                    if cmd == Ref {
                        out.refs += 1;
                    } else {
                        out.preas += 1;
                    }
                    out.log(IssuedCommand {
                        cycle: t,
                        command: cmd,
                        channel: ch,
                        rank: r as u32,
                        bank_group: 0,
                        bank: 0,
                        row: 0,
                        request: None,
                    });
                    self.next_try = t + 1;
                    return;
                }
                wake = wake.min(e);
            }
        }

        // Read or write mode (write draining between the watermarks).
        let (rn, wn) = (self.rq.len(), self.wq.len());
        if self.write_mode {
            if wn == 0 || (wn <= sh.wr_low && rn > 0) {
                self.write_mode = false;
            }
        } else if wn > 0 && (wn >= sh.wr_high || rn == 0) {
            self.write_mode = true;
            out.drains += 1;
        }
        let write = self.write_mode;
        let col = if write { Wr } else { Rd };
        let q = if write { &mut self.wq } else { &mut self.rq };
        let n = q.len().min(sh.lookahead);
        let st = &mut self.st;
        // One contiguous slice scans faster than the deque's iterator (a wrapped queue is
        // rotated, at most `len` moves, once per trip of its ring buffer).
        let window = &q.make_contiguous()[..n];

        // FR-FCFS: the first ready row hit, else the oldest ready command. A PRE is not a
        // candidate while a request in the window still wants the bank's open row, so PRE
        // candidates are collected and resolved after the scan has marked those banks. All
        // requests of a bank that need the same command share its first legal cycle, so only
        // the oldest of them is evaluated (`hit_stamp` for row hits, `cmd_stamp` for the ACT
        // or PRE a bank needs).
        st.stamp += 1;
        let stamp = st.stamp;
        st.pres.clear();
        let mut pick: Option<(usize, Command)> = None;
        for (i, req) in window.iter().enumerate() {
            if blocked >> req.rank & 1 == 1 {
                continue;
            }
            let b = req.bank as usize;
            let open = st.open_row[b];
            if open == req.row {
                if st.hit_stamp[b] == stamp {
                    continue;
                }
                st.hit_stamp[b] = stamp;
                let e = st.earliest(col, req.rank, req.bank, faw);
                if e <= t {
                    pick = Some((i, col));
                    break;
                }
                wake = wake.min(e);
            } else {
                if st.cmd_stamp[b] == stamp {
                    continue;
                }
                st.cmd_stamp[b] = stamp;
                if open == CLOSED {
                    if pick.is_none() {
                        let e = st.earliest(Act, req.rank, req.bank, faw);
                        if e <= t {
                            pick = Some((i, Act));
                        } else {
                            wake = wake.min(e);
                        }
                    }
                } else {
                    let e = st.earliest(Pre, req.rank, req.bank, faw);
                    st.pres.push((i, req.bank, e));
                }
            }
        }
        if !matches!(pick, Some((_, c)) if c == col) {
            for &(i, b, e) in &st.pres {
                if st.hit_stamp[b as usize] == stamp {
                    continue;
                }
                if e <= t {
                    if pick.is_none_or(|(j, _)| i < j) {
                        pick = Some((i, Pre));
                    }
                } else {
                    wake = wake.min(e);
                }
            }
        }

        let Some((i, cmd)) = pick else {
            self.next_try = wake;
            return;
        };
        self.next_try = t + 1;
        let req = q[i];
        let per_group = sh.banks_per_group;
        let per_rank = sh.bank_groups;
        let entry = IssuedCommand {
            cycle: t,
            command: cmd,
            channel: ch,
            rank: req.rank,
            bank_group: req.bg % per_rank,
            bank: req.bank % per_group,
            row: if cmd == Pre { 0 } else { req.row },
            request: Some(req.id),
        };
        st.apply(sh, cmd, t, req.rank, req.bg, req.bank, req.row);
        out.log(entry);
        match cmd {
            Act => {
                out.acts += 1;
                if q[i].kind == KIND_HIT {
                    q[i].kind = KIND_MISS;
                }
            }
            Pre => {
                out.pres += 1;
                q[i].kind = KIND_CONFLICT;
            }
            _ => {
                q.remove(i);
                match req.kind {
                    KIND_HIT => out.hits += 1,
                    KIND_MISS => out.misses += 1,
                    _ => out.conflicts += 1,
                }
                let done = if write {
                    out.writes += 1;
                    let c = t + 1;
                    out.write_lat_sum += (c - req.arrival) as u128;
                    out.write_done.push_back((req.id, c));
                    c
                } else {
                    out.reads += 1;
                    let c = t + sh.t.cl + sh.t.bl;
                    let lat = c - req.arrival;
                    out.read_lat_sum += lat as u128;
                    out.read_lat_max = out.read_lat_max.max(lat);
                    out.read_done.push_back((req.id, c));
                    c
                };
                out.queued -= 1;
                out.seg_end = out.seg_end.max(done);
                out.last_completion = out.last_completion.max(done);
            }
        }
    }
}

/// A DRAM controller with its devices, advanced one DRAM cycle per [`tick`](Dram::tick).
///
/// Requests enter with [`try_send`](Dram::try_send) at the current cycle [`now`](Dram::now);
/// a request sent in cycle `t` can have its first command issued in cycle `t`. A read completes
/// at `RD cycle + tCL + BL/2`, the first cycle after its last data beat; a write completes at
/// `WR cycle + 1` (posted: the controller has issued the WR and holds the data). Completions
/// become visible to [`pop_completed`](Dram::pop_completed) once `now()` reaches them.
#[derive(Debug, Clone)]
pub struct Dram {
    cfg: DramConfig,
    sh: Shared,
    mapper: AddressMapper,
    channels: Vec<Channel>,
    now: u64,
    /// Minimum `next_try` over the channels.
    wake: u64,
    out: Outputs,
}

impl Dram {
    pub fn new(cfg: &DramConfig) -> Result<Dram> {
        cfg.validate()?;
        let t = cfg.cycles();
        let o = &cfg.org;
        let ranks = o.ranks as usize;
        let groups = ranks * o.bank_groups as usize;
        let banks = groups * o.banks_per_group as usize;
        let high = ((cfg.write_high_watermark * cfg.write_queue as f64).ceil() as usize).max(1);
        let low =
            ((cfg.write_low_watermark * cfg.write_queue as f64).floor() as usize).min(high - 1);
        let sh = Shared {
            t,
            table: Table::new(&constraint_table(&t))?,
            ranks,
            bank_groups: o.bank_groups,
            banks_per_group: o.banks_per_group,
            lookahead: cfg.lookahead as usize,
            rq_cap: cfg.read_queue as usize,
            wq_cap: cfg.write_queue as usize,
            wr_high: high,
            wr_low: low,
            refresh: cfg.refresh,
        };
        let first_ref = if cfg.refresh { t.refi } else { u64::MAX };
        let channel = Channel {
            rq: VecDeque::with_capacity(cfg.read_queue.min(1024) as usize),
            wq: VecDeque::with_capacity(cfg.write_queue.min(1024) as usize),
            write_mode: false,
            next_try: first_ref,
            st: ChanState {
                banks,
                rank_ready: vec![0; NUM_COMMANDS * ranks],
                bank_ready: vec![0; NUM_COMMANDS * banks],
                acts: vec![[0; 4]; ranks],
                act_count: vec![0; ranks],
                open_row: vec![CLOSED; banks],
                open_banks: vec![0; ranks],
                open_since: vec![0; ranks],
                active_cycles: 0,
                next_ref: vec![first_ref; ranks],
                hit_stamp: vec![0; banks],
                cmd_stamp: vec![0; banks],
                stamp: 0,
                pres: Vec::with_capacity(cfg.lookahead.min(1024) as usize),
            },
        };
        Ok(Dram {
            cfg: cfg.clone(),
            sh,
            mapper: AddressMapper::new(o, cfg.mapping),
            channels: vec![channel; o.channels as usize],
            now: 0,
            wake: first_ref,
            out: Outputs::default(),
        })
    }

    /// The configuration this DRAM was built from.
    pub fn config(&self) -> &DramConfig {
        &self.cfg
    }

    /// The timing parameters in DRAM cycles.
    pub fn timing(&self) -> &TimingCycles {
        &self.sh.t
    }

    /// The address mapper (decode and encode).
    pub fn mapper(&self) -> &AddressMapper {
        &self.mapper
    }

    /// Bytes of one request (one burst).
    pub fn burst_bytes(&self) -> u64 {
        self.cfg.burst_bytes()
    }

    /// The current DRAM cycle: the next one `tick` will simulate.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Would `try_send(addr, write, _)` be accepted now?
    pub fn can_send(&self, addr: u64, write: bool) -> bool {
        let ch = &self.channels[self.mapper.decode(addr).channel as usize];
        if write {
            ch.wq.len() < self.sh.wq_cap
        } else {
            ch.rq.len() < self.sh.rq_cap
        }
    }

    /// Enqueue a one-burst request for byte address `addr` at cycle `now()`. Returns `false`
    /// (and enqueues nothing) when the target channel's read or write queue is full.
    pub fn try_send(&mut self, addr: u64, write: bool, id: u64) -> bool {
        let loc = self.mapper.decode(addr);
        let now = self.now;
        let ch = &mut self.channels[loc.channel as usize];
        let (q, cap) = if write {
            (&mut ch.wq, self.sh.wq_cap)
        } else {
            (&mut ch.rq, self.sh.rq_cap)
        };
        if q.len() >= cap {
            self.out.rejected += 1;
            return false;
        }
        let bg = loc.rank * self.sh.bank_groups + loc.bank_group;
        q.push_back(Req {
            id,
            arrival: now,
            rank: loc.rank,
            bg,
            bank: bg * self.sh.banks_per_group + loc.bank,
            row: loc.row,
            kind: KIND_HIT,
        });
        ch.next_try = ch.next_try.min(now);
        self.wake = self.wake.min(now);
        let o = &mut self.out;
        if o.queued == 0 && now >= o.seg_end {
            o.busy_acc += o.seg_end - o.seg_start;
            o.seg_start = now;
            o.seg_end = now;
        }
        o.queued += 1;
        true
    }

    /// Simulate cycle `now()` (each channel issues at most one command) and advance by one.
    #[inline]
    pub fn tick(&mut self) {
        let t = self.now;
        if t >= self.wake {
            let mut wake = u64::MAX;
            for (i, ch) in self.channels.iter_mut().enumerate() {
                if ch.next_try <= t {
                    ch.schedule(i as u32, t, &self.sh, &mut self.out);
                }
                wake = wake.min(ch.next_try);
            }
            self.wake = wake;
        }
        self.now = t + 1;
    }

    /// Simulate every cycle before `cycle` (nothing if `cycle <= now()`), jumping over cycles
    /// in which no channel can issue. Refreshes falling in the range are issued as usual.
    pub fn skip_to(&mut self, cycle: u64) {
        while self.now < cycle {
            if self.wake > self.now {
                self.now = self.wake.min(cycle);
            } else {
                self.tick();
            }
        }
    }

    /// The next cycle at which something happens without new requests: a command may issue
    /// or a completion becomes visible. May be `<= now()`; `u64::MAX` if nothing is pending
    /// (refresh off and no requests).
    pub fn next_event(&self) -> u64 {
        let r = self.out.read_done.front().map_or(u64::MAX, |x| x.1);
        let w = self.out.write_done.front().map_or(u64::MAX, |x| x.1);
        self.wake.min(r).min(w)
    }

    /// Append `(id, completion cycle)` of every request completed by `now()`, in completion
    /// order (writes before reads completing in the same cycle).
    pub fn pop_completed(&mut self, out: &mut Vec<(u64, u64)>) {
        let now = self.now;
        let (r, w) = (&mut self.out.read_done, &mut self.out.write_done);
        loop {
            let rc = r.front().map_or(u64::MAX, |x| x.1);
            let wc = w.front().map_or(u64::MAX, |x| x.1);
            if wc <= rc && wc <= now {
                out.extend(w.pop_front());
            } else if rc <= now {
                out.extend(r.pop_front());
            } else {
                break;
            }
        }
    }

    /// Nothing queued and nothing in flight (every issued request's completion cycle has been
    /// reached; some may still wait in `pop_completed`).
    pub fn idle(&self) -> bool {
        self.out.last_completion <= self.now
            && self
                .channels
                .iter()
                .all(|c| c.rq.is_empty() && c.wq.is_empty())
    }

    /// Read- and write-queue occupancy of `channel`.
    pub fn queue_len(&self, channel: usize) -> (usize, usize) {
        let c = &self.channels[channel];
        (c.rq.len(), c.wq.len())
    }

    /// Record every issued command from now on (`true`) or stop and drop the log (`false`).
    pub fn set_command_log(&mut self, on: bool) {
        self.out.log = if on { Some(Vec::new()) } else { None };
    }

    /// The commands recorded since `set_command_log(true)`.
    pub fn command_log(&self) -> &[IssuedCommand] {
        self.out.log.as_deref().unwrap_or(&[])
    }

    /// Move the commands recorded so far to `out`, keeping the log on (a trace drains it as
    /// the run goes, so it never grows past what was issued since the last drain).
    #[cold]
    #[inline(never)]
    pub fn drain_command_log(&mut self, out: &mut Vec<IssuedCommand>) {
        if let Some(log) = &mut self.out.log {
            out.append(log);
        }
    }

    /// The constraint table this DRAM enforces.
    pub fn constraints(&self) -> Vec<Constraint> {
        constraint_table(&self.sh.t)
    }

    /// Statistics so far (times up to `now()`).
    pub fn stats(&self) -> DramStats {
        let o = &self.out;
        let tck = self.cfg.tck_ns();
        let bb = self.burst_bytes();
        let served = o.reads + o.writes;
        let busy = o.busy_acc
            + if o.queued > 0 {
                self.now - o.seg_start
            } else {
                o.seg_end.min(self.now).saturating_sub(o.seg_start)
            };
        let bytes = (served * bb) as f64;
        let per = |total: u128, n: u64| if n == 0 { 0.0 } else { total as f64 / n as f64 };
        let gbps = |cycles: u64| {
            if cycles == 0 {
                0.0
            } else {
                bytes / (cycles as f64 * tck)
            }
        };
        let peak = self.cfg.peak_bandwidth_gbps();
        let avg_read = per(o.read_lat_sum, o.reads);
        let rank_active: u64 = self
            .channels
            .iter()
            .map(|c| {
                let s = &c.st;
                let open: u64 = (s.open_banks.iter().zip(&s.open_since))
                    .filter(|(&n, _)| n > 0)
                    .map(|(_, &since)| self.now.saturating_sub(since))
                    .sum();
                s.active_cycles + open
            })
            .sum();
        DramStats {
            cycles: self.now,
            reads: o.reads,
            writes: o.writes,
            row_hits: o.hits,
            row_misses: o.misses,
            row_conflicts: o.conflicts,
            row_hit_rate: per(o.hits as u128, served),
            activates: o.acts,
            precharges: o.pres,
            precharge_alls: o.preas,
            refreshes: o.refs,
            write_drains: o.drains,
            rejected: o.rejected,
            avg_read_latency: avg_read,
            max_read_latency: o.read_lat_max,
            avg_read_latency_ns: avg_read * tck,
            max_read_latency_ns: o.read_lat_max as f64 * tck,
            avg_write_latency: per(o.write_lat_sum, o.writes),
            bytes_read: o.reads * bb,
            bytes_written: o.writes * bb,
            bandwidth_gbps: gbps(self.now),
            peak_bandwidth_gbps: peak,
            bandwidth_fraction: gbps(self.now) / peak,
            busy_cycles: busy,
            busy_bandwidth_gbps: gbps(busy),
            data_bus_cycles: served * self.sh.t.bl,
            rank_active_cycles: rank_active,
            time_ns: self.now as f64 * tck,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dram(name: &str) -> Dram {
        Dram::new(&DramConfig::preset(name).unwrap().with_refresh(false)).unwrap()
    }

    fn run_one(d: &mut Dram, addr: u64, write: bool) -> u64 {
        let start = d.now();
        assert!(d.try_send(addr, write, 7));
        let mut out = Vec::new();
        while out.is_empty() {
            d.tick();
            d.pop_completed(&mut out);
        }
        assert_eq!(out[0].0, 7);
        out[0].1 - start
    }

    #[test]
    fn rank_active_cycles_count_spans_with_a_bank_open() {
        let mut d = dram("ddr4-3200");
        let t = *d.timing();
        run_one(&mut d, 0, false); // ACT at cycle 0
        assert_eq!(d.stats().rank_active_cycles, d.now());
        d.skip_to(1000);
        let mut other_row = d.mapper().decode(0);
        other_row.row = 1;
        let addr = d.mapper().encode(&other_row);
        run_one(&mut d, addr, false); // PRE at 1000, ACT at 1000 + tRP
        let s = d.stats();
        assert_eq!((s.precharges, s.activates), (1, 2));
        assert_eq!(s.rank_active_cycles, 1000 + (d.now() - (1000 + t.rp)));
    }

    #[test]
    fn closed_bank_read_then_hit() {
        let mut d = dram("ddr4-3200");
        let t = *d.timing();
        assert_eq!(run_one(&mut d, 0, false), t.rcd + t.cl + t.bl);
        d.skip_to(1000);
        let mut same_row = d.mapper().decode(0);
        same_row.column = 1;
        let addr = d.mapper().encode(&same_row);
        assert_eq!(run_one(&mut d, addr, false), t.cl + t.bl);
        assert!(d.idle());
        let s = d.stats();
        assert_eq!(
            (s.reads, s.row_misses, s.row_hits, s.activates),
            (2, 1, 1, 1)
        );
    }

    #[test]
    fn posted_write_completes_the_cycle_after_wr() {
        let mut d = dram("ddr4-3200");
        let t = *d.timing();
        assert_eq!(run_one(&mut d, 0, true), t.rcd_wr + 1);
    }

    #[test]
    fn idle_ticks_do_not_move_state() {
        let mut d = dram("hbm2");
        for _ in 0..10_000 {
            d.tick();
        }
        assert!(d.idle());
        assert_eq!(d.now(), 10_000);
        assert_eq!(d.next_event(), u64::MAX);
        let s = d.stats();
        assert_eq!((s.busy_cycles, s.reads, s.activates), (0, 0, 0));
    }

    #[test]
    fn skip_to_issues_refreshes() {
        let mut d = Dram::new(&DramConfig::preset("ddr4-3200").unwrap()).unwrap();
        let refi = d.timing().refi;
        d.skip_to(10 * refi + 1);
        assert_eq!(d.stats().refreshes, 10);
        assert_eq!(d.stats().precharge_alls, 0); // nothing was open
    }
}
