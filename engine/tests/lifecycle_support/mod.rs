//! A model shell for lifecycle tests: it appends logged records to an in-memory WAL,
//! feeds their LSNs back, keeps the DLR index as a map and counts what the machine asks.

#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::BTreeMap;

use tern_engine::lifecycle::{
    Action, ClientReceipt, DlrKey, Event, Handled, Lifecycle, LifecycleConfig,
};
use tern_engine::message::{
    Address, ConnectorId, Content, FinalScope, MessageId, MessageRecord, PartRef, Progress, Route,
    SessionKind, SplitParts, UserId, kind,
};
use tern_smpp::{EsmClass, RegisteredDelivery};
use tern_wal::Lsn;

/// Acceptance time of test messages (Unix ms).
pub const T0_MS: u64 = 1_700_000_000_000;
/// Validity of test messages.
pub const VALIDITY_MS: u64 = 48 * 3600 * 1000;

/// A test message of `parts` parts on `route`, asking for `registered_delivery`.
pub fn record(
    sequence: u64,
    parts: u8,
    route: &[u16],
    registered_delivery: u8,
) -> MessageRecord<'static> {
    let connectors: Vec<ConnectorId> = route.iter().copied().map(ConnectorId).collect();
    let content = if parts == 1 {
        Content::ShortMessage(Cow::Owned(b"hello".to_vec()))
    } else {
        let bodies: Vec<Vec<u8>> = (0..parts).map(|part| vec![b'a' + part % 26; 153]).collect();
        let slices: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        Content::Split(SplitParts::new(None, &slices).expect("parts within bounds"))
    };
    MessageRecord {
        id: MessageId::new(1, sequence).expect("sequence fits"),
        user: UserId(7),
        session: SessionKind::Smpp {
            interface_version: 0x34,
        },
        accepted_at_ms: T0_MS,
        validity_deadline_ms: T0_MS + VALIDITY_MS,
        schedule_at_ms: None,
        source: Address {
            ton: 5,
            npi: 0,
            digits: Cow::Borrowed(b"Tern"),
        },
        destination: Address {
            ton: 1,
            npi: 1,
            digits: Cow::Borrowed(b"447700900123"),
        },
        esm_class: EsmClass(if parts > 1 { 0x40 } else { 0 }),
        protocol_id: 0,
        priority: 0,
        registered_delivery: RegisteredDelivery(registered_delivery),
        data_coding: 0,
        service_type: Cow::Borrowed(b""),
        client_ref: Cow::Borrowed(b"ref-1"),
        route: Route::new(&connectors).expect("route within bounds"),
        content,
        tlvs: Cow::Borrowed(b""),
        callback: Cow::Borrowed(b""),
        idempotency_key: Cow::Borrowed(b""),
    }
}

/// One entry of the model WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A data record.
    Record { kind: u8, payload: Vec<u8> },
    /// A tombstone of the record at this LSN.
    Tombstone(Lsn),
}

/// An in-memory WAL shared by several messages: records and tombstones in LSN order.
#[derive(Debug, Default, Clone)]
pub struct ModelWal {
    pub entries: Vec<(Lsn, Entry)>,
}

impl ModelWal {
    pub fn next_lsn(&self) -> Lsn {
        Lsn(self.entries.len() as u64 + 1)
    }

    pub fn append(&mut self, entry: Entry) -> Lsn {
        let lsn = self.next_lsn();
        self.entries.push((lsn, entry));
        lsn
    }

