//! [`tern_http::Backend`] over a shard's [`Core`].

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tern_http::{
    Accepted, AuthFailure, Backend, Credentials, Health, MessageStatus, Refusal, Submission,
    UserHandle,
};
use tern_smpp::{EsmClass, RegisteredDelivery};
use tern_wal::{Lsn, WalError};

use super::idempotency::DIGEST_LEN;
use super::{Claim, HttpNode};
use crate::config::BindKind;
use crate::lifecycle::Event;
use crate::message::{
    Address, CLIENT_REF_MAX_LEN, Content, MessageId, MessageRecord, SessionKind, SplitParts,
    UserId as RecordUserId,
};
use crate::metrics::NodeMetrics;
use crate::router::MtQuery;
use crate::shard::{AcceptError, CoreRef, unix_now_ms};
use crate::users::{AuthCache, UserId, verify_phc};

/// Argon2 verifications running at once per shard (each takes ~19 MiB and tens of ms);
/// more logins that miss the cache are answered 503 rather than queued without bound.
const ARGON2_CONCURRENT_MAX: usize = 2;
/// Longest a login waits for a verification slot (or for the same login verified by
/// another request) before it is answered 503.
const ARGON2_WAIT_MS: u64 = 2_000;
/// How often a waiting login looks again.
const ARGON2_POLL_MS: u64 = 2;

/// A shard's engine side of the HTTP API.
pub struct ShardBackend {
    core: CoreRef,
    auth: Rc<RefCell<AuthCache>>,
    argon2_running: Cell<usize>,
    node: NodeMetrics,
    binds_up: Arc<AtomicUsize>,
    binds_configured: usize,
}

impl ShardBackend {
    /// The backend of the shard whose core is `core`; `node` reads every shard's metrics.
    pub fn new(
        core: CoreRef,
        auth: Rc<RefCell<AuthCache>>,
        node: NodeMetrics,
        binds_up: Arc<AtomicUsize>,
        binds_configured: usize,
    ) -> ShardBackend {
        ShardBackend {
            core,
            auth,
            argon2_running: Cell::new(0),
            node,
            binds_up,
            binds_configured,
        }
    }

    async fn check_password(&self, name: &str, password: &str) -> Result<UserId, AuthFailure> {
        let snapshot = Arc::clone(&self.core.borrow().snapshot);
        let users = &snapshot.users;
        let id = users.lookup(name).ok_or(AuthFailure::Invalid)?;
        let user = users.get(id).ok_or(AuthFailure::Invalid)?;
        let now_ms = unix_now_ms();
        if !self.wait_for_slot_or_login(user, password, now_ms).await? {
            self.argon2_running.set(self.argon2_running.get() + 1);
            let phc = user.password_phc().to_owned();
            let candidate = password.to_owned();
            let verified = glommio::executor()
                .spawn_blocking(move || verify_phc(&phc, candidate.as_bytes()))
                .await;
            self.argon2_running.set(self.argon2_running.get() - 1);
            if !verified {
                return Err(AuthFailure::Invalid);
            }
            self.auth
                .borrow_mut()
                .remember_login(user, password.as_bytes(), now_ms);
        }
        // HTTP sends are transmissions: an account limited to receiving cannot send.
        if !user.allows(BindKind::Tx) && !user.allows(BindKind::Trx) {
            return Err(AuthFailure::Invalid);
        }
        Ok(id)
    }

    /// True when the login became remembered while waiting (another request with the
    /// same credentials verified it: a burst of new connections costs one Argon2 run);
    /// false when a verification slot is free for this one. Busy after
    /// [`ARGON2_WAIT_MS`]; the waiters are bounded by the open connections.
    async fn wait_for_slot_or_login(
        &self,
        user: &crate::users::User,
        password: &str,
        now_ms: u64,
    ) -> Result<bool, AuthFailure> {
        let deadline = std::time::Instant::now() + Duration::from_millis(ARGON2_WAIT_MS);
        loop {
            if self
                .auth
                .borrow()
                .is_remembered(user, password.as_bytes(), now_ms)
            {
                return Ok(true);
            }
            if self.argon2_running.get() < ARGON2_CONCURRENT_MAX {
                return Ok(false);
            }
            if std::time::Instant::now() >= deadline {
                return Err(AuthFailure::Busy);
            }
            glommio::timer::sleep(Duration::from_millis(ARGON2_POLL_MS)).await;
        }
    }

