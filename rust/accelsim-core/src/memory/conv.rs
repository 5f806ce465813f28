//! Where a convolution's activations live in DRAM, and which bytes a tile of its im2col GEMM
//! touches there.
//!
//! A convolution runs as the GEMM `M = N*P*Q`, `K = C*R*S` (per group), `N = filters per group`.
//! The DMA engine does not read im2col rows from DRAM (that would read every input pixel up to
//! `R*S` times): for an ifmap tile it reads the input region the tile's windows cover, once,
//! and expands the windows as it writes the scratchpad (the buffer holds the tile's `M_t x K_t`
//! words, as for any GEMM). Outputs are written in the activation layout too.

use super::backend::Transfer;
use crate::error::{Error, Result};
use crate::gemm::Gemm;
use std::fmt;
use std::str::FromStr;

/// How activations (ifmap and ofmap tensors) are laid out in DRAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ActivationLayout {
    /// Channels innermost: `((n * H + h) * W + w) * C + c`.
    #[default]
    Nhwc,
    /// Rows innermost: `((n * C + c) * H + h) * W + w`.
    Nchw,
}

impl ActivationLayout {
    pub const NAMES: [&'static str; 2] = ["nhwc", "nchw"];

    pub fn name(self) -> &'static str {
        match self {
            ActivationLayout::Nhwc => "nhwc",
            ActivationLayout::Nchw => "nchw",
        }
    }
}

impl FromStr for ActivationLayout {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nhwc" => Ok(ActivationLayout::Nhwc),
            "nchw" => Ok(ActivationLayout::Nchw),
            _ => Err(Error::config(
                "activation_layout",
                format!("unknown layout '{s}'; valid choices: nhwc, nchw"),
            )),
        }
    }
}

impl fmt::Display for ActivationLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The shape of a convolution behind a GEMM: `images` x `c` (channels per group) x `h` x `w`
/// in, `p` x `q` out, `r` x `s` filters; stride, padding (top, left) and dilation as (rows,
/// columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    pub images: u64,
    pub c: u64,
    pub h: u64,
    pub w: u64,
    pub p: u64,
    pub q: u64,
    pub r: u64,
    pub s: u64,
    pub stride: (u64, u64),
    pub pad: (u64, u64),
    pub dilation: (u64, u64),
}

/// An inclusive range of input coordinates, clamped to the tensor (`None`: only padding).
fn span(
    (out_lo, out_hi): (u64, u64),
    (k_lo, k_hi): (u64, u64),
    stride: u64,
    dil: u64,
    pad: u64,
    size: u64,
) -> Option<(u64, u64)> {
    let lo = (out_lo * stride + k_lo * dil) as i128 - pad as i128;
    let hi = (out_hi * stride + k_hi * dil) as i128 - pad as i128;
    if hi < 0 || lo >= size as i128 {
        return None;
    }
    Some((lo.max(0) as u64, hi.min(size as i128 - 1) as u64))
}

impl ConvGeometry {
    /// The GEMM must be this convolution's im2col view.
    pub fn check(&self, g: &Gemm) -> Result<()> {
        let field = "conv";
        for (name, v) in [
            ("images", self.images),
            ("c", self.c),
            ("h", self.h),
            ("w", self.w),
            ("p", self.p),
            ("q", self.q),
            ("r", self.r),
            ("s", self.s),
            ("stride", self.stride.0.min(self.stride.1)),
            ("dilation", self.dilation.0.min(self.dilation.1)),
        ] {
            if v == 0 {
                return Err(Error::workload(
                    &format!("{field}.{name}"),
                    "must be at least 1",
                ));
            }
        }
        if self.images * self.p * self.q != g.m {
            return Err(Error::workload(
                "conv",
                format!(
                    "N*P*Q = {} but the GEMM's M is {}",
                    self.images * self.p * self.q,
                    g.m
                ),
            ));
        }
        if self.c * self.r * self.s != g.k {
            return Err(Error::workload(
                "conv",
                format!(
                    "C*R*S = {} but the GEMM's K is {}",
                    self.c * self.r * self.s,
                    g.k
                ),
            ));
        }
        Ok(())
    }

