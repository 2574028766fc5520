//! Differential test against Wireshark's SMPP dissector: every sample PDU we encode is
//! written into a pcap (Ethernet/IPv4/TCP to port 2775, built by hand) and dissected by
//! tshark, which must see the same command, sequence number and fields, and flag nothing
//! as malformed.

mod common;

use std::process::Command;

use common::*;
use tern_smpp::*;

const SMPP_PORT: u16 = 2775;
const CLIENT_PORT: u16 = 40000;

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// One Ethernet/IPv4/TCP frame carrying `payload` from the client to port 2775.
fn tcp_frame(payload: &[u8], tcp_seq: u32) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let total_len = (20 + 20 + payload.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total_len.to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    let checksum = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&checksum.to_be_bytes());
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&CLIENT_PORT.to_be_bytes());
    frame.extend_from_slice(&SMPP_PORT.to_be_bytes());
    frame.extend_from_slice(&tcp_seq.to_be_bytes());
    frame.extend_from_slice(&1u32.to_be_bytes());
    frame.extend_from_slice(&[0x50, 0x18, 0xFF, 0xFF, 0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}

/// A classic pcap file (microsecond timestamps, linktype 1 = Ethernet), one PDU a packet.
fn pcap(pdus: &[Vec<u8>]) -> Vec<u8> {
    let mut file = Vec::new();
    file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    file.extend_from_slice(&2u16.to_le_bytes());
    file.extend_from_slice(&4u16.to_le_bytes());
    file.extend_from_slice(&[0; 8]);
    file.extend_from_slice(&65_535u32.to_le_bytes());
    file.extend_from_slice(&1u32.to_le_bytes());
    let mut tcp_seq = 1u32;
    for (i, pdu) in pdus.iter().enumerate() {
        let frame = tcp_frame(pdu, tcp_seq);
        tcp_seq += pdu.len() as u32;
        file.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        file.extend_from_slice(&(i as u32).to_le_bytes());
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&frame);
    }
    file
}

const FIELDS: &[&str] = &[
    "smpp.command_id",
    "smpp.sequence_number",
    "smpp.command_status",
    "_ws.malformed",
    "_ws.expert.message",
    "smpp.system_id",
    "smpp.source_addr",
    "smpp.destination_addr",
    "smpp.message_id",
    "smpp.sm_length",
    "smpp.opt_param_tag",
    "smpp.receipted_message_id",
    "smpp.message_state",
];

/// What tshark should report for a PDU, in FIELDS order (after the expert columns).
fn expected_fields(pdu: &Pdu<'_>) -> Vec<(usize, String)> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = vec![
        (0, format!("0x{:08x}", pdu.command_id().0)),
        (1, pdu.sequence_number.to_string()),
    ];
    // The dissector shows command_status on responses only.
    if pdu.command_id().is_response() {
        out.push((2, format!("0x{:08x}", pdu.command_status.0)));
    }
    match &pdu.body {
        Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => {
            out.push((5, text(&b.system_id)));
        }
        Body::SubmitSm(b) | Body::DeliverSm(b) => {
            out.push((6, text(&b.source_addr)));
            out.push((7, text(&b.destination_addr)));
            out.push((9, b.short_message.len().to_string()));
        }
        Body::SubmitSmResp(b) | Body::DataSmResp(b) => out.push((8, text(&b.message_id))),
        Body::DataSm(b) => {
            out.push((6, text(&b.source_addr)));
            out.push((7, text(&b.destination_addr)));
        }
        Body::QuerySmResp(b) => {
            out.push((8, text(&b.message_id)));
            out.push((12, b.message_state.to_string()));
        }
        _ => {}
    }
    if let Some(tlvs) = pdu.body.tlvs().filter(|t| !t.is_empty()) {
        let tags: Vec<String> = tlvs.raw().map(|(t, _)| format!("0x{:04x}", t.0)).collect();
        out.push((10, tags.join(",")));
        if let Some(id) = tlvs.receipted_message_id() {
            out.push((11, text(id)));
        }
        if let Some(state) = tlvs.message_state() {
            out.push((12, state.to_string()));
        }
    }
    out
}

#[test]
fn tshark_dissects_every_pdu_we_encode_without_complaint() {
    let Some(tshark) = interop_tool("tshark", on_path("tshark")) else {
        return;
    };
    let samples = samples();
    let encoded: Vec<Vec<u8>> = samples.iter().map(encode).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("samples.pcap");
    std::fs::write(&file, pcap(&encoded)).expect("write pcap");

    let mut command = Command::new(tshark);
    command.arg("-r").arg(&file);
    command.args([
        "-d",
        "tcp.port==2775,smpp",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
    ]);
    for field in FIELDS {
        command.args(["-e", field]);
    }
    let output = command.output().expect("tshark runs");
    assert!(output.status.success(), "tshark failed: {output:?}");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), samples.len(), "one line per packet:\n{stdout}");

    for (pdu, line) in samples.iter().zip(&lines) {
        let columns: Vec<&str> = line.split('\t').collect();
        let name = pdu.command_id();
        assert_eq!(columns[3], "", "{name} marked malformed: {line}");
        assert_eq!(columns[4], "", "{name} has expert complaints: {line}");
        for (column, want) in expected_fields(pdu) {
            assert_eq!(
                columns[column], want,
                "{name}: {} in {line}",
                FIELDS[column]
            );
        }
    }
}
