"""/healthz and /readyz.

- /healthz answers for the process itself: 200 `ok` while it serves, nothing else
  checked (a load balancer or supervisor restarts a process that stops answering).
- /readyz says whether the process can do its work: its database answers a query in
  time and its schema is the one this code expects (what `changemgmt db upgrade` leaves),
  and, when the process was given one, its readiness callback reports no problem
  (`changemgmt serve` reports its clock and worker threads). 200 `{"ready": true,
  "problems": []}` when all is well, else 503 with each problem as one line.

The checks run in a thread, at most once a second whatever the number of probes
(web/cached.py), and a check that takes longer than `timeout` answers 503 at once. A
change of readiness is logged, once, with the details the answer leaves out (an error
from the database driver may name hosts and users: only its kind is shown here).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from changemgmt.store.migrate import SchemaNotCurrent, check_schema
from changemgmt.web.cached import CachedInThread
from changemgmt.web.respond import allowed, not_allowed, respond

log = logging.getLogger(__name__)

JSON = b"application/json"
Problems = Callable[[], list[str]]


async def healthz(scope, receive, send) -> None:
    if not allowed(scope):
        await not_allowed(scope, send)
        return
    await respond(scope, send, 200, b"ok\n")


@dataclass(frozen=True)
class Check:
    """What a round of checks found: the problems /readyz shows, and the details only
    the log gets (an error from the database driver may name hosts and users)."""

    problems: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


def check_database(engine: Engine) -> Check:
    """What keeps the database from serving this code: nothing when its schema is
    current (reading the schema's revision is the query that must answer)."""
    try:
        check_schema(engine)
    except SchemaNotCurrent as exc:
        fix = "run `changemgmt db upgrade`" if exc.upgrade_fixes_it else "upgrade changemgmt"
        return Check([f"schema: {exc}: {fix}"])
    except Exception as exc:  # noqa: BLE001 - any failure to use the database is the answer
        return Check([f"database: cannot be used ({type(exc).__name__}; the log says why)"], [_first_line(exc)])
    return Check()


class Readiness:
    """The /readyz endpoint over `engine()` and an optional `callback` of the process's
    own problems (empty when ready)."""

    def __init__(
        self, engine: Callable[[], Engine], callback: Problems | None = None, ttl: float = 1.0, timeout: float = 2.0
    ) -> None:
        self.engine, self.callback, self.timeout = engine, callback, timeout
        self._checks = CachedInThread(self._check, ttl)
        self._last: list[str] = []

    def _check(self) -> Check:
        found = check_database(self.engine())
        if self.callback is None:
            return found
        try:
            own = [str(p) for p in self.callback()]
        except Exception as exc:  # noqa: BLE001 - a broken check is a problem to report
            own = [f"the process's readiness check failed ({type(exc).__name__}; the log says why)"]
            return Check(found.problems + own, [*found.details, f"{type(exc).__name__}: {_first_line(exc)}"])
        return Check(found.problems + own, found.details)

    async def problems(self) -> list[str]:
        """The problems now ([] when ready), logging a change of readiness."""
        try:
            found = await self._checks.get(self.timeout)
        except TimeoutError:
            found = Check([f"the checks took longer than {self.timeout:g} s (is the database answering?)"])
        self._log_change(found)
        return found.problems

    def _log_change(self, found: Check) -> None:
        if found.problems and found.problems != self._last:
            log.warning(
                "not ready: %s",
                "; ".join(found.problems + found.details),
                extra={"event": "not_ready", "problems": found.problems, "details": found.details},
            )
        elif self._last and not found.problems:
            log.info("ready again", extra={"event": "ready"})
        self._last = found.problems

    async def __call__(self, scope, receive, send) -> None:
        if not allowed(scope):
            await not_allowed(scope, send)
            return
        problems = await self.problems()
        body = json.dumps({"ready": not problems, "problems": problems}, indent=1).encode() + b"\n"
        await respond(scope, send, 503 if problems else 200, body, JSON)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
