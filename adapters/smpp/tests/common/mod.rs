//! Shared by the integration tests: one sample PDU of every command, proptest strategies
//! for arbitrary PDUs and TLVs, and an independent table of the specification's TLVs.
#![allow(dead_code)]

use std::borrow::Cow;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::Union;
use tern_smpp::limits::*;
use tern_smpp::*;

/// Borrowed static octets as a body field.
pub fn c(text: &'static str) -> Cow<'static, [u8]> {
    Cow::Borrowed(text.as_bytes())
}

/// Owned TLVs from a list.
pub fn tlvs(list: &[Tlv<'_>]) -> Tlvs<'static> {
    Tlvs::from_list(list).expect("sample TLVs encode")
}

/// Encodes one PDU into a fresh buffer.
pub fn encode(pdu: &Pdu<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    pdu.encode(&mut out).expect("sample PDU encodes");
    out
}

/// The shape of a TLV value, from SMPP 3.4 §5.3.2 and SMPP 5.0 §4.8.4, written out
/// independently of the crate's own table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    U8,
    U16,
    U32,
    CStr,
    Octets,
    /// One octet then a 16-bit integer.
    U8U16,
    /// No value (3.4) or one octet (5.0).
    Flag,
    /// One octet (3.4) or four (5.0).
    MsValidity,
}

use Kind::*;

/// Every standard TLV: tag, specification name, value shape.
pub const TLV_SPEC: &[(u16, &str, Kind)] = &[
    (0x0005, "dest_addr_subunit", U8),
    (0x0006, "dest_network_type", U8),
    (0x0007, "dest_bearer_type", U8),
    (0x0008, "dest_telematics_id", U16),
    (0x000D, "source_addr_subunit", U8),
    (0x000E, "source_network_type", U8),
    (0x000F, "source_bearer_type", U8),
    (0x0010, "source_telematics_id", U16),
    (0x0017, "qos_time_to_live", U32),
    (0x0019, "payload_type", U8),
    (0x001D, "additional_status_info_text", CStr),
    (0x001E, "receipted_message_id", CStr),
    (0x0030, "ms_msg_wait_facilities", U8),
    (0x0201, "privacy_indicator", U8),
    (0x0202, "source_subaddress", Octets),
    (0x0203, "dest_subaddress", Octets),
    (0x0204, "user_message_reference", U16),
    (0x0205, "user_response_code", U8),
    (0x020A, "source_port", U16),
    (0x020B, "destination_port", U16),
    (0x020C, "sar_msg_ref_num", U16),
    (0x020D, "language_indicator", U8),
    (0x020E, "sar_total_segments", U8),
    (0x020F, "sar_segment_seqnum", U8),
    (0x0210, "sc_interface_version", U8),
    (0x0302, "callback_num_pres_ind", U8),
    (0x0303, "callback_num_atag", Octets),
    (0x0304, "number_of_messages", U8),
    (0x0381, "callback_num", Octets),
    (0x0420, "dpf_result", U8),
    (0x0421, "set_dpf", U8),
    (0x0422, "ms_availability_status", U8),
    (0x0423, "network_error_code", U8U16),
    (0x0424, "message_payload", Octets),
    (0x0425, "delivery_failure_reason", U8),
    (0x0426, "more_messages_to_send", U8),
    (0x0427, "message_state", U8),
    (0x0428, "congestion_state", U8),
    (0x0501, "ussd_service_op", U8),
    (0x0600, "broadcast_channel_indicator", U8),
    (0x0601, "broadcast_content_type", U8U16),
    (0x0602, "broadcast_content_type_info", Octets),
    (0x0603, "broadcast_message_class", U8),
    (0x0604, "broadcast_rep_num", U16),
    (0x0605, "broadcast_frequency_interval", U8U16),
    (0x0606, "broadcast_area_identifier", Octets),
    (0x0607, "broadcast_error_status", U32),
    (0x0608, "broadcast_area_success", U8),
    (0x0609, "broadcast_end_time", CStr),
    (0x060A, "broadcast_service_group", Octets),
    (0x060B, "billing_identification", Octets),
    (0x060D, "source_network_id", CStr),
    (0x060E, "dest_network_id", CStr),
    (0x060F, "source_node_id", Octets),
    (0x0610, "dest_node_id", Octets),
    (0x0611, "dest_addr_np_resolution", U8),
    (0x0612, "dest_addr_np_information", Octets),
    (0x0613, "dest_addr_np_country", Octets),
    (0x1201, "display_time", U8),
    (0x1203, "sms_signal", U16),
    (0x1204, "ms_validity", MsValidity),
    (0x130C, "alert_on_message_delivery", Flag),
    (0x1380, "its_reply_type", U8),
    (0x1383, "its_session_info", U16),
];

/// A well-formed value of `kind`, as octets on the wire (C-strings with their NUL).
pub fn value_of(kind: Kind) -> BoxedStrategy<Vec<u8>> {
    match kind {
        U8 => vec(any::<u8>(), 1).boxed(),
        U16 => vec(any::<u8>(), 2).boxed(),
        U32 => vec(any::<u8>(), 4).boxed(),
        U8U16 => vec(any::<u8>(), 3).boxed(),
        Flag => vec(any::<u8>(), 0..=1).boxed(),
        MsValidity => prop_oneof![vec(any::<u8>(), 1), vec(any::<u8>(), 4)].boxed(),
        CStr => vec(1u8..=255, 0..40)
            .prop_map(|mut v| {
                v.push(0);
                v
            })
            .boxed(),
        Octets => vec(any::<u8>(), 0..300).boxed(),
    }
}

/// (tag, value) of a standard TLV with a value of the right shape.
pub fn standard_tlv() -> BoxedStrategy<(u16, Vec<u8>)> {
    (0..TLV_SPEC.len())
        .prop_flat_map(|i| {
            let (tag, _, kind) = TLV_SPEC[i];
            value_of(kind).prop_map(move |v| (tag, v))
        })
        .boxed()
}

/// (tag, value) of any TLV: standard, vendor, unknown, or standard with a wrong length.
pub fn any_tlv() -> BoxedStrategy<(u16, Vec<u8>)> {
    prop_oneof![
        4 => standard_tlv(),
        1 => (0x1400u16..=0x3FFF, vec(any::<u8>(), 0..20)),
        1 => (any::<u16>(), vec(any::<u8>(), 0..20)),
    ]
    .boxed()
}

/// Raw TLV octets for a list of (tag, value).
pub fn tlv_octets(list: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, value) in list {
        out.extend_from_slice(&tag.to_be_bytes());
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value);
    }
    out
}

