"""smpplib (an SMPP implementation we did not write) as an ESME against `tern smsc-sim`.

Binds transceiver, submits N messages with registered_delivery, and waits for every
receipt. Prints one JSON line with what it saw; exits non-zero on any mismatch.
Usage: smpplib_esme.py HOST PORT COUNT
"""

import json
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.gsm


def main() -> int:
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    client = smpplib.client.Client(host, port, timeout=10)
    acked: dict[int, str] = {}
    receipts: dict[str, str] = {}

    def on_sent(pdu):
        acked[pdu.sequence] = pdu.message_id.decode() if isinstance(pdu.message_id, bytes) else pdu.message_id
        return None

    def on_message(pdu):
        text = pdu.short_message.decode("ascii", "replace")
        rid = pdu.receipted_message_id
        if isinstance(rid, bytes):
            rid = rid.decode()
        fields = dict(f.split(":", 1) for f in text.split(" text:")[0].replace("submit date", "submit_date").replace("done date", "done_date").split() if ":" in f)
        receipts[rid or fields.get("id", "")] = fields.get("stat", "")
        return None

    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_message)
    client.connect()
    client.bind_transceiver(system_id="interop", password="secret")
    for i in range(count):
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr="Interop",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            destination_addr=f"4479000{i:05d}",
            short_message=f"smpplib interop {i}".encode(),
            registered_delivery=True,
        )
    deadline = time.monotonic() + 20
    while (len(acked) < count or len(receipts) < count) and time.monotonic() < deadline:
        client.read_once()
    client.unbind()
    client.disconnect()
    ids = set(acked.values())
    matched = len(ids & set(receipts))
    print(json.dumps({"acked": len(acked), "receipts": len(receipts), "matched": matched,
                      "stats": sorted(set(receipts.values()))}))
    return 0 if len(acked) == count and matched == count else 1


if __name__ == "__main__":
    sys.exit(main())
