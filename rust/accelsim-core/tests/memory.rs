//! The memory system: DRAM traffic equals the closed-form estimate of the tiling; less
//! bandwidth never means fewer cycles; stalls and compute add up to the total; tilings that do
//! not fit are errors naming the buffer.

mod common;
use common::Lcg;

use accelsim_core::memory::{
    choose_tiling, simulate_layer, BufferConfig, DramModel, LoopOrder, MemoryConfig, Tiling,
    TrafficEstimate,
};
use accelsim_core::timing::never_cancel;
use accelsim_core::{simulate, ArrayConfig, Dataflow, Engine, Error, Gemm, IdealMemory, Request};

fn mem(bw: f64, latency: u64, accumulator: bool, double: bool) -> MemoryConfig {
    let buf = |size, word| BufferConfig {
        double_buffered: double,
        ..BufferConfig::new(size, word)
    };
    MemoryConfig {
        ifmap: buf(1 << 20, 1),
        filter: buf(1 << 20, 1),
        ofmap: buf(1 << 22, 4),
        accumulator,
        dram: DramModel::Bandwidth {
            bytes_per_cycle: bw,
            latency,
        },
        ..MemoryConfig::default()
    }
}

#[test]
fn traffic_equals_the_closed_form_estimate() {
    let mut rng = Lcg(3);
    for _ in 0..300 {
        let g = Gemm::new(
            rng.range(1, 90),
            rng.range(1, 90),
            rng.range(1, 90),
            rng.range(1, 2),
        )
        .unwrap();
        let df = Dataflow::ALL[rng.range(0, 2) as usize];
        let array = ArrayConfig::square_default(rng.range(1, 8) as u32, rng.range(1, 8) as u32, df)
            .unwrap();
        let t = Tiling {
            m: rng.range(1, g.m),
            k: rng.range(1, g.k),
            n: rng.range(1, g.n),
            order: LoopOrder::ALL[rng.range(0, 5) as usize],
        };
        let m = mem(
            rng.range(1, 64) as f64,
            rng.range(0, 50),
            rng.range(0, 1) == 1,
            rng.range(0, 1) == 1,
        );
        let r = simulate_layer(&array, &m, &g, Some(t), false, &never_cancel).unwrap();
        let e = TrafficEstimate::of(&t, &g, &m);
        let got = (
            r.mem.dram_ifmap_bytes,
            r.mem.dram_filter_bytes,
            r.mem.dram_ofmap_bytes,
            r.mem.dram_psum_read_bytes,
            r.mem.dram_psum_write_bytes,
        );
        assert_eq!(
            got,
            (
                e.ifmap_bytes,
                e.filter_bytes,
                e.ofmap_bytes,
                e.psum_read_bytes,
                e.psum_write_bytes
            ),
            "{t:?} {g:?} acc={}",
            m.accumulator
        );
        assert_eq!(r.mem.dram_read_bytes + r.mem.dram_write_bytes, e.total());
        // every MAC is done once, and the time adds up
        assert_eq!(r.array.macs, g.macs());
        let stalls =
            r.mem.stall_ifmap_cycles + r.mem.stall_filter_cycles + r.mem.stall_ofmap_cycles;
        assert_eq!(r.mem.compute_cycles + stalls, r.array.cycles);
        assert!(r.array.cycles >= g.macs().div_ceil(array.pes()));
    }
}

