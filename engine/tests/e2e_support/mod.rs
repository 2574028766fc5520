//! A small test ESME on the gateway's own pump: submits numbered messages, records which
//! ids were acknowledged (ESME_ROK) and which receipts came back, by our id.

#![allow(dead_code)] // each test binary uses part of it

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use glommio::net::TcpStream;
use glommio::{LocalExecutorBuilder, Placement};
use tern_smpp::session::{BindKind, CloseReason};
use tern_smpp::{Bind, Body, CommandId, CommandStatus, EsmClass, Pdu, SmResp, SubmitSm};
use tern_smpp_io::{ConnConfig, Handler, Link, Lost, Produce, Start};

/// What the ESME saw, shared with the test thread.
#[derive(Debug, Default)]
pub struct Seen {
    /// Ids in submit_sm_resp with ESME_ROK.
    pub acked: HashSet<String>,
    /// Submits refused (any other status) or lost.
    pub refused: u64,
    /// Ids named by receipts (receipted_message_id, else the text's `id:`).
    pub receipts: HashSet<String>,
    /// Receipts received, duplicates included.
    pub receipts_total: u64,
    /// Receipts whose addresses are the submit's, swapped (from the destination, to the
    /// source): their message's record was at hand when they were built.
    pub receipts_addressed: u64,
    /// Receipts by their message_state TLV (0: none).
    pub receipt_states: std::collections::BTreeMap<u8, u64>,
    /// Refusals by command_status (u32::MAX: lost, no answer).
    pub refusals: std::collections::BTreeMap<u32, u64>,
    /// How the connection ended, when it failed.
    pub error: Option<String>,
}

/// The source address of every submit.
pub const SOURCE: &[u8] = b"Tern";
/// The destination address of every submit.
pub const DESTINATION: &[u8] = b"447911000001";

/// One ESME connection's plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Messages to submit (0: only receive).
    pub submits: u64,
    /// Bind kind.
    pub kind: BindKind,
    /// Stop once this many distinct receipts are in (or at the deadline).
    pub receipts_wanted: usize,
    /// Give up at this time.
    pub deadline: Duration,
    /// The submits' validity_period (SMPP time format), none by default.
    pub validity_period: Option<&'static [u8]>,
}

struct Esme {
    plan: Plan,
    progress: Arc<AtomicUsize>,
    sent: u64,
    seen: Arc<Mutex<Seen>>,
    started: Instant,
}

impl Handler for Esme {
    fn on_bind_request(&mut self, _: BindKind, _: &Bind<'_>) -> CommandStatus {
        CommandStatus::ESME_RINVCMDID
    }
    fn on_bound(&mut self, _: BindKind, _: Instant) {}
    fn on_request(&mut self, link: &mut Link<'_>, seq: u32, pdu: &Pdu<'_>, now: Instant) {
        if let Body::DeliverSm(sm) = &pdu.body
            && sm.esm_class & EsmClass::TYPE_MASK == EsmClass::TYPE_DELIVERY_RECEIPT
        {
            let id = sm.tlvs.receipted_message_id().map(|id| {
                String::from_utf8_lossy(id)
                    .trim_end_matches('\0')
                    .to_owned()
            });
            let mut seen = self.seen.lock().unwrap();
            seen.receipts_total += 1;
            if sm.source_addr.as_ref() == DESTINATION && sm.destination_addr.as_ref() == SOURCE {
                seen.receipts_addressed += 1;
            }
            let state = sm.tlvs.message_state().unwrap_or(0);
            *seen.receipt_states.entry(state).or_default() += 1;
            if let Some(id) = id {
                seen.receipts.insert(id);
            }
        }
        let _ = link.respond(
            seq,
            CommandStatus::ESME_ROK,
            Body::DeliverSmResp(SmResp::default()),
            now,
        );
    }
    fn on_completed(
        &mut self,
        _: &mut Link<'_>,
        _: u64,
        status: CommandStatus,
        pdu: Option<&Pdu<'_>>,
        _: Instant,
    ) {
        let mut seen = self.seen.lock().unwrap();
        match pdu.map(|p| &p.body) {
            Some(Body::SubmitSmResp(resp)) if status == CommandStatus::ESME_ROK => {
                seen.acked
                    .insert(String::from_utf8_lossy(&resp.message_id).into_owned());
                self.progress.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                seen.refused += 1;
                *seen.refusals.entry(status.0).or_default() += 1;
            }
        }
    }
    fn on_lost(&mut self, _: u64, _: Lost, _: Instant) {
        let mut seen = self.seen.lock().unwrap();
        seen.refused += 1;
        *seen.refusals.entry(u32::MAX).or_default() += 1;
    }
    fn produce(&mut self, link: &mut Link<'_>, now: Instant) -> Produce {
        while self.sent < self.plan.submits && link.can_send(CommandId::SUBMIT_SM) {
            let body = Body::SubmitSm(SubmitSm {
                source_addr: SOURCE.into(),
                dest_addr_ton: 1,
                dest_addr_npi: 1,
                destination_addr: DESTINATION.into(),
                registered_delivery: 1,
                validity_period: self.plan.validity_period.unwrap_or_default().into(),
                short_message: b"hello".as_slice().into(),
                ..SubmitSm::default()
            });
            if link.send_request(body, self.sent, now).is_err() {
                break;
            }
            self.sent += 1;
        }
        let done = self.seen.lock().unwrap().receipts.len() >= self.plan.receipts_wanted
            && self.sent >= self.plan.submits
            && link.outstanding() == 0;
        if done || self.started.elapsed() > self.plan.deadline {
            return Produce::Unbind;
        }
        Produce::Continue(Some(now + Duration::from_millis(20)))
    }
    fn register_waker(&mut self, _: &Waker) {}
    fn on_closed(&mut self, _: Option<CloseReason>) {}
}

