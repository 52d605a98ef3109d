"""What one customer is shown of a GCR now: the GCR's current revision as a notice to that
customer would say it, composed by the worker's own path (`compose.compose_views`), so
`changemgmt preview` (and the API) cannot drift from what is sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from changemgmt.config import Settings
from changemgmt.content.view import NoticeView
from changemgmt.delivery.compose import NoticeFacts, compose_views
from changemgmt.domain.notice import NoticeKind
from changemgmt.store import models
from changemgmt.store.queries import events_json

NO_NOTICE = 0  # the notice id of a view no notice row holds (notice ids start at 1)


def shown_now(
    session: Session, gcr: models.Gcr, customer: models.Customer, kind: NoticeKind, settings: Settings, now: datetime
) -> NoticeView:
    """The GCR's current revision as a `kind` notice issued `now` shows it to `customer`:
    its own services only, its calendar events as they stand, and no list of changes
    (there is no earlier revision to tell them from). Its notice id is NO_NOTICE; its
    status is the GCR's (a draft's is draft: the caller decides how to show one)."""
    return shown_to_each(session, [(gcr, customer.id)], kind, settings, now)[0]


def shown_to_each(
    session: Session, pairs: list[tuple[models.Gcr, int]], kind: NoticeKind, settings: Settings, now: datetime
) -> list[NoticeView]:
    """`shown_now` for each (GCR, customer id) pair, composed in one batch; each view's
    notice id is NO_NOTICE."""
    events: dict[int, dict[int, dict]] = {}
    for gcr_id in {gcr.id for gcr, _ in pairs}:
        events[gcr_id] = events_json(session, gcr_id, [c for g, c in pairs if g.id == gcr_id])
    facts = [
        NoticeFacts(
            id=NO_NOTICE - index,  # one key per pair for compose_views; none is a notice
            gcr_id=gcr.id,
            customer_id=customer_id,
            kind=kind,
            revision=gcr.revision,
            previous_revision=None,
            window_number=None,
            offset_minutes=None,
            note="",
            events=events[gcr.id].get(customer_id, {}),
            created_at=now,
        )
        for index, (gcr, customer_id) in enumerate(pairs)
    ]
    views = compose_views(session, facts, settings, now) if facts else {}
    return [replace(views[f.id], notice_id=NO_NOTICE) for f in facts]