#[test]
fn less_bandwidth_never_fewer_cycles() {
    let mut rng = Lcg(9);
    for _ in 0..200 {
        let g = Gemm::new(rng.range(1, 70), rng.range(1, 70), rng.range(1, 70), 1).unwrap();
        let df = Dataflow::ALL[rng.range(0, 2) as usize];
        let array = ArrayConfig::square_default(rng.range(1, 8) as u32, rng.range(1, 8) as u32, df)
            .unwrap();
        let acc = rng.range(0, 1) == 1;
        let double = rng.range(0, 1) == 1;
        let latency = rng.range(0, 40);
        let t = choose_tiling(&g, &array, &mem(8.0, latency, acc, double)).unwrap();
        let mut prev = 0;
        for bw in [64.0, 16.0, 8.0, 4.0, 1.0, 0.5] {
            let r = simulate_layer(
                &array,
                &mem(bw, latency, acc, double),
                &g,
                Some(t),
                false,
                &never_cancel,
            )
            .unwrap();
            assert!(
                r.array.cycles >= prev,
                "bw {bw}: {} < {prev} for {g:?} {t:?}",
                r.array.cycles
            );
            prev = r.array.cycles;
        }
    }
}

#[test]
fn near_ideal_memory_adds_only_the_first_loads_and_last_write() {
    // One tile holding the whole GEMM, one cycle per transfer and no latency: the ifmap tile
    // crosses the interface in cycle 0 (usable from 1), the filter tile in cycle 1 (usable from
    // 2), and the write-back takes one cycle after the last result. WS waits for its stationary
    // filter (+2), OS for both streams (+2), IS loads its stationary ifmap from 1 and streams
    // the filter after the load anyway (+1); all add the write-back cycle.
    for (df, extra) in [(Dataflow::Ws, 3), (Dataflow::Os, 3), (Dataflow::Is, 2)] {
        let g = Gemm::new(20, 9, 11, 1).unwrap();
        let m = mem(1e9, 0, true, true);
        let t = Tiling {
            m: 20,
            k: 9,
            n: 11,
            order: LoopOrder::Mnk,
        };
        let array = ArrayConfig::square_default(4, 4, df).unwrap();
        let r = simulate_layer(&array, &m, &g, Some(t), false, &never_cancel).unwrap();
        let ideal = simulate(&array, &Request::timing(g, Engine::Fast), &IdealMemory).unwrap();
        assert_eq!(r.array.cycles, ideal.stats.cycles + extra, "{df}");
        assert_eq!(r.mem.stall_ofmap_cycles, 1, "{df}");
        assert_eq!(
            r.mem.stall_ifmap_cycles + r.mem.stall_filter_cycles,
            extra - 1,
            "{df}"
        );
    }
}

#[test]
fn a_tile_that_does_not_fit_names_the_buffer() {
    let array = ArrayConfig::square_default(4, 4, Dataflow::Ws).unwrap();
    let g = Gemm::new(64, 64, 64, 1).unwrap();
    let m = MemoryConfig {
        filter: BufferConfig::new(1024, 1),
        ..mem(8.0, 0, true, true)
    };
    let t = Tiling {
        m: 64,
        k: 64,
        n: 64,
        order: LoopOrder::Mnk,
    };
    let err = simulate_layer(&array, &m, &g, Some(t), false, &never_cancel).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, Error::Config { field, .. } if field == "filter"),
        "{text}"
    );
    assert!(text.contains("4096 B") && text.contains("512 B"), "{text}");
    // the chooser finds one that fits
    let t = choose_tiling(&g, &array, &m).unwrap();
    assert!(t.k * t.n <= 512, "{t:?}");
    // and nothing fits a buffer smaller than one word
    let tiny = MemoryConfig {
        ofmap: BufferConfig::new(4, 4),
        ..m.clone()
    };
    let err = choose_tiling(&g, &array, &tiny).unwrap_err();
    assert!(err.to_string().contains("ofmap"), "{err}");
}

