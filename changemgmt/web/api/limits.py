"""Request bodies are read whole before the API sees them, up to a limit by path: a larger
one (by its Content-Length, or as it arrives when it has none) is answered 413 without
reading further. The limits: a GCR body as large as a GCR file (16 MB, about 100,000
services), an inventory import up to MAX_IMPORT_BYTES."""

from __future__ import annotations

from changemgmt.gcrs.documents import MAX_FILE_BYTES
from changemgmt.web.api.problems import problem

MAX_BODY_BYTES = MAX_FILE_BYTES
MAX_IMPORT_BYTES = 256 * 1024 * 1024
IMPORT_PATH = "/api/v1/inventory/import"


class BodyLimit:
    """ASGI middleware: the app gets the whole body at once, if it is within the limit."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = MAX_IMPORT_BYTES if scope["path"] == IMPORT_PATH else MAX_BODY_BYTES
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(scope, receive, send, limit)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return whole
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(scope, receive, send, limit: int) -> None:
    response = problem(413, [("body", f"is larger than {limit // (1024 * 1024)} MB")], headers={"connection": "close"})
    await response(scope, receive, send)
