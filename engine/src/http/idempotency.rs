//! Idempotency keys: a retried HTTP request with the same key gets the first answer.

use std::collections::{HashMap, VecDeque};

use tern_http::Accepted;
use tern_wal::Lsn;

/// Octets of the request digest stored in front of the key in the Accepted record.
pub const DIGEST_LEN: usize = 16;

/// What the first request with a key was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// Digest of the request (a different request with the same key is a conflict).
    pub digest: [u8; DIGEST_LEN],
    /// The messages accepted.
    pub accepted: Vec<Accepted>,
    /// The last LSN of their records (the answer waits until it is durable).
    pub lsn: Option<Lsn>,
}

/// Keys seen on this shard, per user, at most `max` (oldest forgotten first).
pub struct Idempotency {
    map: HashMap<(u32, Box<[u8]>), Remembered>,
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

    /// The answer remembered for `key` of `user`.
    pub fn get(&self, user: u32, key: &[u8]) -> Option<&Remembered> {
        self.map.get(&(user, Box::from(key)))
    }

    /// Remembers (or extends, for records of one request met one by one at recovery) the
    /// answer for `key` of `user`.
    pub fn remember(&mut self, user: u32, key: &[u8], remembered: Remembered) {
        if self.max == 0 {
            return;
        }
        let k = (user, Box::from(key));
        if let Some(existing) = self.map.get_mut(&k) {
            if existing.digest == remembered.digest {
                existing.accepted.extend(remembered.accepted);
                existing.lsn = existing.lsn.max(remembered.lsn);
            }
            return;
        }
        while self.order.len() >= self.max {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        self.order.push_back(k.clone());
        self.map.insert(k, remembered);
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

    fn answer(id: &str) -> Remembered {
        Remembered {
            digest: [1; DIGEST_LEN],
            accepted: vec![Accepted {
                id: id.into(),
                parts: 1,
            }],
            lsn: Some(Lsn(3)),
        }
    }

    #[test]
    fn keys_are_per_user_and_the_oldest_is_forgotten_past_the_bound() {
        let mut memory = Idempotency::new(2);
        memory.remember(1, b"a", answer("m1"));
        memory.remember(2, b"a", answer("m2"));
        assert_eq!(memory.get(1, b"a").unwrap().accepted[0].id, "m1");
        assert_eq!(memory.get(2, b"a").unwrap().accepted[0].id, "m2");
        memory.remember(1, b"b", answer("m3"));
        assert!(memory.get(1, b"a").is_none());
        assert_eq!(memory.len(), 2);
    }

    #[test]
    fn records_of_one_request_are_gathered_under_its_key() {
        let mut memory = Idempotency::new(4);
        memory.remember(1, b"k", answer("m1"));
        memory.remember(1, b"k", answer("m2"));
        let ids: Vec<_> = memory
            .get(1, b"k")
            .unwrap()
            .accepted
            .iter()
            .map(|a| a.id.clone())
            .collect();
        assert_eq!(ids, ["m1", "m2"]);
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
