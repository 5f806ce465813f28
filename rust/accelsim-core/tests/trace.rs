//! Traces are observers: a traced run gives the same results as an untraced one, and what the
//! trace shows adds up to the statistics (busy time per unit, stalls per cause, bytes per
//! operand, DRAM commands per kind); slices on one track never overlap and stay inside their
//! layer; the window and the event cap are respected.

mod common;
use common::Lcg;

use std::collections::HashMap;

use accelsim_core::dram::DramConfig;
use accelsim_core::memory::{
    simulate_conv_layer, simulate_conv_layer_traced, BufferConfig, ConvGeometry, DramModel,
    LayerResult, MemoryConfig,
};
use accelsim_core::timing::never_cancel;
use accelsim_core::trace::{Category, Clock, Trace, TraceConfig};
use accelsim_core::{simulate_traced, ArrayConfig, Dataflow, Gemm};

fn buffers(rng: &mut Lcg, m: MemoryConfig) -> MemoryConfig {
    let double = rng.range(0, 1) == 1;
    let buf = |size: u64, word| BufferConfig {
        double_buffered: double,
        ..BufferConfig::new(size, word)
    };
    MemoryConfig {
        ifmap: buf(rng.range(2, 16) << 10, 1),
        filter: buf(rng.range(2, 16) << 10, 1),
        ofmap: buf(rng.range(8, 32) << 10, 4),
        accumulator: rng.range(0, 1) == 1,
        ..m
    }
}

fn bandwidth(rng: &mut Lcg) -> DramModel {
    DramModel::Bandwidth {
        bytes_per_cycle: [1.0, 4.0, 16.0][rng.range(0, 2) as usize],
        latency: rng.range(0, 60),
    }
}

fn ddr4(refresh: bool) -> DramModel {
    dram("ddr4-3200", refresh, 1000.0)
}

fn dram(preset: &str, refresh: bool, freq_mhz: f64) -> DramModel {
    DramModel::Cycle {
        config: Box::new(DramConfig::preset(preset).unwrap().with_refresh(refresh)),
        freq_mhz,
    }
}

/// Global accelerator cycle a slice starts in (DRAM times rounded down).
fn global_start(t: &Trace, i: usize) -> u64 {
    let s = &t.slices;
    let base = t.layers[s.layer[i] as usize].start;
    match t.tracks[s.track[i] as usize].clock {
        Clock::Acc => base + s.start[i],
        Clock::Dram => base + (s.start[i] as u128 * t.acc_khz as u128 / t.dram_khz as u128) as u64,
    }
}

/// A random GEMM, or a random convolution with its GEMM.
fn layer(rng: &mut Lcg) -> (Gemm, Option<ConvGeometry>) {
    if rng.range(0, 1) == 0 {
        let g = Gemm::new(rng.range(1, 200), rng.range(1, 200), rng.range(1, 200), 1).unwrap();
        return (g, None);
    }
    let (c, k, h, r) = (
        rng.range(1, 24),
        rng.range(1, 40),
        rng.range(4, 14),
        rng.range(1, 3),
    );
    let stride = rng.range(1, 2);
    let pad = rng.range(0, r - 1);
    let p = (h + 2 * pad - r) / stride + 1;
    let conv = ConvGeometry {
        images: 1,
        c,
        h,
        w: h,
        p,
        q: p,
        r,
        s: r,
        stride: (stride, stride),
        pad: (pad, pad),
        dilation: (1, 1),
    };
    (Gemm::new(p * p, c * r * r, k, 1).unwrap(), Some(conv))
}

/// Sum of slice durations and of the first argument, per (thread, name).
fn sums(t: &Trace) -> HashMap<(String, String), (u64, i64, u64)> {
    let mut out: HashMap<(String, String), (u64, i64, u64)> = HashMap::new();
    let s = &t.slices;
    for i in 0..s.track.len() {
        let key = (
            t.tracks[s.track[i] as usize].thread.clone(),
            t.names[s.name[i] as usize].clone(),
        );
        let e = out.entry(key).or_default();
        e.0 += s.dur[i];
        e.1 += s.args[0][i];
        e.2 += 1;
    }
    out
}