fn arb_tlvs() -> BoxedStrategy<Tlvs<'static>> {
    vec(any_tlv(), 0..4)
        .prop_map(|list| {
            let octets = tlv_octets(&list);
            Tlvs::from_wire(&octets).expect("well formed").into_owned()
        })
        .boxed()
}

fn cstr(max_len: usize) -> BoxedStrategy<Cow<'static, [u8]>> {
    prop_oneof![
        4 => vec(1u8..=255, 0..=max_len.min(24)),
        1 => vec(1u8..=255, 0..=max_len),
    ]
    .prop_map(Cow::Owned)
    .boxed()
}

fn octets() -> BoxedStrategy<Cow<'static, [u8]>> {
    vec(any::<u8>(), 0..=255).prop_map(Cow::Owned).boxed()
}

fn addr() -> BoxedStrategy<Cow<'static, [u8]>> {
    cstr(ADDRESS_MAX_LEN)
}

fn time() -> BoxedStrategy<Cow<'static, [u8]>> {
    cstr(TIME_MAX_LEN)
}

fn message_id() -> BoxedStrategy<Cow<'static, [u8]>> {
    cstr(MESSAGE_ID_MAX_LEN)
}

fn service_type() -> BoxedStrategy<Cow<'static, [u8]>> {
    cstr(SERVICE_TYPE_MAX_LEN)
}

fn arb_dests() -> BoxedStrategy<DestAddresses<'static>> {
    let entry = prop_oneof![
        (
            any::<u8>(),
            any::<u8>(),
            vec(1u8..=255, 0..=ADDRESS_MAX_LEN)
        )
            .prop_map(|(t, n, a)| (Some((t, n)), a)),
        vec(1u8..=255, 0..=DL_NAME_MAX_LEN).prop_map(|name| (None, name)),
    ];
    vec(entry, 0..6)
        .prop_map(|entries| {
            let list: Vec<DestAddress<'_>> = entries
                .iter()
                .map(|(sme, bytes)| match sme {
                    Some((ton, npi)) => DestAddress::Sme {
                        ton: *ton,
                        npi: *npi,
                        address: bytes,
                    },
                    None => DestAddress::DistributionList { name: bytes },
                })
                .collect();
            DestAddresses::from_list(&list).expect("encodable")
        })
        .boxed()
}

