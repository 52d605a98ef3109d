"""Importing inventory JSON: an object of arrays (any key order) or one array, streamed."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from changemgmt.inventory import ImportFailed, import_inventory
from changemgmt.store.models import Contact, Customer, Location, Service

DATA = Path(__file__).parent / "data" / "inventory"


def load(db, settings, file, **options):
    return import_inventory(db, file, settings=settings, actor="alice", **options)


def failure(db, settings, text: str, **options) -> list[str]:
    with pytest.raises(ImportFailed) as caught:
        load(db, settings, io.BytesIO(text.encode()), **options)
    return caught.value.lines()


def count(db, model) -> int:
    with db() as session:
        return len(session.scalars(select(model.id)).all())


def test_it_imports_every_kind_in_dependency_order_whatever_the_key_order(db, settings):
    result = load(db, settings, DATA / "inventory.json")
    assert list(result.rows) == ["locations", "customers", "contacts", "services"]
    assert result.summary() == [
        "locations: 2 rows (2 new, 0 updated)",
        "customers: 3 rows (3 new, 0 updated)",
        "contacts: 2 rows (2 new, 0 updated)",
        "services: 2 rows (2 new, 0 updated)",
    ]
    with db() as session:
        wave = session.scalars(select(Service).where(Service.service_id == "GLBX-WAVE-1")).one()
        noc = session.scalars(select(Contact).where(Contact.email == "noc@acme.example")).one()
        acme = session.scalars(select(Customer).where(Customer.account == "ACC-1001")).one()
        assert (wave.bandwidth, wave.a_end.code, wave.z_end) == ("100", "HSTNTX02", None)
        assert (noc.notice_kinds, noc.reminders) == (["new", "updated"], False)
        assert acme.parent.account == "ENT-100"


def test_a_kind_given_imports_only_that_part_of_an_object(db, settings):
    load(db, settings, DATA / "inventory.json", kind="locations")
    assert (count(db, Location), count(db, Customer)) == (2, 0)


def test_it_reads_a_top_level_array_of_one_kind(db, settings):
    text = '[{"code": "L-1", "name": "One"}, {"code": "L-2", "country": "fr"}]'
    load(db, settings, io.BytesIO(text.encode()), kind="locations")
    with db() as session:
        assert session.execute(select(Location.code, Location.country).order_by(Location.code)).all() == [
            ("L-1", ""), ("L-2", "FR")]


def test_a_top_level_array_without_a_kind_takes_it_from_the_first_item(db, settings):
    load(db, settings, io.BytesIO(b'[{"account": "A-1", "name": "One"}]'))
    assert count(db, Customer) == 1


def test_bad_items_are_reported_by_their_index_in_the_array(db, settings):
    text = """{"customers": [
        {"account": "A-1", "name": "One"},
        {"account": "A-2", "name": "Two", "active": "perhaps"},
        "not an object",
        {"account": "A-4", "name": "Four", "colour": "blue"},
        {"account": "A-5", "name": ["a", "list"]}
    ]}"""
    assert failure(db, settings, text) == [
        "customers[1]: active: 'perhaps' is not true or false (true/false, yes/no, 1/0)",
        "customers[2]: item: is not an object",
        "customers[3]: colour: is not a field of customers (account, active, name, parent_account, time_zone)",
        "customers[4]: name: must be text",
    ]
    assert count(db, Customer) == 0


def test_notice_kinds_are_a_list_in_json(db, settings):
    text = """{"customers": [{"account": "A-1", "name": "One"}], "contacts": [
        {"account": "A-1", "email": "a@one.example", "notice_kinds": ["NEW", "new", "reminder"]},
        {"account": "A-1", "email": "b@one.example", "notice_kinds": []}
    ]}"""
    assert failure(db, settings, text) == [
        "contacts[1]: notice_kinds: is an empty list; leave it blank (null) for every kind"
    ]


def test_a_file_that_is_not_json_or_not_inventory_is_refused(db, settings):
    assert failure(db, settings, '{"customers": [{"account": "A-1",') == [
        "file: is not valid JSON: parse error: premature EOF"
    ]
    assert failure(db, settings, '{"customer": []}') == [
        "file: customer: is not a kind of inventory (locations, customers, contacts, services)"
    ]
    assert failure(db, settings, '{"customers": {"account": "A-1"}}') == [
        "file: customers: must be an array of objects"
    ]
    assert failure(db, settings, "{}") == [
        "file: holds no inventory (locations, customers, contacts, services)"
    ]


def test_a_json_error_after_good_rows_still_writes_nothing(db, settings):
    text = '{"locations": [{"code": "L-1"}, {"code": "L-2"}], "customers": [{"account": '
    with pytest.raises(ImportFailed):
        load(db, settings, io.BytesIO(text.encode()))
    assert count(db, Location) == 0

