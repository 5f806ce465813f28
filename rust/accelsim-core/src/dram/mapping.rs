//! Address mapping: a byte address to channel, rank, bank group, bank, row and column.
//!
//! The offset inside a burst is dropped first; the remaining burst index is taken modulo the
//! capacity (addresses wrap) and sliced into fields, least significant field first. Names read
//! most significant field first, as in Ramulator: `RoBaRaCoCh` is row : bank : rank : column :
//! channel with the channel in the lowest bits. Where a name has `Ba` but no `Bg`, `Ba` is the
//! bank index within the rank with the bank-group bits in its low part.

use super::spec::Organization;
use crate::config::named_enum;

named_enum!(
    /// The address mappings, named most significant field first.
    Mapping, "mapping", {
        /// Row : bank : rank : column : channel. Consecutive bursts stay in one row of one bank
        /// (one bank group), so a sequential stream is bound by tCCD_L.
        RoBaRaCoCh => "RoBaRaCoCh",
        /// Row : column : bank : rank : channel (Ramulator's RoCoBaRaCh). Consecutive bursts
        /// move to the next rank, then the next bank group.
        RoCoBaRaCh => "RoCoBaRaCh",
        /// Row : rank : column : bank : bank group : channel. Consecutive bursts go to
        /// different bank groups, then banks, then columns: a sequential stream runs at tCCD_S.
        RoRaCoBaBgCh => "RoRaCoBaBgCh",
        /// Channel : rank : bank : row : column (Ramulator 2's default). Consecutive bursts stay
        /// in one row; channels are the most significant bits.
        ChRaBaRoCo => "ChRaBaRoCo",
    }
);

/// Where a burst lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Location {
    pub channel: u32,
    pub rank: u32,
    pub bank_group: u32,
    /// Bank within its bank group.
    pub bank: u32,
    pub row: u32,
    /// Column in bursts (column address / burst length).
    pub column: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Ch,
    Ra,
    Bg,
    Ba,
    Ro,
    Co,
}

impl Mapping {
    /// Fields from the least significant bits up.
    fn fields(self) -> [Field; 6] {
        use Field::*;
        match self {
            Mapping::RoBaRaCoCh => [Ch, Co, Ra, Bg, Ba, Ro],
            Mapping::RoCoBaRaCh => [Ch, Ra, Bg, Ba, Co, Ro],
            Mapping::RoRaCoBaBgCh => [Ch, Bg, Ba, Co, Ra, Ro],
            Mapping::ChRaBaRoCo => [Co, Ro, Bg, Ba, Ra, Ch],
        }
    }
}

/// Decodes byte addresses for one organization and mapping.
#[derive(Debug, Clone)]
pub struct AddressMapper {
    /// log2(burst bytes).
    offset_bits: u32,
    /// Fields least significant first, with their bit widths.
    fields: [(Field, u32); 6],
    /// The same as (field, shift, mask), for decoding.
    slices: [(Field, u32, u64); 6],
    /// Bursts in the whole memory minus one (a mask: the capacity is a power of two).
    mask: u64,
}

fn bits(n: u64) -> u32 {
    n.trailing_zeros()
}

impl AddressMapper {
    /// `org` must be validated (every count a power of two).
    pub fn new(org: &Organization, mapping: Mapping) -> Self {
        let width = |f: Field| match f {
            Field::Ch => bits(org.channels as u64),
            Field::Ra => bits(org.ranks as u64),
            Field::Bg => bits(org.bank_groups as u64),
            Field::Ba => bits(org.banks_per_group as u64),
            Field::Ro => bits(org.rows as u64),
            Field::Co => bits(org.bursts_per_row()),
        };
        let fields = mapping.fields().map(|f| (f, width(f)));
        let total: u32 = fields.iter().map(|&(_, w)| w).sum();
        let mut slices = [(Field::Ch, 0, 0); 6];
        let mut shift = 0;
        for (k, &(f, w)) in fields.iter().enumerate() {
            slices[k] = (f, shift, (1u64 << w) - 1);
            shift += w;
        }
        AddressMapper {
            offset_bits: bits(org.burst_bytes()),
            fields,
            slices,
            mask: if total >= 64 {
                u64::MAX
            } else {
                (1u64 << total) - 1
            },
        }
    }