    /// Accepts one submission; the record's LSN and its answer.
    fn accept_one(
        &self,
        user: UserId,
        submission: &Submission,
        idempotency: &[u8],
    ) -> Result<(Lsn, MessageId, Accepted), Refusal> {
        let record = self.build_record(user, submission, idempotency)?;
        let id = record.id;
        let parts = record.content.part_count();
        let lsn = self.core.borrow_mut().accept(record).map_err(refusal)?;
        let accepted = Accepted {
            id: id.to_string(),
            parts,
        };
        Ok((lsn, id, accepted))
    }

    fn build_record(
        &self,
        user: UserId,
        s: &Submission,
        idempotency: &[u8],
    ) -> Result<MessageRecord<'static>, Refusal> {
        let mut core = self.core.borrow_mut();
        let route = core
            .snapshot
            .router
            .route_mt(&MtQuery {
                user,
                source: &s.from.digits,
                destination: &s.to.digits,
            })
            .ok_or_else(|| Refusal::NoRoute(s.to.digits.clone()))?;
        let route = crate::server::failover_order(&core, route.connectors())
            .map_err(|_| Refusal::Unavailable("route".into()))?;
        let client_ref = s.client_ref.as_deref().unwrap_or("").as_bytes();
        if client_ref.len() > CLIENT_REF_MAX_LEN {
            return Err(invalid("reference", "longer than 64 octets"));
        }
        let content = content(&s.encoded.parts)?;
        let mut callback = Vec::new();
        if let Some(spec) = &s.callback {
            spec.encode(&mut callback);
        }
        let id = core
            .next_id()
            .map_err(|e| Refusal::Unavailable(e.to_string()))?;
        let now_ms = unix_now_ms();
        let ttl_s = s
            .validity_s
            .unwrap_or(core.snapshot.config.limits.message_ttl_s);
        Ok(MessageRecord {
            id,
            user: RecordUserId(user.0),
            session: SessionKind::Http,
            accepted_at_ms: now_ms,
            validity_deadline_ms: now_ms.saturating_add(u64::from(ttl_s) * 1000),
            schedule_at_ms: s.schedule_at_ms,
            source: address(&s.from),
            destination: address(&s.to),
            esm_class: EsmClass(if s.encoded.udhi { 0x40 } else { 0 }),
            protocol_id: 0,
            priority: s.priority.min(3),
            registered_delivery: registered_delivery(s),
            data_coding: s.encoded.data_coding,
            service_type: Cow::Borrowed(&[]),
            client_ref: Cow::Owned(client_ref.to_vec()),
            route,
            content,
            tlvs: Cow::Borrowed(&[]),
            callback: Cow::Owned(callback),
            idempotency_key: Cow::Owned(idempotency.to_vec()),
        })
    }

    fn node(&self) -> Result<Arc<HttpNode>, Refusal> {
        let core = self.core.borrow();
        let node = core.http.node().cloned();
        node.ok_or_else(|| Refusal::Unavailable("starting".into()))
    }

    /// Accepts `messages` (all, or the first ones until a refusal), waits until they are
    /// durable and queues them.
    async fn accept_all(
        &self,
        user: UserId,
        messages: &[Submission],
        idempotency: &[u8],
    ) -> Result<Vec<Accepted>, Refusal> {
        let mut accepted = Vec::with_capacity(messages.len());
        let mut ids = Vec::with_capacity(messages.len());
        let mut last_lsn = None;
        for submission in messages {
            match self.accept_one(user, submission, idempotency) {
                Ok((lsn, id, answer)) => {
                    last_lsn = Some(lsn);
                    ids.push(id);
                    accepted.push(answer);
                }
                Err(refusal) if accepted.is_empty() => return Err(refusal),
                Err(_) => break,
            }
        }
        self.durable(last_lsn).await?;
        let mut core = self.core.borrow_mut();
        for id in ids {
            core.handle(id, Event::Durable);
        }
        Ok(accepted)
    }

    async fn durable(&self, lsn: Option<Lsn>) -> Result<(), Refusal> {
        let Some(lsn) = lsn else {
            return Ok(());
        };
        let durable = self.core.borrow().durable(lsn);
        match durable {
            Some(d) => d
                .await
                .map_err(|e| Refusal::Unavailable(format!("wal: {e}"))),
            None => Err(Refusal::Unavailable("shutting down".into())),
        }
    }
}

