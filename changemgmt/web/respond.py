"""Small whole responses for the operations paths (/healthz, /readyz, /metrics): never
cached by anyone, HEAD answered with the headers alone, any method but GET and HEAD 405."""

from __future__ import annotations

from collections.abc import Sequence

NO_STORE = (b"cache-control", b"no-store")
TEXT = b"text/plain; charset=utf-8"


def allowed(scope) -> bool:
    return scope["method"] in ("GET", "HEAD")


async def respond(
    scope, send, status: int, body: bytes, content_type: bytes = TEXT, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), NO_STORE, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def not_allowed(scope, send) -> None:
    await respond(scope, send, 405, b"Method Not Allowed\n", extra=[(b"allow", b"GET, HEAD")])
