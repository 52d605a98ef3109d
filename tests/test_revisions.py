from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import func, select, text

from changemgmt.domain.gcr import ServiceImpact
from changemgmt.domain.impact import Impact
from changemgmt.domain.status import Status
from changemgmt.gcrs.input import parse_patch
from changemgmt.gcrs.service import Who, change_status, create_gcr, update_gcr
from changemgmt.store import models
from changemgmt.store.db import make_engine, transaction
from changemgmt.store.migrate import alembic_config, upgrade
from changemgmt.store.revisions import impact_history, revision_states
from world import build_world

UTC = UTC
DOCUMENT = {
    "number": "GCR-1001",
    "title": "Fibre splice",
    "description": "Splicing damaged fibre.",
    "windows": [{"start": "2026-12-01T01:00Z", "end": "2026-12-01T05:00Z"}],
    "impacts": [
        {"service": "ACME-ETH-1", "impact": "OUTAGE", "max_outage_minutes": 30},
        {"service": "ACME-DIA-2", "impact": "DEGRADED"},
        {"service": "GLBX-WAVE-1", "impact": "DEGRADED"},
    ],
}
OUTAGE_30 = ServiceImpact("ACME-ETH-1", Impact.OUTAGE, 30)
DIA = ServiceImpact("ACME-DIA-2", Impact.DEGRADED)
WAVE = ServiceImpact("GLBX-WAVE-1", Impact.DEGRADED)


def span_count(session) -> int:
    return session.scalar(select(func.count()).select_from(models.RevisionImpact))


def test_each_revision_reads_back_with_each_customers_impacts_as_they_were(db, settings, now):
    who = Who("alice", now, settings)
    with transaction(db) as session:
        customers = build_world(session)
        create_gcr(session, parse_patch(DOCUMENT), who)
        change_status(session, "GCR-1001", Status.CONFIRMED, who)
        assert span_count(session) == 3  # a status change writes no impact
        update_gcr(
            session,
            "GCR-1001",
            parse_patch(
                {
                    "impacts": [
                        {"service": "ACME-ETH-1", "impact": "DEGRADED"},
                        {"service": "ACME-DIA-2", "impact": "DEGRADED"},
                    ]
                }
            ),
            who,
        )
    acme, globex = customers["acme"].id, customers["globex"].id
    with db() as session:
        gcr_id = session.scalar(select(models.Gcr.id))
        states = revision_states(session, [(gcr_id, 1), (gcr_id, 2), (gcr_id, 3)])
        history = impact_history(session, [gcr_id], [acme, globex])
    assert [states[(gcr_id, n)].status for n in (1, 2, 3)] == [Status.DRAFT, Status.CONFIRMED, Status.CONFIRMED]
    assert all(states[(gcr_id, n)].impacts == () for n in (1, 2, 3))
    assert [history.at(gcr_id, n, acme) for n in (1, 2, 3)] == [
        (DIA, OUTAGE_30),
        (DIA, OUTAGE_30),
        (DIA, ServiceImpact("ACME-ETH-1", Impact.DEGRADED)),
    ]
    assert [history.at(gcr_id, n, globex) for n in (1, 2, 3)] == [(WAVE,), (WAVE,), ()]


def test_migration_0003_moves_revision_impacts_out_of_the_json_and_back(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    at = datetime(2026, 11, 2, tzinfo=UTC)
    impacts = [
        [
            {"service_id": "S-1", "impact": "OUTAGE", "max_outage_minutes": None},
            {"service_id": "S-2", "impact": "DEGRADED", "max_outage_minutes": 15},
        ],
        [
            {"service_id": "S-1", "impact": "OUTAGE", "max_outage_minutes": None},
            {"service_id": "S-2", "impact": "OUTAGE", "max_outage_minutes": 15},
        ],
        [{"service_id": "S-2", "impact": "OUTAGE", "max_outage_minutes": 15}],
    ]
    states = [{"number": "GCR-1", "title": "t", "description": "d", "status": "draft", "impacts": i} for i in impacts]
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO customers (id, account, name, time_zone, active) VALUES (1, 'A-1', 'A', 'UTC', true)")
        )
        connection.execute(
            text(
                "INSERT INTO services (id, service_id, customer_id, product, bandwidth) "
                "VALUES (11, 'S-1', 1, '', ''), (12, 'S-2', 1, '', '')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO gcrs (id, number, title, description, reason, work_location, emergency, internal_notes, "
                "status, revision, created_at, updated_at, created_by) "
                "VALUES (1, 'GCR-1', 't', 'd', '', '', false, '', 'draft', 3, :at, :at, 'x')"
            ),
            {"at": at.isoformat()},
        )
        for number, state in enumerate(states, start=1):
            connection.execute(
                models.Revision.__table__.insert().values(
                    gcr_id=1, number=number, created_at=at + timedelta(hours=number), actor="x", changes=[], state=state
                )
            )

    upgrade(engine)
    with engine.connect() as connection:
        spans = connection.execute(
            text(
                "SELECT service_pk, level, max_outage_minutes, from_revision, until_revision FROM revision_impacts "
                "ORDER BY service_pk, from_revision"
            )
        ).all()
        stored = connection.scalars(select(models.Revision.state).order_by(models.Revision.number)).all()
    assert spans == [(11, "OUTAGE", None, 1, 3), (12, "DEGRADED", 15, 1, 2), (12, "OUTAGE", 15, 2, None)]
    assert all("impacts" not in state for state in stored)

    command.downgrade(alembic_config(engine), "0002")
    with engine.connect() as connection:
        assert connection.scalars(select(models.Revision.state).order_by(models.Revision.number)).all() == states
