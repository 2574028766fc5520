//! A bounded memory of successful logins, one per shard (see the module docs for the
//! trade-off).

use std::collections::{HashMap, VecDeque};

use blake2::Blake2bMac;
use blake2::digest::Mac;
use blake2::digest::consts::U32;
use password_hash::rand_core::{OsRng, RngCore};

use super::{User, UsersError};
use crate::config::LimitsConfig;

/// A keyed digest of one successful login.
type Digest = [u8; 32];

/// Remembers successful logins for a bounded time and count, so a rebind skips Argon2.
#[derive(Debug)]
pub struct AuthCache {
    key: [u8; 32],
    entries_max: usize,
    ttl_ms: u64,
    expires_ms: HashMap<Digest, u64>,
    /// Insertion order, oldest first, for eviction; never longer than `entries_max`.
    order: VecDeque<(Digest, u64)>,
    argon2_runs: u64,
}

impl AuthCache {
    /// An empty cache of at most `entries_max` logins, each remembered `ttl_s` seconds,
    /// keyed with fresh randomness. `entries_max` 0 turns caching off.
    pub fn new(entries_max: u32, ttl_s: u32) -> Result<Self, UsersError> {
        let mut key = [0u8; 32];
        OsRng
            .try_fill_bytes(&mut key)
            .map_err(|e| UsersError::Random(e.to_string()))?;
        let entries_max = entries_max as usize;
        Ok(Self {
            key,
            entries_max,
            ttl_ms: u64::from(ttl_s) * 1_000,
            expires_ms: HashMap::with_capacity(entries_max.min(4_096)),
            order: VecDeque::with_capacity(entries_max.min(4_096)),
            argon2_runs: 0,
        })
    }

    /// The cache `[limits]` asks for.
    pub fn from_limits(limits: &LimitsConfig) -> Result<Self, UsersError> {
        Self::new(limits.auth_cache_entries_max, limits.auth_cache_ttl_s)
    }

    /// Whether `password` is `user`'s: from memory when it matched within the TTL,
    /// otherwise by Argon2 (and then remembered).
    pub fn verify(&mut self, user: &User, password: &[u8], now_ms: u64) -> bool {
        let digest = self.digest(user, password);
        let remembered = digest.and_then(|d| self.expires_ms.get(&d).copied());
        if remembered.is_some_and(|expires_ms| now_ms < expires_ms) {
            return true;
        }
        self.argon2_runs += 1;
        if !user.verify_password(password) {
            return false;
        }
        if let Some(digest) = digest {
            self.remember(digest, now_ms.saturating_add(self.ttl_ms), now_ms);
        }
        true
    }

    /// Whether this login is remembered and fresh (no Argon2: the caller verifies a miss,
    /// off the shard thread, then calls [`AuthCache::remember_login`]).
    pub fn is_remembered(&self, user: &User, password: &[u8], now_ms: u64) -> bool {
        self.digest(user, password)
            .and_then(|d| self.expires_ms.get(&d).copied())
            .is_some_and(|expires_ms| now_ms < expires_ms)
    }

    /// Remembers a login the caller verified itself.
    pub fn remember_login(&mut self, user: &User, password: &[u8], now_ms: u64) {
        self.argon2_runs += 1;
        if let Some(digest) = self.digest(user, password) {
            self.remember(digest, now_ms.saturating_add(self.ttl_ms), now_ms);
        }
    }

    /// How many times this cache fell back to Argon2 (a statistic: misses and failures).
    pub fn argon2_runs(&self) -> u64 {
        self.argon2_runs
    }

    /// Logins remembered now (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.expires_ms.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.expires_ms.is_empty()
    }

    fn digest(&self, user: &User, password: &[u8]) -> Option<Digest> {
        let mut mac = Blake2bMac::<U32>::new_from_slice(&self.key).ok()?;
        // Lengths first, so that no two different triples feed the same bytes.
        for part in [
            user.name().as_bytes(),
            user.password_phc().as_bytes(),
            password,
        ] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        Some(mac.finalize().into_bytes().into())
    }

    fn remember(&mut self, digest: Digest, expires_ms: u64, now_ms: u64) {
        if self.entries_max == 0 {
            return;
        }
        while self.order.front().is_some_and(|&(_, e)| e <= now_ms) {
            self.evict_oldest();
        }
        while self.order.len() >= self.entries_max {
            self.evict_oldest();
        }
        self.expires_ms.insert(digest, expires_ms);
        self.order.push_back((digest, expires_ms));
    }

    fn evict_oldest(&mut self) {
        let Some((digest, expires_ms)) = self.order.pop_front() else {
            return;
        };
        // A digest remembered again later has a newer expiry: keep that one.
        if self.expires_ms.get(&digest) == Some(&expires_ms) {
            self.expires_ms.remove(&digest);
        }
    }
}
