"""store.db.writes_overlapped: on PostgreSQL, plain INSERTs are sent without waiting for
their answers; everything else waits, so reads, RETURNING and row counts are as without it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from changemgmt.store.bulk import insert_rows
from changemgmt.store.db import is_postgres, writes_overlapped
from changemgmt.store.models import Customer


def _customer(account: str, name: str = "Acme") -> dict:
    return {"account": account, "name": name, "time_zone": "UTC", "active": True}


def _accounts(db) -> list[str]:
    with db() as session:
        return list(session.scalars(select(Customer.account).order_by(Customer.account)))


def test_reads_returning_and_row_counts_see_the_writes_sent_before_them(db):
    with db.begin() as session, writes_overlapped(session):
        insert_rows(session, Customer.__table__, [_customer("A-1"), _customer("A-2")])
        assert session.scalar(select(func.count()).select_from(Customer)) == 2
        (returned,) = insert_rows(session, Customer.__table__, [_customer("A-3")], returning=("account",))
        assert returned.account == "A-3"
        insert_rows(session, Customer.__table__, [_customer("A-4")])
        renamed = session.execute(update(Customer).where(Customer.account != "A-1").values(name="Renamed"))
        assert renamed.rowcount == 3
        customer = session.scalars(select(Customer).where(Customer.account == "A-1")).one()
        customer.name = "Flushed by the ORM"  # its UPDATE checks the row count it gets back
        session.flush()
        insert_rows(session, Customer.__table__, [_customer("A-5")])  # waits for the end of the block
    assert _accounts(db) == ["A-1", "A-2", "A-3", "A-4", "A-5"]
    with db() as session:
        names = dict(session.execute(select(Customer.account, Customer.name)).all())
    assert names["A-1"] == "Flushed by the ORM" and names["A-4"] == "Renamed"


def test_an_insert_that_fails_fails_its_transaction_and_writes_nothing(db):
    with pytest.raises(IntegrityError, match="account"), db.begin() as session, writes_overlapped(session):
        insert_rows(session, Customer.__table__, [_customer("B-1")])
        insert_rows(session, Customer.__table__, [_customer("B-1", "a duplicate account")])
        insert_rows(session, Customer.__table__, [_customer("B-2")])
    assert _accounts(db) == []


def test_on_postgresql_a_failing_insert_is_answered_at_the_next_statement_that_waits(db):
    with db.begin() as session:
        if not is_postgres(session.get_bind()):
            pytest.skip("SQLite runs each statement as it comes")
    with pytest.raises(IntegrityError, match="account"), db.begin() as session, writes_overlapped(session):
        insert_rows(session, Customer.__table__, [_customer("C-1"), _customer("C-1", "a duplicate account")])
        reached = True  # the INSERT was sent, not answered
        session.scalar(select(func.count()).select_from(Customer))
    assert reached
    assert _accounts(db) == []
