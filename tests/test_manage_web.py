"""The change manager's calendar, failed deliveries, inventory and admin pages over HTTP
(a real uvicorn on loopback): what each role sees and may do, every change through the
services the CLI and API use, bad input answered with each field named, and forms
without the session's CSRF token refused."""

from __future__ import annotations

import email
import re
from email import policy

import httpx
import pytest
from sqlalchemy import select

from changemgmt.domain.roles import Role
from changemgmt.store import models
from changemgmt.store.db import transaction
from changemgmt.web.api.keys import authenticate
from support.feeds import GCR
from support.portal import ENTERPRISE, customer_user, portal_server
from support.staff import REFUSED, fail_all_deliveries, post_form, staff_client, staff_user

DELIVERIES = "/manage/deliveries"


@pytest.fixture
def people(db, clock, desk):
    desk.publish(GCR)
    return {
        "admin": staff_user(db, clock, "ada@cm.example", Role.ADMIN),
        "manager": staff_user(db, clock, "carl@cm.example", Role.CHANGE_MANAGER),
        "viewer": staff_user(db, clock, "vic@cm.example", Role.VIEWER),
        "customer": customer_user(db, clock, "ops@acme.example", [("ENT-100", ENTERPRISE)]),
    }


@pytest.fixture
def url(settings, clock, people):
    with portal_server(settings, clock) as url:
        yield url


@pytest.fixture
def as_(url, settings, clock, people):
    return lambda who: staff_client(url, settings, clock, people[who])


def state_of(db, delivery_id: int) -> str:
    with db() as session:
        return session.get_one(models.Delivery, delivery_id).state


# The calendar


def test_the_month_places_each_window_on_its_day_in_the_viewers_zone(as_):
    page = as_("viewer").get("/manage/calendar", params={"view": "month", "start": "2026-12-01"}).text
    assert '<h2 id="period">December 2026</h2>' in page
    days = _days(page)
    assert "GCR-1001" in days["2026-12-01"] and "01:00–05:00" in days["2026-12-01"]  # 07:00Z in Chicago
    assert "GCR-1001" in days["2026-12-08"] and "GCR-1001" not in days["2026-12-02"]
    assert 'href="/manage/gcrs/GCR-1001"' in page and "Confirmed" in page
    assert "start=2026-11-01" in page and "start=2027-01-01" in page  # previous and next


def test_the_week_shows_its_seven_days_only(as_):
    page = as_("viewer").get("/manage/calendar", params={"view": "week", "start": "2026-12-09"}).text
    days = _days(page)
    assert sorted(days) == [f"2026-12-{d:02}" for d in range(7, 14)]
    assert "GCR-1001" in days["2026-12-08"] and "start=2026-11-30" in page


def test_a_calendar_asked_for_badly_names_every_field(as_):
    reply = as_("viewer").get("/manage/calendar", params={"view": "year", "start": "1st December"})
    assert reply.status_code == 422
    assert "view: must be week or month" in reply.text and "start: must be a date" in reply.text


def test_staff_pages_send_strangers_to_sign_in_and_are_not_found_for_customer_users(url, settings, clock, people):
    customer = staff_client(url, settings, clock, people["customer"])
    for path in ("/manage/calendar", DELIVERIES, "/manage/inventory", "/manage/admin"):
        assert httpx.get(url + path).headers["location"].startswith("/signin")
        assert customer.get(path, follow_redirects=False).status_code == 404


def _days(page: str) -> dict[str, str]:
    """Each day's cell of the calendar, by date."""
    cells = re.split(r'<time datetime="', page)[1:]
    return {cell[:10]: cell for cell in cells}


# Failed deliveries


@pytest.fixture
def failed(engine, settings, clock, people):
    return fail_all_deliveries(engine, settings, clock)


