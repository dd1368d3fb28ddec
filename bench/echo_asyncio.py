#!/usr/bin/env python3
"""bench/echo_asyncio.py: W4's echo server on CPython asyncio or uvloop, protocol or streams API.

usage: echo_asyncio.py <asyncio|uvloop> <protocol|streams> <port>
"""
import asyncio
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def main(api, port):
    loop = asyncio.get_running_loop()
    if api == "protocol":
        server = await loop.create_server(Echo, "127.0.0.1", port, backlog=4096)
    else:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print(f"READY {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    system, api, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if system == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(api, port))
