"""The change manager's GCR pages over HTTP (a real uvicorn on loopback): the list and its
filters, creating and editing with windows in the manager's zone, the preview, the
status actions with their warnings, the timeline, retrying a failed delivery; and each
refusal: a viewer cannot change, a form without the session's CSRF token is refused,
bad input names every field at fault and saves nothing, a stale form is refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import httpx
import pytest
from sqlalchemy import select, update

from changemgmt.domain.roles import Role
from changemgmt.domain.states import DeliveryState, NoticeState
from changemgmt.gcrs.blackouts import add_blackout
from changemgmt.store.db import transaction
from changemgmt.store.models import Delivery, Gcr, Notice
from support.feeds import GCR
from support.portal import ENTERPRISE, csrf_of, customer_user, portal_server, signed_in_client, staff_user

OVERLAPPING = {
    "number": "GCR-2001",
    "title": "Houston wave upgrade",
    "description": "New line cards.",
    "windows": [{"start": "2026-12-01T08:00Z", "end": "2026-12-01T09:00Z"}],
    "impacts": [{"service": "GLBX-WAVE-1", "impact": "OUTAGE"}],
}


def new_gcr(csrf: str, **fields) -> dict[str, str]:
    """A valid new-GCR form: two windows in America/Chicago (the manager's zone)."""
    form = {
        "csrf": csrf,
        "number": "GCR-4001",
        "title": "Ring upgrade",
        "description": "New optics on the ring.",
        "window_1_start": "2026-12-01T01:00",
        "window_1_end": "2026-12-01T03:00",
        "window_2_start": "2026-12-02T01:00",
        "window_2_end": "2026-12-02T03:00",
        "services": "ACME-ETH-1\nGLBX-WAVE-1:DEGRADED:20",
        "impact_level": "OUTAGE",
    }
    return {**form, **fields}


@pytest.fixture
def url(settings, clock, desk, db):
    desk.publish(GCR)
    staff_user(db, clock, "cm@example.net", Role.CHANGE_MANAGER)
    staff_user(db, clock, "viewer@example.net", Role.VIEWER, time_zone="UTC")
    customer_user(db, clock, "ops@acme.example", [("ENT-100", ENTERPRISE)])
    with portal_server(settings, clock) as url:
        yield url


@pytest.fixture
def cm(url) -> httpx.Client:
    return signed_in_client(url, "cm@example.net")


def csrf(client: httpx.Client, path: str = "/manage/gcrs") -> str:
    return csrf_of(client.get(path).text)


def test_signing_in_leads_a_change_manager_to_the_gcr_list(url, cm):
    page = cm.get("/manage/")
    assert str(page.url).endswith("/manage/gcrs") and "GCR-1001" in page.text
    assert "Fibre splice on the Dallas ring" in page.text
    assert "Tue 1 Dec 2026 01:00 CST (07:00 UTC)" in page.text  # the manager's zone and UTC


def test_the_list_filters_by_status_customer_service_location_dates_and_words(url, desk, cm):
    desk.create({**OVERLAPPING, "number": "GCR-2002"})
    assert _numbers(cm.get("/manage/gcrs", params={"status": "draft"}).text) == ["GCR-2002"]
    assert _numbers(cm.get("/manage/gcrs", params={"customer": "ENT-100"}).text) == ["GCR-1001"]
    assert _numbers(cm.get("/manage/gcrs", params={"service": "GLBX-WAVE-1"}).text) == ["GCR-1001", "GCR-2002"]
    assert _numbers(cm.get("/manage/gcrs", params={"location": "DLLSTX01"}).text) == ["GCR-1001", "GCR-2002"]
    assert _numbers(cm.get("/manage/gcrs", params={"q": "wave"}).text) == ["GCR-2002"]
    assert _numbers(cm.get("/manage/gcrs", params={"from": "2026-12-05", "to": "2026-12-09"}).text) == ["GCR-1001"]
    jump = cm.get("/manage/gcrs", params={"q": "GCR-2002"})
    assert str(jump.url).endswith("/manage/gcrs/GCR-2002")


def test_bad_filters_are_each_named(url, cm):
    reply = cm.get("/manage/gcrs", params={"status": "done", "from": "tomorrow", "customer": "ACC-9"})
    assert reply.status_code == 422
    text = _problems(reply.text)
    assert "There are 3 problems; fix the search" in text
    assert "Status" in text and "From" in text and "Customer account" in text and "ACC-9" in text


def test_the_list_pages(url, desk, cm):
    for n in range(30):
        desk.create({**OVERLAPPING, "number": f"GCR-5{n:03d}"})
    first = cm.get("/manage/gcrs", params={"status": "draft"}).text
    assert len(_numbers(first)) == 25 and 'rel="next"' in first
    second = cm.get("/manage/gcrs", params={"status": "draft", "page": 2}).text
    assert len(_numbers(second)) == 5 and not set(_numbers(first)) & set(_numbers(second))
    assert _numbers(cm.get("/manage/gcrs", params={"status": "draft", "page": "x"}).text) == _numbers(first)


def test_a_change_manager_creates_a_gcr_with_windows_in_its_zone_and_pasted_impacts(url, cm, db):
    reply = cm.post("/manage/gcrs/new", data=new_gcr(csrf(cm, "/manage/gcrs/new")))
    assert reply.status_code == 200 and str(reply.url).endswith("/manage/gcrs/GCR-4001?done=created")
    page = reply.text
    assert "Tue 1 Dec 2026 01:00 CST (07:00 UTC)" in page and "Wed 2 Dec 2026 01:00 CST (07:00 UTC)" in page
    assert "ACME-ETH-1" in page and "GLBX-WAVE-1" in page and "Degraded" in page and "20 min" in page
    assert "GCR-1001" in _warnings(page)  # overlaps the published GCR-1001 on the same services


def test_impacts_from_a_csv_file_and_a_location(url, cm):
    data = new_gcr(csrf(cm, "/manage/gcrs/new"), services="", location="HSTNTX02")
    csv = b"service,impact,max_outage_minutes\nACME-DIA-2,DEGRADED,15\n"
    reply = cm.post("/manage/gcrs/new", data=data, files={"impacts_csv": ("impacts.csv", csv, "text/csv")})
    assert reply.status_code == 200, _problems(reply.text)
    services = reply.text.split('id="affected-h"')[1]
    for service in ("ACME-DIA-2", "ACME-ETH-1", "GLBX-WAVE-1", "INIT-ETH-9"):  # HSTNTX02 ends three
        assert service in services
    assert "15 min" in services


def test_bad_input_names_every_field_and_saves_nothing(url, cm, db):
    data = new_gcr(
        csrf(cm, "/manage/gcrs/new"),
        title="",
        window_1_start="2027-03-14T02:30",  # clocks jump from 02:00 to 03:00 in Chicago
        window_1_end="2027-03-14T04:00",
        window_2_end="2026-12-02T00:30",  # before its start
        services="ACME-ETH-1:BROKEN\nNOPE-1",
    )
    reply = cm.post("/manage/gcrs/new", data=data)
    assert reply.status_code == 422
    text = _problems(reply.text)
    assert "02:30 on 2027-03-14 does not exist in America/Chicago: clocks jump from 02:00 to 03:00" in text
    assert "Window 1 start" in text and "Window 2 end" in text and "Title" in text
    assert "Service IDs, line 1" in text and "BROKEN" in text
    assert (
        "ACME-ETH-1:BROKEN" in reply.text
    )  # the form keeps what was typed and 'value="2027-03-14T02:30"' in reply.text
    with transaction(db) as session:
        assert session.scalar(select(Gcr).where(Gcr.number == "GCR-4001")) is None


def test_a_draft_may_have_no_impacts_yet_but_is_not_published_without(url, cm):
    page = cm.post("/manage/gcrs/new", data=new_gcr(csrf(cm, "/manage/gcrs/new"), services="")).text
    assert "No service is impacted yet" in page and 'id="preview-account"' not in page
    refused = cm.post("/manage/gcrs/GCR-4001/publish", data={"csrf": csrf_of(page), "version": _version(page)})
    assert refused.status_code == 422
    assert "Impacts</strong>: a published GCR needs at least one impacted service" in _problems(refused.text)


def test_an_unknown_service_is_named(url, cm):
    reply = cm.post("/manage/gcrs/new", data=new_gcr(csrf(cm, "/manage/gcrs/new"), services="NOPE-1, ACME-ETH-1"))
    assert reply.status_code == 422 and "no service with ID &#39;NOPE-1&#39;" in reply.text


def test_a_time_that_happens_twice_asks_for_the_offset(url, cm):
    data = new_gcr(csrf(cm, "/manage/gcrs/new"), window_1_start="2026-11-01T01:30")
    text = _problems(cm.post("/manage/gcrs/new", data=data).text)
    assert "happens twice in America/Chicago: clocks go back from 02:00 to 01:00" in text


def test_the_utc_of_a_window_row_is_shown_as_it_is_typed(url, cm):
    reply = cm.get(
        "/manage/gcrs/window-utc", params={"window_1_start": "2026-12-01T01:00", "window_1_end": "2026-12-01T03:00"}
    )
    assert reply.text == '<span class="">Tue 1 Dec 2026 07:00 UTC – Tue 1 Dec 2026 09:00 UTC</span>'
    gap = cm.get(
        "/manage/gcrs/window-utc", params={"window_1_start": "2027-03-14T02:30", "window_1_end": "2027-03-14T04:00"}
    )
    assert "clocks jump from 02:00 to 03:00" in gap.text and "error-text" in gap.text


def test_a_viewer_reads_but_cannot_change(url):
    viewer = signed_in_client(url, "viewer@example.net")
    page = viewer.get("/manage/gcrs/GCR-1001")
    assert page.status_code == 200 and "Tue 1 Dec 2026 07:00 UTC" in page.text
    assert 'action="/manage/gcrs/GCR-1001/cancel"' not in page.text and "New GCR" not in page.text
    token = csrf_of(page.text)
    assert viewer.get("/manage/gcrs/new").status_code == 403
    assert viewer.post("/manage/gcrs/new", data=new_gcr(token)).status_code == 403
    cancel = {"csrf": token, "version": "1.2", "reason": "x"}  # the role is checked first
    assert viewer.post("/manage/gcrs/GCR-1001/cancel", data=cancel).status_code == 403
    assert "status-confirmed" in viewer.get("/manage/gcrs/GCR-1001").text


def test_customers_and_strangers_do_not_get_staff_pages(url):
    customer = signed_in_client(url, "ops@acme.example")
    assert customer.get("/manage/gcrs").status_code == 404
    assert customer.get("/manage/gcrs/GCR-1001").status_code == 404
    stranger = httpx.Client(base_url=url)
    reply = stranger.get("/manage/gcrs")
    assert reply.status_code == 303 and reply.headers["location"].startswith("/signin")


def test_forms_without_the_sessions_csrf_token_are_refused(url, cm, db):
    version = _version(cm.get("/manage/gcrs/GCR-1001").text)
    assert cm.post("/manage/gcrs/GCR-1001/cancel", data={"version": version, "reason": "x"}).status_code == 403
    assert cm.post("/manage/gcrs/new", data={**new_gcr("forged")}).status_code == 403
    with transaction(db) as session:
        assert session.scalar(select(Gcr.status).where(Gcr.number == "GCR-1001")) == "confirmed"


def test_publishing_a_draft_within_the_minimum_notice_needs_an_override_reason(url, cm, clock):
    data = new_gcr(csrf(cm, "/manage/gcrs/new"), window_1_start="2026-11-04T01:00", window_1_end="2026-11-04T02:00")
    page = cm.post("/manage/gcrs/new", data=data).text
    assert "Short notice" in _warnings(page)
    publish = {"csrf": csrf_of(page), "version": _version(page)}
    refused = cm.post("/manage/gcrs/GCR-4001/publish", data=publish)
    assert refused.status_code == 422 and "less than the minimum notice" in _problems(refused.text)
    done = cm.post("/manage/gcrs/GCR-4001/publish", data={**publish, "override_reason": "Vendor date"})
    assert done.status_code == 200 and "Published" in done.text
    assert "override reason: Vendor date" in done.text  # in the history


def test_a_blackout_is_warned_of_and_publishing_into_it_needs_an_override(url, cm, db, clock):
    with transaction(db) as session:
        start, end = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)
        add_blackout(session, "ACC-2002", start, end, "Globex year-end freeze", "test", clock())
    page = cm.post("/manage/gcrs/new", data=new_gcr(csrf(cm, "/manage/gcrs/new"))).text
    assert "Globex year-end freeze" in _warnings(page) and "ACC-2002" in _warnings(page)
    publish = {"csrf": csrf_of(page), "version": _version(page)}
    refused = cm.post("/manage/gcrs/GCR-4001/publish", data=publish)
    assert refused.status_code == 422
    assert "Window 1" in _problems(refused.text) and "Window 2" in _problems(refused.text)
    done = cm.post("/manage/gcrs/GCR-4001/publish", data={**publish, "blackout_override": "Agreed with Globex"})
    assert done.status_code == 200 and "blackout override: Agreed with Globex" in done.text


