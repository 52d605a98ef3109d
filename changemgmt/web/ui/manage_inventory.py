"""/manage/inventory: customers (each enterprise with its accounts), contacts, services
and locations, searched and a page at a time (inventory.listing, as the API lists them);
one customer's page with its accounts, contacts and services, and its account lead,
which a change manager may change (inventory.leads)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError, DomainErrors, NotFound, Problems
from changemgmt.domain.roles import Role
from changemgmt.domain.text import one_line
from changemgmt.inventory.exporter import COLUMNS
from changemgmt.inventory.fields import KIND_NAMES
from changemgmt.inventory.leads import LEAD_FIELDS, set_account_lead
from changemgmt.inventory.listing import KEYS, list_inventory
from changemgmt.store.models import User
from changemgmt.web.api.cursors import encode, key_of
from changemgmt.web.ui.context import form_with_csrf, not_found, page, problems_text, redirect, refused, ui_of
from changemgmt.web.ui.signin import STALE_FORM
from changemgmt.web.ui.staff import may, staff_user

router = APIRouter(prefix="/manage")
HERE = "/manage/inventory"
PAGE = 50
RELATED_MAX = 200  # a customer page's accounts, contacts and services, each


@router.get("/inventory")
def inventory_page(request: Request, kind: str = "customers", q: str = "", after: str | None = None) -> Response:
    with ui_of(request).transaction() as session:
        user = staff_user(request, session)
        if isinstance(user, Response):
            return user
        context = {"title": "Inventory", "user": user, "section": HERE, "kinds": KIND_NAMES, "kind": "customers"}
        problems = Problems()
        if kind not in KIND_NAMES:
            problems.add("kind", "must be one of " + ", ".join(KIND_NAMES))
        with problems.checking():
            q = one_line(q, "q", 100)
        with problems.checking():
            key = key_of(after, len(KEYS.get(kind, ()))) if kind in KIND_NAMES else None
        if problems:
            error = problems_text(DomainErrors(problems.errors))
            return page(request, "manage_inventory.html", {**context, "q": "", "rows": [], "error": error}, 422)
        found = list_inventory(session, kind, {}, key, PAGE, search=q or None)
        following = None
        if found.last_key is not None:
            following = HERE + "?" + urlencode({"kind": kind, "q": q, "after": encode(list(found.last_key))})
        context |= {"kind": kind, "q": q, "rows": found.rows, "columns": COLUMNS[kind], "next": following}
        return page(request, "manage_inventory.html", {**context, "error": None})


@router.get("/inventory/customers/{account}")
def customer_page(request: Request, account: str, saved: str = "") -> Response:
    with ui_of(request).transaction() as session:
        user = staff_user(request, session)
        if isinstance(user, Response):
            return user
        context = _customer(session, user, account)
        if context is None:
            return not_found(request)
        return page(request, "manage_customer.html", {**context, "saved": saved == "1"})


@router.post("/inventory/customers/{account}/lead")
async def set_lead(request: Request, account: str) -> Response:
    fields = await form_with_csrf(request)
    if fields is None:
        return refused(request, STALE_FORM)
    ui = ui_of(request)
    with ui.transaction() as session:
        user = staff_user(request, session, Role.CHANGE_MANAGER)
        if isinstance(user, Response):
            return user
        try:
            set_account_lead(session, account, fields, user.email, ui.clock())
        except NotFound:
            return not_found(request)
        except DomainError as exc:
            error = exc
        else:
            return redirect(request, f"{HERE}/customers/{account}?saved=1")
    with ui.transaction() as session:  # the lead as stored, beside what was typed and why it was refused
        user = staff_user(request, session)
        if isinstance(user, Response):
            return user
        context = _customer(session, user, account)
        if context is None:
            return not_found(request)
        lead = {name: fields.get(name, "") for name in LEAD_FIELDS}
        problems = {e.field: e.message for e in error.errors}
        return page(request, "manage_customer.html", {**context, "lead": lead, "problems": problems}, 422)


def _customer(session: Session, user: User, account: str) -> dict | None:
    """What a customer's page shows, or None when there is no such customer."""
    rows = list_inventory(session, "customers", {"account": account}, None, 1).rows
    if not rows:
        return None
    customer = rows[0]
    parent = None
    if customer["parent_account"]:
        parent = list_inventory(session, "customers", {"account": customer["parent_account"]}, None, 1).rows[0]
    return {
        "title": f"{customer['account']} · {customer['name']}",
        "user": user,
        "section": HERE,
        "customer": customer,
        "parent": parent,
        "accounts": list_inventory(session, "customers", {"parent_account": account}, None, RELATED_MAX).rows,
        "contacts": list_inventory(session, "contacts", {"account": account}, None, RELATED_MAX).rows,
        "services": list_inventory(session, "services", {"account": account}, None, RELATED_MAX).rows,
        "related_max": RELATED_MAX,
        "may_edit": may(user, Role.CHANGE_MANAGER),
        "lead": {name: customer[name] for name in LEAD_FIELDS},
        "problems": {},
        "saved": False,
    }
