//! Helpers shared by the integration tests (each test crate uses a subset).
#![allow(dead_code)]

/// A small deterministic generator (Knuth's MMIX LCG), so the sweeps need no dependency and
/// repeat exactly.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    pub fn i8(&mut self) -> i8 {
        self.next() as u8 as i8
    }

    pub fn coin(&mut self) -> bool {
        self.next() % 2 == 0
    }
}