def test_a_stale_form_is_refused_with_a_clear_message(url, cm, desk):
    page = cm.get("/manage/gcrs/GCR-1001").text
    desk.update("GCR-1001", {"title": "Fibre splice, moved"})  # someone else, meanwhile
    reply = cm.post(
        "/manage/gcrs/GCR-1001/cancel", data={"csrf": csrf_of(page), "version": _version(page), "reason": "x"}
    )
    assert reply.status_code == 409 and "was changed by someone else since you opened this form" in reply.text
    edit = cm.get("/manage/gcrs/GCR-1001/edit").text
    desk.update("GCR-1001", {"title": "Fibre splice, moved again"})
    fields = _form_fields(edit)
    reply = cm.post("/manage/gcrs/GCR-1001/edit", data={**fields, "title": "Mine"})
    assert reply.status_code == 409 and 'value="Mine"' in reply.text


def test_rescheduling_a_published_gcr_shows_the_new_times_and_plans_notices(url, cm, db):
    edit = cm.get("/manage/gcrs/GCR-1001/edit").text
    fields = _form_fields(edit)
    assert fields["window_1_start"] == "2026-12-01T01:00"  # 07:00 UTC in Chicago
    reply = cm.post("/manage/gcrs/GCR-1001/edit", data={**fields, "window_1_start": "2026-12-01T02:00"})
    assert reply.status_code == 200 and "Changes saved" in reply.text
    assert "Tue 1 Dec 2026 02:00 CST (08:00 UTC)" in reply.text
    history = reply.text.split('id="history-h"')[1].split("</section>")[0]
    assert "Window 1: Tue 1 Dec 2026 01:00 CST (07:00 UTC) – Tue 1 Dec 2026 05:00 CST (11:00 UTC) → " in history
    notices = reply.text.split('id="notices-h"')[1]
    assert "rescheduled" in notices or "updated" in notices


