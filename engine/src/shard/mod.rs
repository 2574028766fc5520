//! One shard's state: its WAL, its messages' lifecycles, its connector queues, its part of
//! the DLR index and the receipts owed to its users.
//!
//! # Design
//! The shard is a thin shell around sans-IO machines: [`Core`] feeds events to each
//! message's [`Lifecycle`] and carries out the actions it returns (append to the WAL, queue
//! for a connector, insert into the DLR index, hand a receipt to the user's outbox). The
//! connections ([`crate::server`], [`crate::connector`]) borrow the core for the length of
//! one callback (never across an `.await`) and are woken through their registered wakers
//! when the core has work for them. Everything here lives on one executor thread, so it
//! is an `Rc<RefCell<Core>>`, with no lock.
//!
//! With more than one shard the core also speaks to the others through the mesh
//! ([`crate::mesh`]; the core's side is in `remote.rs`): a message stays with the shard
//! that accepted it, and the core ships what must happen elsewhere (a part to a bind on
//! another shard, a DLR mapping to its index shard, a receipt to a session on another
//! shard) and applies what comes back.
//!
//! A message that waits long for its receipt is *parked* (`parked.rs`: a 24-byte slot,
//! its record left in the WAL and read back by LSN when needed); [`Core::handle`] and
//! the receipt paths bring it back whole first. `Core::expire_due` expires messages
//! whose validity passed.
//!
//! The WAL's compaction (copying long-lived records out of mostly dead segments, and
//! moving every reference to the copies) is in [`compaction`].

pub mod compaction;
pub mod dlr_runs;
mod mo;
mod parked;
mod remote;

pub use mo::MoReceived;

pub use remote::SubmitJob;

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Waker;
use std::time::{SystemTime, UNIX_EPOCH};

use tern_smpp::MessageState;
use tern_wal::{Lsn, Wal, WalError};

use crate::config::Snapshot;
use crate::connector::TokenBucket;
use crate::dlr_index::{DlrIndex, Key, LookupOrPark};
use crate::lifecycle::{
    Action, ClientReceipt, DlrKey, Event, Lifecycle, LifecycleConfig, MessageSlot, ReceiptState,
};
use crate::mesh::{NodeView, Ticket, UpstreamReceipt};
use crate::message::{
    ConnectorId, IdMap, MessageId, MessageRecord, PartRef, Record, SessionKind, kind,
};

/// Milliseconds since the Unix epoch, the clock of records and the DLR index.
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Shared handle to a shard's core, held by its connections.
pub type CoreRef = Rc<RefCell<Core>>;

/// Why a message could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The connector's queue on this shard is at `queue_depth_max`.
    #[error("queue full")]
    QueueFull,
    /// The user is over its `tps_max`.
    #[error("user over its tps")]
    Throttled,
    /// The WAL refused (full or failed).
    #[error("wal: {0}")]
    Wal(#[from] WalError),
    /// The record could not be encoded (a field out of bounds).
    #[error("record: {0}")]
    Record(#[from] crate::message::RecordError),
    /// Message ids of this shard are exhausted.
    #[error("message id: {0}")]
    Id(#[from] crate::message::IdError),
}

/// A message this shard owns: its machine and what it was accepted as.
struct Entry {
    lifecycle: Lifecycle,
    record: MessageRecord<'static>,
}

/// One connector's queues on this shard.
#[derive(Default)]
pub struct ConnectorQueue {
    /// Messages waiting for their retry time, as (due at Unix ms, id), earliest first.
    /// A heap: each bind turn looks at the earliest only, so a large backlog of retries
    /// costs nothing until it is due (a scan of the whole queue per turn showed up at
    /// 15 % of a shard's time under overload).
    waiting: BinaryHeap<Reverse<(u64, MessageId)>>,
    /// Parts the lifecycle asked to submit, in order.
    ready: VecDeque<PartRef>,
    /// Binds of this connector that are up on this shard.
    pub binds_up: u32,
    /// Wakers of this connector's binds.
    wakers: Vec<Waker>,
}

/// What became of a receipt from upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// Applied to its message (or to nothing known): answer once the WAL is durable.
    Applied,
    /// Parked under this token until its submit_sm_resp is processed.
    Parked(u64),
    /// The park is full: answer with a transient error so the SMSC sends it again.
    Refused,
}

/// How a receipt's wait ended, for the bind that answers the SMSC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParkOutcome {
    /// Applied (and durable where it was applied) or given up: answer OK.
    Resolved,
    /// The index shard's park was full: answer with a transient error.
    Refused,
}

