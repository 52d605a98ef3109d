"""The enterprise's own administrator manages its portal users over HTTP: lists who has
access, invites a new user by email (the link in the email sent through the outbox
works once), changes and removes access; never beyond its own grant; a user without
the manage-users permission is refused; another customer's users are not found."""

from __future__ import annotations

import email
import re
from dataclasses import replace
from email import policy

import httpx
import pytest
from sqlalchemy import select

from changemgmt.store.models import AccessGrant, AuditEntry, User
from support.portal import (
    ACCOUNT,
    ADMIN,
    CONTACTS,
    ENTERPRISE,
    PASSWORD,
    csrf_of,
    customer_user,
    portal_server,
    signed_in_client,
)
from support.smtp_server import free_port


@pytest.fixture
def url(desk, db, clock, settings):
    customer_user(db, clock, "admin@acme.example", [("ENT-100", ENTERPRISE)], permissions=CONTACTS | ADMIN)
    customer_user(db, clock, "viewer@acme.example", [("ACC-1001", ACCOUNT)])
    customer_user(db, clock, "noc@globex.example", [("ACC-2002", ACCOUNT)], permissions=ADMIN)
    with portal_server(settings, clock) as url:
        yield url


def post(client, path, **data):
    form = client.get("/portal/ENT-100/users")
    return client.post(path, data={"csrf": csrf_of(form.text), **data})


def grants(db, address) -> dict[str, tuple[str, list[str]]]:
    with db() as session:
        user = session.scalar(select(User).where(User.email == address))
        rows = session.scalars(select(AccessGrant).where(AccessGrant.user_id == user.id))
        return {g.customer_id: (g.scope, g.permissions) for g in rows}


def invitation_link(settings, address) -> str:
    [path] = settings.outbox_dir.glob("mail-invitation-*.eml")
    mail = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert mail["To"] == address
    return re.search(r"http://localhost:8000(/invitation/\S+)", mail.get_body(("plain",)).get_content()).group(1)


def test_it_lists_the_users_with_access_to_the_enterprise_only(url):
    page = signed_in_client(url, "admin@acme.example").get("/portal/ENT-100/users").text
    assert "admin@acme.example" in page and "viewer@acme.example" in page
    assert "globex" not in page.lower()


def test_an_invited_user_gets_an_email_whose_link_works_once(url, db, settings, clock):
    admin = signed_in_client(url, "admin@acme.example")
    reply = post(admin, "/portal/ENT-100/users", email="New@Acme.example", name="New One", account="ACC-1001")
    assert reply.status_code == 200 and "invitation to set a password emailed" in reply.text
    assert "new@acme.example" in reply.text
    link = invitation_link(settings, "new@acme.example")
    with db() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.entity_key == "new@acme.example")))
    assert actions == ["create", "grant", "invite", "invite_sent"]
    invited = httpx.Client(base_url=url, follow_redirects=True)
    form = invited.get(link)
    assert form.status_code == 200 and "Set your password" in form.text
    done = invited.post(link, data={"csrf": csrf_of(form.text), "password": PASSWORD, "again": PASSWORD})
    assert str(done.url).endswith("/portal/ACC-1001/")
    assert invited.get(link).status_code == 404  # used


def test_an_invitation_link_expires(url, settings, clock):
    admin = signed_in_client(url, "admin@acme.example")
    post(admin, "/portal/ENT-100/users", email="late@acme.example", name="", account="ACC-1001")
    link = invitation_link(settings, "late@acme.example")
    clock.advance(days=3)
    assert httpx.get(url + link).status_code == 404


def test_it_changes_and_removes_access(url, db):
    admin = signed_in_client(url, "admin@acme.example")
    with db() as session:
        viewer_id = session.scalar(select(User.id).where(User.email == "viewer@acme.example"))
    reply = post(
        admin, f"/portal/ENT-100/users/{viewer_id}/access", account="ACC-1001", scope="account", permissions="contacts"
    )
    assert reply.status_code == 200 and "Access changed." in reply.text
    assert list(grants(db, "viewer@acme.example").values()) == [("account", ["contacts", "view"])]
    reply = post(admin, f"/portal/ENT-100/users/{viewer_id}/remove", account="ACC-1001")
    assert "Access removed." in reply.text and grants(db, "viewer@acme.example") == {}


