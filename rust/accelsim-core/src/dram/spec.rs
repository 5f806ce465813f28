//! What a DRAM is: its organization, its timing parameters in nanoseconds (converted to DRAM
//! cycles once, at construction), the named presets, and the timing-constraint table that the
//! controller enforces (Ramulator 2's `populate_timingcons` idea, written as data).
//!
//! Sources of the preset values are listed in `docs/dram.md`.

use super::mapping::Mapping;
use crate::config::named_enum;
use crate::error::{Error, Result};

named_enum!(
    /// The built-in DRAM presets.
    DramPreset, "dram", {
        /// DDR4-2400R (16-16-16), one x64 rank of 8 Gb x8 devices.
        Ddr4_2400 => "ddr4-2400",
        /// DDR4-3200AA (22-22-22), one x64 rank of 8 Gb x8 devices.
        Ddr4_3200 => "ddr4-3200",
        /// LPDDR4-3200, one 8 Gb die: two x16 channels, 8 banks each, BL16.
        Lpddr4_3200 => "lpddr4-3200",
        /// HBM2 at 2 Gb/s per pin, one 4-high stack of 8 Gb dies in pseudo-channel mode:
        /// 16 pseudo-channels of 64 bits, modelled as independent channels.
        Hbm2 => "hbm2",
    }
);

/// The DRAM commands the controller issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    /// Activate (open) a row in a bank.
    Act = 0,
    /// Precharge (close) one bank.
    Pre = 1,
    /// Precharge all banks of a rank (before a refresh).
    PreA = 2,
    /// Read one burst from the open row.
    Rd = 3,
    /// Write one burst to the open row.
    Wr = 4,
    /// All-bank refresh of a rank.
    Ref = 5,
}

/// Number of [`Command`]s.
pub const NUM_COMMANDS: usize = 6;

impl Command {
    pub const ALL: [Command; NUM_COMMANDS] = [
        Command::Act,
        Command::Pre,
        Command::PreA,
        Command::Rd,
        Command::Wr,
        Command::Ref,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Command::Act => "ACT",
            Command::Pre => "PRE",
            Command::PreA => "PREA",
            Command::Rd => "RD",
            Command::Wr => "WR",
            Command::Ref => "REF",
        }
    }

    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The level a command addresses: a bank, or a whole rank (PREA, REF).
    pub fn scope(self) -> Level {
        match self {
            Command::PreA | Command::Ref => Level::Rank,
            _ => Level::Bank,
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The levels of the hierarchy that hold timing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Channel,
    Rank,
    BankGroup,
    Bank,
}

/// A timing parameter as JEDEC states it: `max(ns nanoseconds, ck clock cycles)`. Either part
/// may be zero. In DRAM cycles it is `max(ceil(ns / tCK), ck)`; the ratio is reduced by 1e-6
/// before rounding up so that an exact multiple (13.75 ns at 0.625 ns) is not pushed up by a
/// floating-point error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimingValue {
    pub ns: f64,
    pub ck: u32,
}

impl TimingValue {
    /// A duration in nanoseconds.
    pub const fn ns(ns: f64) -> Self {
        TimingValue { ns, ck: 0 }
    }
    /// A number of clock cycles.
    pub const fn ck(ck: u32) -> Self {
        TimingValue { ns: 0.0, ck }
    }
    /// `max(ns, ck cycles)`.
    pub const fn max(ns: f64, ck: u32) -> Self {
        TimingValue { ns, ck }
    }

    /// In DRAM cycles of `tck_ns`.
    pub fn cycles(&self, tck_ns: f64) -> u64 {
        let from_ns = if self.ns > 0.0 {
            (self.ns / tck_ns - 1e-6).ceil().max(0.0) as u64
        } else {
            0
        };
        from_ns.max(self.ck as u64)
    }
}

/// The organization of the memory behind one controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Organization {
    /// Independent channels (HBM2: pseudo-channels), each with its own command and data bus.
    pub channels: u32,
    /// Ranks per channel.
    pub ranks: u32,
    /// Bank groups per rank (1 where the standard has none, e.g. LPDDR4).
    pub bank_groups: u32,
    /// Banks per bank group.
    pub banks_per_group: u32,
    /// Rows per bank.
    pub rows: u32,
    /// Columns per row, in units of the channel's data-bus width.
    pub columns: u32,
    /// Data-bus width of one channel in bits.
    pub bus_width: u32,
    /// Burst length in beats (DDR: two beats per clock).
    pub burst_length: u32,
}

impl Organization {
    /// Bytes moved by one burst: one request.
    pub fn burst_bytes(&self) -> u64 {
        self.bus_width as u64 / 8 * self.burst_length as u64
    }
    /// Bursts in one row of one bank (across the rank's devices).
    pub fn bursts_per_row(&self) -> u64 {
        (self.columns / self.burst_length) as u64
    }
    /// Banks per rank.
    pub fn banks_per_rank(&self) -> u32 {
        self.bank_groups * self.banks_per_group
    }
    /// Total capacity in bytes.
    pub fn capacity_bytes(&self) -> u64 {
        self.channels as u64
            * self.ranks as u64
            * self.banks_per_rank() as u64
            * self.rows as u64
            * self.columns as u64
            * (self.bus_width as u64 / 8)
    }
}

