"""The API under a real uvicorn on loopback, beside the feeds (create_app's fallback),
with the test's clock, and a key of each role (and a revoked one) to call it with."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from changemgmt.store.db import transaction
from changemgmt.web.api.app import build_api
from changemgmt.web.api.keys import create_key, revoke_key
from changemgmt.web.app import create_app
from support.asgi_server import serving

ROLES = ("viewer", "change_manager", "admin")


@dataclass
class ApiWorld:
    url: str
    keys: dict[str, str]  # by name: viewer, change_manager, admin, revoked

    def client(self, name: str | None = "admin", **headers: str) -> httpx.Client:
        if name is not None:
            headers = {"Authorization": f"Bearer {self.keys[name]}", **headers}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def make_keys(db, now) -> dict[str, str]:
    keys = {}
    with transaction(db) as session:
        for role in ROLES:
            keys[role] = create_key(session, role, role, "test", now)[1]
        keys["revoked"] = create_key(session, "revoked", "admin", "test", now)[1]
        revoke_key(session, "revoked", "test", now)
    return keys


@contextmanager
def api_server(db, engine, settings, clock):
    keys = make_keys(db, clock())
    app = create_app(settings, fallback=build_api(settings, engine, clock), engine=engine, clock=clock)
    with serving(app) as url:
        yield ApiWorld(url, keys)
