"""What every endpoint shares: settings, the database, the clock, and the caller (its API
key, checked on every request: deny by default, STANDARDS F7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from changemgmt.config import Settings
from changemgmt.domain.roles import Role
from changemgmt.gcrs.service import Who
from changemgmt.web.api.keys import authenticate
from changemgmt.web.api.problems import ApiProblem

_bearer = HTTPBearer(auto_error=False, description="An API key made by `changemgmt keys create`.")
_CHALLENGE = {"www-authenticate": 'Bearer realm="changemgmt"'}


@dataclass(frozen=True)
class Api:
    settings: Settings
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class Caller:
    """The key a request came with: its name is the actor of what the request changes."""

    key_id: int
    name: str
    role: Role
    api: Api

    def who(self) -> Who:
        return Who(self.name, self.api.clock(), self.api.settings)


def api_of(request: Request) -> Api:
    return request.app.state.api


def require(role: Role):
    """A dependency giving the Caller, when its key exists, is not revoked and has `role`
    or a higher one: else 401 (no key, an unknown or revoked one) or 403."""

    def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Security(_bearer)) -> Caller:
        api = api_of(request)
        if credentials is None:
            raise ApiProblem(401, "Authorization", "an API key is needed: Authorization: Bearer <key>", _CHALLENGE)
        with api.sessions() as session:
            key = authenticate(session, credentials.credentials)
            if key is None:
                raise ApiProblem(401, "Authorization", "this API key is unknown or revoked", _CHALLENGE)
            found = Caller(key.id, key.name, Role(key.role), api)
        if not found.role.allows(role):
            raise ApiProblem(
                403, "Authorization", f"this needs the {role.value} role; key {found.name} is {found.role.value}"
            )
        return found

    return Depends(caller)


VIEWER = require(Role.VIEWER)
CHANGE_MANAGER = require(Role.CHANGE_MANAGER)
ADMIN = require(Role.ADMIN)