fn arb_unsuccess() -> BoxedStrategy<UnsuccessSmes<'static>> {
    let entry = (
        any::<u8>(),
        any::<u8>(),
        vec(1u8..=255, 0..=ADDRESS_MAX_LEN),
        any::<u32>(),
    );
    vec(entry, 0..6)
        .prop_map(|entries| {
            let list: Vec<UnsuccessSme<'_>> = entries
                .iter()
                .map(|(ton, npi, address, status)| UnsuccessSme {
                    ton: *ton,
                    npi: *npi,
                    address,
                    error_status: CommandStatus(*status),
                })
                .collect();
            UnsuccessSmes::from_list(&list).expect("encodable")
        })
        .boxed()
}

fn arb_bind() -> BoxedStrategy<Bind<'static>> {
    (
        cstr(SYSTEM_ID_MAX_LEN),
        cstr(PASSWORD_MAX_LEN),
        cstr(SYSTEM_TYPE_MAX_LEN),
        any::<[u8; 3]>(),
        cstr(ADDRESS_RANGE_MAX_LEN),
    )
        .prop_map(
            |(system_id, password, system_type, [v, ton, npi], range)| Bind {
                system_id,
                password,
                system_type,
                interface_version: v,
                addr_ton: ton,
                addr_npi: npi,
                address_range: range,
            },
        )
        .boxed()
}

fn arb_bind_resp() -> BoxedStrategy<BindResp<'static>> {
    (cstr(SYSTEM_ID_MAX_LEN), arb_tlvs())
        .prop_map(|(system_id, tlvs)| BindResp { system_id, tlvs })
        .boxed()
}

fn arb_sm_resp() -> BoxedStrategy<SmResp<'static>> {
    (message_id(), arb_tlvs())
        .prop_map(|(message_id, tlvs)| SmResp { message_id, tlvs })
        .boxed()
}

fn arb_submit_sm() -> BoxedStrategy<SubmitSm<'static>> {
    (
        (
            service_type(),
            any::<[u8; 2]>(),
            addr(),
            any::<[u8; 2]>(),
            addr(),
        ),
        (any::<[u8; 3]>(), time(), time(), any::<[u8; 4]>()),
        (octets(), arb_tlvs()),
    )
        .prop_map(
            |((st, [sat, san], sa, [dat, dan], da), (f, sched, valid, g), (sm, tlvs))| SubmitSm {
                service_type: st,
                source_addr_ton: sat,
                source_addr_npi: san,
                source_addr: sa,
                dest_addr_ton: dat,
                dest_addr_npi: dan,
                destination_addr: da,
                esm_class: f[0],
                protocol_id: f[1],
                priority_flag: f[2],
                schedule_delivery_time: sched,
                validity_period: valid,
                registered_delivery: g[0],
                replace_if_present_flag: g[1],
                data_coding: g[2],
                sm_default_msg_id: g[3],
                short_message: sm,
                tlvs,
            },
        )
        .boxed()
}

fn arb_submit_multi() -> BoxedStrategy<SubmitMulti<'static>> {
    (
        (service_type(), any::<[u8; 2]>(), addr(), arb_dests()),
        (any::<[u8; 3]>(), time(), time(), any::<[u8; 4]>()),
        (octets(), arb_tlvs()),
    )
        .prop_map(
            |((st, [sat, san], sa, dests), (f, sched, valid, g), (sm, tlvs))| SubmitMulti {
                service_type: st,
                source_addr_ton: sat,
                source_addr_npi: san,
                source_addr: sa,
                dest_addresses: dests,
                esm_class: f[0],
                protocol_id: f[1],
                priority_flag: f[2],
                schedule_delivery_time: sched,
                validity_period: valid,
                registered_delivery: g[0],
                replace_if_present_flag: g[1],
                data_coding: g[2],
                sm_default_msg_id: g[3],
                short_message: sm,
                tlvs,
            },
        )
        .boxed()
}

