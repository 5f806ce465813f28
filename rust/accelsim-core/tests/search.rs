//! The mapping search and the network schedule (docs/search.md): the fast layer evaluator
//! equals `simulate_conv_layer`; the schedule without overlap is the layers run alone.

mod common;
use common::Lcg;

use accelsim_core::dram::DramConfig;
use accelsim_core::memory::schedule::{
    evaluate_layer, evaluate_layer_timed, FoldCache, LayerTiming,
};
use accelsim_core::memory::{
    simulate_conv_layer, BufferConfig, ConvGeometry, DramModel, LayerResult, LoopOrder,
    MemoryConfig, Tiling,
};
use accelsim_core::timing::never_cancel;
use accelsim_core::{ArrayConfig, ArrayParams, Dataflow, DrainEdge, Gemm};

fn random_array(rng: &mut Lcg) -> ArrayConfig {
    ArrayConfig::new(ArrayParams {
        rows: rng.range(1, 9) as u32,
        cols: rng.range(1, 9) as u32,
        dataflow: Dataflow::ALL[rng.range(0, 2) as usize],
        mac_latency: rng.range(1, 3) as u32,
        acc_latency: rng.range(1, 3) as u32,
        stationary_double_buffer: rng.coin(),
        os_drain: if rng.coin() {
            DrainEdge::Right
        } else {
            DrainEdge::Bottom
        },
        os_output_double_buffer: rng.coin(),
    })
    .unwrap()
}

fn random_mem(rng: &mut Lcg, cycle_dram: bool) -> MemoryConfig {
    let double = rng.coin();
    let buf = |size: u64, word: u32, banks: u32, ports: u32| BufferConfig {
        double_buffered: double,
        banks,
        ports,
        ..BufferConfig::new(size, word)
    };
    let dram = if cycle_dram {
        let name = ["ddr4-3200", "ddr4-2400", "lpddr4-3200", "hbm2"][rng.range(0, 3) as usize];
        DramModel::Cycle {
            config: Box::new(DramConfig::preset(name).unwrap()),
            freq_mhz: [500.0, 1000.0, 1500.0][rng.range(0, 2) as usize],
        }
    } else {
        DramModel::Bandwidth {
            bytes_per_cycle: [0.5, 1.0, 3.0, 16.0, 64.0][rng.range(0, 4) as usize],
            latency: rng.range(0, 60),
        }
    };
    let (ib, fb) = if rng.coin() {
        (0, 0)
    } else {
        (rng.range(1, 4) as u32, rng.range(1, 4) as u32)
    };
    MemoryConfig {
        ifmap: buf(1 << 20, 1, ib, rng.range(1, 2) as u32),
        filter: buf(1 << 20, 1, fb, rng.range(1, 2) as u32),
        ofmap: buf(1 << 22, 4, 0, 1),
        accumulator: rng.coin(),
        output_bytes: rng.range(1, 4) as u32,
        dram,
        ..MemoryConfig::default()
    }
}

/// A random convolution and its GEMM, or a plain GEMM.
fn random_layer(rng: &mut Lcg, small: bool) -> (Gemm, Option<ConvGeometry>) {
    let hi = if small { 40 } else { 90 };
    if rng.coin() {
        let groups = rng.range(1, 2);
        return (
            Gemm::new(rng.range(1, hi), rng.range(1, hi), rng.range(1, hi), groups).unwrap(),
            None,
        );
    }
    let (r, s) = (rng.range(1, 3), rng.range(1, 3));
    let stride = (rng.range(1, 2), rng.range(1, 2));
    let pad = (rng.range(0, r - 1), rng.range(0, s - 1));
    let (h, w) = (rng.range(r, 9), rng.range(s, 9));
    let p = (h + 2 * pad.0 - r) / stride.0 + 1;
    let q = (w + 2 * pad.1 - s) / stride.1 + 1;
    let c = rng.range(1, 6);
    let images = rng.range(1, 2);
    let conv = ConvGeometry {
        images,
        c,
        h,
        w,
        p,
        q,
        r,
        s,
        stride,
        pad,
        dilation: (1, 1),
    };
    let groups = rng.range(1, 2);
    let g = Gemm::new(images * p * q, c * r * s, rng.range(1, 20), groups).unwrap();
    (g, Some(conv))
}