/// Timing parameters, each `max(ns, cycles)` as in the JEDEC tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timings {
    /// CAS (read) latency: RD command to first data beat.
    pub cl: TimingValue,
    /// CAS write latency: WR command to first data beat.
    pub cwl: TimingValue,
    /// ACT to RD.
    pub rcd: TimingValue,
    /// ACT to WR (HBM2 states it separately; equal to `rcd` elsewhere).
    pub rcd_wr: TimingValue,
    /// PRE to ACT, same bank.
    pub rp: TimingValue,
    /// PREA to ACT or REF (LPDDR4 tRPab; equal to `rp` elsewhere).
    pub rp_all: TimingValue,
    /// ACT to PRE, same bank.
    pub ras: TimingValue,
    /// ACT to ACT, same bank.
    pub rc: TimingValue,
    /// ACT to ACT, different bank group (same rank).
    pub rrd_s: TimingValue,
    /// ACT to ACT, same bank group.
    pub rrd_l: TimingValue,
    /// Window in which at most four ACTs may be issued to a rank.
    pub faw: TimingValue,
    /// Column command to column command, different bank group.
    pub ccd_s: TimingValue,
    /// Column command to column command, same bank group.
    pub ccd_l: TimingValue,
    /// End of write data to RD, different bank group.
    pub wtr_s: TimingValue,
    /// End of write data to RD, same bank group.
    pub wtr_l: TimingValue,
    /// RD to PRE.
    pub rtp: TimingValue,
    /// Write recovery: end of write data to PRE.
    pub wr: TimingValue,
    /// Refresh cycle time: REF to the next ACT (the rank is blocked).
    pub rfc: TimingValue,
    /// Average refresh interval.
    pub refi: TimingValue,
    /// Rank-to-rank switch on the data bus.
    pub cs: TimingValue,
}

/// The timing parameters in DRAM cycles (computed once from [`Timings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TimingCycles {
    /// Burst time on the data bus: BL/2.
    pub bl: u64,
    pub cl: u64,
    pub cwl: u64,
    pub rcd: u64,
    pub rcd_wr: u64,
    pub rp: u64,
    pub rp_all: u64,
    pub ras: u64,
    pub rc: u64,
    pub rrd_s: u64,
    pub rrd_l: u64,
    pub faw: u64,
    pub ccd_s: u64,
    pub ccd_l: u64,
    pub wtr_s: u64,
    pub wtr_l: u64,
    pub rtp: u64,
    pub wr: u64,
    pub rfc: u64,
    pub refi: u64,
    pub cs: u64,
}

impl TimingCycles {
    /// `(name, cycles)` of every parameter, for reports.
    pub fn entries(&self) -> [(&'static str, u64); 21] {
        [
            ("tBL", self.bl),
            ("tCL", self.cl),
            ("tCWL", self.cwl),
            ("tRCD", self.rcd),
            ("tRCD_WR", self.rcd_wr),
            ("tRP", self.rp),
            ("tRP_all", self.rp_all),
            ("tRAS", self.ras),
            ("tRC", self.rc),
            ("tRRD_S", self.rrd_s),
            ("tRRD_L", self.rrd_l),
            ("tFAW", self.faw),
            ("tCCD_S", self.ccd_s),
            ("tCCD_L", self.ccd_l),
            ("tWTR_S", self.wtr_s),
            ("tWTR_L", self.wtr_l),
            ("tRTP", self.rtp),
            ("tWR", self.wr),
            ("tRFC", self.rfc),
            ("tREFI", self.refi),
            ("tCS", self.cs),
        ]
    }
}

/// One supply rail of the part a preset's currents describe: its voltage and the IDD currents
/// of the Micron TN-40-07 / DRAMPower method, in mA (so that mA x V x ns = pJ). A current the
/// source does not list is given as the rail's standby current `idd3n` (no increment over
/// standby), or 0 when that is not listed either (DRAMPower's default); `docs/energy.md`
/// quotes every value with its source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerRail {
    /// Supply voltage, V.
    pub v: f64,
    /// One bank cycling ACT-PRE at tRC.
    pub idd0: f64,
    /// Precharged standby (all banks closed).
    pub idd2n: f64,
    /// Active standby (a bank open).
    pub idd3n: f64,
    /// Burst reads, every cycle.
    pub idd4r: f64,
    /// Burst writes, every cycle.
    pub idd4w: f64,
    /// Burst (all-bank) refresh, REF every tRFC.
    pub idd5: f64,
}

impl PowerRail {
    /// A rail that draws nothing (a part with one rail).
    pub const NONE: PowerRail = PowerRail {
        v: 0.0,
        idd0: 0.0,
        idd2n: 0.0,
        idd3n: 0.0,
        idd4r: 0.0,
        idd4w: 0.0,
        idd5: 0.0,
    };

    fn fields(&self) -> [(&'static str, f64); 7] {
        [
            ("v", self.v),
            ("idd0", self.idd0),
            ("idd2n", self.idd2n),
            ("idd3n", self.idd3n),
            ("idd4r", self.idd4r),
            ("idd4w", self.idd4w),
            ("idd5", self.idd5),
        ]
    }
}

/// What the DRAM's energy is computed from (`crate::memory::energy`, `docs/energy.md`): the
/// currents of one part (a device, or the channel a stacked DRAM's datasheet describes) and
/// the I/O energy per bit of the interface.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerSpec {
    /// Data width in bits of the part the currents describe: an x8 device 8, an LPDDR4 x16
    /// channel 16, a 128-bit HBM2 channel 128. A channel of `bus_width` bits is
    /// `bus_width / device_width` such parts (eight x8 devices on a 64-bit DDR4 channel; half
    /// a 128-bit HBM2 channel per 64-bit pseudo-channel).
    pub device_width: u32,
    /// The part's supply rails (DDR4: VDD and VPP; LPDDR4: VDD1 and VDD2; HBM2: VDD).
    pub rails: [PowerRail; 2],
    /// Interface energy per bit read (driver, termination, wire), pJ; not in the currents.
    pub io_read_pj_per_bit: f64,
    /// Interface energy per bit written, pJ.
    pub io_write_pj_per_bit: f64,
}

