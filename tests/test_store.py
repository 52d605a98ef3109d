from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from changemgmt.store import models
from changemgmt.store.db import make_engine, transaction
from changemgmt.store.migrate import current_revision, upgrade
from world import build_world


def test_migrations_create_the_schema_from_empty(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)
    assert {
        "customers",
        "contacts",
        "locations",
        "services",
        "gcrs",
        "windows",
        "impacts",
        "revisions",
        "audit_entries",
    } <= set(inspect(engine).get_table_names())
    upgrade(engine)  # a second upgrade is a no-op
    assert current_revision(engine) is not None


def test_the_migrations_match_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, models.Base.metadata) == []


def test_inventory_round_trips(db):
    with transaction(db) as session:
        build_world(session)
    with db() as session:
        acme = session.scalar(select(models.Customer).where(models.Customer.account == "ACC-1001"))
        assert acme.parent.account == "ENT-100"
        assert acme.time_zone == "America/Chicago"
        assert [c.email for c in acme.contacts] == ["noc@acme.example"]
        service = session.scalar(select(models.Service).where(models.Service.service_id == "ACME-ETH-1"))
        assert (service.customer.account, service.a_end.code, service.z_end.code) == (
            "ACC-1001",
            "DLLSTX01",
            "HSTNTX02",
        )


def test_times_come_back_aware_utc_whatever_zone_went_in(db):
    chicago = timezone(timedelta(hours=-6))
    with transaction(db) as session:
        build_world(session)
        gcr = models.Gcr(
            number="GCR-1",
            title="t",
            description="d",
            status="draft",
            revision=1,
            created_at=datetime(2026, 12, 1, 1, tzinfo=chicago),
            updated_at=datetime(2026, 12, 1, 7, tzinfo=UTC),
            created_by="test",
        )
        session.add(gcr)
    with db() as session:
        stored = session.scalar(select(models.Gcr))
        assert stored.created_at == datetime(2026, 12, 1, 7, tzinfo=UTC)
        assert stored.created_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(db):
    with pytest.raises(Exception, match="naive"):
        with transaction(db) as session:
            session.add(
                models.Gcr(
                    number="GCR-1",
                    title="t",
                    description="d",
                    status="draft",
                    revision=1,
                    created_at=datetime(2026, 12, 1),
                    updated_at=datetime(2026, 12, 1),
                    created_by="test",
                )
            )


def test_account_numbers_and_service_ids_are_unique(db):
    with transaction(db) as session:
        build_world(session)
    with pytest.raises(IntegrityError):
        with transaction(db) as session:
            session.add(models.Customer(account="ACC-1001", name="Copy", time_zone="UTC"))
    with pytest.raises(IntegrityError):
        with transaction(db) as session:
            acme = session.scalar(select(models.Customer).where(models.Customer.account == "ACC-1001"))
            session.add(models.Service(service_id="ACME-ETH-1", customer=acme))
