//! Running a DRAM standalone from a request trace, and the text trace format.
//!
//! Format: one request per line, `<arrival_cycle> <R|W> <address>`; the address is decimal or
//! hexadecimal with `0x`; `#` starts a comment; blank lines are skipped.

use super::controller::{Dram, IssuedCommand};
use super::spec::DramConfig;
use super::stats::DramStats;
use crate::error::{Error, Result};
use crate::timing::{never_cancel, CancelHook};

/// One request of a trace: it arrives at DRAM cycle `arrival` and moves one burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceRequest {
    pub arrival: u64,
    pub addr: u64,
    pub write: bool,
}

/// The outcome of [`run_trace`].
#[derive(Debug, Clone)]
pub struct TraceResult {
    /// Statistics; `cycles` is the completion cycle of the last request.
    pub stats: DramStats,
    /// Completion cycle of each request, in trace order (see [`Dram`] for the definition).
    pub completion: Vec<u64>,
    /// Cycle each request entered its queue, in trace order (its arrival, or later when the
    /// queue was full).
    pub enqueued: Vec<u64>,
}

/// Run `trace` through a fresh DRAM built from `cfg`.
///
/// Requests are offered in order of arrival (ties in trace order; the trace need not be
/// sorted). The front end is in order: when a request finds its queue full it waits, and the
/// requests behind it wait too, until it is accepted.
pub fn run_trace(cfg: &DramConfig, trace: &[TraceRequest]) -> Result<TraceResult> {
    run_trace_cancellable(cfg, trace, &never_cancel)
}

/// [`run_trace`], polling `cancel` every few thousand events.
pub fn run_trace_cancellable(
    cfg: &DramConfig,
    trace: &[TraceRequest],
    cancel: CancelHook<'_>,
) -> Result<TraceResult> {
    Ok(run(cfg, trace, cancel, false)?.0)
}

/// [`run_trace`] with the log of every issued command (for tests and command traces).
pub fn run_trace_logged(
    cfg: &DramConfig,
    trace: &[TraceRequest],
) -> Result<(TraceResult, Vec<IssuedCommand>)> {
    run(cfg, trace, &never_cancel, true)
}

fn run(
    cfg: &DramConfig,
    trace: &[TraceRequest],
    cancel: CancelHook<'_>,
    log: bool,
) -> Result<(TraceResult, Vec<IssuedCommand>)> {
    let mut dram = Dram::new(cfg)?;
    dram.set_command_log(log);
    let n = trace.len();
    let sorted = trace.windows(2).all(|w| w[0].arrival <= w[1].arrival);
    let order: Vec<usize> = if sorted {
        Vec::new()
    } else {
        let mut o: Vec<usize> = (0..n).collect();
        o.sort_by_key(|&i| trace[i].arrival);
        o
    };
    let at = |k: usize| if sorted { k } else { order[k] };

    let mut completion = vec![u64::MAX; n];
    let mut enqueued = vec![u64::MAX; n];
    let mut done: Vec<(u64, u64)> = Vec::with_capacity(256);
    let mut remaining = n;
    let mut next = 0usize;
    let mut polls = 0u32;
    loop {
        dram.pop_completed(&mut done);
        for &(id, c) in &done {
            completion[id as usize] = c;
        }
        remaining -= done.len();
        done.clear();
        if remaining == 0 {
            break;
        }
        let mut blocked = false;
        while next < n {
            let k = at(next);
            let r = &trace[k];
            if r.arrival > dram.now() {
                break;
            }
            if !dram.can_send(r.addr, r.write) {
                blocked = true;
                break;
            }
            dram.try_send(r.addr, r.write, k as u64);
            enqueued[k] = dram.now();
            next += 1;
        }
        dram.tick();
        let mut target = dram.next_event();
        if !blocked && next < n {
            target = target.min(trace[at(next)].arrival);
        }
        if target == u64::MAX {
            return Err(Error::Simulation(format!(
                "the DRAM stalled at cycle {} with {remaining} requests unfinished",
                dram.now()
            )));
        }
        dram.skip_to(target);
        polls += 1;
        if polls % 4096 == 0 && cancel() {
            return Err(Error::Cancelled);
        }
    }
    let result = TraceResult {
        stats: dram.stats(),
        completion,
        enqueued,
    };
    Ok((result, dram.command_log().to_vec()))
}

fn parse_u64(tok: &str) -> Option<u64> {
    if let Some(hex) = tok.strip_prefix("0x").or_else(|| tok.strip_prefix("0X")) {
        u64::from_str_radix(&hex.replace('_', ""), 16).ok()
    } else {
        tok.replace('_', "").parse().ok()
    }
}

/// Parse the text trace format; errors are `Error::Workload` with field `<source>:<line>`.
pub fn parse_trace(text: &str, source: &str) -> Result<Vec<TraceRequest>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: &str| {
            Error::workload(
                &format!("{source}:{}", i + 1),
                format!("{why} in '{line}'; expected '<arrival_cycle> <R|W> <address>'"),
            )
        };
        let mut toks = line.split_whitespace();
        let (Some(a), Some(k), Some(addr), None) =
            (toks.next(), toks.next(), toks.next(), toks.next())
        else {
            return Err(bad("not three fields"));
        };
        let arrival = a
            .parse::<u64>()
            .map_err(|_| bad("the arrival cycle is not a non-negative integer"))?;
        let write = match k {
            "R" | "r" => false,
            "W" | "w" => true,
            _ => return Err(bad("the kind is neither R nor W")),
        };
        let addr = parse_u64(addr)
            .ok_or_else(|| bad("the address is not a decimal or 0x-hexadecimal integer"))?;
        out.push(TraceRequest {
            arrival,
            addr,
            write,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_format_and_names_bad_lines() {
        let t = parse_trace(
            "# header\n0 R 0x40\n\n  5 w 128   # a write\n7 R 0X1_000\n",
            "t.txt",
        )
        .unwrap();
        assert_eq!(
            t,
            [
                TraceRequest {
                    arrival: 0,
                    addr: 64,
                    write: false
                },
                TraceRequest {
                    arrival: 5,
                    addr: 128,
                    write: true
                },
                TraceRequest {
                    arrival: 7,
                    addr: 4096,
                    write: false
                },
            ]
        );
        for (text, why) in [
            ("0 R 0x40\n1 X 0\n", "neither R nor W"),
            ("0 R 0x40\n-1 R 0\n", "arrival"),
            ("0 R 0x40\n1 R zz\n", "address"),
            ("0 R 0x40\n1 R 0 9\n", "three fields"),
        ] {
            let err = parse_trace(text, "t.txt").unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(&err, Error::Workload { field, .. } if field == "t.txt:2"),
                "{msg}"
            );
            assert!(msg.contains(why), "{msg}");
        }
    }

    #[test]
    fn unsorted_traces_run_in_arrival_order() {
        let cfg = DramConfig::preset("ddr4-3200").unwrap();
        let trace = [
            TraceRequest {
                arrival: 100,
                addr: 0,
                write: false,
            },
            TraceRequest {
                arrival: 0,
                addr: 64,
                write: false,
            },
        ];
        let r = run_trace(&cfg, &trace).unwrap();
        assert_eq!(r.enqueued, [100, 0]);
        assert!(r.completion[1] < r.completion[0]);
        assert_eq!(r.stats.cycles, r.completion[0]);
        assert_eq!(run_trace(&cfg, &[]).unwrap().stats.cycles, 0);
    }
}