def test_failed_deliveries_are_listed_with_their_reason_and_filtered(as_, failed):
    client = as_("viewer")
    page = client.get(DELIVERIES).text
    assert len(failed) >= 2 and all(f"#{i}" in page for i in failed)
    assert REFUSED in page and 'href="/manage/gcrs/GCR-1001"' in page
    only_globex = client.get(DELIVERIES, params={"account": "ACC-2002"}).text
    assert "ACC-2002" in only_globex and "ACC-1001</a>" not in only_globex
    unknown = client.get(DELIVERIES, params={"gcr": "GCR-9999"})
    assert unknown.status_code == 404 and "GCR-9999" in unknown.text
    assert client.get(DELIVERIES, params={"state": "lost"}).status_code == 422


def test_a_viewer_sees_no_retry_and_its_retry_is_refused(as_, db, failed):
    client = as_("viewer")
    assert "Retry selected" not in client.get(DELIVERIES).text
    reply = post_form(client, DELIVERIES, f"{DELIVERIES}/retry", {"one": str(failed[0])})
    assert reply.status_code == 403 and state_of(db, failed[0]) == "failed"


def test_a_change_manager_retries_one_then_the_selected(as_, db, failed):
    client = as_("manager")
    reply = post_form(client, DELIVERIES, f"{DELIVERIES}/retry", {"one": str(failed[0])})
    assert reply.status_code == 200 and f"Put back in the queue: delivery {failed[0]}." in reply.text
    assert state_of(db, failed[0]) == "pending" and all(state_of(db, i) == "failed" for i in failed[1:])
    post_form(client, DELIVERIES, f"{DELIVERIES}/retry", {"delivery": [str(i) for i in failed[1:]]})
    assert all(state_of(db, i) == "pending" for i in failed)
    with db() as session:
        audit = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "retry deliveries"))
        assert {a.actor for a in audit} == {"carl@cm.example"}


def test_retrying_what_is_not_failed_says_why_and_changes_nothing(as_, db, failed):
    client = as_("manager")
    post_form(client, DELIVERIES, f"{DELIVERIES}/retry", {"one": str(failed[0])})
    reply = post_form(client, DELIVERIES, f"{DELIVERIES}/retry", {"delivery": [str(i) for i in failed]})
    assert reply.status_code == 422 and f"delivery {failed[0]}: it is pending" in reply.text
    assert all(state_of(db, i) == "failed" for i in failed[1:])
    nothing = post_form(client, DELIVERIES, f"{DELIVERIES}/retry", {})
    assert nothing.status_code == 422 and "choose one or more failed deliveries" in nothing.text
    for junk in ("9" * 5000, "-1", "99999999"):
        reply = post_form(client, DELIVERIES, f"{DELIVERIES}/retry", {"one": junk})
        assert reply.status_code == 422, junk


def test_a_retry_without_the_sessions_csrf_token_is_refused(as_, db, failed):
    client = as_("manager")
    assert client.post(f"{DELIVERIES}/retry", data={"one": str(failed[0])}).status_code == 403
    assert client.post(f"{DELIVERIES}/retry", data={"one": str(failed[0]), "csrf": "forged"}).status_code == 403
    assert state_of(db, failed[0]) == "failed"


# Inventory


def test_customers_are_listed_searched_and_paged(as_, db):
    with transaction(db) as session:
        session.add_all(models.Customer(account=f"ZZ-{n:03}", name=f"Zed {n}", time_zone="UTC") for n in range(60))
    client = as_("viewer")
    first = client.get("/manage/inventory").text
    assert "ENT-100" in first and "ZZ-045" in first and "ZZ-046" not in first  # 4 of ours, then 46
    following = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(following).text
    assert "ZZ-046" in second and "ZZ-059" in second and "ENT-100" not in second and 'rel="next"' not in second
    found = client.get("/manage/inventory", params={"q": "globex"}).text
    assert "ACC-2002" in found and "ACC-1001" not in found
    services = client.get("/manage/inventory", params={"kind": "services", "q": "acme"}).text
    assert "ACME-ETH-1" in services and "GLBX-WAVE-1" not in services
    assert client.get("/manage/inventory", params={"kind": "planets"}).status_code == 422
    assert client.get("/manage/inventory", params={"after": "not-a-cursor"}).status_code == 422
    assert client.get("/manage/inventory", params={"q": "a\x00b"}).status_code == 422
    assert client.get(DELIVERIES, params={"gcr": "G" * 5000}).status_code == 422
    assert client.get("/manage/calendar", params={"start": "9999-12-31"}).status_code == 422