fn random_tiling(rng: &mut Lcg, g: &Gemm) -> Tiling {
    Tiling {
        m: rng.range(1, g.m),
        k: rng.range(1, g.k),
        n: rng.range(1, g.n),
        order: LoopOrder::ALL[rng.range(0, 5) as usize],
    }
}

/// `simulate_conv_layer` of tiling `t` (its own refresh attribution off).
fn simulated(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    g: &Gemm,
    conv: Option<&ConvGeometry>,
    t: Tiling,
) -> LayerResult {
    simulate_conv_layer(array, mem, g, conv, Some(t), false, &never_cancel).unwrap()
}

/// The search's evaluator, with the configured memory system, on `cache`.
fn evaluated(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    g: &Gemm,
    conv: Option<&ConvGeometry>,
    t: Tiling,
    cache: &mut FoldCache,
) -> LayerResult {
    evaluate_layer(array, mem, g, conv, t, cache, &never_cancel).unwrap()
}

/// The search's evaluator with `timing` behind its DMA engine, on `cache`.
fn evaluated_with(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    g: &Gemm,
    conv: Option<&ConvGeometry>,
    t: Tiling,
    timing: LayerTiming,
    cache: &mut FoldCache,
) -> LayerResult {
    evaluate_layer_timed(array, mem, g, conv, t, timing, cache, &never_cancel).unwrap()
}

/// Every statistic but the refresh attribution (the evaluator leaves refresh in the stalls it
/// delayed; `simulate_conv_layer` moves it to `stall_refresh_cycles`).
fn assert_same(fast: &LayerResult, slow: &LayerResult, what: &str) {
    assert_eq!(fast.array, slow.array, "array stats: {what}");
    let (mut f, mut s) = (fast.mem, slow.mem);
    assert_eq!(f.stall_refresh_cycles, 0, "{what}");
    let waited = |m: &accelsim_core::memory::MemStats| {
        m.stall_ifmap_cycles + m.stall_filter_cycles + m.stall_ofmap_cycles + m.stall_refresh_cycles
    };
    assert_eq!(waited(&f), waited(&s), "DRAM stalls: {what}");
    if s.stall_refresh_cycles == 0 {
        assert_eq!(f, s, "memory stats: {what}");
    }
    for m in [&mut f, &mut s] {
        m.stall_ifmap_cycles = 0;
        m.stall_filter_cycles = 0;
        m.stall_ofmap_cycles = 0;
        m.stall_refresh_cycles = 0;
    }
    assert_eq!(f, s, "memory stats: {what}");
    assert_eq!(fast.energy, slow.energy, "energy: {what}");
    assert_eq!(fast.tiling, slow.tiling);
    assert_eq!(fast.dram, slow.dram, "DRAM stats: {what}");
}

#[test]
fn fast_evaluator_equals_simulate_conv_layer_with_the_bandwidth_model() {
    let mut rng = Lcg(11);
    let mut cache = FoldCache::new();
    let mut ran = 0;
    for case in 0..1500 {
        let array = random_array(&mut rng);
        let mem = random_mem(&mut rng, false);
        let (g, conv) = random_layer(&mut rng, false);
        let t = random_tiling(&mut rng, &g);
        if t.check(&g, &mem).is_err() {
            continue;
        }
        let slow = simulated(&array, &mem, &g, conv.as_ref(), t);
        // A fresh cache and a shared one must both agree.
        let what = format!("case {case}: {array:?} {g:?} {conv:?} {t:?} {mem:?}");
        let fast = evaluated(&array, &mem, &g, conv.as_ref(), t, &mut cache);
        assert_same(&fast, &slow, &what);
        let fresh = evaluated(&array, &mem, &g, conv.as_ref(), t, &mut FoldCache::new());
        assert_same(&fresh, &slow, &what);
        ran += 1;
    }
    assert!(ran > 1000, "only {ran} cases fit their buffers");
}

