//! The message records' binary encoding: round trips, bounds, and decoding that never
//! panics.

use std::borrow::Cow;

use proptest::collection::vec;
use proptest::prelude::*;
use tern_engine::message::{
    Address, ConnectorId, Content, Final, FinalScope, FinalState, Id2, MessageId, MessageRecord,
    PartRef, Progress, ROUTE_CONNECTORS_MAX, ReceiptPending, Record, RecordError, Route,
    SessionKind, SplitParts, Submitted, UserId, kind,
};
use tern_smpp::{CommandStatus, EsmClass, RegisteredDelivery};

fn address() -> impl Strategy<Value = Address<'static>> {
    (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..=64)).prop_map(|(ton, npi, digits)| Address {
        ton,
        npi,
        digits: Cow::Owned(digits),
    })
}

fn content() -> impl Strategy<Value = Content<'static>> {
    prop_oneof![
        vec(any::<u8>(), 0..=255).prop_map(|bytes| Content::ShortMessage(Cow::Owned(bytes))),
        vec(any::<u8>(), 0..=2_000).prop_map(|bytes| Content::MessagePayload(Cow::Owned(bytes))),
        (
            proptest::option::of(any::<u16>()),
            vec(vec(any::<u8>(), 0..=160), 1..=6)
        )
            .prop_map(|(sar, parts)| {
                let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                Content::Split(SplitParts::new(sar, &slices).unwrap())
            }),
    ]
}

fn message_id() -> impl Strategy<Value = MessageId> {
    (any::<u8>(), 0..=MessageId::SEQUENCE_MAX)
        .prop_map(|(shard, sequence)| MessageId::new(shard, sequence).unwrap())
}

prop_compose! {
    fn message_record()(
        id in message_id(),
        user in any::<u32>(),
        session in prop_oneof![any::<u8>().prop_map(|interface_version| SessionKind::Smpp { interface_version }), Just(SessionKind::Http)],
        times in (any::<u64>(), any::<u64>(), proptest::option::of(any::<u64>())),
        octets in any::<[u8; 5]>(),
        source in address(),
        destination in address(),
        service_type in vec(any::<u8>(), 0..=32),
        client_ref in vec(any::<u8>(), 0..=64),
        route in vec(any::<u16>(), 1..=ROUTE_CONNECTORS_MAX),
        content in content(),
        tlvs in vec(any::<u8>(), 0..=300),
        http in (vec(any::<u8>(), 0..=600), vec(any::<u8>(), 0..=255)),
    ) -> MessageRecord<'static> {
        let connectors: Vec<ConnectorId> = route.into_iter().map(ConnectorId).collect();
        MessageRecord {
            id,
            user: UserId(user),
            session,
            accepted_at_ms: times.0,
            validity_deadline_ms: times.1,
            schedule_at_ms: times.2,
            source,
            destination,
            esm_class: EsmClass(octets[0]),
            protocol_id: octets[1],
            priority: octets[2],
            registered_delivery: RegisteredDelivery(octets[3]),
            data_coding: octets[4],
            service_type: Cow::Owned(service_type),
            client_ref: Cow::Owned(client_ref),
            route: Route::new(&connectors).unwrap(),
            content,
            tlvs: Cow::Owned(tlvs),
            callback: Cow::Owned(http.0),
            idempotency_key: Cow::Owned(http.1),
        }
    }
}

fn final_state() -> impl Strategy<Value = FinalState> {
    prop_oneof![
        Just(FinalState::Delivered),
        Just(FinalState::Undeliverable),
        Just(FinalState::Expired),
        Just(FinalState::Rejected),
        Just(FinalState::Deleted),
        Just(FinalState::Unknown),
        any::<u32>().prop_map(|status| FinalState::Failed {
            status: CommandStatus(status)
        }),
    ]
}

fn progress() -> impl Strategy<Value = Progress> {
    prop_oneof![
        (
            message_id(),
            any::<u8>(),
            any::<u16>(),
            vec(any::<u8>(), 1..=64)
        )
            .prop_map(|(id, part, connector, id2)| {
                Progress::Submitted(Submitted {
                    id,
                    part,
                    connector: ConnectorId(connector),
                    id2: Id2::new(&id2).unwrap(),
                })
            }),
        (
            message_id(),
            proptest::option::of(any::<u8>()),
            final_state(),
            any::<u32>(),
            any::<u64>()
        )
            .prop_map(|(id, part, state, error, at_ms)| Progress::Final(Final {
                id,
                scope: part.map_or(FinalScope::Message, FinalScope::Part),
                state,
                error,
                at_ms,
            })),
        (message_id(), any::<u32>()).prop_map(|(id, user)| Progress::ReceiptPending(
            ReceiptPending {
                id,
                user: UserId(user)
            }
        )),
        message_id().prop_map(|id| Progress::ReceiptAcknowledged { id }),
        message_id().prop_map(|id| Progress::Done { id }),
    ]
}

fn encoded(record: &MessageRecord<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    record.encode(&mut out).unwrap();
    out
}

