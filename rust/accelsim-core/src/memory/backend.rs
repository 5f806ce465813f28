//! DRAM backends behind the DMA engine. The DMA engine issues transfers in order; a backend
//! serves them in that order and says, when asked, when each completes. Asking may advance a
//! cycle-level backend's clock, during which it keeps serving every transfer issued so far, so
//! consecutive transfers overlap as they would in hardware.

use super::DramModel;

/// One DMA transfer: a `rows x row_bytes` block, row `i` at `addr + i * stride` in DRAM, read
/// or written, issued no earlier than `start` (accelerator cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    pub start: u64,
    pub addr: u64,
    pub rows: u64,
    pub row_bytes: u64,
    pub stride: u64,
    pub write: bool,
}

impl Transfer {
    pub fn bytes(&self) -> u64 {
        self.rows * self.row_bytes
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
}

/// `bytes_per_cycle` shared by reads and writes, in issue order, plus a fixed `latency`.
#[derive(Debug, Clone)]
pub struct BandwidthModel {
    bytes_per_cycle: f64,
    latency: u64,
    /// The first cycle the interface is free.
    free: u64,
    busy: u64,
    done: Vec<u64>,
}

impl BandwidthModel {
    pub fn new(bytes_per_cycle: f64, latency: u64) -> Self {
        BandwidthModel {
            bytes_per_cycle,
            latency,
            free: 0,
            busy: 0,
            done: Vec::new(),
        }
    }

    pub fn from_model(model: &DramModel) -> Option<Self> {
        match *model {
            DramModel::Bandwidth {
                bytes_per_cycle,
                latency,
            } => Some(Self::new(bytes_per_cycle, latency)),
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
        self.done.len() - 1
    }

    fn complete(&mut self, id: TransferId) -> u64 {
        self.done[id]
    }

    fn busy_cycles(&self) -> u64 {
        self.busy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(start: u64, bytes: u64) -> Transfer {
        Transfer {
            start,
            addr: 0,
            rows: 1,
            row_bytes: bytes,
            stride: bytes,
            write: false,
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