fn arb_data_sm() -> BoxedStrategy<DataSm<'static>> {
    (
        service_type(),
        any::<[u8; 2]>(),
        addr(),
        any::<[u8; 2]>(),
        addr(),
        any::<[u8; 3]>(),
        arb_tlvs(),
    )
        .prop_map(|(st, [sat, san], sa, [dat, dan], da, f, tlvs)| DataSm {
            service_type: st,
            source_addr_ton: sat,
            source_addr_npi: san,
            source_addr: sa,
            dest_addr_ton: dat,
            dest_addr_npi: dan,
            destination_addr: da,
            esm_class: f[0],
            registered_delivery: f[1],
            data_coding: f[2],
            tlvs,
        })
        .boxed()
}

fn arb_other_bodies() -> Vec<BoxedStrategy<Body<'static>>> {
    vec![
        (cstr(SYSTEM_ID_MAX_LEN), cstr(PASSWORD_MAX_LEN))
            .prop_map(|(system_id, password)| {
                Body::Outbind(Outbind {
                    system_id,
                    password,
                })
            })
            .boxed(),
        (message_id(), arb_unsuccess(), arb_tlvs())
            .prop_map(|(message_id, unsuccess_smes, tlvs)| {
                Body::SubmitMultiResp(SubmitMultiResp {
                    message_id,
                    unsuccess_smes,
                    tlvs,
                })
            })
            .boxed(),
        (message_id(), any::<[u8; 2]>(), addr())
            .prop_map(|(message_id, [ton, npi], source_addr)| {
                Body::QuerySm(QuerySm {
                    message_id,
                    source_addr_ton: ton,
                    source_addr_npi: npi,
                    source_addr,
                })
            })
            .boxed(),
        (message_id(), time(), any::<[u8; 2]>())
            .prop_map(|(message_id, final_date, [state, error])| {
                Body::QuerySmResp(QuerySmResp {
                    message_id,
                    final_date,
                    message_state: state,
                    error_code: error,
                })
            })
            .boxed(),
        (
            service_type(),
            message_id(),
            any::<[u8; 4]>(),
            addr(),
            addr(),
        )
            .prop_map(
                |(service_type, message_id, t, source_addr, destination_addr)| {
                    Body::CancelSm(CancelSm {
                        service_type,
                        message_id,
                        source_addr_ton: t[0],
                        source_addr_npi: t[1],
                        source_addr,
                        dest_addr_ton: t[2],
                        dest_addr_npi: t[3],
                        destination_addr,
                    })
                },
            )
            .boxed(),
        (
            (message_id(), any::<[u8; 2]>(), addr()),
            (time(), time(), any::<[u8; 2]>(), octets(), arb_tlvs()),
        )
            .prop_map(
                |((message_id, [ton, npi], source_addr), (s, v, f, sm, tlvs))| {
                    Body::ReplaceSm(ReplaceSm {
                        message_id,
                        source_addr_ton: ton,
                        source_addr_npi: npi,
                        source_addr,
                        schedule_delivery_time: s,
                        validity_period: v,
                        registered_delivery: f[0],
                        sm_default_msg_id: f[1],
                        short_message: sm,
                        tlvs,
                    })
                },
            )
            .boxed(),
        (any::<[u8; 4]>(), addr(), addr(), arb_tlvs())
            .prop_map(|(t, source_addr, esme_addr, tlvs)| {
                Body::AlertNotification(AlertNotification {
                    source_addr_ton: t[0],
                    source_addr_npi: t[1],
                    source_addr,
                    esme_addr_ton: t[2],
                    esme_addr_npi: t[3],
                    esme_addr,
                    tlvs,
                })
            })
            .boxed(),
        (
            (service_type(), any::<[u8; 2]>(), addr(), message_id()),
            (time(), time(), any::<[u8; 4]>(), arb_tlvs()),
        )
            .prop_map(
                |((service_type, [ton, npi], source_addr, message_id), (s, v, f, tlvs))| {
                    Body::BroadcastSm(BroadcastSm {
                        service_type,
                        source_addr_ton: ton,
                        source_addr_npi: npi,
                        source_addr,
                        message_id,
                        priority_flag: f[0],
                        schedule_delivery_time: s,
                        validity_period: v,
                        replace_if_present_flag: f[1],
                        data_coding: f[2],
                        sm_default_msg_id: f[3],
                        tlvs,
                    })
                },
            )
            .boxed(),
        (message_id(), any::<[u8; 2]>(), addr(), arb_tlvs())
            .prop_map(|(message_id, [ton, npi], source_addr, tlvs)| {
                Body::QueryBroadcastSm(QueryBroadcastSm {
                    message_id,
                    source_addr_ton: ton,
                    source_addr_npi: npi,
                    source_addr,
                    tlvs,
                })
            })
            .boxed(),
        (
            service_type(),
            message_id(),
            any::<[u8; 2]>(),
            addr(),
            arb_tlvs(),
        )
            .prop_map(
                |(service_type, message_id, [ton, npi], source_addr, tlvs)| {
                    Body::CancelBroadcastSm(CancelBroadcastSm {
                        service_type,
                        message_id,
                        source_addr_ton: ton,
                        source_addr_npi: npi,
                        source_addr,
                        tlvs,
                    })
                },
            )
            .boxed(),
    ]
}

