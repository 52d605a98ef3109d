"""Sessions in a signed cookie (changemgmt.signing, SECRET_KEY): the user's id and session
epoch, a CSRF token and the time of issue. Nothing secret is in it, and nothing is kept
on the server, so any web process reads any session; bumping the user's epoch (a new
password, disabling) ends its sessions everywhere. The cookie is HttpOnly, SameSite=Lax,
and Secure when BASE_URL is https."""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from changemgmt.config import Settings
from changemgmt.signing import sign, unsign

COOKIE = "cm_session"
PURPOSE = "session"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class WebSession:
    user_id: int | None
    epoch: int
    csrf: str
    issued: int  # Unix seconds
    fresh: bool = False  # made for this request: its cookie must be set on the response

    def csrf_matches(self, token: object) -> bool:
        return isinstance(token, str) and hmac.compare_digest(token.encode(), self.csrf.encode())


def anonymous(now: datetime) -> WebSession:
    return WebSession(None, 0, secrets.token_urlsafe(24), int(now.timestamp()), fresh=True)


def signed_in(user_id: int, epoch: int, now: datetime) -> WebSession:
    """A new session (and a new CSRF token: none from before sign-in carries over)."""
    return WebSession(user_id, epoch, secrets.token_urlsafe(24), int(now.timestamp()), fresh=True)


def encode(settings: Settings, session: WebSession) -> str:
    payload = json.dumps([session.user_id, session.epoch, session.csrf, session.issued], separators=(",", ":"))
    return sign(settings, PURPOSE, base64.urlsafe_b64encode(payload.encode()).decode().rstrip("="))


def decode(settings: Settings, cookie: str | None, now: datetime) -> WebSession | None:
    """The session a cookie holds, or None for a missing, forged, malformed or expired one."""
    value = unsign(settings, PURPOSE, cookie) if cookie else None
    if value is None:
        return None
    try:
        user_id, epoch, csrf, issued = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(issued, int) or now.timestamp() - issued > LIFETIME.total_seconds():
        return None
    return WebSession(user_id, epoch, csrf, issued)


def cookie_options(settings: Settings) -> dict:
    return {
        "key": COOKIE,
        "max_age": int(LIFETIME.total_seconds()),
        "path": "/",
        "secure": settings.base_url.startswith("https://"),
        "httponly": True,
        "samesite": "lax",
    }
