//! SCALE-Sim 3.0.0 compatibility: its compute model and its CALC-mode memory interface,
//! reproduced report figure for report figure, in closed form where SCALE-Sim builds per-cycle
//! matrices (`docs/scalesim.md`).
//!
//! SCALE-Sim models a layer as demand matrices (one line per cycle, one column per array port)
//! that it builds with numpy and then replays through scratchpad models. Here:
//! - [`compute`] describes those matrices as blocks per fold and gives the compute report's
//!   cycles, mapping efficiency and compute utilization and the SRAM access counts by formula;
//! - [`ofmap`] replays the ofmap write buffer line by line, with counts instead of addresses
//!   (its drains give the ofmap DRAM figures and, in principle, stalls);
//! - [`prefetch`] replays the ifmap and filter read buffers' CALC-mode bookkeeping over the
//!   operand addresses (a bitset per epoch), which gives the DRAM reads and cycles exactly.
//!
//! The conventions where SCALE-Sim departs from a real array (stationary reload never hidden,
//! no OS drain, the last cycle's index reported as the cycle count) are kept; accelsim's own
//! model (`docs/timing.md`) is the array as built.

mod compute;
mod layer;
mod num;
mod ofmap;
mod prefetch;
mod report;

pub use layer::{Layer, MAX_LAYER_DIM};
pub use report::{simulate_layer, simulate_layers, Config, LayerReport, Value, CATALOG};
