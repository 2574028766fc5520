//! Identities: our message id (ID1), users, connectors, and the (message, part) reference
//! the DLR index stores.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::str::FromStr;

use thiserror::Error;

/// Our message id (ID1), returned to the client once the message is durable.
///
/// Layout, most significant first: the owner shard (8 bits), 8 reserved bits that are
/// always zero, a per-shard sequence (48 bits). The reserved byte is where
/// [`PartRef`] puts the part number, so that (message, part) fits the DLR index's 64-bit
/// value. 48 bits of sequence last 89 years at 100,000 messages/s on one shard.
///
/// Uniqueness across restarts: the sequence is strictly increasing per shard and is
/// recovered from the WAL ([`crate::lifecycle::Recovery`] returns the next one, at least
/// the floor the caller passes, which should be the WAL's next LSN so that ids stay unique
/// even once every record has been reclaimed).
///
/// Written as 16 lowercase hex digits (fixed width, so ids sort as text). Read leniently:
/// 16 hex digits in either case, or the decimal value (HTTP clients that kept the number).
/// The two never collide: a valid id in decimal has at most 15 digits (shard 0) or at
/// least 17 (shard ≥ 1), never 16.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(u64);

/// Why a value or a text is not a [`MessageId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IdError {
    /// The sequence needs more than 48 bits.
    #[error("sequence {sequence} does not fit 48 bits")]
    SequenceTooLarge {
        /// The sequence asked for.
        sequence: u64,
    },
    /// The reserved byte (bits 55..48) is not zero.
    #[error("message id {value:#018x} has reserved bits set")]
    ReservedBits {
        /// The value read.
        value: u64,
    },
    /// Neither 16 hex digits nor a decimal number that fits 64 bits.
    #[error("message id is neither 16 hex digits nor a decimal number")]
    Malformed,
}

impl MessageId {
    /// Bits of the per-shard sequence.
    pub const SEQUENCE_BITS: u32 = 48;
    /// Largest sequence.
    pub const SEQUENCE_MAX: u64 = (1 << Self::SEQUENCE_BITS) - 1;
    /// Length of the hex form.
    pub const HEX_LEN: usize = 16;
    const SHARD_SHIFT: u32 = 56;
    const RESERVED_MASK: u64 = 0xFF << Self::SEQUENCE_BITS;

    /// The id of `sequence` on `shard`.
    pub fn new(shard: u8, sequence: u64) -> Result<MessageId, IdError> {
        if sequence > Self::SEQUENCE_MAX {
            return Err(IdError::SequenceTooLarge { sequence });
        }
        Ok(MessageId(
            (u64::from(shard) << Self::SHARD_SHIFT) | sequence,
        ))
    }

    /// The id whose 64-bit value is `value` (as stored in a record).
    pub fn from_u64(value: u64) -> Result<MessageId, IdError> {
        if value & Self::RESERVED_MASK != 0 {
            return Err(IdError::ReservedBits { value });
        }
        Ok(MessageId(value))
    }

    /// The 64-bit value.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The owner shard.
    pub fn shard(self) -> u8 {
        (self.0 >> Self::SHARD_SHIFT) as u8
    }

    /// The per-shard sequence.
    pub fn sequence(self) -> u64 {
        self.0 & Self::SEQUENCE_MAX
    }

    /// The 16 lowercase hex digits, as ASCII, without allocating.
    pub fn to_hex(self) -> [u8; Self::HEX_LEN] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; Self::HEX_LEN];
        for (index, byte) in out.iter_mut().enumerate() {
            let shift = 60 - 4 * index as u32;
            *byte = DIGITS[((self.0 >> shift) & 0xF) as usize];
        }
        out
    }

    /// Reads 16 hex digits (either case) or a decimal number; see the type's docs.
    pub fn parse(text: &str) -> Result<MessageId, IdError> {
        let bytes = text.as_bytes();
        let value = if bytes.len() == Self::HEX_LEN && bytes.iter().all(u8::is_ascii_hexdigit) {
            u64::from_str_radix(text, 16).map_err(|_| IdError::Malformed)?
        } else if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit) {
            text.parse::<u64>().map_err(|_| IdError::Malformed)?
        } else {
            return Err(IdError::Malformed);
        };
        MessageId::from_u64(value)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({:016x})", self.0)
    }
}

impl FromStr for MessageId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<MessageId, IdError> {
        MessageId::parse(text)
    }
}