    /// The DRAM blocks an ifmap tile (GEMM rows `m0..m0+mt`, columns `k0..k0+kt` of group
    /// `group`) reads: per image, the bounding box of its windows' input pixels and channels.
    #[allow(clippy::too_many_arguments)]
    pub fn ifmap_blocks(
        &self,
        layout: ActivationLayout,
        base: u64,
        groups: u64,
        group: u64,
        (m0, mt): (u64, u64),
        (k0, kt): (u64, u64),
        word: u64,
    ) -> Vec<Transfer> {
        let mut out = Vec::new();
        self.ifmap_blocks_into(
            layout,
            base,
            groups,
            group,
            (m0, mt),
            (k0, kt),
            word,
            &mut out,
        );
        out
    }

    /// [`Self::ifmap_blocks`] appended to `out` (no allocation once `out` has room).
    #[allow(clippy::too_many_arguments)]
    pub fn ifmap_blocks_into(
        &self,
        layout: ActivationLayout,
        base: u64,
        groups: u64,
        group: u64,
        (m0, mt): (u64, u64),
        (k0, kt): (u64, u64),
        word: u64,
        out: &mut Vec<Transfer>,
    ) {
        let rs = self.r * self.s;
        let (c_lo, c_hi) = (k0 / rs, (k0 + kt - 1) / rs);
        // Filter taps the K range covers (all of them once it spans two channels).
        let (r_lo, r_hi, s_lo, s_hi) = if c_lo == c_hi {
            let (a, b) = (k0 % rs, (k0 + kt - 1) % rs);
            if a / self.s == b / self.s {
                (a / self.s, b / self.s, a % self.s, b % self.s)
            } else {
                (a / self.s, b / self.s, 0, self.s - 1)
            }
        } else {
            (0, self.r - 1, 0, self.s - 1)
        };
        let c_total = groups * self.c;
        let (cg_lo, c_count) = (group * self.c + c_lo, c_hi - c_lo + 1);
        let pq = self.p * self.q;
        for img in m0 / pq..=(m0 + mt - 1) / pq {
            let lo = m0.max(img * pq) - img * pq;
            let hi = (m0 + mt).min((img + 1) * pq) - 1 - img * pq;
            let (p_lo, p_hi) = (lo / self.q, hi / self.q);
            let (q_lo, q_hi) = if p_lo == p_hi {
                (lo % self.q, hi % self.q)
            } else {
                (0, self.q - 1)
            };
            let rows = span(
                (p_lo, p_hi),
                (r_lo, r_hi),
                self.stride.0,
                self.dilation.0,
                self.pad.0,
                self.h,
            );
            let cols = span(
                (q_lo, q_hi),
                (s_lo, s_hi),
                self.stride.1,
                self.dilation.1,
                self.pad.1,
                self.w,
            );
            let (Some((h0, h1)), Some((w0, w1))) = (rows, cols) else {
                continue;
            };
            let (hn, wn) = (h1 - h0 + 1, w1 - w0 + 1);
            out.push(match layout {
                ActivationLayout::Nhwc => {
                    let addr =
                        base + (((img * self.h + h0) * self.w + w0) * c_total + cg_lo) * word;
                    if c_count == c_total {
                        // whole pixels: each input row's span is contiguous
                        Transfer::block(addr, hn, wn * c_total * word, self.w * c_total * word)
                    } else {
                        Transfer {
                            planes: hn,
                            plane_stride: self.w * c_total * word,
                            ..Transfer::block(addr, wn, c_count * word, c_total * word)
                        }
                    }
                }
                ActivationLayout::Nchw => {
                    let addr =
                        base + (((img * c_total + cg_lo) * self.h + h0) * self.w + w0) * word;
                    Transfer {
                        planes: c_count,
                        plane_stride: self.h * self.w * word,
                        ..Transfer::block(addr, hn, wn * word, self.w * word)
                    }
                }
            });
        }
    }

    /// The DRAM blocks an output tile (GEMM rows `m0..m0+mt`, columns `n0..n0+nt` of group
    /// `group`, `n_per_group` filters per group) is written to.
    #[allow(clippy::too_many_arguments)]
    pub fn ofmap_blocks(
        &self,
        layout: ActivationLayout,
        base: u64,
        groups: u64,
        n_per_group: u64,
        group: u64,
        (m0, mt): (u64, u64),
        (n0, nt): (u64, u64),
        word: u64,
    ) -> Vec<Transfer> {
        let mut out = Vec::new();
        self.ofmap_blocks_into(
            layout,
            base,
            groups,
            n_per_group,
            group,
            (m0, mt),
            (n0, nt),
            word,
            &mut out,
        );
        out
    }

