//! The vector unit: the operations a DNN runs off the systolic array (pooling, element-wise
//! arithmetic, activations, normalization, softmax, data movement).
//!
//! The model is deliberately small. A vector unit has `lanes` SIMD lanes fed by a pipeline of
//! `latency` stages. An operation of class `c` over `e` elements issues
//! `ceil(e / lanes)` lane-wide vectors, each occupying the unit for `cycles_per_element[c]`
//! cycles, and its last result leaves the pipeline `latency` cycles after the last issue:
//!
//! ```text
//! cycles = ceil(elements / lanes) * cycles_per_element[class] + latency
//! ```
//!
//! An operation with no elements, or of a class that costs 0 cycles per element (a reshape only
//! relabels a tensor), issues nothing and takes 0 cycles: it pays no pipeline latency.
//! Operations run one after another (no overlap with each other or with the array).
//!
//! What counts as an element is the workload's business (see `docs/workloads.md`): one output
//! element for element-wise ops, one window tap for pooling, one input element for reductions,
//! normalization and softmax, one moved element for data movement.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

macro_rules! op_classes {
    ($($(#[$vmeta:meta])* $variant:ident => $text:literal, $default:literal, $desc:literal;)+) => {
        /// The classes of vector operations, each with its own cost per element.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum VectorOpClass { $($(#[$vmeta])* $variant),+ }

        impl VectorOpClass {
            /// Every class name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            /// Every class, in declaration order.
            pub const ALL: &'static [VectorOpClass] = &[$(VectorOpClass::$variant),+];
            /// `(name, default cycles per element, description)` of every class.
            pub const CATALOG: &'static [(&'static str, u32, &'static str)] =
                &[$(($text, $default, $desc)),+];

            pub fn name(self) -> &'static str {
                match self { $(VectorOpClass::$variant => $text),+ }
            }

            /// Position in [`VectorOpClass::ALL`].
            pub fn index(self) -> usize {
                self as usize
            }

            /// The default cycles per lane-wide vector of this class.
            pub fn default_cycles_per_element(self) -> u32 {
                match self { $(VectorOpClass::$variant => $default),+ }
            }

            pub fn description(self) -> &'static str {
                match self { $(VectorOpClass::$variant => $desc),+ }
            }
        }
    };
}

op_classes! {
    /// Add, sub, mul, div, max, ReLU, clip, bias: one ALU pass per output element.
    Elementwise => "elementwise", 1,
        "One ALU operation per output element: add, mul, ReLU, clip, residual adds.";
    /// Transcendental activations evaluated by a table or polynomial.
    Activation => "activation", 4,
        "Transcendental activation per output element (sigmoid, tanh, GELU, SiLU, exp, erf).";
    /// Max or average pooling: one compare or add per window tap.
    Pooling => "pooling", 1,
        "Max or average pooling: one compare or add per window tap (output elements x taps).";
    /// Reductions over an axis (sums, means, global pooling).
    Reduction => "reduction", 1,
        "Reduction (mean, sum, max, global pooling): one accumulate per input element.";
    /// Batch, layer, group and instance normalization.
    Normalization => "normalization", 4,
        "Normalization (batch, layer, group norm): statistics, normalize, scale and shift per input element.";
    /// Softmax along an axis: max, exp, sum, divide.
    Softmax => "softmax", 5,
        "Softmax: running max, exponent, sum and divide per input element.";
    /// Transpose, concat, slice, gather, pad: elements moved between buffers.
    DataMovement => "data_movement", 1,
        "Data movement (transpose, concat, slice, gather, pad, col2im): one move per element.";
    /// Reshape, flatten, squeeze: a relabelling, no data touched.
    Reshape => "reshape", 0,
        "Reshape, flatten, squeeze: the tensor is relabelled, no element is touched.";
    /// Anything else that is not matrix work.
    Other => "other", 1,
        "Any other operation that is not matrix work, per output element.";
}

impl FromStr for VectorOpClass {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase();
        VectorOpClass::ALL
            .iter()
            .copied()
            .find(|c| c.name() == key)
            .ok_or_else(|| {
                Error::workload(
                    "op_class",
                    format!(
                        "unknown vector op class '{s}'; valid choices: {}",
                        VectorOpClass::NAMES.join(", ")
                    ),
                )
            })
    }
}

