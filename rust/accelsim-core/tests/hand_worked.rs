//! Hand-worked cases from docs/timing.md: each number here was derived by hand, cycle by
//! cycle, and both engines must reproduce it.

use accelsim_core::{
    simulate, ArrayConfig, ArrayParams, Dataflow, DrainEdge, Engine, FoldTiming, Gemm, IdealMemory,
    Request,
};

fn cfg(rows: u32, cols: u32, dataflow: Dataflow, double: bool) -> ArrayConfig {
    ArrayConfig::new(ArrayParams {
        rows,
        cols,
        dataflow,
        stationary_double_buffer: double,
        os_output_double_buffer: double,
        ..Default::default()
    })
    .unwrap()
}

/// (cycles, per-fold (start, stream_start, end)) from both engines, checked equal.
fn run(c: &ArrayConfig, m: u64, k: u64, n: u64) -> (u64, Vec<(u64, u64, u64)>) {
    let g = Gemm::new(m, k, n, 1).unwrap();
    let mut got = Vec::new();
    for engine in [Engine::Fast, Engine::Pe] {
        let r = simulate(
            c,
            &Request {
                gemm: g,
                engine,
                operands: None,
                keep_folds: true,
            },
            &IdealMemory,
        )
        .unwrap();
        let folds = r
            .folds
            .iter()
            .map(
                |(
                    _,
                    FoldTiming {
                        start,
                        stream_start,
                        end,
                    },
                )| (*start, *stream_start, *end),
            )
            .collect::<Vec<_>>();
        got.push((r.stats.cycles, folds));
    }
    assert_eq!(got[0], got[1], "engines differ");
    got.pop().unwrap()
}

#[test]
fn one_pe_one_mac() {
    // load B at cycle 0, A accepted at 1, product at 2, sum leaves at 3: 4 cycles.
    for df in Dataflow::ALL {
        let c = cfg(1, 1, *df, true);
        let want = if *df == Dataflow::Os {
            // A and B accepted at 0, product 1, sum 2, copied to the output register at the
            // end of 2, drained (one beat) at 3.
            vec![(0, 0, 3)]
        } else {
            vec![(0, 1, 3)]
        };
        assert_eq!(run(&c, 1, 1, 1), (4, want), "{df}");
    }
}

#[test]
fn one_pe_two_k_folds() {
    // 1x1 WS, M=3, K=2, N=1: two folds of one stationary word each.
    // Double buffered: fold 1 loads at 1 while fold 0 streams 1..3, streams 4..6, ends 8.
    assert_eq!(
        run(&cfg(1, 1, Dataflow::Ws, true), 3, 2, 1),
        (9, vec![(0, 1, 5), (1, 4, 8)])
    );
    // Single bank: fold 1's load waits for fold 0's last vector (cycle 3), streams from 4.
    assert_eq!(
        run(&cfg(1, 1, Dataflow::Ws, false), 3, 2, 1),
        (9, vec![(0, 1, 5), (3, 4, 8)])
    );
}

#[test]
fn two_by_two_full_tile_ws() {
    // The worked example of docs/timing.md: loads at 0,1; vectors at 2,3; out[0][0] leaves at
    // 5, out[1][1] at 7: 8 cycles.
    assert_eq!(
        run(&cfg(2, 2, Dataflow::Ws, true), 2, 2, 2),
        (8, vec![(0, 2, 7)])
    );
}

#[test]
fn two_by_two_with_k_one() {
    // K=1 uses one row, but the sums still descend both rows: load 0, vectors 1..2,
    // last sum (m=1, column 1) leaves at 6.
    assert_eq!(
        run(&cfg(2, 2, Dataflow::Ws, true), 2, 1, 2),
        (7, vec![(0, 1, 6)])
    );
    // IS: the stationary tile is A^T (K=1 row, M=2 columns); B's N=2 columns stream.
    assert_eq!(
        run(&cfg(2, 2, Dataflow::Is, true), 2, 1, 2),
        (7, vec![(0, 1, 6)])
    );
}

#[test]
fn two_by_two_single_fold_os() {
    // M=N=2, K=3: vectors at 0,1,2; PE(1,1) final at 2+1+1+1+1 = 6; copied at the end of 6;
    // right-edge drain beats at 7 and 8: 9 cycles.
    assert_eq!(
        run(&cfg(2, 2, Dataflow::Os, true), 2, 3, 2),
        (9, vec![(0, 0, 8)])
    );
    let bottom = ArrayConfig::new(ArrayParams {
        rows: 2,
        cols: 2,
        dataflow: Dataflow::Os,
        os_drain: DrainEdge::Bottom,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(run(&bottom, 2, 3, 2), (9, vec![(0, 0, 8)]));
}

#[test]
fn ragged_last_folds() {
    // 2x2 WS, M=1, K=3, N=3: K tiles 2+1, N tiles 2+1; fold order (n0,k0) (n0,k2) (n2,k0) (n2,k2).
    // Loads of 2,1,2,1 rows; each fold streams one vector as soon as its load is done and the
    // previous vector has entered; the ragged N tile ends one column earlier.
    let (cycles, folds) = run(&cfg(2, 2, Dataflow::Ws, true), 1, 3, 3);
    assert_eq!(folds, vec![(0, 2, 6), (2, 3, 7), (3, 5, 8), (5, 6, 9)]);
    assert_eq!(cycles, 10);
    // OS with a ragged M tile (3 rows on 2): folds (m0,n0) and (m2,n0); the second streams
    // while the first drains (double-buffered output registers) ...
    let (cycles, folds) = run(&cfg(2, 2, Dataflow::Os, true), 3, 2, 2);
    assert_eq!(folds, vec![(0, 0, 7), (4, 4, 10)]);
    assert_eq!(cycles, 11);
    // ... or after its last beat has left.
    let (cycles, folds) = run(&cfg(2, 2, Dataflow::Os, false), 3, 2, 2);
    assert_eq!(folds, vec![(0, 0, 7), (8, 8, 14)]);
    assert_eq!(cycles, 15);
}

#[test]
fn deeper_pipelines_add_their_stages() {
    // 1x1 WS, one MAC: mac_latency=3 adds 2 cycles, acc_latency=2 adds 1 (the sum descends
    // one row of acc_latency stages).
    let c = ArrayConfig::new(ArrayParams {
        rows: 1,
        cols: 1,
        mac_latency: 3,
        acc_latency: 2,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(run(&c, 1, 1, 1), (7, vec![(0, 1, 6)]));
}

#[test]
fn two_by_two_full_tile_os() {
    // docs/timing.md: pairs at 0 and 1, PE(1,1) final at 5, beats at 6 and 7: 8 cycles.
    assert_eq!(
        run(&cfg(2, 2, Dataflow::Os, true), 2, 2, 2),
        (8, vec![(0, 0, 7)])
    );
}
