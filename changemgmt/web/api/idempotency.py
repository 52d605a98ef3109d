"""`Idempotency-Key` on POSTs: the first request with a key does the work and its response
is kept, in the same transaction as the work; the same request sent again with the key
gets that response (marked `Idempotent-Replayed: true`) and does nothing. A key is the
caller's own (another API key may use the same one), and reusing it for a different
request is refused (422). Requests with one key take turns: on PostgreSQL under a
transaction-scoped advisory lock on the key, on SQLite under the write lock every
transaction takes at its start."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from fastapi import Header, Request, Response
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError
from changemgmt.domain.text import one_line
from changemgmt.store.db import is_postgres, transaction
from changemgmt.store.models import IdempotentRequest
from changemgmt.web.api.context import Caller

HEADER = "Idempotency-Key"
KEY_MAX = 200
KEPT_HEADERS = ("etag", "location", "content-type")
# A POST route's parameter, so that /openapi.json shows the header.
KEY_HEADER = Header(
    None, alias=HEADER, max_length=KEY_MAX, description="Sent again with the same request, it is done once."
)


def fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(body)
    return digest.hexdigest()


def idempotent(request: Request, caller: Caller, body: bytes, work: Callable[[Session], Response]) -> Response:
    """`work(session)`'s response, done in one transaction, or the response it gave before
    to this request with this Idempotency-Key. Only successful responses are kept: a
    refused request may be sent again, fixed, with its key."""
    raw = request.headers.get(HEADER)
    with transaction(caller.api.sessions) as session:
        if raw is None:
            return work(session)
        key = one_line(raw, HEADER, KEY_MAX, required=True)
        _take_turn(session, caller.key_id, key)
        printed = fingerprint(request, body)
        done = _done(session, caller.key_id, key)
        if done is not None:
            return _replay_checked(done, printed)
        response = work(session)
        if response.status_code < 300:
            session.add(_kept(caller, key, printed, response))
        return response


def idempotent_outside(request: Request, caller: Caller, body: bytes, work: Callable[[], Response]) -> Response:
    """As idempotent(), for work that makes its own transactions (a feed's rotation writes
    the feed after its commit): the key is looked up before the work and its response kept
    after it. Two requests with one key sent at the very same moment may both do it."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return work()
    key = one_line(raw, HEADER, KEY_MAX, required=True)
    printed = fingerprint(request, body)
    with caller.api.sessions() as session:
        done = _done(session, caller.key_id, key)
        if done is not None:
            return _replay_checked(done, printed)
    response = work()
    if response.status_code < 300:
        try:
            with transaction(caller.api.sessions) as session:
                session.add(_kept(caller, key, printed, response))
        except IntegrityError:
            pass  # the same request, made at the same moment, kept its own answer
    return response


def _done(session: Session, key_id: int, key: str) -> IdempotentRequest | None:
    return session.scalar(
        select(IdempotentRequest).where(IdempotentRequest.api_key_id == key_id, IdempotentRequest.key == key)
    )


def _replay_checked(done: IdempotentRequest, printed: str) -> Response:
    if done.fingerprint != printed:
        raise DomainError(HEADER, "this key was used for a different request; use a new key for a new request")
    return _replayed(done)


def _kept(caller: Caller, key: str, printed: str, response: Response) -> IdempotentRequest:
    return IdempotentRequest(
        api_key_id=caller.key_id,
        key=key,
        fingerprint=printed,
        status=response.status_code,
        headers={k: v for k, v in response.headers.items() if k in KEPT_HEADERS},
        body=bytes(response.body),
        created_at=caller.api.clock(),
    )


def _take_turn(session: Session, key_id: int, key: str) -> None:
    if is_postgres(session.get_bind()):
        lock = int.from_bytes(
            hashlib.sha256(f"{key_id}:{key}".encode("utf-8", "surrogatepass")).digest()[:8], "big", signed=True
        )
        session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})


def _replayed(done: IdempotentRequest) -> Response:
    headers = dict(done.headers)
    media_type = headers.pop("content-type", "application/json")
    return Response(
        done.body, status_code=done.status, headers={**headers, "idempotent-replayed": "true"}, media_type=media_type
    )
