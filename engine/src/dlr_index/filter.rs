//! Split-block Bloom filter over fingerprints: each key sets one bit in each of the eight
//! 32-bit words of a single 32-byte block, so a probe touches one cache line.

/// Filter bits spent per entry: 12 bits = 1.5 B/entry, ≈ 0.5 % false positives.
pub(crate) const FILTER_BITS_PER_ENTRY: usize = 12;

const BLOCK_BITS: usize = 256;

/// Odd multipliers, one per word, that turn 32 hash bits into eight bit positions.
const SALTS: [u32; 8] = [
    0x9e37_79b1,
    0x85eb_ca77,
    0xc2b2_ae3d,
    0x27d4_eb2f,
    0x1656_67b1,
    0xd3a2_646d,
    0xfd70_46c5,
    0xb55a_4f09,
];

/// A read-mostly filter built once when a run is opened.
#[derive(Debug)]
pub(crate) struct BlockFilter {
    blocks: Box<[[u32; 8]]>,
}

impl BlockFilter {
    /// An empty filter sized for `entries` entries.
    pub(crate) fn with_entries(entries: usize) -> Self {
        let bits = entries.saturating_mul(FILTER_BITS_PER_ENTRY);
        let blocks = bits.div_ceil(BLOCK_BITS).clamp(1, u32::MAX as usize);
        Self {
            blocks: vec![[0u32; 8]; blocks].into_boxed_slice(),
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.blocks.len() * BLOCK_BITS / 8
    }

    fn block_of(&self, fp: u64) -> usize {
        // High 32 bits pick the block (multiply-shift), low 32 bits pick the bits.
        (((fp >> 32) * self.blocks.len() as u64) >> 32) as usize
    }

    fn masks(fp: u64) -> [u32; 8] {
        let low = fp as u32;
        SALTS.map(|salt| 1u32 << (low.wrapping_mul(salt) >> 27))
    }

    /// Records `fp`.
    pub(crate) fn insert(&mut self, fp: u64) {
        let at = self.block_of(fp);
        if let Some(block) = self.blocks.get_mut(at) {
            for (word, mask) in block.iter_mut().zip(Self::masks(fp)) {
                *word |= mask;
            }
        }
    }

    /// False when `fp` was certainly never inserted. Branch-free over the block's words, so
    /// that probes of many filters in a row overlap their cache misses.
    pub(crate) fn may_contain(&self, fp: u64) -> bool {
        self.blocks.get(self.block_of(fp)).is_some_and(|block| {
            block
                .iter()
                .zip(Self::masks(fp))
                .fold(true, |all_set, (word, mask)| all_set & (word & mask != 0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(i: u64) -> u64 {
        let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    #[test]
    fn filter_never_forgets_and_rarely_lies() {
        let n = 100_000u64;
        let mut filter = BlockFilter::with_entries(n as usize);
        (0..n).for_each(|i| filter.insert(mix(i)));
        assert!((0..n).all(|i| filter.may_contain(mix(i))));
        let false_positives = (n..2 * n).filter(|&i| filter.may_contain(mix(i))).count();
        // ≈ 0.5 % expected; 2 % leaves room for variance.
        assert!(false_positives < 2_000, "{false_positives} false positives");
        assert_eq!(filter.bytes(), (n as usize * 12).div_ceil(256) * 32);
    }

    #[test]
    fn empty_filter_rejects_everything() {
        let filter = BlockFilter::with_entries(0);
        assert!(!filter.may_contain(12345));
    }
}
