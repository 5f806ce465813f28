//! Traces of scheduled network runs (docs/trace.md, "Scheduled runs"): the same results as an
//! untraced run, and what the trace shows adds up to the run's statistics.

mod common;
use common::Lcg;

use std::collections::HashMap;

use accelsim_core::dram::DramConfig;
use accelsim_core::memory::schedule::{
    simulate_network, simulate_network_traced, NetworkRun, PlannedLayer, ScheduleOptions,
};
use accelsim_core::memory::{
    choose_tiling, BufferConfig, ConvGeometry, DramModel, LayerResult, MemoryConfig,
};
use accelsim_core::timing::never_cancel;
use accelsim_core::trace::{Clock, Trace, TraceConfig};
use accelsim_core::{ArrayConfig, Dataflow, Gemm};

/// A statistic of a layer.
type Stat = fn(&LayerResult) -> u64;

fn mem(rng: &mut Lcg, cycle_dram: bool, double: bool) -> MemoryConfig {
    let buf = |size: u64, word: u32| BufferConfig {
        double_buffered: double,
        ..BufferConfig::new(size, word)
    };
    let dram = if cycle_dram {
        DramModel::Cycle {
            config: Box::new(DramConfig::preset("ddr4-3200").unwrap()),
            freq_mhz: [700.0, 1000.0][rng.range(0, 1) as usize],
        }
    } else {
        DramModel::Bandwidth {
            bytes_per_cycle: [1.0, 3.0, 16.0][rng.range(0, 2) as usize],
            latency: rng.range(0, 40),
        }
    };
    MemoryConfig {
        ifmap: buf(4096, 1),
        filter: buf(2048, 1),
        ofmap: buf(8192, 4),
        accumulator: rng.coin(),
        dram,
        ..MemoryConfig::default()
    }
}

/// 8x8 images, 3x3 convolutions: 4 -> 8 -> 8 -> 16 channels, and a GEMM.
fn plan(array: &ArrayConfig, mem: &MemoryConfig, on_chip: bool) -> Vec<PlannedLayer> {
    let conv = |c: u64| ConvGeometry {
        images: 1,
        c,
        h: 8,
        w: 8,
        p: 8,
        q: 8,
        r: 3,
        s: 3,
        stride: (1, 1),
        pad: (1, 1),
        dilation: (1, 1),
    };
    let mut layers: Vec<(Gemm, Option<ConvGeometry>)> = [(4, 8), (8, 8), (8, 16)]
        .iter()
        .map(|&(c, k)| (Gemm::new(64, c * 9, k, 1).unwrap(), Some(conv(c))))
        .collect();
    layers.push((Gemm::new(64, 16, 10, 1).unwrap(), None));
    layers
        .into_iter()
        .enumerate()
        .map(|(i, (g, c))| PlannedLayer {
            gemm: g,
            conv: c,
            tiling: choose_tiling(&g, array, mem).unwrap(),
            dataflow: array.dataflow(),
            input_on_chip: on_chip && i > 0 && c.is_some(),
        })
        .collect()
}

fn same(a: &NetworkRun, b: &NetworkRun) {
    assert_eq!(a.cycles, b.cycles);
    assert_eq!(a.dram, b.dram);
    for (x, y) in a.layers.iter().zip(&b.layers) {
        assert_eq!(x.result.array, y.result.array);
        assert_eq!(x.result.mem, y.result.mem);
        assert_eq!((x.start, x.end), (y.start, y.end));
        assert_eq!((x.array_start, x.array_end), (y.array_start, y.array_end));
    }
}

/// Global accelerator cycles of slice `i`: start and end (DRAM tracks converted).
fn global(t: &Trace, i: usize) -> (f64, f64) {
    let s = &t.slices;
    let base = t.layers[s.layer[i] as usize].start as f64;
    let scale = match t.tracks[s.track[i] as usize].clock {
        Clock::Acc => 1.0,
        Clock::Dram => t.acc_khz as f64 / t.dram_khz as f64,
    };
    let start = base + s.start[i] as f64 * scale;
    (start, start + s.dur[i] as f64 * scale)
}

/// Per (thread prefix, name): slices, duration, first argument, last argument.
fn totals(t: &Trace, prefix: &str, name: &str) -> (u64, u64, i64, i64) {
    let s = &t.slices;
    let mut out = (0, 0, 0, 0);
    for i in 0..s.track.len() {
        if t.tracks[s.track[i] as usize].thread.starts_with(prefix)
            && t.names[s.name[i] as usize] == name
        {
            out.0 += 1;
            out.1 += s.dur[i];
            out.2 += s.args[0][i];
            out.3 += s.args[3][i];
        }
    }
    out
}

