"""The demo's two sign-ins: a change manager, and a customer user with every permission
on the enterprise ID the demo's GCRs impact most (its default), so the portal has
maintenance, contacts and users to show. Their passwords are made up when they are
made and printed once, for the demo only; a second run leaves them as they are."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from changemgmt.demo.sample import Sample, Step
from changemgmt.domain.access import Permission, Scope
from changemgmt.domain.roles import Role
from changemgmt.feeds.registry import customer_by_account
from changemgmt.store.db import transaction
from changemgmt.users.access import grant_access
from changemgmt.users.accounts import UserKind, create_user, find_user

MANAGER = "manager@demo.example"
CUSTOMER = "customer@demo.example"


@dataclass(frozen=True)
class DemoUser:
    email: str
    what: str
    password: str | None  # None: made by an earlier run, its password printed then


def busiest_enterprise(sample: Sample, steps: list[Step]) -> str:
    """The enterprise ID whose accounts the history's GCRs impact most (the first on a tie)."""
    owner = {s["service_id"]: s["account"] for s in sample.services}
    parent = {c["account"]: c["parent_account"] for c in sample.customers}
    impacted = Counter(
        parent.get(owner.get(impact["service"], ""), "")
        for step in steps
        for impact in step.document.get("impacts", [])
    )
    enterprises = [c["account"] for c in sample.customers if c["account"].startswith("ENT-")]
    return min(enterprises, key=lambda account: (-impacted[account], account))


def _password() -> str:
    return "demo-" + "-".join(secrets.token_hex(3) for _ in range(3))


def demo_users(db: sessionmaker[Session], enterprise: str, time_zone: str, actor: str, now: datetime) -> list[DemoUser]:
    """Makes the two users when they do not exist yet."""
    made = []
    with transaction(db) as session:
        customer = customer_by_account(session, enterprise)
        name = customer.name if customer else ""
        for email, kind in ((MANAGER, UserKind.STAFF), (CUSTOMER, UserKind.CUSTOMER)):
            password = None if find_user(session, email) else _password()
            if password is not None:
                _make(session, email, kind, password, enterprise, time_zone, actor, now)
            what = (
                "change manager"
                if kind is UserKind.STAFF
                else f"customer user of {enterprise} {name}, every permission"
            )
            made.append(DemoUser(email, what, password))
    return made


def _make(
    session: Session,
    email: str,
    kind: UserKind,
    password: str,
    enterprise: str,
    time_zone: str,
    actor: str,
    now: datetime,
) -> None:
    staff = kind is UserKind.STAFF
    user = create_user(
        session,
        email=email,
        name="Demo change manager" if staff else "Demo customer",
        kind=kind,
        role=Role.CHANGE_MANAGER if staff else None,
        time_zone=time_zone,
        actor=actor,
        now=now,
        password=password,
    )
    if not staff:
        grant_access(session, user, enterprise, Scope.ENTERPRISE, frozenset(Permission), actor, now)
