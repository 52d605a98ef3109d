"""Which provider report (SendGrid event) a recipient's state shows, when events arrive in
any order and some twice (STANDARDS C31-C35): pure rules, no I/O."""

from __future__ import annotations

from datetime import datetime

from changemgmt.domain.states import RecipientState

# What SendGrid reports for one copy: a temporary delay, or how it ended.
TRANSIENT = frozenset({RecipientState.DEFERRED})
SETTLED = frozenset({RecipientState.DELIVERED, RecipientState.BOUNCED, RecipientState.DROPPED})


def report_applies(
    current: RecipientState, current_at: datetime | None, report: RecipientState, report_at: datetime
) -> bool:
    """True when a report of `report` that happened at `report_at` replaces the current
    state, set by an event at `current_at` (None: by us, not by an event). Events apply in
    the order they happened: an older one never replaces a newer one, and a delay
    (`deferred`) never replaces how the copy ended, whenever it happened; of two at the same
    moment the later to arrive wins."""
    if current_at is None:
        return True
    if report in TRANSIENT and current in SETTLED:
        return False
    return report_at >= current_at
