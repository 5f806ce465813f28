//! DRAM backends behind the DMA engine. The DMA engine issues transfers in order; a backend
//! serves them in that order and says, when asked, when each completes. Asking may advance a
//! cycle-level backend's clock, during which it keeps serving every transfer issued so far, so
//! consecutive transfers overlap as they would in hardware.

use super::tracks::interface_track;
use super::DramModel;
use crate::dram::{ClockConverter, Command, Dram, DramStats, IssuedCommand};
use crate::error::Result;
use crate::trace::{Category, Clock, Trace, TrackId};

/// One DMA transfer: `planes x rows` contiguous runs of `row_bytes`, run `(p, r)` at
/// `addr + p * plane_stride + r * stride` in DRAM, read or written, issued no earlier than
/// `start` (accelerator cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    pub start: u64,
    pub addr: u64,
    pub planes: u64,
    pub plane_stride: u64,
    pub rows: u64,
    pub row_bytes: u64,
    pub stride: u64,
    pub write: bool,
}

impl Transfer {
    /// A `rows x row_bytes` block with row stride `stride`, read at cycle 0.
    pub fn block(addr: u64, rows: u64, row_bytes: u64, stride: u64) -> Self {
        Transfer {
            start: 0,
            addr,
            planes: 1,
            plane_stride: 0,
            rows,
            row_bytes,
            stride,
            write: false,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.planes * self.rows * self.row_bytes
    }

    /// DRAM address of run `i` (planes outer, rows inner).
    fn run_addr(&self, i: u64) -> u64 {
        self.addr + (i / self.rows) * self.plane_stride + (i % self.rows) * self.stride
    }
}

/// Identifies an issued transfer.
pub type TransferId = usize;

/// A DRAM as the DMA engine sees it.
pub trait Backend {
    /// Queue `t` behind every transfer issued before it.
    fn issue(&mut self, t: &Transfer) -> TransferId;
    /// The accelerator cycle in which transfer `id`'s last byte arrives (read) or is accepted
    /// (write); its data is usable from the next cycle.
    fn complete(&mut self, id: TransferId) -> u64;
    /// Cycles the interface spent transferring so far.
    fn busy_cycles(&self) -> u64;
    /// The accelerator cycle in which transfer `id` started moving data (its first byte on
    /// the interface, or its first burst sent to the DRAM), once it has completed; for traces
    /// (after `begin_trace`).
    fn started(&mut self, id: TransferId) -> u64;
    /// The clock converter of a cycle-level DRAM (for traces), if this is one.
    fn clock(&self) -> Option<ClockConverter> {
        None
    }
    /// Start recording this DRAM's activity for `trace` (before the first transfer).
    fn begin_trace(&mut self, _trace: &mut Trace) {}
    /// Record this DRAM's activity since the last call into `trace` (its `dram` tracks).
    fn trace(&mut self, _trace: &mut Trace) {}
}

/// `bytes_per_cycle` shared by reads and writes, in issue order, plus a fixed `latency`.
#[derive(Debug, Clone)]
pub struct BandwidthModel {
    bytes_per_cycle: f64,
    latency: u64,
    /// The first cycle the interface is free.
    free: u64,
    busy: u64,
    /// Per transfer: the cycle it completes; with a trace, its first interface cycle,
    /// interface cycles, bytes and whether it writes (nothing is kept without one).
    done: Vec<u64>,
    slots: Vec<(u64, u64, u64, bool)>,
    tracing: bool,
    /// Transfers already recorded in a trace.
    traced: usize,
}

impl BandwidthModel {
    pub fn new(bytes_per_cycle: f64, latency: u64) -> Self {
        BandwidthModel {
            bytes_per_cycle,
            latency,
            free: 0,
            busy: 0,
            done: Vec::new(),
            slots: Vec::new(),
            tracing: false,
            traced: 0,
        }
    }

