//! WAL compaction under real traffic: messages whose receipts do not come are spread over
//! many small segments among messages that complete; the shard copies them forward, the
//! log stays a few segments whatever the traffic, and after a restart every straggler is
//! recovered from its copies and its receipt, once the SMSC sends it, reaches the client.

mod e2e_support;

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use e2e_support::{Plan, run_esme};
use glommio::net::TcpStream;
use glommio::{LocalExecutorBuilder, Placement};
use std::borrow::Cow;
use tern_bench::sim::{SimConfig, SimHandle};

use tern_engine::config::{
    BindKind, Config, ConnectorConfig, MoRouteConfig, MtRouteConfig, Secret, Snapshot,
};
use tern_engine::dlr_index::{DlrIndex, DlrIndexConfig};
use tern_engine::gateway::{Gateway, GatewayHandle, StartOptions};
use tern_engine::lifecycle::{DlrKey, Event, State};
use tern_engine::message::{
    Address, ConnectorId, Content, Id2, MessageId, MessageRecord, Route, SessionKind, UserId,
};
use tern_engine::metrics::ShardMetrics;
use tern_engine::mo::Inbound;
use tern_engine::shard::{Core, MoReceived};
use tern_smpp::session::{BindKind as SessionBind, CloseReason};
use tern_smpp::{Bind, Body, CommandId, CommandStatus, EsmClass, Pdu, SubmitSm};
use tern_smpp::{MessageState, RegisteredDelivery};
use tern_smpp_io::{ConnConfig, Handler, Link, Lost, Produce, Start};

/// Messages submitted in the first run.
const MESSAGES: u64 = 12_000;
/// One message in this many goes to the SMSC that withholds receipts.
const STRAGGLER_EVERY: u64 = 20;
/// The smallest segment the configuration allows (256 KiB): ~600 messages' records each.
const SEGMENT_BYTES: u64 = 256 << 10;
/// Segments in use the log may keep once compaction caught up: the active one, one or two
/// dead ones awaiting the next checkpoint, and the copies of the stragglers' records.
const SEGMENTS_IN_USE_MAX: u64 = 5;
const FAST_PREFIX: &str = "4479110";
const SLOW_PREFIX: &str = "4479119";

fn connector(name: &str, upstream: SocketAddr, bind: BindKind) -> ConnectorConfig {
    ConnectorConfig {
        name: name.into(),
        host: upstream.ip().to_string(),
        port: upstream.port(),
        system_id: "tern".into(),
        password: Secret::new("tern"),
        bind,
        tps_max: 100_000,
        window_size: 64,
        reconnect_backoff_min_ms: 20,
        reconnect_backoff_max_ms: 100,
        ..ConnectorConfig::default()
    }
}

fn route(prefix: &str, connector: &str) -> MtRouteConfig {
    MtRouteConfig {
        destination_prefixes: vec![prefix.into()],
        connectors: vec![connector.into()],
        ..MtRouteConfig::default()
    }
}