impl PowerSpec {
    /// `(name, value)` of every number, for validation.
    fn fields(&self) -> Vec<(String, f64)> {
        let mut out = vec![
            ("io_read_pj_per_bit".to_string(), self.io_read_pj_per_bit),
            ("io_write_pj_per_bit".to_string(), self.io_write_pj_per_bit),
        ];
        for (i, r) in self.rails.iter().enumerate() {
            for (name, v) in r.fields() {
                out.push((format!("rails[{i}].{name}"), v));
            }
        }
        out
    }
}

/// One row of the constraint table: after `prev` is issued to a node at `level`, `next` may not
/// be issued to the same node (or, with `sibling`, to another rank of the same channel) until
/// `cycles` later. With `window = n > 1`, the constraint runs from the n-th most recent `prev`
/// (tFAW: at most four ACTs in any `cycles`-long window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Constraint {
    pub level: Level,
    pub prev: Command,
    pub next: Command,
    pub cycles: u64,
    pub sibling: bool,
    pub window: u32,
}

/// A complete DRAM description: preset values plus any overrides, and the controller's knobs.
/// Start from [`DramConfig::preset`], change fields or use the setters, and [`Dram::new`]
/// validates it.
///
/// [`Dram::new`]: super::Dram::new
#[derive(Debug, Clone, PartialEq)]
pub struct DramConfig {
    /// The preset these values started from (reported, not used for timing).
    pub preset: DramPreset,
    /// Data rate in MT/s; the DRAM clock is half of it (tCK = 2000 / rate ns).
    pub data_rate: u32,
    pub org: Organization,
    pub timing: Timings,
    pub mapping: Mapping,
    /// Read-queue entries per channel.
    pub read_queue: u32,
    /// Write-queue entries per channel.
    pub write_queue: u32,
    /// How many of the oldest entries of the active queue FR-FCFS looks at.
    pub lookahead: u32,
    /// Enter write mode when the write queue holds at least this fraction of its entries.
    pub write_high_watermark: f64,
    /// Leave write mode (if reads wait) when the write queue holds at most this fraction.
    pub write_low_watermark: f64,
    /// Issue all-bank refreshes every tREFI (on by default; off only for experiments).
    pub refresh: bool,
    /// Currents and I/O energy the energy model uses (not the timing model).
    pub power: PowerSpec,
}

/// Largest accepted queue depth.
pub const MAX_QUEUE: u32 = 1 << 16;
/// Largest accepted number of channels, ranks, bank groups or banks per group.
pub const MAX_UNITS: u32 = 1 << 10;
/// Largest accepted number of ranks per channel (refresh bookkeeping uses a 64-bit mask).
pub const MAX_RANKS: u32 = 64;

use TimingValue as T;

fn ddr4(preset: DramPreset) -> DramConfig {
    // One rank of eight 8 Gb x8 devices: 4 bank groups x 4 banks, 64 Ki rows, 1 Ki columns,
    // 1 KB page per device (8 KB per rank), x64 bus, BL8 (64 B per burst).
    let org = Organization {
        channels: 1,
        ranks: 1,
        bank_groups: 4,
        banks_per_group: 4,
        rows: 1 << 16,
        columns: 1 << 10,
        bus_width: 64,
        burst_length: 8,
    };
    // JESD79-4 speed bins; tRRD/tFAW for a 1 KB page (x8); tRFC1 for 8 Gb; tREFI 7.8 us.
    let (data_rate, cl, cwl, rcd_rp, rc) = match preset {
        DramPreset::Ddr4_2400 => (2400, 16, 12, 13.32, 45.32),
        _ => (3200, 22, 16, 13.75, 45.75),
    };
    let rrd_s = if data_rate == 2400 { 3.3 } else { 2.5 };
    // DRAMPower memspecs (tukl-msd/DRAMPower memspecs/): MICRON_4Gb_DDR4-2400_8bit_A.json
    // and MICRON_8Gb_DDR4-3200_8bit_G.xml, per x8 device; VDD 1.2 V, VPP 2.5 V.
    let (vdd, vpp) = match preset {
        DramPreset::Ddr4_2400 => (
            PowerRail {
                v: 1.2,
                idd0: 60.75,
                idd2n: 38.25,
                idd3n: 44.0,
                idd4r: 184.5,
                idd4w: 168.75,
                idd5: 118.0, // idd5B
            },
            // Only ipp0 is listed (DRAMSys's copy of this memspec sets the others to 0).
            PowerRail {
                v: 2.5,
                idd0: 4.05,
                ..PowerRail::NONE
            },
        ),
        _ => (
            PowerRail {
                v: 1.2,
                idd0: 57.0,
                idd2n: 37.0,
                idd3n: 56.0,
                idd4r: 168.0,
                idd4w: 155.0,
                idd5: 66.0,
            },
            // idd02, idd3n2, idd52 (the VPP rail, "vdd2" 2.5 V); ipp2n/ipp4r/ipp4w are not
            // listed and are taken as the standby idd3n2.
            PowerRail {
                v: 2.5,
                idd0: 3.0,
                idd2n: 3.0,
                idd3n: 3.0,
                idd4r: 3.0,
                idd4w: 3.0,
                idd5: 5.0,
            },
        ),
    };
    DramConfig {
        preset,
        data_rate,
        org,
        timing: Timings {
            cl: T::ck(cl),
            cwl: T::ck(cwl),
            rcd: T::ns(rcd_rp),
            rcd_wr: T::ns(rcd_rp),
            rp: T::ns(rcd_rp),
            rp_all: T::ns(rcd_rp),
            ras: T::ns(32.0),
            rc: T::ns(rc),
            rrd_s: T::max(rrd_s, 4),
            rrd_l: T::max(4.9, 4),
            faw: T::max(21.0, 20),
            ccd_s: T::ck(4),
            ccd_l: T::max(5.0, 5),
            wtr_s: T::max(2.5, 2),
            wtr_l: T::max(7.5, 4),
            rtp: T::max(7.5, 4),
            wr: T::ns(15.0),
            rfc: T::ns(350.0),
            refi: T::ns(7800.0),
            cs: T::ck(2),
        },
        mapping: Mapping::RoRaCoBaBgCh,
        read_queue: 32,
        write_queue: 32,
        lookahead: 32,
        write_high_watermark: 0.8,
        write_low_watermark: 0.2,
        refresh: true,
        power: PowerSpec {
            device_width: 8,
            rails: [vdd, vpp],
            io_read_pj_per_bit: ddr4_pod_io_pj_per_bit(data_rate),
            io_write_pj_per_bit: ddr4_pod_io_pj_per_bit(data_rate),
        },
    }
}

