//! The DRAM statistics, each declared once with its unit and meaning (the habit of
//! `crate::stats`), so the CLI and reports can list and label them.

/// One statistic's value: a count or a derived real number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatValue {
    Int(u64),
    Float(f64),
}

impl From<u64> for StatValue {
    fn from(v: u64) -> Self {
        StatValue::Int(v)
    }
}

impl From<f64> for StatValue {
    fn from(v: f64) -> Self {
        StatValue::Float(v)
    }
}

macro_rules! declare_dram_stats {
    ($(#[$meta:meta])* pub struct $name:ident { $($field:ident : $ty:ty, $unit:literal, $desc:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq)]
        pub struct $name { $(#[doc = $desc] pub $field: $ty,)+ }

        impl $name {
            /// `(name, unit, description)` of every statistic, in declaration order.
            pub const CATALOG: &'static [(&'static str, &'static str, &'static str)] =
                &[$((stringify!($field), $unit, $desc)),+];

            /// `(name, value)` in catalog order.
            pub fn values(&self) -> Vec<(&'static str, StatValue)> {
                vec![$((stringify!($field), StatValue::from(self.$field))),+]
            }
        }
    };
}

declare_dram_stats! {
    /// Statistics of a DRAM run. Counts are over the whole run; times are from cycle 0 to
    /// `cycles` (for `run_trace`, the completion of the last request).
    pub struct DramStats {
        cycles: u64, "DRAM cycles", "DRAM clock cycles simulated, from cycle 0.";
        reads: u64, "requests", "Read requests served (one burst each).";
        writes: u64, "requests", "Write requests served (one burst each).";
        row_hits: u64, "requests", "Requests served from the row already open (no ACT or PRE issued for them).";
        row_misses: u64, "requests", "Requests that found their bank closed and needed an ACT.";
        row_conflicts: u64, "requests", "Requests that found another row open and needed a PRE and an ACT.";
        row_hit_rate: f64, "fraction", "row_hits / (reads + writes).";
        activates: u64, "commands", "ACT commands issued.";
        precharges: u64, "commands", "PRE commands issued (single bank).";
        precharge_alls: u64, "commands", "PREA commands issued (all banks of a rank, before a refresh).";
        refreshes: u64, "commands", "REF commands issued (all-bank refresh of one rank).";
        write_drains: u64, "switches", "Times a channel switched from serving reads to draining writes.";
        rejected: u64, "requests", "try_send calls refused because the target queue was full (run_trace waits for space instead; its per-request enqueued cycles show the wait).";
        avg_read_latency: f64, "DRAM cycles", "Mean read latency: from entering the read queue to the cycle after the last data beat.";
        max_read_latency: u64, "DRAM cycles", "Largest read latency.";
        avg_read_latency_ns: f64, "ns", "Mean read latency in nanoseconds.";
        max_read_latency_ns: f64, "ns", "Largest read latency in nanoseconds.";
        avg_write_latency: f64, "DRAM cycles", "Mean write latency: from entering the write queue to the cycle after the WR command (posted write).";
        bytes_read: u64, "bytes", "Bytes read (reads x burst bytes).";
        bytes_written: u64, "bytes", "Bytes written (writes x burst bytes).";
        bandwidth_gbps: f64, "GB/s", "Achieved bandwidth: (bytes read + written) / (cycles x tCK), 1 GB = 1e9 B.";
        peak_bandwidth_gbps: f64, "GB/s", "Peak bandwidth: channels x bus bytes x data rate.";
        bandwidth_fraction: f64, "fraction", "bandwidth_gbps / peak_bandwidth_gbps.";
        busy_cycles: u64, "DRAM cycles", "Cycles during which at least one request was queued or in flight.";
        busy_bandwidth_gbps: f64, "GB/s", "Bandwidth over the busy cycles only.";
        data_bus_cycles: u64, "channel-cycles", "Data-bus transfer cycles summed over channels (bursts x BL/2).";
        rank_active_cycles: u64, "rank-cycles", "Cycles summed over every rank of every channel during which the rank had at least one bank open (active standby, IDD3N; the rest of cycles x channels x ranks is precharged standby, IDD2N). A bank is open from its ACT to the PRE or PREA that closes it.";
        time_ns: f64, "ns", "cycles x tCK.";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_matches_values() {
        let s = DramStats {
            reads: 3,
            bandwidth_gbps: 1.5,
            ..Default::default()
        };
        let v = s.values();
        assert_eq!(DramStats::CATALOG.len(), v.len());
        for ((name, _, _), (vname, _)) in DramStats::CATALOG.iter().zip(&v) {
            assert_eq!(name, vname);
        }
        assert!(v.contains(&("reads", StatValue::Int(3))));
        assert!(v.contains(&("bandwidth_gbps", StatValue::Float(1.5))));
    }
}
