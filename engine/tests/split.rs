//! Long messages split for the upstream, over real TCP: a client submits a 400-character
//! GSM text in message_payload and a 200-character UCS-2 data_sm; the gateway's
//! connectors (`message_payload = "split"`, `udh8` and `sar`; and `"pass"`) deliver them
//! to a recording SMSC, which answers every part and sends a receipt per part. The SMSC
//! sees 3 and 3 parts tied consistently (same reference, total, sequence 1..=3, the
//! text back whole), or one submit with message_payload under "pass"; the client gets
//! one id and exactly one final receipt per message.
//!
//! The SMSC is written here rather than taken from tern-bench: the simulator keeps counts
//! only, and this test must read each part's UDH and TLVs.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use glommio::net::{TcpListener, TcpStream};
use glommio::{LocalExecutorBuilder, Placement};
use tern_engine::config::{
    Config, ConnectorConfig, MtRouteConfig, PayloadHandling, Secret, SplitConcat,
};
use tern_engine::gateway::{Gateway, StartOptions};
use tern_smpp::session::{BindKind, CloseReason};
use tern_smpp::tlv::{Tlv, Tlvs};
use tern_smpp::{
    Bind, Body, CommandId, CommandStatus, DataSm, EsmClass, MessageState, Pdu, SmResp, SubmitSm,
};
use tern_smpp_io::{ConnConfig, Handler, Link, Lost, Produce, Start};

/// Longest the test waits for its messages' receipts.
const DEADLINE: Duration = Duration::from_secs(20);

/// One submit_sm as the SMSC received it.
#[derive(Debug, Clone)]
struct Received {
    /// system_id of the bind it came on (= the connector's name).
    bind: String,
    esm_class: u8,
    data_coding: u8,
    short_message: Vec<u8>,
    payload: Option<Vec<u8>>,
    sar: Option<(u16, u8, u8)>,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// The SMSC side of one connection: records, answers, sends a receipt per submit.
struct Smsc {
    log: Log,
    bind: String,
    next_id: Rc<std::cell::Cell<u64>>,
    receipts: Vec<String>,
}

impl Handler for Smsc {
    fn on_bind_request(&mut self, _: BindKind, bind: &Bind<'_>) -> CommandStatus {
        self.bind = String::from_utf8_lossy(&bind.system_id).into_owned();
        CommandStatus::ESME_ROK
    }
    fn on_bound(&mut self, _: BindKind, _: Instant) {}
    fn on_request(&mut self, link: &mut Link<'_>, seq: u32, pdu: &Pdu<'_>, now: Instant) {
        let Body::SubmitSm(sm) = &pdu.body else {
            let _ = link.respond_status(seq, CommandStatus::ESME_RINVCMDID, now);
            return;
        };
        let sar = match (
            sm.tlvs.sar_msg_ref_num(),
            sm.tlvs.sar_total_segments(),
            sm.tlvs.sar_segment_seqnum(),
        ) {
            (Some(r), Some(t), Some(s)) => Some((r, t, s)),
            _ => None,
        };
        self.log.lock().unwrap().push(Received {
            bind: self.bind.clone(),
            esm_class: sm.esm_class,
            data_coding: sm.data_coding,
            short_message: sm.short_message.to_vec(),
            payload: sm.tlvs.message_payload().map(<[u8]>::to_vec),
            sar,
        });
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let id = format!("S{id}");
        let resp = SmResp {
            message_id: id.as_bytes().into(),
            tlvs: Tlvs::EMPTY,
        };
        let _ = link.respond(seq, CommandStatus::ESME_ROK, Body::SubmitSmResp(resp), now);
        self.receipts.push(id);
    }
    fn on_completed(
        &mut self,
        _: &mut Link<'_>,
        _: u64,
        _: CommandStatus,
        _: Option<&Pdu<'_>>,
        _: Instant,
    ) {
    }
    fn on_lost(&mut self, _: u64, _: Lost, _: Instant) {}
    fn produce(&mut self, link: &mut Link<'_>, now: Instant) -> Produce {
        while link.can_send(CommandId::DELIVER_SM) {
            let Some(id) = self.receipts.pop() else {
                break;
            };
            let text = format!(
                "id:{id} sub:001 dlvrd:001 submit date:2401010000 done date:2401010000 \
                 stat:DELIVRD err:000 text:"
            );
            let body = Body::DeliverSm(SubmitSm {
                esm_class: EsmClass::TYPE_DELIVERY_RECEIPT,
                short_message: text.as_bytes().into(),
                ..SubmitSm::default()
            });
            let _ = link.send_request(body, 0, now);
        }
        Produce::Continue(Some(now + Duration::from_millis(10)))
    }
    fn register_waker(&mut self, _: &Waker) {}
    fn on_closed(&mut self, _: Option<CloseReason>) {}
}

/// Starts the recording SMSC on its own executor; returns its address and log.
fn start_smsc() -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let shared = Arc::clone(&log);
    let (tx, rx) = mpsc::channel();
    LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(move || async move {
            let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
            let _ = tx.send(listener.local_addr().expect("addr"));
            let next_id = Rc::new(std::cell::Cell::new(1));
            while let Ok(stream) = listener.accept().await {
                let mut smsc = Smsc {
                    log: Arc::clone(&shared),
                    bind: String::new(),
                    next_id: Rc::clone(&next_id),
                    receipts: Vec::new(),
                };
                glommio::spawn_local(async move {
                    let start = Start::Smsc {
                        system_id: "rec".into(),
                    };
                    let _ =
                        tern_smpp_io::run(stream, start, &ConnConfig::default(), &mut smsc).await;
                })
                .detach();
            }
        })
        .expect("smsc executor");
    (rx.recv().expect("smsc address"), log)
}

