//! DRAM backends behind the DMA engine. A backend serves transfers (a run of bytes read or
//! written) in the order the DMA engine issues them and says when each completes.

use super::DramModel;

/// One DMA transfer: `bytes` from or to DRAM, issued no earlier than `start` (accelerator
/// cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    pub start: u64,
    pub bytes: u64,
    pub write: bool,
}

/// A DRAM as the DMA engine sees it.
pub trait Backend {
    /// Serve `t` after every transfer submitted before it has been issued; returns the cycle in
    /// which its last byte arrives (read) or is accepted (write). Data is usable the cycle after.
    fn serve(&mut self, t: &Transfer) -> u64;
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
}

impl BandwidthModel {
    pub fn new(model: &DramModel) -> Self {
        let DramModel::Bandwidth {
            bytes_per_cycle,
            latency,
        } = *model;
        BandwidthModel {
            bytes_per_cycle,
            latency,
            free: 0,
            busy: 0,
        }
    }
}

impl Backend for BandwidthModel {
    fn serve(&mut self, t: &Transfer) -> u64 {
        let cycles = ((t.bytes as f64 / self.bytes_per_cycle).ceil() as u64).max(1);
        let issue = t.start.max(self.free);
        self.free = issue + cycles;
        self.busy += cycles;
        // The last byte crosses the interface in cycle issue + cycles - 1 and arrives `latency`
        // cycles later.
        issue + cycles - 1 + self.latency
    }

    fn busy_cycles(&self) -> u64 {
        self.busy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_transfers_and_adds_latency() {
        let mut b = BandwidthModel::new(&DramModel::Bandwidth {
            bytes_per_cycle: 4.0,
            latency: 10,
        });
        // 16 bytes at 4 B/cycle: cycles 0..3 on the interface, arrives at 3 + 10.
        assert_eq!(
            b.serve(&Transfer {
                start: 0,
                bytes: 16,
                write: false
            }),
            13
        );
        // the next one waits for the interface (free at 4)
        assert_eq!(
            b.serve(&Transfer {
                start: 2,
                bytes: 5,
                write: true
            }),
            4 + 2 - 1 + 10
        );
        // an idle gap: starts when asked
        assert_eq!(
            b.serve(&Transfer {
                start: 100,
                bytes: 1,
                write: false
            }),
            110
        );
        assert_eq!(b.busy_cycles(), 4 + 2 + 1);
    }
}
