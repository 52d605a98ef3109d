from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from changemgmt.domain.errors import DomainError, NotFound, TransitionError
from changemgmt.domain.status import Status
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.service import Who, change_status, create_gcr, update_gcr
from changemgmt.store import models
from changemgmt.store.db import transaction
from changemgmt.store.queries import accounts_reached, get_gcr, impacted_customers
from world import build_world

UTC = UTC
DOCUMENT = {
    "number": "GCR-1001",
    "title": "Fibre splice on the Dallas ring",
    "description": "Splicing damaged fibre.",
    "reason": "Road works cut the cable.",
    "time_zone": "America/Chicago",
    "locations": ["DLLSTX01"],
    "windows": [{"start": "2026-12-01T01:00", "end": "2026-12-01T05:00"}],
    "impacts": [
        {"service": "ACME-ETH-1", "impact": "OUTAGE", "max_outage_minutes": 30},
        {"service": "GLBX-WAVE-1", "impact": "DEGRADED"},
    ],
}


@pytest.fixture
def who(settings, now):
    return Who("alice", now, settings)


@pytest.fixture
def world(db):
    with transaction(db) as session:
        build_world(session)


@pytest.fixture
def gcr(db, world, who):
    with transaction(db) as session:
        create_gcr(session, parse_patch(DOCUMENT), who)
    return "GCR-1001"


def counts(db, number="GCR-1001"):
    with db() as session:
        gcr = get_gcr(session, number)
        revisions = session.scalar(select(func.count()).select_from(models.Revision).filter_by(gcr_id=gcr.id))
        audits = session.scalar(select(func.count()).select_from(models.AuditEntry).filter_by(entity_key=number))
        return gcr.revision, revisions, audits


def test_creating_a_gcr_stores_it_as_a_draft_at_revision_1(db, gcr):
    with db() as session:
        stored = get_gcr(session, gcr)
        assert stored.status == "draft"
        assert [(w.number, w.starts_at) for w in stored.windows] == [(1, datetime(2026, 12, 1, 7, tzinfo=UTC))]
        assert sorted((i.service.service_id, i.level, i.max_outage_minutes) for i in stored.impacts) == [
            ("ACME-ETH-1", "OUTAGE", 30),
            ("GLBX-WAVE-1", "DEGRADED", None),
        ]
        assert [loc.code for loc in stored.locations] == ["DLLSTX01"]
        assert stored.revisions[0].actor == "alice"
        assert stored.revisions[0].state["title"] == DOCUMENT["title"]
    assert counts(db) == (1, 1, 1)


def test_a_duplicate_number_is_refused(db, gcr, who):
    with pytest.raises(DomainError, match="already exists") as error:
        with transaction(db) as session:
            create_gcr(session, parse_patch(DOCUMENT), who)
    assert error.value.field == "number"


def test_an_unknown_service_is_named_and_nothing_is_written(db, world, who):
    document = {**DOCUMENT, "impacts": [{"service": "ACME-ETH-1"}, {"service": "NOPE-1"}]}
    with pytest.raises(DomainError) as error:
        with transaction(db) as session:
            create_gcr(session, parse_patch(document), who)
    assert error.value.field == "impacts[NOPE-1].service"
    with db() as session:
        assert session.scalar(select(func.count()).select_from(models.Gcr)) == 0
        assert session.scalar(select(func.count()).select_from(models.AuditEntry)) == 0


def test_every_customer_visible_change_is_a_revision_with_an_audit_entry(db, gcr, who):
    later = Who("bob", who.now + timedelta(hours=1), who.settings)
    steps = [
        lambda s: change_status(s, gcr, Status.CONFIRMED, later),
        lambda s: update_gcr(s, gcr, parse_patch({"description": "Splicing two fibres."}), later),
        lambda s: update_gcr(
            s,
            gcr,
            parse_patch({"windows": [{"number": 1, "start": "2026-12-02T07:00Z", "end": "2026-12-02T11:00Z"}]}),
            later,
        ),
        lambda s: update_gcr(
            s, gcr, parse_patch({"impacts": [{"service": "ACME-ETH-1", "impact": "DEGRADED"}]}), later
        ),
        lambda s: update_gcr(s, gcr, parse_patch({"contact": {"name": "NOC", "email": "noc@example.net"}}), later),
    ]
    for number, step in enumerate(steps, start=2):
        with transaction(db) as session:
            change = step(session)
        assert change.revision == number
        assert counts(db) == (number, number, number)
    with db() as session:
        last = get_gcr(session, gcr).revisions[-1]
        assert (last.actor, last.changes, last.state["contact"]["email"]) == ("bob", ["contact"], "noc@example.net")


def test_an_internal_only_change_makes_no_revision_but_is_audited(db, gcr, who):
    with transaction(db) as session:
        change = update_gcr(session, gcr, parse_patch({"internal_notes": "Call the field tech first."}), who)
    assert change.revision is None
    assert counts(db) == (1, 1, 2)
    with db() as session:
        entry = session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id.desc())).first()
        assert (entry.action, entry.details["changes"], entry.details["revision"]) == (
            "update",
            ["internal_notes"],
            None,
        )


def test_an_unchanged_update_records_nothing(db, gcr, who):
    with transaction(db) as session:
        change = update_gcr(session, gcr, parse_patch({"title": DOCUMENT["title"]}), who)
    assert change.changes == frozenset()
    assert counts(db) == (1, 1, 1)


