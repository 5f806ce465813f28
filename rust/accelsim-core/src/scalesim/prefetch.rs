//! SCALE-Sim 3.0.0's ifmap and filter scratchpads in CALC mode
//! (`memory/read_buffer_estimate_bw.py`, `ReadBufferEstimateBw`), counted instead of traced.
//!
//! In CALC ("estimate bandwidth") mode every SRAM read hits; the buffer only decides what DRAM
//! traffic would have filled it. It collects the distinct addresses the array reads into sets of
//! `floor(words / 100)`; the active half of the buffer is 50 such sets. When the 50th set of an
//! *epoch* is complete, the epoch's addresses are "prefetched" (counted as DRAM reads) and
//! forgotten: an address read again in a later epoch is fetched again. So the DRAM reads are the
//! distinct addresses per epoch, an epoch ending every `50 * floor(words / 100)` distinct
//! addresses, and the DRAM cycles follow from when epochs end:
//!
//! - the first epoch is fetched before compute starts, at 10 words per cycle, ending the cycle
//!   before the first request: `start = first_request - ceil(50 * set / 10)`;
//! - without any complete epoch, the layer's addresses are fetched the same way before cycle 0:
//!   `start = -ceil(sets * set / 10)`, `stop = -1`;
//! - each later epoch is fetched during the epoch before it, so the DRAM trace ends the cycle
//!   after the last epoch completed: `stop = last_epoch_end + 1`.

use crate::error::{Error, Result};

/// CALC mode's DRAM words per cycle for the first prefetch (`ifmap_backing_bw = 10`, "arbitrary"
/// in `single_layer_sim.run`).
pub(crate) const CALC_BANDWIDTH: u64 = 10;
/// Sets in the active half of the buffer (`int(active_buf_frac * 100)` with 0.5).
pub(crate) const SETS_PER_EPOCH: u64 = 50;

/// A set of addresses below a bound, with the list of members for a cheap clear.
#[derive(Debug, Clone)]
struct AddressSet {
    bits: Vec<u64>,
    members: Vec<u64>,
}

impl AddressSet {
    fn new(space: u64, capacity: u64) -> Self {
        AddressSet {
            bits: vec![0; space.div_ceil(64) as usize],
            members: Vec::with_capacity(capacity.min(1 << 24) as usize),
        }
    }

    /// Adds `a`; false if it was already there.
    #[inline]
    fn insert(&mut self, a: u64) -> bool {
        let (w, b) = ((a >> 6) as usize, 1u64 << (a & 63));
        if self.bits[w] & b != 0 {
            return false;
        }
        self.bits[w] |= b;
        self.members.push(a);
        true
    }

    fn clear(&mut self) {
        for a in self.members.drain(..) {
            self.bits[(a >> 6) as usize] = 0;
        }
    }
}

/// One read scratchpad's DRAM side during a layer.
#[derive(Debug, Clone)]
pub(crate) struct Prefetcher {
    set_size: u64,
    epoch_size: u64,
    seen: AddressSet,
    in_epoch: u64,
    /// Distinct-per-epoch addresses so far: the DRAM reads.
    pub(crate) reads: u64,
    /// Cycle of the first request, and of the first and last line with a request.
    first_request: Option<i64>,
    pub(crate) last_request: i64,
    epochs: u64,
    last_epoch_end: i64,
    /// A completed epoch ended in the same cycle as the one before it: SCALE-Sim then divides by
    /// a zero-cycle prefetch window.
    zero_window: bool,
}

/// What a read scratchpad reports for a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadSummary {
    pub(crate) sram_start: i64,
    pub(crate) sram_stop: i64,
    pub(crate) dram_start: i64,
    pub(crate) dram_stop: i64,
    pub(crate) dram_reads: u64,
}