def test_rescheduling_into_the_minimum_notice_needs_an_override_reason(url, cm):
    fields = _form_fields(cm.get("/manage/gcrs/GCR-1001/edit").text)
    moved = {**fields, "window_1_start": "2026-11-04T01:00", "window_1_end": "2026-11-04T03:00"}
    refused = cm.post("/manage/gcrs/GCR-1001/edit", data=moved)
    assert refused.status_code == 422 and "Window 1 start" in _problems(refused.text)
    assert "less than the minimum notice of 7 days" in _problems(refused.text)
    assert 'value="2026-11-04T01:00"' in refused.text  # as typed
    done = cm.post("/manage/gcrs/GCR-1001/edit", data={**moved, "override_reason": "Fibre cut: cannot wait"})
    assert done.status_code == 200 and "Wed 4 Nov 2026 01:00 CST (07:00 UTC)" in done.text


def test_cancelling_needs_a_reason(url, cm):
    page = cm.get("/manage/gcrs/GCR-1001").text
    reply = cm.post("/manage/gcrs/GCR-1001/cancel", data={"csrf": csrf_of(page), "version": _version(page)})
    assert reply.status_code == 422 and "Reason" in _problems(reply.text)
    done = cm.post(
        "/manage/gcrs/GCR-1001/cancel", data={"csrf": csrf_of(page), "version": _version(page), "reason": "No crew"}
    )
    assert "status-cancelled" in done.text and "reason: No crew" in done.text


