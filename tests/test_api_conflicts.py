"""Conflicts and blackouts over HTTP (a real uvicorn on loopback): overlapping published
GCRs on the same service, customer and location are each reported by /conflicts and in
the create, publish and reschedule responses; a blackout refuses a publish or a
reschedule with 409 naming it, and accepts it with an override reason, recorded in the
GCR's audit trail; blackouts are added, listed and removed, the key's name as the actor."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from changemgmt.store import models
from support.api import api_server
from support.conflicts import LATER, NEXT_WEEK, NIGHT, gcr

PROBLEM = "application/problem+json"
FREEZE = {"start": "2026-11-30T00:00Z", "end": "2026-12-02T00:00Z", "reason": "Year-end freeze"}


@pytest.fixture
def api(db, engine, settings, clock, desk):
    with api_server(db, engine, settings, clock) as world:
        yield world


def shared(conflict: dict) -> dict[str, list[str]]:
    return {kind: conflict[kind]["items"] for kind in ("services", "customers", "locations") if conflict[kind]["total"]}


def reported(answer) -> dict[str, dict[str, list[str]]]:
    assert answer.status_code in (200, 201), answer.text
    return {c["gcr"]: shared(c) for c in answer.json()["conflicts"]}


@pytest.fixture
def published(desk):
    """Published GCRs around the night of 1 December, each sharing one thing with GCR-9010."""
    desk.publish(gcr("GCR-9001", [("ACME-ETH-1", "OUTAGE")]))  # the same service (so the same customer)
    desk.publish(gcr("GCR-9002", [("ACME-DIA-2", "OUTAGE")], windows=LATER))  # the same customer
    desk.publish(gcr("GCR-9003", [("INIT-ETH-9", "OUTAGE")], locations=["DLLSTX01"]))  # the same location
    desk.publish(gcr("GCR-9004", [("GLBX-WAVE-1", "OUTAGE")]))  # nothing shared
    desk.publish(gcr("GCR-9005", [("ACME-ETH-1", "OUTAGE")], windows=NEXT_WEEK))  # another night
    desk.create(gcr("GCR-9006", [("ACME-ETH-1", "OUTAGE")]))  # a draft conflicts with no one


EXPECTED = {
    "GCR-9001": {"services": ["ACME-ETH-1"], "customers": ["ACC-1001"]},
    "GCR-9002": {"customers": ["ACC-1001"]},
    "GCR-9003": {"locations": ["DLLSTX01"]},
}


def test_create_publish_and_reschedule_report_the_same_service_customer_and_location(api, published):
    with api.client("change_manager") as client:
        made = client.post("/api/v1/gcrs", json=gcr("GCR-9010", [("ACME-ETH-1", "OUTAGE")], locations=["DLLSTX01"]))
        assert reported(made) == EXPECTED
        assert made.json()["conflicts"][0]["windows"] == [{"window": 1, "other_window": 1}]
        assert reported(client.post("/api/v1/gcrs/GCR-9010/publish")) == EXPECTED
        moved = client.patch("/api/v1/gcrs/GCR-9010", json={"windows": [{"number": 1, **NEXT_WEEK[0]}]})
        assert reported(moved) == {"GCR-9005": {"services": ["ACME-ETH-1"], "customers": ["ACC-1001"]}}
        assert reported(client.patch("/api/v1/gcrs/GCR-9010", json={"description": "More."})) == {}


def test_a_create_published_at_once_reports_its_conflicts(api, published):
    with api.client("change_manager") as client:
        made = client.post("/api/v1/gcrs", json={**gcr("GCR-9011", [("ACME-DIA-2", "OUTAGE")]), "publish": "tentative"})
    assert made.json()["gcr"]["status"] == "tentative"
    assert reported(made) == {
        "GCR-9001": {"customers": ["ACC-1001"]},
        "GCR-9002": {"services": ["ACME-DIA-2"], "customers": ["ACC-1001"]},
    }


def test_conflicts_lists_each_pair_in_a_period_with_what_they_share(api, published, desk):
    desk.publish(gcr("GCR-9010", [("ACME-ETH-1", "OUTAGE")], locations=["DLLSTX01"]))
    with api.client("viewer") as client:
        night = client.get("/api/v1/conflicts", params={"from": "2026-12-01", "to": "2026-12-01"})
        week = client.get("/api/v1/conflicts", params={"from": "2026-12-08T00:00Z", "to": "2026-12-09T00:00Z"})
        default = client.get("/api/v1/conflicts")
    assert night.status_code == 200, night.text
    assert night.json()["from"] == "2026-12-01T00:00:00Z" and night.json()["to"] == "2026-12-02T00:00:00Z"
    pairs = {(p["gcr"], p["conflicts_with"]["gcr"]): shared(p["conflicts_with"]) for p in night.json()["items"]}
    assert pairs == {
        ("GCR-9001", "GCR-9002"): {"customers": ["ACC-1001"]},
        ("GCR-9001", "GCR-9010"): {"services": ["ACME-ETH-1"], "customers": ["ACC-1001"]},
        ("GCR-9002", "GCR-9010"): {"customers": ["ACC-1001"]},
        ("GCR-9003", "GCR-9010"): {"locations": ["DLLSTX01"]},
    }
    assert week.json()["items"] == []  # GCR-9005 conflicts with no one that night
    assert default.json()["from"] == "2026-11-02T15:00:00Z" and default.json()["to"] == "2027-01-31T15:00:00Z"
    assert len(default.json()["items"]) == 4


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "soon"}, "from"),
        ({"from": "2026-12-02", "to": "2026-12-01T00:00Z"}, "to"),
        ({"from": "2026-01-01", "to": "2028-01-01"}, "to"),
        ({"from": "9999-12-31T00:00Z"}, "from"),
    ],
)
def test_a_bad_period_is_a_problem_naming_the_field(api, params, field):
    with api.client("viewer") as client:
        answer = client.get("/api/v1/conflicts", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert [e["field"] for e in answer.json()["errors"]] == [field]


def audit_entry(client, number: str, action: str) -> dict:
    entries = client.get(f"/api/v1/gcrs/{number}/audit").json()["items"]
    return [e for e in entries if e["action"] == action][-1]


def test_a_blackout_refuses_a_publish_with_409_and_an_override_reason_lets_it_through(api):
    with api.client("change_manager") as client:
        freeze = client.post("/api/v1/blackouts", json=FREEZE).json()
        client.post("/api/v1/gcrs", json=gcr("GCR-9101", [("GLBX-WAVE-1", "OUTAGE")]))
        refused = client.post("/api/v1/gcrs/GCR-9101/publish", json={"override_reason": "not the blackout's"})
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["errors"][0]["field"] == "windows[1]"
        assert f"blackout {freeze['id']} (global" in refused.json()["errors"][0]["message"]
        assert [b["id"] for b in refused.json()["blackouts"]] == [freeze["id"]]
        assert client.get("/api/v1/gcrs/GCR-9101").json()["status"] == "draft"
        published = client.post("/api/v1/gcrs/GCR-9101/publish", json={"blackout_override": "Fibre cut: urgent"})
        assert published.status_code == 200, published.text
        assert [b["id"] for b in published.json()["blackouts_overridden"]] == [freeze["id"]]
        entry = audit_entry(client, "GCR-9101", "publish")
    assert entry["actor"] == "change_manager"
    assert entry["details"]["blackout_override"] == "Fibre cut: urgent"
    assert entry["details"]["blackouts"][0]["reason"] == "Year-end freeze"


def test_a_create_published_into_a_blackout_is_refused_whole(api):
    with api.client("change_manager") as client:
        client.post("/api/v1/blackouts", json=FREEZE)
        document = {**gcr("GCR-9102", [("GLBX-WAVE-1", "OUTAGE")]), "publish": "confirmed"}
        assert client.post("/api/v1/gcrs", json=document).status_code == 409
        assert client.get("/api/v1/gcrs/GCR-9102").status_code == 404  # not even the draft
        made = client.post("/api/v1/gcrs", json={**document, "blackout_override": "Agreed with NOC"})
        assert made.status_code == 201, made.text
        assert audit_entry(client, "GCR-9102", "publish")["details"]["blackout_override"] == "Agreed with NOC"


def test_a_reschedule_into_a_customers_blackout_is_refused_unless_overridden(api, desk):
    desk.publish(gcr("GCR-9103", [("GLBX-WAVE-1", "OUTAGE")], windows=NEXT_WEEK))
    into = {"windows": [{"number": 1, **NIGHT[0]}]}
    with api.client("change_manager") as client:
        client.post("/api/v1/blackouts", json={**FREEZE, "account": "ACC-2002", "reason": "Their audit"})
        etag = client.get("/api/v1/gcrs/GCR-9103").headers["etag"]
        refused = client.patch("/api/v1/gcrs/GCR-9103", json=into, headers={"If-Match": etag})
        assert refused.status_code == 409, refused.text
        assert "ACC-2002's" in refused.json()["detail"]
        assert client.get("/api/v1/gcrs/GCR-9103").headers["etag"] == etag  # nothing changed
        moved = client.patch(
            "/api/v1/gcrs/GCR-9103", json={**into, "blackout_override": "Agreed"}, headers={"If-Match": etag}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["gcr"]["windows"][0]["start"].startswith("2026-12-01T07:00")
        assert audit_entry(client, "GCR-9103", "update")["details"]["blackout_override"] == "Agreed"


def test_blackouts_are_added_listed_and_removed(api, db):
    with api.client("change_manager") as client:
        everyone = client.post("/api/v1/blackouts", json=FREEZE)
        assert everyone.status_code == 201, everyone.text
        theirs = client.post(
            "/api/v1/blackouts",
            json={"account": "ACC-1001", "start": "2026-12-05", "end": "2026-12-05", "reason": "Audit"},
        ).json()
        assert theirs["start"] == "2026-12-05T00:00:00Z" and theirs["end"] == "2026-12-06T00:00:00Z"
        chicago = client.post(
            "/api/v1/blackouts",
            json={
                "start": "2026-12-20T00:00",
                "end": "2026-12-21T00:00",
                "reason": "Holiday",
                "time_zone": "America/Chicago",
            },
        ).json()
        assert chicago["start"] == "2026-12-20T06:00:00Z"
        gone = client.delete(f"/api/v1/blackouts/{chicago['id']}")
        assert gone.status_code == 200 and gone.json()["removed_at"] == "2026-11-02T15:00:00Z"
        assert client.delete(f"/api/v1/blackouts/{chicago['id']}").status_code == 404  # removed once
        assert client.delete("/api/v1/blackouts/999").status_code == 404
    first = everyone.json()["id"]
    with api.client("viewer") as client:

        def ids(**params) -> list[int]:
            answer = client.get("/api/v1/blackouts", params=params)
            assert answer.status_code == 200, answer.text
            return [b["id"] for b in answer.json()["items"]]

        assert ids() == [first, theirs["id"]]
        assert ids(removed="true") == [first, theirs["id"], chicago["id"]]
        assert ids(account="ACC-2002") == [first]
        assert ids(account="ACC-1001", **{"global": "false"}) == [theirs["id"]]
        assert ids(**{"from": "2026-12-03", "to": "2026-12-31"}) == [theirs["id"]]
        assert client.get("/api/v1/blackouts", params={"account": "ACC-9999"}).status_code == 404
    with db() as session:
        actors = session.execute(
            select(models.AuditEntry.action, models.AuditEntry.actor).where(models.AuditEntry.entity == "blackout")
        ).all()
    assert sorted(actors) == [("create", "change_manager")] * 3 + [("remove", "change_manager")]


def test_three_removals_of_one_blackout_at_once_remove_it_once(api, db):
    with api.client("change_manager") as client:
        path = f"/api/v1/blackouts/{client.post('/api/v1/blackouts', json=FREEZE).json()['id']}"
    answers: list[int] = []
    start = threading.Barrier(3)

    def remove() -> None:
        with api.client("change_manager") as own:
            start.wait()
            answers.append(own.delete(path).status_code)

    threads = [threading.Thread(target=remove) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 404, 404]
    with db() as session:
        removals = session.scalars(
            select(models.AuditEntry.id).where(
                models.AuditEntry.entity == "blackout", models.AuditEntry.action == "remove"
            )
        ).all()
    assert len(removals) == 1


def test_a_retried_add_with_the_same_idempotency_key_adds_one_blackout(api):
    with api.client("change_manager", **{"Idempotency-Key": "freeze-1"}) as client:
        first, again = client.post("/api/v1/blackouts", json=FREEZE), client.post("/api/v1/blackouts", json=FREEZE)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    with api.client("viewer") as client:
        assert len(client.get("/api/v1/blackouts").json()["items"]) == 1


def test_a_bad_blackout_is_a_problem_naming_every_field_at_once_and_nothing_is_added(api):
    with api.client("change_manager") as client:
        bad = client.post(
            "/api/v1/blackouts", json={"account": "ACC-9999", "start": "soon", "reason": " ", "colour": 1}
        )
        backwards = client.post("/api/v1/blackouts", json={**FREEZE, "start": "2026-12-03T00:00Z"})
        empty = client.post("/api/v1/blackouts", json={**FREEZE, "account": " "})
        zone = client.post("/api/v1/blackouts", json={**FREEZE, "start": "2026-12-01T00:00", "time_zone": "Mars/Base"})
        listed = client.get("/api/v1/blackouts").json()["items"]
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert {e["field"] for e in bad.json()["errors"]} == {"colour", "account", "start", "end", "reason"}
    assert [(e["field"], e["message"]) for e in backwards.json()["errors"]] == [("end", "must be after the start")]
    assert {e["field"] for e in zone.json()["errors"]} == {"time_zone", "start"}
    assert [e["field"] for e in empty.json()["errors"]] == ["account"]
    assert listed == []