#[test]
fn the_chooser_prefers_less_traffic_and_keeps_outputs_on_chip() {
    let array = ArrayConfig::square_default(32, 32, Dataflow::Ws).unwrap();
    // ResNet-18 layer4.0.conv2: M=49, K=4608, N=512 with 64 KiB buffers
    let g = Gemm::new(49, 4608, 512, 1).unwrap();
    let kib = |k: u64| BufferConfig::new(k << 10, 1);
    let m = MemoryConfig {
        ifmap: kib(64),
        filter: kib(64),
        ofmap: BufferConfig::new(64 << 10, 4),
        ..MemoryConfig::default()
    };
    let t = choose_tiling(&g, &array, &m).unwrap();
    let e = TrafficEstimate::of(&t, &g, &m);
    assert_eq!(e.psum_write_bytes, 0, "{t:?}");
    // every other order of the same tile sizes moves at least as much
    for &order in LoopOrder::ALL {
        let other = TrafficEstimate::of(&Tiling { order, ..t }, &g, &m);
        assert!(other.total() >= e.total(), "{order} {other:?} < {e:?}");
    }
}

#[test]
fn fewer_banks_cost_cycles_and_are_charged_to_bank_conflicts() {
    let mut rng = Lcg(21);
    for _ in 0..200 {
        let g = Gemm::new(rng.range(1, 60), rng.range(1, 60), rng.range(1, 60), 1).unwrap();
        let df = Dataflow::ALL[rng.range(0, 2) as usize];
        let array = ArrayConfig::square_default(rng.range(1, 8) as u32, rng.range(1, 8) as u32, df)
            .unwrap();
        let base = mem(
            rng.range(1, 64) as f64,
            rng.range(0, 30),
            true,
            rng.range(0, 1) == 1,
        );
        let t = choose_tiling(&g, &array, &base).unwrap();
        let run = |banks: u32| {
            let b = |x: BufferConfig| BufferConfig { banks, ..x };
            let m = MemoryConfig {
                ifmap: b(base.ifmap),
                filter: b(base.filter),
                ..base.clone()
            };
            simulate_layer(&array, &m, &g, Some(t), false, &never_cancel).unwrap()
        };
        let mut prev = u64::MAX;
        for banks in [0, 16, 8, 4, 2, 1] {
            let r = run(banks);
            let stalls = r.mem.stall_ifmap_cycles
                + r.mem.stall_filter_cycles
                + r.mem.stall_ofmap_cycles
                + r.mem.stall_bank_cycles
                + r.mem.stall_refresh_cycles;
            assert_eq!(r.mem.compute_cycles + stalls, r.array.cycles);
            // banks >= the array's widest vector: no conflict at all
            let widest = array.rows().max(array.cols());
            if banks == 0 || banks >= widest {
                assert_eq!(r.mem.stall_bank_cycles, 0, "banks {banks} {g:?}");
            }
            if prev != u64::MAX {
                assert!(
                    r.array.cycles >= prev,
                    "banks {banks}: {} < {prev}",
                    r.array.cycles
                );
            }
            prev = r.array.cycles;
        }
        // one bank, one port: every vector of n words takes n cycles
        let one = run(1);
        let zero = run(0);
        if one.array.cycles > zero.array.cycles {
            assert!(one.mem.stall_bank_cycles > 0, "{g:?} {df}");
        }
    }
}

fn ddr4(acc_mhz: f64) -> DramModel {
    let cfg = accelsim_core::dram::DramConfig::preset("ddr4-3200").unwrap();
    DramModel::Cycle {
        config: Box::new(cfg),
        freq_mhz: acc_mhz,
    }
}

