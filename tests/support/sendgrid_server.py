"""A local stand-in for SendGrid's POST /v3/mail/send, on 127.0.0.1, for the real client.

Every body is validated against SendGrid's request schema (shared/vendor) plus the rules
JSON Schema cannot express; an invalid body is answered 400, as SendGrid would (each
error naming its field as a dotted path, `personalizations.0.to.0.email`), and its
problems are kept on the recorded request. Faults can be injected: scripted answers
(429, 500, 400 ...), addresses refused, the connection dropped after the request was
read and taken (`hang_up_next`), and the whole server down (`go_down`: connections
refused) and back (`come_up`, same port). `accepted` holds every personalization taken,
so duplicates can be counted.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

# SendGrid's published request schema for /v3/mail/send, as shared with the team
# (shared/vendor/); a copy lives here so the suite runs from any checkout.
SCHEMA_PATH = Path(__file__).parent / "vendor" / "sendgrid-mail-send.schema.json"
RESERVED_HEADERS = {
    "x-sg-id",
    "x-sg-eid",
    "received",
    "dkim-signature",
    "content-type",
    "content-transfer-encoding",
    "to",
    "from",
    "subject",
    "reply-to",
    "cc",
    "bcc",
}


def load_validator(path: Path = SCHEMA_PATH) -> Draft202012Validator:
    """The schema, after checking it is the request schema we expect."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert {"personalizations", "from"} <= set(schema["required"])
    assert schema["properties"]["personalizations"]["maxItems"] == 1000
    assert schema["properties"]["custom_args"]["type"] == "object"
    return Draft202012Validator(schema, format_checker=FormatChecker())


def extra_problems(body: dict) -> list[str]:
    """The limits the schema cannot state (STANDARDS C2-C9, C14, A54)."""
    problems: list[str] = []
    addresses = [
        a["email"].lower()
        for p in body.get("personalizations", [])
        for key in ("to", "cc", "bcc")
        for a in p.get(key, [])
    ]
    if len(addresses) != len(set(addresses)):
        problems.append("an address appears more than once")
    if len(addresses) > 1000:
        problems.append("more than 1000 recipients")
    if not body.get("template_id") and not (body.get("subject") and body.get("content")):
        problems.append("subject and content are required without a template")
    types = [c.get("type") for c in body.get("content", [])]
    if types and types[0] != "text/plain":
        problems.append("text/plain must come first in content")
    for attachment in body.get("attachments", []):
        try:
            base64.b64decode(attachment.get("content", ""), validate=True)
        except binascii.Error:
            problems.append(f"attachment {attachment.get('filename')}: content is not base64")
        if any(ch in attachment.get("type", "") for ch in ";\r\n"):
            problems.append("attachment type must not carry parameters")
    headers = [body.get("headers", {})] + [p.get("headers", {}) for p in body.get("personalizations", [])]
    for name in {n.lower() for h in headers for n in h}:
        if name in RESERVED_HEADERS:
            problems.append(f"header {name} cannot be set")
    for p in body.get("personalizations", []):
        for to in p.get("to", []):
            if any(ch in to.get("name", "") for ch in ";,"):
                problems.append("recipient names must not contain ; or ,")
        if "substitutions" in p and str(body.get("template_id", "")).startswith("d-"):
            problems.append("substitutions cannot be used with a dynamic template")
        if len(json.dumps(p.get("substitutions", {}), ensure_ascii=False).encode("utf-8")) > 10_000:
            problems.append("substitutions exceed 10,000 bytes in a personalization")
    return problems


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict | None
    problems: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # SendGrid's error objects for the problems
    status: int | None = None  # what it was answered (None: the connection was dropped)


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None


