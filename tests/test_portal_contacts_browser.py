"""Notification set-up and portal users in a real headless Chromium: a customer user
signs in, subscribes, adds a contact and changes a preference; a view-only user cannot
change contacts. axe-core on each page; screenshots at desktop and phone width."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from changemgmt.store.models import Contact
from support.axe import assert_accessible
from support.browser import needs_chromium, shoot
from support.feeds import GCR
from support.portal import ADMIN, ENTERPRISE, PASSWORD, customer_user, portal_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = needs_chromium


def sign_in(page, url, email):
    page.goto(f"{url}/signin")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/portal/ENT-100/")


def test_a_customer_user_subscribes_adds_a_contact_and_changes_a_preference(desk, db, clock, settings, browser):
    desk.publish(GCR)
    customer_user(db, clock, "ops@acme.example", [("ENT-100", ENTERPRISE)], permissions=ADMIN)
    customer_user(db, clock, "viewer@acme.example", [("ENT-100", ENTERPRISE)])
    with portal_server(settings, clock) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, url, "ops@acme.example")
        page.click("nav.tabs >> text=Subscribe")
        page.wait_for_url(f"{url}/portal/ENT-100/subscribe")
        expect(page.locator("h1")).to_have_text("Subscribe to your maintenance calendar")
        assert page.locator("a[href^='webcal://']").count() >= 2
        page.click("nav.tabs >> text=Notifications")
        page.wait_for_url(f"{url}/portal/ENT-100/contacts")
        expect(page.locator("h1")).to_have_text("Notification contacts")
        shoot(page, "portal-contacts")

        page.select_option("#account", "ACC-1001")
        page.fill("#email", "oncall@acme.example")
        page.fill("#name", "Acme On-call")
        page.fill("#role", "NOC")
        page.uncheck("input[name=kinds][value=reminder]")
        page.select_option("#min_impact", "OUTAGE")
        page.click("text=Add contact")
        page.wait_for_url(f"{url}/portal/ENT-100/contacts?done=added")
        expect(page.locator("[role=status]")).to_have_text("Contact added.")
        expect(page.locator("main")).to_contain_text("oncall@acme.example")

        noc = page.locator("a:has-text('Edit'):has(span:text-is(' noc@acme.example'))")
        edit = noc.get_attribute("href")
        noc.click()
        page.wait_for_url(f"{url}{edit}")
        expect(page.locator("h1")).to_have_text("Acme NOC")
        page.uncheck("input[name=reminders]")
        page.click("button:text-is('Save')")
        page.wait_for_url(f"{url}/portal/ENT-100/contacts?done=saved")
        expect(page.locator("[role=status]")).to_contain_text("Contact saved")
        page.fill("#email", "not an address")
        page.evaluate("document.querySelector('form.form').noValidate = true")  # the server's check
        page.click("text=Add contact")
        expect(page.locator("[role=alert]")).to_contain_text("Email: 'not an address' is not an email address")
        with db() as session:
            contacts = {c.email: c for c in session.scalars(select(Contact))}
        assert contacts["noc@acme.example"].reminders is False
        assert contacts["oncall@acme.example"].min_impact == "OUTAGE"
        assert "reminder" not in contacts["oncall@acme.example"].notice_kinds

        page.click("nav.tabs >> text=Users")
        page.wait_for_url(f"{url}/portal/ENT-100/users")
        expect(page.locator("h1")).to_have_text("Users")
        assert "viewer@acme.example" in page.inner_text("main")
        shoot(page, "portal-users")

        viewer = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(viewer, url, "viewer@acme.example")
        viewer.goto(f"{url}/portal/ENT-100/contacts")
        text = viewer.inner_text("main")
        assert (
            "oncall@acme.example" in text and "Add a contact" not in text and viewer.locator("text=Edit").count() == 0
        )
        assert_accessible(viewer)
        csrf = viewer.locator("input[name=csrf]").first.get_attribute("value")
        refused = viewer.request.post(
            f"{url}/portal/ENT-100/contacts", form={"csrf": csrf, "account": "ACC-1001", "email": "x@acme.example"}
        )
        assert refused.status == 403
        assert viewer.request.get(f"{url}/portal/ENT-100/users").status == 403
