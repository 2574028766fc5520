//! Reassembly of concatenated mobile-originated parts, sans-IO and bounded in memory.
//!
//! Parts are grouped by (origin key, reference): the origin is whatever the engine says
//! makes references unique (connector + source address, typically). The caller passes the
//! clock (`now_ms`, monotonic milliseconds) to every call; nothing here reads time or does
//! I/O. Each part's bytes are opaque: the engine decodes a complete message part by part
//! (for packed GSM 7-bit the fill bits differ per part).
//!
//! Bounds (all in [`ReassemblyConfig`]): at most `max_groups` incomplete messages, and at
//! most `max_bytes` accounted bytes, where a stored part is accounted as its length plus
//! [`PART_OVERHEAD_BYTES`] and a group as [`GROUP_OVERHEAD_BYTES`], so the figure tracks the
//! real heap use. A part larger than `max_part_bytes` is refused. When a new part does not
//! fit, the oldest groups are evicted until it does, and handed back to the caller as
//! [`Partial`] with [`ReleaseReason::Evicted`]: memory never grows past the bounds, and no
//! part disappears without being reported.
//!
//! Timeout: a group expires `timeout_ms` after its first part arrived (not its last, so a
//! trickle of parts cannot keep a group alive forever). [`Reassembler::poll_expired`] hands
//! expired groups back as [`Partial`] with [`ReleaseReason::Expired`]; the engine decides to
//! deliver what it has (with the gaps marked) or drop it. [`Reassembler::next_deadline_ms`]
//! tells the shell when to call it next.
//!
//! Edge cases: a duplicate part (same seq) is ignored and the first copy kept; a part whose
//! total differs from its group's means the reference was reused by a new message, so the
//! old group is released as [`ReleaseReason::Superseded`] and a new one started; a part
//! with seq 0, total 0 or seq > total is refused; a one-part message completes at once
//! without being stored.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Default bound on incomplete messages held at once.
pub const DEFAULT_MAX_GROUPS: usize = 4096;
/// Default bound on accounted bytes (4 MiB).
pub const DEFAULT_MAX_BYTES: usize = 4 << 20;
/// Default bound on one part's bytes (short_message holds at most 254).
pub const DEFAULT_MAX_PART_BYTES: usize = 1024;
/// Default time an incomplete message waits for its missing parts.
pub const DEFAULT_TIMEOUT_MS: u64 = 120_000;
/// Bytes accounted per stored part on top of its data (its `Vec` and sequence number).
pub const PART_OVERHEAD_BYTES: usize = 32;
/// Bytes accounted per group on top of its parts (map entries, bookkeeping).
pub const GROUP_OVERHEAD_BYTES: usize = 128;

/// Bounds and timeout of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReassemblyConfig {
    /// Most incomplete messages held at once.
    pub max_groups: usize,
    /// Most accounted bytes held at once.
    pub max_bytes: usize,
    /// Largest part accepted.
    pub max_part_bytes: usize,
    /// Time from a message's first part until it is released incomplete.
    pub timeout_ms: u64,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_groups: DEFAULT_MAX_GROUPS,
            max_bytes: DEFAULT_MAX_BYTES,
            max_part_bytes: DEFAULT_MAX_PART_BYTES,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }
}

/// A complete message: its parts in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled<K> {
    /// The origin key the parts were inserted with.
    pub origin: K,
    /// The concatenation reference.
    pub reference: u16,
    /// Part data, part 1 first.
    pub parts: Vec<Vec<u8>>,
}

impl<K> Reassembled<K> {
    /// All parts' bytes joined (for encodings where parts simply concatenate).
    pub fn concat(&self) -> Vec<u8> {
        self.parts.concat()
    }
}

/// Why an incomplete message was handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseReason {
    /// Its timeout passed.
    Expired,
    /// It was the oldest when room was needed.
    Evicted,
    /// A part with the same reference but another total started a new message.
    Superseded,
}

/// An incomplete message handed back to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial<K> {
    /// The origin key.
    pub origin: K,
    /// The concatenation reference.
    pub reference: u16,
    /// Number of parts the message announced.
    pub total: u8,
    /// The parts received, as (seq, data), in sequence order.
    pub parts: Vec<(u8, Vec<u8>)>,
    /// Why it was released.
    pub reason: ReleaseReason,
}