/// No two slices on a track overlap, in the run's time (the DRAM's tracks in its clock).
fn no_overlap(t: &Trace) {
    let s = &t.slices;
    let mut by: HashMap<(u32, u32), Vec<(u64, u64)>> = HashMap::new();
    for i in 0..s.track.len() {
        let track = s.track[i];
        // a DRAM clock per trace layer that has one (the run's first layer, or each layer
        // run alone)
        let (key, a, b) = match t.tracks[track as usize].clock {
            Clock::Acc => {
                let base = t.layers[s.layer[i] as usize].start;
                ((track, 0), base + s.start[i], base + s.start[i] + s.dur[i])
            }
            Clock::Dram => ((track, s.layer[i]), s.start[i], s.start[i] + s.dur[i]),
        };
        by.entry(key).or_default().push((a, b));
    }
    for ((track, _), mut v) in by {
        v.sort_unstable();
        for w in v.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "{}: {:?} overlaps {:?}",
                t.tracks[track as usize].thread,
                w[0],
                w[1]
            );
        }
    }
}

/// Buffer occupancy: in time order per half, between 0 and the half's size, ending at 0.
fn occupancy(t: &Trace, mem: &MemoryConfig, what: &str) {
    let c = &t.counters;
    let mut by: HashMap<u32, Vec<(u64, f64)>> = HashMap::new();
    for i in 0..c.track.len() {
        let g = t.layers[c.layer[i] as usize].start + c.time[i];
        by.entry(c.track[i]).or_default().push((g, c.value[i]));
    }
    assert!(!by.is_empty(), "{what}: no occupancy");
    for (track, v) in by {
        let tr = &t.tracks[track as usize];
        assert_eq!(tr.process, "buffers");
        let buf = match tr.thread.split(',').next().unwrap() {
            "ifmap" => mem.ifmap,
            "filter" => mem.filter,
            _ => mem.ofmap,
        };
        let half = if buf.double_buffered {
            buf.size_bytes / 2
        } else {
            buf.size_bytes
        };
        for w in v.windows(2) {
            assert!(w[0].0 <= w[1].0, "{what}: {} out of order", tr.thread);
        }
        for &(_, x) in &v {
            assert!(
                (0.0..=half as f64).contains(&x),
                "{what}: {} holds {x}",
                tr.thread
            );
        }
        assert_eq!(v.last().unwrap().1, 0.0, "{what}: {} ends full", tr.thread);
    }
}