def test_a_customer_page_shows_its_enterprise_accounts_contacts_and_services(as_):
    client = as_("viewer")
    enterprise = client.get("/manage/inventory/customers/ENT-100").text
    assert "An enterprise ID with 1 account" in enterprise and "ACC-1001" in enterprise
    account = client.get("/manage/inventory/customers/ACC-1001").text
    assert "An account of enterprise" in account and "noc@acme.example" in account and "ACME-DIA-2" in account
    assert "GLBX" not in account and "Save account lead" not in account  # a viewer reads only
    assert client.get("/manage/inventory/customers/ACC-9999").status_code == 404


def test_a_change_manager_sets_the_account_lead_and_the_audit_trail_records_it(as_, db):
    client = as_("manager")
    page = "/manage/inventory/customers/ACC-1001"
    lead = {"lead_name": "Dana Lead", "lead_email": "dana@provider.example", "lead_phone": "+1 312 555 0100"}
    reply = post_form(client, page, f"{page}/lead", lead)
    assert reply.status_code == 200 and "The account lead was saved." in reply.text
    with db() as session:
        customer = session.scalars(select(models.Customer).where(models.Customer.account == "ACC-1001")).one()
        assert (customer.lead_name, customer.lead_email, customer.lead_phone) == tuple(lead.values())
        entry = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "set lead")).one()
        assert entry.actor == "carl@cm.example" and entry.details["after"]["lead_email"] == "dana@provider.example"


def test_a_bad_lead_names_every_field_and_changes_nothing(as_, db):
    client = as_("manager")
    page = "/manage/inventory/customers/ACC-1001"
    bad = {"lead_name": "Dana", "lead_email": "dana at provider", "lead_phone": "5" * 51}
    reply = post_form(client, page, f"{page}/lead", bad)
    assert reply.status_code == 422
    assert 'id="lead_email-problem"' in reply.text and 'id="lead_phone-problem"' in reply.text
    assert 'value="dana at provider"' in reply.text  # what was typed, to fix
    with db() as session:
        customer = session.scalars(select(models.Customer).where(models.Customer.account == "ACC-1001")).one()
        assert customer.lead_name == ""


def test_a_viewer_cannot_set_the_lead(as_, db):
    client = as_("viewer")
    page = "/manage/inventory/customers/ACC-1001"
    assert post_form(client, page, f"{page}/lead", {"lead_name": "Mallory"}).status_code == 403
    assert client.post(f"{page}/lead", data={"lead_name": "Mallory"}).status_code == 403
    with db() as session:
        assert (
            session.scalars(select(models.Customer.lead_name).where(models.Customer.account == "ACC-1001")).one() == ""
        )


def test_forms_without_the_sessions_csrf_token_change_nothing(as_, db):
    manager, admin = as_("manager"), as_("admin")
    lead = {"lead_name": "Mallory", "csrf": "forged"}
    assert manager.post("/manage/inventory/customers/ACC-1001/lead", data=lead).status_code == 403
    assert admin.post("/manage/admin/keys", data={"name": "sneaky", "role": "admin"}).status_code == 403
    assert admin.post("/manage/admin/users", data={"email": "eve@cm.example", "role": "admin"}).status_code == 403
    with db() as session:
        assert session.scalars(select(models.Customer).where(models.Customer.lead_name != "")).all() == []
        assert session.scalars(select(models.ApiKey)).all() == []
        assert session.scalars(select(models.User).where(models.User.email == "eve@cm.example")).all() == []


def test_the_staff_navigation_links_each_staff_page(as_):
    page = as_("admin").get("/manage/").text  # the GCR list
    for path in (
        "/manage/gcrs",
        "/manage/gcrs/new",
        "/manage/calendar",
        "/manage/deliveries",
        "/manage/inventory",
        "/manage/admin",
    ):
        assert f'href="{path}"' in page


# Admin


