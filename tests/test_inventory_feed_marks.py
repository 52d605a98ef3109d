"""An inventory import that changes what a feed shows marks that feed for rebuilding, in
the import's own transaction; `rebuild_dirty` then rewrites it. Rows imported as they
already are mark nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from changemgmt.feeds.publisher import rebuild_dirty
from changemgmt.feeds.registry import Scope
from changemgmt.feeds.stores import store_of
from changemgmt.store import models
from support.feeds import events, parse

CUSTOMERS = {  # the small world's customers, as a file describes them
    "ENT-100": "ENT-100,Acme Holdings,,America/New_York,true",
    "ACC-1001": "ACC-1001,Acme Logistics,ENT-100,America/Chicago,true",
    "ACC-2002": "ACC-2002,Globex Corp,,UTC,true",
    "ACC-3003": "ACC-3003,Initech,,America/Denver,true",
}
SERVICES = {
    "ACME-ETH-1": "ACME-ETH-1,ACC-1001,Ethernet 10G,10G,DLLSTX01,HSTNTX02",
    "ACME-DIA-2": "ACME-DIA-2,ACC-1001,Dedicated Internet Access,1G,DLLSTX01,",
    "GLBX-WAVE-1": "GLBX-WAVE-1,ACC-2002,Wavelength 100G,100G,HSTNTX02,DLLSTX01",
    "INIT-ETH-9": "INIT-ETH-9,ACC-3003,Ethernet 1G,1G,HSTNTX02,",
}
LOCATIONS = {
    "DLLSTX01": "DLLSTX01,Dallas Central,,Dallas,TX,US,America/Chicago",
    "HSTNTX02": "HSTNTX02,Houston West,,Houston,TX,US,America/Chicago",
}
HEADERS = {
    "customers": "account,name,parent_account,time_zone,active",
    "services": "service_id,account,product,bandwidth,a_end,z_end",
    "locations": "code,name,address,city,region,country,time_zone",
}


@pytest.fixture
def feeds(published_feeds, db, settings, clock):
    rebuild_dirty(db, settings, clock())
    assert requested(db) == []
    return published_feeds


@pytest.fixture
def imported(run, tmp_path):
    """Imports the world's rows of one kind, with some of them changed."""

    def load(kind: str, **changed: str) -> str:
        rows = {"customers": CUSTOMERS, "services": SERVICES, "locations": LOCATIONS}[kind] | changed
        path = Path(tmp_path) / f"{kind}.csv"
        path.write_text("\n".join([HEADERS[kind], *rows.values()]) + "\n", encoding="utf-8")
        return run("import", str(path))

    return load


def requested(db) -> list[tuple[str, int | None]]:
    with db() as session:
        keys = {key: account for key, account in _feed_accounts(session)}
        rows = session.execute(select(models.FeedRebuild.feed_key, models.FeedRebuild.gcr_id)).all()
    return sorted((keys.get(key, key), gcr) for key, gcr in rows)


def _feed_accounts(session):
    for key, scope, account in session.execute(
        select(models.Feed.key, models.Feed.scope, models.Customer.account).join(
            models.Customer, models.Customer.id == models.Feed.customer_id
        )
    ):
        yield key, f"{scope}:{account}"


def gcr_id(db, number: str = "GCR-1001") -> int:
    with db() as session:
        return session.scalar(select(models.Gcr.id).where(models.Gcr.number == number))


def text_of(data: bytes) -> str:
    """The feed's text with its lines unfolded and TEXT escapes of commas undone."""
    return data.replace(b"\r\n ", b"").decode().replace("\\,", ",")


def test_renaming_a_customer_through_import_rebuilds_its_feeds_and_its_enterprises(
    feeds, imported, db, settings, clock
):
    imported("customers", **{"ENT-100": "ENT-100,Acme Group,,America/New_York,true"})
    assert requested(db) == [("customer:ENT-100", None), ("enterprise:ENT-100", None)]
    written = rebuild_dirty(db, settings, clock())
    assert (written.customer, written.enterprise, written.internal) == (1, 1, 0)
    assert str(parse(feeds.read("ENT-100"))["NAME"]).endswith("Acme Group (ENT-100)")
    assert str(parse(feeds.read("ENT-100", Scope.ENTERPRISE))["NAME"]).endswith("Acme Group (ENT-100) and its accounts")


