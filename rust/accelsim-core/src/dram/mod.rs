//! A cycle-level DRAM controller and device model in the style of Ramulator 2.
//!
//! - [`spec`]: organization, timing in nanoseconds, the presets (`ddr4-2400`, `ddr4-3200`,
//!   `lpddr4-3200`, `hbm2`) and the timing-constraint table derived from them;
//! - [`mapping`]: byte address to channel / rank / bank group / bank / row / column;
//! - [`controller`]: [`Dram`], per-channel read and write queues, FR-FCFS over a look-ahead
//!   window, write draining, all-bank refresh, and the per-level "next legal cycle" bookkeeping;
//! - [`stats`]: [`DramStats`], every statistic declared once with unit and description;
//! - [`trace`]: [`run_trace`] over a request trace, and the text trace format;
//! - [`ClockConverter`]: DRAM cycles to and from an accelerator clock.
//!
//! `docs/dram.md` specifies the model; `tests/dram_timing.rs` holds it to the constraint table.

pub mod controller;
pub mod mapping;
pub mod spec;
pub mod stats;
pub mod trace;

pub use controller::{Dram, IssuedCommand};
pub use mapping::{AddressMapper, Location, Mapping};
pub use spec::{
    Command, Constraint, DramConfig, DramPreset, Level, Organization, TimingCycles, TimingValue,
    Timings,
};
pub use stats::{DramStats, StatValue};
pub use trace::{
    parse_trace, run_trace, run_trace_cancellable, run_trace_logged, TraceRequest, TraceResult,
};

/// Converts between DRAM cycles and cycles of an accelerator clock.
///
/// Both clocks are held as whole kHz (the accelerator's MHz rounded to the nearest kHz), so the
/// conversions are exact integer arithmetic. Cycle `n` of a clock starts at time `n / f`.
/// Both directions round up: [`to_dram`](Self::to_dram) gives the first DRAM cycle that starts
/// at or after the accelerator cycle (when a request sent then can be enqueued);
/// [`to_acc`](Self::to_acc) gives the first accelerator cycle that starts at or after the DRAM
/// cycle (when data completed then can be used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClockConverter {
    dram_khz: u64,
    acc_khz: u64,
}

impl ClockConverter {
    /// `acc_mhz` is the accelerator clock; `cfg` gives the DRAM clock (half its data rate).
    pub fn new(cfg: &DramConfig, acc_mhz: f64) -> crate::error::Result<Self> {
        if !(acc_mhz.is_finite() && (0.001..=1.0e6).contains(&acc_mhz)) {
            return Err(crate::error::Error::config(
                "freq_mhz",
                format!(
                    "{acc_mhz} is out of range; it must be a frequency from 0.001 to 1000000 MHz"
                ),
            ));
        }
        Ok(ClockConverter {
            dram_khz: cfg.clock_khz(),
            acc_khz: (acc_mhz * 1000.0).round() as u64,
        })
    }

    /// DRAM clock in kHz.
    pub fn dram_khz(&self) -> u64 {
        self.dram_khz
    }

    /// Accelerator clock in kHz.
    pub fn acc_khz(&self) -> u64 {
        self.acc_khz
    }

    /// The first DRAM cycle starting at or after accelerator cycle `acc_cycle` starts.
    pub fn to_dram(&self, acc_cycle: u64) -> u64 {
        ceil_ratio(acc_cycle, self.dram_khz, self.acc_khz)
    }

    /// The first accelerator cycle starting at or after DRAM cycle `dram_cycle` starts.
    pub fn to_acc(&self, dram_cycle: u64) -> u64 {
        ceil_ratio(dram_cycle, self.acc_khz, self.dram_khz)
    }
}

/// `ceil(x * num / den)` without overflow.
fn ceil_ratio(x: u64, num: u64, den: u64) -> u64 {
    let p = x as u128 * num as u128;
    let q = p.div_ceil(den as u128);
    u64::try_from(q).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_conversion_rounds_up_and_round_trips() {
        let cfg = DramConfig::preset("ddr4-3200").unwrap(); // 1600 MHz
        let c = ClockConverter::new(&cfg, 1000.0).unwrap();
        assert_eq!(c.dram_khz(), 1_600_000);
        assert_eq!(c.to_dram(0), 0);
        assert_eq!(c.to_dram(1), 2); // 1 ns -> DRAM cycle 1.6 -> 2
        assert_eq!(c.to_dram(5), 8);
        assert_eq!(c.to_acc(8), 5);
        assert_eq!(c.to_acc(9), 6); // 5.625 ns -> 6
        for a in 0..1000 {
            // Rounding up both ways: never earlier, at most one cycle later.
            let back = c.to_acc(c.to_dram(a));
            assert!(back == a || back == a + 1, "{a} -> {back}");
        }
        assert!(ClockConverter::new(&cfg, 0.0).is_err());
        assert!(ClockConverter::new(&cfg, f64::NAN).is_err());
    }
}
