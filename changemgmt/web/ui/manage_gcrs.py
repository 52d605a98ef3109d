"""The change manager's GCR pages under /manage/gcrs: the list with its search and
filters (gcrs.listing, as `gcr list` and the API's search), and one GCR with what it
affects, its warnings, the actions its status allows and its timeline."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.domain.errors import DomainError, Problems
from changemgmt.domain.notice import status_label
from changemgmt.domain.status import Status
from changemgmt.domain.text import one_line
from changemgmt.domain.windows import parse_instant
from changemgmt.gcrs.listing import GcrQuery, list_gcrs
from changemgmt.store.models import Customer, Gcr, Location, Service
from changemgmt.store.queries import find_gcr
from changemgmt.web.ui.context import not_found, redirect, ui_of
from changemgmt.web.ui.gcr_view import gcr_view
from changemgmt.web.ui.staff import Answer, staff_page, staff_user

router = APIRouter(prefix="/manage")
PAGE_SIZE = 25
FILTERS = ("q", "status", "from", "to", "customer", "service", "location")
KEY_MAX = 100


@router.get("/")
def manage_home(request: Request) -> Response:
    return redirect(request, "/manage/gcrs")


@router.get("/gcrs")
def gcr_list(request: Request) -> Response:
    ui = ui_of(request)
    given = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    raw_page = request.query_params.get("page", "")
    page = min(max(int(raw_page), 1), 10_000) if raw_page.isdigit() and len(raw_page) < 6 else 1
    with ui.transaction() as session:
        try:
            user = staff_user(request, session)
        except Answer as refusal:
            return refusal.response
        jump = session.scalar(select(Gcr.number).where(Gcr.number == given["q"])) if given["q"] else None
        if jump:  # a GCR's number: its page
            return redirect(request, f"/manage/gcrs/{quote(jump)}")
        problems, found = Problems(), []
        with problems.checking():
            query = _query(given, user.time_zone, page)
        problems.errors.extend(_unknown(session, given))
        if not problems:
            found = list_gcrs(session, query, ui.clock())
        more = len(found) > PAGE_SIZE
        context = {
            "title": "GCRs",
            "filters": given,
            "statuses": list(Status),
            "status_label": status_label,
            "gcrs": found[:PAGE_SIZE],
            "now": ui.clock(),
            "errors": problems.errors,
            "page": page,
            "previous_url": _page_url(given, page - 1) if page > 1 else None,
            "next_url": _page_url(given, page + 1) if more else None,
        }
        return staff_page(request, user, "manage_gcrs.html", context, 422 if problems else 200)


def _query(given: dict[str, str], time_zone: str, page: int) -> GcrQuery:
    """The list's query from the form; dates are days in the manager's zone, `to` included."""
    problems = Problems()
    values: dict = {}
    with problems.checking():
        values["statuses"] = (Status.parse(given["status"]),) if given["status"] else ()
    for name, attribute, days in (("from", "start", 0), ("to", "end", 1)):
        with problems.checking():
            values[attribute] = _day(given[name], time_zone, name, days)
    for name, attribute in (("customer", "account"), ("service", "service_id"), ("location", "location_code")):
        with problems.checking():
            values[attribute] = one_line(given[name], name, KEY_MAX) or None
    with problems.checking():
        values["text"] = one_line(given["q"], "q", 200) or None
    start, end = values.get("start"), values.get("end")
    if start and end and end <= start:
        problems.add("to", "must not be before the from date")
    problems.raise_any()
    return GcrQuery(**values, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)


def _day(raw: str, time_zone: str, field: str, days: int) -> datetime | None:
    if not raw:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise DomainError(field, f"{raw[:40]!r} is not a date (YYYY-MM-DD)")
    try:
        day = datetime.fromisoformat(raw) + timedelta(days=days)
    except ValueError:
        raise DomainError(field, f"{raw!r} is not a date") from None
    return parse_instant(day, time_zone, field)


def _unknown(session: Session, given: dict[str, str]) -> list[DomainError]:
    """The customer, service and location given that do not exist, each named."""
    lookups = (
        ("customer", Customer.account, "no customer with account"),
        ("service", Service.service_id, "no service with ID"),
        ("location", Location.code, "no location with code"),
    )
    return [
        DomainError(name, f"{missing} {given[name]!r}")
        for name, column, missing in lookups
        if given[name] and session.scalar(select(column).where(column == given[name])) is None
    ]


def _page_url(given: dict[str, str], page: int) -> str:
    wanted = {k: v for k, v in given.items() if v}
    return "/manage/gcrs?" + urlencode({**wanted, "page": page})


@router.get("/gcrs/{number}")
def gcr_page(request: Request, number: str, done: str | None = None) -> Response:
    return render_gcr(request, number, [], {}, 200, done)


def render_gcr(
    request: Request,
    number: str,
    errors: list[DomainError],
    form: dict[str, str],
    status: int,
    done: str | None = None,
) -> Response:
    """The GCR's page; with the problems of a form just posted (its values kept)."""
    ui = ui_of(request)
    with ui.transaction() as session:
        try:
            user = staff_user(request, session)
        except Answer as refusal:
            return refusal.response
        gcr = find_gcr(session, number)
        if gcr is None:
            return not_found(request)
        view = gcr_view(session, ui.settings, gcr, ui.clock())
        context = {"title": gcr.number, **view, "errors": errors, "form": form, "done": DONE.get(done or "")}
        return staff_page(request, user, "manage_gcr.html", context, status)


DONE = {
    "created": "GCR created as a draft.",
    "saved": "Changes saved.",
    "publish": "Published: the affected customers' notices are planned.",
    "confirm": "Confirmed.",
    "start": "Marked in progress.",
    "complete": "Completed.",
    "cancel": "Cancelled: the customers who were told are told it is cancelled.",
    "retried": "The delivery is queued to be sent again.",
}
