//! Differential test against Python smpplib (installed in the workspace's .venv by
//! .ci/setup): PDUs we encode read the same in smpplib, and PDUs smpplib encodes read the
//! same in ours. Fields are compared by their specification names, octets as hex.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{Map, Value, json};
use tern_smpp::*;

/// Commands smpplib 2.2 has no class for.
const SMPPLIB_UNSUPPORTED: &[CommandId] = &[
    CommandId::REPLACE_SM,
    CommandId::REPLACE_SM_RESP,
    CommandId::CANCEL_SM,
    CommandId::CANCEL_SM_RESP,
    CommandId::OUTBIND,
    CommandId::SUBMIT_MULTI,
    CommandId::SUBMIT_MULTI_RESP,
    CommandId::BROADCAST_SM,
    CommandId::BROADCAST_SM_RESP,
    CommandId::QUERY_BROADCAST_SM,
    CommandId::QUERY_BROADCAST_SM_RESP,
    CommandId::CANCEL_BROADCAST_SM,
    CommandId::CANCEL_BROADCAST_SM_RESP,
];

fn python_with_smpplib() -> Option<PathBuf> {
    tern_testkit::python_with(&["smpplib"])
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Our decoded fields under their specification names, valued as the scripts print them:
/// integers as numbers, C-strings (without NUL) and octet strings as hex.
fn our_fields(pdu: &Pdu<'_>) -> Map<String, Value> {
    let mut f = Map::new();
    let mut put = |name: &str, v: Value| {
        f.insert(name.to_string(), v);
    };
    match &pdu.body {
        Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => {
            put("system_id", json!(hex(&b.system_id)));
            put("password", json!(hex(&b.password)));
            put("system_type", json!(hex(&b.system_type)));
            put("interface_version", json!(b.interface_version));
            put("addr_ton", json!(b.addr_ton));
            put("addr_npi", json!(b.addr_npi));
            put("address_range", json!(hex(&b.address_range)));
        }
        Body::BindTransmitterResp(b) | Body::BindReceiverResp(b) | Body::BindTransceiverResp(b) => {
            put("system_id", json!(hex(&b.system_id)));
        }
        Body::SubmitSm(b) | Body::DeliverSm(b) => {
            put("service_type", json!(hex(&b.service_type)));
            put("source_addr_ton", json!(b.source_addr_ton));
            put("source_addr_npi", json!(b.source_addr_npi));
            put("source_addr", json!(hex(&b.source_addr)));
            put("dest_addr_ton", json!(b.dest_addr_ton));
            put("dest_addr_npi", json!(b.dest_addr_npi));
            put("destination_addr", json!(hex(&b.destination_addr)));
            put("esm_class", json!(b.esm_class));
            put("protocol_id", json!(b.protocol_id));
            put("priority_flag", json!(b.priority_flag));
            put(
                "schedule_delivery_time",
                json!(hex(&b.schedule_delivery_time)),
            );
            put("validity_period", json!(hex(&b.validity_period)));
            put("registered_delivery", json!(b.registered_delivery));
            put("replace_if_present_flag", json!(b.replace_if_present_flag));
            put("data_coding", json!(b.data_coding));
            put("sm_default_msg_id", json!(b.sm_default_msg_id));
            put("sm_length", json!(b.short_message.len()));
            put("short_message", json!(hex(&b.short_message)));
        }
        Body::SubmitSmResp(b) | Body::DeliverSmResp(b) | Body::DataSmResp(b) => {
            put("message_id", json!(hex(&b.message_id)));
        }
        Body::DataSm(b) => {
            put("service_type", json!(hex(&b.service_type)));
            put("source_addr_ton", json!(b.source_addr_ton));
            put("source_addr_npi", json!(b.source_addr_npi));
            put("source_addr", json!(hex(&b.source_addr)));
            put("dest_addr_ton", json!(b.dest_addr_ton));
            put("dest_addr_npi", json!(b.dest_addr_npi));
            put("destination_addr", json!(hex(&b.destination_addr)));
            put("esm_class", json!(b.esm_class));
            put("registered_delivery", json!(b.registered_delivery));
            put("data_coding", json!(b.data_coding));
        }
        Body::QuerySm(b) => {
            put("message_id", json!(hex(&b.message_id)));
            put("source_addr_ton", json!(b.source_addr_ton));
            put("source_addr_npi", json!(b.source_addr_npi));
            put("source_addr", json!(hex(&b.source_addr)));
        }
        Body::QuerySmResp(b) => {
            put("message_id", json!(hex(&b.message_id)));
            put("final_date", json!(hex(&b.final_date)));
            put("message_state", json!(b.message_state));
            put("error_code", json!(b.error_code));
        }
        Body::AlertNotification(b) => {
            put("source_addr_ton", json!(b.source_addr_ton));
            put("source_addr_npi", json!(b.source_addr_npi));
            put("source_addr", json!(hex(&b.source_addr)));
            put("esme_addr_ton", json!(b.esme_addr_ton));
            put("esme_addr_npi", json!(b.esme_addr_npi));
            put("esme_addr", json!(hex(&b.esme_addr)));
        }
        _ => {}
    }
    if let Some(tlvs) = pdu.body.tlvs() {
        for (tag, raw) in tlvs.raw() {
            let Some(&(_, name, kind)) = TLV_SPEC.iter().find(|(t, _, _)| *t == tag.0) else {
                continue;
            };
            let v = match kind {
                Kind::U8 | Kind::U16 | Kind::U32 => {
                    json!(raw.iter().fold(0u64, |n, b| n << 8 | u64::from(*b)))
                }
                Kind::CStr => json!(hex(raw.strip_suffix(&[0]).unwrap_or(raw))),
                _ => json!(hex(raw)),
            };
            put(name, v);
        }
    }
    f
}

#[test]
fn smpplib_reads_what_we_encode() {
    let Some(python) = python_with_smpplib() else {
        return;
    };
    let samples = samples();
    let input: String = samples.iter().map(|p| hex(&encode(p)) + "\n").collect();
    let mut child = Command::new(python)
        .arg(script("smpplib_decode.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write PDUs");
    let output = child.wait_with_output().expect("python finishes");
    assert!(
        output.status.success(),
        "smpplib_decode.py failed: {output:?}"
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), samples.len());

    let mut compared = 0;
    for (pdu, theirs) in samples.iter().zip(&lines) {
        let id = pdu.command_id();
        if theirs.get("unsupported").is_some() {
            assert!(
                SMPPLIB_UNSUPPORTED.contains(&id),
                "smpplib refused {id}: {theirs}"
            );
            continue;
        }
        assert!(
            !SMPPLIB_UNSUPPORTED.contains(&id),
            "{id} now supported: update the list"
        );
        assert_eq!(theirs["command"].as_str(), id.name(), "{theirs}");
        assert_eq!(theirs["sequence"], json!(pdu.sequence_number));
        assert_eq!(theirs["status"], json!(pdu.command_status.0));
        let ours = our_fields(pdu);
        let their_fields = theirs["fields"].as_object().expect("fields");
        for (name, value) in &ours {
            assert_eq!(their_fields.get(name), Some(value), "{id}.{name}: {theirs}");
        }
        compared += ours.len();
    }
    assert!(compared > 80, "only {compared} fields compared");
}

#[test]
fn we_read_what_smpplib_encodes() {
    let Some(python) = python_with_smpplib() else {
        return;
    };
    let output = Command::new(python)
        .arg(script("smpplib_encode.py"))
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "smpplib_encode.py failed: {output:?}"
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let mut cases = 0;
    for line in stdout.lines() {
        let case: Value = serde_json::from_str(line).expect("json");
        let wire = unhex(case["hex"].as_str().expect("hex"));
        let pdu = Pdu::decode(&wire).unwrap_or_else(|e| panic!("{e} decoding {case}"));
        assert_eq!(pdu.command_id().name(), case["command"].as_str());
        assert_eq!(json!(pdu.sequence_number), case["sequence"]);
        let ours = our_fields(&pdu);
        for (name, value) in case["fields"].as_object().expect("fields") {
            assert_eq!(ours.get(name), Some(value), "{name} in {case}");
        }
        check_round_trip(&pdu);
        cases += 1;
    }
    assert!(cases >= 18, "only {cases} PDUs from smpplib");
}