/// The evaluator's buffers carry over between candidates (the ifmap tiles' transfers are
/// memoized per layer): convolutions whose ifmap tiles are read many times (N split finely,
/// several images and groups), scored one after another with one cache, alternating layers,
/// equal `simulate_conv_layer`.
#[test]
fn reused_evaluator_buffers_equal_simulate_conv_layer_on_reread_ifmap_tiles() {
    let mut rng = Lcg(29);
    let mut cache = FoldCache::new();
    let mut ran = 0;
    let mut last: Option<(
        ArrayConfig,
        MemoryConfig,
        Gemm,
        Option<ConvGeometry>,
        Tiling,
    )> = None;
    for case in 0..600 {
        let array = random_array(&mut rng);
        let mem = random_mem(&mut rng, false);
        let (g, conv) = random_layer(&mut rng, false);
        if conv.is_none() {
            continue;
        }
        let t = Tiling {
            n: rng.range(1, g.n.div_ceil(3).max(1)),
            ..random_tiling(&mut rng, &g)
        };
        if t.check(&g, &mem).is_err() {
            continue;
        }
        let cur = (array, mem, g, conv, t);
        for (array, mem, g, conv, t) in [Some(cur.clone()), last.take()].into_iter().flatten() {
            let slow = simulated(&array, &mem, &g, conv.as_ref(), t);
            let fast = evaluated(&array, &mem, &g, conv.as_ref(), t, &mut cache);
            assert_same(&fast, &slow, &format!("case {case}: {g:?} {conv:?} {t:?}"));
        }
        last = Some(cur);
        ran += 1;
    }
    assert!(ran > 100, "only {ran} cases fit their buffers");
}

/// The pass memo (repeated passes of tiles taken from a record instead of stepped): layers cut
/// into many small tiles, every loop order and dataflow, equal `simulate_conv_layer` with it,
/// and the burst-aware bandwidth stand-in gives the same costs with it on and off. The memo
/// must actually take passes here.
#[test]
fn pass_memo_equals_stepping_every_tile() {
    let mut rng = Lcg(47);
    let mut cache = FoldCache::new();
    // Start afresh often (content ids given again).
    cache.set_pass_memo_limit(40);
    let mut off = FoldCache::new();
    off.set_pass_memo(false);
    let mut ran = 0;
    for case in 0..500 {
        let array = random_array(&mut rng);
        let mut mem = random_mem(&mut rng, false);
        mem.accumulator = rng.range(0, 3) > 0;
        let (g, conv) = random_layer(&mut rng, false);
        let t = Tiling {
            m: rng.range(1, g.m.div_ceil(4).max(1)),
            k: rng.range(1, g.k.div_ceil(6).max(1)),
            n: rng.range(1, g.n.div_ceil(3).max(1)),
            order: LoopOrder::ALL[rng.range(0, 5) as usize],
        };
        if t.check(&g, &mem).is_err() {
            continue;
        }
        let what = format!("case {case}: {array:?} {g:?} {conv:?} {t:?} {mem:?}");
        let slow = simulated(&array, &mem, &g, conv.as_ref(), t);
        let fast = evaluated(&array, &mem, &g, conv.as_ref(), t, &mut cache);
        assert_same(&fast, &slow, &what);
        let stand_in = LayerTiming::Bandwidth {
            bytes_per_cycle: [2.0, 8.0, 24.0][rng.range(0, 2) as usize],
            latency: rng.range(0, 40),
            burst_bytes: [1, 32, 64][rng.range(0, 2) as usize],
        };
        let run =
            |c: &mut FoldCache| evaluated_with(&array, &mem, &g, conv.as_ref(), t, stand_in, c);
        let (with, without) = (run(&mut cache), run(&mut off));
        assert_eq!(with.array, without.array, "stand-in, array: {what}");
        assert_eq!(with.mem, without.mem, "stand-in, memory: {what}");
        assert_eq!(with.energy, without.energy, "stand-in, energy: {what}");
        // The array alone (every transfer done at once).
        let alone = |c: &mut FoldCache| {
            evaluated_with(
                &array,
                &mem,
                &g,
                conv.as_ref(),
                t,
                LayerTiming::Unbounded,
                c,
            )
        };
        let (with, without) = (alone(&mut cache), alone(&mut off));
        assert_eq!(with.array, without.array, "array alone, array: {what}");
        assert_eq!(with.mem, without.mem, "array alone, memory: {what}");
        ran += 1;
    }
    assert!(ran > 300, "only {ran} cases fit their buffers");
    let m = cache.memo_counts();
    assert!(
        m.hits > 2000 && m.tiles_skipped > m.tiles_stepped,
        "the memo took too few passes: {m:?}"
    );
    assert_eq!(off.memo_counts().hits, 0);
}

