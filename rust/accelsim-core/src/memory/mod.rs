//! The memory system around the array: three double-buffered scratchpads (`ifmap`, `filter`,
//! `ofmap`), an optional on-chip accumulator, tiling of each layer's GEMM to fit them, a DMA
//! engine moving tiles between the scratchpads and DRAM, and a DRAM backend. It drives the
//! array's fold-level engine through operand readiness and attributes every stall to its cause.
//! `docs/memory.md` describes the model.

mod backend;
mod conv;
mod energy;
pub mod schedule;
mod system;
mod tiling;
mod tracks;

pub use backend::{Backend, BandwidthModel, DramBackend, Transfer};
pub use conv::{ActivationLayout, ConvGeometry};
pub use energy::{CommandEnergy, DramCoreEnergy, DramEnergy, EnergyStats, EnergyTable};
pub use system::{simulate_conv_layer, simulate_conv_layer_traced, simulate_layer, LayerResult};
pub use tiling::{choose_tiling, LoopOrder, Tiling, TrafficEstimate};

use crate::config::Dataflow;
use crate::error::{Error, Result};

/// One scratchpad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufferConfig {
    /// Capacity in bytes (both halves together when double buffered).
    pub size_bytes: u64,
    /// Bytes per word: operands 1, partial sums 4.
    pub word_bytes: u32,
    /// Word-interleaved banks, each with `ports` ports of one word per cycle. A vector of `n`
    /// words takes `ceil(ceil(n / banks) / ports)` cycles (docs/memory.md); 0 banks means as
    /// many as the array's vectors need (never a conflict).
    pub banks: u32,
    pub ports: u32,
    /// One half feeds the array while the other fills.
    pub double_buffered: bool,
}

impl BufferConfig {
    pub fn new(size_bytes: u64, word_bytes: u32) -> Self {
        BufferConfig {
            size_bytes,
            word_bytes,
            banks: 0,
            ports: 1,
            double_buffered: true,
        }
    }

    /// Cycles the buffer needs to deliver (or accept) a vector of `words` words.
    pub fn vector_cycles(&self, words: u64) -> u64 {
        if self.banks == 0 {
            1
        } else {
            words
                .div_ceil(self.banks as u64)
                .div_ceil(self.ports as u64)
                .max(1)
        }
    }

    /// Bytes one tile may occupy: half the buffer when double buffered.
    pub fn tile_capacity(&self) -> u64 {
        if self.double_buffered {
            self.size_bytes / 2
        } else {
            self.size_bytes
        }
    }

    fn validate(&self, name: &str) -> Result<()> {
        let field = |f: &str| format!("{name}.{f}");
        if self.size_bytes == 0 {
            return Err(Error::config(&field("size"), "must be at least 1 byte"));
        }
        if !(1..=16).contains(&self.word_bytes) {
            return Err(Error::config(
                &field("word_bytes"),
                format!("{} is out of range; 1 to 16", self.word_bytes),
            ));
        }
        if self.ports == 0 || self.ports > 64 {
            return Err(Error::config(
                &field("ports"),
                format!("{} is out of range; 1 to 64", self.ports),
            ));
        }
        Ok(())
    }
}

/// The DRAM behind the DMA engine.
#[derive(Debug, Clone, PartialEq)]
pub enum DramModel {
    /// `bytes_per_cycle` (accelerator cycles) shared by reads and writes, plus a fixed latency.
    Bandwidth { bytes_per_cycle: f64, latency: u64 },
    /// The cycle-level controller and device of `crate::dram`, clocked by its preset, with the
    /// accelerator running at `freq_mhz`.
    Cycle {
        config: Box<crate::dram::DramConfig>,
        freq_mhz: f64,
    },
}

/// Where each tensor lives in DRAM: base addresses, and the layout of a convolution's
/// activations (GEMM operands are row-major, group-major; filters always are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layout {
    pub ifmap_base: u64,
    pub filter_base: u64,
    pub ofmap_base: u64,
    pub activations: ActivationLayout,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            ifmap_base: 0,
            filter_base: 1 << 32,
            ofmap_base: 2 << 32,
            activations: ActivationLayout::Nhwc,
        }
    }
}

/// The memory system's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryConfig {
    pub ifmap: BufferConfig,
    pub filter: BufferConfig,
    pub ofmap: BufferConfig,
    /// The ofmap buffer keeps int32 partial sums across K tiles (Gemmini, TPU); without it,
    /// the partial sums of an unfinished output tile go to DRAM after each K tile and come back
    /// before the next.
    pub accumulator: bool,
    /// Bytes of one final output element written to DRAM (1: requantized to int8).
    pub output_bytes: u32,
    pub dram: DramModel,
    pub layout: Layout,
    pub energy: EnergyTable,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            ifmap: BufferConfig::new(256 << 10, 1),
            filter: BufferConfig::new(256 << 10, 1),
            ofmap: BufferConfig::new(256 << 10, 4),
            accumulator: true,
            output_bytes: 1,
            dram: DramModel::Bandwidth {
                bytes_per_cycle: 16.0,
                latency: 100,
            },
            layout: Layout::default(),
            energy: EnergyTable::default(),
        }
    }
}

