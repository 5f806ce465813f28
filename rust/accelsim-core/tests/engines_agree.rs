//! The oracle layer: on a sweep of shapes and every knob, the register-level engine, the fast
//! engine and the closed form give the same cycles, fold timings and edge counts, and the
//! register-level engine computes the exact int32 product.

mod common;
use common::Lcg;

use accelsim_core::pe::Operands;
use accelsim_core::{
    closed_form, simulate, ArrayConfig, ArrayParams, Dataflow, DrainEdge, Engine, Gemm,
    IdealMemory, Request,
};

fn reference(g: &Gemm, a: &[i8], b: &[i8]) -> Vec<i32> {
    let mut out = vec![0i32; (g.groups * g.m * g.n) as usize];
    for grp in 0..g.groups {
        for m in 0..g.m {
            for n in 0..g.n {
                let mut acc = 0i32;
                for k in 0..g.k {
                    let x = a[((grp * g.m + m) * g.k + k) as usize] as i32;
                    let y = b[((grp * g.k + k) * g.n + n) as usize] as i32;
                    acc = acc.wrapping_add(x * y);
                }
                out[((grp * g.m + m) * g.n + n) as usize] = acc;
            }
        }
    }
    out
}

fn all_configs(rows: u32, cols: u32) -> Vec<ArrayConfig> {
    let mut v = Vec::new();
    for &dataflow in Dataflow::ALL {
        for (mac_latency, acc_latency) in [(1, 1), (2, 1), (1, 3), (3, 2)] {
            for double in [true, false] {
                for &os_drain in DrainEdge::ALL {
                    if dataflow != Dataflow::Os && os_drain != DrainEdge::Right {
                        continue;
                    }
                    v.push(
                        ArrayConfig::new(ArrayParams {
                            rows,
                            cols,
                            dataflow,
                            mac_latency,
                            acc_latency,
                            stationary_double_buffer: double,
                            os_drain,
                            os_output_double_buffer: double,
                        })
                        .unwrap(),
                    );
                }
            }
        }
    }
    v
}

fn check(cfg: &ArrayConfig, g: Gemm, rng: &mut Lcg) {
    let a: Vec<i8> = (0..g.groups * g.m * g.k).map(|_| rng.i8()).collect();
    let b: Vec<i8> = (0..g.groups * g.k * g.n).map(|_| rng.i8()).collect();
    let pe = simulate(
        cfg,
        &Request {
            gemm: g,
            engine: Engine::Pe,
            operands: Some(Operands { a: &a, b: &b }),
            keep_folds: true,
        },
        &IdealMemory,
    )
    .unwrap_or_else(|e| panic!("{cfg:?} {g:?}: {e}"));
    let fast = simulate(
        cfg,
        &Request {
            gemm: g,
            engine: Engine::Fast,
            operands: None,
            keep_folds: true,
        },
        &IdealMemory,
    )
    .unwrap();
    assert_eq!(pe.stats, fast.stats, "stats differ: {cfg:?} {g:?}");
    assert_eq!(pe.folds, fast.folds, "fold timing differs: {cfg:?} {g:?}");
    assert_eq!(
        closed_form::total_cycles(&g, cfg),
        fast.stats.cycles,
        "closed form: {cfg:?} {g:?}"
    );
    assert_eq!(
        pe.output.unwrap(),
        reference(&g, &a, &b),
        "output: {cfg:?} {g:?}"
    );
    assert_eq!(fast.stats.macs, g.macs());
    let bound = g.macs().div_ceil(cfg.pes());
    assert!(fast.stats.cycles >= bound);
}

#[test]
fn engines_and_closed_form_agree_on_a_sweep() {
    let mut rng = Lcg(7);
    for (rows, cols) in [(1, 1), (2, 2), (3, 5), (4, 4), (5, 2)] {
        for cfg in all_configs(rows, cols) {
            for _ in 0..6 {
                let g = Gemm::new(
                    rng.range(1, 13),
                    rng.range(1, 13),
                    rng.range(1, 13),
                    rng.range(1, 2),
                )
                .unwrap();
                check(&cfg, g, &mut rng);
            }
        }
    }
}

#[test]
fn engines_agree_on_larger_shapes() {
    let mut rng = Lcg(11);
    for (rows, cols) in [(8, 8), (16, 3), (1, 9)] {
        for cfg in all_configs(rows, cols) {
            let g = Gemm::new(rng.range(1, 40), rng.range(1, 40), rng.range(1, 40), 1).unwrap();
            check(&cfg, g, &mut rng);
        }
    }
}

/// The memory system's interface: with operands arriving late, both engines still agree fold
/// by fold, and no fold starts before its operands are ready.
#[test]
fn engines_agree_when_operands_arrive_late() {
    use accelsim_core::ReadyTimes;
    let mut rng = Lcg(5);
    for cfg in all_configs(3, 4) {
        let g = Gemm::new(rng.range(1, 12), rng.range(1, 12), rng.range(1, 12), 1).unwrap();
        let nf = accelsim_core::gemm::fold_count(&g, &cfg) as usize;
        let mut ready = ReadyTimes::default();
        let mut t = 0;
        for _ in 0..nf {
            t += rng.range(0, 30);
            ready.stationary.push(t);
            ready.stream.push(t + rng.range(0, 20));
        }
        let req = |engine| Request {
            gemm: g,
            engine,
            operands: None,
            keep_folds: true,
        };
        let pe = simulate(&cfg, &req(Engine::Pe), &ready).unwrap();
        let fast = simulate(&cfg, &req(Engine::Fast), &ready).unwrap();
        assert_eq!(pe.stats, fast.stats, "{cfg:?} {g:?}");
        assert_eq!(pe.folds, fast.folds, "{cfg:?} {g:?}");
        for (i, (_, ft)) in fast.folds.iter().enumerate() {
            assert!(ft.stream_start >= ready.stream[i]);
            if cfg.dataflow() != Dataflow::Os {
                assert!(ft.start >= ready.stationary[i]);
            }
        }
    }
}