    /// Where the burst holding byte `addr` lives.
    #[inline]
    pub fn decode(&self, addr: u64) -> Location {
        let a = (addr >> self.offset_bits) & self.mask;
        let mut v = [0u32; 6];
        for &(f, shift, mask) in &self.slices {
            v[f as usize] = ((a >> shift) & mask) as u32;
        }
        Location {
            channel: v[Field::Ch as usize],
            rank: v[Field::Ra as usize],
            bank_group: v[Field::Bg as usize],
            bank: v[Field::Ba as usize],
            row: v[Field::Ro as usize],
            column: v[Field::Co as usize],
        }
    }

    /// The byte address of the first byte of the burst at `loc` (the inverse of `decode`).
    pub fn encode(&self, loc: &Location) -> u64 {
        let mut a = 0u64;
        let mut shift = 0;
        for &(f, w) in &self.fields {
            let v = match f {
                Field::Ch => loc.channel,
                Field::Ra => loc.rank,
                Field::Bg => loc.bank_group,
                Field::Ba => loc.bank,
                Field::Ro => loc.row,
                Field::Co => loc.column,
            } as u64;
            a |= (v & ((1u64 << w) - 1)) << shift;
            shift += w;
        }
        a << self.offset_bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dram::DramConfig;

    #[test]
    fn names_parse_case_insensitively_and_round_trip() {
        assert_eq!(
            "robaracoch".parse::<Mapping>().unwrap(),
            Mapping::RoBaRaCoCh
        );
        for m in Mapping::ALL {
            assert_eq!(m.name().parse::<Mapping>().unwrap(), *m);
        }
    }

    #[test]
    fn encode_inverts_decode_for_every_mapping() {
        for preset in ["ddr4-3200", "lpddr4-3200", "hbm2"] {
            let mut cfg = DramConfig::preset(preset).unwrap();
            cfg.org.ranks = 2;
            for m in Mapping::ALL {
                let am = AddressMapper::new(&cfg.org, *m);
                let bb = cfg.burst_bytes();
                for k in [0u64, 1, 2, 3, 17, 1000, 123_457, 1 << 20, (1 << 26) + 5] {
                    let addr = (k * bb) % cfg.org.capacity_bytes();
                    assert_eq!(am.encode(&am.decode(addr)), addr, "{m} {addr}");
                    // Bytes inside a burst map to the same place.
                    assert_eq!(am.decode(addr + bb - 1), am.decode(addr));
                }
            }
        }
    }

    #[test]
    fn sequential_bursts_walk_the_expected_field() {
        let cfg = DramConfig::preset("ddr4-3200").unwrap();
        let rbc = AddressMapper::new(&cfg.org, Mapping::RoBaRaCoCh);
        let bg = AddressMapper::new(&cfg.org, Mapping::RoRaCoBaBgCh);
        let (a, b) = (rbc.decode(0), rbc.decode(64));
        assert_eq!((a.bank_group, a.bank, a.column), (0, 0, 0));
        assert_eq!((b.bank_group, b.bank, b.column), (0, 0, 1));
        // After a whole row (128 bursts of 64 B) the next bank group.
        assert_eq!(rbc.decode(128 * 64).bank_group, 1);
        let locs: Vec<Location> = (0..5).map(|i| bg.decode(i * 64)).collect();
        assert_eq!(
            locs.iter().map(|l| l.bank_group).collect::<Vec<_>>(),
            [0, 1, 2, 3, 0]
        );
        assert_eq!(locs[4].bank, 1);
        // Addresses beyond the capacity wrap.
        assert_eq!(bg.decode(8 << 30), bg.decode(0));
    }
}
