"""A loopback SendGrid for benchmarks, run as its own process so its CPU is not the
worker's: POST /v3/mail/send answers 202 with an X-Message-Id, counting requests and
personalizations; GET /stats returns the counts and this process's CPU seconds. With
`--record`, it also keeps when it accepted each personalization, by the `notice_id` and
`contact_id` of its custom_args: GET /accepted returns [[notice_id, contact_id, unix time], ...].

    python bench/support/fake_sendgrid.py [--cpu N]     prints "port <n>" once listening

asyncio and a minimal HTTP/1.1 parser (keep-alive when the client wants it), so it
answers in far less CPU than the worker spends per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

RESPONSE = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nX-Message-Id: bench-%d\r\nConnection: %s\r\n\r\n"


class Counts:
    def __init__(self, record: bool = False) -> None:
        self.record = record
        self.accepted: list[tuple[int, int, float]] = []
        self.requests = 0
        self.personalizations = 0
        self.bytes = 0
        self.bad = 0

    def as_json(self) -> bytes:
        cpu = os.times()
        return json.dumps(
            {
                "requests": self.requests,
                "personalizations": self.personalizations,
                "bytes": self.bytes,
                "bad": self.bad,
                "cpu_seconds": cpu.user + cpu.system,
                "clock": time.monotonic(),
            }
        ).encode()


def _headers(head: bytes) -> tuple[bytes, bytes, dict[bytes, bytes]]:
    lines = head.split(b"\r\n")
    method, path, _ = lines[0].split(b" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return method, path, headers


def _mail(counts: Counts, body: bytes) -> int:
    try:
        sent = json.loads(body)["personalizations"]
        personalizations = len(sent)
        if counts.record:
            now = time.time()
            ids = [p["custom_args"] for p in sent]
            counts.accepted += [(int(i["notice_id"]), int(i["contact_id"]), now) for i in ids]
    except (ValueError, KeyError, TypeError):
        counts.bad += 1
        return 400
    counts.requests += 1
    counts.personalizations += personalizations
    counts.bytes += len(body)
    return 202


async def _serve(counts: Counts, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            method, path, headers = _headers((await reader.readuntil(b"\r\n\r\n"))[:-4])
            body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
            close = headers.get(b"connection", b"").lower() == b"close"
            keep = b"close" if close else b"keep-alive"
            if method == b"POST" and path == b"/v3/mail/send" and _mail(counts, body) == 202:
                writer.write(RESPONSE % (counts.requests, keep))
            elif method == b"GET" and path in (b"/stats", b"/accepted"):
                stats = counts.as_json() if path == b"/stats" else json.dumps(counts.accepted).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                    b"Connection: %s\r\n\r\n%s" % (len(stats), keep, stats)
                )
            else:
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: %s\r\n\r\n" % keep)
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main(port: int, record: bool = False) -> None:
    counts = Counts(record)
    server = await asyncio.start_server(lambda r, w: _serve(counts, r, w), "127.0.0.1", port, backlog=512)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, help="Pin this process to this core.")
    parser.add_argument("--record", action="store_true", help="Keep when each personalization was accepted.")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        asyncio.run(main(args.port, args.record))
    except KeyboardInterrupt:
        sys.exit(0)
