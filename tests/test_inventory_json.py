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
            ("L-1", ""),
            ("L-2", "FR"),
        ]


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
        "customers[3]: colour: is not a field of customers "
        "(account, active, lead_email, lead_name, lead_phone, name, parent_account, time_zone)",
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
    assert failure(db, settings, "{}") == ["file: holds no inventory (locations, customers, contacts, services)"]


def test_a_json_error_after_good_rows_still_writes_nothing(db, settings):
    text = '{"locations": [{"code": "L-1"}, {"code": "L-2"}], "customers": [{"account": '
    with pytest.raises(ImportFailed):
        load(db, settings, io.BytesIO(text.encode()))
    assert count(db, Location) == 0


def test_a_key_repeated_in_an_array_is_reported_with_both_indexes(db, settings):
    text = """{"customers": [
        {"account": "A-1", "name": "One"}, {"account": "A-2", "name": "Two"}, {"account": "A-1", "name": "Again"}
    ], "services": [
        {"service_id": "S-1", "account": "A-2"}, {"service_id": "S-1", "account": "A-1"}
    ]}"""
    assert failure(db, settings, text) == [
        "customers[2]: account: 'A-1' is also at customers[0]; each customer may appear once in a file",
        "services[1]: service_id: 'S-1' is also at services[0]; each service may appear once in a file",
    ]
    assert count(db, Customer) == 0


def test_a_kind_named_twice_at_the_top_is_refused(db, settings):
    assert failure(db, settings, '{"locations": [{"code": "L-1"}], "locations": [{"code": "L-2"}]}') == [
        "file: locations: appears twice; put all of its items in one array"
    ]


def test_every_problem_of_an_item_is_listed_unknown_fields_included(db, settings):
    text = '{"locations": [{"code": "L-1", "colour": "blue", "country": "USA", "shape": "round"}]}'
    assert failure(db, settings, text) == [
        "locations[0]: country: 'USA' is not a two-letter country code (ISO 3166, e.g. US)",
        "locations[0]: colour: is not a field of locations (address, city, code, country, name, region, time_zone)",
        "locations[0]: shape: is not a field of locations (address, city, code, country, name, region, time_zone)",
    ]


def test_bad_items_before_a_syntax_error_are_listed_with_it(db, settings):
    text = '{"locations": [{"code": "L-1", "country": "USA"}, {"code": "L-2"}, {"code": '
    assert failure(db, settings, text) == [
        "locations[0]: country: 'USA' is not a two-letter country code (ISO 3166, e.g. US)",
        "file: is not valid JSON: parse error: premature EOF",
    ]


def test_numbers_in_text_cells_are_stored_as_written(db, settings):
    load(db, settings, io.BytesIO(b'{"locations": [{"code": 1042, "name": 1.10}]}'))
    with db() as session:
        assert session.execute(select(Location.code, Location.name)).one() == ("1042", "1.10")


@pytest.mark.parametrize("top", ["object", "array"])
def test_nesting_deeper_than_an_item_can_be_is_refused_before_it_is_built(db, settings, top):
    deep = "[" * 50 + "]" * 50  # 100,000 levels: test_inventory_cli, in a process of its own
    items = f'{{"code": "L-1"}}, {{"code": "L-2", "name": {deep}}}'
    text = f'{{"locations": [{items}]}}' if top == "object" else f"[{items}]"
    assert failure(db, settings, text, kind="locations") == [
        "locations[1]: is nested more than 10 levels deep; an inventory item is a flat object"
    ]


def test_an_item_nested_as_deep_as_an_item_can_be_is_read(db, settings):
    text = '{"contacts": [{"account": "A-1", "email": "a@one.example", "notice_kinds": ["new"]}]}'
    assert failure(db, settings, text) == ["contacts[0]: account: no customer has account 'A-1'"]
