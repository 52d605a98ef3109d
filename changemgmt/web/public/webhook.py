"""`POST /webhooks/sendgrid`: SendGrid's signed Event Webhook (SPEC §6, STANDARDS C31-C41,
E22, F15). The raw body, capped, is verified against the configured public keys before it
is parsed; a request signed too long ago, or taken before (a replay), is refused; the
events are stored once each and applied in the transaction that records the request.

Answers: 200 with counts by outcome; 400 a body that is not a JSON array; 401 unsigned;
403 a bad signature or timestamp; 409 a replay; 413 a body over the cap; 503 no key set.
SendGrid retries anything but 2xx for 24 hours."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from changemgmt.config import Settings
from changemgmt.delivery.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier, WebhookRefused, signed_at
from changemgmt.delivery.webhook import apply_sendgrid_events, take_receipt
from changemgmt.store.db import transaction
from changemgmt.web.public.bodies import BodyTooLarge, read_body
from changemgmt.web.public.problems import problem

log = logging.getLogger(__name__)

# SendGrid posts batches of up to 768 KB (STANDARDS C32); anything much larger is not theirs.
MAX_BODY = 4 * 1024 * 1024


class _Replay(Exception):
    pass


def webhook_router(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
    max_body: int = MAX_BODY,
) -> APIRouter:
    router = APIRouter(tags=["webhooks"])
    verifier = Verifier(settings.sendgrid_webhook_public_keys)
    max_age = settings.sendgrid_webhook_max_age

    def take(body: list, signature: str, moment: datetime) -> dict[str, int]:
        now = clock()
        with transaction(sessions) as session:
            if not take_receipt(session, signature, moment, now, keep=max_age):
                raise _Replay()
            return dict(apply_sendgrid_events(session, body, now))

    @router.post(
        "/webhooks/sendgrid",
        summary="SendGrid's signed Event Webhook",
        description="No API key: the request must carry SendGrid's ECDSA signature over its timestamp and "
        "body, made with a key configured in SENDGRID_WEBHOOK_PUBLIC_KEYS.",
        responses={
            400: {"description": "not a JSON array"},
            401: {"description": "unsigned"},
            403: {"description": "bad signature or timestamp"},
            409: {"description": "a replay"},
            413: {"description": "too large"},
            503: {"description": "no public key configured"},
        },
    )
    async def sendgrid_events(request: Request) -> Response:
        try:
            raw = await read_body(request, max_body)
        except BodyTooLarge:
            return problem(413, "body", f"is larger than {max_body} bytes")
        signature = request.headers.get(SIGNATURE_HEADER)
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        try:
            verifier.verify(raw, signature, timestamp)
            assert signature is not None and timestamp is not None  # verify refused a request without them
            moment = signed_at(timestamp, clock(), max_age)
        except WebhookRefused as refused:
            log.warning("webhook refused: %s %s", refused.status, refused)
            return problem(refused.status, refused.field, refused.message)
        try:
            events = json.loads(raw)
        except (ValueError, RecursionError):
            return problem(400, "body", "is not JSON")
        if not isinstance(events, list):
            return problem(400, "body", "is not a JSON array of events")
        try:
            counts = await run_in_threadpool(take, events, signature, moment)
        except _Replay:
            log.warning("webhook refused: a replay of a request signed at %s", moment.isoformat())
            return problem(409, SIGNATURE_HEADER, "this signed request was taken before (a replay)")
        log.info("webhook: %d event(s) taken: %s", len(events), counts)
        return JSONResponse({"events": len(events), "outcomes": counts})

    return router
