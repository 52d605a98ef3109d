"""How revisions are stored: each one's state as JSON without its impacts, and the impacts
as RevisionImpact spans, written only when they change. So a status change writes no
impact, and reading a revision for a few customers reads only their services' impacts,
however many services the GCR reaches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from typing import NamedTuple

from sqlalchemy import Select, and_, exists, insert, literal, select, tuple_, update
from sqlalchemy.orm import Session

from changemgmt.domain.gcr import GcrState, ServiceImpact
from changemgmt.domain.impact import stored_impact
from changemgmt.store.bulk import among
from changemgmt.store.models import Impact, Revision, RevisionImpact, Service

CHUNK = 400


def revision_json(state: GcrState) -> dict:
    """What Revision.state holds: state.to_json() but its impacts."""
    data = replace(state, impacts=()).to_json()
    del data["impacts"]
    return data


def record_impacts(session: Session, gcr_id: int, revision: int) -> None:
    """Makes the GCR's current impacts (flushed Impact rows) those of `revision`: closes
    the spans of impacts gone or changed, and opens spans for the new ones. Two
    statements, whatever the number of services."""
    span, current = RevisionImpact, Impact
    unchanged = and_(
        span.gcr_id == current.gcr_id,
        span.service_pk == current.service_pk,
        span.level == current.level,
        span.max_outage_minutes.is_not_distinct_from(current.max_outage_minutes),
        span.until_revision.is_(None),
    )
    session.execute(
        update(span)
        .where(span.gcr_id == gcr_id, span.until_revision.is_(None), ~exists().where(unchanged))
        .values(until_revision=revision)
    )
    session.execute(
        insert(span).from_select(
            ["gcr_id", "service_pk", "level", "max_outage_minutes", "from_revision"],
            select(
                current.gcr_id, current.service_pk, current.level, current.max_outage_minutes, literal(revision)
            ).where(current.gcr_id == gcr_id, ~exists().where(unchanged)),
        )
    )


def revision_states(session: Session, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], GcrState]:
    """The states of the given (gcr id, revision number)s, without their impacts."""
    wanted = sorted(set(pairs))
    states: dict[tuple[int, int], GcrState] = {}
    for start in range(0, len(wanted), CHUNK):
        query = select(Revision.gcr_id, Revision.number, Revision.state).where(
            tuple_(Revision.gcr_id, Revision.number).in_(wanted[start : start + CHUNK])
        )
        states.update(((gcr_id, number), GcrState.from_json(data)) for gcr_id, number, data in session.execute(query))
    return states


class _Span(NamedTuple):
    impact: ServiceImpact
    from_revision: int
    until_revision: int | None


class ImpactHistory:
    """The impacts of some customers' services on some GCRs, at any of their revisions."""

    def __init__(self, spans: dict[tuple[int, int], list[_Span]]) -> None:
        self._spans = spans  # by (gcr id, customer id), in service ID order

    def at(self, gcr_id: int, revision: int, customer_id: int) -> tuple[ServiceImpact, ...]:
        """The customer's impacts at that revision, by service ID: own_impacts(state, its services)."""
        return tuple(
            s.impact
            for s in self._spans.get((gcr_id, customer_id), ())
            if s.from_revision <= revision and (s.until_revision is None or revision < s.until_revision)
        )


def impact_history(session: Session, gcr_ids: Collection[int], customer_ids: Collection[int]) -> ImpactHistory:
    """The impact spans of the given GCRs on the given customers' services: one query."""
    return history_of(session.execute(impact_spans(gcr_ids, customer_ids)))


def impact_spans(gcr_ids: Collection[int], customer_ids: Collection[int]) -> Select:
    """The query of impact_history: a row per span (gcr id, customer id, service ID, level,
    maximum outage, from revision, until revision), to which more columns of the service
    may be added after these."""
    return (
        select(
            RevisionImpact.gcr_id,
            Service.customer_id,
            Service.service_id,
            RevisionImpact.level,
            RevisionImpact.max_outage_minutes,
            RevisionImpact.from_revision,
            RevisionImpact.until_revision,
        )
        .join(Service, Service.id == RevisionImpact.service_pk)
        .where(RevisionImpact.gcr_id.in_(gcr_ids), among(Service.customer_id, customer_ids))
    )


def history_of(rows: Iterable[Sequence]) -> ImpactHistory:
    """The ImpactHistory of rows of impact_spans (columns after its own are ignored)."""
    spans: dict[tuple[int, int], list[_Span]] = defaultdict(list)
    for gcr_id, customer_id, service_id, level, minutes, first, until, *_ in rows:
        spans[(gcr_id, customer_id)].append(
            _Span(ServiceImpact(service_id, stored_impact(level), minutes), first, until)
        )
    # Sorted here, not by the database, whose collation may not order as GcrState does.
    return ImpactHistory({key: sorted(found, key=lambda s: s.impact.service_id) for key, found in spans.items()})
