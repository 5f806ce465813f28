//! The search's evaluator on ResNet-18's layer shapes (32x32 WS, the bandwidth DRAM model): a
//! profiling harness (`valgrind --tool=callgrind target/release/examples/search_eval search`).
//!
//!     cargo run --release -p accelsim-core --example search_eval -- search [KIB] [REPEAT]
//!     cargo run --release -p accelsim-core --example search_eval -- search-no-memo [KIB] [REPEAT]
//!     cargo run --release -p accelsim-core --example search_eval -- dump [KIB] > scores.txt
//!
//! `search`: every distinct layer shape searched exhaustively on one thread, the candidates the
//! search scores per second (the evaluator's own time), per shape and overall, best of REPEAT.
//! `search-no-memo`: the same with the evaluator's pass memo off (every tile stepped).
//! `typical`: every shape's default tiling scored by a fresh evaluator, per second.
//! `typical-search`: the same scored within one search (one evaluator for all shapes), as
//! bench_search.py's "default tiling" line measures it.
//! `dump`: every candidate of every shape's space scored, one line each (for comparing builds:
//! the scores must not change).

use accelsim_core::memory::{ConvGeometry, MemoryConfig};
use accelsim_core::search::eval::{Evaluator, LayerShape};
use accelsim_core::search::{search_layers, SearchOptions, Space, StrategyKind};
use accelsim_core::timing::never_cancel;
use accelsim_core::{ArrayConfig, Dataflow, Gemm};
use std::time::Instant;

fn conv(v: [u64; 14]) -> ConvGeometry {
    ConvGeometry {
        images: v[0],
        c: v[1],
        h: v[2],
        w: v[3],
        p: v[4],
        q: v[5],
        r: v[6],
        s: v[7],
        stride: (v[8], v[9]),
        pad: (v[10], v[11]),
        dilation: (v[12], v[13]),
    }
}

