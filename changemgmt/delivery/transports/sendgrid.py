"""SendGrid v3 Mail Send through its public API: one request per customer notice,
kept-alive connections shared by the worker's send threads (transports.keepalive), a
timeout on every call, and errors sorted by what retrying can do (SPEC §6, STANDARDS
C17-C30).

A request is never sent twice here: nothing retries on its own, and a pooled connection
is checked still open before it is written to (a connection the server closed while idle
is replaced before anything is sent). So what happens to each request is known to the
worker, which alone decides to try again:

- no connection (refused, DNS, connect timeout): nothing was sent; an outage;
- sent, then no answer (read timeout, connection dropped): `unknown`, the provider may
  have it (SendGrid has no idempotency key, STANDARDS C22);
- 2xx: taken; 429: wait for its reset; 5xx: an outage; other 4xx: permanent, unless the
  error names recipients (`personalizations.N.to.0.email`): those fail alone.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from http import HTTPStatus

import orjson

from changemgmt.delivery.mail import Mail
from changemgmt.delivery.message import OutgoingMessage, sendgrid_body
from changemgmt.delivery.transports.base import SendError, SendResult
from changemgmt.delivery.transports.keepalive import Answer, KeptAlive, NoAnswer, Unreachable

DEFAULT_TIMEOUT = 10.0
MAIL_SEND = "/v3/mail/send"
# Idle connections kept: a worker's send threads share them (SEND_CONCURRENCY, 32 by default).
MAX_CONNECTIONS = 32
_RECIPIENT_FIELD = re.compile(r"personalizations\.(\d+)\.(?:to|cc|bcc)(?:\.\d+)?(?:\.email)?$")


class SendGridTransport:
    name = "sendgrid"

    def __init__(
        self, api_key: str, host: str, *, timeout: float = DEFAULT_TIMEOUT, clock: Callable[[], float] = time.time
    ) -> None:
        self.timeout = timeout
        self._clock = clock
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._connections = KeptAlive(host, timeout=timeout, keep=MAX_CONNECTIONS)

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            body = sendgrid_body(message)
        except ValueError as exc:
            raise SendError(str(exc), permanent=True) from exc
        response = self._post(body)
        if 200 <= response.status < 300:
            return SendResult(provider_message_id=response.headers.get("X-Message-Id"))
        raise http_error(response, message, self._clock())

    def send_mail(self, mail: Mail) -> SendResult:
        response = self._post(mail.sendgrid_body())
        if 200 <= response.status < 300:
            return SendResult(provider_message_id=response.headers.get("X-Message-Id"))
        raise http_error(response, None, self._clock())

    def _post(self, body: dict) -> Answer:
        try:
            return self._connections.post(MAIL_SEND, _json(body), self._headers)
        except Unreachable as exc:
            raise SendError(f"SendGrid unreachable: {exc}", permanent=False, outage=True) from exc
        except NoAnswer as exc:
            raise SendError(
                f"no answer from SendGrid after the request was sent ({exc}): it may have been taken",
                permanent=False,
                unknown=True,
                outage=True,
            ) from exc

    def close(self) -> None:
        self._connections.close()


def _json(body: dict) -> bytes:
    """The request body as UTF-8 JSON; a string orjson cannot encode (a lone surrogate)
    is escaped as the standard library does."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        return json.dumps(body).encode("utf-8")


def http_error(response: Answer, message: OutgoingMessage | None, now: float) -> SendError:
    """429 and 5xx are outages worth waiting out (429 until its reset); a 4xx naming some
    of a notice's recipients refuses those alone; any other 4xx is permanent (None: a
    transactional mail, its one recipient is the whole of it)."""
    status = response.status
    errors = _errors(response)
    detail = f"SendGrid answered {status}: " + ("; ".join(f"{f or '-'}: {m}" for f, m in errors) or _reason(response))
    if status == 429:
        return SendError(detail, permanent=False, status=status, retry_after=_retry_after(response, now), outage=True)
    if status >= 500:
        return SendError(detail, permanent=False, status=status, outage=True)
    refused = _refused(errors, message) if message is not None else {}
    if message is not None and refused and len(refused) < len(message.recipients) and len(refused) == len(errors):
        # The request was refused for these recipients' sake only: the others may go at once.
        return SendError(detail, permanent=False, status=status, refused=refused, retry_after=0.0)
    return SendError(detail, permanent=True, status=status, refused=refused)


def _reason(response: Answer) -> str:
    try:
        return response.reason or HTTPStatus(response.status).phrase
    except ValueError:
        return ""


def _refused(errors: list[tuple[str | None, str]], message: OutgoingMessage) -> dict[int, str]:
    """Contact id -> SendGrid's reason, for each error that names a recipient's field."""
    refused: dict[int, str] = {}
    for field, said in errors:
        match = _RECIPIENT_FIELD.match(field or "")
        if match and int(match.group(1)) < len(message.recipients):
            recipient = message.recipients[int(match.group(1))]
            refused[recipient.contact_id] = f"SendGrid refused {recipient.email.strip()}: {said}"
    return refused


def _retry_after(response: Answer, now: float) -> float | None:
    reset = response.headers.get("X-RateLimit-Reset")
    try:
        return max(0.0, float(reset) - now) if reset else None
    except ValueError:
        return None


def _errors(response: Answer) -> list[tuple[str | None, str]]:
    """The (field, message) pairs of SendGrid's error body (never the request itself)."""
    try:
        errors = json.loads(response.body).get("errors", [])
        return [(e.get("field"), str(e.get("message"))) for e in errors if isinstance(e, dict)]
    except (ValueError, AttributeError, TypeError):
        return []
