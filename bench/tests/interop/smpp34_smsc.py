"""smpp34's server (an SMPP implementation we did not write) as the SMSC for `tern bench smpp`.

Accepts any bind, answers every submit_sm with a decimal message id, and sends a
standard Appendix B delivery receipt (text only, no TLVs) for each one that asked for it
on the session that submitted it. Prints "LISTENING <port>" once ready, then a JSON line
of counts when stdin closes or after DURATION seconds.
Usage: smpp34_smsc.py DURATION_S
"""

import asyncio
import json
import socket
import sys
import time

import smpp34


async def serve(duration_s: float) -> dict:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = smpp34.Server(host="127.0.0.1", port=port, system_id="smpp34")
    await server.start()
    print("LISTENING", port, flush=True)
    sessions = {}
    counts = {"binds": 0, "submits": 0, "receipts": 0}
    pending = set()
    next_id = 1000
    stamp = time.strftime("%y%m%d%H%M", time.gmtime())

    async def receipt(esme, ev, message_id):
        text = (f"id:{message_id} sub:001 dlvrd:001 submit date:{stamp} done date:{stamp} "
                f"stat:DELIVRD err:000 text:{ev.short_message[:20].decode('ascii', 'replace')}")
        resp = await esme.deliver_sm(destination_addr=ev.source_addr, source_addr=ev.destination_addr,
                                     esm_class=0x04, short_message=text.encode())
        if resp.is_success:
            counts["receipts"] += 1

    end = time.monotonic() + duration_s
    while time.monotonic() < end:
        try:
            ev = await asyncio.wait_for(server.next(), timeout=max(0.01, end - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if isinstance(ev, smpp34.Esme):
            counts["binds"] += 1
            sessions[ev.session_id] = ev
        elif isinstance(ev, smpp34.SubmitSmEvent):
            counts["submits"] += 1
            message_id = str(next_id)
            next_id += 1
            ev.accept(message_id=message_id)
            esme = sessions.get(ev.session_id)
            if esme is not None and esme.can_receive and ev.registered_delivery & 1:
                task = asyncio.create_task(receipt(esme, ev, message_id))
                pending.add(task)
                task.add_done_callback(pending.discard)
        elif isinstance(ev, smpp34.Unbound):
            sessions.pop(ev.session_id, None)
            if not sessions and counts["submits"] > 0:
                break
    await server.stop()
    return counts


def main() -> int:
    duration_s = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    counts = asyncio.run(serve(duration_s))
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