/// ResNet-18's distinct layer shapes (name, M, K, N, convolution).
fn resnet18() -> Vec<(&'static str, LayerShape)> {
    let c = |m, k, n, g: Option<[u64; 14]>| LayerShape {
        gemm: Gemm { m, k, n, groups: 1 },
        conv: g.map(conv),
    };
    vec![
        (
            "conv1",
            c(
                12544,
                147,
                64,
                Some([1, 3, 224, 224, 112, 112, 7, 7, 2, 2, 3, 3, 1, 1]),
            ),
        ),
        (
            "layer1.0.conv1",
            c(
                3136,
                576,
                64,
                Some([1, 64, 56, 56, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1]),
            ),
        ),
        (
            "layer2.0.conv1",
            c(
                784,
                576,
                128,
                Some([1, 64, 56, 56, 28, 28, 3, 3, 2, 2, 1, 1, 1, 1]),
            ),
        ),
        (
            "layer2.0.conv2",
            c(
                784,
                1152,
                128,
                Some([1, 128, 28, 28, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1]),
            ),
        ),
        (
            "layer2.0.downsample.0",
            c(
                784,
                64,
                128,
                Some([1, 64, 56, 56, 28, 28, 1, 1, 2, 2, 0, 0, 1, 1]),
            ),
        ),
        (
            "layer3.0.conv1",
            c(
                196,
                1152,
                256,
                Some([1, 128, 28, 28, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1]),
            ),
        ),
        (
            "layer3.0.conv2",
            c(
                196,
                2304,
                256,
                Some([1, 256, 14, 14, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1]),
            ),
        ),
        (
            "layer3.0.downsample.0",
            c(
                196,
                128,
                256,
                Some([1, 128, 28, 28, 14, 14, 1, 1, 2, 2, 0, 0, 1, 1]),
            ),
        ),
        (
            "layer4.0.conv1",
            c(
                49,
                2304,
                512,
                Some([1, 256, 14, 14, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1]),
            ),
        ),
        (
            "layer4.0.conv2",
            c(
                49,
                4608,
                512,
                Some([1, 512, 7, 7, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1]),
            ),
        ),
        (
            "layer4.0.downsample.0",
            c(
                49,
                256,
                512,
                Some([1, 256, 14, 14, 7, 7, 1, 1, 2, 2, 0, 0, 1, 1]),
            ),
        ),
        ("fc", c(1, 512, 1000, None)),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("search", |s| s.as_str());
    let kib: u64 = args.get(2).map_or(256, |s| s.parse().expect("KiB"));
    let repeat: usize = args.get(3).map_or(3, |s| s.parse().expect("repeat"));
    let array = ArrayConfig::square_default(32, 32, Dataflow::Ws).unwrap();
    let mut mem = MemoryConfig::default();
    mem.ifmap.size_bytes = kib << 10;
    mem.filter.size_bytes = kib << 10;
    mem.ofmap.size_bytes = kib << 10;
    let layers = resnet18();
    match mode {
        "search" | "search-no-memo" => {
            let opts = SearchOptions {
                strategy: StrategyKind::Exhaustive,
                threads: 1,
                pass_memo: mode == "search",
                ..Default::default()
            };
            let (mut n_all, mut t_all) = (0u64, 0f64);
            let mut memo_all = accelsim_core::memory::schedule::MemoCounts::default();
            println!("{kib} KiB buffers: exhaustive search, one thread, best of {repeat}");
            for (name, shape) in &layers {
                let mut best: Option<(u64, f64)> = None;
                let mut memo = Default::default();
                for _ in 0..repeat {
                    let (_, st) = search_layers(
                        &array,
                        &mem,
                        std::slice::from_ref(shape),
                        &opts,
                        &never_cancel,
                        &|_| {},
                    )
                    .unwrap();
                    let run = (st.evaluations.exact, st.busy[0]);
                    memo = st.memo;
                    if best.is_none_or(|b| run.1 < b.1) {
                        best = Some(run);
                    }
                }
                let (n, secs) = best.unwrap();
                memo_all.add(&memo);
                n_all += n;
                t_all += secs;
                println!(
                    "{name:<24} {n:>6} scores {:>10.0} /s",
                    n as f64 / secs.max(1e-12)
                );
            }
            println!(
                "{:<24} {n_all:>6} scores {:>10.0} /s",
                "all",
                n_all as f64 / t_all
            );
            let m = memo_all;
            println!(
                "pass memo: {} hits, {} misses; tiles stepped {}, taken from the memo {}",
                m.hits, m.misses, m.tiles_stepped, m.tiles_skipped
            );
        }
        "typical-search" => {
            // As bench_search.py measures it: one random search with a budget of 1 over every
            // shape (its default tiling), one thread; the evaluator's own time.
            let opts = SearchOptions {
                strategy: StrategyKind::Random,
                budget: Some(1),
                threads: 1,
                ..Default::default()
            };
            let shapes: Vec<LayerShape> = layers.iter().map(|(_, s)| *s).collect();
            let mut best = 0.0f64;
            for _ in 0..repeat.max(1) * 10 {
                let (_, st) =
                    search_layers(&array, &mem, &shapes, &opts, &never_cancel, &|_| {}).unwrap();
                best = best.max(st.evaluations.exact as f64 / st.busy[0]);
            }
            println!("{kib} KiB buffers: default tilings in one search: {best:.0} /s");
        }
        "typical" => {
            // Every shape's default tiling scored by a fresh evaluator (as a search's first
            // score), best of REPEAT rounds.
            let mut best = f64::INFINITY;
            for _ in 0..repeat.max(1) * 20 {
                let mut secs = 0.0;
                for (_, shape) in &layers {
                    let tiling =
                        accelsim_core::memory::choose_tiling(&shape.gemm, &array, &mem).unwrap();
                    let c = accelsim_core::search::Candidate {
                        tiling,
                        dataflow: array.dataflow(),
                    };
                    let mut ev = Evaluator::new();
                    let t0 = Instant::now();
                    ev.eval(
                        &array,
                        &mem,
                        shape,
                        &c,
                        accelsim_core::search::Fidelity::Exact,
                        &never_cancel,
                    )
                    .unwrap();
                    secs += t0.elapsed().as_secs_f64();
                }
                best = best.min(secs);
            }
            println!(
                "{kib} KiB buffers: default tilings, fresh evaluator each: {:.0} /s",
                layers.len() as f64 / best
            );
        }
        "dump" => {
            let mut ev = Evaluator::new();
            let t0 = Instant::now();
            let mut n = 0;
            for (name, shape) in &layers {
                let space = Space::new(&shape.gemm, &array, &mem, &[]).unwrap();
                for c in &space.candidates {
                    let cost = ev
                        .eval(
                            &array,
                            &mem,
                            shape,
                            c,
                            accelsim_core::search::Fidelity::Exact,
                            &never_cancel,
                        )
                        .unwrap();
                    let b = ev
                        .eval(
                            &array,
                            &mem,
                            shape,
                            c,
                            accelsim_core::search::Fidelity::Bound,
                            &never_cancel,
                        )
                        .unwrap();
                    n += 2;
                    println!(
                        "{name} {:?} {} {:x} {} {:x}",
                        c.tiling,
                        cost.cycles,
                        cost.energy_pj.to_bits(),
                        b.cycles,
                        b.energy_pj.to_bits()
                    );
                }
            }
            eprintln!("{n} scores in {:.3} s", t0.elapsed().as_secs_f64());
        }
        _ => panic!("mode: search, search-no-memo, typical or dump"),
    }
}