impl MemoryConfig {
    pub fn validate(&self) -> Result<()> {
        self.ifmap.validate("ifmap")?;
        self.filter.validate("filter")?;
        self.ofmap.validate("ofmap")?;
        if !(1..=16).contains(&self.output_bytes) {
            return Err(Error::config(
                "output_bytes",
                format!("{} is out of range; 1 to 16", self.output_bytes),
            ));
        }
        self.energy.validate_for(&self.dram)?;
        match &self.dram {
            DramModel::Cycle { config, freq_mhz } => {
                config.validate()?;
                crate::dram::ClockConverter::new(config, *freq_mhz)?;
            }
            &DramModel::Bandwidth {
                bytes_per_cycle,
                latency,
            } => {
                if !(bytes_per_cycle.is_finite() && bytes_per_cycle > 0.0) {
                    return Err(Error::config(
                        "bandwidth",
                        format!("{bytes_per_cycle} must be a positive number of bytes per cycle"),
                    ));
                }
                if latency > 1 << 32 {
                    return Err(Error::config("latency", "at most 2^32 cycles"));
                }
            }
        }
        Ok(())
    }
}

/// Which GEMM operand plays which role on the array.
pub(crate) fn roles(df: Dataflow) -> (Operand, Operand) {
    // (stationary, streamed); OS streams both (the first is returned as "stationary" only for
    // bookkeeping and is treated as streamed by the system).
    match df {
        Dataflow::Ws => (Operand::Filter, Operand::Ifmap),
        Dataflow::Is => (Operand::Ifmap, Operand::Filter),
        Dataflow::Os => (Operand::Filter, Operand::Ifmap),
    }
}

/// The three tensors a layer moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operand {
    Ifmap,
    Filter,
    Ofmap,
}

impl Operand {
    /// SCALE-Sim's name of the tensor: `ifmap`, `filter`, `ofmap`.
    pub fn name(self) -> &'static str {
        match self {
            Operand::Ifmap => "ifmap",
            Operand::Filter => "filter",
            Operand::Ofmap => "ofmap",
        }
    }
}

crate::stats::declare_stats! {
    /// What the memory system did for one layer.
    pub struct MemStats {
        tiles: "tiles", "Memory tiles (M_t x K_t x N_t blocks of the GEMM) the layer was cut into.";
        compute_cycles: "cycles", "Cycles not attributed to a memory stall: cycles minus every stall below.";
        stall_ifmap_cycles: "cycles", "Cycles the array waited for an ifmap tile from DRAM.";
        stall_filter_cycles: "cycles", "Cycles the array waited for a filter tile from DRAM.";
        stall_ofmap_cycles: "cycles", "Cycles the array waited for an ofmap buffer half (write-back or partial-sum read-back).";
        stall_bank_cycles: "cycles", "Cycles lost because a scratchpad's banks could not deliver a whole vector per cycle (bank conflicts).";
        stall_refresh_cycles: "cycles", "Cycles DRAM refresh cost (cycle-level DRAM: the layer's cycles minus its cycles with refresh off), moved out of the ifmap, filter and ofmap stalls in proportion.";
        dram_read_bytes: "bytes", "Bytes read from DRAM (ifmap + filter + partial sums).";
        dram_write_bytes: "bytes", "Bytes written to DRAM (outputs + partial sums).";
        dram_ifmap_bytes: "bytes", "ifmap bytes read from DRAM.";
        dram_filter_bytes: "bytes", "filter bytes read from DRAM.";
        dram_ofmap_bytes: "bytes", "Final output bytes written to DRAM.";
        dram_psum_read_bytes: "bytes", "Partial-sum bytes read back from DRAM (no accumulator, or K tiles not innermost).";
        dram_psum_write_bytes: "bytes", "Partial-sum bytes spilled to DRAM.";
        dram_busy_cycles: "cycles", "Cycles the DRAM interface was transferring (bandwidth model).";
        ifmap_sram_writes: "words", "Words the DMA wrote into the ifmap buffer.";
        filter_sram_writes: "words", "Words the DMA wrote into the filter buffer.";
        ofmap_sram_reads: "words", "Words read from the ofmap buffer (accumulation and write-back).";
        ofmap_sram_writes: "words", "Words written into the ofmap buffer (array results and partial-sum read-back).";
    }
}