fn total(t: &Trace, thread_prefix: &str, name: &str) -> (u64, i64, u64) {
    sums(t)
        .iter()
        .filter(|((th, n), _)| th.starts_with(thread_prefix) && n == name)
        .fold((0, 0, 0), |a, (_, v)| (a.0 + v.0, a.1 + v.1, a.2 + v.2))
}

/// Slices on one track in one layer do not overlap and lie inside the layer.
fn check_tracks(t: &Trace) {
    let s = &t.slices;
    let mut by_track: HashMap<(u32, u32), Vec<(u64, u64)>> = HashMap::new();
    for i in 0..s.track.len() {
        by_track
            .entry((s.track[i], s.layer[i]))
            .or_default()
            .push((s.start[i], s.start[i] + s.dur[i]));
    }
    for ((track, layer), mut v) in by_track {
        let tr = &t.tracks[track as usize];
        let cycles = t.layers[layer as usize].cycles;
        let end = match tr.clock {
            Clock::Acc => cycles,
            // the DRAM clock may run faster: its cycles within the layer's time
            Clock::Dram => (cycles as u128 * t.dram_khz as u128 / t.acc_khz as u128) as u64,
        };
        v.sort_unstable();
        for w in v.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "{}: {:?} overlaps {:?}",
                tr.thread,
                w[0],
                w[1]
            );
        }
        assert!(
            v.last().unwrap().1 <= end,
            "{} ends past its layer",
            tr.thread
        );
    }
}

fn same_results(a: &LayerResult, b: &LayerResult) {
    assert_eq!(a.array, b.array);
    assert_eq!(a.mem, b.mem);
    assert_eq!(a.dram, b.dram);
}

