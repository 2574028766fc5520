//! The simulator at the protocol level, driven by a plain blocking socket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tern_bench::sim::{self, SimConfig};
use tern_smpp::{Bind, Body, CommandId, CommandStatus, INTERFACE_VERSION_34, Pdu};

fn simulator(configure: impl FnOnce(&mut SimConfig)) -> sim::SimHandle {
    let mut config = SimConfig {
        stats_interval_s: 0,
        ..SimConfig::default()
    };
    configure(&mut config);
    sim::spawn(config).expect("simulator starts")
}

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout set");
    stream
}

fn read_pdu(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut header = [0u8; 16];
    stream.read_exact(&mut header).ok()?;
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let mut pdu = header.to_vec();
    pdu.resize(len.max(16), 0);
    stream.read_exact(&mut pdu[16..]).ok()?;
    Some(pdu)
}

fn bind(system_id: &str, password: &str) -> Vec<u8> {
    let body = Body::BindTransceiver(Bind {
        system_id: system_id.as_bytes().into(),
        password: password.as_bytes().into(),
        interface_version: INTERFACE_VERSION_34,
        ..Bind::default()
    });
    let mut out = Vec::new();
    Pdu::new(1, body).encode(&mut out).expect("encodes");
    out
}

#[test]
fn bind_with_a_wrong_password_is_refused_with_esme_rinvpaswd() {
    let sim = simulator(|c| c.users = vec!["alice:pw".parse().expect("user")]);
    let mut stream = connect(sim.addr);
    stream.write_all(&bind("alice", "nope")).expect("sent");
    let reply = read_pdu(&mut stream).expect("bind_resp");
    let pdu = Pdu::decode(&reply).expect("decodes");
    assert_eq!(pdu.command_id(), CommandId::BIND_TRANSCEIVER_RESP);
    assert_eq!(pdu.command_status, CommandStatus::ESME_RINVPASWD);
    assert_eq!(sim.stop().binds_refused, 1);
}

#[test]
fn command_length_out_of_bounds_gets_generic_nack_and_the_connection_closes() {
    let sim = simulator(|_| {});
    let mut stream = connect(sim.addr);
    stream.write_all(&bind("any", "any")).expect("sent");
    let bound = read_pdu(&mut stream).expect("bind_resp");
    assert_eq!(
        Pdu::decode(&bound).expect("decodes").command_status,
        CommandStatus::ESME_ROK
    );
    let mut garbage = vec![0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9];
    garbage.extend_from_slice(&[0; 16]);
    stream.write_all(&garbage).expect("sent");
    let nack = read_pdu(&mut stream).expect("generic_nack");
    let pdu = Pdu::decode(&nack).expect("decodes");
    assert_eq!(pdu.command_id(), CommandId::GENERIC_NACK);
    assert_eq!(pdu.command_status, CommandStatus::ESME_RINVCMDLEN);
    assert_eq!(pdu.sequence_number, 9);
    assert!(
        read_pdu(&mut stream).is_none(),
        "connection closed after framing loss"
    );
}

#[test]
fn unsupported_request_is_answered_not_dropped() {
    let sim = simulator(|_| {});
    let mut stream = connect(sim.addr);
    stream.write_all(&bind("any", "any")).expect("sent");
    read_pdu(&mut stream).expect("bind_resp");
    let mut query = Vec::new();
    Pdu::new(2, Body::QuerySm(Default::default()))
        .encode(&mut query)
        .expect("encodes");
    stream.write_all(&query).expect("sent");
    let reply = read_pdu(&mut stream).expect("query_sm_resp");
    let header = tern_smpp::peek_header(&reply).expect("header");
    assert_eq!(header.command_id, CommandId::QUERY_SM_RESP);
    assert_eq!(header.command_status, CommandStatus::ESME_RINVCMDID);
    assert_eq!(header.sequence_number, 2);
}
