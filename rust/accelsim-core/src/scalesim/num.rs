//! Python's arithmetic, bit for bit: SCALE-Sim computes its report figures with Python ints and
//! floats, and the reports print them with `repr`, so every last digit depends on how each value
//! was rounded.

/// `a / b` for Python ints: the correctly rounded (round-half-even) double, as CPython's
/// `long_true_divide` returns it for any size of operands. `b` must not be zero.
pub(crate) fn int_div(a: u128, b: u128) -> f64 {
    debug_assert!(b != 0);
    if a == 0 {
        return 0.0;
    }
    const EXACT: u128 = 1 << 53;
    if a < EXACT && b < EXACT {
        // Both convert exactly, and IEEE division rounds the exact quotient once.
        return a as f64 / b as f64;
    }
    let bits = |x: u128| 128 - i64::from(x.leading_zeros());
    // Scale so the integer quotient has 55 or 56 bits: enough for a guard bit and a sticky bit.
    let shift = 55 - (bits(a) - bits(b));
    let (q, rem_nonzero) = if shift >= 0 {
        // a << shift fits: bits(a) + shift = 55 + bits(b) <= 128 for b < 2^73.
        let num = a << shift;
        (num / b, num % b != 0)
    } else {
        let s = (-shift) as u32;
        let lost = a & ((1u128 << s) - 1) != 0;
        let num = a >> s;
        (num / b, lost || num % b != 0)
    };
    let extra = bits(q) - 53;
    let mut m = q >> extra;
    let rem = q & ((1u128 << extra) - 1);
    let half = 1u128 << (extra - 1);
    if rem > half || (rem == half && (rem_nonzero || m & 1 == 1)) {
        m += 1;
    }
    // m <= 2^53 is exact in a double, and scaling by a power of two is exact here.
    (m as f64) * 2f64.powi((extra - shift) as i32)
}

/// Python's `sum()` of a list of floats as CPython 3.11 and earlier compute it: left to right,
/// plain double additions (3.12 switched to compensated summation, see `docs/scalesim.md`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PySum {
    value: f64,
    count: u64,
}

impl PySum {
    pub(crate) fn add(&mut self, x: f64) {
        // sum() starts from the int 0; 0 + x is x exactly, so the first term is taken as is.
        self.value = if self.count == 0 { x } else { self.value + x };
        self.count += 1;
    }

    /// `sum(values) / len(values)`, the mean SCALE-Sim reports.
    pub(crate) fn mean(&self) -> f64 {
        self.value / self.count as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_operands_divide_like_ieee() {
        assert_eq!(int_div(1, 3), 1.0 / 3.0);
        assert_eq!(
            int_div(113_836_800 * 100, 121_939 * 1024),
            91.16750998450044
        );
        assert_eq!(int_div(0, 7), 0.0);
    }

    #[test]
    fn large_operands_round_once() {
        // 2^60 + 1 over 3: the exact quotient rounded once (a double rounding via f64
        // conversions would give a different last bit for some of these).
        for (a, b) in [
            ((1u128 << 60) + 1, 3u128),
            ((1u128 << 70) + 12345, 1_000_003),
            (u128::from(u64::MAX), 7),
            ((1u128 << 54) + 1, 2),
        ] {
            let got = int_div(a, b);
            // Check against the definition: |got - a/b| is at most half an ulp, with
            // exact integer arithmetic on got's significand.
            let (mant, exp) = decompose(got);
            let lo = (mant as i128 * 2 - 1, exp - 1);
            let hi = (mant as i128 * 2 + 1, exp - 1);
            assert!(cmp_scaled(lo, a, b) <= 0, "{a}/{b} -> {got}");
            assert!(cmp_scaled(hi, a, b) >= 0, "{a}/{b} -> {got}");
        }
        assert_eq!(int_div((1u128 << 54) + 2, 2), ((1u64 << 53) + 1) as f64);
    }

    fn decompose(x: f64) -> (u64, i32) {
        let bits = x.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i32 - 1075;
        (bits & ((1 << 52) - 1) | (1 << 52), exp)
    }

    /// sign of m * 2^e - a/b, i.e. of m * b * 2^e - a.
    fn cmp_scaled((m, e): (i128, i32), a: u128, b: u128) -> i32 {
        let lhs = m * b as i128;
        let (l, r) = if e >= 0 {
            (lhs << e, a as i128)
        } else {
            (lhs, (a as i128) << (-e))
        };
        (l > r) as i32 - (l < r) as i32
    }

    #[test]
    fn sum_is_left_to_right() {
        let mut s = PySum::default();
        for x in [0.1, 0.2, 0.3] {
            s.add(x);
        }
        assert_eq!(s.mean(), ((0.1 + 0.2) + 0.3) / 3.0);
    }
}