/// The shard's state, owned by its executor thread.
pub struct Core {
    shard: u8,
    /// The configuration in force (users, routes, connectors).
    pub snapshot: Arc<Snapshot>,
    /// `None` once closed at shutdown.
    wal: Option<Wal>,
    lifecycle_config: LifecycleConfig,
    /// Messages in full form. Boxed: the table's high-water mark then costs 16 B per
    /// bucket rather than the 472 B of an inline entry, and a parked message's memory
    /// goes back to the allocator.
    messages: IdMap<Box<Entry>>,
    /// Single-part messages awaiting their receipt in compact form ([`parked`]).
    slots: parked::ParkedTable,
    /// Messages that became parkable, as (when, id), oldest first: parked once
    /// `limits.messages_park_after_ms` passed, if they still are.
    park_queue: VecDeque<(u64, MessageId)>,
    /// Reads parked messages' records back; `None` once closed.
    reader: Option<tern_wal::WalReader>,
    /// Parked messages' Accepted records copied by compaction and not yet durable, as
    /// (copy, original) in LSN order: a read of the copy falls back to the original
    /// until then. Pruned each housekeeping turn; bounded by what compaction copies in
    /// one group commit.
    fresh_copies: VecDeque<(Lsn, Lsn)>,
    read_buf: Vec<u8>,
    expired: Vec<u64>,
    next_full_sweep_ms: u64,
    next_sequence: u64,
    connectors: Vec<ConnectorQueue>,
    queue_depth_max: Vec<usize>,
    dlr: DlrIndex,
    /// Mappings the WAL replay found in reopened runs and did not insert again.
    dlr_restored_from_runs: u64,
    parked: HashMap<u64, UpstreamReceipt>,
    resolved_parks: HashSet<u64>,
    refused_parks: HashSet<u64>,
    abandoned_parks: HashSet<u64>,
    next_park_token: u64,
    outbox: Vec<VecDeque<ClientReceipt>>,
    receipts_pending_max: Vec<usize>,
    client_wakers: Vec<Waker>,
    /// Per-user submit rate limits (`tps_max`), per shard.
    user_buckets: Vec<TokenBucket>,
    actions: Vec<Action>,
    scratch: Vec<u8>,
    /// True once shutdown began: connections unbind.
    pub stopping: bool,
    /// Upstream binds up on every shard of the node, for readiness checks.
    binds_up_total: Arc<AtomicUsize>,
    /// HTTP messages' status, idempotency keys and callbacks owed.
    pub http: crate::http::HttpState,
    /// This shard's counters and gauges, read by `/metrics` from any shard.
    pub metrics: Arc<crate::metrics::ShardMetrics>,
    /// The node's shards and the hints they share.
    node: Arc<NodeView>,
    /// This shard's side of the mesh.
    mesh: remote::MeshState,
    /// MO messages this shard holds (its own) or delivers for other shards.
    pub mo: crate::mo::MoBook,
}

impl Core {
    /// A core over an opened WAL; replays `recovery` (messages, DLR mappings, receipts owed).
    /// The core of a one-shard node.
    pub fn new(
        shard: u8,
        snapshot: Arc<Snapshot>,
        wal: Wal,
        recovery: &tern_wal::Recovery,
        dlr: DlrIndex,
    ) -> Result<Core, crate::lifecycle::RecoveryError> {
        let config = &snapshot.config;
        let node = Arc::new(NodeView::new(
            1,
            config.connectors.len(),
            config.users.len(),
        ));
        Core::new_in_node(shard, node, snapshot, wal, recovery, dlr)
    }

    /// A core of shard `shard` of the node `node` describes; replays `recovery`. What
    /// belongs to other shards (DLR mappings of their index, parts for their binds)
    /// waits in the outbound queues until the mesh runs.
    pub fn new_in_node(
        shard: u8,
        node: Arc<NodeView>,
        snapshot: Arc<Snapshot>,
        wal: Wal,
        recovery: &tern_wal::Recovery,
        dlr: DlrIndex,
    ) -> Result<Core, crate::lifecycle::RecoveryError> {
        let config = &snapshot.config;
        let shards = node.shards();
        let shards_u32 = u32::try_from(shards).unwrap_or(u32::MAX);
        let connectors = config.connectors.len();
        let queue_depth_max = queue_bounds(config);
        let receipts_pending_max = receipt_bounds(config);
        let reader = wal.reader();
        let mut core = Core {
            shard,
            wal: Some(wal),
            lifecycle_config: LifecycleConfig {
                seed: u64::from(shard),
                ..LifecycleConfig::default()
            },
            messages: IdMap::default(),
            slots: parked::ParkedTable::new(config.limits.messages_parked_max as usize),
            park_queue: VecDeque::new(),
            reader: Some(reader),
            fresh_copies: VecDeque::new(),
            read_buf: Vec::new(),
            expired: Vec::new(),
            next_full_sweep_ms: 0,
            next_sequence: 0,
            connectors: (0..connectors).map(|_| ConnectorQueue::default()).collect(),
            queue_depth_max,
            dlr,
            dlr_restored_from_runs: 0,
            parked: HashMap::new(),
            resolved_parks: HashSet::new(),
            refused_parks: HashSet::new(),
            abandoned_parks: HashSet::new(),
            next_park_token: 0,
            outbox: (0..config.users.len()).map(|_| VecDeque::new()).collect(),
            receipts_pending_max,
            client_wakers: Vec::new(),
            user_buckets: config
                .users
                .iter()
                .map(|u| user_bucket(u.tps_max, shards_u32, std::time::Instant::now()))
                .collect(),
            actions: Vec::new(),
            scratch: Vec::new(),
            stopping: false,
            binds_up_total: Arc::default(),
            http: crate::http::HttpState::new(config),
            metrics: Arc::new(crate::metrics::ShardMetrics::new(
                config.users.len(),
                config.connectors.len(),
            )),
            mesh: remote::MeshState::new(usize::from(shard), &snapshot.config, shards),
            mo: crate::mo::MoBook::new(&snapshot.config, shards),
            node,
            snapshot,
        };
        core.recover(recovery)?;
        Ok(core)
    }