def test_never_beyond_the_admins_own_grant(url, db):
    admin = signed_in_client(url, "admin@acme.example")
    with db() as session:
        ids = dict(session.execute(select(User.email, User.id)).all())
    outside = post(admin, "/portal/ENT-100/users", email="x@acme.example", account="ACC-2002")  # Globex's
    assert outside.status_code == 404
    globex = post(admin, f"/portal/ENT-100/users/{ids['noc@globex.example']}/remove", account="ACC-2002")
    assert globex.status_code == 404
    own = post(admin, f"/portal/ENT-100/users/{ids['admin@acme.example']}/remove", account="ENT-100")
    assert own.status_code == 422 and "your own access" in own.text
    assert grants(db, "noc@globex.example") and grants(db, "admin@acme.example")


def test_a_single_account_admin_cannot_grant_more_than_it_has(desk, db, clock, settings):
    customer_user(db, clock, "lead@acme.example", [("ACC-1001", ACCOUNT)], permissions=frozenset(ADMIN - CONTACTS))
    with portal_server(settings, clock) as url:
        admin = signed_in_client(url, "lead@acme.example")
        form = admin.get("/portal/ACC-1001/users")
        data = {"csrf": csrf_of(form.text), "email": "y@acme.example", "account": "ACC-1001"}
        wide = admin.post("/portal/ACC-1001/users", data={**data, "scope": "enterprise"})
        assert wide.status_code == 422 and "single accounts only" in wide.text
        every = admin.post(
            "/portal/ACC-1001/users", data={**data, "email": "not an address", "scope": "enterprise", "name": "a\tb"}
        )
        assert every.status_code == 422
        assert all(f"{field}:" in every.text for field in ("Email", "Name", "Scope"))
        more = admin.post("/portal/ACC-1001/users", data={**data, "permissions": "contacts"})
        assert more.status_code == 422 and "you do not have yourself: contacts" in more.text
    with db() as session:
        assert session.scalar(select(User).where(User.email == "y@acme.example")) is None


def test_without_the_manage_users_permission_the_page_and_its_forms_are_refused(url, db):
    viewer = signed_in_client(url, "viewer@acme.example")
    assert viewer.get("/portal/ACC-1001/users").status_code == 403
    form = viewer.get("/portal/ACC-1001/")
    reply = viewer.post(
        "/portal/ACC-1001/users", data={"csrf": csrf_of(form.text), "email": "z@acme.example", "account": "ACC-1001"}
    )
    assert reply.status_code == 403
    assert "/users" not in form.text  # no tab
    assert viewer.get("/portal/ENT-100/users").status_code == 404  # not its grant
    admin = signed_in_client(url, "admin@acme.example")
    assert (
        admin.post("/portal/ENT-100/users", data={"email": "z@acme.example", "account": "ACC-1001"}).status_code == 403
    )
    with db() as session:
        assert session.scalar(select(User).where(User.email == "z@acme.example")) is None


def test_an_invitation_that_could_not_be_sent_says_so_and_is_recorded(desk, db, clock, settings):
    customer_user(db, clock, "admin@acme.example", [("ENT-100", ENTERPRISE)], permissions=ADMIN)
    unreachable = replace(settings, email_backend="smtp", smtp_host="127.0.0.1", smtp_port=free_port())
    with portal_server(unreachable, clock) as url:
        admin = signed_in_client(url, "admin@acme.example")
        reply = post(admin, "/portal/ENT-100/users", email="new@acme.example", account="ACC-1001")
    assert reply.status_code == 200 and "could not be sent" in reply.text
    with db() as session:
        [failed] = session.scalars(select(AuditEntry).where(AuditEntry.action == "invite_failed"))
    assert failed.actor == "admin@acme.example" and "unreachable" in failed.details["error"]
