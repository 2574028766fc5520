"""Binds to the Tern gateway with Python smpplib (an ESME we did not write), submits
GSM 7-bit, UCS-2 and a UDH-concatenated long message with registered_delivery=1, and
prints what it saw, one record a line, tab-separated so the Rust test needs no JSON crate:
  submits COUNT
  resp STATUS MESSAGE_ID          (one per submit_sm_resp)
  receipt MESSAGE_ID STAT         (one per distinct receipted id)
  other COUNT                     (deliver_sm that were not receipts)
followed by one JSON line (`json {...}`) of the same, for people reading a failure.

Usage: smpplib_client.py HOST PORT SYSTEM_ID PASSWORD GSM_COUNT DEADLINE_S
"""

import json
import re
import socket
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.gsm

# Receipts carry the id in the receipted_message_id TLV; the text's `id:` is the fallback.
TEXT_ID = re.compile(rb"id:(\S+)")
# SMPP 3.4 5.2.12: esm_class bits 2-5 are the message type, 0b0001 an SMSC delivery
# receipt (smpplib has no constant for it).
ESM_TYPE_MASK = 0x3C
ESM_TYPE_DELIVERY_RECEIPT = 0x04
# Short socket reads so the deadline is checked often.
READ_TIMEOUT_S = 0.2


def texts(gsm_count):
    out = ["Tern interop GSM message %d @" % i for i in range(gsm_count)]
    out.append("Привет, Tern ✓")  # not in GSM 03.38: smpplib falls back to UCS-2
    out.append("Long message for Tern interop, split by smpplib with a UDH. " * 4)
    return out


def main():
    host, port, system_id, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    gsm_count, deadline_s = int(sys.argv[5]), float(sys.argv[6])
    deadline = time.monotonic() + deadline_s
    result = {"submits": 0, "resps": [], "receipts": {}, "other_deliveries": 0}

    def on_sent(pdu, **_):
        message_id = pdu.message_id.decode("ascii", "replace") if pdu.message_id else ""
        result["resps"].append({"status": pdu.status, "message_id": message_id})

    def on_error(pdu):
        result["resps"].append({"status": pdu.status, "message_id": ""})

    def on_received(pdu, **_):
        if pdu.esm_class & ESM_TYPE_MASK != ESM_TYPE_DELIVERY_RECEIPT:
            result["other_deliveries"] += 1
            return
        message_id = pdu.receipted_message_id
        if not message_id:
            found = TEXT_ID.search(pdu.short_message or b"")
            message_id = found.group(1) if found else b""
        stat = re.search(rb"stat:(\S+)", pdu.short_message or b"")
        key = message_id.rstrip(b"\0").decode("ascii", "replace")
        result["receipts"][key] = stat.group(1).decode("ascii", "replace") if stat else ""

    client = smpplib.client.Client(host, port, timeout=READ_TIMEOUT_S)
    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_received)
    client.set_error_pdu_handler(on_error)
    client.connect()
    client.bind_transceiver(system_id=system_id, password=password)

    for text in texts(gsm_count):
        parts, coding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr="Tern",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr="447911000001",
                short_message=part,
                data_coding=coding,
                esm_class=esm_class,
                registered_delivery=True,
            )
            result["submits"] += 1

    def done():
        ids = [r["message_id"] for r in result["resps"]]
        return len(ids) == result["submits"] and all(i in result["receipts"] for i in ids)

    while time.monotonic() < deadline and not done():
        try:
            client.read_once(auto_send_enquire_link=False)
        except socket.timeout:
            continue
    try:
        client.unbind()
    finally:
        client.disconnect()
    print("submits\t%d" % result["submits"])
    for resp in result["resps"]:
        print("resp\t%d\t%s" % (resp["status"], resp["message_id"]))
    for message_id, stat in result["receipts"].items():
        print("receipt\t%s\t%s" % (message_id, stat))
    print("other\t%d" % result["other_deliveries"])
    print("json\t" + json.dumps(result))


if __name__ == "__main__":
    main()