    fn recover(
        &mut self,
        recovery: &tern_wal::Recovery,
    ) -> Result<(), crate::lifecycle::RecoveryError> {
        let mut fold = crate::lifecycle::Recovery::new(self.shard);
        // HTTP messages need their record at once (the status book); the others only if
        // they cannot be parked straight away.
        let mut http_ids = HashSet::new();
        for r in recovery.records() {
            if !kind::is_message_kind(r.kind) {
                continue;
            }
            fold.apply(r.lsn, r.kind, r.payload)?;
            if let Ok(Record::Accepted(record)) = Record::decode(r.kind, r.payload)
                && record.session == SessionKind::Http
            {
                http_ids.insert(record.id);
            }
        }
        let now_ms = unix_now_ms();
        let floor = self.wal.as_ref().map_or(0, |w| w.next_lsn().get());
        let recovered = fold.finish(floor);
        for r in recovery.records() {
            let Some((key, part)) = recovered.dlr_entry(r.lsn, r.kind, r.payload) else {
                continue;
            };
            self.restore_dlr(key, part, now_ms);
        }
        self.next_sequence = recovered.next_sequence();
        for lsn in recovered.dead_lsns() {
            if let Some(wal) = self.wal.as_mut() {
                let _ = wal.mark_done(*lsn);
            }
        }
        // Messages awaiting their receipt since before the restart are parked at once,
        // without their record (resuming them does nothing): a restart with millions
        // outstanding never holds all their records in memory.
        let park = self.snapshot.config.limits.messages_park_after_ms > 0;
        let mut whole = Vec::new();
        for lifecycle in recovered.into_messages() {
            let id = lifecycle.id();
            let parked = park
                && !http_ids.contains(&id)
                && MessageSlot::park(&lifecycle)
                    .is_some_and(|slot| self.slots.insert(id.sequence(), slot));
            if !parked {
                whole.push(lifecycle);
            }
        }
        let wanted: HashSet<MessageId> = whole.iter().map(Lifecycle::id).collect();
        let mut records = HashMap::with_capacity(wanted.len());
        for r in recovery.records() {
            if r.kind != kind::ACCEPTED {
                continue;
            }
            if let Ok(Record::Accepted(record)) = Record::decode(r.kind, r.payload)
                && wanted.contains(&record.id)
            {
                records.insert(record.id, record.into_owned());
            }
        }
        for lifecycle in whole {
            let id = lifecycle.id();
            let Some(record) = records.remove(&id) else {
                tracing::error!(?id, "recovered message without its Accepted record");
                continue;
            };
            if record.session == SessionKind::Http {
                crate::http::recovered(&mut self.http, &record, lifecycle.part_count());
            }
            self.messages
                .insert(id, Box::new(Entry { lifecycle, record }));
            let mut out = std::mem::take(&mut self.actions);
            out.clear();
            if let Some(entry) = self.messages.get_mut(&id) {
                entry.lifecycle.resume(now_ms, &mut out);
            }
            self.run_actions(Some(id), out, now_ms, true);
            self.queue_park(id, now_ms);
        }
        self.recover_mo(recovery);
        tracing::info!(
            shard = self.shard,
            messages = self.messages.len(),
            parked = self.slots.len(),
            "recovered"
        );
        Ok(())
    }

