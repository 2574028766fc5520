"""Decodes hex PDUs (one per line on stdin) with smpplib and prints one JSON object per
line: the command, header fields and every field smpplib parsed (octets as hex).

Used by tests/interop_smpplib.rs to check that PDUs tern-smpp encodes read the same in an
implementation we did not write. Commands smpplib does not know are reported as
{"unsupported": name}.
"""
import binascii
import json
import sys

from smpplib import command_codes, smpp


def value(v):
    if isinstance(v, (bytes, bytearray)):
        return binascii.hexlify(bytes(v)).decode()
    if isinstance(v, str):
        return binascii.hexlify(v.encode("latin-1")).decode()
    return v


def decode(data):
    code = int.from_bytes(data[4:8], "big")
    try:
        name = command_codes.get_command_name(code)
    except Exception as e:  # SMPP 5.0 commands are unknown to smpplib
        return {"unsupported": "0x%08x" % code, "reason": repr(e)}
    try:
        pdu = smpp.parse_pdu(data, sequence=1, allow_unknown_opt_params=True)
    except Exception as e:  # smpplib raises plain exceptions for what it does not know
        if isinstance(e, KeyError) or "not supported" in str(e):
            return {"unsupported": name, "reason": repr(e)}
        raise
    fields = {}
    for field in pdu.params:
        v = getattr(pdu, field, None)
        if v is not None:
            fields[field] = value(v)
    return {
        "command": pdu.command,
        "sequence": pdu.sequence,
        "status": pdu.status,
        "length": pdu.length,
        "fields": fields,
    }


for line in sys.stdin:
    line = line.strip()
    if line:
        print(json.dumps(decode(binascii.unhexlify(line))), flush=True)
