"""The exact email a customer would get about a GCR now (delivery.preview, as the API's
and `changemgmt preview`): its HTML part in a sandboxed frame (no scripts, no forms, no
same origin), its text part, and its .ics to read or download."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from changemgmt.delivery.message import OutgoingMessage
from changemgmt.delivery.preview import preview_message
from changemgmt.domain.errors import DomainError, NotFound
from changemgmt.domain.notice import NoticeKind
from changemgmt.web.ui.context import finish, not_found, ui_of
from changemgmt.web.ui.staff import Answer, staff_page, staff_user

router = APIRouter(prefix="/manage/gcrs")


def _message(request: Request, number: str, account: str, kind: str, tentative: str) -> OutgoingMessage:
    ui = ui_of(request)
    with ui.transaction() as session:
        staff_user(request, session)
        return preview_message(
            session,
            ui.settings,
            number,
            account,
            kind or None,
            tentative in ("1", "on", "true"),
            ui.clock(),
            sessions=None,
        )


@router.get("/{number}/preview")
def preview(request: Request, number: str, account: str = "", kind: str = "", tentative: str = "") -> Response:
    try:
        message = _message(request, number, account, kind, tentative)
        error = None
    except Answer as refusal:
        return refusal.response
    except NotFound:
        return not_found(request)
    except DomainError as problem:
        message, error = None, problem
    ui = ui_of(request)
    with ui.transaction() as session:
        user = staff_user(request, session)
        context = {
            "title": f"Preview {number} for {account}",
            "number": number,
            "account": account,
            "kind": kind,
            "kinds": list(NoticeKind),
            "message": message,
            # the copy its first contact gets: their organisation's name and links filled in
            "copy": message.rendered_for(message.recipients[0] if message.recipients else None) if message else None,
            "errors": [error] if error else [],
        }
        return staff_page(request, user, "manage_preview.html", context, 422 if error else 200)


@router.get("/{number}/preview.ics")
def preview_ics(request: Request, number: str, account: str = "", kind: str = "", tentative: str = "") -> Response:
    try:
        message = _message(request, number, account, kind, tentative)
    except Answer as refusal:
        return refusal.response
    except (NotFound, DomainError):
        return not_found(request)
    headers = {"content-disposition": f'attachment; filename="{message.ics_filename}"'}
    return finish(request, Response(message.ics, media_type="text/calendar; charset=utf-8", headers=headers))