#[test]
fn a_traced_layer_adds_up_to_its_statistics() {
    let mut rng = Lcg(41);
    for case in 0..240 {
        let (g, conv) = layer(&mut rng);
        let df = Dataflow::ALL[rng.range(0, 2) as usize];
        let array =
            ArrayConfig::square_default(rng.range(2, 16) as u32, rng.range(2, 16) as u32, df)
                .unwrap();
        let dram_model = match case % 6 {
            0 => ddr4(false),
            3 => dram(
                ["hbm2", "lpddr4-3200", "ddr4-2400"][rng.range(0, 2) as usize],
                false,
                1000.0,
            ),
            _ => bandwidth(&mut rng),
        };
        let m = buffers(
            &mut rng,
            MemoryConfig {
                dram: dram_model,
                ..MemoryConfig::default()
            },
        );
        let plain =
            match simulate_conv_layer(&array, &m, &g, conv.as_ref(), None, false, &never_cancel) {
                Ok(r) => r,
                Err(_) => continue, // a layer these buffers cannot hold
            };
        let mut t = Trace::new(TraceConfig::default()).unwrap();
        let r = simulate_conv_layer_traced(
            &array,
            &m,
            &g,
            conv.as_ref(),
            None,
            false,
            &never_cancel,
            Some(&mut t),
        )
        .unwrap();
        t.finish();
        same_results(&plain, &r);
        check_tracks(&t);
        assert_eq!(
            t.shifted, 0,
            "a slice started before the previous one on its track ended"
        );
        assert_eq!(t.layers.len(), 1);
        assert_eq!(t.layers[0].cycles, r.array.cycles);
        let why = format!("case {case}: {g:?} {df} {:?}", m.dram);
        // The array: stream and load busy time at full rate (banks: 0 = never a conflict).
        let stream = total(&t, "stream", "fold");
        assert_eq!(stream.2, r.array.folds, "{why}");
        if df != Dataflow::Os {
            assert_eq!(stream.0, r.array.stream_vectors, "{why}");
            assert_eq!(
                total(&t, "stationary load", "load").0,
                r.array.stationary_load_cycles,
                "{why}"
            );
        }
        // Stalls, by cause.
        for (cause, stat) in [
            ("ifmap", r.mem.stall_ifmap_cycles),
            ("filter", r.mem.stall_filter_cycles),
            ("ofmap", r.mem.stall_ofmap_cycles),
            ("bank", r.mem.stall_bank_cycles),
        ] {
            assert_eq!(total(&t, "stalls", cause).0, stat, "{why}: {cause} stalls");
        }
        // Bytes per operand.
        assert_eq!(
            total(&t, "ifmap load", "ifmap load").1 as u64,
            r.mem.dram_ifmap_bytes,
            "{why}"
        );
        assert_eq!(
            total(&t, "filter load", "filter load").1 as u64,
            r.mem.dram_filter_bytes,
            "{why}"
        );
        assert_eq!(
            total(&t, "ofmap", "ofmap write-back").1 as u64,
            r.mem.dram_ofmap_bytes,
            "{why}"
        );
        assert_eq!(
            total(&t, "ofmap", "psum spill").1 as u64,
            r.mem.dram_psum_write_bytes,
            "{why}"
        );
        assert_eq!(
            total(&t, "ofmap", "psum read-back").1 as u64,
            r.mem.dram_psum_read_bytes,
            "{why}"
        );
        // The DRAM.
        match &r.dram {
            None => assert_eq!(
                total(&t, "interface", "read").0 + total(&t, "interface", "write").0,
                r.mem.dram_busy_cycles,
                "{why}"
            ),
            Some(d) => {
                assert_eq!(total(&t, "ch", "RD").2, d.reads, "{why}");
                assert_eq!(total(&t, "ch", "WR").2, d.writes, "{why}");
                assert_eq!(total(&t, "ch", "ACT").2, d.activates, "{why}");
                assert_eq!(total(&t, "ch", "PRE").2, d.precharges, "{why}");
            }
        }
        // Each buffer half holds at most its share of the buffer, in time order, and ends
        // empty; every buffer has its counters.
        let c = &t.counters;
        for (op, buf) in [("ifmap", m.ifmap), ("filter", m.filter), ("ofmap", m.ofmap)] {
            let halves = if buf.double_buffered { 2 } else { 1 };
            let half = (buf.size_bytes / halves) as f64;
            let tracks: Vec<usize> = (0..t.tracks.len())
                .filter(|&k| t.tracks[k].counter && t.tracks[k].thread.starts_with(op))
                .collect();
            assert_eq!(
                tracks.len(),
                halves as usize,
                "{why}: {op} occupancy tracks"
            );
            for k in tracks {
                let samples: Vec<(u64, f64)> = (0..c.track.len())
                    .filter(|&i| c.track[i] as usize == k)
                    .map(|i| (c.time[i], c.value[i]))
                    .collect();
                let name = &t.tracks[k].thread;
                if samples.is_empty() {
                    continue; // a half never used (one tile)
                }
                assert!(
                    samples.iter().all(|&(_, v)| (0.0..=half).contains(&v)),
                    "{why}: {name} {samples:?}"
                );
                assert!(
                    samples.windows(2).all(|w| w[0].0 <= w[1].0),
                    "{why}: {name} out of order"
                );
                assert_eq!(
                    samples.last().unwrap().1,
                    0.0,
                    "{why}: {name} ends holding data"
                );
            }
        }
    }
}

#[test]
fn refresh_appears_on_the_rank_track() {
    let g = Gemm::new(512, 512, 512, 1).unwrap();
    let array = ArrayConfig::square_default(16, 16, Dataflow::Ws).unwrap();
    let m = MemoryConfig {
        dram: ddr4(true),
        ..MemoryConfig::default()
    };
    let mut t = Trace::new(TraceConfig::default()).unwrap();
    let r = simulate_conv_layer_traced(
        &array,
        &m,
        &g,
        None,
        None,
        false,
        &never_cancel,
        Some(&mut t),
    )
    .unwrap();
    let d = r.dram.unwrap();
    assert!(d.refreshes > 0);
    assert_eq!(total(&t, "ch0 refresh", "REF").2, d.refreshes);
    check_tracks(&t);
}

