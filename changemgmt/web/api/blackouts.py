"""/api/v1/blackouts: freeze periods, global or a customer's, as `changemgmt blackout`
lists, adds and removes them (gcrs.blackouts). Publishing or moving a GCR's windows into
one is refused with 409 unless the request gives `blackout_override` (a reason)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from changemgmt.domain.errors import Problems
from changemgmt.domain.text import one_line
from changemgmt.domain.windows import parse_bound, zone
from changemgmt.gcrs.blackouts import BlackoutQuery, add_blackout, list_blackouts, remove_blackout
from changemgmt.store.db import transaction
from changemgmt.web.api.bodies import json_object, query_time
from changemgmt.web.api.context import CHANGE_MANAGER, VIEWER, Caller
from changemgmt.web.api.idempotency import KEY_HEADER, idempotent
from changemgmt.web.api.openapi import body, role
from changemgmt.web.api.problems import described
from changemgmt.web.api.schemas import BlackoutIn, BlackoutList, BlackoutOut

router = APIRouter(prefix="/api/v1/blackouts", tags=["Conflicts and blackouts"])
ACCOUNT_MAX = 64
FIELDS = tuple(BlackoutIn.model_fields)


@router.get(
    "",
    summary="Blackouts by start. Role: viewer.",
    response_model=BlackoutList,
    responses=described(401, 403, 404, 422),
    openapi_extra=role("viewer"),
)
def blackouts(
    caller: Caller = VIEWER,
    start: str | None = Query(None, alias="from", description="Only blackouts ending after this time (ISO 8601)."),
    end: str | None = Query(None, alias="to", description="Only blackouts starting before this time."),
    account: str | None = Query(None, description="Only this customer's (and the global ones, with `global`)."),
    with_global: bool = Query(True, alias="global", description="With `account`: the global blackouts too."),
    removed: bool = Query(False, description="Include removed blackouts."),
) -> Response:
    query = BlackoutQuery(
        start=query_time(start, "from"),
        end=query_time(end, "to", end_of_day=True),
        account=one_line(account, "account", ACCOUNT_MAX, required=True) if account is not None else None,
        with_global=with_global,
        removed=removed,
    )
    with caller.api.sessions() as session:
        found = list_blackouts(session, query)
    return JSONResponse({"items": [b.to_json() for b in found]})


@router.post(
    "",
    status_code=201,
    summary="Add a blackout, global or a customer's (covering the accounts below it). Role: change_manager.",
    response_model=BlackoutOut,
    responses=described(401, 403, 413, 422),
    openapi_extra=body(BlackoutIn, role="change_manager"),
)
async def add(request: Request, caller: Caller = CHANGE_MANAGER, _key_header: str | None = KEY_HEADER) -> Response:
    raw = await request.body()

    def work(session: Session) -> Response:
        data = json_object(raw)
        problems = Problems()
        account, start, end = _read(data, problems)
        who = caller.who()
        added = add_blackout(session, account, start, end, data.get("reason"), who.actor, who.now, problems)
        return JSONResponse(added.to_json(), status_code=201)

    return await run_in_threadpool(idempotent, request, caller, raw, work)


def _read(data: dict[str, Any], problems: Problems) -> tuple[str | None, datetime | None, datetime | None]:
    """The account and times a request gives, adding to `problems` what cannot be read
    (add_blackout checks the rest, all at once)."""
    for name in sorted(str(k)[:64] for k in data if k not in FIELDS):
        problems.add(name, f"unknown field (known: {', '.join(FIELDS)})")
    account = time_zone = None
    with problems.checking():
        if data.get("account") is not None:
            account = one_line(data["account"], "account", ACCOUNT_MAX)
            if not account:  # not a global blackout by mistake: that is no `account` at all
                problems.add("account", "must not be empty; leave it out for a global blackout")
    with problems.checking():
        time_zone = zone(one_line(data.get("time_zone") or "UTC", "time_zone", 64, required=True)).key
    times: dict[str, datetime] = {}
    for name in ("start", "end"):
        if data.get(name) is None:
            problems.add(name, "is required")
            continue
        with problems.checking():
            raw = one_line(data[name], name, 64, required=True)
            times[name] = parse_bound(raw, time_zone, name, end_of_day=name == "end")
    return account, times.get("start"), times.get("end")


@router.delete(
    "/{blackout_id}",
    summary="Remove a blackout (it stays in the audit trail, and in the list with `removed`). Role: change_manager.",
    response_model=BlackoutOut,
    responses=described(401, 403, 404, 422),
    openapi_extra=role("change_manager"),
)
def remove(blackout_id: int = Path(ge=1, le=2**31 - 1), caller: Caller = CHANGE_MANAGER) -> Response:
    who = caller.who()
    with transaction(caller.api.sessions) as session:
        removed = remove_blackout(session, blackout_id, who.actor, who.now)
    return JSONResponse(removed.to_json())