    /// The live data records as recovery would see them after a crash once `len` entries
    /// had reached the disk.
    pub fn live_after_crash(&self, len: usize) -> Vec<(Lsn, u8, Vec<u8>)> {
        let prefix = &self.entries[..len];
        let dead: std::collections::BTreeSet<Lsn> = prefix
            .iter()
            .filter_map(|(_, entry)| match entry {
                Entry::Tombstone(target) => Some(*target),
                Entry::Record { .. } => None,
            })
            .collect();
        prefix
            .iter()
            .filter_map(|(lsn, entry)| match entry {
                Entry::Record { kind, payload } if !dead.contains(lsn) => {
                    Some((*lsn, *kind, payload.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Number of data records not tombstoned.
    pub fn live_records(&self) -> usize {
        self.live_after_crash(self.entries.len()).len()
    }
}

/// What the model shell saw a machine ask for.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub submits: BTreeMap<u8, u32>,
    pub dlr: std::collections::HashMap<DlrKey, PartRef>,
    pub dlr_inserted: Vec<DlrKey>,
    pub notified: Vec<ClientReceipt>,
    pub requeues: Vec<(ConnectorId, u64)>,
    pub failovers: Vec<(ConnectorId, ConnectorId)>,
    pub finals_logged: u32,
    pub marked_done: Vec<Lsn>,
    pub submit_after_final: bool,
}

/// A message driven through the model shell.
pub struct Harness {
    pub config: LifecycleConfig,
    pub now_ms: u64,
    pub wal: ModelWal,
    pub lifecycle: Lifecycle,
    pub seen: Seen,
    pub last: Vec<Action>,
}

impl Harness {
    /// Accepts `record`: appends it and builds its machine (state Accepted).
    pub fn accept(config: LifecycleConfig, record: &MessageRecord<'_>) -> Harness {
        let mut wal = ModelWal::default();
        let lifecycle = accept_into(&mut wal, record);
        Harness {
            config,
            now_ms: T0_MS,
            wal,
            lifecycle,
            seen: Seen::default(),
            last: Vec::new(),
        }
    }

    /// Accepts `record` and makes it durable: it sits queued on its first connector.
    pub fn queued(config: LifecycleConfig, record: &MessageRecord<'_>) -> Harness {
        let mut harness = Harness::accept(config, record);
        harness.event(Event::Durable);
        harness
    }

    /// Applies `event` at the harness's clock and carries out the actions.
    pub fn event(&mut self, event: Event) -> Handled {
        let (handled, actions) = drive(
            &mut self.wal,
            &mut self.lifecycle,
            &mut self.seen,
            &self.config,
            self.now_ms,
            event,
        );
        self.last = actions;
        handled
    }

    /// Moves the clock on.
    pub fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
    }
}

/// Applies `event` to `lifecycle` and carries out its actions like a shell: logged
/// records go to `wal` and their LSNs back to the machine. Returns the actions asked.
pub fn drive(
    wal: &mut ModelWal,
    lifecycle: &mut Lifecycle,
    seen: &mut Seen,
    config: &LifecycleConfig,
    now_ms: u64,
    event: Event,
) -> (Handled, Vec<Action>) {
    let mut out = Vec::new();
    let handled = lifecycle.handle(config, now_ms, event, &mut out);
    carry_out(wal, lifecycle, seen, out.clone());
    (handled, out)
}

/// Carries out `actions` of `lifecycle` (and the MarkDone actions its LSN feedback adds).
pub fn carry_out(
    wal: &mut ModelWal,
    lifecycle: &mut Lifecycle,
    seen: &mut Seen,
    actions: Vec<Action>,
) {
    let mut queue: std::collections::VecDeque<Action> = actions.into();
    while let Some(action) = queue.pop_front() {
        let mut follow = Vec::new();
        carry_one(wal, lifecycle, seen, action, &mut follow);
        for action in follow.into_iter().rev() {
            queue.push_front(action);
        }
    }
}

fn carry_one(
    wal: &mut ModelWal,
    lifecycle: &mut Lifecycle,
    seen: &mut Seen,
    action: Action,
    follow: &mut Vec<Action>,
) {
    match action {
        Action::Submit { part, .. } => {
            *seen.submits.entry(part).or_default() += 1;
            if lifecycle.is_final() {
                seen.submit_after_final = true;
            }
        }
        Action::Requeue {
            connector,
            delay_ms,
        } => seen.requeues.push((connector, delay_ms)),
        Action::Failover { from, to } => seen.failovers.push((from, to)),
        Action::InsertDlr { key, part } => {
            seen.dlr.insert(key, part);
            seen.dlr_inserted.push(key);
        }
        Action::RemoveDlr { key } => {
            seen.dlr.remove(&key);
        }
        Action::Log(progress) => {
            if let Progress::Final(record) = progress
                && record.scope == FinalScope::Message
            {
                seen.finals_logged += 1;
            }
            let mut payload = Vec::new();
            progress.encode(&mut payload);
            let lsn = wal.append(Entry::Record {
                kind: progress.kind(),
                payload,
            });
            assert!(lifecycle.logged(&progress, lsn, follow));
        }
        Action::MarkDone(lsn) => {
            seen.marked_done.push(lsn);
            wal.append(Entry::Tombstone(lsn));
        }
        Action::NotifyClient(receipt) => seen.notified.push(receipt),
    }
}

/// Appends `record`'s Accepted record to `wal` and returns its machine.
pub fn accept_into(wal: &mut ModelWal, record: &MessageRecord<'_>) -> Lifecycle {
    let mut payload = Vec::new();
    record.encode(&mut payload).expect("record within bounds");
    let lsn = wal.append(Entry::Record {
        kind: kind::ACCEPTED,
        payload,
    });
    Lifecycle::new(record, lsn)
}
