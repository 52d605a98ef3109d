"""Users, passwords, sign-in throttling, invitations and access grants, as services on the
real database; the account lead through inventory import and export; `changemgmt users`."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from changemgmt.domain.access import Permission, Scope
from changemgmt.domain.errors import DomainError
from changemgmt.domain.roles import Role
from changemgmt.store import models
from changemgmt.store.db import transaction
from changemgmt.users.access import context_for, grant_access
from changemgmt.users.accounts import UserKind, create_user, disable_user, find_user, set_password
from changemgmt.users.invites import invitation_token, invited_user
from changemgmt.users.signin import SignInRefused, sign_in
from support.portal import ACCOUNT, ENTERPRISE, PASSWORD, customer_user
from world import build_world


@pytest.fixture
def world(db):
    with transaction(db) as session:
        return {k: v.id for k, v in build_world(session).items()}


def _attempt(db, clock, email, password, address="192.0.2.1"):
    with transaction(db) as session:
        try:
            return sign_in(session, email, password, address, clock()).id
        except SignInRefused as exc:
            return exc.message


def test_a_password_is_stored_as_argon2id_and_signs_in(db, clock, world):
    user = customer_user(db, clock, "Ops@Acme.example", [("ENT-100", ENTERPRISE)])
    with db() as session:
        stored = session.get(models.User, user)
        assert stored.email == "ops@acme.example" and stored.password_hash.startswith("$argon2id$")
    assert _attempt(db, clock, "OPS@acme.example", PASSWORD) == user


def test_unknown_address_wrong_password_and_disabled_user_get_one_answer(db, clock, world):
    customer_user(db, clock, "ops@acme.example", [("ENT-100", ENTERPRISE)])
    wrong = _attempt(db, clock, "ops@acme.example", "not the password")
    unknown = _attempt(db, clock, "nobody@acme.example", PASSWORD)
    with transaction(db) as session:
        disable_user(session, find_user(session, "ops@acme.example"), "test", clock())
    disabled = _attempt(db, clock, "ops@acme.example", PASSWORD)
    assert wrong == unknown == disabled == "That email address and password do not match an active user."


def test_five_failures_make_the_next_attempt_wait_until_the_first_leaves_the_window(db, clock, world):
    user = customer_user(db, clock, "ops@acme.example", [("ENT-100", ENTERPRISE)])
    for _ in range(5):
        _attempt(db, clock, "ops@acme.example", "guess guess guess")
        clock.advance(minutes=1)
    assert "Too many failed attempts. Try again in 10 minutes." == _attempt(db, clock, "ops@acme.example", PASSWORD)
    clock.advance(minutes=10)
    assert _attempt(db, clock, "ops@acme.example", PASSWORD) == user
    with db() as session:
        assert session.query(models.SignInAttempt).count() == 6  # the refused one is not tried, nor counted


def test_staff_need_a_role_and_customers_have_none_and_emails_are_unique(db, clock, world):
    with transaction(db) as session:
        with pytest.raises(DomainError, match="needs a role"):
            create_user(
                session,
                email="a@x.example",
                name="",
                kind=UserKind.STAFF,
                role=None,
                time_zone="UTC",
                actor="t",
                now=clock(),
            )
        with pytest.raises(DomainError, match="has no role"):
            create_user(
                session,
                email="a@x.example",
                name="",
                kind=UserKind.CUSTOMER,
                role=Role.ADMIN,
                time_zone="UTC",
                actor="t",
                now=clock(),
            )
        staff = create_user(
            session,
            email="a@x.example",
            name="",
            kind=UserKind.STAFF,
            role=Role.ADMIN,
            time_zone="UTC",
            actor="t",
            now=clock(),
        )
        with pytest.raises(DomainError, match="already exists"):
            create_user(
                session,
                email="A@X.example",
                name="",
                kind=UserKind.STAFF,
                role=Role.VIEWER,
                time_zone="UTC",
                actor="t",
                now=clock(),
            )
        with pytest.raises(DomainError, match="access grants are for customer users"):
            grant_access(session, staff, "ENT-100", Scope.ENTERPRISE, frozenset({Permission.VIEW}), "t", clock())


def test_an_enterprise_grant_covers_its_accounts_and_an_account_grant_only_itself(db, clock, world):
    user = customer_user(db, clock, "ops@acme.example", [("ENT-100", ENTERPRISE), ("ACC-3003", ACCOUNT)])
    with db() as session:
        user_row = session.get(models.User, user)
        default = context_for(session, user_row)
        assert default.root == world["enterprise"]  # the first grant is the default
        assert default.accounts == {world["enterprise"], world["acme"]}
        assert context_for(session, user_row, world["outsider"]).accounts == {world["outsider"]}
        assert context_for(session, user_row, world["acme"]) is None  # covered, but not a grant of its own
        assert context_for(session, user_row, world["globex"]) is None


def test_an_invitation_sets_a_password_once_and_expires(db, clock, settings, world):
    user = customer_user(db, clock, "ops@acme.example", [("ENT-100", ENTERPRISE)], password=None)
    with transaction(db) as session:
        row = session.get(models.User, user)
        token = invitation_token(settings, row, clock())
        assert invited_user(session, settings, token, clock()).id == user
        assert invited_user(session, settings, token[:-2] + "xx", clock()) is None  # forged
        assert invited_user(session, settings, token, clock() + timedelta(days=3)) is None  # expired
        set_password(session, row, "a brand new password", row.email, clock())
    with db() as session:
        assert invited_user(session, settings, token, clock()) is None  # used
    assert _attempt(db, clock, "ops@acme.example", "a brand new password") == user


def test_a_password_shorter_than_twelve_characters_is_refused(db, clock, world):
    with transaction(db) as session, pytest.raises(DomainError, match="at least 12"):
        create_user(
            session,
            email="a@x.example",
            name="",
            kind=UserKind.CUSTOMER,
            role=None,
            time_zone="UTC",
            actor="t",
            now=clock(),
            password="short",
        )


def test_the_account_lead_goes_in_and_out_with_the_inventory(run, home, world):
    (home / "customers.csv").write_text(
        "account,name,time_zone,lead_name,lead_email,lead_phone\n"
        "ACC-1001,Acme Logistics,America/Chicago,Dana Lead,Dana@Provider.EXAMPLE,+1 312 555 0101\n"
        "ACC-2002,Globex Corp,UTC,,,\n"
    )
    run("import", str(home / "customers.csv"))
    run("export", "--kind", "customers", "-o", str(home / "out.csv"))
    rows = {r["account"]: r for r in csv.DictReader(io.StringIO((home / "out.csv").read_text()))}
    assert (rows["ACC-1001"]["lead_name"], rows["ACC-1001"]["lead_email"], rows["ACC-1001"]["lead_phone"]) == (
        "Dana Lead",
        "Dana@provider.example",
        "'+1 312 555 0101",  # a leading + reads as a formula: prefixed on export, as OWASP advises
    )
    assert rows["ACC-2002"]["lead_email"] == ""


def test_a_bad_lead_email_is_named_and_nothing_is_written(run, home, world):
    (home / "customers.csv").write_text("account,name,lead_email\nACC-1001,Acme Logistics,not an address\n")
    out = run("import", str(home / "customers.csv"), expect=1)
    assert "lead_email" in out


def test_users_create_invite_and_disable(run, db, world):
    out = run("users", "create", "ops@acme.example", "--enterprise", "ENT-100", "--permission", "contacts")
    assert "changemgmt users invite ops@acme.example" in out
    said = run("users", "invite", "ops@acme.example").splitlines()
    assert said[0] == "invitation emailed to ops@acme.example through file; its link:"
    assert said[1].startswith("http://localhost:8000/invitation/")
    assert "no customer with account ACC-9" in run("users", "create", "x@acme.example", "--account", "ACC-9", expect=1)
    assert "role" in run("users", "create", "y@acme.example", expect=1)
    assert "disabled" in run("users", "disable", "ops@acme.example")
    with db() as session:
        user = find_user(session, "ops@acme.example")
        assert user.disabled_at is not None
        [grant] = session.query(models.AccessGrant).all()
        assert grant.permissions == ["contacts", "view"] and grant.scope == "enterprise"
    assert "is disabled" in run("users", "invite", "ops@acme.example", expect=1)
