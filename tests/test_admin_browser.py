"""The change manager's calendar, deliveries, inventory and admin pages, and the portal's
calendar, in a real headless Chromium (Debian's, driven by Playwright): an admin signs in,
reads the month and the week, retries a failed delivery, finds a customer and sets its
account lead, creates an API key; a customer user sees only its own maintenance on its
calendar. Each page is checked with axe-core and shot at desktop and phone width."""

from __future__ import annotations

import pytest

from changemgmt.domain.roles import Role
from changemgmt.domain.status import Status
from support.browser import needs_chromium, shoot
from support.feeds import GCR
from support.portal import ENTERPRISE, PASSWORD, customer_user, portal_server
from support.staff import fail_all_deliveries, staff_user

pytestmark = needs_chromium

OVERNIGHT = {
    "number": "GCR-1002",
    "title": "Core router software upgrade in Houston",
    "description": "Upgrading the core routers.",
    "windows": [{"start": "2026-12-10T04:00Z", "end": "2026-12-10T08:00Z"}],
    "impacts": [{"service": "ACME-ETH-1", "impact": "OUTAGE"}],
}
GLOBEX_ONLY = {
    "number": "GCR-2001",
    "title": "Houston wave upgrade",
    "description": "New line cards.",
    "windows": [
        {"start": "2026-12-03T07:00Z", "end": "2026-12-03T09:00Z"},
        {"start": "2026-12-17T07:00Z", "end": "2026-12-17T09:00Z"},
    ],
    "impacts": [{"service": "GLBX-WAVE-1", "impact": "OUTAGE"}],
}
DRAFT = {
    "number": "GCR-3001",
    "title": "Initech access router swap",
    "description": "Router swap.",
    "windows": [{"start": "2026-12-08T14:00Z", "end": "2026-12-08T16:00Z"}],
    "impacts": [{"service": "INIT-ETH-9", "impact": "OUTAGE"}],
}


@pytest.fixture
def url(desk, db, engine, clock, settings):
    desk.publish(GCR)
    desk.publish(OVERNIGHT)
    desk.publish(GLOBEX_ONLY, Status.TENTATIVE)
    desk.create(DRAFT)
    fail_all_deliveries(engine, settings, clock)
    staff_user(db, clock, "ada@cm.example", Role.ADMIN)
    staff_user(db, clock, "carl@cm.example", Role.CHANGE_MANAGER, time_zone="Europe/London")
    customer_user(db, clock, "ops@acme.example", [("ENT-100", ENTERPRISE)])
    with portal_server(settings, clock) as url:
        yield url


def sign_in(browser, url: str, email: str, home: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/signin")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + home)
    return page


def test_an_admin_reads_the_calendar_retries_a_delivery_sets_a_lead_and_makes_a_key(browser, url):
    page = sign_in(browser, url, "ada@cm.example", "/manage/gcrs")
    page.goto(f"{url}/manage/calendar?view=month&start=2026-12-01")
    month = page.inner_text("main")
    assert "GCR-1001" in month and "GCR-2001" in month and "GCR-3001" in month
    shoot(page, "manage-calendar-month")
    page.click("text=Week")
    page.wait_for_url(f"{url}/manage/calendar?view=week&start=2026-12-01")
    page.click("text=Next")
    page.wait_for_url("**start=2026-12-07")
    assert "from 22:00" in page.inner_text("main")  # GCR-1002 begins on Wed 9 Dec in Chicago
    shoot(page, "manage-calendar-week")

    page.click("nav[aria-label='Change management'] >> text=Deliveries")
    page.wait_for_url(f"{url}/manage/deliveries")
    shoot(page, "manage-deliveries")
    first = page.locator("button[name=one]").first
    number = first.get_attribute("value")
    first.click()
    page.wait_for_url("**retried=*")
    assert f"Put back in the queue: delivery {number}." in page.inner_text("main")

    page.goto(f"{url}/manage/inventory")
    page.fill("#q", "acme")
    page.click("form[role=search] button")
    page.wait_for_url("**q=acme*")
    assert "ACC-2002" not in page.inner_text("main")
    shoot(page, "manage-inventory")
    page.click("text=ACC-1001")
    page.fill("#lead_name", "Dana Lead")
    page.fill("#lead_email", "dana at provider")
    page.eval_on_selector("#lead_email", "e => e.type = 'text'")  # past the browser's own check
    page.click("text=Save account lead")
    page.wait_for_selector("#lead_email-problem")  # the refusal is shown, with what was typed
    assert page.input_value("#lead_email") == "dana at provider"
    page.fill("#lead_email", "dana@provider.example")
    page.click("text=Save account lead")
    page.wait_for_url("**saved=1")
    assert page.input_value("#lead_name") == "Dana Lead"
    shoot(page, "manage-customer")

    page.goto(f"{url}/manage/admin")
    page.fill("#key-name", "ticketing")
    page.select_option("#key-role", "change_manager")
    page.click("text=Create key")
    page.wait_for_load_state()
    assert page.input_value("#new-key").startswith("cm_")
    shoot(page, "manage-admin")


def test_a_customer_user_sees_only_its_own_maintenance_on_its_calendar(browser, url):
    page = sign_in(browser, url, "ops@acme.example", "/portal/ENT-100/")
    page.click("text=Calendar")
    page.wait_for_url(f"{url}/portal/ENT-100/calendar")
    page.click("text=Next")
    page.wait_for_url("**start=2026-12-01")
    text = page.inner_text("main")
    assert "GCR-1001" in text and "GCR-1002" in text
    assert "GCR-2001" not in text and "GCR-3001" not in text and "Globex" not in text
    shoot(page, "portal-calendar")