/// A user as records name it: a durable number, stable across reloads and restarts.
///
/// Records outlive configuration snapshots, so this is not a position in `[[users]]`
/// (that is [`crate::users::UserId`]); the engine maps one to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UserId(pub u32);

/// A connector (upstream) as records name it: a durable number, stable across reloads.
///
/// Like [`UserId`], not a configuration position ([`crate::router::ConnectorId`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConnectorId(pub u16);

/// One part of one message: what the DLR index maps an ID2 to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartRef {
    /// The message.
    pub message: MessageId,
    /// The part, 0-based (0 for a message sent whole).
    pub part: u8,
}

impl PartRef {
    /// The 64-bit value stored in the DLR index: the message id with the part number in
    /// its reserved byte.
    pub fn to_dlr_value(self) -> u64 {
        self.message.0 | (u64::from(self.part) << MessageId::SEQUENCE_BITS)
    }

    /// The reference stored as `value` by [`PartRef::to_dlr_value`]; every value is one.
    pub fn from_dlr_value(value: u64) -> PartRef {
        PartRef {
            message: MessageId(value & !MessageId::RESERVED_MASK),
            part: (value >> MessageId::SEQUENCE_BITS) as u8,
        }
    }
}

/// The hasher of maps keyed by our own [`MessageId`]s: one multiply and a rotation.
///
/// Our ids are not chosen by a peer (they are a shard and a sequence), so the keyed
/// SipHash of `std`'s default, whose point is to resist keys an attacker picks, buys
/// nothing here; it was 3 % of a shard's time on the SMPP path (several lookups per
/// lifecycle event). The product of an id and an odd constant spreads sequential ids over
/// the low bits (the bucket) and mixes the high bits (the map's tags); the high half is
/// folded into the low one as well. Meant for maps of one shard's own ids: ids of several
/// shards with the same sequence differ in their tags but share a bucket in tables under
/// 2^24 buckets.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

/// An odd constant close to 2^64 / φ (Fibonacci hashing).
const ID_HASH_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        let product = (self.0 ^ value).wrapping_mul(ID_HASH_MULTIPLIER);
        self.0 = product ^ (product >> 32);
    }
}

/// A map keyed by our message ids, hashed with [`IdHasher`].
pub type IdMap<V> = HashMap<MessageId, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_form_is_fixed_width_lowercase_and_reads_back() {
        let id = MessageId::new(3, 0xabc).unwrap();
        assert_eq!(id.to_string(), "0300000000000abc");
        assert_eq!(&id.to_hex(), b"0300000000000abc");
        assert_eq!(MessageId::parse("0300000000000ABC"), Ok(id));
        assert_eq!(MessageId::parse(&id.get().to_string()), Ok(id));
    }

    #[test]
    fn malformed_and_reserved_ids_are_refused() {
        assert_eq!(MessageId::parse(""), Err(IdError::Malformed));
        assert_eq!(MessageId::parse("12ab"), Err(IdError::Malformed));
        assert_eq!(
            MessageId::parse("99999999999999999999"),
            Err(IdError::Malformed)
        );
        assert!(matches!(
            MessageId::parse("0301000000000abc"),
            Err(IdError::ReservedBits { .. })
        ));
        assert!(MessageId::new(0, MessageId::SEQUENCE_MAX + 1).is_err());
    }

    #[test]
    fn part_ref_survives_the_dlr_value() {
        let message = MessageId::new(255, MessageId::SEQUENCE_MAX).unwrap();
        let part = PartRef { message, part: 254 };
        assert_eq!(PartRef::from_dlr_value(part.to_dlr_value()), part);
    }

    #[test]
    fn id_hasher_spreads_sequential_ids_of_any_shard() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let build = BuildHasherDefault::<IdHasher>::default();
        for shard in [0u8, 1, 7, 255] {
            let buckets: std::collections::HashSet<u64> = (0..4096u64)
                .map(|seq| build.hash_one(MessageId::new(shard, seq).unwrap()) & 4095)
                .collect();
            assert!(
                buckets.len() > 2500,
                "shard {shard}: {} buckets",
                buckets.len()
            );
        }
        // The same sequence on different shards gets different tags (top 7 bits).
        let a = build.hash_one(MessageId::new(0, 42).unwrap());
        let b = build.hash_one(MessageId::new(1, 42).unwrap());
        assert_ne!(a >> 57, b >> 57);
    }
}