/// DDR4 interface energy per bit: POD12 (JESD79-4) draws current only while a 0 is driven,
/// from VDDQ = 1.2 V through the driver (RON = RZQ/7 = 34 ohm) and the far end's termination
/// to VDDQ (here RZQ/5 = 48 ohm); with random data half the bits are 0, each for one unit
/// interval (1000 / data rate ns). Termination only: no switching energy (docs/energy.md).
fn ddr4_pod_io_pj_per_bit(data_rate: u32) -> f64 {
    let (vddq, ron, rtt) = (1.2, 34.0, 48.0);
    let watts = vddq * vddq / (ron + rtt);
    0.5 * watts * (1000.0 / data_rate as f64) * 1000.0 // W x ns = nJ; x 1000 = pJ
}

fn lpddr4_3200() -> DramConfig {
    // One 8 Gb die: two x16 channels of 4 Gb, 8 banks, 32 Ki rows, 1 Ki columns (2 KB page),
    // BL16 (32 B per burst). No bank groups: the _S and _L parameters are equal.
    // JESD209-4: RL 28 / WL 14 (set A, no DBI) at 1600 MHz; tRFCab 180 ns (8 Gb die),
    // tREFI 3.904 us.
    // DRAMPower memspec MICRON_6Gb_LPDDR4-3200_32bit_A.json (DRAMSys ships the same currents
    // as JEDEC_8Gb_LPDDR4-3200_16bit.json): one x16 channel; VDD1 1.8 V, VDD2 1.1 V; idd5
    // (burst refresh), not idd5ab (refresh averaged over tREFI).
    let vdd1 = PowerRail {
        v: 1.8,
        idd0: 3.5,
        idd2n: 2.0,
        idd3n: 2.25,
        idd4r: 2.25,
        idd4w: 2.25,
        idd5: 10.0,
    };
    let vdd2 = PowerRail {
        v: 1.1,
        idd0: 45.0,
        idd2n: 27.0,
        idd3n: 30.0,
        idd4r: 275.0,
        idd4w: 210.0,
        idd5: 90.0,
    };
    // I/O from the same memspec's VDDQ (1.1 V) currents: (idd4rq - idd3nq) and
    // (idd4wq - idd3nq) over a x16 channel at 3.2 Gb/s per pin; mW / (Gb/s) = pJ/bit.
    let (vddq, idd3nq, idd4rq, idd4wq, gbps) = (1.1, 0.75, 150.0, 55.0, 16.0 * 3.2);
    let org = Organization {
        channels: 2,
        ranks: 1,
        bank_groups: 1,
        banks_per_group: 8,
        rows: 1 << 15,
        columns: 1 << 10,
        bus_width: 16,
        burst_length: 16,
    };
    DramConfig {
        preset: DramPreset::Lpddr4_3200,
        data_rate: 3200,
        org,
        timing: Timings {
            cl: T::ck(28),
            cwl: T::ck(14),
            rcd: T::max(18.0, 4),
            rcd_wr: T::max(18.0, 4),
            rp: T::max(18.0, 4),
            rp_all: T::max(21.0, 4),
            ras: T::max(42.0, 3),
            rc: T::ns(60.0),
            rrd_s: T::max(10.0, 4),
            rrd_l: T::max(10.0, 4),
            faw: T::ns(40.0),
            ccd_s: T::ck(8),
            ccd_l: T::ck(8),
            wtr_s: T::max(10.0, 8),
            wtr_l: T::max(10.0, 8),
            rtp: T::max(7.5, 8),
            wr: T::max(18.0, 4),
            rfc: T::ns(180.0),
            refi: T::ns(3904.0),
            cs: T::ck(2),
        },
        mapping: Mapping::RoRaCoBaBgCh,
        read_queue: 32,
        write_queue: 32,
        lookahead: 32,
        write_high_watermark: 0.8,
        write_low_watermark: 0.2,
        refresh: true,
        power: PowerSpec {
            device_width: 16,
            rails: [vdd1, vdd2],
            io_read_pj_per_bit: (idd4rq - idd3nq) * vddq / gbps,
            io_write_pj_per_bit: (idd4wq - idd3nq) * vddq / gbps,
        },
    }
}