    pub fn from_model(model: &DramModel) -> Option<Self> {
        match *model {
            DramModel::Bandwidth {
                bytes_per_cycle,
                latency,
            } => Some(Self::new(bytes_per_cycle, latency)),
            DramModel::Cycle { .. } => None,
        }
    }
}

impl Backend for BandwidthModel {
    fn issue(&mut self, t: &Transfer) -> TransferId {
        let cycles = ((t.bytes() as f64 / self.bytes_per_cycle).ceil() as u64).max(1);
        let issue = t.start.max(self.free);
        self.free = issue + cycles;
        self.busy += cycles;
        // The last byte crosses the interface in cycle issue + cycles - 1 and arrives `latency`
        // cycles later.
        self.done.push(issue + cycles - 1 + self.latency);
        if self.tracing {
            self.slots.push((issue, cycles, t.bytes(), t.write));
        }
        self.done.len() - 1
    }

    fn complete(&mut self, id: TransferId) -> u64 {
        self.done[id]
    }

    fn busy_cycles(&self) -> u64 {
        self.busy
    }

    /// (Only with a trace: `begin_trace` was called before the first transfer.)
    fn started(&mut self, id: TransferId) -> u64 {
        self.slots[id].0
    }

    fn begin_trace(&mut self, _trace: &mut Trace) {
        self.tracing = true;
    }

    /// One slice per transfer on the `interface` track: the cycles it occupied the interface.
    fn trace(&mut self, trace: &mut Trace) {
        if !trace.wants(Category::Dram) {
            return;
        }
        let track = interface_track(trace);
        let (read, write) = (trace.name("read"), trace.name("write"));
        for &(issue, cycles, bytes, w) in &self.slots[self.traced..] {
            let name = if w { write } else { read };
            trace.slice(track, name, issue, cycles, [bytes as i64, 0, 0, 0]);
        }
        self.traced = self.slots.len();
    }
}

/// A transfer being served by the cycle-level DRAM: its bursts go out in order.
#[derive(Debug, Clone)]
struct Pending {
    t: Transfer,
    start: u64,
    /// Next burst: row and byte offset of the burst-aligned address within the row's span.
    row: u64,
    next: u64,
    issued_all: bool,
    outstanding: u64,
    /// Latest completion (DRAM cycle) so far.
    done: u64,
}

/// The cycle-level DRAM of `crate::dram` behind an in-order DMA engine. Each transfer is cut
/// into burst-aligned requests (a row's partial bursts at its ends are whole bursts on the
/// bus); the engine sends them in transfer order, at most one per channel per DRAM cycle and
/// never past a full queue (head-of-line), starting no earlier than the transfer's start. A
/// transfer completes with its last burst: a read when its last data beat has arrived, a write
/// when its last WR command has issued (posted writes).
pub struct DramBackend {
    dram: Dram,
    clock: ClockConverter,
    burst: u64,
    per_cycle: usize,
    pending: Vec<Pending>,
    /// First transfer with bursts left to send.
    head: usize,
    completed: Vec<(u64, u64)>,
    /// Only with a trace (the untraced run's state is the same as without the trace code).
    tracing: Option<Box<DramTracing>>,
}

/// What a traced DRAM backend keeps: the commands logged and not yet recorded, the cycle of
/// each transfer's first RD or WR, one track per bank and per rank.
#[derive(Default)]
struct DramTracing {
    commands: Vec<IssuedCommand>,
    first_command: Vec<u64>,
    bank_tracks: Vec<TrackId>,
    rank_tracks: Vec<TrackId>,
}

impl DramBackend {
    pub fn new(model: &DramModel) -> Result<Option<Self>> {
        let DramModel::Cycle { config, freq_mhz } = model else {
            return Ok(None);
        };
        let dram = Dram::new(config)?;
        Ok(Some(DramBackend {
            burst: dram.burst_bytes(),
            clock: ClockConverter::new(config, *freq_mhz)?,
            per_cycle: config.org.channels as usize,
            dram,
            pending: Vec::new(),
            head: 0,
            completed: Vec::new(),
            tracing: None,
        }))
    }
}

impl DramBackend {
    /// The bank and rank tracks of this DRAM in `trace`.
    #[cold]
    #[inline(never)]
    fn tracks(&self, trace: &mut Trace, tr: &mut DramTracing) {
        let org = self.dram.config().org;
        let rank = |ch: u32, r: u32| {
            if org.ranks > 1 {
                format!("ch{ch} r{r}")
            } else {
                format!("ch{ch}")
            }
        };
        let args = ["row", "bytes", "", ""];
        for ch in 0..org.channels {
            for r in 0..org.ranks {
                let name = format!("{} refresh", rank(ch, r));
                tr.rank_tracks.push(trace.track(
                    Category::Dram,
                    "dram",
                    &name,
                    Clock::Dram,
                    false,
                    args,
                ));
                for bg in 0..org.bank_groups {
                    for b in 0..org.banks_per_group {
                        let name = if org.bank_groups > 1 {
                            format!("{} bg{bg} b{b}", rank(ch, r))
                        } else {
                            format!("{} b{b}", rank(ch, r))
                        };
                        tr.bank_tracks.push(trace.track(
                            Category::Dram,
                            "dram",
                            &name,
                            Clock::Dram,
                            false,
                            args,
                        ));
                    }
                }
            }
        }
    }