    /// [`Self::ofmap_blocks`] appended to `out` (no allocation once `out` has room).
    #[allow(clippy::too_many_arguments)]
    pub fn ofmap_blocks_into(
        &self,
        layout: ActivationLayout,
        base: u64,
        groups: u64,
        n_per_group: u64,
        group: u64,
        (m0, mt): (u64, u64),
        (n0, nt): (u64, u64),
        word: u64,
        out: &mut Vec<Transfer>,
    ) {
        let k_total = groups * n_per_group;
        let k0 = group * n_per_group + n0;
        match layout {
            // out[m][k] with m = (n*P + p)*Q + q is exactly NHWC
            ActivationLayout::Nhwc => out.push(Transfer::block(
                base + (m0 * k_total + k0) * word,
                mt,
                nt * word,
                k_total * word,
            )),
            ActivationLayout::Nchw => {
                let pq = self.p * self.q;
                out.extend((m0 / pq..=(m0 + mt - 1) / pq).map(|img| {
                    let lo = m0.max(img * pq) - img * pq;
                    let hi = (m0 + mt).min((img + 1) * pq) - img * pq;
                    let addr = base + ((img * k_total + k0) * pq + lo) * word;
                    Transfer {
                        planes: 1,
                        ..Transfer::block(addr, nt, (hi - lo) * word, pq * word)
                    }
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 image, 4 channels, 6x6 in, 3x3 filters, stride 1, pad 1: 6x6 out.
    fn conv3() -> ConvGeometry {
        ConvGeometry {
            images: 1,
            c: 4,
            h: 6,
            w: 6,
            p: 6,
            q: 6,
            r: 3,
            s: 3,
            stride: (1, 1),
            pad: (1, 1),
            dilation: (1, 1),
        }
    }

    #[test]
    fn a_whole_layer_reads_the_input_once() {
        let g = conv3();
        g.check(&Gemm::new(36, 36, 8, 1).unwrap()).unwrap();
        for layout in [ActivationLayout::Nhwc, ActivationLayout::Nchw] {
            let b = g.ifmap_blocks(layout, 0, 1, 0, (0, 36), (0, 36), 1);
            let bytes: u64 = b.iter().map(Transfer::bytes).sum();
            assert_eq!(bytes, 6 * 6 * 4, "{layout}"); // not 36 x 36 im2col bytes
        }
    }

    #[test]
    fn a_tile_reads_its_windows_bounding_box() {
        let g = conv3();
        // output row 2 (m 12..18), channel 1 only (k 9..18): input rows 1..3, all columns
        let b = g.ifmap_blocks(ActivationLayout::Nhwc, 0, 1, 0, (12, 6), (9, 9), 1);
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].planes, b[0].rows, b[0].row_bytes), (3, 6, 1));
        assert_eq!(b[0].addr, 6 * 4 + 1); // pixel (1, 0), channel 1
        let b = g.ifmap_blocks(ActivationLayout::Nchw, 0, 1, 0, (12, 6), (9, 9), 1);
        assert_eq!((b[0].planes, b[0].rows, b[0].row_bytes), (1, 3, 6));
        assert_eq!(b[0].addr, 36 + 6); // channel 1, row 1
                                       // the top output row with a single tap r=0 touches only padding: nothing to read
        assert!(g
            .ifmap_blocks(ActivationLayout::Nhwc, 0, 1, 0, (0, 6), (0, 3), 1)
            .is_empty());
    }

    #[test]
    fn outputs_in_both_layouts_cover_the_tile_once() {
        let g = conv3();
        for layout in [ActivationLayout::Nhwc, ActivationLayout::Nchw] {
            let b = g.ofmap_blocks(layout, 0, 2, 8, 1, (10, 20), (3, 4), 1);
            let bytes: u64 = b.iter().map(Transfer::bytes).sum();
            assert_eq!(bytes, 20 * 4, "{layout}");
        }
        let b = g.ofmap_blocks(ActivationLayout::Nchw, 0, 1, 8, 0, (0, 36), (2, 1), 1);
        assert_eq!((b[0].addr, b[0].rows, b[0].row_bytes), (2 * 36, 1, 36));
    }
}