/// Any body of any command.
pub fn arb_body() -> BoxedStrategy<Body<'static>> {
    let mut arms: Vec<BoxedStrategy<Body<'static>>> = vec![
        Just(Body::GenericNack).boxed(),
        Just(Body::Unbind).boxed(),
        Just(Body::UnbindResp).boxed(),
        Just(Body::EnquireLink).boxed(),
        Just(Body::EnquireLinkResp).boxed(),
        Just(Body::CancelSmResp).boxed(),
        Just(Body::ReplaceSmResp).boxed(),
        Just(Body::CancelBroadcastSmResp).boxed(),
        arb_bind().prop_map(Body::BindReceiver).boxed(),
        arb_bind().prop_map(Body::BindTransmitter).boxed(),
        arb_bind().prop_map(Body::BindTransceiver).boxed(),
        arb_bind_resp().prop_map(Body::BindReceiverResp).boxed(),
        arb_bind_resp().prop_map(Body::BindTransmitterResp).boxed(),
        arb_bind_resp().prop_map(Body::BindTransceiverResp).boxed(),
        arb_submit_sm().prop_map(Body::SubmitSm).boxed(),
        arb_submit_sm().prop_map(Body::DeliverSm).boxed(),
        arb_sm_resp().prop_map(Body::SubmitSmResp).boxed(),
        arb_sm_resp().prop_map(Body::DeliverSmResp).boxed(),
        arb_sm_resp().prop_map(Body::DataSmResp).boxed(),
        arb_sm_resp().prop_map(Body::BroadcastSmResp).boxed(),
        arb_sm_resp().prop_map(Body::QueryBroadcastSmResp).boxed(),
        arb_submit_multi().prop_map(Body::SubmitMulti).boxed(),
        arb_data_sm().prop_map(Body::DataSm).boxed(),
    ];
    arms.extend(arb_other_bodies());
    Union::new(arms).boxed()
}

/// Any PDU: any body with any status and sequence number.
pub fn arb_pdu() -> BoxedStrategy<PduOwned> {
    (any::<u32>(), any::<u32>(), arb_body())
        .prop_map(|(status, seq, body)| Pdu::response(CommandStatus(status), seq, body))
        .boxed()
}

fn bind() -> Bind<'static> {
    Bind {
        system_id: c("tern"),
        password: c("secret08"),
        system_type: c("SUBMIT1"),
        interface_version: INTERFACE_VERSION_34,
        addr_ton: 1,
        addr_npi: 1,
        address_range: c(""),
    }
}

fn sm_resp(id: &'static str, list: &[Tlv<'_>]) -> SmResp<'static> {
    SmResp {
        message_id: c(id),
        tlvs: tlvs(list),
    }
}

/// Binds, their responses and the bodiless session PDUs.
fn session_bodies() -> Vec<Body<'static>> {
    let bind_resp = BindResp::answering(c("SMSC01"), INTERFACE_VERSION_34, INTERFACE_VERSION_34);
    vec![
        Body::GenericNack,
        Body::BindReceiver(bind()),
        Body::BindReceiverResp(bind_resp.clone()),
        Body::BindTransmitter(bind()),
        Body::BindTransmitterResp(bind_resp.clone()),
        Body::Unbind,
        Body::UnbindResp,
        Body::BindTransceiver(Bind {
            interface_version: INTERFACE_VERSION_50,
            ..bind()
        }),
        Body::BindTransceiverResp(bind_resp),
        Body::Outbind(Outbind {
            system_id: c("SMSC01"),
            password: c("pw"),
        }),
        Body::EnquireLink,
        Body::EnquireLinkResp,
    ]
}

