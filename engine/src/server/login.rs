//! SMPP binds whose password is not in the login cache: Argon2 (tens of ms) runs on
//! glommio's blocking pool and the bind is answered when it is done, so a wrong-password
//! storm or a reconnect burst after a restart never stalls the shard's other sessions.
//! At most [`ARGON2_CONCURRENT_MAX`] run per shard; a bind waiting for a slot keeps the
//! session binding (its other requests are refused by the state table) and is looked at
//! again every [`LOGIN_POLL_MS`] until a slot frees or another bind verified the same
//! login.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tern_smpp::session::BindKind as SmppBindKind;

use crate::users::{UserId, verify_phc};

/// Argon2 verifications running at once on one shard for SMPP binds.
pub const ARGON2_CONCURRENT_MAX: usize = 2;
/// How often a bind waiting for a verification slot is looked at again.
pub const LOGIN_POLL_MS: u64 = 2;

thread_local! {
    /// Verifications running on this shard's blocking pool (one executor per thread).
    static RUNNING: Cell<usize> = const { Cell::new(0) };
}

/// A bind waiting for its password check.
pub struct PendingLogin {
    /// The bind's kind.
    pub kind: SmppBindKind,
    /// The user it names.
    pub user: UserId,
    /// The password as sent (kept only until the check ends).
    pub password: Vec<u8>,
    /// The bind's interface_version.
    pub interface_version: u8,
    /// `None` until started; then the verification's result once it is in.
    pub result: Option<Rc<Cell<Option<bool>>>>,
}

impl PendingLogin {
    /// Starts the Argon2 check of `password` against `phc` if a slot is free; the
    /// connection's `wake` is called when it ends. False when no slot is free.
    pub fn try_start(&mut self, phc: &str, wake: impl FnOnce() + 'static) -> bool {
        if RUNNING.get() >= ARGON2_CONCURRENT_MAX {
            return false;
        }
        RUNNING.set(RUNNING.get() + 1);
        let result = Rc::new(Cell::new(None));
        self.result = Some(Rc::clone(&result));
        let phc = phc.to_owned();
        let password = self.password.clone();
        glommio::spawn_local(async move {
            let verified = glommio::executor()
                .spawn_blocking(move || verify_phc(&phc, &password))
                .await;
            RUNNING.set(RUNNING.get().saturating_sub(1));
            result.set(Some(verified));
            wake();
        })
        .detach();
        true
    }

    /// The check's result, once in.
    pub fn verified(&self) -> Option<bool> {
        self.result.as_ref().and_then(|r| r.get())
    }

    /// When the pump should look again while this login waits.
    pub fn poll_at(now: Instant) -> Instant {
        now + Duration::from_millis(LOGIN_POLL_MS)
    }
}