/// One shard with small segments; `fast` sends receipts at once, `slow` holds them while
/// the gateway binds it as a transmitter only (`slow_bind` Tx), and sends them once it
/// binds as a transceiver.
fn start(
    data_dir: &Path,
    fast: SocketAddr,
    slow: SocketAddr,
    slow_bind: BindKind,
) -> GatewayHandle {
    let mut config = Config::demo();
    config.node.data_dir = data_dir.to_path_buf();
    config.node.shards = Some(1);
    config.node.wal_segment_bytes = SEGMENT_BYTES;
    config.smpp.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.http.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.connectors = vec![
        connector("fast", fast, BindKind::Trx),
        connector("slow", slow, slow_bind),
    ];
    config.routes.mt = vec![route(FAST_PREFIX, "fast"), route(SLOW_PREFIX, "slow")];
    Gateway::start_with(config, StartOptions { pin: Some(false) }).expect("gateway starts")
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn shard_metrics(gateway: &GatewayHandle) -> Arc<ShardMetrics> {
    Arc::clone(gateway.metrics().shards.first().expect("one shard"))
}

/// What the mixed-traffic client saw.
#[derive(Debug, Default)]
struct Mixed {
    fast_acked: HashSet<String>,
    slow_acked: HashSet<String>,
    receipts: HashSet<String>,
    refused: u64,
    error: Option<String>,
}

/// A transceiver that submits `MESSAGES` messages, every `STRAGGLER_EVERY`th to the slow
/// route, and takes receipts until every fast message has its own.
struct MixedEsme {
    sent: u64,
    seen: Arc<Mutex<Mixed>>,
    started: Instant,
}

fn destination(index: u64) -> Vec<u8> {
    let prefix = if index.is_multiple_of(STRAGGLER_EVERY) {
        SLOW_PREFIX
    } else {
        FAST_PREFIX
    };
    format!("{prefix}{:05}", index % 100_000).into_bytes()
}

impl Handler for MixedEsme {
    fn on_bind_request(&mut self, _: SessionBind, _: &Bind<'_>) -> CommandStatus {
        CommandStatus::ESME_RINVCMDID
    }
    fn on_bound(&mut self, _: SessionBind, _: Instant) {}
    fn on_request(&mut self, link: &mut Link<'_>, seq: u32, pdu: &Pdu<'_>, now: Instant) {
        if let Body::DeliverSm(sm) = &pdu.body
            && sm.esm_class & EsmClass::TYPE_MASK == EsmClass::TYPE_DELIVERY_RECEIPT
            && let Some(id) = sm.tlvs.receipted_message_id()
        {
            let id = String::from_utf8_lossy(id)
                .trim_end_matches('\0')
                .to_owned();
            self.seen.lock().unwrap().receipts.insert(id);
        }
        let _ = link.respond(
            seq,
            CommandStatus::ESME_ROK,
            Body::DeliverSmResp(Default::default()),
            now,
        );
    }
    fn on_completed(
        &mut self,
        _: &mut Link<'_>,
        token: u64,
        status: CommandStatus,
        pdu: Option<&Pdu<'_>>,
        _: Instant,
    ) {
        let mut seen = self.seen.lock().unwrap();
        match pdu.map(|p| &p.body) {
            Some(Body::SubmitSmResp(resp)) if status == CommandStatus::ESME_ROK => {
                let id = String::from_utf8_lossy(&resp.message_id).into_owned();
                if token.is_multiple_of(STRAGGLER_EVERY) {
                    seen.slow_acked.insert(id);
                } else {
                    seen.fast_acked.insert(id);
                }
            }
            _ => seen.refused += 1,
        }
    }
    fn on_lost(&mut self, _: u64, _: Lost, _: Instant) {
        self.seen.lock().unwrap().refused += 1;
    }
    fn produce(&mut self, link: &mut Link<'_>, now: Instant) -> Produce {
        while self.sent < MESSAGES && link.can_send(CommandId::SUBMIT_SM) {
            let destination = destination(self.sent);
            let body = Body::SubmitSm(SubmitSm {
                source_addr: b"Tern".as_slice().into(),
                dest_addr_ton: 1,
                dest_addr_npi: 1,
                destination_addr: destination.as_slice().into(),
                registered_delivery: 1,
                short_message: b"hello".as_slice().into(),
                ..SubmitSm::default()
            });
            if link.send_request(body, self.sent, now).is_err() {
                break;
            }
            self.sent += 1;
        }
        let done = {
            let seen = self.seen.lock().unwrap();
            self.sent >= MESSAGES
                && link.outstanding() == 0
                && seen.fast_acked.is_subset(&seen.receipts)
        };
        if done || self.started.elapsed() > Duration::from_secs(60) {
            return Produce::Unbind;
        }
        Produce::Continue(Some(now + Duration::from_millis(20)))
    }
    fn register_waker(&mut self, _: &Waker) {}
    fn on_closed(&mut self, _: Option<CloseReason>) {}
}

fn run_mixed(addr: SocketAddr) -> Mixed {
    let seen = Arc::new(Mutex::new(Mixed::default()));
    let shared = Arc::clone(&seen);
    let executor = LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(move || async move {
            let stream = match TcpStream::connect(addr).await {
                Ok(stream) => stream,
                Err(e) => {
                    shared.lock().unwrap().error = Some(format!("connect: {e}"));
                    return;
                }
            };
            let start = Start::Esme {
                kind: SessionBind::Transceiver,
                system_id: "demo".into(),
                password: "demo".into(),
                system_type: String::new(),
            };
            let mut esme = MixedEsme {
                sent: 0,
                seen: Arc::clone(&shared),
                started: Instant::now(),
            };
            if let Err(e) =
                tern_smpp_io::run(stream, start, &ConnConfig::default(), &mut esme).await
            {
                shared.lock().unwrap().error = Some(e.to_string());
            }
        })
        .expect("executor");
    let _ = executor.join();
    std::mem::take(&mut *seen.lock().unwrap())
}

fn wal_files_bytes(data_dir: &Path) -> u64 {
    std::fs::read_dir(data_dir.join("shard-0").join("wal"))
        .expect("wal dir")
        .filter_map(Result::ok)
        .filter_map(|entry| entry.metadata().ok())
        .map(|meta| meta.len())
        .sum()
}

#[test]
fn stragglers_are_compacted_and_recovered_with_their_receipts_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = |hold| SimConfig {
        stats_interval_s: 0,
        receipt_queue: if hold { 65_536 } else { 262_144 },
        ..SimConfig::default()
    };
    let fast: SimHandle = tern_bench::sim::spawn(sim(false)).expect("fast simulator");
    let slow: SimHandle = tern_bench::sim::spawn(sim(true)).expect("slow simulator");

    // 1. Mixed traffic: the stragglers' receipts are held by the slow SMSC (no receiver
    // bind), so their records stay live in every segment the traffic fills.
    let gateway = start(dir.path(), fast.addr, slow.addr, BindKind::Tx);
    assert!(gateway.wait_bound(Duration::from_secs(10)), "binds up");
    let mixed = run_mixed(gateway.smpp_addr);
    assert_eq!(mixed.error, None);
    assert_eq!(mixed.refused, 0, "{mixed:?}");
    let stragglers = MESSAGES / STRAGGLER_EVERY;
    assert_eq!(mixed.slow_acked.len() as u64, stragglers);
    assert_eq!(mixed.fast_acked.len() as u64, MESSAGES - stragglers);
    assert!(mixed.fast_acked.is_subset(&mixed.receipts));
    assert!(mixed.receipts.is_disjoint(&mixed.slow_acked));

    // 2. Compaction catches up: the segments the traffic filled are freed, only the
    // stragglers' copies stay.
    let metrics = shard_metrics(&gateway);
    wait_for(
        "compaction to free the segments",
        Duration::from_secs(30),
        || {
            metrics.wal_segments_in_use.get() <= SEGMENTS_IN_USE_MAX
                && metrics.wal_live_records.get() == 2 * stragglers
        },
    );
    let compacted = metrics.wal_segments_compacted.get();
    let relocated = metrics.wal_records_relocated.get();
    // Every compacted segment held a straggler, and would have been kept without it.
    assert!(
        compacted >= 2 * SEGMENTS_IN_USE_MAX,
        "only {compacted} segments compacted; traffic too small to prove a bound"
    );
    assert!(relocated >= 2 * stragglers, "{relocated} records relocated");
    let disk_bytes = wal_files_bytes(dir.path());
    eprintln!(
        "{MESSAGES} messages, {stragglers} stragglers: {compacted} segments compacted, \
         {relocated} records relocated, {} segments in use, {disk_bytes} bytes on disk",
        metrics.wal_segments_in_use.get()
    );
    // In use, plus the spare pool (one spare and two recycled by default), plus LOCK.
    assert!(
        disk_bytes <= (SEGMENTS_IN_USE_MAX + 3) * SEGMENT_BYTES + 4096,
        "{disk_bytes} bytes of WAL on disk after {compacted} segments compacted"
    );
    gateway.stop();
    assert_eq!(slow.stats().submits_ok, stragglers);

    // 3. Restart, the slow connector now a transceiver: the recovered stragglers await
    // their receipts (nothing is sent again); the SMSC hands the held receipts over, and
    // each reaches the client with our id.
    let gateway = start(dir.path(), fast.addr, slow.addr, BindKind::Trx);
    let metrics = shard_metrics(&gateway);
    wait_for(
        "the stragglers to be recovered",
        Duration::from_secs(10),
        || metrics.messages_held.get() == stragglers,
    );
    let plan = Plan {
        submits: 0,
        kind: SessionBind::Receiver,
        receipts_wanted: stragglers as usize,
        deadline: Duration::from_secs(30),
        validity_period: None,
    };
    let got = run_esme(gateway.smpp_addr, plan);
    let missing: Vec<_> = mixed.slow_acked.difference(&got.receipts).collect();
    assert!(missing.is_empty(), "receipts missing for {missing:?}");
    assert_eq!(
        slow.stats().submits_ok,
        stragglers,
        "nothing was sent twice"
    );
    gateway.stop();
}

