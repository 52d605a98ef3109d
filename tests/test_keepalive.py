"""The kept-alive HTTP connections under the SendGrid transport, over HTTPS: the server's
certificate is verified before anything is written, and connections are reused."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from changemgmt.delivery.transports.keepalive import KeptAlive, Unreachable


class _Accepting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.server.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))  # type: ignore[attr-defined]
        self.server.connections.add(self.client_address)  # type: ignore[attr-defined]
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.send_header("X-Message-Id", f"m{len(self.server.bodies)}")  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https_server(authority: trustme.CA) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    server.bodies, server.connections = [], set()  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_requests_go_over_verified_https_on_one_kept_alive_connection(https_server, authority):
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    connections = KeptAlive(
        f"https://localhost:{https_server.server_address[1]}/api", timeout=5, keep=4, context=trusting
    )
    answers = [connections.post("/send", b'{"n": %d}' % n, {"Content-Type": "application/json"}) for n in range(3)]
    assert [(a.status, a.headers["x-message-id"]) for a in answers] == [(202, "m1"), (202, "m2"), (202, "m3")]
    assert https_server.bodies == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    assert len(https_server.connections) == 1
    connections.close()


def test_a_server_whose_certificate_is_not_trusted_is_unreachable_and_gets_nothing(https_server):
    connections = KeptAlive(f"https://localhost:{https_server.server_address[1]}", timeout=5, keep=4)
    with pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
        connections.post("/send", b"{}", {})
    assert https_server.bodies == []


@pytest.mark.parametrize("url", ["ftp://example.net", "api.sendgrid.com", "https://"])
def test_only_an_http_or_https_url_is_taken(url):
    with pytest.raises(ValueError, match="not an http"):
        KeptAlive(url, timeout=1, keep=1)