@pytest.mark.parametrize("who", ["manager", "viewer"])
def test_only_an_admin_reaches_the_admin_pages(as_, db, who):
    client = as_(who)
    assert client.get("/manage/admin").status_code == 403
    assert 'href="/manage/admin"' not in client.get("/manage/calendar").text
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/manage/calendar").text).group(1)
    assert client.post("/manage/admin/keys", data={"name": "sneaky", "role": "admin", "csrf": token}).status_code == 403
    with db() as session:
        assert session.scalars(select(models.ApiKey)).all() == []


def test_an_admin_creates_a_key_shown_once_and_revokes_it(as_, db):
    client = as_("admin")
    reply = post_form(client, "/manage/admin", "/manage/admin/keys", {"name": "ticketing", "role": "change_manager"})
    secret = re.search(r'id="new-key" class="url" type="text" readonly value="([^"]+)"', reply.text).group(1)
    with db() as session:
        assert authenticate(session, secret).name == "ticketing"
    assert secret not in client.get("/manage/admin").text
    post_form(client, "/manage/admin", "/manage/admin/keys/ticketing/revoke", {})
    with db() as session:
        assert authenticate(session, secret) is None
    again = post_form(client, "/manage/admin", "/manage/admin/keys", {"name": "ticketing", "role": "root"})
    assert again.status_code == 422 and "Name: a key named ticketing already exists" in again.text
    assert "Role: must be one of" in again.text


def test_an_admin_creates_a_user_whose_invitation_is_emailed_and_can_send_it_again(as_, url, settings):
    client = as_("admin")
    data = {"email": "Nina@CM.example", "name": "Nina", "role": "viewer", "time_zone": "Europe/Paris"}
    reply = post_form(client, "/manage/admin", "/manage/admin/users", data)
    assert "It was emailed to them through file" in reply.text
    link = re.search(r'id="invitation" class="url" type="text" readonly value="([^"]+)"', reply.text).group(1)
    assert [link] == _invitation_links(settings, "nina@cm.example")
    invitation = client.get(link.replace("http://localhost:8000", url))
    assert invitation.status_code == 200 and "nina@cm.example" in invitation.text
    again = post_form(client, "/manage/admin", "/manage/admin/users/nina@cm.example/invite", {})
    assert again.status_code == 200 and "A new invitation for nina@cm.example" in again.text
    assert len(_invitation_links(settings, "nina@cm.example")) == 2
    assert as_("viewer").post("/manage/admin/users/nina@cm.example/invite", data={}).status_code == 403
    assert post_form(client, "/manage/admin", "/manage/admin/users/nobody@cm.example/invite", {}).status_code == 404


def _invitation_links(settings, address: str) -> list[str]:
    """The links of the invitation emails the file transport wrote to `address`."""
    links = []
    for path in sorted(settings.outbox_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"].addresses[0].addr_spec == address:
            links += re.findall(r"http://\S+/invitation/\S+", message.get_body(("plain",)).get_content())
    return links


def test_a_bad_new_user_names_every_field(as_, db):
    client = as_("admin")
    data = {"email": "nina", "name": "Nina", "role": "boss", "time_zone": "Mars/Olympus"}
    reply = post_form(client, "/manage/admin", "/manage/admin/users", data)
    assert reply.status_code == 422
    assert (
        "Email:" in reply.text
        and "Role: must be one of" in reply.text
        and "Time zone: &#39;Mars/Olympus&#39;" in reply.text
    )
    with db() as session:
        assert session.scalars(select(models.User).where(models.User.name == "Nina")).all() == []


def test_a_disabled_user_is_signed_out_and_an_admin_cannot_disable_itself(as_, url):
    admin, viewer = as_("admin"), as_("viewer")
    assert viewer.get("/manage/calendar").status_code == 200
    post_form(admin, "/manage/admin", "/manage/admin/users/vic@cm.example/disable", {})
    assert str(viewer.get("/manage/calendar").url).startswith(f"{url}/signin")
    itself = post_form(admin, "/manage/admin", "/manage/admin/users/ada@cm.example/disable", {})
    assert itself.status_code == 403 and admin.get("/manage/admin").status_code == 200
    assert admin.post("/manage/admin/users/carl@cm.example/disable", data={}).status_code == 403  # no CSRF token