impl<K> Partial<K> {
    /// Sequence numbers that never arrived.
    pub fn missing(&self) -> impl Iterator<Item = u8> + '_ {
        (1..=self.total).filter(|s| self.parts.binary_search_by_key(s, |(q, _)| *q).is_err())
    }
}

/// Why a part was refused without being stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum InvalidPart {
    /// total is 0.
    #[error("total number of parts is 0")]
    ZeroTotal,
    /// seq is 0 or above total.
    #[error("sequence number {seq} is outside 1..={total}")]
    SeqOutOfRange {
        /// The sequence number.
        seq: u8,
        /// The total.
        total: u8,
    },
    /// The part is larger than `max_part_bytes` or the whole budget.
    #[error("part of {len} bytes exceeds the bound of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The bound it broke.
        max: usize,
    },
}

/// What an insert did with the part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertStatus<K> {
    /// The message is complete.
    Complete(Reassembled<K>),
    /// Stored; the message still misses parts.
    Pending {
        /// Parts held so far.
        received: u8,
        /// Parts announced.
        total: u8,
    },
    /// A copy of a part already held; ignored.
    Duplicate,
    /// Refused and not stored.
    Invalid(InvalidPart),
}

/// The result of an insert: its status plus any messages released to make room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertOutcome<K> {
    /// What happened to the part.
    pub status: InsertStatus<K>,
    /// Incomplete messages released by this insert (evicted, superseded or found expired).
    pub released: Vec<Partial<K>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey<K> {
    origin: K,
    reference: u16,
}

#[derive(Debug)]
struct Group {
    id: u64,
    created_ms: u64,
    total: u8,
    received: [u64; 4],
    parts: Vec<(u8, Vec<u8>)>,
    accounted_bytes: usize,
}

impl Group {
    fn new(id: u64, created_ms: u64, total: u8) -> Group {
        Group {
            id,
            created_ms,
            total,
            received: [0; 4],
            parts: Vec::new(),
            accounted_bytes: GROUP_OVERHEAD_BYTES,
        }
    }

    fn has(&self, seq: u8) -> bool {
        let word = self
            .received
            .get(usize::from(seq / 64))
            .copied()
            .unwrap_or(0);
        word & (1 << (seq % 64)) != 0
    }

    fn add(&mut self, seq: u8, data: &[u8]) {
        if let Some(word) = self.received.get_mut(usize::from(seq / 64)) {
            *word |= 1 << (seq % 64);
        }
        self.parts.push((seq, data.to_vec()));
        self.accounted_bytes += part_cost(data.len());
    }

    fn is_complete(&self) -> bool {
        self.parts.len() == usize::from(self.total)
    }
}

fn part_cost(len: usize) -> usize {
    len + PART_OVERHEAD_BYTES
}

/// The reassembler: a bounded map of incomplete messages keyed by (origin, reference).
#[derive(Debug)]
pub struct Reassembler<K> {
    config: ReassemblyConfig,
    groups: HashMap<GroupKey<K>, Group>,
    /// Group ids in creation order, so the first is both the oldest and the next to expire.
    order: BTreeMap<u64, GroupKey<K>>,
    next_id: u64,
    accounted_bytes: usize,
}

impl<K: Hash + Eq + Clone> Reassembler<K> {
    /// An empty reassembler with these bounds.
    pub fn new(config: ReassemblyConfig) -> Reassembler<K> {
        Reassembler {
            config,
            groups: HashMap::new(),
            order: BTreeMap::new(),
            next_id: 0,
            accounted_bytes: 0,
        }
    }

    /// The bounds in force.
    pub fn config(&self) -> &ReassemblyConfig {
        &self.config
    }

    /// Incomplete messages held.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Accounted bytes held (always at most `max_bytes`).
    pub fn accounted_bytes(&self) -> usize {
        self.accounted_bytes
    }

