"""/manage/inventory: customers (each enterprise with its accounts), contacts, services
and locations, searched and a page at a time (inventory.listing, as the API lists them);
one customer's page with its accounts, contacts and services, and its account lead,
which a change manager may change (inventory.leads)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError, NotFound, Problems
from changemgmt.domain.roles import Role
from changemgmt.domain.text import one_line
from changemgmt.inventory.exporter import COLUMNS
from changemgmt.inventory.fields import KIND_NAMES
from changemgmt.inventory.leads import LEAD_FIELDS, set_account_lead
from changemgmt.inventory.listing import KEYS, list_inventory
from changemgmt.store.models import User
from changemgmt.web.api.cursors import encode, key_of
from changemgmt.web.ui.context import not_found, page, problems_text, redirect, ui_of
from changemgmt.web.ui.staff import answering, may, staff_form, staff_user

router = APIRouter(prefix="/manage")
HERE = "/manage/inventory"
PAGE = 50
RELATED_MAX = 200  # a customer page's accounts, contacts and services, each


@router.get("/inventory")
@answering
def inventory_page(request: Request, kind: str = "customers", q: str = "", after: str | None = None) -> Response:
    with ui_of(request).transaction() as session:
        user = staff_user(request, session)
        context: dict[str, object] = {"title": "Inventory", "user": user, "section": HERE, "kinds": KIND_NAMES}
        try:
            kind, q, key = _asked(kind, q, after)
        except DomainError as exc:
            context |= {"kind": "customers", "q": "", "rows": [], "error": problems_text(exc)}
            return page(request, "manage_inventory.html", context, 422)
        found = list_inventory(session, kind, {}, key, PAGE, search=q or None)
        following = None
        if found.last_key is not None:
            following = HERE + "?" + urlencode({"kind": kind, "q": q, "after": encode(list(found.last_key))})
        context |= {
            "kind": kind,
            "q": q,
            "rows": found.rows,
            "columns": COLUMNS[kind],
            "next": following,
            "error": None,
        }
        return page(request, "manage_inventory.html", context)


def _asked(kind: str, q: str, after: str | None) -> tuple[str, str, tuple[str, ...] | None]:
    """The kind, the search and the key to list after, checked: DomainError names each
    field that is wrong."""
    problems = Problems()
    if kind not in KIND_NAMES:
        problems.add("kind", "must be one of " + ", ".join(KIND_NAMES))
    with problems.checking():
        q = one_line(q, "q", 100)
    with problems.checking():
        key = key_of(after, len(KEYS[kind])) if kind in KIND_NAMES else None
    problems.raise_any()
    return kind, q, key


@router.get("/inventory/customers/{account}")
@answering
def customer_page(request: Request, account: str, saved: str = "") -> Response:
    return _customer_page(request, account, {"saved": saved == "1"})


@router.post("/inventory/customers/{account}/lead")
@answering
async def set_lead(request: Request, account: str) -> Response:
    fields = await staff_form(request)
    ui = ui_of(request)
    with ui.transaction() as session:
        user = staff_user(request, session, Role.CHANGE_MANAGER)
        try:
            set_account_lead(session, account, fields, user.email, ui.clock())
        except NotFound:
            return not_found(request)
        except DomainError as exc:
            problems = {e.field: e.message for e in exc.errors}
        else:
            return redirect(request, f"{HERE}/customers/{quote(account, safe='')}?saved=1")
    typed = {name: fields.get(name, "") for name in LEAD_FIELDS}  # shown again, to be fixed
    return _customer_page(request, account, {"lead": typed, "problems": problems}, 422)


def _customer_page(request: Request, account: str, extra: dict, status: int = 200) -> Response:
    with ui_of(request).transaction() as session:
        context = _customer(session, staff_user(request, session), account)
        if context is None:
            return not_found(request)
        return page(request, "manage_customer.html", {**context, **extra}, status)


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
