"""Encodes a fixed set of PDUs with smpplib and prints one JSON object per line: the hex
of the PDU and the field values it was built from (octets as hex).

Used by tests/interop_smpplib.rs to check that tern-smpp decodes what an implementation
we did not write encodes.
"""
import binascii
import json

from smpplib import smpp

ADDR = dict(source_addr_ton=1, source_addr_npi=1, dest_addr_ton=1, dest_addr_npi=1)
SM = dict(esm_class=0x40, protocol_id=0, priority_flag=1, registered_delivery=1,
          replace_if_present_flag=0, data_coding=8, sm_default_msg_id=0, service_type="CMT")

CASES = [
    ("bind_transmitter", dict(system_id="tern", password="secret08", system_type="SUBMIT1",
                              addr_ton=1, addr_npi=1, address_range="^4477")),
    ("bind_receiver", dict(system_id="tern", password="pw", system_type="",
                           addr_ton=0, addr_npi=0, address_range="")),
    ("bind_transceiver", dict(system_id="tern", password="pw", system_type="X",
                              addr_ton=5, addr_npi=9, address_range="1")),
    ("bind_transceiver_resp", dict(system_id="SMSC01", sc_interface_version=0x34)),
    ("submit_sm", dict(ADDR, **SM, source_addr="447700900001", destination_addr="447700900002",
                       validity_period="000001000000000R",
                       short_message=b"\x05\x00\x03\x2a\x02\x01\x00H\x00i",
                       user_message_reference=4660, sar_msg_ref_num=42,
                       sar_total_segments=2, sar_segment_seqnum=1, source_port=5501,
                       destination_port=5502, more_messages_to_send=1,
                       callback_num=b"\x00\x01\x01447700900009")),
    ("submit_sm_resp", dict(message_id="0123456789")),
    ("deliver_sm", dict(ADDR, **SM, source_addr="447700900002", destination_addr="447700900001",
                        short_message=b"id:0123456789 stat:DELIVRD err:000",
                        receipted_message_id="0123456789", message_state=2,
                        network_error_code=b"\x03\x00\x00", user_message_reference=7)),
    ("deliver_sm_resp", dict(message_id="")),
    ("data_sm", dict(ADDR, service_type="WAP", source_addr="447700900001",
                     destination_addr="447700900002", esm_class=0, registered_delivery=1,
                     data_coding=4, source_port=5501, destination_port=5502,
                     qos_time_to_live=3600, message_payload=b"\x01\x02\x03 payload")),
    ("data_sm_resp", dict(message_id="0123456791", additional_status_info_text="accepted")),
    ("query_sm", dict(message_id="0123456789", source_addr_ton=1, source_addr_npi=1,
                      source_addr="447700900001")),
    ("query_sm_resp", dict(message_id="0123456789", final_date="250317143100000+",
                           message_state=2, error_code=0)),
    ("alert_notification", dict(source_addr_ton=1, source_addr_npi=1,
                                source_addr="447700900002", esme_addr_ton=1, esme_addr_npi=1,
                                esme_addr="447700900001", ms_availability_status=1)),
    ("unbind", {}),
    ("unbind_resp", {}),
    ("enquire_link", {}),
    ("enquire_link_resp", {}),
    ("generic_nack", {}),
]


def value(v):
    if isinstance(v, (bytes, bytearray)):
        return binascii.hexlify(bytes(v)).decode()
    if isinstance(v, str):
        return binascii.hexlify(v.encode("latin-1")).decode()
    return v


for seq, (name, fields) in enumerate(CASES, start=100):
    pdu = smpp.make_pdu(name, sequence=seq, **fields)
    pdu.sequence = seq
    data = pdu.generate()
    print(json.dumps({
        "command": name,
        "sequence": seq,
        "hex": binascii.hexlify(data).decode(),
        "fields": {k: value(v) for k, v in fields.items()},
    }), flush=True)