    /// Adds part `seq` of `total` of message (`origin`, `reference`).
    pub fn insert(
        &mut self,
        origin: K,
        reference: u16,
        total: u8,
        seq: u8,
        data: &[u8],
        now_ms: u64,
    ) -> InsertOutcome<K> {
        let mut released = Vec::new();
        let status = match self.validate(total, seq, data.len()) {
            Err(invalid) => InsertStatus::Invalid(invalid),
            Ok(()) if total == 1 => InsertStatus::Complete(Reassembled {
                origin,
                reference,
                parts: vec![data.to_vec()],
            }),
            Ok(()) => {
                let key = GroupKey { origin, reference };
                self.insert_part(key, total, seq, data, now_ms, &mut released)
            }
        };
        InsertOutcome { status, released }
    }

    fn validate(&self, total: u8, seq: u8, len: usize) -> Result<(), InvalidPart> {
        if total == 0 {
            return Err(InvalidPart::ZeroTotal);
        }
        if seq == 0 || seq > total {
            return Err(InvalidPart::SeqOutOfRange { seq, total });
        }
        let max = self.config.max_part_bytes.min(
            self.config
                .max_bytes
                .saturating_sub(GROUP_OVERHEAD_BYTES + PART_OVERHEAD_BYTES),
        );
        if len > max {
            return Err(InvalidPart::TooLarge { len, max });
        }
        Ok(())
    }

    fn insert_part(
        &mut self,
        key: GroupKey<K>,
        total: u8,
        seq: u8,
        data: &[u8],
        now_ms: u64,
        released: &mut Vec<Partial<K>>,
    ) -> InsertStatus<K> {
        let mut group = match self.take(&key) {
            Some(group) if self.is_expired(&group, now_ms) => {
                released.push(to_partial(key.clone(), group, ReleaseReason::Expired));
                None
            }
            Some(group) if group.total != total => {
                released.push(to_partial(key.clone(), group, ReleaseReason::Superseded));
                None
            }
            Some(group) if group.has(seq) => {
                self.put(key, group);
                return InsertStatus::Duplicate;
            }
            other => other,
        }
        .unwrap_or_else(|| self.new_group(now_ms, total));
        // The group is out of the map while it changes, so room is made for all of it.
        let room_needed = group.accounted_bytes + part_cost(data.len());
        self.make_room(room_needed, released);
        if self.accounted_bytes + room_needed > self.config.max_bytes {
            // Only this group itself is left to evict: release it and start over with the
            // new part, which `validate` guaranteed fits an empty budget.
            released.push(to_partial(key.clone(), group, ReleaseReason::Evicted));
            group = self.new_group(now_ms, total);
        }
        group.add(seq, data);
        if group.is_complete() {
            return InsertStatus::Complete(into_message(key, group));
        }
        let status = InsertStatus::Pending {
            received: u8::try_from(group.parts.len()).unwrap_or(u8::MAX),
            total,
        };
        self.put(key, group);
        status
    }

    fn new_group(&mut self, now_ms: u64, total: u8) -> Group {
        let id = self.next_id;
        self.next_id += 1;
        Group::new(id, now_ms, total)
    }

    /// Evicts oldest groups until one more group holding `bytes` fits both bounds.
    fn make_room(&mut self, bytes: usize, released: &mut Vec<Partial<K>>) {
        let groups_limit = self.config.max_groups.max(1);
        while self.groups.len() >= groups_limit
            || self.accounted_bytes + bytes > self.config.max_bytes
        {
            let Some(partial) = self.pop_oldest(ReleaseReason::Evicted) else {
                return;
            };
            released.push(partial);
        }
    }

    fn is_expired(&self, group: &Group, now_ms: u64) -> bool {
        now_ms.saturating_sub(group.created_ms) >= self.config.timeout_ms
    }

    /// Removes a group and its bookkeeping; the caller puts it back or releases it.
    fn take(&mut self, key: &GroupKey<K>) -> Option<Group> {
        let group = self.groups.remove(key)?;
        self.order.remove(&group.id);
        self.accounted_bytes -= group.accounted_bytes;
        Some(group)
    }

