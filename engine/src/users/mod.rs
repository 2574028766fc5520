//! Users: who may bind, with which password, under which limits.
//!
//! # Design
//! - [`Users`] is an immutable snapshot built from the configuration, swapped with the rest
//!   of it on reload ([`crate::config::ConfigHandle`]). A [`UserId`] is the user's position
//!   in `[[users]]`, valid within one snapshot; across reloads users are known by name.
//! - Passwords are kept only as Argon2id PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$...`)
//!   and verified by the `argon2` crate, whose comparison is constant-time. A plain
//!   `password` in the file is hashed at load (and warned about): the file already holds
//!   it, but the running process then verifies every user the same way.
//! - Argon2 costs tens of milliseconds of CPU on purpose. Binds are rare, but a reconnect
//!   storm (hundreds of ESMEs rebinding after a network blip) would burn seconds of a
//!   shard's core; [`AuthCache`] (one per shard, no sharing) remembers successful logins.
//!   Trade-off: the cache holds a keyed BLAKE2b digest of (user, stored hash, password)
//!   under a random per-process key, for at most `limits.auth_cache_ttl_s` and
//!   `limits.auth_cache_entries_max` entries. Someone who can read the process memory
//!   could brute-force recently used passwords at BLAKE2 speed instead of Argon2 speed; in
//!   exchange a rebind costs one hash of a few bytes. Failed logins are never cached, so
//!   each wrong guess still pays Argon2 (the session layer should also slow repeated
//!   failures). A changed password changes the stored hash, so old entries stop matching at
//!   the reload that brings it; a plain-text password is re-salted at each load, so its
//!   entries are simply missed once after a reload.
//! - Verification is CPU-bound and blocking: the shell should run a cache miss off the
//!   executor (a helper thread) if bind latency of other sessions matters.

#![warn(missing_docs)]

mod cache;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use argon2::{Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier};
use password_hash::SaltString;
use password_hash::rand_core::{OsRng, RngCore};

use crate::config::{BindKind, Config};

pub use cache::AuthCache;

/// Largest Argon2 memory cost accepted in a stored hash, in KiB (256 MiB): a hash from the
/// configuration must not be able to make each bind allocate gigabytes.
pub const ARGON2_MEMORY_KIB_MAX: u32 = 256 * 1024;
/// Largest Argon2 time cost (passes) accepted in a stored hash.
pub const ARGON2_PASSES_MAX: u32 = 16;
/// Largest Argon2 parallelism accepted in a stored hash.
pub const ARGON2_LANES_MAX: u32 = 8;

/// A user's position in the snapshot it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub u32);

impl UserId {
    /// The position as an index into `[[users]]`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One user as the engine sees it.
#[derive(Debug, Clone)]
pub struct User {
    name: String,
    password_phc: String,
    /// Messages per second over all this user's sessions.
    pub tps_max: u32,
    /// Bind kinds this user may open.
    pub binds: Vec<BindKind>,
    /// Concurrent SMPP sessions allowed.
    pub sessions_max: u32,
    /// Receipts that may wait for this user.
    pub receipts_pending_max: u32,
}

impl User {
    /// The login name (SMPP system_id).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stored Argon2 hash, as a PHC string.
    pub fn password_phc(&self) -> &str {
        &self.password_phc
    }

    /// Whether this user may open a bind of `kind`.
    pub fn allows(&self, kind: BindKind) -> bool {
        self.binds.contains(&kind)
    }

    /// Checks `password` with Argon2 (constant-time in the crate); no cache.
    pub fn verify_password(&self, password: &[u8]) -> bool {
        verify_phc(&self.password_phc, password)
    }
}

/// Why a user could not be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The operating system gave no randomness for a salt or a cache key.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// Hashing a plain-text password failed.
    #[error("user `{user}`: cannot hash the password: {message}")]
    Hash {
        /// The user's name.
        user: String,
        /// The hasher's reason.
        message: String,
    },
    /// A stored hash is not an acceptable Argon2 PHC string.
    #[error("user `{user}`: {message}")]
    BadHash {
        /// The user's name.
        user: String,
        /// What is wrong with it.
        message: String,
    },
    /// The user has neither a password nor a hash (the configuration was not validated).
    #[error("user `{0}`: no password or password_hash")]
    NoPassword(String),
    /// More users than a [`UserId`] can number.
    #[error("too many users")]
    TooMany,
}

impl UsersError {
    /// The same error, naming `name` as the user it is about.
    fn for_user(self, name: &str) -> Self {
        match self {
            UsersError::Hash { message, .. } => UsersError::Hash {
                user: name.to_owned(),
                message,
            },
            other => other,
        }
    }
}

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No user has this name (SMPP `ESME_RINVSYSID`).
    #[error("unknown user")]
    UnknownUser,
    /// The password does not match (SMPP `ESME_RINVPASWD`).
    #[error("wrong password")]
    BadPassword,
    /// The password matched but this bind kind is not allowed (SMPP `ESME_RBINDFAIL`).
    #[error("bind kind {0:?} not allowed for this user")]
    BindNotAllowed(BindKind),
}

/// Every user of one configuration snapshot.
#[derive(Debug, Clone, Default)]
pub struct Users {
    list: Vec<User>,
    by_name: HashMap<String, UserId>,
    /// BLAKE2b digests of the HTTP bearer tokens: the tokens themselves are not kept,
    /// and a lookup by digest leaks nothing an attacker can steer.
    by_token: HashMap<[u8; 32], UserId>,
}