/// A message the client sends: to whom, and as submit_sm+payload or data_sm.
#[derive(Clone)]
struct Message {
    destination: &'static str,
    data_sm: bool,
    data_coding: u8,
    payload: Vec<u8>,
}

/// What the client saw: ids by message index, receipts by our id (counted).
#[derive(Debug, Default)]
struct Client {
    ids: HashMap<u64, String>,
    refused: Vec<u32>,
    receipts: HashMap<String, u32>,
}

struct Esme {
    messages: Vec<Message>,
    sent: usize,
    seen: Arc<Mutex<Client>>,
    all_in_at: Option<Instant>,
    started: Instant,
    scratch: Vec<u8>,
}

impl Handler for Esme {
    fn on_bind_request(&mut self, _: BindKind, _: &Bind<'_>) -> CommandStatus {
        CommandStatus::ESME_RINVCMDID
    }
    fn on_bound(&mut self, _: BindKind, _: Instant) {}
    fn on_request(&mut self, link: &mut Link<'_>, seq: u32, pdu: &Pdu<'_>, now: Instant) {
        if let Body::DeliverSm(sm) = &pdu.body {
            let id = sm.tlvs.receipted_message_id().map(|id| {
                String::from_utf8_lossy(id)
                    .trim_end_matches('\0')
                    .to_owned()
            });
            let final_state = sm.tlvs.message_state() == Some(MessageState::DELIVERED.0)
                || sm.short_message.windows(12).any(|w| w == b"stat:DELIVRD");
            if let (Some(id), true) = (id, final_state) {
                *self.seen.lock().unwrap().receipts.entry(id).or_default() += 1;
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
        token: u64,
        status: CommandStatus,
        pdu: Option<&Pdu<'_>>,
        _: Instant,
    ) {
        let mut seen = self.seen.lock().unwrap();
        match pdu.map(|p| &p.body) {
            Some(Body::SubmitSmResp(r) | Body::DataSmResp(r))
                if status == CommandStatus::ESME_ROK =>
            {
                seen.ids
                    .insert(token, String::from_utf8_lossy(&r.message_id).into_owned());
            }
            _ => seen.refused.push(status.0),
        }
    }
    fn on_lost(&mut self, _: u64, _: Lost, _: Instant) {
        self.seen.lock().unwrap().refused.push(u32::MAX);
    }
    fn produce(&mut self, link: &mut Link<'_>, now: Instant) -> Produce {
        while let Some(m) = self.messages.get(self.sent) {
            if !link.can_send(CommandId::SUBMIT_SM) {
                break;
            }
            let tlvs =
                Tlvs::build(&mut self.scratch, &[Tlv::MessagePayload(&m.payload)]).expect("tlvs");
            let body = if m.data_sm {
                Body::DataSm(DataSm {
                    dest_addr_ton: 1,
                    dest_addr_npi: 1,
                    destination_addr: m.destination.as_bytes().into(),
                    registered_delivery: 1,
                    data_coding: m.data_coding,
                    tlvs,
                    ..DataSm::default()
                })
            } else {
                Body::SubmitSm(SubmitSm {
                    dest_addr_ton: 1,
                    dest_addr_npi: 1,
                    destination_addr: m.destination.as_bytes().into(),
                    registered_delivery: 1,
                    data_coding: m.data_coding,
                    tlvs,
                    ..SubmitSm::default()
                })
            };
            if link.send_request(body, self.sent as u64, now).is_err() {
                break;
            }
            self.sent += 1;
        }
        let wanted = self.messages.len();
        let seen = self.seen.lock().unwrap();
        let all_in = seen.ids.len() + seen.refused.len() >= wanted && seen.receipts.len() >= wanted;
        drop(seen);
        if all_in && self.all_in_at.is_none() {
            self.all_in_at = Some(now);
        }
        // A moment after the last receipt, to see any duplicate, then leave.
        let settled = self
            .all_in_at
            .is_some_and(|at| now.duration_since(at) > Duration::from_millis(300));
        if settled || self.started.elapsed() > DEADLINE {
            return Produce::Unbind;
        }
        Produce::Continue(Some(now + Duration::from_millis(20)))
    }
    fn register_waker(&mut self, _: &Waker) {}
    fn on_closed(&mut self, _: Option<CloseReason>) {}
}

fn run_client(target: SocketAddr, messages: Vec<Message>) -> Client {
    let seen = Arc::new(Mutex::new(Client::default()));
    let shared = Arc::clone(&seen);
    let executor = LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(move || async move {
            let stream = TcpStream::connect(target).await.expect("connect");
            let start = Start::Esme {
                kind: BindKind::Transceiver,
                system_id: "demo".into(),
                password: "demo".into(),
                system_type: String::new(),
            };
            let mut esme = Esme {
                messages,
                sent: 0,
                seen: shared,
                all_in_at: None,
                started: Instant::now(),
                scratch: Vec::new(),
            };
            let _ = tern_smpp_io::run(stream, start, &ConnConfig::default(), &mut esme).await;
        })
        .expect("client executor");
    let _ = executor.join();
    std::mem::take(&mut *seen.lock().unwrap())
}

fn connector(
    name: &str,
    smsc: SocketAddr,
    handling: PayloadHandling,
    udh: SplitConcat,
) -> ConnectorConfig {
    ConnectorConfig {
        name: name.into(),
        host: smsc.ip().to_string(),
        port: smsc.port(),
        system_id: name.into(),
        password: Secret::new("x"),
        window_size: 16,
        tps_max: 10_000,
        message_payload: handling,
        split_udh: udh,
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

/// 400 GSM septets (unpacked) with escapes in them, and 200 UCS-2 characters with
/// surrogate pairs.
fn texts() -> (Vec<u8>, Vec<u8>) {
    let gsm: Vec<u8> = (0..400u32)
        .map(|i| {
            if i % 50 == 49 {
                0x1B
            } else {
                b'A' + (i % 26) as u8
            }
        })
        .collect();
    let gsm = gsm
        .iter()
        .enumerate()
        // Each escape is followed by its character (0x65: the euro sign).
        .map(|(i, &u)| if i > 0 && gsm[i - 1] == 0x1B { 0x65 } else { u })
        .collect();
    let ucs2 = (0..200u16)
        .flat_map(|i| {
            if i % 40 == 39 {
                vec![0xD8, 0x3D] // with the next code unit, an emoji
            } else if i % 40 == 0 && i > 0 {
                vec![0xDE, 0x00]
            } else {
                (0x0430 + (i % 32)).to_be_bytes().to_vec()
            }
        })
        .collect();
    (gsm, ucs2)
}

/// The parts of one message at one connector, in arrival order.
fn parts_of(log: &[Received], bind: &str, data_coding: u8) -> Vec<Received> {
    log.iter()
        .filter(|r| r.bind == bind && r.data_coding == data_coding)
        .cloned()
        .collect()
}

/// Checks UDH-tied parts: same reference, total 3, sequences 1..=3; returns the text.
fn join_udh8(parts: &[Received]) -> Vec<u8> {
    assert_eq!(parts.len(), 3, "{parts:?}");
    let mut by_seq: Vec<&Received> = parts.iter().collect();
    by_seq.sort_by_key(|p| p.short_message.get(5).copied());
    let reference = by_seq[0].short_message[3];
    let mut text = Vec::new();
    for (i, p) in by_seq.iter().enumerate() {
        assert_eq!(p.esm_class & 0x40, 0x40, "UDHI set");
        assert!(p.payload.is_none(), "parts go in short_message");
        let seq = u8::try_from(i + 1).expect("seq");
        assert_eq!(p.short_message[..6], [5, 0x00, 3, reference, 3, seq]);
        text.extend_from_slice(&p.short_message[6..]);
    }
    text
}

#[test]
fn long_payloads_arrive_split_with_consistent_concatenation_and_one_receipt_each() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (smsc, log) = start_smsc();
    let mut config = Config::demo();
    config.node.data_dir = dir.path().to_path_buf();
    config.node.shards = Some(1);
    config.smpp.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.http.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.connectors = vec![
        connector("udh8", smsc, PayloadHandling::Split, SplitConcat::Udh8),
        connector("sar", smsc, PayloadHandling::Split, SplitConcat::Sar),
        connector("pass", smsc, PayloadHandling::Pass, SplitConcat::Udh8),
    ];
    config.routes.mt = vec![route("1", "udh8"), route("2", "sar"), route("3", "pass")];
    let gateway =
        Gateway::start_with(config, StartOptions { pin: Some(false) }).expect("gateway starts");
    assert!(gateway.wait_bound(Duration::from_secs(10)), "binds up");

    let (gsm, ucs2) = texts();
    let message = |destination, data_sm, data_coding, payload: &Vec<u8>| Message {
        destination,
        data_sm,
        data_coding,
        payload: payload.clone(),
    };
    let messages = vec![
        message("1555", false, 0, &gsm),
        message("1555", true, 8, &ucs2),
        message("2555", false, 0, &gsm),
        message("3555", false, 0, &gsm),
        message("1555", false, 0, &gsm[..150].to_vec()),
    ];
    let client = run_client(gateway.smpp_addr, messages.clone());
    assert!(client.refused.is_empty(), "{client:?}");
    assert_eq!(
        client.ids.len(),
        messages.len(),
        "one id per message: {client:?}"
    );
    for id in client.ids.values() {
        assert_eq!(
            client.receipts.get(id),
            Some(&1),
            "one final receipt for {id}: {client:?}"
        );
    }
    let log = log.lock().unwrap().clone();

    // udh8: the GSM text in 3 parts (the short one as one plain short_message), the
    // UCS-2 text in 3 parts; each joins back to what the client sent.
    let gsm_parts: Vec<Received> = parts_of(&log, "udh8", 0)
        .into_iter()
        .filter(|p| p.esm_class & 0x40 != 0)
        .collect();
    assert_eq!(join_udh8(&gsm_parts), gsm);
    assert_eq!(join_udh8(&parts_of(&log, "udh8", 8)), ucs2);
    let single: Vec<Received> = parts_of(&log, "udh8", 0)
        .into_iter()
        .filter(|p| p.esm_class & 0x40 == 0)
        .collect();
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].short_message, gsm[..150]);
    assert!(single[0].payload.is_none());

    // sar: 3 parts without UDH, tied by the sar_* TLVs.
    let mut sar = parts_of(&log, "sar", 0);
    assert_eq!(sar.len(), 3, "{sar:?}");
    sar.sort_by_key(|p| p.sar.map(|s| s.2));
    let reference = sar[0].sar.expect("sar TLVs").0;
    let mut joined = Vec::new();
    for (i, p) in sar.iter().enumerate() {
        assert_eq!(
            p.sar,
            Some((reference, 3, u8::try_from(i + 1).expect("seq")))
        );
        assert_eq!(p.esm_class & 0x40, 0);
        joined.extend_from_slice(&p.short_message);
    }
    assert_eq!(joined, gsm);

    // pass: one submit carrying the whole message_payload.
    let pass = parts_of(&log, "pass", 0);
    assert_eq!(pass.len(), 1, "{pass:?}");
    assert_eq!(pass[0].payload.as_deref(), Some(&gsm[..]));
    assert!(pass[0].short_message.is_empty());
    gateway.stop();
}
