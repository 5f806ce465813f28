//! What the two engines share: the operand-readiness interface (the memory system's input to
//! the array) and the per-fold timing record. The rules themselves are in `docs/timing.md`;
//! `fast.rs` evaluates them arithmetically, `pe.rs` enacts them register by register.

/// When each fold's operands can first enter the array. Ideal memory says "cycle 0" for all;
/// the memory system (a later layer) answers from its DMA and DRAM model.
///
/// For WS and IS, `stationary_ready(f)` bounds the cycle the first row of fold `f`'s stationary
/// tile may enter the load port and `stream_ready(f)` the cycle its first streaming vector may
/// enter. For OS only `stream_ready` applies (both operands stream).
pub trait Readiness {
    fn stationary_ready(&self, fold: usize) -> u64;
    fn stream_ready(&self, fold: usize) -> u64;
}

/// Ideal memory: every operand is available from cycle 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdealMemory;

impl Readiness for IdealMemory {
    #[inline]
    fn stationary_ready(&self, _fold: usize) -> u64 {
        0
    }
    #[inline]
    fn stream_ready(&self, _fold: usize) -> u64 {
        0
    }
}

/// Explicit per-fold ready cycles (tests, and replaying a memory system's answer).
#[derive(Debug, Clone, Default)]
pub struct ReadyTimes {
    pub stationary: Vec<u64>,
    pub stream: Vec<u64>,
}

impl Readiness for ReadyTimes {
    fn stationary_ready(&self, fold: usize) -> u64 {
        self.stationary.get(fold).copied().unwrap_or(0)
    }
    fn stream_ready(&self, fold: usize) -> u64 {
        self.stream.get(fold).copied().unwrap_or(0)
    }
}

/// The three cycles that describe a fold (absolute cycle indices, docs/timing.md):
/// `start`, its first operand vector accepted (for WS/IS the first stationary row on the load
/// port; for OS the first streaming vector pair); `stream_start`, its first streaming vector;
/// `end`, the cycle its last result beat leaves the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FoldTiming {
    pub start: u64,
    pub stream_start: u64,
    pub end: u64,
}

/// Extra cycles the stationary-bank write of a `k_rows`-row tile must trail the streaming
/// wavefront by: `(k_rows - 1) * (acc_latency - load_interval)`, never negative. The load bus
/// descends one row per `load_interval` cycles (1 unless a scratchpad throttles it), the
/// streamed operands one row per `acc_latency` cycles; row `k_rows - 1` is the last one written,
/// so the lag makes every row's write land after the last earlier vector passed it, whichever
/// earlier fold that vector belonged to.
#[inline]
pub fn bank_write_lag(k_rows: u64, acc_latency: u64, load_interval: u64) -> u64 {
    (k_rows - 1) * acc_latency.saturating_sub(load_interval)
}

/// A hook the engines poll now and then (every few thousand cycles or folds); returning `true`
/// stops the run with `Error::Cancelled`. The Python binding polls for Ctrl-C through it.
pub type CancelHook<'a> = &'a (dyn Fn() -> bool + Sync);

/// Never cancels.
pub fn never_cancel() -> bool {
    false
}