impl fmt::Display for VectorOpClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Number of vector op classes.
pub const N_CLASSES: usize = VectorOpClass::ALL.len();

/// A validated vector unit: `lanes` lanes, a `latency`-stage pipeline, and the cycles each
/// lane-wide vector of a class occupies the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VectorUnit {
    lanes: u32,
    latency: u32,
    cycles_per_element: [u32; N_CLASSES],
}

impl VectorUnit {
    /// A unit with the default cycles per element of every class.
    pub fn new(lanes: u32, latency: u32) -> Result<Self> {
        let mut cpe = [0; N_CLASSES];
        for class in VectorOpClass::ALL {
            cpe[class.index()] = class.default_cycles_per_element();
        }
        Self::with_costs(lanes, latency, cpe)
    }

    /// A unit with every class's cycles per element given (indexed as [`VectorOpClass::ALL`]).
    pub fn with_costs(
        lanes: u32,
        latency: u32,
        cycles_per_element: [u32; N_CLASSES],
    ) -> Result<Self> {
        if lanes == 0 {
            return Err(Error::config(
                "lanes",
                "the vector unit needs at least 1 lane, got 0",
            ));
        }
        Ok(VectorUnit {
            lanes,
            latency,
            cycles_per_element,
        })
    }

    /// The same unit with the cost of one class changed.
    pub fn with_cost(mut self, class: VectorOpClass, cycles_per_element: u32) -> Self {
        self.cycles_per_element[class.index()] = cycles_per_element;
        self
    }

    pub fn lanes(&self) -> u32 {
        self.lanes
    }

    pub fn latency(&self) -> u32 {
        self.latency
    }

    pub fn cycles_per_element(&self, class: VectorOpClass) -> u32 {
        self.cycles_per_element[class.index()]
    }

    /// Lane-wide vectors issued for `elements` elements: `ceil(elements / lanes)`.
    pub fn vectors(&self, elements: u64) -> u64 {
        elements.div_ceil(u64::from(self.lanes))
    }

    /// Cycles of one operation: `ceil(elements / lanes) * cycles_per_element[class] + latency`,
    /// or 0 when it issues nothing (no elements, or a class costing 0 cycles per element).
    pub fn cycles(&self, class: VectorOpClass, elements: u64) -> u64 {
        let busy = self
            .vectors(elements)
            .saturating_mul(u64::from(self.cycles_per_element(class)));
        if busy == 0 {
            0
        } else {
            busy.saturating_add(u64::from(self.latency))
        }
    }

    /// Statistics of operations run one after another.
    pub fn run(&self, ops: &[(VectorOpClass, u64)]) -> Vec<VectorStats> {
        ops.iter()
            .map(|&(class, elements)| {
                let cycles = self.cycles(class, elements);
                VectorStats {
                    cycles,
                    elements,
                    vectors: if cycles == 0 {
                        0
                    } else {
                        self.vectors(elements)
                    },
                    lane_cycles: cycles.saturating_mul(u64::from(self.lanes)),
                }
            })
            .collect()
    }
}