def test_start_and_complete(url, clock):
    clock.advance(days=29)  # into window 1 (1 Dec 07:00 UTC)
    cm = signed_in_client(url, "cm@example.net")
    for action in ("start", "complete"):
        page = cm.get("/manage/gcrs/GCR-1001").text
        reply = cm.post(f"/manage/gcrs/GCR-1001/{action}", data={"csrf": csrf_of(page), "version": _version(page)})
        assert reply.status_code == 200, reply.text
    assert "status-completed" in reply.text


def test_the_preview_shows_the_exact_email_sandboxed_and_its_ics(url, cm):
    page = cm.get("/manage/gcrs/GCR-1001/preview", params={"account": "ACC-1001"})
    assert page.status_code == 200
    assert '<iframe class="mail" sandbox="" srcdoc="' in page.text and "noc@acme.example" in page.text
    assert "GLBX" not in page.text.split("<h1>")[1]  # only Acme's services
    ics = cm.get("/manage/gcrs/GCR-1001/preview.ics", params={"account": "ACC-1001"})
    assert ics.headers["content-type"].startswith("text/calendar") and b"BEGIN:VCALENDAR" in ics.content
    outsider = cm.get("/manage/gcrs/GCR-1001/preview", params={"account": "ACC-3003"})
    assert outsider.status_code == 422 and "does not affect ACC-3003" in outsider.text


