//! The trace tracks of the memory system, named once for both simulators that record them
//! (`system.rs`, layer by layer, and `schedule.rs`, a scheduled network): docs/trace.md.

use super::Operand;
use crate::trace::{Category, Clock, Trace, TrackId};

/// What a DMA slice's arguments mean.
pub(crate) const DMA_ARGS: [&str; 4] = ["bytes", "tile", "load", ""];

/// What a buffer half's occupancy counter holds.
const HELD_ARGS: [&str; 4] = ["bytes", "", "", ""];

/// The DMA track of load (or output visit) `j` of `op` with `halves` buffer halves:
/// `ifmap load, half 1`, `filter load`, `ofmap, half 0`, ...
pub(crate) fn dma_track(trace: &mut Trace, op: Operand, halves: usize, j: usize) -> TrackId {
    let name = op.name();
    let thread = match (op, halves) {
        (Operand::Ofmap, 2) => format!("ofmap, half {}", j % 2),
        (Operand::Ofmap, _) => "ofmap".to_string(),
        (_, 2) => format!("{name} load, half {}", j % 2),
        _ => format!("{name} load"),
    };
    trace.track(Category::Dma, "dma", &thread, Clock::Acc, false, DMA_ARGS)
}

/// The occupancy counter of the buffer half that load (or visit) `j` of `op` fills.
pub(crate) fn held_track(trace: &mut Trace, op: Operand, halves: usize, j: usize) -> TrackId {
    let name = op.name();
    let thread = if halves == 2 {
        format!("{name}, half {}", j % 2)
    } else {
        name.to_string()
    };
    trace.track(
        Category::Buffer,
        "buffers",
        &thread,
        Clock::Acc,
        true,
        HELD_ARGS,
    )
}

/// The bandwidth model's interface: one slice per transfer, the cycles it occupied it.
pub(crate) fn interface_track(trace: &mut Trace) -> TrackId {
    let args = ["bytes", "", "", ""];
    trace.track(Category::Dram, "dram", "interface", Clock::Acc, false, args)
}