crate::stats::declare_stats! {
    /// Statistics of one vector operation.
    pub struct VectorStats {
        cycles: "cycles", "Vector-unit cycles of the operation: ceil(elements / lanes) * cycles_per_element + latency, 0 if nothing is issued.";
        elements: "elements", "Elements the operation processes (output elements, window taps, input elements or moved elements by class).";
        vectors: "vectors", "Lane-wide vectors issued: ceil(elements / lanes), 0 if nothing is issued.";
        lane_cycles: "lane-cycles", "lanes * cycles: the vector unit's capacity over the operation (lane utilization = elements / lane_cycles).";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_errors_list_choices() {
        for class in VectorOpClass::ALL {
            assert_eq!(class.name().parse::<VectorOpClass>().unwrap(), *class);
            assert_eq!(VectorOpClass::ALL[class.index()], *class);
        }
        assert_eq!(
            " Softmax ".parse::<VectorOpClass>().unwrap(),
            VectorOpClass::Softmax
        );
        let err = "conv".parse::<VectorOpClass>().unwrap_err().to_string();
        assert!(err.contains("'conv'"), "{err}");
        assert!(err.contains(&VectorOpClass::NAMES.join(", ")), "{err}");
        assert_eq!(VectorOpClass::CATALOG.len(), N_CLASSES);
    }

    #[test]
    fn cycles_follow_the_formula() {
        let unit = VectorUnit::new(16, 3).unwrap();
        // 100 elements on 16 lanes: 7 vectors; elementwise 1 cycle each, + 3 latency.
        assert_eq!(unit.cycles(VectorOpClass::Elementwise, 100), 7 + 3);
        // softmax 5 cycles per vector
        assert_eq!(unit.cycles(VectorOpClass::Softmax, 100), 7 * 5 + 3);
        // exactly full vectors
        assert_eq!(unit.cycles(VectorOpClass::Pooling, 32), 2 + 3);
        assert_eq!(unit.cycles(VectorOpClass::Pooling, 33), 3 + 3);
        assert_eq!(unit.cycles(VectorOpClass::Elementwise, 1), 1 + 3);
    }

    #[test]
    fn nothing_issued_costs_nothing() {
        let unit = VectorUnit::new(8, 10).unwrap();
        assert_eq!(unit.cycles(VectorOpClass::Elementwise, 0), 0);
        assert_eq!(unit.cycles(VectorOpClass::Reshape, 1_000_000), 0);
        let free = unit.with_cost(VectorOpClass::Softmax, 0);
        assert_eq!(free.cycles(VectorOpClass::Softmax, 99), 0);
        assert_eq!(free.cycles(VectorOpClass::Elementwise, 99), 13 + 10);
    }

    #[test]
    fn custom_costs_and_validation() {
        let mut cpe = [2; N_CLASSES];
        cpe[VectorOpClass::Normalization.index()] = 7;
        let unit = VectorUnit::with_costs(4, 0, cpe).unwrap();
        assert_eq!(unit.cycles_per_element(VectorOpClass::Normalization), 7);
        assert_eq!(unit.cycles(VectorOpClass::Normalization, 9), 3 * 7);
        assert_eq!(unit.cycles(VectorOpClass::Reshape, 9), 3 * 2);
        let err = VectorUnit::new(0, 1).unwrap_err();
        assert!(matches!(err, Error::Config { ref field, .. } if field == "lanes"));
    }

    #[test]
    fn run_reports_stats_per_op() {
        let unit = VectorUnit::new(4, 2).unwrap();
        let stats = unit.run(&[
            (VectorOpClass::Elementwise, 10),
            (VectorOpClass::Reshape, 10),
            (VectorOpClass::Activation, 4),
        ]);
        assert_eq!(stats.len(), 3);
        assert_eq!(
            stats[0],
            VectorStats {
                cycles: 3 + 2,
                elements: 10,
                vectors: 3,
                lane_cycles: 20
            }
        );
        assert_eq!(stats[1].cycles, 0);
        assert_eq!(stats[1].vectors, 0);
        assert_eq!(stats[1].elements, 10);
        assert_eq!(stats[2].cycles, 4 + 2);
        assert_eq!(VectorStats::CATALOG.len(), stats[0].values().len());
    }

    #[test]
    fn cycles_never_beat_the_lane_bound() {
        // Whatever the shape, a unit cannot process more than `lanes` elements per cycle of
        // a 1-cycle class, and pays its latency exactly once.
        for lanes in [1u32, 3, 8, 64] {
            for latency in [0u32, 1, 5] {
                let unit = VectorUnit::new(lanes, latency).unwrap();
                for elements in [1u64, 2, 7, 63, 64, 65, 1000] {
                    let c = unit.cycles(VectorOpClass::Elementwise, elements);
                    assert!(c * u64::from(lanes) >= elements);
                    assert!(
                        (c - u64::from(latency)) * u64::from(lanes) < elements + u64::from(lanes)
                    );
                }
            }
        }
    }
}
