//! accelsim-core: a cycle-level model of systolic-array DNN accelerators.
//!
//! Pure Rust, no Python. The timing model is specified in `docs/timing.md`:
//! - [`fast`] evaluates it per fold (whole networks in milliseconds);
//! - [`pe`] enacts it register by register with real int8/int32 values;
//! - [`closed_form`] is the formula, used as a test oracle.
//!
//! The memory system drives the array through [`timing::Readiness`].

pub mod closed_form;
pub mod config;
pub mod dram;
pub mod error;
pub mod fast;
pub mod gemm;
pub mod memory;
pub mod pe;
pub mod scalesim;
pub mod search;
pub mod sim;
pub mod stats;
pub mod timing;
pub mod trace;
pub mod vector;

pub use config::{ArrayConfig, ArrayParams, Dataflow, DrainEdge, Engine};
pub use error::{Error, Result};
pub use gemm::{Fold, Gemm};
pub use sim::{simulate, simulate_cancellable, simulate_traced, GemmResult, Request};
pub use stats::GemmStats;
pub use timing::{FoldTiming, IdealMemory, Readiness, ReadyTimes};

/// The crate version; the Python package refuses a native module of another version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