fn accepted(core: &mut Core) -> MessageRecord<'static> {
    MessageRecord {
        id: core.next_id().expect("id"),
        user: UserId(0),
        session: SessionKind::Smpp {
            interface_version: 0x34,
        },
        accepted_at_ms: 1,
        validity_deadline_ms: u64::MAX / 2,
        schedule_at_ms: None,
        source: Address::default(),
        destination: Address {
            ton: 1,
            npi: 1,
            digits: Cow::Borrowed(b"447900000001"),
        },
        esm_class: EsmClass(0),
        protocol_id: 0,
        priority: 0,
        registered_delivery: RegisteredDelivery(1),
        data_coding: 0,
        service_type: Cow::Borrowed(b""),
        client_ref: Cow::Borrowed(b""),
        route: Route::single(ConnectorId(0)),
        content: Content::ShortMessage(Cow::Borrowed(b"hi")),
        tlvs: Cow::Borrowed(b""),
        callback: Cow::Borrowed(b""),
        idempotency_key: Cow::Borrowed(b""),
    }
}

/// Cancels message `id` and acknowledges its receipt: every record of it is done.
fn close(core: &mut Core, id: MessageId) {
    core.handle(id, Event::Cancelled);
    core.handle(id, Event::ClientAcknowledged);
}

