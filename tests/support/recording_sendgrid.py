"""A loopback SendGrid that records every personalization it accepts, as a process of its
own (so killing or restarting anything else in a test leaves its record whole):

    python tests/support/recording_sendgrid.py --record FILE [--delay S] [--hang-after N]

prints "port <n>" once listening. POST /v3/mail/send answers 202 with an X-Message-Id
after `--delay` seconds (a provider's latency: sends are in flight long enough to be
killed mid-way); from the (N+1)th request on, with `--hang-after N`, it never answers.
Each accepted personalization is appended to FILE, flushed before the answer, as one
line: `<delivery_id> <email>` (from its custom_args and first recipient).
`Recording(path).accepted()` counts them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ANSWER = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nX-Message-Id: rec-%d\r\n\r\n"
BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"


class Server:
    def __init__(self, record: Path, delay: float, hang_after: int | None) -> None:
        self.out = open(record, "a", encoding="utf-8")  # noqa: SIM115 - open while serving
        self.delay, self.hang_after = delay, hang_after
        self.requests = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                length = next((int(h.split(":", 1)[1]) for h in head if h.lower().startswith("content-length:")), 0)
                body = await reader.readexactly(length)
                self.requests += 1
                if self.hang_after is not None and self.requests > self.hang_after:
                    await asyncio.sleep(3600)
                await asyncio.sleep(self.delay)
                writer.write(self.accept(body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def accept(self, body: bytes) -> bytes:
        try:
            lines = [
                f"{p['custom_args']['delivery_id']} {p['to'][0]['email']}\n"
                for p in json.loads(body)["personalizations"]
            ]
        except (ValueError, KeyError, TypeError, IndexError):
            return BAD
        self.out.write("".join(lines))
        self.out.flush()
        return ANSWER % self.requests


async def main(port: int, server: Server) -> None:
    listening = await asyncio.start_server(server.serve, "127.0.0.1", port, backlog=512)
    print(f"port {listening.sockets[0].getsockname()[1]}", flush=True)
    async with listening:
        await listening.serve_forever()


class Recording:
    """The server as a process of the test, and what it accepted."""

    def __init__(self, record: Path, delay: float = 0.0, hang_after: int | None = None) -> None:
        self.record = record
        record.touch()
        command = [sys.executable, __file__, "--record", str(record), "--delay", str(delay)]
        if hang_after is not None:
            command += ["--hang-after", str(hang_after)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{self.process.stdout.readline().split()[1]}"

    def accepted(self) -> Counter:
        """{(delivery id, address): times accepted}."""
        counts: Counter = Counter()
        for line in self.record.read_text(encoding="utf-8").splitlines():
            delivery, address = line.split(" ", 1)
            counts[(int(delivery), address)] += 1
        return counts

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--record", type=Path, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--hang-after", type=int)
    args = parser.parse_args()
    try:
        asyncio.run(main(args.port, Server(args.record, args.delay, args.hang_after)))
    except KeyboardInterrupt:
        sys.exit(0)