    /// Makes `next` (a reloaded configuration, lined up by
    /// [`crate::config::plan_reload`]) the one in force; false, and nothing changed, when
    /// it is not newer or does not line up. Messages already accepted keep the route in
    /// their record; per-user structures grow for new users (a retired user keeps its
    /// slot), changed user rates get a fresh bucket, connector queue bounds follow.
    pub fn swap_snapshot(&mut self, next: Arc<Snapshot>) -> bool {
        if next.generation <= self.snapshot.generation {
            return false;
        }
        let config = &next.config;
        if config.connectors.len() != self.connectors.len()
            || config.users.len() < self.outbox.len()
        {
            tracing::error!(
                generation = next.generation,
                "reloaded configuration moves connectors or users; not applied"
            );
            return false;
        }
        let shards = u32::try_from(self.node.shards()).unwrap_or(u32::MAX);
        let now = std::time::Instant::now();
        for (i, user) in config.users.iter().enumerate() {
            let old_tps = self.snapshot.config.users.get(i).map(|u| u.tps_max);
            if old_tps == Some(user.tps_max) {
                continue;
            }
            let bucket = user_bucket(user.tps_max, shards, now);
            match self.user_buckets.get_mut(i) {
                Some(slot) => *slot = bucket,
                None => self.user_buckets.push(bucket),
            }
        }
        self.outbox.resize_with(config.users.len(), VecDeque::new);
        self.receipts_pending_max = receipt_bounds(config);
        self.queue_depth_max = queue_bounds(config);
        self.mesh.grow_users(config.users.len());
        tracing::info!(
            shard = self.shard,
            generation = next.generation,
            "configuration reloaded"
        );
        self.snapshot = next;
        // Binds pick up their new rate and window at their next turn.
        self.wake_everyone();
        true
    }

    /// The next message id of this shard.
    pub fn next_id(&mut self) -> Result<MessageId, AcceptError> {
        let id = MessageId::new(self.shard, self.next_sequence)?;
        self.next_sequence += 1;
        Ok(id)
    }

    /// True when a bind of `connector` is up on any shard of the node.
    pub fn connector_up(&self, connector: usize) -> bool {
        self.connectors
            .get(connector)
            .is_some_and(|c| c.binds_up > 0)
            || (0..self.node.shards()).any(|s| self.node.binds_up(s, connector) > 0)
    }

    /// Logs `record` as Accepted; the caller answers the client once the LSN is durable.
    pub fn accept(&mut self, record: MessageRecord<'static>) -> Result<Lsn, AcceptError> {
        let user = record.user.0;
        self.metrics.user(user).submitted.inc();
        let accepted = self.accept_counted(record);
        match &accepted {
            Ok(_) => self.metrics.user(user).accepted.inc(),
            Err(AcceptError::Throttled) => self.metrics.user(user).throttled.inc(),
            Err(_) => self.metrics.user(user).rejected.inc(),
        }
        accepted
    }

    fn accept_counted(&mut self, record: MessageRecord<'static>) -> Result<Lsn, AcceptError> {
        if self.messages.len() >= self.snapshot.config.limits.messages_held_max as usize {
            return Err(AcceptError::QueueFull);
        }
        let now = std::time::Instant::now();
        let bucket = self.user_buckets.get_mut(record.user.0 as usize);
        if !bucket.is_some_and(|b| b.take(now)) {
            return Err(AcceptError::Throttled);
        }
        let first = record.route.get(0).unwrap_or_default();
        let depth = self.queued(usize::from(first.0));
        if depth
            >= self
                .queue_depth_max
                .get(usize::from(first.0))
                .copied()
                .unwrap_or(0)
        {
            return Err(AcceptError::QueueFull);
        }
        self.scratch.clear();
        record.encode(&mut self.scratch)?;
        let wal = self.wal.as_mut().ok_or(WalError::Closed)?;
        let lsn = wal.append(kind::ACCEPTED, &self.scratch)?;
        let lifecycle = Lifecycle::new(&record, lsn);
        if record.session == SessionKind::Http {
            self.http.book().accepted(&record, lifecycle.part_count());
        }
        self.messages
            .insert(record.id, Box::new(Entry { lifecycle, record }));
        Ok(lsn)
    }

    fn queued(&self, connector: usize) -> usize {
        self.connectors
            .get(connector)
            .map_or(0, |c| c.waiting.len() + c.ready.len())
    }

    /// A future that resolves once `lsn` is durable; `None` once the WAL is closed.
    pub fn durable(&self, lsn: Lsn) -> Option<tern_wal::Durable> {
        self.wal.as_ref().map(|w| w.durable(lsn))
    }

    /// True once `lsn` is durable.
    pub fn is_durable(&self, lsn: Lsn) -> bool {
        self.wal.as_ref().is_some_and(|w| w.is_durable(lsn))
    }

