"""SendGrid v3 Mail Send through the `sendgrid` client: one request per customer notice,
a timeout on every call, and errors sorted into retryable and permanent (SPEC §6)."""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from email.message import Message
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from changemgmt.delivery.message import OutgoingMessage, sendgrid_body
from changemgmt.delivery.transports.base import SendError, SendResult
from changemgmt.delivery.transports.keepalive import PooledClient

DEFAULT_TIMEOUT = 10.0


class SendGridTransport:
    name = "sendgrid"

    def __init__(
        self, api_key: str, host: str, *, timeout: float = DEFAULT_TIMEOUT, clock: Callable[[], float] = time.time
    ) -> None:
        self.timeout = timeout
        self._clock = clock
        self._client = SendGridAPIClient(api_key, host=host)
        plain = self._client.client
        self._client.client = PooledClient(host=plain.host, request_headers=plain.request_headers, version=3)
        self._mail_send = self._client.client.mail.send  # each attribute step builds a client: once, not per send

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            body = sendgrid_body(message)
        except ValueError as exc:
            raise SendError(str(exc), permanent=True) from exc
        try:
            response = self._mail_send.post(request_body=body, timeout=self.timeout)
        except HTTPError as exc:
            raise http_error(exc, self._clock()) from None
        except (URLError, OSError, http.client.HTTPException) as exc:
            # Connection refused or reset, DNS, timeouts: SendGrid may or may not have
            # the request (no idempotency key), so the caller reconciles before resending.
            raise SendError(f"SendGrid unreachable: {exc}", permanent=False) from exc
        return SendResult(provider_message_id=_header(response.headers, "X-Message-Id"))


def http_error(exc: HTTPError, now: float) -> SendError:
    """429 and 5xx are worth retrying (429 after its reset time); other 4xx never."""
    status = int(exc.status_code)
    detail = f"SendGrid answered {status}: {_errors(exc)}"
    if status == 429:
        return SendError(detail, permanent=False, status=status, retry_after=_retry_after(exc, now))
    return SendError(detail, permanent=status < 500, status=status)


def _retry_after(exc: HTTPError, now: float) -> float | None:
    reset = _header(exc.headers, "X-RateLimit-Reset")
    try:
        return max(0.0, float(reset) - now) if reset else None
    except ValueError:
        return None


def _header(headers: Message | None, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)  # HTTPMessage: case-insensitive
    return str(value) if value is not None else None


def _errors(exc: HTTPError) -> str:
    """The `field: message` pairs of SendGrid's error body (never the request itself)."""
    try:
        errors = exc.to_dict.get("errors", [])
        return "; ".join(f"{e.get('field') or '-'}: {e.get('message')}" for e in errors) or str(exc.reason)
    except (ValueError, AttributeError, TypeError):
        return str(exc.reason)
