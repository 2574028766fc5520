//! Idempotency keys: a retried HTTP request with the same key gets the first answer.
//!
//! One map for the whole node (behind a mutex, touched once per request that carries a
//! key, never per message), so a retry that lands on another shard (SO_REUSEPORT spreads
//! connections) is still recognised. A key is reserved before its messages are accepted
//! and answered only once they are durable: a concurrent retry meanwhile is told the first
//! request is still in progress, never given ids that a crash could still lose.

use std::collections::{HashMap, VecDeque};

use tern_http::Accepted;

/// Octets of the request digest stored in front of the key in the Accepted record.
pub const DIGEST_LEN: usize = 16;

/// Where a key stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The first request is being accepted.
    InProgress {
        /// Digest of that request.
        digest: [u8; DIGEST_LEN],
    },
    /// The first request was answered with these ids (durable).
    Done {
        /// Digest of that request.
        digest: [u8; DIGEST_LEN],
        /// The messages accepted.
        accepted: Vec<Accepted>,
    },
}

/// What a request with a key should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: the key is now reserved for this request.
    Reserved,
    /// Same request already answered: answer the same.
    Replay(Vec<Accepted>),
    /// Same request still being accepted elsewhere.
    InProgress,
    /// The key was used for a different request.
    Conflict,
}

/// Keys seen on the node, per user, at most `max` (oldest forgotten first).
pub struct Idempotency {
    map: HashMap<(u32, Box<[u8]>), Slot>,
    order: VecDeque<(u32, Box<[u8]>)>,
    max: usize,
}

impl Idempotency {
    /// A memory of at most `max` keys (0 turns idempotency off).
    pub fn new(max: usize) -> Idempotency {
        Idempotency {
            map: HashMap::new(),
            order: VecDeque::new(),
            max,
        }
    }

    /// Claims `key` of `user` for a request with `digest`.
    pub fn claim(&mut self, user: u32, key: &[u8], digest: [u8; DIGEST_LEN]) -> Claim {
        if self.max == 0 {
            return Claim::Reserved;
        }
        match self.map.get(&(user, Box::from(key))) {
            Some(Slot::Done {
                digest: d,
                accepted,
            }) if *d == digest => Claim::Replay(accepted.clone()),
            Some(Slot::InProgress { digest: d }) if *d == digest => Claim::InProgress,
            Some(_) => Claim::Conflict,
            None => {
                self.insert(user, key, Slot::InProgress { digest });
                Claim::Reserved
            }
        }
    }

    /// The reserved request's messages are durable: later retries replay them.
    pub fn complete(
        &mut self,
        user: u32,
        key: &[u8],
        digest: [u8; DIGEST_LEN],
        accepted: Vec<Accepted>,
    ) {
        if let Some(slot) = self.map.get_mut(&(user, Box::from(key))) {
            *slot = Slot::Done { digest, accepted };
        }
    }

    /// The reserved request accepted nothing: the key is free again.
    pub fn release(&mut self, user: u32, key: &[u8]) {
        let k = (user, Box::from(key));
        if matches!(self.map.get(&k), Some(Slot::InProgress { .. })) {
            self.map.remove(&k);
            self.order.retain(|o| *o != k);
        }
    }

    /// A live record of a request found at recovery: its id joins the key's answer.
    pub fn recovered(
        &mut self,
        user: u32,
        key: &[u8],
        digest: [u8; DIGEST_LEN],
        accepted: Accepted,
    ) {
        if self.max == 0 {
            return;
        }
        match self.map.get_mut(&(user, Box::from(key))) {
            Some(Slot::Done {
                digest: d,
                accepted: list,
            }) if *d == digest => list.push(accepted),
            Some(_) => {}
            None => self.insert(
                user,
                key,
                Slot::Done {
                    digest,
                    accepted: vec![accepted],
                },
            ),
        }
    }

    /// Takes over every key of `other` (a shard's recovered keys joining the node's map).
    pub fn absorb(&mut self, other: Idempotency) {
        let mut map = other.map;
        for (user, key) in other.order {
            if let Some(Slot::Done { digest, accepted }) = map.remove(&(user, key.clone())) {
                for a in accepted {
                    self.recovered(user, &key, digest, a);
                }
            }
        }
    }

    fn insert(&mut self, user: u32, key: &[u8], slot: Slot) {
        while self.order.len() >= self.max {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        self.order.push_back((user, Box::from(key)));
        self.map.insert((user, Box::from(key)), slot);
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when none is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Splits a record's idempotency field into the request digest and the client's key.
pub fn split_field(field: &[u8]) -> Option<([u8; DIGEST_LEN], &[u8])> {
    let digest = field.get(..DIGEST_LEN)?.try_into().ok()?;
    let key = field.get(DIGEST_LEN..)?;
    (!key.is_empty()).then_some((digest, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(id: &str) -> Vec<Accepted> {
        vec![Accepted {
            id: id.into(),
            parts: 1,
        }]
    }

    #[test]
    fn a_key_is_reserved_then_replayed_and_a_different_request_conflicts() {
        let mut memory = Idempotency::new(4);
        assert_eq!(memory.claim(1, b"k", [1; DIGEST_LEN]), Claim::Reserved);
        assert_eq!(memory.claim(1, b"k", [1; DIGEST_LEN]), Claim::InProgress);
        assert_eq!(memory.claim(1, b"k", [2; DIGEST_LEN]), Claim::Conflict);
        memory.complete(1, b"k", [1; DIGEST_LEN], answer("m1"));
        assert_eq!(
            memory.claim(1, b"k", [1; DIGEST_LEN]),
            Claim::Replay(answer("m1"))
        );
        assert_eq!(
            memory.claim(2, b"k", [1; DIGEST_LEN]),
            Claim::Reserved,
            "keys are per user"
        );
    }

    #[test]
    fn a_refused_request_frees_its_key_and_the_oldest_key_is_forgotten_past_the_bound() {
        let mut memory = Idempotency::new(2);
        assert_eq!(memory.claim(1, b"a", [1; DIGEST_LEN]), Claim::Reserved);
        memory.release(1, b"a");
        assert_eq!(memory.claim(1, b"a", [2; DIGEST_LEN]), Claim::Reserved);
        memory.complete(1, b"a", [2; DIGEST_LEN], answer("m1"));
        memory.claim(1, b"b", [1; DIGEST_LEN]);
        memory.claim(1, b"c", [1; DIGEST_LEN]);
        assert_eq!(memory.len(), 2);
        assert_eq!(
            memory.claim(1, b"a", [9; DIGEST_LEN]),
            Claim::Reserved,
            "forgotten"
        );
    }

    #[test]
    fn recovered_records_of_one_request_gather_under_its_key_across_shards() {
        let mut node = Idempotency::new(8);
        let mut shard = Idempotency::new(8);
        shard.recovered(1, b"k", [3; DIGEST_LEN], answer("m1").remove(0));
        node.recovered(1, b"k", [3; DIGEST_LEN], answer("m2").remove(0));
        node.absorb(shard);
        let Claim::Replay(ids) = node.claim(1, b"k", [3; DIGEST_LEN]) else {
            panic!("replay expected");
        };
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn the_record_field_splits_into_digest_and_key() {
        let mut field = vec![9u8; DIGEST_LEN];
        field.extend_from_slice(b"key-1");
        assert_eq!(split_field(&field), Some(([9; DIGEST_LEN], &b"key-1"[..])));
        assert_eq!(split_field(&field[..DIGEST_LEN]), None);
        assert_eq!(split_field(b"short"), None);
    }
}