/// The pass memo keeps recorded passes across evaluations (per context: candidates that
/// differ only in loop order share them) and starts afresh when full: candidates scored one
/// after another on one cache, every loop order of a few tile sizes, interleaving the
/// configured bandwidth model, a burst stand-in and the array alone (as the search does),
/// each operand double-buffered or not, equal the same scores with the memo off; with a tiny
/// limit the memo starts afresh often.
#[test]
fn pass_memo_shared_across_candidates_equals_stepping() {
    let mut rng = Lcg(83);
    let mut caches = [FoldCache::new(), FoldCache::new()];
    caches[1].set_pass_memo_limit(30);
    let mut off = FoldCache::new();
    off.set_pass_memo(false);
    let mut ran = 0;
    for case in 0..150 {
        let array = random_array(&mut rng);
        let mut mem = random_mem(&mut rng, false);
        mem.accumulator = true;
        // Each operand double-buffered or not on its own.
        mem.ifmap.double_buffered = rng.coin();
        mem.filter.double_buffered = rng.coin();
        mem.ofmap.double_buffered = rng.coin();
        let (g, conv) = random_layer(&mut rng, false);
        let timings = [
            LayerTiming::Configured,
            LayerTiming::Bandwidth {
                bytes_per_cycle: 8.0,
                latency: rng.range(0, 30),
                burst_bytes: 32,
            },
            LayerTiming::Unbounded,
        ];
        for _ in 0..3 {
            let sizes = (
                rng.range(1, g.m.div_ceil(4).max(1)),
                rng.range(1, g.k.div_ceil(5).max(1)),
                rng.range(1, g.n.div_ceil(2).max(1)),
            );
            for &order in LoopOrder::ALL {
                let t = Tiling {
                    m: sizes.0,
                    k: sizes.1,
                    n: sizes.2,
                    order,
                };
                if t.check(&g, &mem).is_err() {
                    continue;
                }
                for timing in timings {
                    let what = format!("case {case}: {array:?} {g:?} {conv:?} {t:?} {timing:?}");
                    let run = |c: &mut FoldCache| {
                        evaluated_with(&array, &mem, &g, conv.as_ref(), t, timing, c)
                    };
                    let want = run(&mut off);
                    for (ci, c) in caches.iter_mut().enumerate() {
                        let got = run(c);
                        assert_eq!(got.array, want.array, "array: cache {ci} {what}");
                        assert_eq!(got.mem, want.mem, "memory: cache {ci} {what}");
                    }
                    ran += 1;
                }
            }
        }
    }
    assert!(ran > 1000, "only {ran} scores");
    for c in &caches {
        let m = c.memo_counts();
        assert!(
            m.tiles_skipped > m.tiles_stepped,
            "the memo took too few passes: {m:?}"
        );
    }
}

#[test]
fn fast_evaluator_equals_simulate_conv_layer_with_cycle_level_dram() {
    let mut rng = Lcg(5);
    let mut cache = FoldCache::new();
    let mut ran = 0;
    for case in 0..120 {
        let array = random_array(&mut rng);
        let mem = random_mem(&mut rng, true);
        let (g, conv) = random_layer(&mut rng, true);
        let t = random_tiling(&mut rng, &g);
        if t.check(&g, &mem).is_err() {
            continue;
        }
        let slow = simulated(&array, &mem, &g, conv.as_ref(), t);
        let what = format!("case {case}: {array:?} {g:?} {conv:?} {t:?}");
        let fast = evaluated(&array, &mem, &g, conv.as_ref(), t, &mut cache);
        assert_same(&fast, &slow, &what);
        ran += 1;
    }
    assert!(ran > 80, "only {ran} cases fit their buffers");
}