impl Backend for ShardBackend {
    async fn authenticate(&self, credentials: Credentials) -> Result<UserHandle, AuthFailure> {
        let id = match &credentials {
            Credentials::Bearer(token) => {
                let core = self.core.borrow();
                core.snapshot
                    .users
                    .by_token(token)
                    .ok_or(AuthFailure::Invalid)?
            }
            Credentials::Password { name, password } => self.check_password(name, password).await?,
        };
        let name = self
            .core
            .borrow()
            .snapshot
            .users
            .get(id)
            .map(|u| u.name().to_owned())
            .ok_or(AuthFailure::Invalid)?;
        Ok(UserHandle { index: id.0, name })
    }

    async fn submit(
        &self,
        user: &UserHandle,
        messages: Vec<Submission>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<Accepted>, Refusal> {
        let Some(key) = idempotency_key else {
            return self.accept_all(UserId(user.index), &messages, &[]).await;
        };
        if key.len() + DIGEST_LEN > crate::message::IDEMPOTENCY_KEY_MAX_LEN {
            return Err(invalid("Idempotency-Key", "longer than 239 octets"));
        }
        let node = self.node()?;
        let digest = request_digest(&messages);
        match node.idempotency().claim(user.index, key.as_bytes(), digest) {
            Claim::Reserved => {}
            Claim::Replay(accepted) => return Ok(accepted),
            Claim::InProgress => return Err(Refusal::IdempotencyInProgress),
            Claim::Conflict => return Err(Refusal::IdempotencyConflict),
        }
        let mut field = digest.to_vec();
        field.extend_from_slice(key.as_bytes());
        let result = self.accept_all(UserId(user.index), &messages, &field).await;
        let mut keys = node.idempotency();
        match &result {
            Ok(accepted) => keys.complete(user.index, key.as_bytes(), digest, accepted.clone()),
            Err(_) => keys.release(user.index, key.as_bytes()),
        }
        result
    }

    fn status(&self, user: &UserHandle, id: &str) -> Option<MessageStatus> {
        let id = MessageId::parse(id).ok()?;
        let node = self.node().ok()?;
        let book = node.book(usize::from(id.shard()))?;
        book.get(id, user.index)
    }

    fn render_metrics(&self, out: &mut String) {
        let snapshot = Arc::clone(&self.core.borrow().snapshot);
        let config = &snapshot.config;
        let users: Vec<&str> = config.users.iter().map(|u| u.name.as_str()).collect();
        let connectors: Vec<&str> = config.connectors.iter().map(|c| c.name.as_str()).collect();
        self.node.render(&users, &connectors, out);
    }

    fn health(&self) -> Health {
        let core = self.core.borrow();
        Health {
            ready: !core.stopping,
            binds_up: u32::try_from(self.binds_up.load(Ordering::Acquire)).unwrap_or(u32::MAX),
            binds_configured: u32::try_from(self.binds_configured).unwrap_or(u32::MAX),
        }
    }
}

fn refusal(e: AcceptError) -> Refusal {
    match e {
        AcceptError::Throttled => Refusal::Throttled { retry_after_s: 1 },
        AcceptError::QueueFull | AcceptError::Wal(WalError::Full { .. }) => {
            Refusal::Overloaded { retry_after_s: 1 }
        }
        AcceptError::Record(e) => invalid("message", &e.to_string()),
        other => Refusal::Unavailable(other.to_string()),
    }
}

fn invalid(field: &str, detail: &str) -> Refusal {
    Refusal::Invalid {
        field: field.into(),
        detail: detail.into(),
    }
}

fn address(a: &tern_http::Address) -> Address<'static> {
    Address {
        ton: a.ton,
        npi: a.npi,
        digits: Cow::Owned(a.digits.as_bytes().to_vec()),
    }
}

