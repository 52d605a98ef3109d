"""/manage/calendar: every GCR's windows in a week or a month, in the change manager's
time zone (gcrs.listing finds the GCRs with a window in the period, as `gcr list
--from --to` does; web.ui.calendar lays them out)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from changemgmt.domain.errors import DomainError
from changemgmt.gcrs.listing import GcrQuery, list_gcrs
from changemgmt.web.ui import calendar
from changemgmt.web.ui.context import page, problems_text, ui_of
from changemgmt.web.ui.staff import answering, staff_user

router = APIRouter(prefix="/manage")
HERE = "/manage/calendar"


@router.get("/calendar")
@answering
def manage_calendar(request: Request, view: str | None = None, start: str | None = None) -> Response:
    ui = ui_of(request)
    with ui.transaction() as session:
        user = staff_user(request, session)
        zone, now = user.time_zone, ui.clock()
        today = calendar.today_in(now, zone)
        base = {"title": "Calendar", "user": user, "section": HERE}
        try:
            period = calendar.parse_period(view, start, today)
        except DomainError as exc:
            return page(request, "error.html", {**base, "title": "Not a calendar", "message": problems_text(exc)}, 422)
        first, end = period.utc_range(zone)
        entries = [
            calendar.Entry(g.number, g.title, g.status, "/manage/gcrs/" + quote(g.number, safe=""), w.start, w.end)
            for g in list_gcrs(session, GcrQuery(start=first, end=end), now)
            for w in g.windows
        ]
        weeks = calendar.weeks(period, entries, zone, today)
        context = {**base, "period": period, "weeks": weeks, "zone": zone, "today": today, "here": HERE}
        return page(request, "manage_calendar.html", context)