// ---------------------------------------------------------------------------------------------
// Bounds, strategies, determinism.

use accelsim_core::memory::schedule::{
    check_plan, simulate_network, PlannedLayer, ScheduleOptions,
};
use accelsim_core::memory::TrafficEstimate;
use accelsim_core::search::bound::lower_bounds;
use accelsim_core::search::eval::{Evaluator, LayerShape};
use accelsim_core::search::{
    search_layers, Cost, Fidelity, Objective, SearchOptions, Space, StrategyKind,
};

fn small_mem(rng: &mut Lcg) -> MemoryConfig {
    let double = rng.coin();
    let buf = |size: u64, word: u32| BufferConfig {
        double_buffered: double,
        ..BufferConfig::new(size, word)
    };
    MemoryConfig {
        ifmap: buf([256, 1024, 4096][rng.range(0, 2) as usize], 1),
        filter: buf([256, 1024, 4096][rng.range(0, 2) as usize], 1),
        ofmap: buf([1024, 4096, 16384][rng.range(0, 2) as usize], 4),
        accumulator: rng.coin(),
        dram: DramModel::Bandwidth {
            bytes_per_cycle: [1.0, 4.0, 16.0][rng.range(0, 2) as usize],
            latency: rng.range(0, 40),
        },
        ..MemoryConfig::default()
    }
}

#[test]
fn bounds_never_exceed_the_simulation() {
    let mut rng = Lcg(21);
    let mut cache = FoldCache::new();
    let mut checked = 0;
    for case in 0..1200 {
        let array = random_array(&mut rng);
        let cycle_dram = case % 10 == 0;
        let mem = random_mem(&mut rng, cycle_dram);
        let (g, conv) = random_layer(&mut rng, cycle_dram);
        let t = random_tiling(&mut rng, &g);
        if t.check(&g, &mem).is_err() {
            continue;
        }
        let exact = evaluated(&array, &mem, &g, conv.as_ref(), t, &mut cache);
        let b = lower_bounds(&array, &mem, &g, conv.is_some(), &t);
        let what = format!("case {case}: {array:?} {g:?} {conv:?} {t:?} {:?}", mem.dram);
        assert!(
            b.cycles <= exact.array.cycles,
            "cycles {} > {}: {what}",
            b.cycles,
            exact.array.cycles
        );
        assert!(
            b.energy_pj <= exact.energy.energy_total_pj,
            "energy {} > {}: {what}",
            b.energy_pj,
            exact.energy.energy_total_pj
        );
        // The array alone: fewer cycles, the same accesses and so the same energy.
        let alone = evaluated_with(
            &array,
            &mem,
            &g,
            conv.as_ref(),
            t,
            LayerTiming::Unbounded,
            &mut cache,
        );
        assert!(alone.array.cycles <= exact.array.cycles, "{what}");
        assert_eq!(
            alone.energy.energy_total_pj, exact.energy.energy_total_pj,
            "{what}"
        );
        assert_eq!(
            alone.mem.dram_read_bytes, exact.mem.dram_read_bytes,
            "{what}"
        );
        if conv.is_none() {
            assert_eq!(
                exact.mem.dram_read_bytes + exact.mem.dram_write_bytes,
                TrafficEstimate::of(&t, &g, &mem).total()
            );
        }
        checked += 1;
    }
    assert!(checked > 800, "only {checked} cases fit");
}

/// Every candidate of the space scored, the best by the objective's order.
fn brute_force(
    array: &ArrayConfig,
    mem: &MemoryConfig,
    shape: &LayerShape,
    obj: Objective,
) -> (usize, Cost) {
    let space = Space::new(&shape.gemm, array, mem, &[]).unwrap();
    let mut ev = Evaluator::new();
    let mut best: Option<(usize, Cost)> = None;
    for (i, c) in space.candidates.iter().enumerate() {
        let cost = ev
            .eval(array, mem, shape, c, Fidelity::Exact, &never_cancel)
            .unwrap();
        if best.is_none_or(|(bi, bc)| obj.compare((&cost, i), (&bc, bi)).is_lt()) {
            best = Some((i, cost));
        }
    }
    best.unwrap()
}