    /// Feeds `event` to message `id`'s lifecycle and carries out what it asks.
    pub fn handle(&mut self, id: MessageId, event: Event) {
        let now_ms = unix_now_ms();
        let unparked = !self.messages.contains_key(&id) && self.ensure_full(id);
        let mut out = std::mem::take(&mut self.actions);
        out.clear();
        let Some(entry) = self.messages.get_mut(&id) else {
            tracing::debug!(?id, ?event, "event for a message not held here");
            self.actions = out;
            return;
        };
        let was_final = entry.lifecycle.is_final();
        let parkable_before = !unparked && MessageSlot::park(&entry.lifecycle).is_some();
        let handled = entry
            .lifecycle
            .handle(&self.lifecycle_config, now_ms, event, &mut out);
        if let crate::lifecycle::Handled::Ignored(why) = handled {
            tracing::debug!(?id, ?event, ?why, "event ignored");
        } else {
            self.note_event(id, &event, now_ms);
        }
        self.run_actions(Some(id), out, now_ms, was_final);
        if !parkable_before {
            self.queue_park(id, now_ms);
        }
    }

    /// Counts an applied event and keeps the HTTP status book in step.
    fn note_event(&mut self, id: MessageId, event: &Event, now_ms: u64) {
        let Some(entry) = self.messages.get(&id) else {
            return;
        };
        let accepted_at_ms = entry.record.accepted_at_ms;
        let http = entry.record.session == SessionKind::Http;
        match *event {
            Event::SubmitResult { part, status, id2 } => {
                let connector = match entry.lifecycle.state() {
                    crate::lifecycle::State::InFlight { connector, .. } => Some(connector),
                    _ => entry.record.route.get(0),
                };
                if let Some(c) = connector {
                    let m = self.metrics.connector(c.0);
                    if status == tern_smpp::CommandStatus::ESME_ROK {
                        m.sent.inc();
                        m.accept_to_sent_ms
                            .observe(now_ms.saturating_sub(accepted_at_ms));
                    } else {
                        m.refused.inc();
                    }
                }
                if http {
                    let id2 = id2.as_ref().map_or(&[][..], |i| i.as_bytes());
                    self.http.book().submit_result(id, part, status, id2);
                    if status == tern_smpp::CommandStatus::ESME_ROK {
                        self.http.push_smsc_ack(id, part);
                    }
                }
            }
            Event::Receipt {
                part, state, error, ..
            } if http => self.http.book().receipt(id, part, state, error),
            _ => {}
        }
    }

    /// After a message's actions ran: the status book and the final counters follow its
    /// state; `released` when the shard let go of it.
    fn note_state(&mut self, id: MessageId, was_final: bool, now_ms: u64) {
        let Some(entry) = self.messages.get(&id) else {
            return;
        };
        let state = entry.lifecycle.state();
        if let crate::lifecycle::State::Final(f) = state
            && !was_final
        {
            let m = self.metrics.user(entry.record.user.0);
            m.final_state(f).inc();
            m.accept_to_final_ms
                .observe(now_ms.saturating_sub(entry.record.accepted_at_ms));
        }
        if entry.record.session == SessionKind::Http {
            let mut book = self.http.book();
            book.state(id, state, now_ms);
            if entry.lifecycle.is_released() {
                book.released(id);
            }
        }
    }

    /// Runs `out` for message `id`; `was_final` says whether it was final before the event
    /// (so a final state is counted once).
    fn run_actions(
        &mut self,
        id: Option<MessageId>,
        mut out: Vec<Action>,
        now_ms: u64,
        was_final: bool,
    ) {
        let mut i = 0;
        // Logging a record can produce more actions; they are appended and run in turn.
        while let Some(action) = out.get(i).copied() {
            i += 1;
            self.run_action(id, action, &mut out, now_ms);
        }
        if let Some(id) = id {
            self.note_state(id, was_final, now_ms);
        }
        if let Some(id) = id
            && self
                .messages
                .get(&id)
                .is_some_and(|e| e.lifecycle.is_released())
        {
            self.messages.remove(&id);
        }
        out.clear();
        self.actions = out;
    }

