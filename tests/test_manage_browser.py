"""The change manager's pages in a real headless Chromium (Debian's, driven by Playwright):
a change manager signs in, creates a GCR with two windows and impacts pasted as IDs, sees
its conflict with a published GCR, previews one customer's email, publishes, reschedules,
and sees the notices go out on the timeline (the worker run one drain at a time, as the
clock would). axe-core checks each page; screenshots at desktop and phone width go to
docs/screenshots/."""

from __future__ import annotations

import pytest

from changemgmt.delivery.transports import FileTransport
from changemgmt.delivery.worker import Worker
from changemgmt.domain.roles import Role
from support.browser import needs_chromium, shoot
from support.portal import PASSWORD, portal_server, staff_user

OVERLAPPING = {
    "number": "GCR-2001",
    "title": "Houston wave upgrade",
    "description": "New line cards in Houston West.",
    "windows": [{"start": "2026-12-01T08:00Z", "end": "2026-12-01T09:00Z"}],
    "impacts": [{"service": "GLBX-WAVE-1", "impact": "OUTAGE"}],
}

pytestmark = needs_chromium


@pytest.fixture
def worker(engine, settings, clock):
    worker = Worker(engine, FileTransport(settings.outbox_dir), settings, clock)
    yield worker
    worker.close()


def test_a_change_manager_creates_previews_publishes_and_reschedules_a_gcr(
    desk,
    db,
    clock,
    settings,
    browser,
    worker,
    tmp_path,
):
    desk.publish(OVERLAPPING)
    staff_user(db, clock, "cm@example.net", Role.CHANGE_MANAGER)
    with portal_server(settings, clock) as url:
        page = _signed_in(browser, url)
        assert "GCR-2001" in page.inner_text("main")
        shoot(page, "manage-gcrs")

        page.click("nav >> text=New GCR")
        page.wait_for_url(f"{url}/manage/gcrs/new")
        page.fill("#number", "GCR-4001")
        page.fill("#title", "Dallas ring optics upgrade")
        page.fill("#description", "Replacing the optics on the Dallas ring.")
        page.fill("#reason", "The optics are end of life.")
        page.fill("#window_1_start", "2026-12-01T01:00")
        page.fill("#window_1_end", "2026-12-01T05:00")
        page.fill("#window_2_start", "2026-12-08T01:00")
        page.fill("#window_2_end", "2026-12-08T05:00")
        page.wait_for_selector("#utc-2 >> text=Tue 8 Dec 2026 07:00 UTC – Tue 8 Dec 2026 11:00 UTC")  # htmx
        page.fill("#services", "ACME-ETH-1, ACME-DIA-2\nGLBX-WAVE-1:DEGRADED:30")
        shoot(page, "manage-gcr-new")
        page.fill("#window_1_start", "2027-03-14T02:30")  # first a time the clocks skip
        page.fill("#window_1_end", "2027-03-14T04:00")
        page.click("text=Create draft")
        problems = page.inner_text("#problems")
        assert "Window 1 start: 02:30 on 2027-03-14 does not exist in America/Chicago" in problems
        page.screenshot(path=str(tmp_path / "refused.png"), full_page=True)
        page.fill("#window_1_start", "2026-12-01T01:00")
        page.fill("#window_1_end", "2026-12-01T05:00")
        page.click("text=Create draft")
        page.wait_for_url(f"{url}/manage/gcrs/GCR-4001?done=created")
        warnings = page.inner_text(".warnings")
        assert "Conflict" in warnings and "GCR-2001" in warnings and "GLBX-WAVE-1" in warnings
        assert "Tue 1 Dec 2026 01:00 CST (07:00 UTC)" in page.inner_text("main")

        page.select_option("#preview-account", "ACC-2002")
        page.click(".preview-form button")
        page.wait_for_url(f"{url}/manage/gcrs/GCR-4001/preview?account=ACC-2002")
        email = page.frame_locator("iframe.mail").locator("body").inner_text()
        assert "GLBX-WAVE-1" in email and "ACME" not in email
        assert "ops@globex.example" in page.inner_text("main")
        shoot(page, "manage-preview")

        page.click("text=← GCR-4001")
        page.click("button:has-text('Publish')")
        page.wait_for_url(f"{url}/manage/gcrs/GCR-4001?done=publish")
        assert "Confirmed" in page.inner_text(".facts")

        page.click("text=Edit or reschedule")
        page.fill("#window_1_start", "2026-12-01T02:00")
        page.click("text=Save changes")
        page.wait_for_url(f"{url}/manage/gcrs/GCR-4001?done=saved")
        assert "Tue 1 Dec 2026 02:00 CST (08:00 UTC)" in page.inner_text("main")

        assert worker.drain() > 0  # the worker sends what is due now
        page.reload()
        notices = page.inner_text("#notices")
        assert "ACC-1001" in notices and "ACC-2002" in notices and "sent" in notices
        assert "rescheduled" in notices and "new" in notices  # a notice for each change, each sent
        assert "update · revision 3" in page.inner_text("#history-h + table")
        shoot(page, "manage-gcr")


def test_a_refused_action_shows_its_reason_with_javascript_on(desk, db, clock, settings, browser):  # noqa: F811
    """htmx swaps in a refusal's page (4xx) as it does a success's: the problem is shown."""
    desk.publish(OVERLAPPING)
    staff_user(db, clock, "cm@example.net", Role.CHANGE_MANAGER)
    with portal_server(settings, clock) as url:
        page = _signed_in(browser, url)
        page.goto(f"{url}/manage/gcrs/GCR-2001")
        desk.update("GCR-2001", {"title": "Houston wave upgrade, moved"})  # by someone else, meanwhile
        page.fill("#reason", "No crew")
        page.click("text=Cancel GCR")
        page.wait_for_selector("#problems")
        assert "was changed by someone else since you opened this form" in page.inner_text("#problems")
        assert "Confirmed" in page.inner_text(".facts")


def _signed_in(browser, url: str):  # noqa: F811 (the fixture's value)
    """A desktop-sized page where the change manager has signed in (on the GCR list)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/signin")
    page.fill("#email", "cm@example.net")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/manage/gcrs")
    return page