    fn put(&mut self, key: GroupKey<K>, group: Group) {
        self.accounted_bytes += group.accounted_bytes;
        self.order.insert(group.id, key.clone());
        self.groups.insert(key, group);
    }

    fn pop_oldest(&mut self, reason: ReleaseReason) -> Option<Partial<K>> {
        let (_, key) = self.order.pop_first()?;
        let group = self.groups.remove(&key)?;
        self.accounted_bytes -= group.accounted_bytes;
        Some(to_partial(key, group, reason))
    }

    /// The next incomplete message whose timeout has passed at `now_ms`, if any; call until
    /// it returns `None`.
    pub fn poll_expired(&mut self, now_ms: u64) -> Option<Partial<K>> {
        let (_, key) = self.order.first_key_value()?;
        let group = self.groups.get(key)?;
        if !self.is_expired(group, now_ms) {
            return None;
        }
        self.pop_oldest(ReleaseReason::Expired)
    }

    /// When the oldest incomplete message expires (for the shell's timer).
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let (_, key) = self.order.first_key_value()?;
        let group = self.groups.get(key)?;
        Some(group.created_ms.saturating_add(self.config.timeout_ms))
    }
}

fn sorted_parts(mut group: Group) -> Vec<(u8, Vec<u8>)> {
    group.parts.sort_unstable_by_key(|(seq, _)| *seq);
    group.parts
}

fn to_partial<K>(key: GroupKey<K>, group: Group, reason: ReleaseReason) -> Partial<K> {
    let total = group.total;
    Partial {
        origin: key.origin,
        reference: key.reference,
        total,
        parts: sorted_parts(group),
        reason,
    }
}

