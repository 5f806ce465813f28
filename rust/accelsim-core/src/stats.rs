//! Every statistic the engines report, declared once with its unit and meaning
//! (gem5's `ADD_STAT` habit). The catalog is what the CLI lists and what reports label.

macro_rules! declare_stats {
    ($(#[$meta:meta])* pub struct $name:ident { $($field:ident : $unit:literal, $desc:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct $name { $(#[doc = $desc] pub $field: u64,)+ }

        impl $name {
            /// `(name, unit, description)` of every statistic, in declaration order.
            pub const CATALOG: &'static [(&'static str, &'static str, &'static str)] =
                &[$((stringify!($field), $unit, $desc)),+];

            /// The values in catalog order.
            pub fn values(&self) -> Vec<u64> {
                vec![$(self.$field),+]
            }

            /// Field-wise sum (layers or groups run one after another).
            pub fn add(&mut self, other: &Self) {
                $(self.$field += other.$field;)+
            }

            /// Every field times `n` (`n` of the same added up).
            pub fn times(&self, n: u64) -> Self {
                Self { $($field: self.$field * n,)+ }
            }

            /// Field-wise difference from `earlier` (what was added since).
            pub fn minus(&self, earlier: &Self) -> Self {
                Self { $($field: self.$field - earlier.$field,)+ }
            }
        }
    };
}

pub(crate) use declare_stats;

declare_stats! {
    /// Statistics of one simulated GEMM (one layer).
    pub struct GemmStats {
        cycles: "cycles", "Array cycles from the first operand vector accepted at the array's input to the last result beat leaving it, both counted (docs/timing.md).";
        macs: "MACs", "Multiply-accumulates on valid operands (M*K*N*groups).";
        folds: "folds", "Times the array was (re)mapped to a new part of the GEMM.";
        ifmap_reads: "words", "ifmap (A) words that entered the array at its edges.";
        filter_reads: "words", "filter (B) words that entered the array at its edges.";
        ofmap_writes: "words", "ofmap words (partial or final sums) that left the array.";
        stream_vectors: "vectors", "Operand vectors accepted at the streaming edge(s); one per cycle at most.";
        stationary_load_cycles: "cycles", "Cycles the stationary-operand load port was busy (WS, IS).";
        drain_beats: "beats", "Output-stationary drain beats (OS): one row or column of results each.";
        pe_cycles: "PE-cycles", "rows*cols*cycles: the PE capacity of the run (utilization = macs / pe_cycles).";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_matches_values() {
        let s = GemmStats {
            cycles: 3,
            macs: 7,
            ..Default::default()
        };
        assert_eq!(GemmStats::CATALOG.len(), s.values().len());
        assert_eq!(GemmStats::CATALOG[0].0, "cycles");
        assert_eq!(s.values()[1], 7);
    }
}