    /// Move the logged commands to `tr.commands`, noting each transfer's first RD or WR.
    #[cold]
    #[inline(never)]
    fn drain(&mut self) {
        let Some(tr) = self.tracing.as_deref_mut() else {
            return;
        };
        let from = tr.commands.len();
        self.dram.drain_command_log(&mut tr.commands);
        for c in &tr.commands[from..] {
            if let (Command::Rd | Command::Wr, Some(id)) = (c.command, c.request) {
                let id = id as usize;
                if tr.first_command.len() <= id {
                    tr.first_command.resize(id + 1, u64::MAX);
                }
                tr.first_command[id] = tr.first_command[id].min(c.cycle);
            }
        }
    }

    pub fn stats(&self) -> DramStats {
        self.dram.stats()
    }

    /// Send what the DMA engine may send in the current DRAM cycle; true if it sent any.
    fn send(&mut self) -> bool {
        let now = self.dram.now();
        let mut sent = 0;
        while sent < self.per_cycle && self.head < self.pending.len() {
            let id = self.head;
            let p = &mut self.pending[id];
            if p.start > now {
                break;
            }
            let row_lo = p.t.run_addr(p.row);
            let first = row_lo / self.burst * self.burst;
            let addr = first + p.next;
            if !self.dram.try_send(addr, p.t.write, id as u64) {
                break;
            }
            sent += 1;
            p.outstanding += 1;
            p.next += self.burst;
            if first + p.next >= row_lo + p.t.row_bytes {
                p.row += 1;
                p.next = 0;
                if p.row == p.t.planes * p.t.rows {
                    p.issued_all = true;
                    self.head += 1;
                }
            }
        }
        sent > 0
    }

    fn collect(&mut self) {
        self.completed.clear();
        self.dram.pop_completed(&mut self.completed);
        for &(id, cycle) in &self.completed {
            let p = &mut self.pending[id as usize];
            p.outstanding -= 1;
            p.done = p.done.max(cycle);
        }
    }
}

impl Backend for DramBackend {
    fn issue(&mut self, t: &Transfer) -> TransferId {
        let start = self.clock.to_dram(t.start);
        let empty = t.bytes() == 0;
        self.pending.push(Pending {
            t: *t,
            start,
            row: 0,
            next: 0,
            issued_all: empty,
            outstanding: 0,
            done: start,
        });
        if empty && self.head == self.pending.len() - 1 {
            self.head += 1;
        }
        self.pending.len() - 1
    }

