"""The inventory over HTTP: an import (CSV or JSON) with the CLI's report, all or
nothing; the lists with filters and keyset pages."""

from __future__ import annotations

import pytest

from support.api import api_server


@pytest.fixture
def api(db, engine, settings, clock, desk):
    with api_server(db, engine, settings, clock) as world:
        yield world


CSV = b"account,name,parent_account,time_zone,active\nACC-4004,Umbrella,,UTC,true\nACC-5005,Hooli,ENT-100,,true\n"


def test_an_import_reports_as_the_cli_does(api, tmp_path, run):
    with api.client("admin") as client:
        answer = client.post("/api/v1/inventory/import", content=CSV, headers={"content-type": "text/csv"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["summary"] == ["customers: 2 rows (2 new, 0 updated)"]
        again = client.post("/api/v1/inventory/import", content=CSV, headers={"content-type": "text/csv"})
        assert again.json()["summary"] == ["customers: 2 rows (0 new, 2 updated)"]
        audit_actor = client.get("/api/v1/customers", params={"parent_account": "ENT-100"}).json()["items"]
    assert [c["account"] for c in audit_actor] == ["ACC-1001", "ACC-5005"]
    (tmp_path / "c.csv").write_bytes(CSV)
    assert "customers: 2 rows (0 new, 2 updated)" in run("import", str(tmp_path / "c.csv"))


def test_a_bad_file_names_every_problem_and_writes_nothing(api):
    bad = b"account,name,parent_account,time_zone,active\nACC-6006,,,Mars/Base,true\nACC-7007,Ok,NOPE,,true\n"
    with api.client("admin") as client:
        answer = client.post("/api/v1/inventory/import", content=bad, headers={"content-type": "text/csv"})
        assert answer.status_code == 422
        fields = [e["field"] for e in answer.json()["errors"]]
        assert "line 2: name" in fields and "line 2: time_zone" in fields and "line 3: parent_account" in fields
        assert client.get("/api/v1/customers", params={"account": "ACC-6006"}).json()["items"] == []
        names = [c["account"] for c in client.get("/api/v1/customers").json()["items"]]
    assert "ACC-7007" not in names


def test_a_json_import_and_a_dry_run(api):
    body = {"locations": [{"code": "AUSTX01", "name": "Austin", "country": "US", "time_zone": "America/Chicago"}]}
    with api.client("admin") as client:
        dry = client.post("/api/v1/inventory/import", params={"dry_run": "true"}, json=body)
        assert dry.json()["dry_run"] is True and dry.json()["new"] == {"locations": 1}
        assert client.get("/api/v1/locations", params={"country": "US"}).json()["items"][0]["code"] == "DLLSTX01"
        assert len(client.get("/api/v1/locations").json()["items"]) == 2
        client.post("/api/v1/inventory/import", json=body)
        assert len(client.get("/api/v1/locations").json()["items"]) == 3


def test_lists_page_by_key_with_filters(api):
    with api.client("viewer") as client:
        pages, cursor = [], None
        while True:
            answer = client.get("/api/v1/customers", params={"limit": 1, **({"cursor": cursor} if cursor else {})})
            pages.append([c["account"] for c in answer.json()["items"]])
            cursor = answer.json()["next_cursor"]
            if cursor is None:
                break
        assert pages == [["ACC-1001"], ["ACC-2002"], ["ACC-3003"], ["ENT-100"]]
        contacts = client.get("/api/v1/contacts", params={"limit": 1}).json()
        second = client.get("/api/v1/contacts", params={"limit": 1, "cursor": contacts["next_cursor"]}).json()
        assert (contacts["items"][0]["account"], second["items"][0]["account"]) == ("ACC-1001", "ACC-2002")
        services = client.get("/api/v1/services", params={"location": "HSTNTX02"}).json()["items"]
        assert [s["service_id"] for s in services] == ["ACME-ETH-1", "GLBX-WAVE-1", "INIT-ETH-9"]
        assert [
            s["service_id"] for s in client.get("/api/v1/services", params={"account": "ACC-2002"}).json()["items"]
        ] == ["GLBX-WAVE-1"]
        bad = client.get("/api/v1/customers", params={"active": "maybe"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "active"
        bad = client.get("/api/v1/services", params={"cursor": "WyJ4Il0"})  # ["x"]: a cursor of one key: fine
        assert bad.status_code == 200
        bad = client.get("/api/v1/contacts", params={"cursor": "WyJ4Il0"})  # contacts' keys have two parts
        assert bad.status_code == 422