fn hbm2() -> DramConfig {
    // One 4-high stack of 8 Gb dies at 2 Gb/s per pin (tCK 1 ns): 8 channels of 128 bits,
    // each split into two 64-bit pseudo-channels; each pseudo-channel is modelled as an
    // independent channel (its own command bus). Per pseudo-channel: 4 bank groups x 4 banks,
    // 16 Ki rows, 1 KB page (128 columns of 8 B), BL4 (32 B per burst), 256 MiB.
    // JESD235 values as collected in gem5's HBM_2000_4H_1x64; tRFC 260 ns for a 4 Gb channel.
    let org = Organization {
        channels: 16,
        ranks: 1,
        bank_groups: 4,
        banks_per_group: 4,
        rows: 1 << 14,
        columns: 128,
        bus_width: 64,
        burst_length: 4,
    };
    DramConfig {
        preset: DramPreset::Hbm2,
        data_rate: 2000,
        org,
        timing: Timings {
            cl: T::ns(18.0),
            cwl: T::ns(7.0),
            rcd: T::ns(12.0),
            rcd_wr: T::ns(6.0),
            rp: T::ns(14.0),
            rp_all: T::ns(14.0),
            ras: T::ns(28.0),
            rc: T::ns(42.0),
            rrd_s: T::ns(4.0),
            rrd_l: T::ns(6.0),
            faw: T::ns(16.0),
            ccd_s: T::ck(2),
            ccd_l: T::ns(3.0),
            wtr_s: T::ns(4.0),
            wtr_l: T::ns(9.0),
            rtp: T::ns(5.0),
            wr: T::ns(14.0),
            rfc: T::ns(260.0),
            refi: T::ns(3900.0),
            cs: T::ck(2),
        },
        mapping: Mapping::RoRaCoBaBgCh,
        read_queue: 32,
        write_queue: 32,
        lookahead: 32,
        write_high_watermark: 0.8,
        write_low_watermark: 0.2,
        refresh: true,
        power: PowerSpec {
            // DRAMsim3 configs/HBM2_8Gb_x128.ini: one 128-bit channel of an 8 Gb die at
            // 1.2 V; a 64-bit pseudo-channel is half of it.
            device_width: 128,
            rails: [
                PowerRail {
                    v: 1.2,
                    idd0: 65.0,
                    idd2n: 40.0,
                    idd3n: 55.0,
                    idd4r: 390.0,
                    idd4w: 500.0,
                    idd5: 250.0, // IDD5AB
                },
                PowerRail::NONE,
            ],
            // Unterminated interposer I/O: a quarter of C V^2 per bit (random data: a 0 -> 1
            // transition every fourth bit) with C = 2.4 pF, V = 1.2 V.
            io_read_pj_per_bit: 0.25 * 2.4 * 1.2 * 1.2,
            io_write_pj_per_bit: 0.25 * 2.4 * 1.2 * 1.2,
        },
    }
}

fn check(field: &str, value: u32, lo: u32, hi: u32) -> Result<()> {
    if value < lo || value > hi {
        return Err(Error::config(
            field,
            format!("{value} is out of range; it must be an integer from {lo} to {hi}"),
        ));
    }
    Ok(())
}

fn check_pow2(field: &str, value: u32) -> Result<()> {
    if !value.is_power_of_two() {
        return Err(Error::config(
            field,
            format!("{value} is not a power of two (address bits are sliced per field)"),
        ));
    }
    Ok(())
}

impl DramConfig {
    /// The preset named `name` (see [`DramPreset::NAMES`]); an unknown name is a
    /// `Error::Config` on field `dram` listing the valid names.
    pub fn preset(name: &str) -> Result<DramConfig> {
        Ok(Self::from_preset(name.parse()?))
    }

    pub fn from_preset(preset: DramPreset) -> DramConfig {
        match preset {
            DramPreset::Ddr4_2400 | DramPreset::Ddr4_3200 => ddr4(preset),
            DramPreset::Lpddr4_3200 => lpddr4_3200(),
            DramPreset::Hbm2 => hbm2(),
        }
    }

    /// Select the address mapping by name (see [`Mapping::NAMES`]).
    pub fn with_mapping(mut self, name: &str) -> Result<Self> {
        self.mapping = name.parse()?;
        Ok(self)
    }

    /// Read- and write-queue entries per channel.
    pub fn with_queues(mut self, read_queue: u32, write_queue: u32) -> Self {
        self.read_queue = read_queue;
        self.write_queue = write_queue;
        self
    }

    /// FR-FCFS look-ahead window (entries of the active queue considered each cycle).
    pub fn with_lookahead(mut self, lookahead: u32) -> Self {
        self.lookahead = lookahead;
        self
    }

    /// Turn periodic refresh on or off.
    pub fn with_refresh(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }

    /// DRAM clock period in ns: 2000 / data rate (MT/s).
    pub fn tck_ns(&self) -> f64 {
        2000.0 / self.data_rate as f64
    }

