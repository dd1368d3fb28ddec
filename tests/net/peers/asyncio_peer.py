#!/usr/bin/env python3
"""The other end of qaio's interop tests: plain CPython asyncio (Debian's python3), written
without any knowledge of qaio.

Each connection moves SIZE bytes both ways at once: this side sends random bytes, reads until
EOF, then prints one line "recv <sha256 of what it read> sent <sha256 of what it sent>".

  asyncio_peer.py server SIZE         streams server on 127.0.0.1; prints "port N" first;
                                      serves one connection, then exits
  asyncio_peer.py client PORT SIZE    streams client to 127.0.0.1:PORT
"""
import asyncio
import hashlib
import os
import sys

CHUNK = 256 * 1024


async def exchange(reader, writer, size):
    sent = hashlib.sha256()
    recv = hashlib.sha256()

    async def send():
        left = size
        while left:
            n = min(CHUNK, left)
            data = os.urandom(n)
            sent.update(data)
            writer.write(data)
            await writer.drain()
            left -= n
        writer.write_eof()

    async def receive():
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            recv.update(data)

    await asyncio.gather(send(), receive())
    writer.close()
    await writer.wait_closed()
    print(f"recv {recv.hexdigest()} sent {sent.hexdigest()}", flush=True)


async def server(size):
    done = asyncio.get_running_loop().create_future()

    async def on_client(reader, writer):
        try:
            await exchange(reader, writer, size)
        finally:
            if not done.done():
                done.set_result(None)

    srv = await asyncio.start_server(on_client, "127.0.0.1", 0)
    print(f"port {srv.sockets[0].getsockname()[1]}", flush=True)
    async with srv:
        await done


async def client(port, size):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await exchange(reader, writer, size)


def main():
    mode = sys.argv[1]
    if mode == "server":
        asyncio.run(server(int(sys.argv[2])))
    else:
        asyncio.run(client(int(sys.argv[2]), int(sys.argv[3])))


if __name__ == "__main__":
    main()
