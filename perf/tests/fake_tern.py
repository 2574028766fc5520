#!/usr/bin/env python3
"""A stand-in `tern` for the runner's own tests: `run` is a plain TCP relay from
--smpp-listen to the --connector's address; every other subcommand is handed to the real
binary in $REAL_TERN (when set). It proves the runner's gateway path (start, readiness,
sampling, pairing with the direct run, stop), not the gateway."""

import asyncio
import os
import re
import sys

HELP = """Usage: tern run [OPTIONS]
      --config <FILE>  --data-dir <DIR>  --smpp-listen <ADDR>  --http-listen <ADDR>
      --shards <N>  --user <NAME:PASSWORD>  --connector <NAME=smpp://...>
"""


def arg(argv, name):
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
    raise SystemExit(f"fake tern: {name} missing")


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def relay(listen, upstream):
    async def serve(c_reader, c_writer):
        u_reader, u_writer = await asyncio.open_connection(*upstream)
        await asyncio.gather(pipe(c_reader, u_writer), pipe(u_reader, c_writer))

    host, port = listen.rsplit(":", 1)
    server = await asyncio.start_server(serve, host, int(port))
    async with server:
        await server.serve_forever()


def main(argv):
    if argv[:1] != ["run"]:
        real = os.environ.get("REAL_TERN")
        if not real:
            raise SystemExit(2)
        os.execv(real, [real, *argv])
    if "--help" in argv:
        print(HELP)
        return
    m = re.search(r"@([^/?]+):(\d+)", arg(argv, "--connector"))
    asyncio.run(relay(arg(argv, "--smpp-listen"), (m.group(1), int(m.group(2)))))


if __name__ == "__main__":
    main(sys.argv[1:])
