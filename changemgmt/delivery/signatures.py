"""Verifying SendGrid's signed Event Webhook (STANDARDS C37-C41, F15): ECDSA (P-256,
SHA-256) over the timestamp header followed by the raw body, checked with the `sendgrid`
package's own helper against each configured public key (several, for rotation).

`verify` raises WebhookRefused, with the HTTP status to answer and why; it never lets a
malformed header become a 500 (the helper raises binascii.Error on bad base64, C39)."""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

SIGNATURE_HEADER = EventWebhookHeader.SIGNATURE
TIMESTAMP_HEADER = EventWebhookHeader.TIMESTAMP
MAX_SIGNATURE_CHARS = 512  # a base64 DER ECDSA P-256 signature is under 100


class WebhookRefused(Exception):
    """A webhook request we do not take: `status` to answer, `field` at fault."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.status, self.field, self.message = status, field, message


class Verifier:
    """The configured public keys, loaded once (a key that does not load is a ConfigError-
    like ValueError at start, naming the setting)."""

    def __init__(self, public_keys: Sequence[str]) -> None:
        self.helper = EventWebhook()
        self.keys = []
        for number, key in enumerate(public_keys, start=1):
            try:
                loaded = self.helper.convert_public_key_to_ecdsa(key.strip())
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"SENDGRID_WEBHOOK_PUBLIC_KEYS: key {number} is not a base64 public key ({exc})"
                ) from None
            if not hasattr(loaded, "curve"):
                raise ValueError(f"SENDGRID_WEBHOOK_PUBLIC_KEYS: key {number} is not an elliptic-curve key")
            self.keys.append(loaded)

    def verify(self, body: bytes, signature: str | None, timestamp: str | None) -> None:
        """Raises WebhookRefused unless one of the keys signed `timestamp` + `body`."""
        if not self.keys:
            raise WebhookRefused(503, "SENDGRID_WEBHOOK_PUBLIC_KEYS", "no public key is configured; nothing is taken")
        if not signature or not timestamp:
            missing = SIGNATURE_HEADER if not signature else TIMESTAMP_HEADER
            raise WebhookRefused(401, missing, "the request is not signed")
        if len(signature) > MAX_SIGNATURE_CHARS:
            raise WebhookRefused(403, SIGNATURE_HEADER, "is not a signature")
        try:
            payload = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRefused(400, "body", "is not UTF-8") from None
        for key in self.keys:
            try:
                if self.helper.verify_signature(payload, signature, timestamp, public_key=key):
                    return
            except (binascii.Error, ValueError):
                raise WebhookRefused(403, SIGNATURE_HEADER, "is not base64 DER") from None
        raise WebhookRefused(403, SIGNATURE_HEADER, "does not match the body and timestamp under any configured key")


def signed_at(timestamp: str, now: datetime, tolerance: timedelta) -> datetime:
    """The signing time, refused (WebhookRefused) when it is more than `tolerance` away
    from `now`, either way: an old request is a replay we can no longer tell apart."""
    try:
        moment = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookRefused(403, TIMESTAMP_HEADER, "is not a Unix time in seconds") from None
    if abs(now - moment) > tolerance:
        raise WebhookRefused(
            403,
            TIMESTAMP_HEADER,
            f"was signed at {moment:%Y-%m-%dT%H:%M:%SZ}, more than {tolerance.total_seconds():g} s from now",
        )
    return moment
