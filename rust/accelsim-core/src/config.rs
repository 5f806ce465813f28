//! The array's configuration: validated once on construction, immutable afterwards.
//! Components chosen by name (dataflow, drain edge, engine) go through `FromStr` impls that list
//! the valid names on error.

use crate::error::{Error, Result};

/// A closed set of names (case-insensitive on input) that lists the valid names on error;
/// every component chosen by name (dataflow, drain edge, engine, DRAM preset, mapping) uses it.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every valid name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                let key = s.trim();
                $(if key.eq_ignore_ascii_case($text) {
                    return Ok($name::$variant);
                })+
                Err($crate::error::Error::config(
                    $field,
                    format!("unknown value '{}'; valid choices: {}", s, Self::NAMES.join(", ")),
                ))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
pub(crate) use named_enum;

named_enum!(
    /// Which operand stays in the PEs while the other streams through.
    Dataflow, "dataflow", {
        /// Weight stationary: a K x N tile of the filter (B) sits in the PEs, ifmap rows stream.
        Ws => "ws",
        /// Output stationary: each PE accumulates one output; ifmap and filter both stream.
        Os => "os",
        /// Input stationary: a K x M tile of the ifmap (A) sits in the PEs, filter columns stream.
        Is => "is",
    }
);

named_enum!(
    /// The edge through which an output-stationary array shifts its finished results out.
    DrainEdge, "os_drain", {
        /// One column of results leaves per beat through the right edge (`cols` beats).
        Right => "right",
        /// One row of results leaves per beat through the bottom edge (`rows` beats).
        Bottom => "bottom",
    }
);

named_enum!(
    /// The two engines that implement the timing model.
    Engine, "engine", {
        /// Fold-level event arithmetic: same cycles and statistics, no PE stepping.
        Fast => "fast",
        /// Register-level: every PE register updated every cycle, carrying real values.
        Pe => "pe",
    }
);

/// Largest accepted array side; far beyond any real array, it keeps products of sizes in u64.
pub const MAX_ARRAY_SIDE: u32 = 1 << 16;
/// Largest accepted pipeline depth of the multiplier or the adder.
pub const MAX_LATENCY: u32 = 64;

/// A validated description of the systolic array. See `docs/timing.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArrayConfig {
    rows: u32,
    cols: u32,
    dataflow: Dataflow,
    mac_latency: u32,
    acc_latency: u32,
    stationary_double_buffer: bool,
    os_drain: DrainEdge,
    os_output_double_buffer: bool,
}

/// Builder-free constructor arguments; `ArrayConfig::new` validates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrayParams {
    pub rows: u32,
    pub cols: u32,
    pub dataflow: Dataflow,
    pub mac_latency: u32,
    pub acc_latency: u32,
    pub stationary_double_buffer: bool,
    pub os_drain: DrainEdge,
    pub os_output_double_buffer: bool,
}

impl Default for ArrayParams {
    fn default() -> Self {
        ArrayParams {
            rows: 32,
            cols: 32,
            dataflow: Dataflow::Ws,
            mac_latency: 1,
            acc_latency: 1,
            stationary_double_buffer: true,
            os_drain: DrainEdge::Right,
            os_output_double_buffer: true,
        }
    }
}

fn check_range(field: &str, value: u32, lo: u32, hi: u32) -> Result<()> {
    if value < lo || value > hi {
        return Err(Error::config(
            field,
            format!("{value} is out of range; it must be an integer from {lo} to {hi}"),
        ));
    }
    Ok(())
}

impl ArrayConfig {
    pub fn new(p: ArrayParams) -> Result<Self> {
        check_range("rows", p.rows, 1, MAX_ARRAY_SIDE)?;
        check_range("cols", p.cols, 1, MAX_ARRAY_SIDE)?;
        check_range("mac_latency", p.mac_latency, 1, MAX_LATENCY)?;
        check_range("acc_latency", p.acc_latency, 1, MAX_LATENCY)?;
        Ok(ArrayConfig {
            rows: p.rows,
            cols: p.cols,
            dataflow: p.dataflow,
            mac_latency: p.mac_latency,
            acc_latency: p.acc_latency,
            stationary_double_buffer: p.stationary_double_buffer,
            os_drain: p.os_drain,
            os_output_double_buffer: p.os_output_double_buffer,
        })
    }

    /// A `rows x cols` array with every other knob at its default.
    pub fn square_default(rows: u32, cols: u32, dataflow: Dataflow) -> Result<Self> {
        Self::new(ArrayParams {
            rows,
            cols,
            dataflow,
            ..ArrayParams::default()
        })
    }

    pub fn params(&self) -> ArrayParams {
        ArrayParams {
            rows: self.rows,
            cols: self.cols,
            dataflow: self.dataflow,
            mac_latency: self.mac_latency,
            acc_latency: self.acc_latency,
            stationary_double_buffer: self.stationary_double_buffer,
            os_drain: self.os_drain,
            os_output_double_buffer: self.os_output_double_buffer,
        }
    }

    pub fn rows(&self) -> u32 {
        self.rows
    }
    pub fn cols(&self) -> u32 {
        self.cols
    }
    pub fn dataflow(&self) -> Dataflow {
        self.dataflow
    }
    pub fn mac_latency(&self) -> u32 {
        self.mac_latency
    }
    pub fn acc_latency(&self) -> u32 {
        self.acc_latency
    }
    pub fn stationary_double_buffer(&self) -> bool {
        self.stationary_double_buffer
    }
    pub fn os_drain(&self) -> DrainEdge {
        self.os_drain
    }
    pub fn os_output_double_buffer(&self) -> bool {
        self.os_output_double_buffer
    }
    /// Beats an output-stationary drain takes: the length of the shift chain to the edge.
    pub fn drain_beats(&self) -> u64 {
        match self.os_drain {
            DrainEdge::Right => self.cols as u64,
            DrainEdge::Bottom => self.rows as u64,
        }
    }
    pub fn pes(&self) -> u64 {
        self.rows as u64 * self.cols as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_lists_choices() {
        assert_eq!("WS".parse::<Dataflow>().unwrap(), Dataflow::Ws);
        assert_eq!(" is ".parse::<Dataflow>().unwrap(), Dataflow::Is);
        let err = "rs".parse::<Dataflow>().unwrap_err().to_string();
        assert!(
            err.contains("'dataflow'") && err.contains("ws, os, is"),
            "{err}"
        );
        let err = "left".parse::<DrainEdge>().unwrap_err().to_string();
        assert!(err.contains("right, bottom"), "{err}");
    }

    #[test]
    fn rejects_zero_and_out_of_range_fields() {
        for (field, p) in [
            (
                "rows",
                ArrayParams {
                    rows: 0,
                    ..Default::default()
                },
            ),
            (
                "cols",
                ArrayParams {
                    cols: 0,
                    ..Default::default()
                },
            ),
            (
                "mac_latency",
                ArrayParams {
                    mac_latency: 0,
                    ..Default::default()
                },
            ),
            (
                "acc_latency",
                ArrayParams {
                    acc_latency: 65,
                    ..Default::default()
                },
            ),
        ] {
            let err = ArrayConfig::new(p).unwrap_err();
            assert!(
                matches!(&err, Error::Config { field: f, .. } if f == field),
                "{err}"
            );
        }
    }
}
