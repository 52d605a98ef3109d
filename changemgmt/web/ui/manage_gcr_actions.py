"""The status actions on a GCR's page (publish, confirm, start, complete, cancel) and
retrying its failed deliveries: each a form posted with the GCR's version, done by
gcrs.service.change_status or delivery.operations.retry_deliveries as the API does.
A refusal shows the GCR's page again with the problems named; nothing is changed."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from changemgmt.delivery.operations import retry_deliveries
from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.domain.policy import check_cancel_reason
from changemgmt.domain.status import Status
from changemgmt.gcrs.service import change_status
from changemgmt.store.models import Delivery, Gcr, Notice, User
from changemgmt.store.queries import gcr_version, lock_gcr
from changemgmt.web.ui.context import form_with_csrf, not_found, redirect, refused, ui_of
from changemgmt.web.ui.manage_gcr_edit import Stale, stale_message
from changemgmt.web.ui.manage_gcrs import render_gcr
from changemgmt.web.ui.signin import STALE_FORM
from changemgmt.web.ui.staff import Answer, changer, who

router = APIRouter(prefix="/manage/gcrs")
TARGETS = {
    "publish": None,  # confirmed, or tentative when asked
    "confirm": Status.CONFIRMED,
    "start": Status.IN_PROGRESS,
    "complete": Status.COMPLETED,
    "cancel": Status.CANCELLED,
}


@router.post("/{number}/deliveries/{delivery_id}/retry")
async def retry(request: Request, number: str, delivery_id: str) -> Response:
    if not delivery_id.isdigit() or len(delivery_id) > 18:
        return not_found(request)

    def work(session: Session, user: User, fields: dict[str, str]) -> None:
        owner = session.scalar(
            select(Gcr.number)
            .join(Notice, Notice.gcr_id == Gcr.id)
            .join(Delivery, Delivery.notice_id == Notice.id)
            .where(Delivery.id == int(delivery_id))
        )
        if owner != number:
            raise NotFound(f"no delivery {delivery_id} of {number}")
        retry_deliveries(session, ids=[int(delivery_id)], now=ui_of(request).clock(), actor=user.email)

    return await _changing(request, number, work, "retried#notices")


@router.post("/{number}/{action}")
async def act(request: Request, number: str, action: str) -> Response:
    if action not in TARGETS:
        return not_found(request)

    def work(session: Session, user: User, fields: dict[str, str]) -> None:
        gcr = lock_gcr(session, number)
        if fields.get("version") != gcr_version(session, gcr):
            raise Stale()
        target = TARGETS[action] or (Status.TENTATIVE if fields.get("tentative") else Status.CONFIRMED)
        change_status(
            session,
            number,
            target,
            who(request, user),
            override_reason=fields.get("override_reason") or None,
            reason=_reason(action, fields),
            blackout_override=fields.get("blackout_override") or None,
        )

    return await _changing(request, number, work, action)


async def _changing(
    request: Request, number: str, work: Callable[[Session, User, dict[str, str]], None], done: str
) -> Response:
    """Does `work` for a change manager in one transaction, the form's CSRF token checked
    first; then back to the GCR's page, saying what was done, or showing why not."""
    fields = await form_with_csrf(request)
    if fields is None:
        return refused(request, STALE_FORM)
    try:
        with ui_of(request).transaction() as session:
            work(session, changer(request, session), fields)
    except Answer as refusal:
        return refusal.response
    except NotFound:
        return not_found(request)
    except Stale:
        return render_gcr(request, number, [stale_message(number)], fields, 409)
    except DomainError as error:
        return render_gcr(request, number, error.errors, fields, 422)
    return redirect(request, f"/manage/gcrs/{quote(number)}?done={done}")


def _reason(action: str, fields: dict[str, str]) -> str | None:
    if action == "cancel":
        check_cancel_reason(fields.get("reason"))
    return fields.get("reason", "").strip() or None
