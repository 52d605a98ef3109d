"""What falls due as time passes, in one function of `now` that the clock calls
periodically (and `changemgmt worker` before each round, `changemgmt plan` on demand)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.jobs.advance import advance_statuses
from changemgmt.planning.due import plan_due
from changemgmt.planning.outbox import PlanSummary


@dataclass
class TickResult:
    advanced: list[str] = field(default_factory=list)
    planned: PlanSummary = field(default_factory=PlanSummary)


def tick_in(session: Session, settings: Settings, now: datetime) -> TickResult:
    """Advances statuses and plans due notices inside the caller's transaction."""
    advanced = advance_statuses(session, settings, now, settings.auto_complete_after)
    return TickResult(advanced, plan_due(session, settings, now))


def tick(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> TickResult:
    with sessions.begin() as session:
        return tick_in(session, settings, now)
