"""/api/v1/conflicts: the pairs of published GCRs whose windows overlap in a period and
which impact the same service, customer or location (what `changemgmt conflicts` lists)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from changemgmt.domain.errors import DomainError
from changemgmt.gcrs.conflicts import PERIOD, conflicts_between
from changemgmt.web.api.bodies import iso, query_time
from changemgmt.web.api.context import VIEWER, Caller
from changemgmt.web.api.openapi import role
from changemgmt.web.api.problems import described
from changemgmt.web.api.schemas import ConflictList

router = APIRouter(prefix="/api/v1/conflicts", tags=["Conflicts and blackouts"])
# Every published GCR in the period is compared with every other: a bounded period keeps
# one request from comparing years of work.
PERIOD_MAX = timedelta(days=366)


@router.get(
    "",
    summary="Published GCRs that conflict in a period, each pair once. Role: viewer.",
    response_model=ConflictList,
    responses=described(401, 403, 422),
    openapi_extra=role("viewer"),
)
def conflicts(
    caller: Caller = VIEWER,
    start: str | None = Query(None, alias="from", description="Start of the period (ISO 8601; default now)."),
    end: str | None = Query(
        None, alias="to", description="End of the period (a date alone: the end of that day; default 90 days on)."
    ),
) -> Response:
    begin = query_time(start, "from") or caller.api.clock()
    finish = query_time(end, "to", end_of_day=True) or _after(begin, PERIOD)
    if finish <= begin:
        raise DomainError("to", "must be after from")
    if finish - begin > PERIOD_MAX:
        raise DomainError("to", f"the period may be at most {PERIOD_MAX.days} days")
    with caller.api.sessions() as session:
        pairs = conflicts_between(session, begin, finish)
    return JSONResponse({"from": iso(begin), "to": iso(finish), "items": [p.to_json() for p in pairs]})


def _after(begin: datetime, period: timedelta) -> datetime:
    try:
        return begin + period
    except OverflowError:
        raise DomainError("from", "is out of range") from None
