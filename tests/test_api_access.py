"""Who may call what: every endpoint with no key, a revoked key, and each role; and the
keys themselves (`changemgmt keys`), stored hashed, shown once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from changemgmt.store.models import ApiKey
from support.api import api_server
from support.feeds import GCR

RANK = {"viewer": 0, "change_manager": 1, "admin": 2}
# (method, path, body, the role it needs)
ENDPOINTS = [
    ("GET", "/api/v1/gcrs", None, "viewer"),
    ("POST", "/api/v1/gcrs", {**GCR, "number": "GCR-2001"}, "change_manager"),
    ("GET", "/api/v1/gcrs/GCR-1001", None, "viewer"),
    ("PATCH", "/api/v1/gcrs/GCR-1001", {"internal_notes": "x"}, "change_manager"),
    ("POST", "/api/v1/gcrs/GCR-1001/publish", None, "change_manager"),
    ("POST", "/api/v1/gcrs/GCR-1001/start", None, "change_manager"),
    ("POST", "/api/v1/gcrs/GCR-1001/complete", None, "change_manager"),
    ("POST", "/api/v1/gcrs/GCR-1001/cancel", {"reason": "r"}, "change_manager"),
    ("GET", "/api/v1/gcrs/GCR-1001/preview?account=ACC-1001", None, "viewer"),
    ("GET", "/api/v1/gcrs/GCR-1001/audit", None, "viewer"),
    ("GET", "/api/v1/gcrs/GCR-1001/notices", None, "viewer"),
    ("POST", "/api/v1/gcrs/GCR-1001/deliveries/retry", None, "change_manager"),
    ("GET", "/api/v1/conflicts?from=2026-12-01", None, "viewer"),
    ("GET", "/api/v1/blackouts", None, "viewer"),
    ("POST", "/api/v1/blackouts", {"start": "2026-12-24", "end": "2026-12-26", "reason": "Holidays"}, "change_manager"),
    ("DELETE", "/api/v1/blackouts/1", None, "change_manager"),
    ("POST", "/api/v1/inventory/import?dry_run=true", {"locations": []}, "admin"),
    ("GET", "/api/v1/customers", None, "viewer"),
    ("GET", "/api/v1/contacts", None, "viewer"),
    ("GET", "/api/v1/services", None, "viewer"),
    ("GET", "/api/v1/locations", None, "viewer"),
    ("GET", "/api/v1/customers/ACC-1001/feeds", None, "change_manager"),
    ("POST", "/api/v1/customers/ACC-1001/feeds/rotate", None, "admin"),
]


@pytest.fixture
def api(db, engine, settings, clock, desk):
    desk.create(GCR)
    with api_server(db, engine, settings, clock) as world:
        yield world


def test_every_endpoint_is_in_the_matrix(api):
    with api.client(None) as client:
        paths = client.get("/openapi.json").json()["paths"]
    listed = {(m.upper(), p) for p, operations in paths.items() for m in operations}
    tested = {
        (
            m,
            p.split("?")[0]
            .replace("GCR-1001", "{number}")
            .replace("ACC-1001", "{account}")
            .replace("/blackouts/1", "/blackouts/{blackout_id}"),
        )
        for m, p, _, _ in ENDPOINTS
    }
    assert listed == tested


@pytest.mark.parametrize(("method", "path", "body", "needed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_authorization_matrix(api, method, path, body, needed):
    with api.client(None) as client:
        anonymous = client.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    with api.client(None, Authorization="Bearer cm_not-a-key") as client:
        assert client.request(method, path, json=body).status_code == 401
    with api.client("revoked") as client:
        assert client.request(method, path, json=body).status_code == 401
    for role, rank in RANK.items():
        with api.client(role) as client:
            answer = client.request(method, path, json=body)
        if rank < RANK[needed]:
            assert answer.status_code == 403, (role, answer.text)
            assert answer.json()["errors"][0]["field"] == "Authorization"
        else:
            assert answer.status_code not in (401, 403), (role, answer.text)
            assert answer.status_code < 500


def test_keys_are_made_listed_and_revoked_by_the_cli(run, db):
    secret = run("keys", "create", "--name", "ticketing", "--role", "change_manager").splitlines()[0]
    assert secret.startswith("cm_") and len(secret) >= 40
    with db() as session:
        stored = session.scalar(select(ApiKey).where(ApiKey.name == "ticketing"))
        assert secret not in (stored.secret_hash, stored.prefix) and secret.startswith(stored.prefix)
    listed = run("keys", "list")
    assert "ticketing  change_manager" in listed and secret not in listed
    assert "already exists" in run("keys", "create", "--name", "ticketing", "--role", "admin", expect=1)
    assert "name:" in run("keys", "create", "--name", "bad name", "--role", "admin", expect=1)
    run("keys", "revoke", "ticketing")
    assert "revoked" in run("keys", "list")
    assert "no API key named nobody" in run("keys", "revoke", "nobody", expect=1)


def test_a_revoked_key_is_refused_at_once(db, engine, settings, clock, desk, run):
    with api_server(db, engine, settings, clock) as api:
        with api.client("viewer") as client:
            assert client.get("/api/v1/gcrs").status_code == 200
            run("keys", "revoke", "viewer")
            assert client.get("/api/v1/gcrs").status_code == 401


def test_changemgmt_web_serves_the_api_beside_the_feeds(db, env, run):
    from support.web import web_process

    secret = run("keys", "create", "--name", "nms", "--role", "viewer").splitlines()[0]
    with web_process(env, "--access-log") as (url, stop):
        import httpx

        assert httpx.get(f"{url}/api/v1/gcrs").status_code == 401
        answer = httpx.get(f"{url}/api/v1/gcrs", headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 200 and answer.json() == {"items": [], "next_cursor": None}
        assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == "changemgmt"
        assert httpx.get(f"{url}/healthz").status_code == 200
        logged = stop()
    assert secret not in logged