#[test]
fn exhaustive_search_finds_the_brute_force_optimum() {
    let mut rng = Lcg(8);
    let mut checked = 0;
    for case in 0..14 {
        let array = random_array(&mut rng);
        let mem = small_mem(&mut rng);
        let (g, conv) = random_layer(&mut rng, true);
        // Small enough to score the whole space in a debug build.
        if g.m * g.k * g.n * g.groups > 12_000 {
            continue;
        }
        let shape = LayerShape { gemm: g, conv };
        let Ok(space) = Space::new(&g, &array, &mem, &[]) else {
            continue;
        };
        for &obj in Objective::ALL {
            let (bi, bc) = brute_force(&array, &mem, &shape, obj);
            let opts = SearchOptions {
                objective: obj,
                strategy: StrategyKind::Exhaustive,
                threads: 2,
                ..Default::default()
            };
            let (res, _) =
                search_layers(&array, &mem, &[shape], &opts, &never_cancel, &|_| {}).unwrap();
            let (c, cost) = res[0].best.unwrap();
            assert_eq!(
                (c, cost),
                (space.candidates[bi], bc),
                "case {case} {obj}: {array:?} {g:?} {conv:?}"
            );
            assert!(res[0].complete);
            // With a bandwidth model the guided search is the exhaustive one.
            let guided = SearchOptions {
                strategy: StrategyKind::Guided,
                ..opts.clone()
            };
            let (res, _) =
                search_layers(&array, &mem, &[shape], &guided, &never_cancel, &|_| {}).unwrap();
            assert_eq!(
                res[0].best.unwrap(),
                (space.candidates[bi], bc),
                "case {case} guided"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} searches");
    eprintln!("{checked} exhaustive searches checked against brute force");
}

#[test]
fn exhaustive_search_with_cycle_level_dram_finds_the_optimum() {
    let array = ArrayConfig::square_default(4, 4, Dataflow::Ws).unwrap();
    let buf = |size, word| BufferConfig::new(size, word);
    let mem = MemoryConfig {
        ifmap: buf(512, 1),
        filter: buf(512, 1),
        ofmap: buf(2048, 4),
        dram: DramModel::Cycle {
            config: Box::new(DramConfig::preset("ddr4-3200").unwrap()),
            freq_mhz: 1000.0,
        },
        ..MemoryConfig::default()
    };
    let shape = LayerShape {
        gemm: Gemm::new(24, 20, 12, 1).unwrap(),
        conv: None,
    };
    let space = Space::new(&shape.gemm, &array, &mem, &[]).unwrap();
    for obj in [Objective::Cycles, Objective::Edp] {
        let (bi, bc) = brute_force(&array, &mem, &shape, obj);
        let opts = SearchOptions {
            objective: obj,
            strategy: StrategyKind::Exhaustive,
            ..Default::default()
        };
        let (res, _) =
            search_layers(&array, &mem, &[shape], &opts, &never_cancel, &|_| {}).unwrap();
        assert_eq!(res[0].best.unwrap(), (space.candidates[bi], bc), "{obj}");
        // Pruning spared most of the space the expensive model.
        assert!(
            (res[0].evaluations.exact as usize) < space.len(),
            "{} exact of {}",
            res[0].evaluations.exact,
            space.len()
        );
    }
}

#[test]
fn searches_never_lose_to_the_default_and_repeat_exactly() {
    let mut rng = Lcg(17);
    let mut checked = 0;
    for case in 0..30 {
        let array = random_array(&mut rng);
        let mem = small_mem(&mut rng);
        let (g, conv) = random_layer(&mut rng, false);
        let shape = LayerShape { gemm: g, conv };
        if Space::new(&g, &array, &mem, &[]).is_err() {
            continue;
        }
        for &strategy in StrategyKind::ALL {
            let obj = Objective::ALL[case % 3];
            let opts = SearchOptions {
                objective: obj,
                strategy,
                budget: Some(7),
                seed: case as u64,
                threads: 1,
                ..Default::default()
            };
            let (a, _) =
                search_layers(&array, &mem, &[shape], &opts, &never_cancel, &|_| {}).unwrap();
            let (best, cost) = a[0].best.unwrap();
            if let Some((_, d)) = a[0].default {
                assert!(obj.value(&cost) <= obj.value(&d), "case {case} {strategy}");
            }
            // Same seed, other thread counts: the same answer.
            for threads in [2, 3] {
                let (b, _) = search_layers(
                    &array,
                    &mem,
                    &[shape],
                    &SearchOptions {
                        threads,
                        ..opts.clone()
                    },
                    &never_cancel,
                    &|_| {},
                )
                .unwrap();
                assert_eq!(b[0].best.unwrap(), (best, cost), "case {case} {strategy}");
                assert_eq!(b[0].evaluations, a[0].evaluations);
            }
            checked += 1;
        }
    }
    assert!(checked >= 45, "only {checked} searches");
}

#[test]
fn random_search_samples_by_its_seed_only() {
    use accelsim_core::search::bound::Bounds;
    use accelsim_core::search::strategy::{Problem, RandomSearch, Strategy};
    let array = ArrayConfig::square_default(8, 8, Dataflow::Ws).unwrap();
    let mem = MemoryConfig::default();
    let space = Space::new(&Gemm::new(200, 150, 90, 1).unwrap(), &array, &mem, &[]).unwrap();
    let n = space.len();
    let sample = |seed: u64| {
        let p = Problem {
            space: std::sync::Arc::new(space.clone()),
            bounds: vec![
                Bounds {
                    cycles: 0,
                    energy_pj: 0.0
                };
                n
            ],
            objective: Objective::Cycles,
            default: Some(3),
            exact_is_cheap: true,
            peak: (16.0, 0),
            burst: 1,
            budget: Some(20),
            seed,
        };
        let mut r = RandomSearch::new(p, 100);
        let mut ids = Vec::new();
        loop {
            let asked = r.ask(7, 7);
            if asked.is_empty() {
                break;
            }
            ids.extend(asked.iter().map(|q| q.id));
        }
        ids
    };
    let a = sample(1);
    assert_eq!(a.len(), 20);
    assert_eq!(a[0], 3, "the default first");
    let distinct: std::collections::HashSet<_> = a.iter().collect();
    assert_eq!(distinct.len(), 20, "no candidate twice");
    assert_eq!(sample(1), a);
    assert_ne!(sample(2), a);
}

// ---------------------------------------------------------------------------------------------
// The network schedule.

fn chain_of_convs() -> Vec<(Gemm, ConvGeometry)> {
    // 8x8 images, 3x3 convolutions: 4 -> 8 -> 8 -> 16 channels.
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
    [(4, 8), (8, 8), (8, 16)]
        .iter()
        .map(|&(c, k)| (Gemm::new(64, c * 9, k, 1).unwrap(), conv(c)))
        .collect()
}

fn plan(array: &ArrayConfig, mem: &MemoryConfig, on_chip: bool) -> Vec<PlannedLayer> {
    chain_of_convs()
        .into_iter()
        .enumerate()
        .map(|(i, (g, c))| PlannedLayer {
            gemm: g,
            conv: Some(c),
            tiling: accelsim_core::memory::choose_tiling(&g, array, mem).unwrap(),
            dataflow: array.dataflow(),
            input_on_chip: on_chip && i > 0,
        })
        .collect()
}

#[test]
fn layers_alone_are_the_layers_run_one_by_one() {
    for df in Dataflow::ALL {
        for cycle_dram in [false, true] {
            let array = ArrayConfig::square_default(4, 4, *df).unwrap();
            let mut rng = Lcg(3);
            let mem = random_mem(&mut rng, cycle_dram);
            let p = plan(&array, &mem, false);
            let alone = ScheduleOptions {
                overlap: false,
                write_through: false,
            };
            let run = simulate_network(&array, &mem, &p, alone, &never_cancel).unwrap();
            let mut start = 0;
            for (l, s) in p.iter().zip(&run.layers) {
                let r = simulate_conv_layer(
                    &array,
                    &mem,
                    &l.gemm,
                    l.conv.as_ref(),
                    Some(l.tiling),
                    false,
                    &never_cancel,
                )
                .unwrap();
                assert_eq!(s.result.array.cycles, r.array.cycles, "{df:?}");
                assert_eq!((s.start, s.end), (start, start + r.array.cycles - 1));
                start += r.array.cycles;
            }
            assert_eq!(run.cycles, start);
        }
    }
}

#[test]
fn a_schedule_adds_up_and_replays_exactly() {
    for df in Dataflow::ALL {
        for cycle_dram in [false, true] {
            for on_chip in [false, true] {
                let array = ArrayConfig::square_default(4, 4, *df).unwrap();
                let mut rng = Lcg(4);
                let mem = random_mem(&mut rng, cycle_dram);
                let p = plan(&array, &mem, on_chip);
                let opts = ScheduleOptions::default();
                let a = simulate_network(&array, &mem, &p, opts, &never_cancel).unwrap();
                let b = simulate_network(&array, &mem, &p, opts, &never_cancel).unwrap();
                let what = format!("{df:?} dram {cycle_dram} on chip {on_chip}");
                assert_eq!(a.cycles, b.cycles, "{what}");
                let shares: u64 = a.layers.iter().map(|l| l.result.array.cycles).sum();
                assert_eq!(shares, a.cycles, "{what}");
                let mut next = 0;
                for l in &a.layers {
                    let m = &l.result.mem;
                    let stalls = m.stall_ifmap_cycles
                        + m.stall_filter_cycles
                        + m.stall_ofmap_cycles
                        + m.stall_bank_cycles;
                    assert_eq!(m.compute_cycles + stalls, l.result.array.cycles, "{what}");
                    assert_eq!(l.start, next, "{what}");
                    next = l.end + 1;
                    assert_eq!(l.result.array.macs, l.result.array.macs);
                }
                // A kept input is read from DRAM by nobody, and the producer writes nothing.
                if on_chip {
                    for l in &a.layers[1..] {
                        assert_eq!(l.result.mem.dram_ifmap_bytes, 0, "{what}");
                    }
                    for l in &a.layers[..2] {
                        assert_eq!(l.result.mem.dram_ofmap_bytes, 0, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn an_output_that_does_not_fit_cannot_stay_on_chip() {
    let array = ArrayConfig::square_default(4, 4, Dataflow::Ws).unwrap();
    let mem = MemoryConfig {
        ifmap: BufferConfig::new(640, 1),
        ..MemoryConfig::default()
    };
    let p = plan(&array, &mem, true);
    let err = check_plan(&mem, &p, ScheduleOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ifmap buffer") && err.contains("layers["),
        "{err}"
    );
    let first = vec![PlannedLayer {
        input_on_chip: true,
        ..p[0].clone()
    }];
    assert!(check_plan(&mem, &first, ScheduleOptions::default()).is_err());
}

#[test]
fn the_default_tiling_is_always_in_the_space() {
    use accelsim_core::memory::choose_tiling;
    use accelsim_core::search::space::MAX_SPACE_TILES;
    let array = ArrayConfig::square_default(8, 8, Dataflow::Ws).unwrap();
    // Buffers so small that every tiling has more tiles than the space's limit.
    let mem = MemoryConfig {
        ifmap: BufferConfig::new(8, 1),
        filter: BufferConfig::new(8, 1),
        ofmap: BufferConfig::new(32, 4),
        ..MemoryConfig::default()
    };
    let g = Gemm::new(300, 200, 100, 1).unwrap();
    let t = choose_tiling(&g, &array, &mem).unwrap();
    assert!(t.counts(&g).iter().product::<u64>() > MAX_SPACE_TILES);
    let space = Space::new(&g, &array, &mem, &[]).unwrap();
    let id = space
        .find(&accelsim_core::search::Candidate {
            tiling: t,
            dataflow: Dataflow::Ws,
        })
        .expect("the default is in the space");
    assert_eq!(space.candidates[id].tiling, t);
    // With roomier buffers it is there too, among the rest.
    let mem = MemoryConfig::default();
    let t = choose_tiling(&g, &array, &mem).unwrap();
    let space = Space::new(&g, &array, &mem, &[]).unwrap();
    assert!(space.len() > 100);
    assert!(space
        .find(&accelsim_core::search::Candidate {
            tiling: t,
            dataflow: Dataflow::Ws
        })
        .is_some());
}