/// Runs compaction to the end, as the shard's loop does; returns the segments compacted.
fn compact_everything(core: &mut Core) -> u64 {
    let mut compacted = 0;
    while let Some((_, read)) = core.compaction_start() {
        let records = futures_lite::future::block_on(read).expect("live records read");
        let mut next = 0;
        while next < records.len() {
            next += core.relocate_batch(&records[next..]).expect("relocated");
        }
        compacted += 1;
        core.maintain();
        assert!(compacted < 1_000, "compaction does not converge");
    }
    compacted
}

fn open_core(dir: &Path, config: &Config) -> Core {
    let snapshot = Arc::new(Snapshot::build(config.clone(), 1).expect("snapshot"));
    let (wal, recovery) =
        tern_wal::Wal::open(dir.join("wal"), config.node.wal_config()).expect("wal");
    let dlr = DlrIndex::new(DlrIndexConfig::default()).expect("dlr");
    Core::new(0, snapshot, wal, &recovery, dlr).expect("core")
}

/// An MO from a handset saying `text`.
fn mo(text: &[u8]) -> Inbound<'_> {
    Inbound {
        service_type: b"",
        source_ton: 1,
        source_npi: 1,
        source: b"447700900001",
        dest_ton: 1,
        dest_npi: 1,
        destination: b"12345",
        esm_class: 0,
        protocol_id: 0,
        priority: 0,
        data_coding: 0,
        short_message: text,
        tlvs: b"",
    }
}

