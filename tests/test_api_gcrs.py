"""GCRs over HTTP (a real uvicorn on loopback): create, list and search, read with its
ETag, change with If-Match, status changes, preview, audit; errors as problem+json naming
the field, the same words as the CLI's."""

from __future__ import annotations

import copy
import json
import pathlib
import tempfile
import threading

import pytest

from support.api import api_server
from support.feeds import GCR

PROBLEM = "application/problem+json"


@pytest.fixture
def api(db, engine, settings, clock, desk):
    with api_server(db, engine, settings, clock) as world:
        yield world


def create(client, document=None, **extra):
    return client.post("/api/v1/gcrs", json={**(document or GCR), **extra})


def test_it_creates_a_draft_and_reads_it_back_with_its_etag(api):
    with api.client("change_manager") as client:
        made = create(client)
        assert made.status_code == 201, made.text
        assert made.headers["location"] == "/api/v1/gcrs/GCR-1001"
        assert made.json()["revision"] == 1
        assert made.json()["gcr"]["status"] == "draft"
        read = client.get("/api/v1/gcrs/GCR-1001")
    assert read.status_code == 200
    assert read.headers["etag"] == made.headers["etag"]
    assert [c["account"] for c in read.json()["impacted_customers"]] == ["ACC-1001", "ACC-2002"]
    assert read.json()["audit"][0]["actor"] == "change_manager"  # the key's name, not a self-declared one


def test_it_creates_and_publishes_at_once(api):
    with api.client("change_manager") as client:
        made = create(client, publish="confirmed")
    assert made.status_code == 201, made.text
    assert made.json()["gcr"]["status"] == "confirmed"
    assert made.json()["notices_planned"] == {"new": 2}


def test_bad_input_is_a_problem_naming_each_field_as_the_cli_does(api, run):
    document = {**GCR, "title": "a\nb", "windows": [{"start": "nonsense", "end": "2026-12-01T11:00Z"}]}
    del document["description"]
    with api.client("change_manager") as client:
        refused = create(client, document)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    fields = {e["field"]: e["message"] for e in refused.json()["errors"]}
    assert set(fields) == {"title", "description", "windows[1].start"}
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "gcr.json"
        path.write_text(json.dumps(document))
        printed = run("gcr", "create", str(path), expect=1)
    for field, message in fields.items():
        assert f"{field}: {message}" in printed
    with api.client("viewer") as client:
        assert client.get("/api/v1/gcrs/GCR-1001").status_code == 404  # nothing was written