impl Prefetcher {
    /// A scratchpad of `words` words (one byte each) for an operand with addresses in
    /// `0..space`.
    pub(crate) fn new(words: u64, space: u64) -> Self {
        let set_size = words / 100;
        let epoch_size = SETS_PER_EPOCH * set_size;
        Prefetcher {
            set_size,
            epoch_size,
            seen: AddressSet::new(space, epoch_size),
            in_epoch: 0,
            reads: 0,
            first_request: None,
            last_request: 0,
            epochs: 0,
            last_epoch_end: 0,
            zero_window: false,
        }
    }

    /// The array reads `address` in `cycle` (`manage_prefetches`).
    #[inline]
    pub(crate) fn read(&mut self, address: u64, cycle: i64) {
        if self.first_request.is_none() {
            self.first_request = Some(cycle);
        }
        self.last_request = cycle;
        if !self.seen.insert(address) {
            return;
        }
        self.reads += 1;
        self.in_epoch += 1;
        if self.in_epoch == self.epoch_size {
            if self.epochs >= 1 && cycle == self.last_epoch_end {
                self.zero_window = true;
            }
            self.epochs += 1;
            self.last_epoch_end = cycle;
            self.in_epoch = 0;
            self.seen.clear();
        }
    }

    /// `complete_all_prefetches` and the report's start and stop cycles. `operand` and
    /// `size_field` name the buffer in the error SCALE-Sim would crash with.
    pub(crate) fn finish(&self, size_field: &str) -> Result<ReadSummary> {
        let first = self
            .first_request
            .ok_or_else(|| Error::Simulation("a layer reads no operand word at all".to_string()))?;
        if self.zero_window {
            return Err(Error::config(
                size_field,
                "the buffer is so small for this array that two prefetch epochs end in the same \
                 cycle; SCALE-Sim 3.0.0 divides by zero there (ZeroDivisionError in \
                 read_buffer_estimate_bw.py); use a larger buffer",
            ));
        }
        let (dram_start, dram_stop) = if self.epochs == 0 {
            let sets = self.reads.div_ceil(self.set_size);
            (
                -((sets * self.set_size).div_ceil(CALC_BANDWIDTH) as i64),
                -1,
            )
        } else {
            (
                first - self.epoch_size.div_ceil(CALC_BANDWIDTH) as i64,
                self.last_epoch_end + 1,
            )
        };
        // SRAM trace cycles are the service cycles: request cycle + 1 (the hit latency).
        Ok(ReadSummary {
            sram_start: first + 1,
            sram_stop: self.last_request + 1,
            dram_start,
            dram_stop,
            dram_reads: self.reads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_full_epoch_everything_is_fetched_before_cycle_zero() {
        // 64 KiB: sets of 655 words; ResNet-18 conv1's 9408 filter words are 15 sets,
        // ceil(15 * 655 / 10) = 983 cycles before cycle 0 (SCALE-Sim: -983.0 .. -1.0).
        let mut p = Prefetcher::new(65536, 9408);
        for a in 0..9408 {
            p.read(a, 5 + (a / 100) as i64);
            p.read(a, 6 + (a / 100) as i64); // a hit
        }
        let s = p.finish("FilterSramSzkB").unwrap();
        assert_eq!((s.dram_start, s.dram_stop, s.dram_reads), (-983, -1, 9408));
        assert_eq!((s.sram_start, s.sram_stop), (6, 6 + 94 + 1));
    }

    #[test]
    fn epochs_forget_what_they_fetched() {
        // 1 KiB: sets of 10, epochs of 500 distinct addresses.
        let mut p = Prefetcher::new(1024, 1000);
        for (cycle, a) in (0..500).chain(0..500).enumerate() {
            p.read(a, 3 + cycle as i64);
        }
        let s = p.finish("IfmapSramSzkB").unwrap();
        // The second pass is a new epoch: 1000 reads; two epochs, the last ending in cycle 1002.
        assert_eq!(s.dram_reads, 1000);
        assert_eq!(s.dram_start, 3 - 50);
        assert_eq!(s.dram_stop, 1003);
    }
}
