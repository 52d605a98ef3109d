"""The portal in a real headless Chromium (Debian's, driven by Playwright): a customer user
with two enterprise IDs signs in to its default, switches, and sees only its own
maintenance; screenshots of the main pages at desktop and phone width go to
docs/screenshots/."""

from __future__ import annotations

from support.browser import needs_chromium, shoot
from support.feeds import GCR
from support.portal import ACCOUNT, ENTERPRISE, PASSWORD, customer_user, portal_server

INITECH_ONLY = {
    "number": "GCR-3001",
    "title": "Houston access router swap",
    "description": "Router swap.",
    "windows": [{"start": "2026-12-04T07:00Z", "end": "2026-12-04T09:00Z"}],
    "impacts": [{"service": "INIT-ETH-9", "impact": "OUTAGE"}],
}

pytestmark = needs_chromium


def test_a_user_with_two_enterprise_ids_signs_in_switches_and_sees_only_its_own(desk, db, clock, settings, browser):
    desk.publish(GCR)
    desk.publish(INITECH_ONLY)
    customer_user(db, clock, "ops@acme.example", [("ENT-100", ENTERPRISE), ("ACC-3003", ACCOUNT)], default="ENT-100")
    with portal_server(settings, clock) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/signin")
        shoot(page, "signin")
        page.fill("#email", "ops@acme.example")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/portal/ENT-100/")
        text = page.inner_text("main")
        assert "GCR-1001" in text and "GCR-3001" not in text and "Globex" not in text
        shoot(page, "portal-list")
        page.click("text=GCR-1001")
        page.wait_for_url(f"{url}/portal/ENT-100/gcrs/GCR-1001")
        text = page.inner_text("main")
        assert "ACME-ETH-1" in text and "GLBX-WAVE-1" not in text
        shoot(page, "portal-gcr")
        page.select_option("#to", "ACC-3003")
        page.click("text=Switch")
        page.wait_for_url(f"{url}/portal/ACC-3003/")
        text = page.inner_text("main")
        assert "GCR-3001" in text and "GCR-1001" not in text
        page.goto(f"{url}/portal/ENT-100/subscribe")
        shoot(page, "portal-subscribe")
        refused = page.request.post(f"{url}/portal/default", form={"root": "ACC-3003"})  # no CSRF token
        assert refused.status == 403
        assert page.request.get(f"{url}/portal/ACC-2002/").status == 404  # Globex's account
