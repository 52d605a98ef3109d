"""Portal isolation as a property (hypothesis): random enterprises, accounts, grants and
GCRs; every page a user can reach (its lists, contacts and users, the GCR pages it may
open, their .ics)
names none of another customer's services, accounts or names, and every GCR page it may
not open is not found."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from changemgmt.domain.access import Scope
from changemgmt.store import models
from changemgmt.store.db import transaction
from conftest import empty_database
from support.gcrs import Desk
from support.portal import ADMIN, customer_user, portal_server, session_cookie

WORLDS = st.fixed_dictionaries(
    {
        # per enterprise: how many child accounts (0: a lone account)
        "enterprises": st.lists(st.integers(0, 2), min_size=2, max_size=4),
        # per GCR: which (enterprise, account) pairs' services it impacts
        "gcrs": st.lists(
            st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=3), min_size=1, max_size=4
        ),
        # the grants of the user: (enterprise, account or None for the whole enterprise)
        "grants": st.lists(
            st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(0, 2))), min_size=1, max_size=3
        ),
    }
)


def _build(db, world):
    """Customers ENT-<e> (a parent when it has children) with ACC-<e>-<a>, one service each,
    named so that any mention is found by its text."""
    owners = {}
    with transaction(db) as session:
        for e, children in enumerate(world["enterprises"]):
            parent = models.Customer(account=f"ENT-{e}", name=f"Enterprise Name {e}", time_zone="UTC")
            session.add(parent)
            owners[(e, None)] = parent
            for a in range(children):
                child = models.Customer(
                    account=f"ACC-{e}-{a}", name=f"Account Name {e}x{a}", time_zone="UTC", parent=parent
                )
                session.add(child)
                owners[(e, a)] = child
        session.flush()
        for (e, a), customer in owners.items():
            session.add(models.Service(service_id=_service(e, a), customer=customer, product="Ethernet"))
            contact = f"Contact of {customer.account}"  # names the account: a leak is found by it
            session.add(models.Contact(customer=customer, email=f"c{e}x{a}@example.com", name=contact))
    return {key: (c.account, c.name, _service(*key)) for key, c in owners.items()}


def _service(e, a):
    """A service ID that is no part of another's (SVCP-1 is not in SVCA-1-0)."""
    return f"SVCP-{e}" if a is None else f"SVCA-{e}-{a}"


def _resolve(world, pair):
    e, a = pair
    if e >= len(world["enterprises"]):
        return None
    return (e, a) if a is not None and a < world["enterprises"][e] else (e, None)


def test_no_page_a_user_reaches_names_anything_it_may_not_see(db, settings, clock, engine):
    with portal_server(settings, clock) as url:

        @hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(WORLDS)
        def check(world):
            empty_database(engine)
            owners = _build(db, world)
            desk = Desk(db, settings, clock)
            impacted_by = {}
            for n, impacts in enumerate(world["gcrs"]):
                keys = sorted({k for k in (_resolve(world, p) for p in impacts) if k is not None}, key=str)
                if not keys:
                    continue
                number = f"GCR-{7000 + n}"
                desk.publish(
                    {
                        "number": number,
                        "title": f"Work {n}",
                        "description": "Planned work.",
                        "windows": [{"start": "2026-12-01T07:00Z", "end": "2026-12-01T09:00Z"}],
                        "impacts": [{"service": owners[k][2], "impact": "OUTAGE"} for k in keys],
                    }
                )
                impacted_by[number] = set(keys)
            grants = {}
            for e, a in world["grants"]:
                key = _resolve(world, (e, a))
                if key is None:
                    continue
                scope = Scope.ENTERPRISE if a is None or key[1] is None else Scope.ACCOUNT
                grants[key] = scope
            if not grants:
                return
            everyone = [(owners[k][0], Scope.ENTERPRISE) for k in owners if k[1] is None]
            customer_user(db, clock, "all@example.com", everyone, password=None)  # on every users page
            user = customer_user(
                db,
                clock,
                "u@example.com",
                [(owners[k][0], s) for k, s in grants.items()],
                password=None,
                permissions=ADMIN,
            )
            visible = set()
            for (e, a), scope in grants.items():
                if scope is Scope.ENTERPRISE and a is None:
                    visible |= {k for k in owners if k[0] == e}
                else:
                    visible.add((e, a))
            hidden = [owners[k] for k in owners if k not in visible]
            client = httpx.Client(base_url=url, cookies={"cm_session": session_cookie(settings, user, 0, clock())})
            for key in grants:
                root = owners[key][0]
                pages = [client.get(f"/portal/{root}/{page}") for page in ("", "subscribe", "contacts", "users")]
                for number, keys in impacted_by.items():
                    reply = client.get(f"/portal/{root}/gcrs/{number}")
                    scope_keys = {k for k in owners if (k in visible and _covers(key, grants[key], k))}
                    if keys & scope_keys:
                        assert reply.status_code == 200
                        pages.append(reply)
                        for k in keys & scope_keys:
                            pages.append(client.get(f"/portal/{root}/gcrs/{number}/{owners[k][0]}.ics"))
                    else:
                        assert reply.status_code == 404
                for page in pages:
                    assert page.status_code == 200
                    text = page.text
                    for account, name, service in hidden:
                        assert account not in text and name not in text and service not in text, (account, page.url)

        check()


def _covers(root, scope, key):
    if scope is Scope.ENTERPRISE and root[1] is None:
        return key[0] == root[0]
    return key == root
