//! Property tests: every PDU and every TLV survives encode → decode, encoding is stable,
//! and no input makes the framer or the decoder panic.

mod common;

use common::*;
use proptest::collection::vec;
use proptest::prelude::*;
use tern_smpp::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_pdu_type_round_trips_and_re_encodes_identically(pdu in arb_pdu()) {
        let wire = encode(&pdu);
        let decoded = Pdu::decode(&wire).expect("our encoding decodes");
        prop_assert_eq!(&decoded, &pdu);
        prop_assert_eq!(encode(&decoded), wire);
        check_round_trip(&pdu);
    }

    #[test]
    fn every_tlv_type_round_trips_typed((tag, value) in standard_tlv()) {
        let tlv = Tlv::from_raw(Tag(tag), &value);
        prop_assert!(!matches!(tlv, Tlv::Other { .. }), "{tag:#06x} not typed");
        // The typed value re-encodes to exactly the octets it came from.
        let mut wire = Vec::new();
        tlv.encode(&mut wire).expect("encodes");
        prop_assert_eq!(&wire, &tlv_octets(&[(tag, value.clone())]));
        let list = Tlvs::from_list(&[tlv]).expect("encodes");
        let pdu = Pdu::new(1, Body::DataSm(DataSm { tlvs: list, ..DataSm::default() }));
        let bytes = encode(&pdu);
        let back = Pdu::decode(&bytes).expect("decodes");
        let Body::DataSm(body) = back.body else { panic!("data_sm expected") };
        prop_assert_eq!(body.tlvs.iter().collect::<Vec<_>>(), vec![tlv]);
        prop_assert_eq!(body.tlvs.get(Tag(tag)), Some(tlv));
        prop_assert_eq!(body.tlvs.first_malformed(), None);
    }

    #[test]
    fn any_tlv_list_is_preserved_byte_for_byte(list in vec(any_tlv(), 0..8)) {
        let octets = tlv_octets(&list);
        let tlvs = Tlvs::from_wire(&octets).expect("well formed");
        let pdu = Pdu::new(9, Body::SubmitSm(SubmitSm { tlvs, ..SubmitSm::default() }));
        let wire = encode(&pdu);
        prop_assert!(wire.ends_with(&octets));
        let raw: Vec<(u16, Vec<u8>)> = Pdu::decode(&wire)
            .expect("decodes")
            .body
            .tlvs()
            .expect("submit_sm has TLVs")
            .raw()
            .map(|(t, v)| (t.0, v.to_vec()))
            .collect();
        prop_assert_eq!(raw, list);
    }

    #[test]
    fn submit_multi_lists_read_back_typed_in_order(
        dests in vec((any::<bool>(), any::<[u8; 2]>(), vec(1u8..=255, 0..30)), 0..8),
        failures in vec((any::<[u8; 2]>(), vec(1u8..=255, 0..30), any::<u32>()), 0..8),
    ) {
        let dest_list: Vec<DestAddress<'_>> = dests
            .iter()
            .map(|(sme, [ton, npi], bytes)| if *sme {
                DestAddress::Sme { ton: *ton, npi: *npi, address: bytes }
            } else {
                DestAddress::DistributionList { name: bytes }
            })
            .collect();
        let failure_list: Vec<UnsuccessSme<'_>> = failures
            .iter()
            .map(|([ton, npi], address, status)| UnsuccessSme {
                ton: *ton, npi: *npi, address, error_status: CommandStatus(*status),
            })
            .collect();
        let multi = Pdu::new(1, Body::SubmitMulti(SubmitMulti {
            dest_addresses: DestAddresses::from_list(&dest_list).expect("encodable"),
            ..SubmitMulti::default()
        }));
        let resp = Pdu::new(1, Body::SubmitMultiResp(SubmitMultiResp {
            unsuccess_smes: UnsuccessSmes::from_list(&failure_list).expect("encodable"),
            ..SubmitMultiResp::default()
        }));
        let (multi_wire, resp_wire) = (encode(&multi), encode(&resp));
        let Body::SubmitMulti(m) = Pdu::decode(&multi_wire).expect("decodes").body else {
            panic!("submit_multi expected")
        };
        prop_assert_eq!(m.dest_addresses.iter().collect::<Vec<_>>(), dest_list);
        let Body::SubmitMultiResp(r) = Pdu::decode(&resp_wire).expect("decodes").body else {
            panic!("submit_multi_resp expected")
        };
        prop_assert_eq!(r.unsuccess_smes.iter().collect::<Vec<_>>(), failure_list);
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(data in vec(any::<u8>(), 0..600)) {
        fuzz_decode(&data);
    }

    #[test]
    fn decoder_never_panics_on_mutated_valid_pdus(
        pdu in arb_pdu(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = encode(&pdu);
        for (at, byte) in flips {
            let i = at.index(wire.len());
            wire[i] = byte;
        }
        fuzz_decode(&wire);
        fuzz_decode(&wire[..cut.index(wire.len() + 1)]);
    }

    #[test]
    fn framer_finds_the_same_pdus_however_the_stream_is_split(
        pdus in vec(arb_pdu(), 1..6),
        cuts in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let stream: Vec<u8> = pdus.iter().flat_map(encode).collect();
        let mut cut_points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        cut_points.push(stream.len());
        cut_points.sort_unstable();
        // Feed the stream in reads ending at each cut point, as a socket would.
        let framer = Framer::default();
        let mut buffer = Vec::new();
        let mut fed = 0;
        let mut seen = Vec::new();
        for end in cut_points {
            buffer.extend_from_slice(&stream[fed..end]);
            fed = end;
            let mut frames = framer.frames(&buffer);
            for frame in frames.by_ref() {
                let frame = frame.expect("valid lengths");
                seen.push(Pdu::decode(frame).expect("decodes").into_owned());
            }
            let consumed = frames.consumed();
            buffer.drain(..consumed);
        }
        prop_assert!(buffer.is_empty());
        prop_assert_eq!(seen, pdus);
    }

    #[test]
    fn smpp_time_formats_back_to_what_it_parsed(
        fields in any::<[u8; 6]>(), tenths in 0u8..10, quarters in -48i8..=48, relative: bool,
    ) {
        let time = if relative {
            let [years, months, days, hours, minutes, seconds] = fields.map(|f| f % 100);
            SmppTime::Relative(RelativeTime { years, months, days, hours, minutes, seconds })
        } else {
            SmppTime::Absolute(AbsoluteTime {
                year: fields[0] % 100,
                month: fields[1] % 12 + 1,
                day: fields[2] % 31 + 1,
                hour: fields[3] % 24,
                minute: fields[4] % 60,
                second: fields[5] % 60,
                tenths,
                utc_offset_quarters: quarters,
            })
        };
        prop_assert_eq!(SmppTime::parse(&time.to_bytes()), Ok(Some(time)));
    }
}

#[test]
fn every_sample_round_trips() {
    for pdu in samples() {
        check_round_trip(&pdu);
    }
}

#[test]
fn samples_cover_every_command() {
    let ids: Vec<CommandId> = samples().iter().map(Pdu::command_id).collect();
    assert_eq!(ids, CommandId::ALL);
}

#[test]
fn tlv_table_matches_the_specification() {
    let ours: Vec<(u16, &str)> = Tag::ALL
        .iter()
        .map(|t| (t.0, t.name().expect("named")))
        .collect();
    let spec: Vec<(u16, &str)> = TLV_SPEC.iter().map(|(t, n, _)| (*t, *n)).collect();
    assert_eq!(ours, spec);
}