#[test]
fn compaction_moves_message_and_mo_references_in_memory_and_across_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::demo();
    config.node.wal_segment_bytes = SEGMENT_BYTES;
    config.routes.mo = vec![MoRouteConfig {
        destination_prefixes: vec![String::new()],
        user: "demo".into(),
    }];
    let mut core = open_core(dir.path(), &config);
    for text in [&b"first"[..], b"second"] {
        assert!(matches!(
            core.mo_receive(0, &mo(text)),
            MoReceived::Logged(_)
        ));
    }
    // Stragglers among closed messages, over several segments.
    let mut kept = Vec::new();
    for i in 0..3_000 {
        let record = accepted(&mut core);
        let id = record.id;
        core.accept(record).expect("accepted");
        if i % STRAGGLER_EVERY == 0 {
            kept.push(id);
        } else {
            close(&mut core, id);
        }
    }
    core.maintain();
    // Candidates go oldest first: the first segment, with the MOs, is among them.
    assert!(compact_everything(&mut core) >= 2);
    assert!(core.metrics.wal_records_relocated.get() >= 100);

    // In memory: half the stragglers and one MO are closed through the moved references.
    let recovered_later = kept.split_off(kept.len() / 2);
    for id in kept {
        close(&mut core, id);
    }
    let first = core.pop_mo(0).expect("an MO is held");
    core.mo_acknowledged(first.id, 0);
    core.close_wal().expect("WAL closed");
    drop(core);

    // Across a restart: the rest come back from their copies, and close as well.
    let mut core = open_core(dir.path(), &config);
    for id in &recovered_later {
        assert!(core.state(*id).is_some(), "{id:?} recovered");
    }
    let second = core.pop_mo(0).expect("the other MO is recovered");
    assert_ne!(second.id, first.id);
    assert!(core.pop_mo(0).is_none(), "the acknowledged MO stays done");
    for id in recovered_later {
        close(&mut core, id);
    }
    core.mo_acknowledged(second.id, 0);
    core.maintain();
    core.publish_wal_gauges();
    assert_eq!(core.metrics.wal_live_records.get(), 0, "nothing left live");
}

/// Takes message `id` (accepted) to AwaitingReceipt: durable, submitted, answered OK with
/// the upstream id `id2`.
fn submitted(core: &mut Core, id: MessageId, id2: &Id2) {
    core.handle(id, Event::Durable);
    core.handle(id, Event::RetryDue);
    core.handle(
        id,
        Event::SubmitResult {
            part: 0,
            status: CommandStatus::ESME_ROK,
            id2: Some(*id2),
        },
    );
}

#[test]
fn compaction_moves_parked_messages_slots_and_their_receipts_read_the_copies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::demo();
    config.node.wal_segment_bytes = SEGMENT_BYTES;
    config.limits.messages_park_after_ms = 1;
    let mut core = open_core(dir.path(), &config);
    let mut waiting = Vec::new();
    for i in 0..3_000u32 {
        let mut record = accepted(&mut core);
        // A validity a slot can hold (seconds in a u32): in 2096.
        record.validity_deadline_ms = 4_000_000_000_000;
        let id = record.id;
        core.accept(record).expect("accepted");
        if u64::from(i) % STRAGGLER_EVERY == 0 {
            let id2 = Id2::new(format!("smsc-{i}").as_bytes()).expect("id2");
            submitted(&mut core, id, &id2);
            waiting.push((id, id2));
        } else {
            close(&mut core, id);
        }
    }
    // Far enough ahead that every waiting message is parked; nothing expires (their
    // validity is far off).
    core.park_due(u64::MAX / 4);
    core.publish_gauges();
    assert_eq!(core.metrics.messages_parked.get(), waiting.len() as u64);
    core.maintain();
    assert!(compact_everything(&mut core) >= 2);
    assert!(core.metrics.wal_records_relocated.get() >= waiting.len() as u64);

    // The receipts come: each parked message is read back from its record's copy (the
    // original's segment is gone) and reports to the client.
    for (id, id2) in &waiting {
        let key = DlrKey {
            connector: ConnectorId(0),
            id2: *id2,
        };
        core.receipt(key, MessageState::DELIVERED, 0);
        assert!(
            matches!(core.state(*id), Some(State::Final(_))),
            "{id:?} delivered"
        );
    }
    assert_eq!(core.metrics.parked_read_failures.get(), 0);
    assert_eq!(core.metrics.messages_unparked.get(), waiting.len() as u64);
    // (The cancelled messages' receipts are in the outbox too.)
    let mut reported = HashSet::new();
    while let Some(receipt) = core.pop_receipt(0) {
        reported.insert(receipt.id);
        core.handle(receipt.id, Event::ClientAcknowledged);
    }
    assert!(waiting.iter().all(|(id, _)| reported.contains(id)));
    core.maintain();
    core.publish_wal_gauges();
    assert_eq!(core.metrics.wal_live_records.get(), 0, "nothing left live");
}