class FakeSendGrid:
    """Use as a context manager; `url` is the host to give SendGridAPIClient."""

    def __init__(self) -> None:
        self.validator = load_validator()
        self.requests: list[Recorded] = []
        self._script: list[Answer] = []
        self._lock = threading.Lock()
        self._counter = 0
        self.connections: set[tuple[str, int]] = set()  # client (address, port) pairs seen
        self.hang_up_after_next = False
        self.accepted: list[dict] = []  # every personalization taken (202, or taken then hung up on)
        self.refused_addresses: set[str] = set()
        self._hang_ups = 0
        self._open: set = set()  # live connections' sockets, closed by go_down()
        self._port = 0
        self._server = self._listen()

    def _listen(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
        self._port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def __enter__(self) -> FakeSendGrid:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._stop()

    def _stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def go_down(self) -> None:
        """Stops listening and closes every open connection: connections are refused."""
        self._stop()
        self._server = None
        with self._lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def come_up(self) -> None:
        """Listens again, on the same port."""
        self._server = self._listen()
        self._thread.start()

    def hang_up_next(self, times: int = 1) -> None:
        """The next `times` requests are read and taken, then the connection is closed
        without an answer (as a dropped connection or a proxy timeout would)."""
        with self._lock:
            self._hang_ups += times

    def refuse_address(self, address: str) -> None:
        """A request with this recipient is answered 400, naming its field, as SendGrid does."""
        self.refused_addresses.add(address.lower())

    def answer_next(
        self, status: int, times: int = 1, headers: dict[str, str] | None = None, body: dict | None = None
    ) -> None:
        """The next `times` requests get this answer instead of 202."""
        with self._lock:
            self._script.extend(Answer(status, dict(headers or {}), body) for _ in range(times))

    def rate_limit_next(self, reset_at: int, times: int = 1) -> None:
        headers = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset_at)}
        self.answer_next(429, times, headers, {"errors": [{"field": None, "message": "too many requests"}]})

    @property
    def problems(self) -> list[str]:
        return [p for r in self.requests for p in r.problems]

    def _answer(self, recorded: Recorded) -> Answer | None:
        """The answer to give; None: hang up without one (the request was taken)."""
        with self._lock:
            self.requests.append(recorded)
            if self._script:
                answer = self._script.pop(0)
            elif recorded.problems:
                answer = Answer(400, body={"errors": recorded.errors})
            else:
                self._counter += 1
                self.accepted += (recorded.body or {}).get("personalizations", [])
                if self._hang_ups:
                    self._hang_ups -= 1
                    return None
                answer = Answer(202, {"X-Message-Id": f"fake-msg-{self._counter}"})
            recorded.status = answer.status
            return answer

    def check(self, path: str, headers: dict[str, str], raw: bytes) -> Recorded:
        if path != "/v3/mail/send":
            return Recorded(path, headers, None, [f"unexpected path {path}"])
        try:
            body = json.loads(raw)
        except ValueError:
            return Recorded(path, headers, None, ["body is not JSON"])
        schema_errors = list(self.validator.iter_errors(body))
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in schema_errors]
        errors = [{"field": ".".join(map(str, e.absolute_path)) or None, "message": e.message} for e in schema_errors]
        for number, personalization in enumerate(body.get("personalizations", [])):
            for index, to in enumerate(personalization.get("to", [])):
                if str(to.get("email", "")).lower() in self.refused_addresses:
                    problems.append(f"personalizations/{number}/to/{index}/email: refused")
                    errors.append(
                        {
                            "field": f"personalizations.{number}.to.{index}.email",
                            "message": "Does not contain a valid address.",
                        }
                    )
        extra = extra_problems(body)
        if not headers.get("Authorization", "").startswith("Bearer "):
            extra.append("no bearer token")
        errors += [{"field": None, "message": p} for p in extra]
        return Recorded(path, headers, body, problems + extra, errors)


def _handler_for(fake: FakeSendGrid) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps connections alive, as SendGrid does

        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake._open.add(self.connection)

        def finish(self) -> None:
            with fake._lock:
                fake._open.discard(self.connection)
            try:
                super().finish()
            except OSError:
                pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            fake.connections.add(self.client_address)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = fake._answer(fake.check(self.path, dict(self.headers.items()), raw))
            # Decided before answering: a test sets the flag as soon as it has an answer.
            hang_up, fake.hang_up_after_next = fake.hang_up_after_next, False
            if answer is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            payload = json.dumps(answer.body).encode() if answer.body is not None else b""
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if hang_up:
                # Close as an idle timeout would: no "Connection: close" warned the client.
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)

        def log_message(self, *args) -> None:
            pass

    return Handler