    fn run_action(
        &mut self,
        id: Option<MessageId>,
        action: Action,
        out: &mut Vec<Action>,
        now_ms: u64,
    ) {
        match action {
            Action::Requeue {
                connector,
                delay_ms,
            } => {
                if let (Some(id), Some(q)) = (id, self.connectors.get_mut(usize::from(connector.0)))
                {
                    q.waiting
                        .push(Reverse((now_ms.saturating_add(delay_ms), id)));
                    wake_all(&q.wakers);
                    if q.binds_up == 0 {
                        self.mesh.forward_kick.kick();
                    }
                }
            }
            Action::Submit { part, connector } => {
                if let (Some(id), Some(q)) = (id, self.connectors.get_mut(usize::from(connector.0)))
                {
                    q.ready.push_back(PartRef { message: id, part });
                    if q.binds_up == 0 {
                        self.mesh.forward_kick.kick();
                    }
                }
            }
            Action::Failover { from, to } => {
                tracing::debug!(?id, from = from.0, to = to.0, "failover");
            }
            Action::InsertDlr { key, part } => self.insert_dlr(key, part, now_ms),
            Action::RemoveDlr { key } => self.remove_dlr(key),
            Action::Log(progress) => {
                self.scratch.clear();
                progress.encode(&mut self.scratch);
                let appended = match self.wal.as_mut() {
                    Some(wal) => wal.append(progress.kind(), &self.scratch),
                    None => Err(WalError::Closed),
                };
                match appended {
                    Ok(lsn) => {
                        if let Some(entry) = self.messages.get_mut(&progress.id()) {
                            entry.lifecycle.logged(&progress, lsn, out);
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "wal append of a progress record failed"),
                }
            }
            Action::MarkDone(lsn) => {
                let marked = self.wal.as_mut().map_or(Ok(()), |w| w.mark_done(lsn));
                if let Err(e) = marked {
                    tracing::warn!(error = %e, "mark_done failed");
                }
            }
            Action::NotifyClient(receipt) => self.push_outbox(receipt),
        }
    }

    fn apply_receipt(&mut self, part: PartRef, receipt: &UpstreamReceipt) {
        let event = Event::Receipt {
            part: part.part,
            state: receipt.state,
            error: receipt.error,
            matched: Some(receipt.key),
        };
        self.handle(part.message, event);
    }

    /// A receipt from upstream: applied now, or waiting (parked until its submit_sm_resp
    /// is processed, or in flight to its index or owner shard) under a token, or refused
    /// because the park is full (answer with a transient error).
    pub fn receipt(&mut self, key: DlrKey, state: MessageState, error: u32) -> ReceiptOutcome {
        let Ok(k) = Key::new(u32::from(key.connector.0), key.id2.as_bytes()) else {
            return ReceiptOutcome::Applied;
        };
        let token = self.next_park_token;
        let receipt = UpstreamReceipt {
            key,
            state,
            error,
            ticket: Ticket {
                shard: self.shard,
                token,
            },
        };
        let index = self.index_shard(&k);
        if index != usize::from(self.shard) {
            self.next_park_token += 1;
            self.mesh
                .send(index, crate::mesh::MeshMsg::ReceiptLookup(receipt));
            return ReceiptOutcome::Parked(token);
        }
        match self.dlr.lookup_or_park(k, token, unix_now_ms()) {
            LookupOrPark::Found(value) => {
                let part = PartRef::from_dlr_value(value);
                if part.message.shard() == self.shard {
                    self.apply_receipt(part, &receipt);
                    return ReceiptOutcome::Applied;
                }
                self.next_park_token += 1;
                self.apply_for(part, receipt);
                ReceiptOutcome::Parked(token)
            }
            LookupOrPark::Parked => {
                self.next_park_token += 1;
                self.parked.insert(token, receipt);
                ReceiptOutcome::Parked(token)
            }
            LookupOrPark::Refused => ReceiptOutcome::Refused,
        }
    }

    /// True (once) when parked receipt `token` was matched and applied, or given up.
    pub fn take_resolved_park(&mut self, token: u64) -> bool {
        self.resolved_parks.remove(&token)
    }

    /// How the wait of receipt `token` ended, once (None while it still waits).
    pub fn take_park_outcome(&mut self, token: u64) -> Option<ParkOutcome> {
        if self.refused_parks.remove(&token) {
            return Some(ParkOutcome::Refused);
        }
        self.resolved_parks
            .remove(&token)
            .then_some(ParkOutcome::Resolved)
    }

    /// The last LSN appended: once it is durable, so is everything logged before.
    pub fn last_lsn(&self) -> Option<Lsn> {
        let next = self.wal.as_ref()?.next_lsn().get();
        next.checked_sub(1).map(Lsn)
    }

    /// Drops parked receipts whose wait is over (their message is unknown here).
    pub fn expire_parked(&mut self) {
        let now_ms = unix_now_ms();
        while let Some(token) = self.dlr.poll_unmatched(now_ms) {
            if let Some(receipt) = self.parked.remove(&token) {
                tracing::warn!("receipt for an unknown message dropped after its park timeout");
                self.finish_ticket(receipt.ticket, ParkOutcome::Resolved);
            }
        }
    }

    /// The bind waiting for parked receipt `token` closed: nobody will take its resolution.
    pub fn abandon_park(&mut self, token: u64) {
        if !self.resolved_parks.remove(&token) && !self.refused_parks.remove(&token) {
            self.abandoned_parks.insert(token);
        }
    }

    fn resolve_park(&mut self, token: u64) {
        // Bounded by the park: a token is resolved at most once, then taken by its bind
        // or, if that bind closed, never stored.
        if self.abandoned_parks.remove(&token) {
            return;
        }
        self.resolved_parks.insert(token);
        for q in &self.connectors {
            wake_all(&q.wakers);
        }
    }

    fn push_outbox(&mut self, receipt: ClientReceipt) {
        let http = self
            .messages
            .get(&receipt.id)
            .is_some_and(|e| e.record.session == SessionKind::Http);
        if http {
            // Bounded by the messages held (each owes at most one final receipt), so only
            // intermediate notices can be dropped here; those are best effort.
            if !self.http.push_receipt(receipt) {
                self.http.note_dropped_notice();
            }
            return;
        }
        let user = receipt.user.0 as usize;
        let max = self.receipts_pending_max.get(user).copied().unwrap_or(0);
        if let Some(queue) = self.outbox.get_mut(user) {
            // A final receipt is always queued: each held message owes at most one, so
            // `messages_held_max` bounds them (and refuses new messages at the door when
            // the client falls behind). Dropping one would hold its message until a
            // restart. Intermediate notices past the bound are best effort.
            if queue.len() >= max && matches!(receipt.state, ReceiptState::Intermediate(_)) {
                tracing::debug!(user, "receipt outbox full: intermediate notice dropped");
                return;
            }
            queue.push_back(receipt);
            wake_all(&self.client_wakers);
            if self.mesh.receivers(user) == 0 {
                self.mesh.forward_kick.kick();
            }
        }
    }

    /// The next receipt owed to `user`, if any: this shard's own first, then those other
    /// shards handed over for this shard's sessions.
    pub fn pop_receipt(&mut self, user: usize) -> Option<ClientReceipt> {
        if let Some(receipt) = self.outbox.get_mut(user)?.pop_front() {
            return Some(receipt);
        }
        self.mesh.pop_forwarded(user)
    }

    /// Puts back a receipt that could not be delivered, to be tried first next time.
    pub fn unpop_receipt(&mut self, receipt: ClientReceipt) {
        if receipt.id.shard() != self.shard {
            self.unpop_forwarded(receipt);
            return;
        }
        if let Some(queue) = self.outbox.get_mut(receipt.user.0 as usize) {
            queue.push_front(receipt);
            wake_all(&self.client_wakers);
        }
    }

    /// The Accepted record of message `id`, while the shard holds it.
    pub fn record(&self, id: MessageId) -> Option<&MessageRecord<'static>> {
        self.messages.get(&id).map(|e| &e.record)
    }