def test_a_failed_delivery_is_retried_from_the_timeline(url, cm, db):
    with transaction(db) as session:
        delivery = session.scalars(select(Delivery).order_by(Delivery.id)).first()
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery.id)
            .values(state=DeliveryState.FAILED, last_error="550 mailbox unavailable")
        )
        session.execute(update(Notice).where(Notice.id == delivery.notice_id).values(state=NoticeState.FAILED))
        delivery_id = delivery.id
    page = cm.get("/manage/gcrs/GCR-1001").text
    assert "550 mailbox unavailable" in page and f"Retry delivery {delivery_id}" in page
    reply = cm.post(f"/manage/gcrs/GCR-1001/deliveries/{delivery_id}/retry", data={"csrf": csrf_of(page)})
    assert reply.status_code == 200 and "queued to be sent again" in reply.text
    with transaction(db) as session:
        assert session.get(Delivery, delivery_id).state == DeliveryState.PENDING
    assert "retry deliveries" in reply.text
    assert (
        cm.post(f"/manage/gcrs/GCR-1001/deliveries/{delivery_id}/retry", data={"csrf": csrf_of(page)}).status_code
        == 422
    )
    assert cm.post("/manage/gcrs/GCR-1001/deliveries/x/retry", data={"csrf": csrf_of(page)}).status_code == 404


def test_a_delivery_is_retried_only_from_its_own_gcrs_page(url, cm, desk, db):
    desk.publish(OVERLAPPING)
    with transaction(db) as session:
        other = session.scalar(
            select(Delivery.id).join(Notice).join(Gcr).where(Gcr.number == "GCR-2001").order_by(Delivery.id)
        )
    page = cm.get("/manage/gcrs/GCR-1001").text
    assert cm.post(f"/manage/gcrs/GCR-1001/deliveries/{other}/retry", data={"csrf": csrf_of(page)}).status_code == 404


def _numbers(html: str) -> list[str]:
    return re.findall(r'<a href="/manage/gcrs/(GCR-\d+)">', html.split("<tbody>")[1] if "<tbody>" in html else "")


def _problems(html: str) -> str:
    return html.split('id="problems"')[1].split("</div>")[0] if 'id="problems"' in html else ""


def _warnings(html: str) -> str:
    return html.split('id="warnings-h"')[1].split("</section>")[0] if 'id="warnings-h"' in html else ""


def _version(html: str) -> str:
    return re.search(r'name="version" value="([^"]*)"', html).group(1)


def _form_fields(html: str) -> dict[str, str]:
    """The GCR form's fields as a browser would post them (inputs and textareas)."""
    form = html.split('class="gcr-form"')[1].split("</form>")[0]
    fields = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and 'type="file"' not in tag and ('type="checkbox"' not in tag or " checked" in tag):
            fields[name.group(1)] = unescape(value.group(1)) if value else "on"
    for name, value in re.findall(r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        fields[name] = unescape(value)
    for name, value in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>.*?<option value="([^"]*)" selected', form, re.S):
        fields[name] = value
    return fields
