"""/manage/deliveries: deliveries across GCRs (the failed ones by default), filtered by
GCR and customer, each with its reason; retrying one or those selected. Listing and
retrying are delivery.operations', as for `changemgmt deliveries` and the API."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from changemgmt.delivery.operations import DeliveryQuery, DeliverySummary, list_deliveries, retry_deliveries
from changemgmt.domain.errors import DomainError, NotFound, Problems
from changemgmt.domain.roles import Role
from changemgmt.domain.states import DeliveryState
from changemgmt.domain.text import one_line
from changemgmt.web.ui.context import page, problems_text, redirect, ui_of
from changemgmt.web.ui.staff import answering, may, staff_form, staff_user

router = APIRouter(prefix="/manage")
HERE = "/manage/deliveries"
SHOWN_MAX = 500
STATES = ("failed", "pending", "sending", "sent", "skipped", "all")


@dataclass(frozen=True)
class Filters:
    state: str = "failed"
    gcr: str = ""
    account: str = ""

    def query(self) -> DeliveryQuery:
        states = () if self.state == "all" else (DeliveryState(self.state),)
        return DeliveryQuery(self.gcr or None, self.account or None, states, SHOWN_MAX + 1)

    def url(self, **extra: str) -> str:
        given = {"state": self.state, "gcr": self.gcr, "account": self.account, **extra}
        return HERE + "?" + urlencode({k: v for k, v in given.items() if v})


def filters_of(state: str | None, gcr: str | None, account: str | None) -> Filters:
    """The filters a page asks for; DomainError naming each field that is wrong."""
    problems = Problems()
    if state is not None and state not in STATES:
        problems.add("state", "must be one of " + ", ".join(STATES))
    values = {}
    for name, raw in (("gcr", gcr), ("account", account)):
        with problems.checking():
            values[name] = one_line(raw or "", name, 64)
    problems.raise_any()
    return Filters(state or "failed", values["gcr"], values["account"])


@router.get("/deliveries")
@answering
def deliveries_page(
    request: Request,
    state: str | None = None,
    gcr: str | None = None,
    account: str | None = None,
    retried: str = "",
) -> Response:
    try:
        filters = filters_of(state, gcr, account)
    except DomainError as exc:
        return _shown(request, Filters(), problems_text(exc), 422)
    done = [part for part in retried.split(",") if part.isdigit()]
    message = f"Put back in the queue: delivery {', '.join(done)}." if done else None
    return _shown(request, filters, None, 200, message)


def _shown(request: Request, filters: Filters, error: str | None, status: int, message: str | None = None) -> Response:
    with ui_of(request).transaction() as session:
        user = staff_user(request, session)
        rows: list[DeliverySummary] = []
        try:
            rows = list_deliveries(session, filters.query())
        except NotFound as exc:
            error, status = str(exc), 404
        context = {
            "title": "Deliveries",
            "user": user,
            "section": HERE,
            "filters": filters,
            "states": STATES,
            "rows": rows[:SHOWN_MAX],
            "more": len(rows) > SHOWN_MAX,
            "may_retry": may(user, Role.CHANGE_MANAGER),
            "error": error,
            "message": message,
        }
        return page(request, "manage_deliveries.html", context, status)


@router.post("/deliveries/retry")
@answering
async def retry(request: Request) -> Response:
    fields = await staff_form(request)
    chosen = [fields["one"]] if fields.get("one") else (await request.form()).getlist("delivery")
    try:
        filters = filters_of(fields.get("state"), fields.get("gcr"), fields.get("account"))
    except DomainError:
        filters = Filters()
    ui = ui_of(request)
    with ui.transaction() as session:
        user = staff_user(request, session, Role.CHANGE_MANAGER)
        try:
            retried = retry_deliveries(session, ids=_ids(chosen), now=ui.clock(), actor=user.email)
        except (DomainError, NotFound) as exc:
            error = problems_text(exc) if isinstance(exc, DomainError) else str(exc)
        else:
            return redirect(request, filters.url(retried=",".join(str(r.id) for r in retried)))
    return _shown(request, filters, error, 422)


ID_DIGITS = 9  # ids fit a 32-bit column; a longer number is no delivery of ours


def _ids(chosen: list) -> list[int]:
    ids = [int(v) for v in chosen if isinstance(v, str) and v.isdigit() and len(v) <= ID_DIGITS]
    if not ids or len(ids) != len(chosen):
        raise DomainError("delivery", "choose one or more failed deliveries to retry")
    return ids