impl Users {
    /// Builds the snapshot from a validated configuration, hashing plain-text passwords.
    pub fn build(config: &Config) -> Result<Users, UsersError> {
        let mut users = Users::default();
        for user in &config.users {
            let id = UserId(u32::try_from(users.list.len()).map_err(|_| UsersError::TooMany)?);
            let password_phc = stored_hash(user)?;
            // A retired user keeps its id (for its messages and open sessions) but is
            // found by no name or token: nobody can log in as it.
            if !user.retired {
                users.by_name.insert(user.name.clone(), id);
                for token in &user.tokens {
                    users.by_token.insert(token_digest(token.expose()), id);
                }
            }
            users.list.push(User {
                name: user.name.clone(),
                password_phc,
                tps_max: user.tps_max,
                binds: user.binds.clone(),
                sessions_max: user.sessions_max,
                receipts_pending_max: user
                    .receipts_pending_max
                    .unwrap_or(config.limits.receipts_pending_max),
            });
        }
        Ok(users)
    }

    /// The user called `name` (an SMPP system_id).
    pub fn lookup(&self, name: &str) -> Option<UserId> {
        self.by_name.get(name).copied()
    }

    /// The user a bearer token belongs to.
    pub fn by_token(&self, token: &str) -> Option<UserId> {
        self.by_token.get(&token_digest(token)).copied()
    }

    /// The user with id `id`, if it belongs to this snapshot.
    pub fn get(&self, id: UserId) -> Option<&User> {
        self.list.get(id.index())
    }

    /// Every user, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = (UserId, &User)> {
        (0u32..).map(UserId).zip(self.list.iter())
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Checks a bind's credentials and kind; successful logins go through `cache`.
    /// The password is checked before the bind kind so that a caller without the
    /// password learns nothing about what the account allows.
    pub fn authenticate(
        &self,
        cache: &mut AuthCache,
        login: Login<'_>,
        now_ms: u64,
    ) -> Result<UserId, AuthError> {
        let id = self.lookup(login.name).ok_or(AuthError::UnknownUser)?;
        let user = self.get(id).ok_or(AuthError::UnknownUser)?;
        if !cache.verify(user, login.password, now_ms) {
            return Err(AuthError::BadPassword);
        }
        if !user.allows(login.bind) {
            return Err(AuthError::BindNotAllowed(login.bind));
        }
        Ok(id)
    }
}

fn token_digest(token: &str) -> [u8; 32] {
    use blake2::Digest;
    blake2::Blake2b::<blake2::digest::consts::U32>::digest(token.as_bytes()).into()
}

/// Checks `password` against a PHC string with Argon2: the part of a login that may run on
/// a blocking thread, away from the shard.
pub fn verify_phc(phc: &str, password: &[u8]) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default().verify_password(password, &hash).is_ok()
}

/// What a client presents when it binds.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// system_id.
    pub name: &'a str,
    /// password, as the octets received.
    pub password: &'a [u8],
    /// The bind kind asked for.
    pub bind: BindKind,
}

/// The PHC string for `user`: its configured hash, checked, or its plain password hashed.
fn stored_hash(user: &crate::config::UserConfig) -> Result<String, UsersError> {
    match (&user.password_hash, &user.password) {
        (Some(phc), _) => {
            check_phc(phc).map_err(|message| UsersError::BadHash {
                user: user.name.clone(),
                message,
            })?;
            Ok(phc.clone())
        }
        (None, Some(plain)) => {
            hash_password(plain.expose().as_bytes()).map_err(|e| e.for_user(&user.name))
        }
        (None, None) => Err(UsersError::NoPassword(user.name.clone())),
    }
}

/// Hashes `password` with Argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane) and a
/// fresh random salt; returns the PHC string to store as `password_hash`.
pub fn hash_password(password: &[u8]) -> Result<String, UsersError> {
    let mut salt = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|e| UsersError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| UsersError::Random(e.to_string()))?;
    let hash = Argon2::default()
        .hash_password(password, &salt)
        .map_err(|e| UsersError::Hash {
            user: String::new(),
            message: e.to_string(),
        })?;
    Ok(hash.to_string())
}

/// Checks that `phc` is an Argon2 PHC string within the cost bounds above.
pub(crate) fn check_phc(phc: &str) -> Result<(), String> {
    let hash = PasswordHash::new(phc).map_err(|e| format!("not a PHC string: {e}"))?;
    if !hash.algorithm.as_str().starts_with("argon2") {
        return Err(format!("algorithm `{}` is not argon2", hash.algorithm));
    }
    let params = Params::try_from(&hash).map_err(|e| format!("bad argon2 parameters: {e}"))?;
    if params.m_cost() > ARGON2_MEMORY_KIB_MAX
        || params.t_cost() > ARGON2_PASSES_MAX
        || params.p_cost() > ARGON2_LANES_MAX
    {
        return Err(format!(
            "argon2 cost above m={ARGON2_MEMORY_KIB_MAX},t={ARGON2_PASSES_MAX},p={ARGON2_LANES_MAX}"
        ));
    }
    if hash.hash.is_none() {
        return Err("the PHC string has no hash".into());
    }
    Ok(())
}
