"""store.bulk: many rows or many values in one statement, alike on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from changemgmt.domain.states import NoticeState
from changemgmt.store.bulk import among, insert_rows, update_rows
from changemgmt.store.models import Audience, Customer, Event, Gcr, Notice

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def _customers(session, count: int) -> list[int]:
    rows = [
        {"account": f"ACCT-{n:04d}", "name": f"Customer {n}", "time_zone": "America/Chicago", "active": True}
        for n in range(count)
    ]
    return sorted(id_ for (id_,) in insert_rows(session, Customer.__table__, rows, returning=("id",)))


def _gcr(session) -> int:
    gcr = Gcr(
        number="GCR-2026-0001",
        title="Fibre works",
        description="",
        reason="",
        work_location="",
        status="confirmed",
        emergency=False,
        internal_notes="",
        revision=1,
        created_at=T0,
        updated_at=T0,
        created_by="test",
    )
    session.add(gcr)
    session.flush()
    return gcr.id


def test_insert_rows_returns_the_ids_of_every_row_and_binds_typed_values(db):
    with db.begin() as session:
        ids = _customers(session, 1500)
        gcr_id = _gcr(session)
        notice = {
            "gcr_id": gcr_id,
            "kind": "new",
            "revision": 1,
            "previous_revision": None,
            "window_number": None,
            "offset_minutes": None,
            "due_at": T0.astimezone(timezone(timedelta(hours=-6))),
            "state": NoticeState.PENDING,
            "note": "",
            "skip_reason": None,
            "events": {"1": [1, T0.isoformat(), False]},
            "created_at": T0,
            "settled_at": None,
        }
        insert_rows(session, Notice.__table__, [{**notice, "customer_id": ids[0], "key": "k1"}])
    assert len(ids) == 1500
    with db() as session:
        stored = session.scalars(select(Notice)).one()
        assert stored.due_at == T0 and stored.due_at.tzinfo is not None
        assert stored.events == {"1": [1, T0.isoformat(), False]}
        assert stored.previous_revision is None
        assert type(stored.state) is str and stored.state == "pending"  # an enum is stored as its string


def test_text_comes_back_exactly_as_written(db):
    awkward = ['quote " and \\ backslash', "line\nbreak\ttab", "{braces, commas}", "NULL", "héllo ☎ 𝄞", ""]
    with db.begin() as session:
        rows = [
            {"account": f"A{n}", "name": name, "time_zone": "UTC", "active": n % 2 == 0}
            for n, name in enumerate(awkward)
        ]
        insert_rows(session, Customer.__table__, rows)
    with db() as session:
        stored = {c.account: (c.name, c.active) for c in session.scalars(select(Customer))}
    assert stored == {f"A{n}": (name, n % 2 == 0) for n, name in enumerate(awkward)}


def test_a_naive_time_is_refused_and_nothing_is_written(db):
    with pytest.raises(Exception, match="naive datetime"):
        with db.begin() as session:
            customer_id = _customers(session, 1)[0]
            insert_rows(
                session,
                Event.__table__,
                [
                    {
                        "gcr_id": _gcr(session),
                        "customer_id": customer_id,
                        "window_number": 1,
                        "digest": "a",
                        "sequence": 1,
                        "modified_at": datetime(2026, 11, 2, 15, 0),
                        "cancelled": False,
                    }
                ],
            )
    with db() as session:
        assert session.scalars(select(Customer)).all() == []


def test_a_conflict_skips_or_updates_only_the_rows_whose_key_exists(db):
    with db.begin() as session:
        customer_id, other_id = _customers(session, 2)
        gcr_id = _gcr(session)
        event = {
            "gcr_id": gcr_id,
            "customer_id": customer_id,
            "window_number": 1,
            "digest": "a",
            "sequence": 1,
            "modified_at": T0,
            "cancelled": False,
        }
        insert_rows(session, Event.__table__, [event])
    key = ("gcr_id", "customer_id", "window_number")
    with db.begin() as session:
        written = insert_rows(
            session,
            Event.__table__,
            [{**event, "digest": "b"}, {**event, "customer_id": other_id}],
            conflict=key,
            returning=("customer_id",),
        )
        assert [c for (c,) in written] == [other_id]
    with db.begin() as session:
        insert_rows(
            session,
            Event.__table__,
            [{**event, "digest": "c", "sequence": 2}],
            conflict=key,
            update=("digest", "sequence"),
        )
    with db() as session:
        rows = {e.customer_id: (e.digest, e.sequence) for e in session.scalars(select(Event))}
    assert rows == {customer_id: ("c", 2), other_id: ("a", 1)}


def test_insert_rows_with_no_rows_writes_nothing(db):
    with db.begin() as session:
        assert insert_rows(session, Customer.__table__, [], returning=("id",)) == []
    with db() as session:
        assert session.scalars(select(Customer)).all() == []


@pytest.mark.parametrize("pick", [slice(0, 0), slice(0, 1), slice(3, 1200), slice(None)])
def test_among_matches_exactly_the_given_values(db, pick):
    with db.begin() as session:
        ids = _customers(session, 1500)
    wanted = ids[pick]
    with db() as session:
        by_id = sorted(session.scalars(select(Customer.id).where(among(Customer.id, wanted))))
        accounts = [f"ACCT-{n:04d}" for n in range(1500)][pick]
        by_text = sorted(session.scalars(select(Customer.account).where(among(Customer.account, accounts))))
    assert by_id == wanted
    assert by_text == sorted(accounts)


def test_among_is_one_parameter_however_many_values(engine):
    def sql(values) -> str:  # as sent: expanding parameters (a plain in_) rendered out
        statement = select(Customer.id).where(among(Customer.id, values))
        return str(statement.compile(engine, compile_kwargs={"render_postcompile": True}))

    assert sql([1, 2]) == sql(list(range(5000)))


def test_update_rows_sets_each_rows_values_only_where_the_condition_holds(db):
    with db.begin() as session:
        customer_id, other_id, third_id = _customers(session, 3)
        gcr_id = _gcr(session)
        audience = {
            "gcr_id": gcr_id,
            "in_scope": True,
            "notified": False,
            "notified_at": None,
            "shown_revision": 1,
            "shown_windows": "w",
            "shown_content": "a",
            "changed_at": T0,
        }
        insert_rows(
            session, Audience.__table__, [{**audience, "customer_id": c} for c in (customer_id, other_id, third_id)]
        )
    later = T0 + timedelta(hours=1)
    with db.begin() as session:
        update_rows(
            session,
            Audience.__table__,
            [
                {"customer_id": customer_id, "shown_content": "b"},
                {"customer_id": other_id, "shown_content": None},
                {"customer_id": third_id, "shown_content": "c"},
            ],
            match=("customer_id",),
            only={"notified": False},
            constants={"changed_at": later, "notified": True},
        )
        update_rows(
            session,
            Audience.__table__,
            [{"customer_id": third_id, "shown_content": "twice"}],
            match=("customer_id",),
            only={"notified": False},
        )  # no longer so: left alone
        update_rows(session, Audience.__table__, [], match=("customer_id",))
    with db() as session:
        rows = {a.customer_id: (a.shown_content, a.notified, a.changed_at) for a in session.scalars(select(Audience))}
    assert rows == {customer_id: ("b", True, later), other_id: (None, True, later), third_id: ("c", True, later)}