#[test]
fn the_cycle_level_dram_serves_the_same_traffic() {
    let mut rng = Lcg(17);
    for _ in 0..40 {
        let g = Gemm::new(
            rng.range(1, 80),
            rng.range(1, 80),
            rng.range(1, 80),
            rng.range(1, 2),
        )
        .unwrap();
        let df = Dataflow::ALL[rng.range(0, 2) as usize];
        let array = ArrayConfig::square_default(rng.range(1, 8) as u32, rng.range(1, 8) as u32, df)
            .unwrap();
        let m = MemoryConfig {
            dram: ddr4(1000.0),
            ..mem(8.0, 0, rng.range(0, 1) == 1, rng.range(0, 1) == 1)
        };
        let t = choose_tiling(&g, &array, &m).unwrap();
        let r = simulate_layer(&array, &m, &g, Some(t), false, &never_cancel).unwrap();
        let e = TrafficEstimate::of(&t, &g, &m);
        assert_eq!(r.mem.dram_read_bytes + r.mem.dram_write_bytes, e.total());
        let stalls = r.mem.stall_ifmap_cycles
            + r.mem.stall_filter_cycles
            + r.mem.stall_ofmap_cycles
            + r.mem.stall_bank_cycles
            + r.mem.stall_refresh_cycles;
        assert_eq!(r.mem.compute_cycles + stalls, r.array.cycles);
        let d = r.dram.expect("cycle-level DRAM statistics");
        // every byte moved as whole bursts: at least the transfers' bytes, at most one extra
        // burst at each end of every row
        assert!(d.bytes_read >= r.mem.dram_read_bytes, "{d:?}");
        assert!(d.bytes_written >= r.mem.dram_write_bytes, "{d:?}");
        assert_eq!(
            d.reads + d.writes,
            d.row_hits + d.row_misses + d.row_conflicts
        );
    }
}

#[test]
fn a_slower_accelerator_clock_sees_dram_as_faster() {
    // The same DRAM behind a 500 MHz accelerator costs fewer accelerator cycles than behind a
    // 2 GHz one; the DRAM work is the same.
    let array = ArrayConfig::square_default(8, 8, Dataflow::Ws).unwrap();
    let g = Gemm::new(256, 256, 256, 1).unwrap();
    let small = |x: BufferConfig| BufferConfig {
        size_bytes: 8 << 10,
        ..x
    };
    let base = mem(8.0, 0, true, true);
    let run = |mhz: f64| {
        let m = MemoryConfig {
            ifmap: small(base.ifmap),
            filter: small(base.filter),
            dram: ddr4(mhz),
            ..base.clone()
        };
        simulate_layer(&array, &m, &g, None, false, &never_cancel).unwrap()
    };
    let (slow, fast) = (run(500.0), run(2000.0));
    assert!(
        slow.array.cycles <= fast.array.cycles,
        "{} > {}",
        slow.array.cycles,
        fast.array.cycles
    );
    let dram_stalls = |r: &accelsim_core::memory::LayerResult| {
        r.mem.stall_ifmap_cycles + r.mem.stall_filter_cycles
    };
    assert!(dram_stalls(&slow) < dram_stalls(&fast));
    assert_eq!(slow.dram.unwrap().reads, fast.dram.unwrap().reads);
    assert!(
        fast.dram.unwrap().row_hit_rate > 0.5,
        "tiles are read row by row: {:?}",
        fast.dram
    );
}