@pytest.mark.parametrize(
    "body",
    [b"{", b"[1, 2]", b"\xff\xfe", b"1" * 5000, b"[" * 100_000, b'{"title": 5}', b'{"title": "\\u0000"}'],
)
def test_malformed_bodies_are_422_never_500(api, body):
    with api.client("change_manager") as client:
        answer = client.post("/api/v1/gcrs", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM


def test_a_body_over_the_limit_is_413(api):
    with api.client("change_manager") as client:
        answer = client.post(
            "/api/v1/gcrs", content=b" " * (16 * 1024 * 1024 + 1), headers={"content-type": "application/json"}
        )
    assert answer.status_code == 413
    assert answer.json()["errors"][0]["field"] == "body"


def test_patch_with_a_stale_etag_is_412_and_changes_nothing(api):
    with api.client("change_manager") as client:
        etag = create(client).headers["etag"]
        first = client.patch("/api/v1/gcrs/GCR-1001", json={"title": "First"}, headers={"If-Match": etag})
        assert first.status_code == 200, first.text
        assert first.headers["etag"] != etag
        second = client.patch("/api/v1/gcrs/GCR-1001", json={"title": "Second"}, headers={"If-Match": etag})
        assert second.status_code == 412
        assert second.json()["errors"][0]["field"] == "If-Match"
        assert client.get("/api/v1/gcrs/GCR-1001").json()["title"] == "First"


def test_an_internal_change_also_changes_the_etag(api):
    with api.client("change_manager") as client:
        etag = create(client).headers["etag"]
        changed = client.patch("/api/v1/gcrs/GCR-1001", json={"internal_notes": "call Bob"}, headers={"If-Match": etag})
        assert changed.json()["revision"] is None
        assert changed.headers["etag"] != etag


def test_two_clients_racing_one_wins_the_other_gets_412(api):
    with api.client("change_manager") as client:
        etag = create(client).headers["etag"]
    answers: list[int] = []
    start = threading.Barrier(2)

    def edit(title: str) -> None:
        with api.client("change_manager") as own:
            start.wait()
            answers.append(
                own.patch("/api/v1/gcrs/GCR-1001", json={"title": title}, headers={"If-Match": etag}).status_code
            )

    threads = [threading.Thread(target=edit, args=(t,)) for t in ("One", "Two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 412]


def test_a_retried_create_with_the_same_idempotency_key_creates_one_gcr(api, db):
    with api.client("change_manager", **{"Idempotency-Key": "ticket-42"}) as client:
        first = create(client, publish="confirmed")
        again = create(client, publish="confirmed")
        other = create(client, {**GCR, "number": "GCR-1002"})
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    with api.client("viewer") as client:
        assert [g["number"] for g in client.get("/api/v1/gcrs").json()["items"]] == ["GCR-1001"]


def test_concurrent_creates_with_one_idempotency_key_create_one_gcr(api):
    answers = []
    start = threading.Barrier(3)

    def send() -> None:
        with api.client("change_manager", **{"Idempotency-Key": "same"}) as own:
            start.wait()
            answers.append(create(own).status_code)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [201, 201, 201]


def test_status_changes_publish_start_complete_and_cancel_needs_a_reason(api, clock):
    with api.client("change_manager") as client:
        create(client)
        created = client.get("/api/v1/gcrs/GCR-1001")
        published = client.post("/api/v1/gcrs/GCR-1001/publish", headers={"If-Match": created.headers["etag"]})
        assert published.status_code == 200, published.text
        assert published.json()["gcr"]["status"] == "confirmed"
        again = client.post("/api/v1/gcrs/GCR-1001/publish", json={"tentative": True})
        assert again.status_code == 409
        no_reason = client.post("/api/v1/gcrs/GCR-1001/cancel", json={})
        assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
        cancelled = client.post("/api/v1/gcrs/GCR-1001/cancel", json={"reason": "Vendor postponed the splice"})
        assert cancelled.status_code == 200
        audit = client.get("/api/v1/gcrs/GCR-1001/audit").json()["items"]
    assert [a["action"] for a in audit] == ["create", "publish", "cancel"]
    assert audit[-1]["details"]["reason"] == "Vendor postponed the splice"
    assert {a["actor"] for a in audit} == {"change_manager"}


def test_start_and_complete(api, clock):
    document = copy.deepcopy(GCR)
    with api.client("change_manager") as client:
        create(client, document, publish="confirmed")
        clock.advance(days=29, hours=1)  # into window 1 (2026-12-01T07:00Z)
        assert client.post("/api/v1/gcrs/GCR-1001/start").json()["gcr"]["status"] == "in_progress"
        assert client.post("/api/v1/gcrs/GCR-1001/complete", json={}).json()["gcr"]["status"] == "completed"


def test_list_and_search_with_filters_and_pages(api):
    with api.client("change_manager") as client:
        for n in range(1, 6):
            document = {**GCR, "number": f"GCR-10{n:02d}", "title": f"Splice {n}"}
            if n == 5:
                document["impacts"] = [{"service": "INIT-ETH-9"}]
                document["title"] = "Router swap"
            assert create(client, document).status_code == 201
        client.post("/api/v1/gcrs/GCR-1002/publish")
        first = client.get("/api/v1/gcrs", params={"limit": 2})
        second = client.get("/api/v1/gcrs", params={"limit": 2, "cursor": first.json()["next_cursor"]})
        third = client.get("/api/v1/gcrs", params={"limit": 2, "cursor": second.json()["next_cursor"]})
        numbers = lambda r: [g["number"] for g in r.json()["items"]]  # noqa: E731
        assert numbers(first) + numbers(second) + numbers(third) == [f"GCR-10{n:02d}" for n in range(1, 6)]
        assert third.json()["next_cursor"] is None
        assert numbers(client.get("/api/v1/gcrs", params={"status": "confirmed"})) == ["GCR-1002"]
        assert numbers(client.get("/api/v1/gcrs", params={"customer": "ACC-3003"})) == ["GCR-1005"]
        assert numbers(client.get("/api/v1/gcrs", params={"service": "INIT-ETH-9"})) == ["GCR-1005"]
        assert numbers(client.get("/api/v1/gcrs", params={"q": "ROUTER"})) == ["GCR-1005"]
        assert len(numbers(client.get("/api/v1/gcrs", params={"location": "DLLSTX01"}))) == 4
        assert numbers(client.get("/api/v1/gcrs", params={"from": "2026-12-02", "to": "2026-12-02"})) == []
        assert len(numbers(client.get("/api/v1/gcrs", params={"from": "2026-12-01", "to": "2026-12-01"}))) == 5
        unknown = client.get("/api/v1/gcrs", params={"customer": "NOPE"})
        assert unknown.status_code == 404
        bad = client.get("/api/v1/gcrs", params={"cursor": "garbage!"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
        bad = client.get("/api/v1/gcrs", params={"status": "bogus"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status.0"


def test_preview_gives_the_exact_email_and_ics(api, run):
    with api.client("change_manager") as client:
        create(client)
        preview = client.get("/api/v1/gcrs/GCR-1001/preview", params={"account": "ACC-1001"})
        outsider = client.get("/api/v1/gcrs/GCR-1001/preview", params={"account": "ACC-3003"})
        bad_kind = client.get("/api/v1/gcrs/GCR-1001/preview", params={"account": "ACC-1001", "kind": "nope"})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["to"] == ["noc@acme.example"]
    assert "ACME-ETH-1" in body["text"] and "GLBX-WAVE-1" not in body["text"]
    assert body["ics"].startswith("BEGIN:VCALENDAR")
    printed = run("preview", "GCR-1001", "--account", "ACC-1001", "--ics")
    assert body["ics"].replace("\r\n", "\n").strip() == printed.replace("\r\n", "\n").strip()
    assert outsider.status_code == 422 and outsider.json()["errors"][0]["field"] == "account"
    assert bad_kind.status_code == 422 and bad_kind.json()["errors"][0]["field"] == "kind"


def test_openapi_and_docs_are_served(api):
    with api.client(None) as client:
        schema = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    assert "/api/v1/gcrs/{number}/publish" in schema["paths"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["x-role"] in ("viewer", "change_manager", "admin"), (method, path)


def test_kept_answers_are_pruned_after_a_day(api, engine, clock):
    from changemgmt.jobs.prune import prune

    with api.client("change_manager", **{"Idempotency-Key": "k"}) as client:
        assert create(client).status_code == 201
    assert prune(engine, clock.advance(hours=23), 30, 30).idempotent == 0
    assert prune(engine, clock.advance(hours=2), 30, 30).idempotent == 1


def test_two_creates_of_one_number_at_once_make_one_gcr_and_no_500(api):
    answers = []
    start = threading.Barrier(4)

    def send() -> None:
        with api.client("change_manager") as own:
            start.wait()
            answers.append(create(own).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(201) == 1
    assert set(answers) <= {201, 409, 422}