fn submit_sm() -> SubmitSm<'static> {
    SubmitSm {
        service_type: c(""),
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: c("447700900001"),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: c("447700900002"),
        esm_class: 0x40,
        protocol_id: 0,
        priority_flag: 1,
        schedule_delivery_time: c(""),
        validity_period: c("000001000000000R"),
        registered_delivery: 1,
        replace_if_present_flag: 0,
        data_coding: 8,
        sm_default_msg_id: 0,
        short_message: Cow::Borrowed(b"\x05\x00\x03\x2a\x02\x01\x00H\x00i"),
        tlvs: tlvs(&[
            Tlv::UserMessageReference(4660),
            Tlv::SourcePort(9200),
            Tlv::DestinationPort(2948),
            Tlv::SarMsgRefNum(42),
            Tlv::SarTotalSegments(2),
            Tlv::SarSegmentSeqnum(1),
            Tlv::LanguageIndicator(1),
        ]),
    }
}

fn deliver_sm_receipt() -> DeliverSm<'static> {
    let text: &'static [u8] = b"id:0123456789 sub:001 dlvrd:001 submit date:2503171430 \
done date:2503171431 stat:DELIVRD err:000 text:Hi";
    DeliverSm {
        source_addr: c("447700900002"),
        destination_addr: c("447700900001"),
        esm_class: EsmClass::TYPE_DELIVERY_RECEIPT,
        priority_flag: 0,
        validity_period: c(""),
        registered_delivery: 0,
        data_coding: 0,
        short_message: Cow::Borrowed(text),
        tlvs: tlvs(&[
            Tlv::ReceiptedMessageId(b"0123456789"),
            Tlv::MessageState(MessageState::DELIVERED.0),
            Tlv::NetworkErrorCode(tern_smpp::tlv::NetworkErrorCode {
                network_type: 3,
                error_code: 0,
            }),
        ]),
        ..submit_sm()
    }
}

fn data_sm() -> DataSm<'static> {
    DataSm {
        service_type: c("WAP"),
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: c("447700900001"),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: c("447700900002"),
        esm_class: 0,
        registered_delivery: 1,
        data_coding: 4,
        tlvs: tlvs(&[
            // Not the WAP ports: Wireshark would hand the payload to its WSP dissector.
            Tlv::SourcePort(5501),
            Tlv::DestinationPort(5502),
            Tlv::QosTimeToLive(3600),
            Tlv::MessagePayload(b"\x01\x02\x03 payload longer than a short message"),
        ]),
    }
}

/// submit_sm, deliver_sm, data_sm and their responses.
fn message_bodies() -> Vec<Body<'static>> {
    vec![
        Body::SubmitSm(submit_sm()),
        Body::SubmitSmResp(sm_resp("0123456789", &[])),
        Body::DeliverSm(deliver_sm_receipt()),
        Body::DeliverSmResp(sm_resp("", &[])),
        Body::DataSm(data_sm()),
        Body::DataSmResp(sm_resp(
            "0123456791",
            &[
                Tlv::AdditionalStatusInfoText(b"accepted"),
                Tlv::DpfResult(0),
            ],
        )),
    ]
}

fn submit_multi() -> SubmitMulti<'static> {
    let dests = DestAddresses::from_list(&[
        DestAddress::Sme {
            ton: 1,
            npi: 1,
            address: b"447700900002",
        },
        DestAddress::DistributionList { name: b"friends" },
        DestAddress::Sme {
            ton: 1,
            npi: 1,
            address: b"447700900003",
        },
    ])
    .expect("encodable");
    SubmitMulti {
        source_addr_ton: 5,
        source_addr: c("Tern"),
        dest_addresses: dests,
        registered_delivery: 1,
        short_message: c("Hello all"),
        tlvs: tlvs(&[Tlv::UserMessageReference(7)]),
        ..SubmitMulti::default()
    }
}

fn submit_multi_resp() -> SubmitMultiResp<'static> {
    let unsuccess = UnsuccessSmes::from_list(&[UnsuccessSme {
        ton: 1,
        npi: 1,
        address: b"447700900003",
        error_status: CommandStatus::ESME_RINVDSTADR,
    }])
    .expect("encodable");
    SubmitMultiResp {
        message_id: c("0123456790"),
        unsuccess_smes: unsuccess,
        tlvs: Tlvs::EMPTY,
    }
}

