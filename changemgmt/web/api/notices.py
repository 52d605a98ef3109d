"""/api/v1/gcrs/{number}/notices: a GCR's notices, each with its deliveries and their
recipients, in their states, a page at a time (by notice id)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from changemgmt.domain.states import NoticeState
from changemgmt.domain.text import one_line
from changemgmt.store.bulk import among
from changemgmt.store.models import Customer, Delivery, Notice, Recipient
from changemgmt.store.queries import get_gcr
from changemgmt.web.api.bodies import iso
from changemgmt.web.api.context import VIEWER, Caller
from changemgmt.web.api.cursors import encode, offset_of
from changemgmt.web.api.openapi import role
from changemgmt.web.api.problems import described
from changemgmt.web.api.schemas import NoticeList

router = APIRouter(prefix="/api/v1/gcrs/{number}/notices", tags=["Notices and deliveries"])
PAGE_MAX = 1000


@router.get(
    "",
    summary="The GCR's notices, with their deliveries and recipients, oldest first. Role: viewer.",
    response_model=NoticeList,
    responses=described(401, 403, 404, 422),
    openapi_extra=role("viewer"),
)
def notices(
    number: str,
    caller: Caller = VIEWER,
    state: NoticeState | None = Query(None, description="Only notices in this state."),
    account: str | None = Query(None, max_length=64, description="Only the notices to this customer."),
    limit: int = Query(100, ge=1, le=PAGE_MAX),
    cursor: str | None = Query(None, max_length=100),
) -> Response:
    after = offset_of(cursor)  # the id of the last notice of the previous page
    with caller.api.sessions() as session:
        gcr = get_gcr(session, one_line(number, "number", 100, required=True))
        query = (
            select(Notice, Customer.account)
            .join(Customer, Customer.id == Notice.customer_id)
            .where(Notice.gcr_id == gcr.id, Notice.id > after)
            .order_by(Notice.id)
            .limit(limit + 1)
        )
        if state is not None:
            query = query.where(Notice.state == state.value)
        if account is not None:
            query = query.where(Customer.account == one_line(account, "account", 64))
        rows = session.execute(query).all()[: limit + 1]
        more = len(rows) > limit
        rows = rows[:limit]
        deliveries = _deliveries(session, [notice.id for notice, _ in rows])
    items = [
        {
            "id": notice.id,
            "account": account_,
            "kind": notice.kind,
            "revision": notice.revision,
            "window_number": notice.window_number,
            "state": notice.state,
            "due_at": iso(notice.due_at),
            "skip_reason": notice.skip_reason,
            "deliveries": deliveries.get(notice.id, []),
        }
        for notice, account_ in rows
    ]
    return JSONResponse({"items": items, "next_cursor": encode(rows[-1][0].id) if more else None})


def _deliveries(session, notice_ids: list[int]) -> dict[int, list[dict]]:
    if not notice_ids:
        return {}
    recipients: dict[int, list[dict]] = {}
    for r in session.scalars(select(Recipient).where(among(Recipient.notice_id, notice_ids)).order_by(Recipient.id)):
        recipients.setdefault(r.delivery_id, []).append(
            {"contact_id": r.contact_id, "email": r.email, "state": r.state}
        )
    found: dict[int, list[dict]] = {}
    for d in session.scalars(select(Delivery).where(among(Delivery.notice_id, notice_ids)).order_by(Delivery.id)):
        found.setdefault(d.notice_id, []).append(
            {
                "id": d.id,
                "state": d.state,
                "attempts": d.attempts,
                "next_attempt_at": iso(d.next_attempt_at),
                "sent_at": iso(d.sent_at),
                "last_error": d.last_error,
                "provider_message_id": d.provider_message_id,
                "recipients": recipients.get(d.id, []),
            }
        )
    return found
