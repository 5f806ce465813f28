//! A layer as SCALE-Sim 3.0.0 sees it (`topology_utils.py`, `compute/operand_matrix.py`): a
//! convolution without padding, lowered by im2col to `ifmap[M, K] @ filter[K, N]`.

use crate::error::{Error, Result};

/// Largest accepted layer dimension: keeps every product in u64 and every address in u64.
pub const MAX_LAYER_DIM: u64 = 1 << 31;

/// One row of a SCALE-Sim topology, after its readers' conventions: a GEMM row `M, N, K` is the
/// convolution `ifmap M x K, filter 1 x K, 1 channel, N filters, stride 1`, and a depthwise row
/// (`DP` in its name) has already been split into one single-channel layer per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layer {
    pub ifmap_h: u64,
    pub ifmap_w: u64,
    pub filter_h: u64,
    pub filter_w: u64,
    pub channels: u64,
    pub filters: u64,
    pub stride_h: u64,
    pub stride_w: u64,
}

impl Layer {
    /// A convolution layer; every dimension >= 1 and the filter no larger than the ifmap
    /// (SCALE-Sim asserts the same: `topology_utils.append_topo_arrays`, its ISSUE #9 fix).
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        ifmap_h: u64,
        ifmap_w: u64,
        filter_h: u64,
        filter_w: u64,
        channels: u64,
        filters: u64,
        stride_h: u64,
        stride_w: u64,
    ) -> Result<Self> {
        let l = Layer {
            ifmap_h,
            ifmap_w,
            filter_h,
            filter_w,
            channels,
            filters,
            stride_h,
            stride_w,
        };
        for (field, v) in [
            ("ifmap_h", ifmap_h),
            ("ifmap_w", ifmap_w),
            ("filter_h", filter_h),
            ("filter_w", filter_w),
            ("channels", channels),
            ("filters", filters),
            ("stride_h", stride_h),
            ("stride_w", stride_w),
        ] {
            if v == 0 || v > MAX_LAYER_DIM {
                return Err(Error::workload(
                    field,
                    format!("{v} is out of range; it must be an integer from 1 to {MAX_LAYER_DIM}"),
                ));
            }
        }
        if filter_h > ifmap_h {
            return Err(Error::workload(
                "filter_h",
                format!("filter height {filter_h} is larger than the ifmap height {ifmap_h}"),
            ));
        }
        if filter_w > ifmap_w {
            return Err(Error::workload(
                "filter_w",
                format!("filter width {filter_w} is larger than the ifmap width {ifmap_w}"),
            ));
        }
        let window = filter_h * filter_w;
        let too_big = window
            .checked_mul(channels)
            .and_then(|k| k.checked_mul(l.m())?.checked_mul(filters))
            .and_then(|macs| macs.checked_mul(100))
            .is_none()
            || ifmap_h
                .checked_mul(ifmap_w)
                .and_then(|x| x.checked_mul(channels))
                .is_none();
        if too_big {
            return Err(Error::workload(
                "ifmap_h",
                "the layer's MAC count overflows a 64-bit counter",
            ));
        }
        Ok(l)
    }

    /// SCALE-Sim's GEMM row `M, N, K` (`topology_utils.load_arrays_gemm`): the convolution
    /// `[M, K, 1, K, 1, N, 1, 1]`, whose im2col operands are `A[M, K]` and `B[K, N]` with
    /// `A[m][k]` at address `m*K + k`.
    pub fn gemm(m: u64, n: u64, k: u64) -> Result<Self> {
        for (field, v) in [("m", m), ("n", n), ("k", k)] {
            if v == 0 || v > MAX_LAYER_DIM {
                return Err(Error::workload(
                    field,
                    format!("{v} is out of range; it must be an integer from 1 to {MAX_LAYER_DIM}"),
                ));
            }
        }
        Layer::conv(m, k, 1, k, 1, n, 1, 1)
    }

    /// Output height, `ceil((H - R + S) / S)`: a valid convolution (no padding) whose last
    /// window may hang over the edge (`topology_utils.topo_calc_hyperparams`). Windows that hang
    /// over read address -1, "no request" (`operand_matrix.calc_ifmap_elem_addr`).
    pub fn ofmap_h(&self) -> u64 {
        (self.ifmap_h - self.filter_h + self.stride_h).div_ceil(self.stride_h)
    }

    /// Output width, `ceil((W - S_w + stride) / stride)`.
    pub fn ofmap_w(&self) -> u64 {
        (self.ifmap_w - self.filter_w + self.stride_w).div_ceil(self.stride_w)
    }

    /// Rows of the ifmap operand: output pixels per filter, `E_h * E_w`.
    pub fn m(&self) -> u64 {
        self.ofmap_h() * self.ofmap_w()
    }

    /// The convolution window, `R * S * C`: columns of the ifmap operand, rows of the filter's.
    pub fn k(&self) -> u64 {
        self.filter_h * self.filter_w * self.channels
    }

    /// Filters: columns of the filter and ofmap operands.
    pub fn n(&self) -> u64 {
        self.filters
    }

    /// `M * K * N`, what SCALE-Sim's overall utilization counts as compute
    /// (`num_ofmap_px * window_size` in `single_layer_sim.run`).
    pub fn macs(&self) -> u64 {
        self.m() * self.k() * self.n()
    }
}

