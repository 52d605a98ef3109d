"""/api/v1/gcrs/{number}/deliveries/retry: failed deliveries back in the queue, through
the same delivery.operations.retry_deliveries as `changemgmt deliveries retry`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from changemgmt.delivery.operations import retry_deliveries
from changemgmt.domain.errors import DomainError
from changemgmt.domain.text import one_line
from changemgmt.web.api.bodies import json_object
from changemgmt.web.api.context import CHANGE_MANAGER, Caller
from changemgmt.web.api.idempotency import idempotent
from changemgmt.web.api.openapi import body
from changemgmt.web.api.problems import described
from changemgmt.web.api.schemas import RetriedList, Retry

IDS_MAX = 1000

router = APIRouter(prefix="/api/v1/gcrs/{number}/deliveries", tags=["Notices and deliveries"])


@router.post(
    "/retry",
    summary="Send failed deliveries of the GCR again: those named, or every failed one. Role: change_manager.",
    response_model=RetriedList,
    responses=described(401, 403, 404, 409, 413, 422),
    openapi_extra=body(Retry, required=False, role="change_manager"),
)
async def retry(number: str, request: Request, caller: Caller = CHANGE_MANAGER) -> Response:
    raw = await request.body()

    def work(session: Session) -> Response:
        gcr = one_line(number, "number", 100, required=True)
        ids = _ids(json_object(raw, required=False))
        who = caller.who()
        if ids:
            retried = retry_deliveries(session, ids=ids, now=who.now, actor=who.actor)
            others = sorted(r.id for r in retried if r.gcr != gcr)
            if others:  # raised before the commit: nothing is retried
                raise DomainError("ids", f"not deliveries of {gcr}: {', '.join(map(str, others))}")
        else:
            retried = retry_deliveries(session, gcr=gcr, failed=True, now=who.now, actor=who.actor)
        return JSONResponse({"retried": [r.to_json() for r in retried]})

    return await run_in_threadpool(idempotent, request, caller, raw, work)


def _ids(data: dict) -> list[int] | None:
    unknown = sorted(set(data) - set(Retry.model_fields))
    if unknown:
        raise DomainError(unknown[0], "is not a field of a retry (ids)")
    ids = data.get("ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise DomainError("ids", "must be a list of delivery ids (whole numbers)")
    if len(ids) > IDS_MAX:
        raise DomainError("ids", f"at most {IDS_MAX} deliveries at a time")
    return ids