    /// The lifecycle state of message `id`, while the shard holds it (parked or not).
    pub fn state(&self, id: MessageId) -> Option<crate::lifecycle::State> {
        if let Some(entry) = self.messages.get(&id) {
            return Some(entry.lifecycle.state());
        }
        self.parked_slot(id).map(|slot| slot.unpark(id).state())
    }

    /// Moves messages whose retry time has come to the ready list of `connector`.
    pub fn release_due(&mut self, connector: usize) -> Option<u64> {
        let now_ms = unix_now_ms();
        let mut next_due = None;
        let mut due = Vec::new();
        if let Some(q) = self.connectors.get_mut(connector) {
            while let Some(&Reverse((at_ms, id))) = q.waiting.peek() {
                if at_ms > now_ms {
                    next_due = Some(at_ms);
                    break;
                }
                q.waiting.pop();
                due.push(id);
            }
        }
        for id in due {
            self.handle(id, Event::RetryDue);
        }
        next_due
    }

    /// The next part to submit on `connector`.
    pub fn pop_ready(&mut self, connector: usize) -> Option<PartRef> {
        self.connectors.get_mut(connector)?.ready.pop_front()
    }

    /// Puts back a part that could not be sent now.
    pub fn unpop_ready(&mut self, connector: usize, part: PartRef) {
        if let Some(q) = self.connectors.get_mut(connector) {
            q.ready.push_front(part);
        }
    }