    /// DRAM clock in kHz (exact: half the data rate).
    pub fn clock_khz(&self) -> u64 {
        self.data_rate as u64 * 500
    }

    /// Bytes of one request (one burst).
    pub fn burst_bytes(&self) -> u64 {
        self.org.burst_bytes()
    }

    /// Peak data bandwidth in GB/s (10^9 B/s): channels x bus bytes x data rate.
    pub fn peak_bandwidth_gbps(&self) -> f64 {
        self.org.channels as f64 * (self.org.bus_width as f64 / 8.0) * self.data_rate as f64
            / 1000.0
    }

    /// Check every field; `Dram::new` calls this.
    pub fn validate(&self) -> Result<()> {
        check("data_rate", self.data_rate, 1, 100_000)?;
        let o = &self.org;
        for (field, v) in [
            ("channels", o.channels),
            ("bank_groups", o.bank_groups),
            ("banks_per_group", o.banks_per_group),
        ] {
            check(field, v, 1, MAX_UNITS)?;
            check_pow2(field, v)?;
        }
        check("ranks", o.ranks, 1, MAX_RANKS)?;
        check_pow2("ranks", o.ranks)?;
        check("rows", o.rows, 1, 1 << 24)?;
        check_pow2("rows", o.rows)?;
        check("burst_length", o.burst_length, 2, 64)?;
        if o.burst_length % 2 != 0 {
            return Err(Error::config(
                "burst_length",
                format!(
                    "{} is odd; a DDR burst has an even number of beats",
                    o.burst_length
                ),
            ));
        }
        check("columns", o.columns, o.burst_length, 1 << 20)?;
        if o.columns % o.burst_length != 0 || !(o.columns / o.burst_length).is_power_of_two() {
            return Err(Error::config(
                "columns",
                format!(
                    "{} must be a power-of-two multiple of burst_length {}",
                    o.columns, o.burst_length
                ),
            ));
        }
        check("bus_width", o.bus_width, 8, 1024)?;
        if o.bus_width % 8 != 0 || !o.bus_width.is_power_of_two() {
            return Err(Error::config(
                "bus_width",
                format!(
                    "{} bits must be a power of two and a whole number of bytes",
                    o.bus_width
                ),
            ));
        }
        check("read_queue", self.read_queue, 1, MAX_QUEUE)?;
        check("write_queue", self.write_queue, 1, MAX_QUEUE)?;
        check("lookahead", self.lookahead, 1, MAX_QUEUE)?;
        let (lo, hi) = (self.write_low_watermark, self.write_high_watermark);
        if !(hi.is_finite() && hi > 0.0 && hi <= 1.0) {
            return Err(Error::config(
                "write_high_watermark",
                format!("{hi} is out of range; it must be a fraction in (0, 1]"),
            ));
        }
        if !(lo.is_finite() && (0.0..hi).contains(&lo)) {
            return Err(Error::config(
                "write_low_watermark",
                format!("{lo} is out of range; it must be a fraction in [0, write_high_watermark)"),
            ));
        }
        let tck = self.tck_ns();
        let t = &self.timing;
        for (name, v) in self.timing_fields() {
            if !(v.ns.is_finite() && v.ns >= 0.0 && v.ns < 1.0e9) {
                return Err(Error::config(
                    name,
                    format!("{} ns is out of range; it must be from 0 to 1e9 ns", v.ns),
                ));
            }
        }
        let c = self.cycles();
        if c.cl < 1 || c.cwl < 1 {
            return Err(Error::config(
                "cl",
                "tCL and tCWL must be at least one cycle",
            ));
        }
        if c.cwl > c.cl + c.bl + 2 {
            return Err(Error::config(
                "cwl",
                format!(
                    "tCWL {} cycles exceeds tCL + burst + 2 = {}",
                    c.cwl,
                    c.cl + c.bl + 2
                ),
            ));
        }
        if c.ccd_s < c.bl || c.ccd_l < c.ccd_s {
            return Err(Error::config(
                "ccd_s",
                format!(
                    "need burst ({}) <= tCCD_S ({}) <= tCCD_L ({})",
                    c.bl, c.ccd_s, c.ccd_l
                ),
            ));
        }
        let p = &self.power;
        if p.device_width == 0 || p.device_width > 1024 {
            return Err(Error::config(
                "power.device_width",
                format!("{} is out of range; 1 to 1024 bits", p.device_width),
            ));
        }
        for (name, v) in p.fields() {
            if !(v.is_finite() && (0.0..1.0e6).contains(&v)) {
                return Err(Error::config(
                    &format!("power.{name}"),
                    format!("{v} must be a finite number >= 0 (mA, V or pJ per bit)"),
                ));
            }
        }
        if self.refresh && c.refi <= c.rfc + c.rp_all + c.ras {
            return Err(Error::config(
                "refi",
                format!(
                    "tREFI ({} cycles at tCK {tck} ns, {} ns) leaves no time between refreshes \
                     (tRFC {} cycles)",
                    c.refi, t.refi.ns, c.rfc
                ),
            ));
        }
        Ok(())
    }

