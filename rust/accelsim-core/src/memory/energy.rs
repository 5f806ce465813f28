//! Energy from access counts: every MAC, every scratchpad word read or written, every DRAM byte,
//! times a per-access energy. Defaults are M. Horowitz, "Computing's energy problem (and what we
//! can do about it)", ISSCC 2014, 45 nm (docs/energy.md); every figure can be overridden.

use super::{MemStats, MemoryConfig};
use crate::error::{Error, Result};
use crate::stats::GemmStats;

/// Per-access energies in picojoules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyTable {
    /// One int8 x int8 multiply plus one int32 accumulate (Horowitz: 0.2 + 0.1 pJ).
    pub mac_pj: f64,
    /// One byte of an 8 KiB SRAM (Horowitz: 10 pJ per 64-bit access); a buffer of S bytes costs
    /// `sqrt(S / 8 KiB)` times this, which passes through Horowitz's 8 KB, 32 KB and 1 MB points
    /// within 15 %.
    pub sram_pj_per_byte_8kib: f64,
    /// One byte read from or written to DRAM (Horowitz: 1.3 to 2.6 nJ per 64-bit access; the
    /// midpoint, 1.95 nJ / 8 B).
    pub dram_read_pj_per_byte: f64,
    pub dram_write_pj_per_byte: f64,
}

impl Default for EnergyTable {
    fn default() -> Self {
        EnergyTable {
            mac_pj: 0.3,
            sram_pj_per_byte_8kib: 10.0 / 8.0,
            dram_read_pj_per_byte: 1950.0 / 8.0,
            dram_write_pj_per_byte: 1950.0 / 8.0,
        }
    }
}

impl EnergyTable {
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("energy.mac_pj", self.mac_pj),
            ("energy.sram_pj_per_byte_8kib", self.sram_pj_per_byte_8kib),
            ("energy.dram_read_pj_per_byte", self.dram_read_pj_per_byte),
            ("energy.dram_write_pj_per_byte", self.dram_write_pj_per_byte),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::config(
                    field,
                    format!("{v} must be a finite number of picojoules >= 0"),
                ));
            }
        }
        Ok(())
    }

    /// Energy of one byte of a scratchpad of `size_bytes`.
    pub fn sram_pj_per_byte(&self, size_bytes: u64) -> f64 {
        self.sram_pj_per_byte_8kib * (size_bytes as f64 / 8192.0).sqrt()
    }
}

/// A layer's energy by component, in picojoules.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EnergyStats {
    pub energy_mac_pj: f64,
    pub energy_ifmap_sram_pj: f64,
    pub energy_filter_sram_pj: f64,
    pub energy_ofmap_sram_pj: f64,
    pub energy_dram_pj: f64,
    pub energy_total_pj: f64,
}

impl EnergyStats {
    /// `(name, unit, description)` of every energy statistic.
    pub const CATALOG: &'static [(&'static str, &'static str, &'static str)] = &[
        ("energy_mac_pj", "pJ", "Energy of the MACs."),
        (
            "energy_ifmap_sram_pj",
            "pJ",
            "Energy of ifmap buffer reads (by the array) and writes (by the DMA).",
        ),
        (
            "energy_filter_sram_pj",
            "pJ",
            "Energy of filter buffer reads and writes.",
        ),
        (
            "energy_ofmap_sram_pj",
            "pJ",
            "Energy of ofmap buffer reads and writes (accumulation, write-back).",
        ),
        ("energy_dram_pj", "pJ", "Energy of DRAM reads and writes."),
        ("energy_total_pj", "pJ", "The sum of the above."),
    ];

    pub fn values(&self) -> [f64; 6] {
        [
            self.energy_mac_pj,
            self.energy_ifmap_sram_pj,
            self.energy_filter_sram_pj,
            self.energy_ofmap_sram_pj,
            self.energy_dram_pj,
            self.energy_total_pj,
        ]
    }

    /// Energy of a layer from its access counts.
    pub fn of(t: &EnergyTable, mem: &MemoryConfig, array: &GemmStats, m: &MemStats) -> Self {
        let sram = |buf: &super::BufferConfig, words: u64| {
            words as f64 * buf.word_bytes as f64 * t.sram_pj_per_byte(buf.size_bytes)
        };
        let mut e = EnergyStats {
            energy_mac_pj: array.macs as f64 * t.mac_pj,
            energy_ifmap_sram_pj: sram(&mem.ifmap, array.ifmap_reads + m.ifmap_sram_writes),
            energy_filter_sram_pj: sram(&mem.filter, array.filter_reads + m.filter_sram_writes),
            energy_ofmap_sram_pj: sram(&mem.ofmap, m.ofmap_sram_reads + m.ofmap_sram_writes),
            energy_dram_pj: m.dram_read_bytes as f64 * t.dram_read_pj_per_byte
                + m.dram_write_bytes as f64 * t.dram_write_pj_per_byte,
            energy_total_pj: 0.0,
        };
        e.energy_total_pj = e.energy_mac_pj
            + e.energy_ifmap_sram_pj
            + e.energy_filter_sram_pj
            + e.energy_ofmap_sram_pj
            + e.energy_dram_pj;
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sram_scaling_passes_near_horowitz_points() {
        let t = EnergyTable::default();
        // pJ per 64-bit access at 8 KB, 32 KB, 1 MB: Horowitz gives 10, 20, 100.
        for (size, want) in [(8u64 << 10, 10.0), (32 << 10, 20.0), (1 << 20, 100.0)] {
            let got = 8.0 * t.sram_pj_per_byte(size);
            assert!((got - want).abs() / want <= 0.15, "{size}: {got} vs {want}");
        }
    }

    #[test]
    fn hand_computed_layer() {
        let t = EnergyTable::default();
        let mem = MemoryConfig::default(); // 256 KiB buffers: sqrt(32) x 1.25 pJ per byte
        let array = GemmStats {
            macs: 1000,
            ifmap_reads: 100,
            filter_reads: 50,
            ..Default::default()
        };
        let m = MemStats {
            ifmap_sram_writes: 10,
            dram_read_bytes: 8,
            dram_write_bytes: 8,
            ..Default::default()
        };
        let e = EnergyStats::of(&t, &mem, &array, &m);
        let per_byte = 1.25 * 32f64.sqrt();
        assert!((e.energy_mac_pj - 300.0).abs() < 1e-9);
        assert!((e.energy_ifmap_sram_pj - 110.0 * per_byte).abs() < 1e-9);
        assert!((e.energy_filter_sram_pj - 50.0 * per_byte).abs() < 1e-9);
        assert!((e.energy_dram_pj - 16.0 * 243.75).abs() < 1e-9);
        let sum: f64 = e.values()[..5].iter().sum();
        assert!((e.energy_total_pj - sum).abs() < 1e-9);
    }
}