fn into_message<K>(key: GroupKey<K>, group: Group) -> Reassembled<K> {
    Reassembled {
        origin: key.origin,
        reference: key.reference,
        parts: sorted_parts(group).into_iter().map(|(_, d)| d).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reassembler() -> Reassembler<&'static str> {
        Reassembler::new(ReassemblyConfig {
            max_groups: 2,
            max_bytes: 1000,
            max_part_bytes: 200,
            timeout_ms: 1000,
        })
    }

    fn complete(outcome: InsertOutcome<&'static str>) -> Vec<Vec<u8>> {
        match outcome.status {
            InsertStatus::Complete(m) => m.parts,
            other => panic!("expected complete, got {other:?}"),
        }
    }

    #[test]
    fn out_of_order_parts_complete_in_sequence_order() {
        let mut r = reassembler();
        assert!(matches!(
            r.insert("a", 1, 3, 3, b"c", 0).status,
            InsertStatus::Pending {
                received: 1,
                total: 3
            }
        ));
        r.insert("a", 1, 3, 1, b"a", 1);
        let parts = complete(r.insert("a", 1, 3, 2, b"b", 2));
        assert_eq!(parts, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(r.group_count(), 0);
        assert_eq!(r.accounted_bytes(), 0);
    }

    #[test]
    fn duplicate_part_is_ignored_and_first_copy_kept() {
        let mut r = reassembler();
        r.insert("a", 1, 2, 1, b"first", 0);
        assert_eq!(
            r.insert("a", 1, 2, 1, b"other", 0).status,
            InsertStatus::Duplicate
        );
        let parts = complete(r.insert("a", 1, 2, 2, b"!", 0));
        assert_eq!(parts[0], b"first");
    }

    #[test]
    fn same_reference_from_another_origin_is_another_message() {
        let mut r = reassembler();
        r.insert("a", 1, 2, 1, b"a1", 0);
        r.insert("b", 1, 2, 2, b"b2", 0);
        assert_eq!(r.group_count(), 2);
    }

    #[test]
    fn inconsistent_total_supersedes_the_old_group() {
        let mut r = reassembler();
        r.insert("a", 9, 3, 1, b"old", 0);
        let outcome = r.insert("a", 9, 2, 1, b"new", 5);
        assert_eq!(outcome.released.len(), 1);
        assert_eq!(outcome.released[0].reason, ReleaseReason::Superseded);
        assert_eq!(outcome.released[0].parts, [(1, b"old".to_vec())]);
        let parts = complete(r.insert("a", 9, 2, 2, b"!", 6));
        assert_eq!(parts, [b"new".to_vec(), b"!".to_vec()]);
    }

    #[test]
    fn invalid_parts_are_refused_and_not_stored() {
        let mut r = reassembler();
        assert_eq!(
            r.insert("a", 1, 0, 0, b"", 0).status,
            InsertStatus::Invalid(InvalidPart::ZeroTotal)
        );
        assert_eq!(
            r.insert("a", 1, 2, 3, b"", 0).status,
            InsertStatus::Invalid(InvalidPart::SeqOutOfRange { seq: 3, total: 2 })
        );
        assert!(matches!(
            r.insert("a", 1, 2, 1, &[0; 201], 0).status,
            InsertStatus::Invalid(InvalidPart::TooLarge { len: 201, .. })
        ));
        assert_eq!(r.group_count(), 0);
    }

    #[test]
    fn single_part_message_completes_without_storage() {
        let mut r = reassembler();
        assert_eq!(complete(r.insert("a", 1, 1, 1, b"x", 0)), [b"x".to_vec()]);
        assert_eq!(r.accounted_bytes(), 0);
    }

    #[test]
    fn oldest_group_is_evicted_and_reported_when_groups_are_full() {
        let mut r = reassembler();
        r.insert("a", 1, 2, 1, b"a", 0);
        r.insert("b", 1, 2, 1, b"b", 1);
        let outcome = r.insert("c", 1, 2, 1, b"c", 2);
        assert_eq!(outcome.released.len(), 1);
        assert_eq!(outcome.released[0].origin, "a");
        assert_eq!(outcome.released[0].reason, ReleaseReason::Evicted);
        assert_eq!(r.group_count(), 2);
    }

    #[test]
    fn byte_budget_evicts_oldest_groups_and_is_never_exceeded() {
        let mut r = Reassembler::new(ReassemblyConfig {
            max_part_bytes: 300,
            ..*reassembler().config()
        });
        r.insert("a", 1, 3, 1, &[1; 300], 0);
        r.insert("a", 2, 3, 1, &[2; 300], 0);
        assert!(r.accounted_bytes() <= 1000);
        let outcome = r.insert("a", 2, 3, 2, &[3; 300], 0);
        assert!(r.accounted_bytes() <= 1000);
        assert_eq!(outcome.released.len(), 1);
        assert_eq!(outcome.released[0].reference, 1);
    }

    #[test]
    fn group_alone_over_budget_is_released_and_restarted() {
        let mut r = Reassembler::new(ReassemblyConfig {
            max_groups: 8,
            max_bytes: 500,
            max_part_bytes: 300,
            timeout_ms: 1000,
        });
        r.insert("a", 1, 3, 1, &[1; 300], 0);
        let outcome = r.insert("a", 1, 3, 2, &[2; 300], 0);
        assert_eq!(outcome.released.len(), 1);
        assert_eq!(outcome.released[0].parts.len(), 1);
        assert!(r.accounted_bytes() <= 500);
        assert_eq!(r.group_count(), 1);
    }

    #[test]
    fn incomplete_group_expires_after_timeout_from_first_part() {
        let mut r = reassembler();
        r.insert("a", 1, 3, 1, b"1", 100);
        r.insert("a", 1, 3, 3, b"3", 900);
        assert_eq!(r.next_deadline_ms(), Some(1100));
        assert!(r.poll_expired(1099).is_none());
        let partial = r.poll_expired(1100).unwrap();
        assert_eq!(partial.reason, ReleaseReason::Expired);
        assert_eq!(partial.missing().collect::<Vec<_>>(), [2]);
        assert!(r.poll_expired(5000).is_none());
        assert_eq!(r.accounted_bytes(), 0);
    }

    #[test]
    fn late_part_of_an_expired_group_starts_a_new_group() {
        let mut r = reassembler();
        r.insert("a", 1, 2, 1, b"1", 0);
        let outcome = r.insert("a", 1, 2, 2, b"2", 5000);
        assert_eq!(outcome.released[0].reason, ReleaseReason::Expired);
        assert!(matches!(outcome.status, InsertStatus::Pending { .. }));
    }
}