    fn complete(&mut self, id: TransferId) -> u64 {
        loop {
            let p = &self.pending[id];
            if p.issued_all && p.outstanding == 0 {
                return self.clock.to_acc(p.done);
            }
            let sent = self.send();
            self.dram.tick();
            self.collect();
            if !sent {
                // Nothing could go out: jump to the next event of the DRAM or the next
                // transfer's start, whichever comes first.
                let mut next = self.dram.next_event();
                if let Some(p) = self.pending.get(self.head) {
                    next = next.min(p.start);
                }
                if next > self.dram.now() && next != u64::MAX {
                    self.dram.skip_to(next);
                    self.collect();
                }
            }
        }
    }

    fn busy_cycles(&self) -> u64 {
        self.clock.to_acc(self.dram.stats().busy_cycles)
    }

    /// The cycle of its first RD or WR command (its first burst reached the DRAM then or
    /// before), or its start if it has none.
    fn started(&mut self, id: TransferId) -> u64 {
        self.drain();
        let first = self
            .tracing
            .as_deref()
            .and_then(|tr| tr.first_command.get(id).copied())
            .unwrap_or(u64::MAX);
        let start = self.pending[id].start;
        self.clock
            .to_acc(if first == u64::MAX { start } else { first })
    }

    fn clock(&self) -> Option<ClockConverter> {
        Some(self.clock)
    }

    fn begin_trace(&mut self, trace: &mut Trace) {
        if self.tracing.is_some() {
            return;
        }
        let mut tr = DramTracing::default();
        if trace.wants(Category::Dram) {
            self.tracks(trace, &mut tr);
        }
        self.tracing = Some(Box::new(tr));
        self.dram.set_command_log(true);
    }

    /// Every command issued since the last call, as a slice on its bank's track (ACT for tRCD,
    /// PRE for tRP, RD and WR for the burst time, from the command's cycle) or, for PREA and
    /// REF, its rank's track (tRP all-bank, tRFC).
    fn trace(&mut self, trace: &mut Trace) {
        self.drain();
        let Some(tr) = self.tracing.as_deref_mut() else {
            return;
        };
        let commands = std::mem::take(&mut tr.commands);
        if tr.bank_tracks.is_empty() {
            return; // the dram category is off: the log only dated the transfers
        }
        let org = self.dram.config().org;
        let t = *self.dram.timing();
        let names = Command::ALL.map(|c| trace.name(c.name()));
        let banks = org.bank_groups * org.banks_per_group;
        let burst = self.burst as i64;
        for c in &commands {
            let rank = (c.channel * org.ranks + c.rank) as usize;
            let (track, dur) = match c.command {
                Command::PreA => (tr.rank_tracks[rank], t.rp_all),
                Command::Ref => (tr.rank_tracks[rank], t.rfc),
                cmd => {
                    let bank = rank * banks as usize
                        + (c.bank_group * org.banks_per_group + c.bank) as usize;
                    let dur = match cmd {
                        // until the earliest RD or WR may follow
                        Command::Act => t.rcd.min(t.rcd_wr),
                        Command::Pre => t.rp,
                        _ => t.bl,
                    };
                    (tr.bank_tracks[bank], dur)
                }
            };
            let bytes = match c.command {
                Command::Rd | Command::Wr => burst,
                _ => 0,
            };
            trace.slice(
                track,
                names[c.command as usize],
                c.cycle,
                dur,
                [c.row as i64, bytes, 0, 0],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(start: u64, bytes: u64) -> Transfer {
        Transfer {
            start,
            ..Transfer::block(0, 1, bytes, bytes)
        }
    }

    #[test]
    fn serializes_transfers_and_adds_latency() {
        let mut b = BandwidthModel::new(4.0, 10);
        // 16 bytes at 4 B/cycle: cycles 0..3 on the interface, arrives at 3 + 10.
        let a = b.issue(&t(0, 16));
        // the next one waits for the interface (free at 4)
        let c = b.issue(&t(2, 5));
        // an idle gap: starts when asked
        let d = b.issue(&t(100, 1));
        assert_eq!(
            (b.complete(a), b.complete(c), b.complete(d)),
            (13, 4 + 2 - 1 + 10, 110)
        );
        assert_eq!(b.busy_cycles(), 4 + 2 + 1);
    }
}
