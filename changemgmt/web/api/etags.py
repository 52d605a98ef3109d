"""A GCR's ETag and `If-Match`: a change sent with the ETag it read is made only if the
GCR is still as it was then, judged under the GCR's lock, so of two clients racing one
wins and the other gets 412 (never a lost update, never a 500).

The ETag is the GCR's revision and its last audit entry: every change is an audit entry,
internal ones (which make no revision) included."""

from __future__ import annotations

from sqlalchemy.orm import Session

from changemgmt.store.models import Gcr
from changemgmt.store.queries import gcr_version
from changemgmt.web.api.problems import ApiProblem


def gcr_etag(session: Session, gcr: Gcr) -> str:
    return f'"{gcr_version(session, gcr)}"'


def check_if_match(header: str | None, current: str) -> None:
    """Nothing when the header is absent, `*`, or lists the current ETag (strong
    comparison, RFC 9110 §13.1.1); else 412."""
    if header is None:
        return
    given = [tag.strip() for tag in header.split(",")]
    if "*" in given or current in given:
        return
    raise ApiProblem(
        412, "If-Match", f"the GCR has changed since it was read (its ETag is now {current}); read it again"
    )
