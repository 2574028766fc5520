//! Keys, their 64-bit fingerprints and the shard a key belongs to.

use thiserror::Error;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Longest ID2 accepted, in bytes: SMPP's `message_id` is a C-octet string of at most 65
/// octets including its NUL.
pub const ID2_LEN_MAX: usize = 64;

/// Seed of the fingerprint hash. Part of the on-disk format: runs written under one seed are
/// unreadable under another, so changing it means bumping [`super::run::RUN_VERSION`].
const FINGERPRINT_SEED: u64 = 0x7465_726e_646c_7231; // "terndlr1"

/// Stands in for a hash that came out as 0, which marks an empty slot.
const FINGERPRINT_ZERO_REMAP: u64 = 0x9e37_79b9_7f4a_7c15;

/// Salt that decorrelates the shard choice from the fingerprint bits the tables and filters use.
const SHARD_SALT: u64 = 0x2545_f491_4f6c_dd1d;

/// A key was rejected before it could be hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum KeyError {
    /// The ID2 is longer than [`ID2_LEN_MAX`].
    #[error("ID2 is {len_bytes} bytes, longer than {ID2_LEN_MAX}")]
    Id2TooLong {
        /// Length of the rejected ID2.
        len_bytes: usize,
    },
}

/// A receipt key: the connector the message left on and the SMSC's id (ID2), already
/// normalised by that connector (hex/decimal, case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key<'a> {
    connector: u32,
    id2: &'a [u8],
}

impl<'a> Key<'a> {
    /// Builds a key; an ID2 longer than [`ID2_LEN_MAX`] is refused, since a peer controls it.
    pub fn new(connector: u32, id2: &'a [u8]) -> Result<Self, KeyError> {
        if id2.len() > ID2_LEN_MAX {
            return Err(KeyError::Id2TooLong {
                len_bytes: id2.len(),
            });
        }
        Ok(Self { connector, id2 })
    }

    /// The connector id of this key.
    pub fn connector(&self) -> u32 {
        self.connector
    }

    /// The ID2 bytes of this key.
    pub fn id2(&self) -> &'a [u8] {
        self.id2
    }

    /// The key's fingerprint: xxh3 of `connector (LE) ‖ id2` under a fixed seed.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut buf = [0u8; 4 + ID2_LEN_MAX];
        let len = 4 + self.id2.len();
        let (head, tail) = buf.split_at_mut(4);
        head.copy_from_slice(&self.connector.to_le_bytes());
        // `new` bounds id2 to ID2_LEN_MAX, so `tail` (ID2_LEN_MAX long) always fits it.
        if let Some(dst) = tail.get_mut(..self.id2.len()) {
            dst.copy_from_slice(self.id2);
        }
        let hashed = buf
            .get(..len)
            .map_or(0, |b| xxh3_64_with_seed(b, FINGERPRINT_SEED));
        Fingerprint::from_hash(hashed)
    }
}

/// A 64-bit fingerprint of a [`Key`], never 0. The index stores only this, not the key: two
/// keys share a fingerprint with probability 2^-64 per pair, which the engine tolerates
/// because it checks every match against the message record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// Wraps a raw hash, remapping 0 (the empty-slot marker) to a fixed non-zero value.
    pub fn from_hash(hash: u64) -> Self {
        if hash == 0 {
            Self(FINGERPRINT_ZERO_REMAP)
        } else {
            Self(hash)
        }
    }

    /// The raw non-zero 64-bit value, as stored in tables and run files.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The shard, in `0..n_shards`, that owns this fingerprint; `n_shards == 0` counts as 1.
    pub fn shard(self, n_shards: u32) -> u32 {
        let mixed = fmix64(self.0 ^ SHARD_SALT);
        let shards = u64::from(n_shards.max(1));
        // Lemire's multiply-shift: the high 32 bits of a 32×32 product are < n_shards.
        (((mixed >> 32) * shards) >> 32) as u32
    }
}

impl From<Key<'_>> for Fingerprint {
    fn from(key: Key<'_>) -> Self {
        key.fingerprint()
    }
}

impl From<&Key<'_>> for Fingerprint {
    fn from(key: &Key<'_>) -> Self {
        key.fingerprint()
    }
}

/// The shard, in `0..n_shards`, whose index instance owns `key` (`n_shards == 0` counts as 1).
/// Stable across restarts, so a key's runs stay with its shard.
pub fn shard_of(key: &Key<'_>, n_shards: u32) -> u32 {
    key.fingerprint().shard(n_shards)
}

/// MurmurHash3's 64-bit finalizer: a bijection whose output bits each depend on all input
/// bits, so the shard choice does not bias the fingerprint bits a shard's tables rely on.
fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id2_longer_than_64_bytes_is_refused() {
        let long = [b'7'; ID2_LEN_MAX + 1];
        assert_eq!(
            Key::new(1, &long),
            Err(KeyError::Id2TooLong { len_bytes: 65 })
        );
        assert!(Key::new(1, &long[..ID2_LEN_MAX]).is_ok());
    }

    #[test]
    fn fingerprint_and_shard_are_stable_across_builds_and_restarts() {
        // Pinned values: a change here orphans every run file on disk and moves keys between
        // shards.
        let key = Key::new(7, b"0a1b2c").expect("short id");
        assert_eq!(key.fingerprint().get(), 0xe1d8_26b5_591f_d8b0);
        assert_eq!(
            key.fingerprint().get(),
            xxh3_64_with_seed(b"\x07\x00\x00\x000a1b2c", FINGERPRINT_SEED)
        );
        assert_eq!(shard_of(&key, 8), 3);
    }

    #[test]
    fn fingerprint_depends_on_connector_and_id2() {
        let a = Key::new(1, b"abc").map(|k| k.fingerprint());
        let b = Key::new(2, b"abc").map(|k| k.fingerprint());
        let c = Key::new(1, b"abd").map(|k| k.fingerprint());
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn zero_hash_is_remapped_to_non_zero() {
        assert_ne!(Fingerprint::from_hash(0).get(), 0);
        assert_eq!(Fingerprint::from_hash(5).get(), 5);
    }

    #[test]
    fn shard_of_stays_in_range_and_spreads_keys() {
        let mut counts = [0u32; 6];
        for i in 0..6000u32 {
            let id = i.to_string();
            let key = Key::new(3, id.as_bytes()).expect("short id");
            let shard = shard_of(&key, 6);
            counts[shard as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
        let key = Key::new(3, b"x").expect("short id");
        assert_eq!(shard_of(&key, 0), 0);
        assert_eq!(shard_of(&key, 1), 0);
    }
}