/// Runs one ESME connection to `addr` on its own executor until its plan is done, the
/// deadline passes or the connection drops; returns what it saw.
pub fn run_esme(addr: SocketAddr, plan: Plan) -> Seen {
    run_esme_with_progress(addr, plan, Arc::default())
}

/// [`run_esme`], counting acknowledged submits in `progress` as they come.
pub fn run_esme_with_progress(addr: SocketAddr, plan: Plan, progress: Arc<AtomicUsize>) -> Seen {
    let seen = Arc::new(Mutex::new(Seen::default()));
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
                kind: plan.kind,
                system_id: "demo".into(),
                password: "demo".into(),
                system_type: String::new(),
            };
            let mut esme = Esme {
                plan,
                progress,
                sent: 0,
                seen: Arc::clone(&shared),
                started: Instant::now(),
            };
            let result = tern_smpp_io::run(stream, start, &ConnConfig::default(), &mut esme).await;
            if let Err(e) = result {
                shared.lock().unwrap().error = Some(e.to_string());
            }
        })
        .expect("executor");
    let _ = executor.join();
    Arc::try_unwrap(seen)
        .map(|m| m.into_inner().unwrap())
        .unwrap_or_else(|arc| std::mem::take(&mut *arc.lock().unwrap()))
}

/// A one-shard gateway configuration on `data_dir` with one connector, `smsc`, to
/// `upstream` taking every message, listening on free loopback ports.
pub fn one_connector_config(
    data_dir: &std::path::Path,
    upstream: SocketAddr,
) -> tern_engine::config::Config {
    use tern_engine::config::{Config, ConnectorConfig, MtRouteConfig, Secret};
    let loopback = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
    let mut config = Config::demo();
    config.node.data_dir = data_dir.to_path_buf();
    config.node.shards = Some(1);
    config.smpp.listen = loopback;
    config.http.listen = loopback;
    config.connectors = vec![ConnectorConfig {
        name: "smsc".into(),
        host: upstream.ip().to_string(),
        port: upstream.port(),
        system_id: "tern".into(),
        password: Secret::new("tern"),
        tps_max: 100_000,
        window_size: 64,
        reconnect_backoff_min_ms: 20,
        reconnect_backoff_max_ms: 100,
        ..ConnectorConfig::default()
    }];
    config.routes.mt = vec![MtRouteConfig {
        destination_prefixes: vec![String::new()],
        connectors: vec!["smsc".into()],
        ..MtRouteConfig::default()
    }];
    config
}
