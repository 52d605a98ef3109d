"""Conflicts and blackouts (SPEC §8) through the service layer (what the API calls) and the
CLI: overlapping published GCRs on the same service, customer or location are each
reported; a blackout refuses a publish or a reschedule unless overridden with a reason,
which is recorded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from changemgmt.domain.errors import DomainError
from changemgmt.domain.status import Status
from changemgmt.gcrs.blackouts import BlackoutQuery, add_blackout, list_blackouts, remove_blackout
from changemgmt.gcrs.conflicts import conflicts_between, conflicts_of_number
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.service import Who, change_status, update_gcr
from changemgmt.store import models
from changemgmt.store.db import transaction
from support.conflicts import LATER, NEXT_WEEK, NIGHT, gcr

UTC = UTC


def shared(conflict) -> dict[str, list[str]]:
    return {
        kind: list(getattr(conflict, kind).names)
        for kind in ("services", "customers", "locations")
        if getattr(conflict, kind)
    }


def test_the_same_service_customer_and_location_are_each_reported(desk):
    desk.publish(gcr("GCR-9001", [("ACME-ETH-1", "OUTAGE")]))
    desk.publish(gcr("GCR-9002", [("ACME-DIA-2", "DEGRADED")], windows=LATER))  # same customer
    desk.publish(gcr("GCR-9003", [("INIT-ETH-9", "OUTAGE")], locations=["DLLSTX01"]))  # same location
    desk.publish(gcr("GCR-9004", [("GLBX-WAVE-1", "OUTAGE")]))  # nothing shared
    desk.publish(gcr("GCR-9005", [("ACME-ETH-1", "OUTAGE")], windows=NEXT_WEEK))  # another night
    desk.create(gcr("GCR-9006", [("ACME-ETH-1", "OUTAGE")]))  # a draft conflicts with no one
    change = desk.create(gcr("GCR-9010", [("ACME-ETH-1", "OUTAGE")], locations=["DLLSTX01"]))
    found = {c.number: (shared(c), c.windows) for c in change.conflicts}
    assert found == {
        "GCR-9001": ({"services": ["ACME-ETH-1"], "customers": ["ACC-1001"]}, ((1, 1),)),
        "GCR-9002": ({"customers": ["ACC-1001"]}, ((1, 1),)),
        "GCR-9003": ({"locations": ["DLLSTX01"]}, ((1, 1),)),
    }
    published = desk.status("GCR-9010", Status.CONFIRMED, override_reason="test")
    assert [c.number for c in published.conflicts] == ["GCR-9001", "GCR-9002", "GCR-9003"]
    moved = desk.update("GCR-9010", {"windows": [{"number": 1, **NEXT_WEEK[0]}]}, override_reason="test")
    assert [c.number for c in moved.conflicts] == ["GCR-9005"]  # a reschedule reports them too
    assert desk.update("GCR-9010", {"description": "More work."}).conflicts == ()  # nothing that could conflict


def test_conflicts_between_two_times_lists_each_pair_once(desk, db):
    desk.publish(gcr("GCR-9001", [("ACME-ETH-1", "OUTAGE")]))
    desk.publish(gcr("GCR-9002", [("ACME-ETH-1", "DEGRADED")], windows=LATER))
    desk.publish(gcr("GCR-9003", [("ACME-ETH-1", "DEGRADED")], windows=NEXT_WEEK))
    with db() as session:
        night = conflicts_between(session, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
        december = conflicts_between(session, datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
        assert [c.number for c in conflicts_of_number(session, "GCR-9002")] == ["GCR-9001"]
    assert [(p.number, p.conflict.number) for p in night] == [("GCR-9001", "GCR-9002")]
    assert [(p.number, p.conflict.number) for p in december] == [("GCR-9001", "GCR-9002")]
    assert night[0].to_json()["conflicts_with"]["services"] == {"items": ["ACME-ETH-1"], "total": 1}


@pytest.fixture
def year_end(db, clock):
    with transaction(db) as session:
        return add_blackout(
            session,
            None,
            datetime(2026, 11, 30, tzinfo=UTC),
            datetime(2026, 12, 2, tzinfo=UTC),
            "Year-end freeze",
            "alice",
            clock(),
        )


def audit(db, number: str, action: str) -> dict:
    with db() as session:
        entry = session.scalar(
            select(models.AuditEntry)
            .where(models.AuditEntry.entity_key == number, models.AuditEntry.action == action)
            .order_by(models.AuditEntry.id.desc())
        )
        return entry.details


def test_a_blackout_refuses_a_publish_and_accepts_it_with_an_override_reason(desk, db, year_end):
    desk.create(gcr("GCR-9101", [("GLBX-WAVE-1", "OUTAGE")]))
    with pytest.raises(DomainError) as refused:
        desk.status("GCR-9101", Status.CONFIRMED)
    assert refused.value.field == "windows[1]" and "Year-end freeze" in refused.value.message
    with db() as session:
        assert session.scalar(select(models.Gcr.status).where(models.Gcr.number == "GCR-9101")) == "draft"
    with pytest.raises(DomainError) as minimum_only:  # the minimum notice's override is not a blackout's
        desk.status("GCR-9101", Status.CONFIRMED, override_reason="Customer asked")
    assert minimum_only.value.field == "windows[1]"
    with transaction(db) as session:
        change = change_status(
            session,
            "GCR-9101",
            Status.CONFIRMED,
            Who("alice", desk.clock(), desk.settings),
            blackout_override="Fibre cut: urgent",
        )
    assert [b.id for b in change.blackouts_overridden] == [year_end.id]
    details = audit(db, "GCR-9101", "publish")
    assert (
        details["blackout_override"] == "Fibre cut: urgent" and details["blackouts"][0]["reason"] == "Year-end freeze"
    )


def test_a_reschedule_into_a_blackout_is_refused_unless_overridden(desk, db, clock):
    desk.publish(gcr("GCR-9102", [("GLBX-WAVE-1", "OUTAGE")], windows=NEXT_WEEK))
    with transaction(db) as session:
        add_blackout(
            session,
            "ACC-2002",
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2026, 12, 2, tzinfo=UTC),
            "Their audit",
            "alice",
            clock(),
        )
    into = {"windows": [{"number": 1, **NIGHT[0]}]}
    with pytest.raises(DomainError) as refused:
        desk.update("GCR-9102", into)
    assert "ACC-2002's" in refused.value.message
    desk.update("GCR-9102", {"description": "Elsewhere."})  # a change that moves nothing is not refused
    with transaction(db) as session:
        update_gcr(session, "GCR-9102", parse_patch(into), Who("alice", clock(), desk.settings), None, "Agreed")
    assert audit(db, "GCR-9102", "update")["blackout_override"] == "Agreed"


def test_a_customers_blackout_covers_its_accounts_only(desk, db, clock):
    with transaction(db) as session:
        add_blackout(
            session,
            "ENT-100",
            datetime(2026, 11, 30, tzinfo=UTC),
            datetime(2026, 12, 2, tzinfo=UTC),
            "Holdings freeze",
            "alice",
            clock(),
        )
    desk.publish(gcr("GCR-9103", [("GLBX-WAVE-1", "OUTAGE")]))  # Globex is not below ENT-100
    with pytest.raises(DomainError):
        desk.publish(gcr("GCR-9104", [("ACME-ETH-1", "OUTAGE")]))  # Acme is


def test_blackouts_are_listed_and_removed(desk, db, clock, year_end):
    with transaction(db) as session:
        theirs = add_blackout(
            session,
            "ACC-1001",
            datetime(2026, 12, 5, tzinfo=UTC),
            datetime(2026, 12, 6, tzinfo=UTC),
            "Audit",
            "alice",
            clock(),
        )
        with pytest.raises(DomainError) as backwards:
            add_blackout(
                session, None, datetime(2026, 12, 6, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC), "x", "a", clock()
            )
        assert backwards.value.field == "end"
    with transaction(db) as session:
        assert [b.id for b in list_blackouts(session)] == [year_end.id, theirs.id]
        assert [b.id for b in list_blackouts(session, BlackoutQuery(account="ACC-2002"))] == [year_end.id]
        remove_blackout(session, year_end.id, "bob", clock())
    with db() as session:
        assert [b.id for b in list_blackouts(session)] == [theirs.id]
        assert [b.id for b in list_blackouts(session, BlackoutQuery(removed=True))] == [year_end.id, theirs.id]


def test_the_cli_adds_blackouts_and_reports_conflicts_and_overrides(run, desk):
    desk.publish(gcr("GCR-9001", [("ACME-ETH-1", "OUTAGE")]))
    added = run(
        "blackout", "add", "--from", "2026-12-01", "--to", "2026-12-01", "--reason", "Freeze", "--customer", "ACC-1001"
    )
    assert added.startswith("added blackout 1 (ACC-1001's, 2026-12-01 00:00 UTC to 2026-12-02 00:00 UTC: Freeze)")
    assert "blackout 1" in run("blackout", "list")
    run(
        "gcr",
        "create",
        "--number",
        "GCR-9002",
        "--title",
        "Swap",
        "--description",
        "Swap.",
        "--window",
        "2026-12-01T08:00Z/2026-12-01T09:00Z",
        "--impact",
        "ACME-DIA-2:DEGRADED",
    )
    refused = run("gcr", "publish", "GCR-9002", expect=1)
    assert "windows[1]: falls in blackout 1" in refused
    published = run("gcr", "publish", "GCR-9002", "--override-reason", "Urgent", "--blackout-override", "Urgent")
    assert "overrides blackout 1" in published
    assert "conflict: GCR-9001 (confirmed; window 1 overlaps its window 1): same customer ACC-1001" in published
    listed = run("conflicts", "--from", "2026-12-01", "--to", "2026-12-02")
    assert "GCR-9001 conflicts with GCR-9002" in listed
    assert "removed blackout 1" in run("blackout", "remove", "1")
    assert "no blackout 7" in run("blackout", "remove", "7", expect=1)


def test_the_cli_creates_and_publishes_into_a_blackout_with_an_override_reason(run, desk, db, year_end):
    def create(*override: str) -> str:
        flags = ("--title", "Swap", "--description", "Swap.", "--window", "2026-12-01T08:00Z/2026-12-01T09:00Z")
        return run(
            "gcr", "create", "--number", "GCR-9201", *flags, "--impact", "GLBX-WAVE-1", "--publish", "confirmed",
            *override, expect=1 if not override else 0,
        )  # fmt: skip

    assert f"falls in blackout {year_end.id}" in create()
    assert f"overrides blackout {year_end.id}" in create("--blackout-override", "Agreed with the customer")
    details = audit(db, "GCR-9201", "publish")
    assert details["blackout_override"] == "Agreed with the customer" and "reason" not in details