/// query_sm, replace_sm, cancel_sm, submit_multi, alert_notification and responses.
fn ancillary_bodies() -> Vec<Body<'static>> {
    vec![
        Body::QuerySm(QuerySm {
            message_id: c("0123456789"),
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: c("447700900001"),
        }),
        Body::QuerySmResp(QuerySmResp {
            message_id: c("0123456789"),
            final_date: c("250317143100000+"),
            message_state: MessageState::DELIVERED.0,
            error_code: 0,
        }),
        Body::ReplaceSm(ReplaceSm {
            message_id: c("0123456789"),
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: c("447700900001"),
            validity_period: c("250318143005000+"),
            registered_delivery: 1,
            short_message: c("Replaced text"),
            ..ReplaceSm::default()
        }),
        Body::ReplaceSmResp,
        Body::CancelSm(CancelSm {
            message_id: c("0123456789"),
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: c("447700900001"),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: c("447700900002"),
            ..CancelSm::default()
        }),
        Body::CancelSmResp,
        Body::SubmitMulti(submit_multi()),
        Body::SubmitMultiResp(submit_multi_resp()),
        Body::AlertNotification(AlertNotification {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: c("447700900002"),
            esme_addr_ton: 1,
            esme_addr_npi: 1,
            esme_addr: c("447700900001"),
            tlvs: tlvs(&[Tlv::MsAvailabilityStatus(0)]),
        }),
    ]
}

/// The SMPP 5.0 broadcast PDUs.
fn broadcast_bodies() -> Vec<Body<'static>> {
    let area = Tlv::BroadcastAreaIdentifier(b"\x00area51");
    vec![
        Body::BroadcastSm(BroadcastSm {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: c("447700900001"),
            tlvs: tlvs(&[
                area,
                Tlv::BroadcastContentType(tern_smpp::tlv::BroadcastContentType {
                    network_type: 1,
                    content_type: 0x0002,
                }),
                // broadcast_rep_num is left out: SMPP 5.0, jsmpp and oserl give it 2 octets,
                // Wireshark 4.0 and rusmpp-core 0.4 read 1 and would report a malformed PDU.
                Tlv::BroadcastFrequencyInterval(tern_smpp::tlv::BroadcastFrequencyInterval {
                    units_of_time: 0x09,
                    number: 5,
                }),
                Tlv::MessagePayload(b"Storm warning"),
            ]),
            ..BroadcastSm::default()
        }),
        Body::BroadcastSmResp(sm_resp("b-1", &[])),
        Body::QueryBroadcastSm(QueryBroadcastSm {
            message_id: c("b-1"),
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: c("447700900001"),
            tlvs: Tlvs::EMPTY,
        }),
        Body::QueryBroadcastSmResp(sm_resp(
            "b-1",
            &[
                Tlv::MessageState(MessageState::ENROUTE.0),
                area,
                Tlv::BroadcastAreaSuccess(80),
            ],
        )),
        Body::CancelBroadcastSm(CancelBroadcastSm {
            message_id: c("b-1"),
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: c("447700900001"),
            ..CancelBroadcastSm::default()
        }),
        Body::CancelBroadcastSmResp,
    ]
}

/// One PDU of every command, with realistic, spec-conformant fields and TLVs, in
/// `CommandId::ALL` order, sequence numbers from 1. The interop tests feed these to other
/// implementations.
pub fn samples() -> Vec<PduOwned> {
    let mut bodies = session_bodies();
    bodies.extend(message_bodies());
    bodies.extend(ancillary_bodies());
    bodies.extend(broadcast_bodies());
    let rank = |b: &Body<'_>| CommandId::ALL.iter().position(|id| *id == b.command_id());
    bodies.sort_by_key(rank);
    bodies
        .into_iter()
        .zip(1u32..)
        .map(|(body, seq)| {
            let status = if body.command_id() == CommandId::GENERIC_NACK {
                CommandStatus::ESME_RINVCMDID
            } else {
                CommandStatus::ESME_ROK
            };
            Pdu::response(status, seq, body)
        })
        .collect()
}

#[allow(unused_imports)]
pub use tern_testkit::{interop_tool, on_path};