proptest! {
    #[test]
    fn accepted_record_round_trips(record in message_record()) {
        let bytes = encoded(&record);
        let decoded = MessageRecord::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &record);
        prop_assert_eq!(decoded.into_owned(), record);
    }

    #[test]
    fn progress_record_round_trips(progress in progress()) {
        let mut bytes = Vec::new();
        progress.encode(&mut bytes);
        prop_assert_eq!(Progress::decode(progress.kind(), &bytes), Ok(progress));
        prop_assert_eq!(Record::decode(progress.kind(), &bytes), Ok(Record::Progress(progress)));
    }

    #[test]
    fn every_prefix_of_a_record_is_an_error_not_a_panic(record in message_record()) {
        let bytes = encoded(&record);
        for len in 0..bytes.len() {
            prop_assert!(MessageRecord::decode(&bytes[..len]).is_err());
        }
    }

    #[test]
    fn decode_never_panics_on_any_bytes(kind_byte in 0x0Fu8..=0x16, bytes in vec(any::<u8>(), 0..400)) {
        let _ = Record::decode(kind_byte, &bytes);
    }

    #[test]
    fn decode_never_panics_on_a_damaged_record(record in message_record(), flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = encoded(&record);
        for (index, value) in flips {
            let at = index.index(bytes.len());
            bytes[at] ^= value | 1;
        }
        let _ = MessageRecord::decode(&bytes);
    }

    #[test]
    fn message_id_reads_back_from_hex_and_decimal(id in message_id()) {
        prop_assert_eq!(MessageId::parse(&id.to_string()), Ok(id));
        prop_assert_eq!(MessageId::parse(&id.get().to_string()), Ok(id));
        prop_assert_eq!(id.to_string().len(), MessageId::HEX_LEN);
    }

    #[test]
    fn part_ref_round_trips_through_the_dlr_value(id in message_id(), part in any::<u8>()) {
        let part_ref = PartRef { message: id, part };
        prop_assert_eq!(PartRef::from_dlr_value(part_ref.to_dlr_value()), part_ref);
    }
}

fn typical() -> MessageRecord<'static> {
    MessageRecord {
        id: MessageId::new(2, 1234).unwrap(),
        user: UserId(3),
        session: SessionKind::Http,
        accepted_at_ms: 1_700_000_000_000,
        validity_deadline_ms: 1_700_172_800_000,
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
        esm_class: EsmClass(0),
        protocol_id: 0,
        priority: 1,
        registered_delivery: RegisteredDelivery(1),
        data_coding: 0,
        service_type: Cow::Borrowed(b""),
        client_ref: Cow::Borrowed(b"order-77"),
        route: Route::new(&[ConnectorId(1), ConnectorId(2)]).unwrap(),
        content: Content::ShortMessage(Cow::Borrowed(b"Your code is 123456")),
        tlvs: Cow::Borrowed(b""),
        callback: Cow::Borrowed(b""),
        idempotency_key: Cow::Borrowed(b""),
    }
}

#[test]
fn a_version_1_record_without_http_fields_still_reads() {
    let mut record = typical();
    record.callback = Cow::Borrowed(b"spec");
    record.idempotency_key = Cow::Borrowed(b"key");
    let mut bytes = encoded(&record);
    // Version 1 ended after the TLVs: drop the two HTTP fields (u16 + 4, u8 + 3).
    bytes.truncate(bytes.len() - (2 + 4) - (1 + 3));
    bytes[0] = 1;
    let decoded = MessageRecord::decode(&bytes).unwrap();
    assert!(decoded.callback.is_empty() && decoded.idempotency_key.is_empty());
    assert_eq!(decoded.client_ref, record.client_ref);
}

#[test]
fn decoded_record_borrows_its_bytes() {
    let bytes = encoded(&typical());
    let decoded = MessageRecord::decode(&bytes).unwrap();
    assert!(matches!(
        decoded.content,
        Content::ShortMessage(Cow::Borrowed(_))
    ));
    assert!(matches!(decoded.destination.digits, Cow::Borrowed(_)));
}

#[test]
fn fields_beyond_their_bounds_are_refused_on_encode() {
    let mut record = typical();
    record.destination.digits = Cow::Owned(vec![b'1'; 65]);
    assert_eq!(
        record.encode(&mut Vec::new()),
        Err(RecordError::TooLong {
            field: "destination",
            len: 65,
            max: 64
        })
    );
    let mut record = typical();
    record.content = Content::ShortMessage(Cow::Owned(vec![0; 256]));
    assert!(matches!(
        record.encode(&mut Vec::new()),
        Err(RecordError::TooLong { .. })
    ));
    assert!(Route::new(&[]).is_err());
    assert!(Route::new(&[ConnectorId(1); ROUTE_CONNECTORS_MAX + 1]).is_err());
    assert!(SplitParts::new(None, &[]).is_err());
    assert!(Id2::new(b"").is_err());
    assert!(Id2::new(&[b'1'; 65]).is_err());
}

#[test]
fn unknown_version_kind_and_trailing_bytes_are_typed_errors() {
    let mut bytes = encoded(&typical());
    bytes.push(0);
    assert_eq!(
        MessageRecord::decode(&bytes),
        Err(RecordError::TrailingBytes { count: 1 })
    );
    bytes.pop();
    bytes[0] = 3;
    assert_eq!(
        MessageRecord::decode(&bytes),
        Err(RecordError::UnsupportedVersion { version: 3 })
    );
    let done = Progress::Done {
        id: MessageId::new(0, 1).unwrap(),
    };
    let mut payload = Vec::new();
    done.encode(&mut payload);
    assert_eq!(
        Record::decode(0x42, &payload),
        Err(RecordError::UnknownKind { kind: 0x42 })
    );
    assert!(kind::is_message_kind(kind::DONE) && !kind::is_message_kind(0xFE));
}

#[test]
fn split_parts_give_each_submit_its_bytes_and_sar_values() {
    let parts = SplitParts::new(Some(77), &[b"first", b"second"]).unwrap();
    let content = Content::Split(parts);
    assert_eq!(content.part_count(), 2);
    let second = content.part(1).unwrap();
    assert_eq!(second.bytes, b"second");
    assert_eq!(
        second.sar.map(|sar| (sar.reference, sar.total, sar.seq)),
        Some((77, 2, 2))
    );
    assert!(content.part(2).is_none());
}
