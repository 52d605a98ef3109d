"""The public routes (webhook, unsubscribe, preferences) served as they are in production:
create_app with a FastAPI app of them as its `fallback`, under a real uvicorn on loopback;
and SendGrid's side of the signed webhook, with a test key pair."""

from __future__ import annotations

import base64
import json
from contextlib import contextmanager

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from changemgmt.config import load_settings
from changemgmt.web.app import create_app
from changemgmt.web.public import public_app
from support.asgi_server import serving

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


class SigningKey:
    """An ECDSA P-256 key pair as SendGrid holds one: it signs timestamp + body; its public
    half is shown (and configured) as base64 DER."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public = base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int) -> dict[str, str]:
        signature = self.private.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            SIGNATURE: base64.b64encode(signature).decode(),
            TIMESTAMP: str(timestamp),
        }


def body_of(events: list[dict]) -> bytes:
    return json.dumps(events).encode()


@contextmanager
def public_server(env: dict[str, str], db, clock, **options):
    """Yields (URL, settings with BASE_URL at that URL): the feeds, health routes and public
    routes served at the clock's time."""
    settings = load_settings(env)
    app = create_app(settings, fallback=public_app(settings, db, clock, **options), clock=clock)
    with serving(app) as url:
        yield url, load_settings({**env, "BASE_URL": url})


def client(url: str) -> httpx.Client:
    """A client that sends no cookie and follows no redirect, as a mailbox provider's
    one-click unsubscribe (RFC 8058 §3.2)."""
    return httpx.Client(base_url=url, follow_redirects=False, timeout=10)