#[test]
fn window_categories_and_cap_bound_the_trace() {
    let g = Gemm::new(300, 300, 300, 1).unwrap();
    let array = ArrayConfig::square_default(8, 8, Dataflow::Ws).unwrap();
    let m = MemoryConfig {
        dram: dram("ddr4-3200", false, 700.0),
        ..MemoryConfig::default()
    };
    let run = |cfg: TraceConfig| {
        let mut t = Trace::new(cfg).unwrap();
        simulate_conv_layer_traced(
            &array,
            &m,
            &g,
            None,
            None,
            false,
            &never_cancel,
            Some(&mut t),
        )
        .unwrap();
        simulate_conv_layer_traced(
            &array,
            &m,
            &g,
            None,
            None,
            false,
            &never_cancel,
            Some(&mut t),
        )
        .unwrap();
        t.finish();
        t
    };
    let full = run(TraceConfig::default());
    assert!(full.dropped == 0 && full.complete_until.is_none());
    let len = full.layers[0].cycles;
    assert_eq!(full.layers[1].start, len);
    // A window across the two layers keeps only what overlaps it, cut at its edges.
    let (w0, w1) = (len / 2, len + len / 3);
    let win = run(TraceConfig {
        window: (w0, w1),
        ..Default::default()
    });
    assert!(win.events() > 0 && win.events() < full.events());
    // counter samples inside the window too
    let c = &win.counters;
    for i in 0..c.track.len() {
        let g = win.layers[c.layer[i] as usize].start + c.time[i];
        assert!((w0..=w1).contains(&g), "counter at {g} outside {w0}..{w1}");
    }
    // a window that starts after the first layer: nothing of it
    let late = run(TraceConfig {
        window: (len + 10, len + 20),
        ..Default::default()
    });
    assert!(late.slices.layer.iter().all(|&l| l == 1));
    assert!(late.counters.layer.iter().all(|&l| l == 1));
    for i in 0..win.slices.track.len() {
        if win.tracks[win.slices.track[i] as usize].clock == Clock::Acc {
            let start = win.layers[win.slices.layer[i] as usize].start + win.slices.start[i];
            assert!(start >= w0 && start + win.slices.dur[i] <= w1);
        }
    }
    // One category only.
    let dma = run(TraceConfig::default().with_categories(&[Category::Dma]));
    assert!(dma.events() > 0);
    assert!(dma.tracks.iter().all(|t| t.category == Category::Dma
        || dma
            .slices
            .track
            .iter()
            .all(|&s| dma.tracks[s as usize].category == Category::Dma)));
    // The cap: at most that many events, and everything before the cut is there.
    let cap = full.events() / 3;
    let capped = run(TraceConfig {
        max_events: cap,
        ..Default::default()
    });
    assert!(capped.events() <= cap && capped.dropped > 0);
    let before = |t: &Trace, cut: u64| {
        (0..t.slices.track.len())
            .filter(|&i| global_start(t, i) < cut)
            .count()
    };
    // Every cap, on every clock: what starts before the cut is all there.
    for cap in [1, 7, 100, 1000, full.events() / 3, full.events() / 2] {
        let capped = run(TraceConfig {
            max_events: cap,
            ..Default::default()
        });
        assert!(capped.events() <= cap && capped.dropped > 0);
        let cut = capped.complete_until.unwrap();
        assert_eq!(before(&capped, cut), before(&full, cut), "cap {cap}");
        // events are recorded nearly in time order, so the cut keeps most of the budget
        if cap >= 1000 {
            assert!(
                capped.events() * 10 >= cap * 9,
                "cap {cap} kept only {}",
                capped.events()
            );
        }
    }
}

#[test]
fn ideal_memory_traces_the_array_alone() {
    let mut rng = Lcg(5);
    for _ in 0..50 {
        let g = Gemm::new(
            rng.range(1, 100),
            rng.range(1, 100),
            rng.range(1, 100),
            rng.range(1, 3),
        )
        .unwrap();
        let df = Dataflow::ALL[rng.range(0, 2) as usize];
        let array =
            ArrayConfig::square_default(rng.range(1, 12) as u32, rng.range(1, 12) as u32, df)
                .unwrap();
        let mut t = Trace::new(TraceConfig::default()).unwrap();
        let st = simulate_traced(&array, &g, &never_cancel, &mut t).unwrap();
        check_tracks(&t);
        let stream = total(&t, "stream", "fold");
        assert_eq!(stream.2, st.folds);
        let macs: i64 = (0..t.slices.track.len())
            .filter(|&i| t.tracks[t.slices.track[i] as usize].thread == "stream")
            .map(|i| t.slices.args[3][i])
            .sum();
        assert_eq!(macs as u64, st.macs);
        if df != Dataflow::Os {
            assert_eq!(stream.0, st.stream_vectors);
            assert_eq!(
                total(&t, "stationary load", "load").0,
                st.stationary_load_cycles
            );
        }
    }
}