/// The im2col ifmap operand's addresses without materializing it: entry `(pixel, j)` is the
/// word of the ifmap (HWC layout) that output pixel `pixel` reads at window position `j`, or
/// `None` (-1 in SCALE-Sim) when the window hangs over the ifmap's edge.
pub(crate) struct IfmapAddresses {
    height: u64,
    width: u64,
    /// Per output pixel: top-left ifmap row and column of its window, and its base address.
    pixels: Vec<(u32, u32, u64)>,
    /// Per window position: row and column offset within the window, and address offset.
    window: Vec<(u32, u32, u64)>,
}

impl IfmapAddresses {
    pub(crate) fn new(l: &Layer) -> Self {
        let (ew, c, w) = (l.ofmap_w(), l.channels, l.ifmap_w);
        let pixels = (0..l.m())
            .map(|p| {
                let (row, col) = (p / ew * l.stride_h, p % ew * l.stride_w);
                (row as u32, col as u32, (row * w + col) * c)
            })
            .collect();
        let window = (0..l.k())
            .map(|j| {
                let (r, rest) = (j / (l.filter_w * c), j % (l.filter_w * c));
                let (s, ch) = (rest / c, rest % c);
                (r as u32, s as u32, (r * w + s) * c + ch)
            })
            .collect();
        IfmapAddresses {
            height: l.ifmap_h,
            width: w,
            pixels,
            window,
        }
    }

    /// Distinct addresses: the ifmap's `H * W * C` words.
    pub(crate) fn space(l: &Layer) -> u64 {
        l.ifmap_h * l.ifmap_w * l.channels
    }

    #[inline]
    pub(crate) fn get(&self, pixel: u64, j: u64) -> Option<u64> {
        let (pr, pc, base) = self.pixels[pixel as usize];
        let (wr, wc, off) = self.window[j as usize];
        if u64::from(pr) + u64::from(wr) < self.height && u64::from(pc) + u64::from(wc) < self.width
        {
            Some(base + off)
        } else {
            None
        }
    }
}

/// The filter operand's address of `(j, n)`: filter `n`'s weights are contiguous
/// (`operand_matrix.calc_filter_elem_addr`); never -1.
#[inline]
pub(crate) fn filter_address(l: &Layer, j: u64, n: u64) -> u64 {
    n * l.k() + j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet18_conv1_shape() {
        let l = Layer::conv(224, 224, 7, 7, 3, 64, 2, 2).unwrap();
        assert_eq!((l.ofmap_h(), l.ofmap_w()), (110, 110));
        assert_eq!((l.m(), l.k(), l.n()), (12100, 147, 64));
        assert_eq!(l.macs(), 113_836_800);
    }

    #[test]
    fn gemm_rows_are_row_major_matrices() {
        let l = Layer::gemm(5, 3, 4).unwrap();
        assert_eq!((l.m(), l.k(), l.n()), (5, 4, 3));
        let a = IfmapAddresses::new(&l);
        for m in 0..5 {
            for k in 0..4 {
                assert_eq!(a.get(m, k), Some(m * 4 + k));
            }
        }
        assert_eq!(filter_address(&l, 2, 1), 6);
    }

    #[test]
    fn windows_hanging_over_the_edge_have_no_address() {
        // 9 wide, 2-wide filter, stride 2: ceil((9 - 2 + 2) / 2) = 5 columns, the last window
        // starts at column 8 and its second column (9) is outside.
        let l = Layer::conv(4, 9, 1, 2, 1, 1, 2, 2).unwrap();
        assert_eq!(l.ofmap_w(), 5);
        let a = IfmapAddresses::new(&l);
        assert_eq!(a.get(4, 0), Some(8));
        assert_eq!(a.get(4, 1), None);
        assert_eq!(a.get(3, 1), Some(7));
    }

    #[test]
    fn rejects_filters_larger_than_the_ifmap() {
        let err = Layer::conv(3, 3, 4, 1, 1, 1, 1, 1).unwrap_err();
        assert!(err.to_string().contains("filter_h"), "{err}");
        assert!(Layer::gemm(0, 1, 1).is_err());
    }
}
