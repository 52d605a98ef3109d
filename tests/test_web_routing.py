"""`changemgmt web`'s one application: the feeds and operations paths, the API, the links
of the emails (unsubscribe, preferences) and SendGrid's webhook, and the portal, each
answered by its own part."""

from __future__ import annotations

import httpx

from changemgmt.web.server import _app
from support.asgi_server import serving


def test_each_path_reaches_its_part(settings, db):
    with serving(_app(settings, None)) as url, httpx.Client(base_url=url, timeout=30) as http:
        api = http.get("/api/v1/gcrs")
        unsubscribe = http.get("/unsubscribe/not-a-signed-token")
        preferences = http.get("/preferences/not-a-signed-token")
        webhook = http.post("/webhooks/sendgrid", content=b"[]", headers={"Content-Type": "application/json"})
        portal = http.get("/", follow_redirects=True)
        health = http.get("/healthz")
    assert api.status_code == 401 and api.headers["content-type"] == "application/problem+json"
    assert health.status_code == 200
    for page in (unsubscribe, preferences):  # the email links' pages, not the portal's 404
        assert page.status_code in (400, 404) and "<title>Link not valid" in page.text
    assert webhook.status_code == 503 and webhook.json()["field"] == "SENDGRID_WEBHOOK_PUBLIC_KEYS"
    assert portal.status_code == 200 and "<title>Sign in" in portal.text