def test_renaming_an_impacted_customer_rebuilds_the_internal_feed_for_its_gcrs(feeds, imported, db, settings, clock):
    imported("customers", **{"ACC-1001": "ACC-1001,Acme Freight,ENT-100,America/Chicago,true"})
    assert requested(db) == [
        ("customer:ACC-1001", None),
        ("enterprise:ENT-100", None),
        ("internal", gcr_id(db)),
    ]
    rebuild_dirty(db, settings, clock())
    assert str(parse(feeds.read("ACC-1001"))["NAME"]).endswith("Acme Freight (ACC-1001)")
    assert "for ACC-1001 (Acme Freight)" in text_of(feeds.read(None, Scope.INTERNAL))


def test_importing_the_same_rows_again_marks_nothing(feeds, imported, db):
    for kind in ("locations", "customers", "services"):
        imported(kind)
    assert requested(db) == []


def test_a_customer_moved_out_of_its_enterprise_leaves_its_feed(feeds, imported, db, settings, clock):
    enterprise = feeds.token("ENT-100", Scope.ENTERPRISE)
    assert len(events(store_of(settings, db).read(enterprise))) == 2
    imported("customers", **{"ACC-1001": "ACC-1001,Acme Logistics,,America/Chicago,true"})
    assert requested(db) == [("customer:ACC-1001", None), ("enterprise:ENT-100", None)]
    rebuild_dirty(db, settings, clock())
    assert events(store_of(settings, db).read(enterprise)) == {}
    assert len(feeds.events("ACC-1001")) == 2


def test_a_deactivated_customer_gets_an_empty_feed(feeds, imported, db, settings, clock):
    imported("customers", **{"ACC-2002": "ACC-2002,Globex Corp,,UTC,false"})
    assert requested(db) == [("customer:ACC-2002", None)]
    rebuild_dirty(db, settings, clock())
    assert feeds.events("ACC-2002") == {}


def test_a_service_moved_to_another_customer_marks_both_and_the_internal_feed(feeds, imported, db, settings, clock):
    imported("services", **{"GLBX-WAVE-1": "GLBX-WAVE-1,ACC-3003,Wavelength 100G,100G,HSTNTX02,DLLSTX01"})
    assert requested(db) == [("customer:ACC-2002", None), ("customer:ACC-3003", None), ("internal", gcr_id(db))]
    rebuild_dirty(db, settings, clock())
    assert "GLBX-WAVE-1" in text_of(feeds.read(None, Scope.INTERNAL)).split("for ACC-3003 (Initech)")[0]


def test_a_service_whose_line_changes_rebuilds_its_customers_feeds(feeds, imported, db, settings, clock):
    imported("services", **{"ACME-DIA-2": "ACME-DIA-2,ACC-1001,Dedicated Internet Access,10G,DLLSTX01,"})
    assert requested(db) == [("customer:ACC-1001", None), ("enterprise:ENT-100", None), ("internal", gcr_id(db))]
    assert "10G" not in text_of(feeds.read("ACC-1001")).split("ACME-DIA-2")[1].split("\\n")[0]
    rebuild_dirty(db, settings, clock())
    assert "10G" in text_of(feeds.read("ACC-1001")).split("ACME-DIA-2")[1].split("\\n")[0]


def test_a_location_moved_to_another_city_rebuilds_the_feeds_that_name_it(feeds, imported, db, settings, clock):
    imported("locations", DLLSTX01="DLLSTX01,Dallas Central,,Plano,TX,US,America/Chicago")
    assert requested(db) == [
        ("customer:ACC-1001", None),
        ("customer:ACC-2002", None),
        ("enterprise:ENT-100", None),
        ("internal", gcr_id(db)),
    ]
    rebuild_dirty(db, settings, clock())
    assert "DLLSTX01 (Plano, TX)" in text_of(feeds.read("ACC-2002"))


def test_a_renamed_location_or_a_new_service_marks_nothing(feeds, imported, db):
    """Neither is in any feed: a place is shown by its code, city and region, and no GCR
    can impact a service that did not exist."""
    imported("locations", DLLSTX01="DLLSTX01,Dallas Main,,Dallas,TX,US,America/Chicago")
    imported("services", **{"NEW-1": "NEW-1,ACC-2002,Ethernet 1G,1G,DLLSTX01,"})
    assert requested(db) == []


def test_a_dry_run_or_a_refused_file_marks_nothing(feeds, run, db, tmp_path):
    renamed = tmp_path / "customers.csv"
    renamed.write_text(HEADERS["customers"] + "\nACC-2002,Globex Inc,,UTC,true\n", encoding="utf-8")
    run("import", str(renamed), "--dry-run")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADERS["customers"] + "\nACC-2002,Globex Inc,,UTC,true\nACC-3003,,,Nowhere/City,maybe\n")
    run("import", str(bad), expect=1)
    assert requested(db) == []