#[test]
fn a_traced_schedule_adds_up_to_its_statistics() {
    let mut rng = Lcg(11);
    let mut cases = 0;
    for df in Dataflow::ALL {
        for cycle_dram in [false, true] {
            for on_chip in [false, true] {
                for overlap in [true, false] {
                    if on_chip && !overlap {
                        continue;
                    }
                    let double = rng.coin();
                    let array = ArrayConfig::square_default(4, 4, *df).unwrap();
                    let mem = mem(&mut rng, cycle_dram, double);
                    let p = plan(&array, &mem, on_chip);
                    let opts = ScheduleOptions {
                        overlap,
                        write_through: false,
                    };
                    let what = format!(
                        "{df:?} dram {cycle_dram} on chip {on_chip} overlap {overlap} double {double}"
                    );
                    let plain = simulate_network(&array, &mem, &p, opts, &never_cancel).unwrap();
                    let mut t = Trace::new(TraceConfig::default()).unwrap();
                    let traced = simulate_network_traced(
                        &array,
                        &mem,
                        &p,
                        opts,
                        &never_cancel,
                        Some(&mut t),
                    )
                    .unwrap();
                    t.finish();
                    same(&plain, &traced);
                    cases += 1;
                    assert_eq!(t.shifted, 0, "{what}");
                    assert_eq!(t.dropped, 0, "{what}");
                    // one trace layer per network layer, their spans the run's shares
                    assert_eq!(t.layers.len(), p.len(), "{what}");
                    for (span, l) in t.layers.iter().zip(&plain.layers) {
                        assert_eq!(span.start, l.start, "{what}");
                        assert_eq!(span.cycles, l.result.array.cycles, "{what}");
                    }
                    no_overlap(&t);
                    for i in 0..t.slices.track.len() {
                        let (a, b) = global(&t, i);
                        assert!(
                            a >= 0.0 && b <= plain.cycles as f64 + 1e-9,
                            "{what}: slice {i} at {a}..{b} outside 0..{}",
                            plain.cycles
                        );
                    }
                    let sum = |f: &dyn Fn(&LayerResult) -> u64| -> u64 {
                        plain.layers.iter().map(|l| f(&l.result)).sum()
                    };
                    occupancy(&t, &mem, &what);
                    // one stream slice per fold; their MACs are the network's
                    let stream = totals(&t, "stream", "fold");
                    assert_eq!(stream.0, sum(&|r| r.array.folds), "{what}");
                    assert_eq!(stream.3 as u64, sum(&|r| r.array.macs), "{what}");
                    if *df != Dataflow::Os {
                        let load = totals(&t, "stationary load", "load");
                        assert_eq!(load.0, sum(&|r| r.array.folds), "{what}");
                    }
                    // stalls by cause
                    let causes: [(&str, Stat); 4] = [
                        ("ifmap", |r| r.mem.stall_ifmap_cycles),
                        ("filter", |r| r.mem.stall_filter_cycles),
                        ("ofmap", |r| r.mem.stall_ofmap_cycles),
                        ("bank", |r| r.mem.stall_bank_cycles),
                    ];
                    for (name, f) in causes {
                        assert_eq!(
                            totals(&t, "stalls", name).1,
                            sum(&f),
                            "{what}: {name} stalls"
                        );
                    }
                    // DMA bytes per operand
                    let bytes = |prefix: &str, name: &str| totals(&t, prefix, name).2 as u64;
                    assert_eq!(
                        bytes("ifmap load", "ifmap load"),
                        sum(&|r| r.mem.dram_ifmap_bytes),
                        "{what}"
                    );
                    assert_eq!(
                        bytes("filter load", "filter load"),
                        sum(&|r| r.mem.dram_filter_bytes),
                        "{what}"
                    );
                    assert_eq!(
                        bytes("ofmap", "ofmap write-back"),
                        sum(&|r| r.mem.dram_ofmap_bytes),
                        "{what}"
                    );
                    assert_eq!(
                        bytes("ofmap", "psum spill"),
                        sum(&|r| r.mem.dram_psum_write_bytes),
                        "{what}"
                    );
                    assert_eq!(
                        bytes("ofmap", "psum read-back"),
                        sum(&|r| r.mem.dram_psum_read_bytes),
                        "{what}"
                    );
                    if cycle_dram {
                        let stats = match &plain.dram {
                            Some(d) => *d,
                            None => continue,
                        };
                        let rd = totals(&t, "ch", "RD").0;
                        let wr = totals(&t, "ch", "WR").0;
                        assert_eq!(rd, stats.reads, "{what}");
                        assert_eq!(wr, stats.writes, "{what}");
                    } else {
                        let busy =
                            totals(&t, "interface", "read").1 + totals(&t, "interface", "write").1;
                        assert_eq!(busy, sum(&|r| r.mem.dram_busy_cycles), "{what}");
                    }
                }
            }
        }
    }
    assert!(cases >= 18);
}

#[test]
fn window_and_cap_bound_a_scheduled_trace() {
    let array = ArrayConfig::square_default(4, 4, Dataflow::Ws).unwrap();
    let mut rng = Lcg(3);
    let mem = mem(&mut rng, true, true);
    let p = plan(&array, &mem, true);
    let opts = ScheduleOptions::default();
    let run = simulate_network(&array, &mem, &p, opts, &never_cancel).unwrap();
    let (w0, w1) = (run.cycles / 3, run.cycles / 2);
    let cfg = TraceConfig {
        window: (w0, w1),
        ..Default::default()
    };
    let mut t = Trace::new(cfg).unwrap();
    let r = simulate_network_traced(&array, &mem, &p, opts, &never_cancel, Some(&mut t)).unwrap();
    t.finish();
    same(&run, &r);
    assert!(t.events() > 0);
    for i in 0..t.slices.track.len() {
        let (a, b) = global(&t, i);
        assert!(
            a + 1.0 >= w0 as f64 && b <= w1 as f64 + 1.0,
            "{a}..{b} outside the window"
        );
    }
    let mut full = Trace::new(TraceConfig::default()).unwrap();
    simulate_network_traced(&array, &mem, &p, opts, &never_cancel, Some(&mut full)).unwrap();
    full.finish();
    let cap = full.events() / 4;
    let cfg = TraceConfig {
        max_events: cap,
        ..Default::default()
    };
    let mut t = Trace::new(cfg).unwrap();
    simulate_network_traced(&array, &mem, &p, opts, &never_cancel, Some(&mut t)).unwrap();
    t.finish();
    assert!(t.events() <= cap && t.events() > 0);
    let cut = t.complete_until.expect("events were dropped");
    assert!(t.dropped > 0);
    for i in 0..t.slices.track.len() {
        assert!(global(&t, i).0 < cut as f64 + 1.0);
    }
    assert_eq!(t.shifted, 0);
}
