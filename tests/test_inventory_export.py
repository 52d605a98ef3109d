"""Exporting the inventory: what comes out imports back unchanged, and CSV cells that look
like formulas are neutralised (OWASP)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from changemgmt.domain.errors import DomainError
from changemgmt.inventory import KIND_NAMES, export_inventory, import_inventory
from changemgmt.store.models import Contact, Customer, Location, Service
from world import build_world

DATA = Path(__file__).parent / "data" / "inventory"


def load(db, settings, file, **options):
    return import_inventory(db, file, settings=settings, actor="alice", **options)


def load_sample(db, settings):
    for kind in KIND_NAMES:
        load(db, settings, DATA / f"{kind}.csv")


def export(db, **options) -> str:
    out = io.StringIO()
    export_inventory(db, out, **options)
    return out.getvalue()


def snapshot(db) -> dict[str, list[tuple]]:
    with db() as session:
        return {
            model.__tablename__: [tuple(row) for row in session.execute(select(model.__table__).order_by("id"))]
            for model in (Location, Customer, Contact, Service)
        }


def save(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_each_kind_round_trips_through_csv(db, settings, tmp_path, kind):
    load_sample(db, settings)
    before, exported = snapshot(db), export(db, kind=kind)
    result = load(db, settings, save(tmp_path, f"{kind}.csv", exported))
    assert snapshot(db) == before
    assert result.new == {kind: 0}
    assert export(db, kind=kind) == exported


def test_everything_round_trips_through_json(db, settings, tmp_path):
    with db.begin() as session:
        build_world(session)
    before, exported = snapshot(db), export(db, fmt="json")
    result = load(db, settings, save(tmp_path, "inventory.json", exported))
    assert snapshot(db) == before
    assert result.rows == {"locations": 2, "customers": 4, "contacts": 4, "services": 4}
    assert export(db, fmt="json") == exported


def test_an_export_loads_into_an_empty_database_as_the_same_inventory(db, settings, tmp_path):
    load_sample(db, settings)
    exported = export(db, fmt="json")
    with db.begin() as session:
        for model in (Service, Contact, Customer, Location):
            session.execute(model.__table__.delete())
    load(db, settings, save(tmp_path, "inventory.json", exported))
    assert export(db, fmt="json") == exported


def test_csv_columns_are_the_ones_the_importer_reads(db, settings):
    load_sample(db, settings)
    rows = list(csv.reader(io.StringIO(export(db, kind="contacts"))))
    assert rows == [
        ["account", "email", "name", "role", "notice_kinds", "min_impact", "reminders"],
        ["ACC-1001", "NOC@acme.example", "Acme NOC", "NOC", "new;updated;cancelled", "OUTAGE", "false"],
        ["ACC-2002", "ops@globex.example", "Globex Ops", "", "emergency", "DEGRADED", "true"],
        ["ENT-100", "it@acme-holdings.example", "Acme Holdings IT", "IT", "", "NO-IMPACT", "true"],
    ]


def test_rows_come_out_in_the_order_of_their_key_byte_by_byte(db, settings, tmp_path):
    load(db, settings, save(tmp_path, "locations.csv", "code\nb-2\nB-1\na-3\nA-4\n"))
    rows = list(csv.reader(io.StringIO(export(db, kind="locations"))))
    assert [row[0] for row in rows[1:]] == ["A-4", "B-1", "a-3", "b-2"]


def test_csv_cells_that_look_like_formulas_are_prefixed_with_a_quote(db, settings, tmp_path):
    risky = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tTab", "\rReturn"]
    with db.begin() as session:
        session.add_all(Location(code=f"L-{n}", name=name) for n, name in enumerate(risky))
    rows = list(csv.reader(io.StringIO(export(db, kind="locations"), newline="")))
    assert [row[1] for row in rows[1:]] == ["'" + name for name in risky]


def test_neutralised_cells_import_back_as_they_were(db, settings, tmp_path):
    with db.begin() as session:
        session.add(Customer(account="=A-1", name="@Home Networks", time_zone="UTC", active=True))
    before, exported = snapshot(db), export(db, kind="customers")
    assert "'=A-1,'@Home Networks" in exported
    load(db, settings, save(tmp_path, "customers.csv", exported))
    assert snapshot(db) == before


def test_json_keeps_values_as_they_are(db, settings):
    with db.begin() as session:
        session.add(Location(code="L-1", name="=1+2"))
    assert json.loads(export(db, kind="locations", fmt="json")) == {
        "locations": [
            {"code": "L-1", "name": "=1+2", "address": "", "city": "", "region": "", "country": "", "time_zone": None}
        ]
    }


def test_a_json_export_of_one_kind_is_an_object_holding_that_kind(db, settings):
    load_sample(db, settings)
    document = json.loads(export(db, kind="services", fmt="json"))
    assert list(document) == ["services"]
    assert document["services"][0] == {
        "service_id": "ACME-DIA-2",
        "account": "ACC-1001",
        "product": "Dedicated Internet Access",
        "bandwidth": "1G",
        "a_end": "DLLSTX01",
        "z_end": None,
    }


def test_an_empty_inventory_exports_as_empty_arrays(db):
    assert json.loads(export(db, fmt="json")) == {kind: [] for kind in KIND_NAMES}


def test_a_csv_export_needs_one_kind(db):
    with pytest.raises(DomainError) as caught:
        export(db, fmt="csv")
    assert caught.value.field == "kind"