def test_windows_keep_their_numbers_and_removed_ones_are_dropped(db, gcr, who):
    with transaction(db) as session:
        update_gcr(
            session,
            gcr,
            parse_patch(
                {
                    "windows": [
                        {"number": 1, "start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"},
                        {"start": "2026-12-08T07:00Z", "end": "2026-12-08T11:00Z"},
                    ]
                }
            ),
            who,
        )
    with transaction(db) as session:
        update_gcr(
            session,
            gcr,
            parse_patch(
                {
                    "windows": [
                        {"number": 2, "start": "2026-12-08T07:00Z", "end": "2026-12-08T11:00Z"},
                        {"start": "2026-12-15T07:00Z", "end": "2026-12-15T11:00Z"},
                    ]
                }
            ),
            who,
        )
    with db() as session:
        windows = get_gcr(session, gcr).windows
        assert [(w.number, w.dropped_at is not None) for w in windows] == [(1, True), (2, False), (3, False)]


def test_changing_an_unknown_window_number_is_refused(db, gcr, who):
    with pytest.raises(DomainError, match="no window 7") as error:
        with transaction(db) as session:
            update_gcr(
                session,
                gcr,
                parse_patch({"windows": [{"number": 7, "start": "2026-12-01T07:00Z", "end": "2026-12-01T11:00Z"}]}),
                who,
            )
    assert error.value.field == "windows[1].number"


def test_publishing_with_short_notice_needs_the_emergency_flag_or_an_override(db, gcr, who, settings):
    late = Who("alice", datetime(2026, 11, 28, tzinfo=UTC), settings)
    with pytest.raises(DomainError, match="minimum notice"):
        with transaction(db) as session:
            change_status(session, gcr, Status.CONFIRMED, late)
    with transaction(db) as session:
        change_status(session, gcr, Status.CONFIRMED, late, override_reason="Customer asked for it")
    with db() as session:
        entry = session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id.desc())).first()
        assert (entry.action, entry.details["override_reason"]) == ("publish", "Customer asked for it")


def test_rescheduling_into_short_notice_needs_the_emergency_flag(db, gcr, who):
    with transaction(db) as session:
        change_status(session, gcr, Status.CONFIRMED, who)
    move = {"windows": [{"number": 1, "start": "2026-11-04T07:00Z", "end": "2026-11-04T09:00Z"}]}
    with pytest.raises(DomainError, match="minimum notice"):
        with transaction(db) as session:
            update_gcr(session, gcr, parse_patch(move), who)
    with transaction(db) as session:
        change = update_gcr(session, gcr, parse_patch({**move, "emergency": True}), who)
    assert change.changes == frozenset({"windows", "emergency"})


def test_the_status_machine_guards_every_change(db, gcr, who):
    with pytest.raises(TransitionError):
        with transaction(db) as session:
            change_status(session, gcr, Status.COMPLETED, who)
    for target in (Status.TENTATIVE, Status.CONFIRMED, Status.IN_PROGRESS, Status.COMPLETED):
        with transaction(db) as session:
            change_status(session, gcr, target, who)
    with pytest.raises(DomainError, match="no longer be changed"):
        with transaction(db) as session:
            update_gcr(session, gcr, parse_patch({"title": "Late edit"}), who)
    with pytest.raises(TransitionError, match="final"):
        with transaction(db) as session:
            change_status(session, gcr, Status.CANCELLED, who)
    assert counts(db) == (5, 5, 5)


def test_a_gcr_number_never_changes(db, gcr, who):
    with pytest.raises(DomainError) as error:
        with transaction(db) as session:
            update_gcr(session, gcr, parse_patch({"number": "GCR-2"}), who)
    assert error.value.field == "number"


def test_an_unknown_gcr_is_not_found(db, world, who):
    with pytest.raises(NotFound, match="GCR-9"):
        with transaction(db) as session:
            change_status(session, "GCR-9", Status.CONFIRMED, who)


def test_impacted_customers_are_the_owners_of_impacted_services_with_their_enterprise(db, gcr):
    with db() as session:
        impacted = impacted_customers(session, get_gcr(session, gcr).id)
        assert [(c.customer.account, [p.account for p in c.enterprise], c.service_ids) for c in impacted] == [
            ("ACC-1001", ["ENT-100"], ("ACME-ETH-1",)),
            ("ACC-2002", [], ("GLBX-WAVE-1",)),
        ]
        assert accounts_reached(impacted) == ["ACC-1001", "ACC-2002", "ENT-100"]


def test_an_outsider_is_never_impacted(db, gcr, who):
    with transaction(db) as session:
        update_gcr(session, gcr, parse_patch({"impacts": [{"service": "ACME-DIA-2"}]}), who)
    with db() as session:
        impacted = impacted_customers(session, get_gcr(session, gcr).id)
        assert [c.customer.account for c in impacted] == ["ACC-1001"]


def test_a_draft_without_impacts_cannot_be_published(db, world, who):
    with transaction(db) as session:
        create_gcr(session, parse_patch({**DOCUMENT, "impacts": []}), who)
    with pytest.raises(DomainError, match="at least one impacted service") as error:
        with transaction(db) as session:
            change_status(session, "GCR-1001", Status.TENTATIVE, who)
    assert error.value.field == "impacts"