    /// A bind of `connector` came up or went down.
    pub fn set_bind_up(&mut self, connector: usize, up: bool) {
        if let Some(q) = self.connectors.get_mut(connector) {
            q.binds_up = if up {
                q.binds_up + 1
            } else {
                q.binds_up.saturating_sub(1)
            };
            self.node
                .add_bind_up(usize::from(self.shard), connector, up);
            if q.binds_up == 0 {
                // This shard's queue now goes to other shards' binds, and what others
                // handed over goes back to them.
                self.mesh.forward_kick.kick();
                self.bounce_remote_parts(connector);
            }
        }
        if up {
            self.binds_up_total.fetch_add(1, Ordering::AcqRel);
        } else {
            self.binds_up_total.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Shares the node-wide count of upstream binds up.
    pub fn share_bind_count(&mut self, counter: Arc<AtomicUsize>) {
        self.binds_up_total = counter;
    }

    /// Registers a connector bind's waker.
    pub fn register_connector_waker(&mut self, connector: usize, waker: &Waker) {
        if let Some(q) = self.connectors.get_mut(connector) {
            register(&mut q.wakers, waker);
        }
    }

    /// Registers a client session's waker (woken when receipts are owed).
    pub fn register_client_waker(&mut self, waker: &Waker) {
        register(&mut self.client_wakers, waker);
    }

    /// Forgets a closed client session's waker.
    pub fn unregister_client_waker(&mut self, waker: &Waker) {
        self.client_wakers.retain(|w| !w.will_wake(waker));
    }

    /// Forgets a closed connector bind's waker.
    pub fn unregister_connector_waker(&mut self, connector: usize, waker: &Waker) {
        if let Some(q) = self.connectors.get_mut(connector) {
            q.wakers.retain(|w| !w.will_wake(waker));
        }
    }

    /// Wakes every connection of the shard (shutdown, periodic work).
    pub fn wake_everyone(&self) {
        wake_all(&self.client_wakers);
        for q in &self.connectors {
            wake_all(&q.wakers);
        }
    }

    /// Flushes done marks and closes the WAL (shutdown); later appends get `Closed`.
    pub fn close_wal(&mut self) -> Result<(), WalError> {
        self.wal.take().map_or(Ok(()), Wal::close)
    }

    /// Periodic WAL housekeeping: logs done marks so segments can be reclaimed.
    pub fn maintain(&mut self) {
        let Some(wal) = self.wal.as_mut() else {
            return;
        };
        if let Err(e) = wal.flush_done() {
            tracing::warn!(error = %e, "flush_done failed");
        }
        wal.maintain();
    }

    /// Publishes this shard's gauges (queue depths, binds, receipts pending) for `/metrics`.
    pub fn publish_gauges(&self) {
        for (i, q) in self.connectors.iter().enumerate() {
            let m = self.metrics.connector(u16::try_from(i).unwrap_or(u16::MAX));
            m.queue_depth.set((q.waiting.len() + q.ready.len()) as u64);
            m.binds_up.set(u64::from(q.binds_up));
        }
        for (i, queue) in self.outbox.iter().enumerate() {
            let m = self.metrics.user(u32::try_from(i).unwrap_or(u32::MAX));
            m.receipts_pending.set(queue.len() as u64);
        }
        let callbacks = self.http.receipts_queued() as u64;
        self.metrics.callbacks_queued.set(callbacks);
        let parked = self.slots.len() as u64;
        self.metrics
            .messages_held
            .set(self.messages.len() as u64 + parked);
        self.metrics.messages_parked.set(parked);
        self.metrics
            .parked_bytes
            .set(self.slots.approx_bytes() as u64);
    }

    /// The connector id records use for configuration position `index`.
    pub fn connector_id(index: usize) -> ConnectorId {
        ConnectorId(u16::try_from(index).unwrap_or(u16::MAX))
    }
}

/// Each connector's queue bound on this shard, in configuration order.
fn queue_bounds(config: &crate::config::Config) -> Vec<usize> {
    config
        .connectors
        .iter()
        .map(|c| config.queue_depth_max(c) as usize)
        .collect()
}

/// Each user's bound on receipts waiting for it, in configuration order.
fn receipt_bounds(config: &crate::config::Config) -> Vec<usize> {
    config
        .users
        .iter()
        .map(|u| {
            u.receipts_pending_max
                .unwrap_or(config.limits.receipts_pending_max) as usize
        })
        .collect()
}

/// A user's rate limit on one shard: its share, since its sessions spread over the shards.
fn user_bucket(tps_max: u32, shards: u32, now: std::time::Instant) -> TokenBucket {
    TokenBucket::new((tps_max / shards.max(1)).max(1), now)
}

/// Bound on wakers kept per list: one per live connection, dead ones pruned on insert.
const WAKERS_MAX: usize = 4096;

fn register(wakers: &mut Vec<Waker>, waker: &Waker) {
    if wakers.iter().any(|w| w.will_wake(waker)) {
        return;
    }
    if wakers.len() >= WAKERS_MAX {
        wakers.remove(0);
    }
    wakers.push(waker.clone());
}

fn wake_all(wakers: &[Waker]) {
    for waker in wakers {
        waker.wake_by_ref();
    }
}