    fn timing_fields(&self) -> [(&'static str, TimingValue); 20] {
        let t = &self.timing;
        [
            ("cl", t.cl),
            ("cwl", t.cwl),
            ("rcd", t.rcd),
            ("rcd_wr", t.rcd_wr),
            ("rp", t.rp),
            ("rp_all", t.rp_all),
            ("ras", t.ras),
            ("rc", t.rc),
            ("rrd_s", t.rrd_s),
            ("rrd_l", t.rrd_l),
            ("faw", t.faw),
            ("ccd_s", t.ccd_s),
            ("ccd_l", t.ccd_l),
            ("wtr_s", t.wtr_s),
            ("wtr_l", t.wtr_l),
            ("rtp", t.rtp),
            ("wr", t.wr),
            ("rfc", t.rfc),
            ("refi", t.refi),
            ("cs", t.cs),
        ]
    }

    /// Every timing parameter in DRAM cycles.
    pub fn cycles(&self) -> TimingCycles {
        let tck = self.tck_ns();
        let t = &self.timing;
        let c = |v: TimingValue| v.cycles(tck);
        TimingCycles {
            bl: (self.org.burst_length / 2) as u64,
            cl: c(t.cl),
            cwl: c(t.cwl),
            rcd: c(t.rcd),
            rcd_wr: c(t.rcd_wr),
            rp: c(t.rp),
            rp_all: c(t.rp_all),
            ras: c(t.ras),
            rc: c(t.rc),
            rrd_s: c(t.rrd_s),
            rrd_l: c(t.rrd_l),
            faw: c(t.faw),
            ccd_s: c(t.ccd_s),
            ccd_l: c(t.ccd_l),
            wtr_s: c(t.wtr_s),
            wtr_l: c(t.wtr_l),
            rtp: c(t.rtp),
            wr: c(t.wr),
            rfc: c(t.rfc),
            refi: c(t.refi),
            cs: c(t.cs),
        }
    }

    /// The constraint table the controller enforces (and the tests check the command log
    /// against). Entries with zero cycles are left out.
    pub fn constraints(&self) -> Vec<Constraint> {
        constraint_table(&self.cycles())
    }
}

/// The constraint table for the given cycle counts (Ramulator 2's DDR4 table, plus tRCD_WR and
/// tRP for all-bank precharge). Data-bus turnaround: RD to WR waits `CL + BL + 2 - CWL` (one
/// cycle of write preamble plus one of bus turnaround); WR to RD waits `CWL + BL + tWTR`.
pub fn constraint_table(c: &TimingCycles) -> Vec<Constraint> {
    use Command::*;
    use Level::*;
    let rd_to_wr = (c.cl + c.bl + 2).saturating_sub(c.cwl);
    let wr_to_pre = c.cwl + c.bl + c.wr;
    // (level, preceding commands, following commands, cycles, sibling ranks, window)
    type Row = (
        Level,
        &'static [Command],
        &'static [Command],
        u64,
        bool,
        u32,
    );
    let rows: Vec<Row> = vec![
        // Channel: the data bus.
        (Channel, &[Rd], &[Rd], c.bl, false, 1),
        (Channel, &[Wr], &[Wr], c.bl, false, 1),
        (Channel, &[Rd], &[Wr], rd_to_wr, false, 1),
        // Rank (any bank group) and rank switching (sibling ranks).
        (Rank, &[Rd], &[Rd], c.ccd_s, false, 1),
        (Rank, &[Wr], &[Wr], c.ccd_s, false, 1),
        (Rank, &[Wr], &[Rd], c.cwl + c.bl + c.wtr_s, false, 1),
        (Rank, &[Rd], &[Rd], c.bl + c.cs, true, 1),
        (Rank, &[Wr], &[Wr], c.bl + c.cs, true, 1),
        (
            Rank,
            &[Rd],
            &[Wr],
            (c.cl + c.bl + c.cs).saturating_sub(c.cwl),
            true,
            1,
        ),
        (
            Rank,
            &[Wr],
            &[Rd],
            (c.cwl + c.bl + c.cs).saturating_sub(c.cl),
            true,
            1,
        ),
        (Rank, &[Rd], &[PreA], c.rtp, false, 1),
        (Rank, &[Wr], &[PreA], wr_to_pre, false, 1),
        (Rank, &[Act], &[Act], c.rrd_s, false, 1),
        (Rank, &[Act], &[Act], c.faw, false, 4),
        (Rank, &[Act], &[PreA], c.ras, false, 1),
        (Rank, &[PreA], &[Act], c.rp_all, false, 1),
        (Rank, &[Act], &[Ref], c.rc, false, 1),
        (Rank, &[Pre], &[Ref], c.rp, false, 1),
        (Rank, &[PreA], &[Ref], c.rp_all, false, 1),
        (Rank, &[Ref], &[Act, PreA, Ref], c.rfc, false, 1),
        // Same bank group.
        (BankGroup, &[Rd], &[Rd], c.ccd_l, false, 1),
        (BankGroup, &[Wr], &[Wr], c.ccd_l, false, 1),
        (BankGroup, &[Wr], &[Rd], c.cwl + c.bl + c.wtr_l, false, 1),
        (BankGroup, &[Act], &[Act], c.rrd_l, false, 1),
        // Same bank.
        (Bank, &[Act], &[Act], c.rc, false, 1),
        (Bank, &[Act], &[Rd], c.rcd, false, 1),
        (Bank, &[Act], &[Wr], c.rcd_wr, false, 1),
        (Bank, &[Act], &[Pre], c.ras, false, 1),
        (Bank, &[Pre], &[Act], c.rp, false, 1),
        (Bank, &[Rd], &[Pre], c.rtp, false, 1),
        (Bank, &[Wr], &[Pre], wr_to_pre, false, 1),
    ];
    let mut out = Vec::new();
    for (level, prevs, nexts, cycles, sibling, window) in rows {
        if cycles == 0 {
            continue;
        }
        for &prev in prevs {
            for &next in nexts {
                out.push(Constraint {
                    level,
                    prev,
                    next,
                    cycles,
                    sibling,
                    window,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_convert_to_jedec_cycles() {
        let c = DramConfig::preset("ddr4-3200").unwrap().cycles();
        assert_eq!(
            (c.cl, c.rcd, c.rp, c.ras, c.rc, c.cwl, c.bl),
            (22, 22, 22, 52, 74, 16, 4)
        );
        assert_eq!(
            (c.rrd_s, c.rrd_l, c.faw, c.ccd_s, c.ccd_l),
            (4, 8, 34, 4, 8)
        );
        assert_eq!((c.wtr_s, c.wtr_l, c.rtp, c.wr), (4, 12, 12, 24));
        assert_eq!((c.rfc, c.refi), (560, 12480));
        let c = DramConfig::preset("DDR4-2400").unwrap().cycles();
        assert_eq!(
            (c.cl, c.rcd, c.rp, c.ras, c.rc, c.cwl),
            (16, 16, 16, 39, 55, 12)
        );
        assert_eq!((c.rrd_s, c.rrd_l, c.faw, c.ccd_l), (4, 6, 26, 6));
        assert_eq!(
            (c.wtr_s, c.wtr_l, c.rtp, c.wr, c.rfc, c.refi),
            (3, 9, 9, 18, 420, 9360)
        );
        let c = DramConfig::preset("lpddr4-3200").unwrap().cycles();
        assert_eq!(
            (c.cl, c.rcd, c.rp, c.rp_all, c.ras, c.rc),
            (28, 29, 29, 34, 68, 96)
        );
        assert_eq!(
            (c.bl, c.ccd_s, c.rrd_s, c.faw, c.refi),
            (8, 8, 16, 64, 6247)
        );
        let c = DramConfig::preset("hbm2").unwrap().cycles();
        assert_eq!(
            (c.cl, c.rcd, c.rcd_wr, c.rp, c.ras, c.rc),
            (18, 12, 6, 14, 28, 42)
        );
        assert_eq!((c.bl, c.ccd_s, c.ccd_l, c.faw, c.refi), (2, 2, 3, 16, 3900));
    }

    #[test]
    fn peak_bandwidth_and_bursts() {
        let gb = |n: &str| DramConfig::preset(n).unwrap().peak_bandwidth_gbps();
        assert_eq!(gb("ddr4-2400"), 19.2);
        assert_eq!(gb("ddr4-3200"), 25.6);
        assert_eq!(gb("lpddr4-3200"), 12.8);
        assert_eq!(gb("hbm2"), 256.0);
        let bb = |n: &str| DramConfig::preset(n).unwrap().burst_bytes();
        assert_eq!(
            (bb("ddr4-3200"), bb("lpddr4-3200"), bb("hbm2")),
            (64, 32, 32)
        );
        let d = DramConfig::preset("ddr4-3200").unwrap();
        assert_eq!(d.org.capacity_bytes(), 8 << 30);
        assert_eq!(
            DramConfig::preset("hbm2").unwrap().org.capacity_bytes(),
            4 << 30
        );
        for p in DramPreset::ALL {
            DramConfig::from_preset(*p).validate().unwrap();
        }
    }

    #[test]
    fn unknown_names_list_the_choices() {
        let err = DramConfig::preset("ddr5").unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, Error::Config { field, .. } if field == "dram"),
            "{msg}"
        );
        assert!(
            msg.contains("ddr4-2400, ddr4-3200, lpddr4-3200, hbm2"),
            "{msg}"
        );
        let err = DramConfig::preset("hbm2")
            .unwrap()
            .with_mapping("RoCh")
            .unwrap_err();
        assert!(matches!(&err, Error::Config { field, .. } if field == "mapping"));
        assert!(err.to_string().contains("RoBaRaCoCh"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let base = DramConfig::preset("ddr4-3200").unwrap();
        let cases: Vec<(&str, DramConfig)> = vec![
            ("read_queue", base.clone().with_queues(0, 8)),
            ("write_queue", base.clone().with_queues(8, 0)),
            ("lookahead", base.clone().with_lookahead(0)),
            ("banks_per_group", {
                let mut c = base.clone();
                c.org.banks_per_group = 3;
                c
            }),
            ("write_low_watermark", {
                let mut c = base.clone();
                c.write_low_watermark = 0.9;
                c
            }),
            ("refi", {
                let mut c = base.clone();
                c.timing.refi = TimingValue::ns(100.0);
                c
            }),
            ("rcd", {
                let mut c = base.clone();
                c.timing.rcd = TimingValue::ns(f64::NAN);
                c
            }),
        ];
        for (field, cfg) in cases {
            let err = cfg.validate().unwrap_err();
            assert!(
                matches!(&err, Error::Config { field: f, .. } if f == field),
                "{field}: {err}"
            );
        }
    }

    #[test]
    fn table_has_no_zero_rows_and_scopes_match() {
        for p in DramPreset::ALL {
            for c in DramConfig::from_preset(*p).constraints() {
                assert!(c.cycles > 0);
                // A rank-wide command is only constrained at channel or rank level.
                if c.prev.scope() == Level::Rank || c.next.scope() == Level::Rank {
                    assert!(c.level <= Level::Rank, "{c:?}");
                }
            }
        }
    }
}
