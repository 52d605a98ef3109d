"""The one form of a feed path, `/calendars/<token>.ics`, shared by the route and the
access-log redaction so that neither can be bypassed by spelling the path differently.

A server decodes percent-escapes before routing (`/calendars%2F<token>.ics` and
`/%63alendars/<token>.ics` both mean `/calendars/<token>.ics`), but logs the path as it
was sent. So:
- every request whose decoded path is under /calendars/ goes to the feed route, and the
  route serves a feed only when the path was also *sent* in the canonical form (a token
  never needs an escape); any other spelling is a 404;
- the log filter decodes what the log prints, as the server would (repeatedly, so no
  escape of an escape hides it), and redacts every target that mentions calendars.
"""

from __future__ import annotations

from urllib.parse import unquote

PREFIX = "/calendars/"
SUFFIX = ".ics"
REDACTED = PREFIX + "<redacted>"
_FOLDER = PREFIX.strip("/")


def is_feed_path(path: str) -> bool:
    """True for a decoded request path (ASGI `path`) that the feed route answers."""
    return path.startswith(PREFIX)


def feed_token(scope) -> str:
    """The token of a feed request, or "" unless its path was sent exactly as
    /calendars/<token>.ics (compared on ASGI `raw_path`, the bytes on the wire)."""
    path = scope["path"]
    raw = scope.get("raw_path")
    if raw is not None and raw != path.encode("utf-8"):
        return ""  # sent with percent-escapes: not the canonical form
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
        return ""
    return path[len(PREFIX) : -len(SUFFIX)]


def _decoded(printed: str, rounds: int = 4) -> str:
    for _ in range(rounds):
        decoded = unquote(printed)
        if decoded == printed:
            break
        printed = decoded
    return printed


# The signed links in emails carry a contact's token the same way (web.public.subscriptions).
_SIGNED_LINKS = ("unsubscribe", "preferences")


def redact(printed: str) -> str:
    """A request target as the access log prints it (the raw path and query), or
    REDACTED when it mentions calendars in any spelling or case (and likewise
    /unsubscribe/<redacted> and /preferences/<redacted> for the links in emails)."""
    decoded = _decoded(printed).lower()
    if _FOLDER in decoded:
        return REDACTED
    for name in _SIGNED_LINKS:
        if name in decoded:
            return f"/{name}/<redacted>"
    return printed
