"""/api/v1/gcrs: create, list and search, read, change, publish, start, complete, cancel,
preview; the GCR's audit trail. Every change goes through gcrs.service, as the CLI's do,
and answers the GCR as it is after the change, with its ETag."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from changemgmt.delivery.preview import preview_message
from changemgmt.domain.errors import DomainError
from changemgmt.domain.policy import check_cancel_reason
from changemgmt.domain.status import Status
from changemgmt.domain.text import one_line
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.listing import GcrQuery, list_gcrs
from changemgmt.gcrs.present import gcr_document
from changemgmt.gcrs.service import GcrChange, change_status, create_gcr, update_gcr
from changemgmt.store.db import transaction
from changemgmt.store.models import AuditEntry
from changemgmt.store.queries import get_gcr, lock_gcr
from changemgmt.web.api.bodies import iso, json_object, query_time
from changemgmt.web.api.context import CHANGE_MANAGER, VIEWER, Caller
from changemgmt.web.api.cursors import encode, offset_of
from changemgmt.web.api.etags import check_if_match, gcr_etag
from changemgmt.web.api.idempotency import KEY_HEADER, idempotent
from changemgmt.web.api.openapi import body, role
from changemgmt.web.api.problems import described
from changemgmt.web.api.schemas import (
    AuditPage,
    Cancel,
    ChangeOut,
    GcrCreate,
    GcrFields,
    GcrOut,
    GcrPage,
    PreviewOut,
    Publish,
    StatusChange,
)

router = APIRouter(prefix="/api/v1/gcrs", tags=["GCRs"])
PAGE_MAX = 500
KEY_MAX = 100  # GCR numbers, accounts, service IDs and location codes in a path or query
READ_ERRORS = described(401, 403, 404, 422)
CHANGE_ERRORS = described(401, 403, 404, 409, 412, 413, 422)
IF_MATCH = Header(None, alias="If-Match", description="The ETag read: the change is made only if it still holds.")


def _key(value: str, field: str) -> str:
    return one_line(value, field, KEY_MAX, required=True)


def _gcr_response(session: Session, change: GcrChange | None, number: str, status: int = 200) -> JSONResponse:
    gcr = change.gcr if change else get_gcr(session, number)
    document = gcr_document(session, gcr)
    if change is not None:
        planned = dict(change.plan.planned) if change.plan else {}
        document = {
            "revision": change.revision,
            "changes": sorted(change.changes),
            "notices_planned": planned,
            "conflicts": [c.to_json() for c in change.conflicts],
            "blackouts_overridden": [b.to_json() for b in change.blackouts_overridden],
            "gcr": document,
        }
    headers = {"etag": gcr_etag(session, gcr)}
    if status == 201:
        headers["location"] = f"{router.prefix}/{gcr.number}"
    return JSONResponse(document, status_code=status, headers=headers)


@router.post(
    "",
    status_code=201,
    summary="Create a GCR (a draft, or published at once). Role: change_manager.",
    response_model=ChangeOut,
    responses=CHANGE_ERRORS,
    openapi_extra=body(GcrCreate, role="change_manager"),
)
async def create(request: Request, caller: Caller = CHANGE_MANAGER, _key_header: str | None = KEY_HEADER) -> Response:
    raw = await request.body()

    def work(session: Session) -> Response:
        data = json_object(raw)
        publish, overrides = data.pop("publish", None), _overrides(data)
        data.pop("status", None)  # as `gcr create` ignores it in a file: publish says what to publish as
        if publish not in (None, "tentative", "confirmed"):
            raise DomainError("publish", "must be tentative or confirmed")
        change = create_gcr(session, parse_patch(data), caller.who())
        if publish:
            change = change_status(session, change.gcr.number, Status(publish), caller.who(), **overrides)
        return _gcr_response(session, change, change.gcr.number, 201)

    return await run_in_threadpool(idempotent, request, caller, raw, work)


@router.get(
    "",
    summary="List and search GCRs: what is next first. Role: viewer.",
    response_model=GcrPage,
    responses=READ_ERRORS,
    openapi_extra=role("viewer"),
)
def search(
    caller: Caller = VIEWER,
    status: list[Status] = Query([], description="Only GCRs in these statuses (repeatable)."),
    start: str | None = Query(None, alias="from", description="With a window ending after this time (ISO 8601)."),
    end: str | None = Query(None, alias="to", description="With a window starting before this time."),
    customer: str | None = Query(
        None, description="Impacting this account's services (an enterprise's: its accounts')."
    ),
    service: str | None = Query(None, description="Impacting this service."),
    location: str | None = Query(None, description="Listing this location, or impacting a service that ends there."),
    q: str | None = Query(None, max_length=200, description="Words in the number, title or description."),
    limit: int = Query(50, ge=1, le=PAGE_MAX),
    cursor: str | None = Query(None, max_length=100),
) -> Response:
    offset = offset_of(cursor)
    query = GcrQuery(
        statuses=tuple(status),
        start=query_time(start, "from"),
        end=query_time(end, "to", end_of_day=True),
        account=_key(customer, "customer") if customer is not None else None,
        service_id=_key(service, "service") if service is not None else None,
        location_code=_key(location, "location") if location is not None else None,
        text=one_line(q, "q", 200) or None if q is not None else None,
        limit=limit + 1,
        offset=offset,
    )
    with caller.api.sessions() as session:
        found = list_gcrs(session, query, caller.api.clock())
    more = len(found) > limit
    return JSONResponse(
        {
            "items": [g.to_json() for g in found[:limit]],
            "next_cursor": encode(offset + limit) if more else None,
        }
    )


@router.get(
    "/{number}",
    summary="A GCR: its state, windows, impacted customers and history, with its ETag. Role: viewer.",
    response_model=GcrOut,
    responses=READ_ERRORS,
    openapi_extra=role("viewer"),
)
def read(number: str, caller: Caller = VIEWER) -> Response:
    with caller.api.sessions() as session:
        return _gcr_response(session, None, _key(number, "number"))


@router.patch(
    "/{number}",
    summary="Change a GCR's fields (windows, impacts, text, contact, emergency). Role: change_manager.",
    response_model=ChangeOut,
    responses=CHANGE_ERRORS,
    openapi_extra=body(GcrFields, role="change_manager"),
)
async def patch(
    number: str, request: Request, caller: Caller = CHANGE_MANAGER, if_match: str | None = IF_MATCH
) -> Response:
    raw = await request.body()

    def work() -> Response:
        with transaction(caller.api.sessions) as session:
            data = json_object(raw)
            overrides = _overrides(data)
            gcr = lock_gcr(session, _key(number, "number"))
            check_if_match(if_match, gcr_etag(session, gcr))
            change = update_gcr(session, gcr.number, parse_patch(data), caller.who(), **overrides)
            return _gcr_response(session, change, gcr.number)

    return await run_in_threadpool(work)


def _overrides(data: dict[str, Any]) -> dict[str, Any]:
    """Takes out of a GCR body the reasons to override the minimum notice and a blackout
    (not fields of the GCR: they are recorded with the change)."""
    return {name: data.pop(name, None) for name in ("override_reason", "blackout_override")}


def _status_route(action: str, model: type, summary: str):
    @router.post(
        f"/{{number}}/{action}",
        summary=summary,
        response_model=ChangeOut,
        responses=CHANGE_ERRORS,
        openapi_extra=body(model, required=action == "cancel", role="change_manager"),
        name=action,
    )
    async def change(
        number: str,
        request: Request,
        caller: Caller = CHANGE_MANAGER,
        if_match: str | None = IF_MATCH,
        _key_header: str | None = KEY_HEADER,
    ) -> Response:
        raw = await request.body()

        def work(session: Session) -> Response:
            data = json_object(raw, required=action == "cancel")
            target, options = _status_request(action, data)
            gcr = lock_gcr(session, _key(number, "number"))
            check_if_match(if_match, gcr_etag(session, gcr))
            change = change_status(session, gcr.number, target, caller.who(), **options)
            return _gcr_response(session, change, gcr.number)

        return await run_in_threadpool(idempotent, request, caller, raw, work)

    return change


def _status_request(action: str, data: dict[str, Any]) -> tuple[Status, dict[str, Any]]:
    """The status an action asks for, and the options its body gives (checked as the
    CLI's flags are: unknown fields named)."""
    known = {"publish": ("tentative", "override_reason", "blackout_override"), "cancel": ("reason",)}.get(
        action, ("reason",)
    )
    unknown = sorted(str(k)[:64] for k in data if k not in known)
    if unknown:
        raise DomainError(unknown[0], f"unknown field (known: {', '.join(known)})")
    if action == "publish":
        tentative = data.get("tentative", False)
        if not isinstance(tentative, bool):
            raise DomainError("tentative", "must be true or false")
        return (Status.TENTATIVE if tentative else Status.CONFIRMED), _overrides(data)
    if action == "cancel":
        check_cancel_reason(data.get("reason"))
    targets = {"start": Status.IN_PROGRESS, "complete": Status.COMPLETED, "cancel": Status.CANCELLED}
    return targets[action], {"reason": data.get("reason")}


_status_route(
    "publish", Publish, "Publish a draft (confirmed, or tentative), or confirm a tentative GCR. Role: change_manager."
)
_status_route("start", StatusChange, "Mark the GCR in progress. Role: change_manager.")
_status_route("complete", StatusChange, "Mark the GCR completed. Role: change_manager.")
_status_route("cancel", Cancel, "Cancel the GCR, saying why. Role: change_manager.")


@router.get(
    "/{number}/preview",
    summary="The exact email (parts and .ics) an account would get about the GCR now. Role: viewer.",
    response_model=PreviewOut,
    responses=READ_ERRORS,
    openapi_extra=role("viewer"),
)
def preview(
    number: str,
    account: str = Query(description="The customer account to preview for."),
    kind: str | None = Query(None, description="Notice kind (default: the first the account would get now)."),
    tentative: bool = Query(False, description="For a draft: as published tentative."),
    caller: Caller = VIEWER,
) -> Response:
    settings = caller.api.settings
    with caller.api.sessions() as session:
        message = preview_message(
            session,
            settings,
            _key(number, "number"),
            _key(account, "account"),
            one_line(kind, "kind", 40) if kind is not None else None,
            tentative,
            caller.api.clock(),
        )
    first = message.recipients[0] if message.recipients else None
    return JSONResponse(
        {
            "account": account,
            "to": [r.email for r in message.recipients],
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
            "ics": message.ics.decode("utf-8"),
            "ics_filename": message.ics_filename,
            "email": message.email_for(first).as_string(),
        }
    )


@router.get(
    "/{number}/audit",
    summary="The GCR's audit trail: every change, who made it and when. Role: viewer.",
    response_model=AuditPage,
    responses=READ_ERRORS,
    openapi_extra=role("viewer"),
)
def audit(number: str, caller: Caller = VIEWER) -> Response:
    with caller.api.sessions() as session:
        gcr = get_gcr(session, _key(number, "number"))
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "gcr", AuditEntry.entity_key == gcr.number)
            .order_by(AuditEntry.id)
        )
        items = [{"at": iso(a.at), "actor": a.actor, "action": a.action, "details": a.details} for a in entries]
    return JSONResponse({"items": items})
