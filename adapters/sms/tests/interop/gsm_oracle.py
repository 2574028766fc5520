#!/usr/bin/env python3
"""Independent GSM 03.38 / SMPP oracle for tests/interop.rs.

Reads one request per line on stdin and writes one answer per line on stdout:

    enc <codec> <hex of UTF-8 text>     -> ok <hex of septets>      | err
    dec <codec> <hex of septets>        -> ok <hex of UTF-8 text>   | err
    parts <data_coding> <hex of UTF-8>  -> ok <parts> <data_coding> | err

<codec> is a gsmcodecs codec name, gsm23.038_<locking id>_<single shift id>.
`parts` asks smpplib.gsm.make_parts how many parts it would send and in which
data_coding (it falls back to UCS-2 when the text does not fit the alphabet).
"""
import codecs
import sys

import gsmcodecs  # noqa: F401  (registers the gsm23.038 codecs)
from smpplib import gsm


def answer(line):
    op, arg, data = line.split(" ", 2)
    raw = bytes.fromhex(data)
    try:
        if op == "enc":
            return "ok " + codecs.encode(raw.decode("utf-8"), arg).hex()
        if op == "dec":
            return "ok " + codecs.decode(raw, arg).encode("utf-8").hex()
        if op == "parts":
            parts, coding, _ = gsm.make_parts(raw.decode("utf-8"), encoding=int(arg))
            return "ok %d %d" % (len(parts), coding)
    except (UnicodeError, ValueError, LookupError):
        return "err"
    return "err"


def main():
    out = sys.stdout
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line:
            out.write(answer(line) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
