"""Notification set-up in the portal over HTTP: a user with the manage-contacts permission
adds, edits, removes and resubscribes its accounts' contacts, each change audited with
it as actor; bad input names every field and changes nothing; a view-only user sees the
contacts and its changes are refused; another customer's contacts are not found."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from changemgmt.delivery.transports import FileTransport
from changemgmt.delivery.worker import Worker
from changemgmt.inventory.preferences import unsubscribe
from changemgmt.store.db import transaction
from changemgmt.store.models import AuditEntry, Contact, Recipient
from support.feeds import GCR
from support.portal import CONTACTS, ENTERPRISE, csrf_of, customer_user, portal_server, signed_in_client


@pytest.fixture
def url(desk, db, clock, settings):
    customer_user(db, clock, "admin@acme.example", [("ENT-100", ENTERPRISE)], permissions=CONTACTS)
    customer_user(db, clock, "viewer@acme.example", [("ENT-100", ENTERPRISE)])
    with portal_server(settings, clock) as url:
        yield url


def contact(db, email) -> Contact | None:
    with db() as session:
        return session.scalar(select(Contact).where(Contact.email == email))


def post(client, path, **data):
    form = client.get("/portal/ENT-100/contacts")
    return client.post(path, data={"csrf": csrf_of(form.text), **data})


NEW = {
    "account": "ACC-1001",
    "email": "oncall@acme.example",
    "name": "Acme On-call",
    "role": "NOC",
    "kinds": ["new", "emergency", "cancelled"],
    "min_impact": "OUTAGE",
}


def test_it_lists_the_contacts_of_the_enterprises_accounts_only(url):
    page = signed_in_client(url, "admin@acme.example").get("/portal/ENT-100/contacts").text
    assert "noc@acme.example" in page and "it@acme-holdings.example" in page
    assert "globex" not in page.lower() and "initech" not in page.lower()
    assert "Add a contact" in page


def test_it_adds_a_contact_with_its_preferences_audited_with_the_user_as_actor(url, db):
    client = signed_in_client(url, "admin@acme.example")
    reply = post(client, "/portal/ENT-100/contacts", **NEW)
    assert reply.status_code == 200 and "Contact added." in reply.text and "oncall@acme.example" in reply.text
    added = contact(db, "oncall@acme.example")
    assert (added.name, added.role, added.min_impact, added.reminders) == ("Acme On-call", "NOC", "OUTAGE", False)
    assert sorted(added.notice_kinds) == ["cancelled", "emergency", "new"]
    with db() as session:
        actors = set(session.scalars(select(AuditEntry.actor).where(AuditEntry.entity == "contact")))
    assert actors == {"admin@acme.example"}


def test_bad_input_names_every_field_and_changes_nothing(url, db):
    client = signed_in_client(url, "admin@acme.example")
    reply = post(client, "/portal/ENT-100/contacts", account="ACC-1001", email="not an address", name="a\tb")
    assert reply.status_code == 422
    assert "Email:" in reply.text and "Name:" in reply.text and "Notices:" in reply.text
    assert "Nothing was changed" in reply.text
    taken = post(client, "/portal/ENT-100/contacts", **{**NEW, "email": "NOC@acme.example"})
    assert taken.status_code == 422 and "already a contact of ACC-1001" in taken.text
    with db() as session:
        assert len(session.scalars(select(Contact)).all()) == 4


def test_it_edits_a_contact_and_its_preferences(url, db):
    client = signed_in_client(url, "admin@acme.example")
    noc = contact(db, "noc@acme.example")
    assert client.get(f"/portal/ENT-100/contacts/{noc.id}").status_code == 200
    data = {"email": "noc@acme.example", "name": "Acme NOC 24/7", "role": "", "kinds": ["new"], "min_impact": "OUTAGE"}
    reply = post(client, f"/portal/ENT-100/contacts/{noc.id}", **data, reminders="on")
    assert reply.status_code == 200 and "Contact saved" in reply.text
    saved = contact(db, "noc@acme.example")
    assert (saved.name, saved.notice_kinds, saved.min_impact, saved.reminders) == (
        "Acme NOC 24/7",
        ["new"],
        "OUTAGE",
        True,
    )


def test_it_resubscribes_and_removes_a_contact(url, db, clock):
    with transaction(db) as session:
        unsubscribe(
            session, session.scalar(select(Contact).where(Contact.email == "noc@acme.example")), clock(), "test"
        )
    client = signed_in_client(url, "admin@acme.example")
    assert "Unsubscribed" in client.get("/portal/ENT-100/contacts").text
    noc = contact(db, "noc@acme.example")
    assert "subscribed again" in post(client, f"/portal/ENT-100/contacts/{noc.id}/resubscribe").text
    assert contact(db, "noc@acme.example").unsubscribed_at is None
    assert "Contact removed." in post(client, f"/portal/ENT-100/contacts/{noc.id}/remove").text
    assert contact(db, "noc@acme.example") is None


def test_a_view_only_user_sees_the_contacts_and_its_changes_are_refused(url, db):
    client = signed_in_client(url, "viewer@acme.example")
    page = client.get("/portal/ENT-100/contacts").text
    assert "noc@acme.example" in page and "Add a contact" not in page and "manage-contacts permission" in page
    noc = contact(db, "noc@acme.example")
    assert post(client, "/portal/ENT-100/contacts", **NEW).status_code == 403
    assert post(client, f"/portal/ENT-100/contacts/{noc.id}/remove").status_code == 403
    assert client.get(f"/portal/ENT-100/contacts/{noc.id}").status_code == 403
    assert contact(db, "noc@acme.example") is not None and contact(db, "oncall@acme.example") is None


def test_other_customers_contacts_are_not_found_and_forms_need_the_csrf_token(url, db):
    client = signed_in_client(url, "admin@acme.example")
    globex = contact(db, "ops@globex.example")
    assert client.get(f"/portal/ENT-100/contacts/{globex.id}").status_code == 404
    assert post(client, f"/portal/ENT-100/contacts/{globex.id}/remove").status_code == 404
    assert post(client, "/portal/ENT-100/contacts", **{**NEW, "account": "ACC-2002"}).status_code == 404
    assert client.get("/portal/ACC-2002/contacts").status_code == 404
    assert client.post("/portal/ENT-100/contacts", data=NEW).status_code == 403
    assert contact(db, "ops@globex.example") is not None and contact(db, "oncall@acme.example") is None


def test_a_contact_that_notices_went_to_is_kept_on_record_unsubscribed(desk, db, engine, settings, clock, url):
    desk.publish(GCR)
    worker = Worker(engine, FileTransport(settings.outbox_dir), settings, clock)
    assert worker.drain()
    worker.close()
    client = signed_in_client(url, "admin@acme.example")
    noc = contact(db, "noc@acme.example")
    reply = post(client, f"/portal/ENT-100/contacts/{noc.id}/remove")
    assert "kept on record, unsubscribed" in reply.text
    kept = contact(db, "noc@acme.example")
    assert kept.unsubscribed_at == clock()
    with db() as session:
        assert session.scalar(select(Recipient.email).where(Recipient.contact_id == noc.id)) == "noc@acme.example"
