"""What one customer is shown of a GCR now: the GCR's current revision as a notice to that
customer would say it, composed by the worker's own path (`compose.compose_views`), so
`changemgmt preview` (and the API) cannot drift from what is sent."""

from __future__ import annotations

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
    facts = NoticeFacts(
        id=NO_NOTICE,
        gcr_id=gcr.id,
        customer_id=customer.id,
        kind=kind,
        revision=gcr.revision,
        previous_revision=None,
        window_number=None,
        offset_minutes=None,
        note="",
        events=events_json(session, gcr.id, [customer.id]).get(customer.id, {}),
        created_at=now,
    )
    return compose_views(session, [facts], settings, now)[NO_NOTICE]