fn content(parts: &[Vec<u8>]) -> Result<Content<'static>, Refusal> {
    match parts {
        [] => Err(invalid("text", "no parts")),
        [one] => Ok(Content::ShortMessage(Cow::Owned(one.clone()))),
        many => {
            let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
            SplitParts::new(None, &refs)
                .map(Content::Split)
                .map_err(|e| invalid("text", &e.to_string()))
        }
    }
}

/// registered_delivery for what the client wants (no callback, no receipt).
fn registered_delivery(s: &Submission) -> RegisteredDelivery {
    if s.callback.is_none() {
        return RegisteredDelivery(0);
    }
    let r = s.receipts;
    let smsc = match (r.on_success, r.on_failure) {
        (true, true) => 1,
        (false, true) => 2,
        (true, false) => 3,
        (false, false) => 0,
    };
    RegisteredDelivery(smsc | if r.intermediate { 0x10 } else { 0 })
}

/// A digest of the request, so a key reused for a different request is told apart. The
/// parts' UDH is left out: its concatenation reference is drawn per request, so a retry
/// of the same long text carries another one.
fn request_digest(messages: &[Submission]) -> [u8; DIGEST_LEN] {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for m in messages {
        let fields = (
            &m.to,
            &m.from,
            m.encoded.data_coding,
            m.encoded.udhi,
            m.validity_s,
            m.schedule_at_ms,
            m.priority,
            &m.client_ref,
            m.receipts,
            &m.callback,
        );
        hasher.update(format!("{fields:?}").as_bytes());
        for part in &m.encoded.parts {
            let user_data = if m.encoded.udhi {
                let udh_len = part.first().map_or(0, |&l| usize::from(l) + 1);
                part.get(udh_len..).unwrap_or(&[])
            } else {
                part
            };
            hasher.update(&(user_data.len() as u32).to_le_bytes());
            hasher.update(user_data);
        }
    }
    hasher.digest128().to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_http::{Address, Encoded, ReceiptRequest};

    fn long_text(reference: u8) -> Submission {
        let part = |n: u8, text: &[u8]| {
            let mut p = vec![5, 0, 3, reference, 2, n];
            p.extend_from_slice(text);
            p
        };
        Submission {
            to: Address {
                ton: 1,
                npi: 1,
                digits: "447700900123".into(),
            },
            from: Address {
                ton: 5,
                npi: 0,
                digits: "Tern".into(),
            },
            encoded: Encoded {
                data_coding: 0,
                udhi: true,
                parts: vec![part(1, b"first half "), part(2, b"second half")],
            },
            validity_s: None,
            schedule_at_ms: None,
            priority: 0,
            client_ref: None,
            receipts: ReceiptRequest::default(),
            callback: None,
        }
    }

    #[test]
    fn a_retried_long_text_digests_alike_whatever_its_concatenation_reference() {
        let first = request_digest(&[long_text(7)]);
        assert_eq!(first, request_digest(&[long_text(8)]));
        let mut other = long_text(7);
        other.encoded.parts[1].push(b'!');
        assert_ne!(first, request_digest(&[other]));
    }
}