#[test]
fn convolutions_read_input_windows_not_im2col_rows() {
    use accelsim_core::memory::{simulate_conv_layer, ActivationLayout, ConvGeometry, Layout};
    // 2 images, 8 channels, 10x10, 3x3 filters, stride 1, pad 1 -> 10x10; 16 filters.
    let conv = ConvGeometry {
        images: 2,
        c: 8,
        h: 10,
        w: 10,
        p: 10,
        q: 10,
        r: 3,
        s: 3,
        stride: (1, 1),
        pad: (1, 1),
        dilation: (1, 1),
    };
    let g = Gemm::new(200, 72, 16, 1).unwrap();
    let array = ArrayConfig::square_default(4, 4, Dataflow::Ws).unwrap();
    for activations in [ActivationLayout::Nhwc, ActivationLayout::Nchw] {
        let m = MemoryConfig {
            layout: Layout {
                activations,
                ..Layout::default()
            },
            ..mem(8.0, 10, true, true)
        };
        // one tile: the whole input is read exactly once, the output written once
        let whole = Tiling {
            m: 200,
            k: 72,
            n: 16,
            order: LoopOrder::Mnk,
        };
        let r = simulate_conv_layer(
            &array,
            &m,
            &g,
            Some(&conv),
            Some(whole),
            false,
            &never_cancel,
        )
        .unwrap();
        assert_eq!(r.mem.dram_ifmap_bytes, 2 * 8 * 10 * 10, "{activations}");
        assert_eq!(r.mem.dram_ofmap_bytes, 200 * 16, "{activations}");
        assert_eq!(
            r.mem.ifmap_sram_writes,
            200 * 72,
            "windows expanded into the buffer"
        );
        // any tiling reads no more than im2col rows would, and at least the input once
        let mut rng = Lcg(5);
        for _ in 0..50 {
            let t = Tiling {
                m: rng.range(1, 200),
                k: rng.range(1, 72),
                n: rng.range(1, 16),
                order: LoopOrder::ALL[rng.range(0, 5) as usize],
            };
            let r = simulate_conv_layer(&array, &m, &g, Some(&conv), Some(t), false, &never_cancel)
                .unwrap();
            let e = TrafficEstimate::of(&t, &g, &m);
            assert!(r.mem.dram_ifmap_bytes <= e.ifmap_bytes, "{t:?}");
            assert!(r.mem.dram_ifmap_bytes >= 2 * 8 * 10 * 10, "{t:?}");
            assert_eq!(r.mem.dram_filter_bytes, e.filter_bytes, "{t:?}");
            assert_eq!(r.mem.dram_ofmap_bytes, e.ofmap_bytes, "{t:?}");
            let stalls = r.mem.stall_ifmap_cycles
                + r.mem.stall_filter_cycles
                + r.mem.stall_ofmap_cycles
                + r.mem.stall_bank_cycles
                + r.mem.stall_refresh_cycles;
            assert_eq!(r.mem.compute_cycles + stalls, r.array.cycles);
        }
    }
    // a geometry that is not the GEMM's is an error naming the mismatch
    let err = simulate_conv_layer(
        &array,
        &mem(8.0, 0, true, true),
        &Gemm::new(199, 72, 16, 1).unwrap(),
        Some(&conv),
        None,
        false,
        &never_cancel,
    )
    .unwrap_err();
    assert!(err.to_string().contains("N*P*Q"), "{err}");
}

#[test]
fn refresh_is_a_stall_cause_of_its_own() {
    // A memory-bound layer long enough to span many tREFI (7.8 us): refresh costs cycles, and
    // they are moved out of the operand stalls, so the causes still add up.
    let array = ArrayConfig::square_default(8, 8, Dataflow::Ws).unwrap();
    let g = Gemm::new(512, 512, 512, 1).unwrap();
    let small = |x: BufferConfig| BufferConfig {
        size_bytes: 4 << 10,
        ..x
    };
    let base = mem(8.0, 0, true, true);
    let m = MemoryConfig {
        ifmap: small(base.ifmap),
        filter: small(base.filter),
        dram: ddr4(1000.0),
        ..base.clone()
    };
    let r = simulate_layer(&array, &m, &g, None, false, &never_cancel).unwrap();
    let d = r.dram.unwrap();
    assert!(d.refreshes > 0, "{d:?}");
    assert!(r.mem.stall_refresh_cycles > 0, "{:?}", r.mem);
    let stalls = r.mem.stall_ifmap_cycles
        + r.mem.stall_filter_cycles
        + r.mem.stall_ofmap_cycles
        + r.mem.stall_bank_cycles
        + r.mem.stall_refresh_cycles;
    assert_eq!(r.mem.compute_cycles + stalls, r.array.cycles);
    // the bandwidth model has no refresh
    let b = simulate_layer(
        &array,
        &MemoryConfig {
            dram: base.dram.clone(),
            ..m.clone()
        },
        &g,
        None,
        false,
        &never_cancel,
    )
    .unwrap();
    assert_eq!(b.mem.stall_refresh_cycles, 0);
}
