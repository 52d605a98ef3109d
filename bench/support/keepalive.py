"""A keep-alive SendGrid client, for comparison only (`bench/fanout.py --transport
keepalive`): the same request body as SendGridTransport, through one persistent
http.client connection per sending thread instead of python_http_client's new urllib
opener and TCP connection per request. Not the product's transport: it shows what the
HTTP client costs the worker."""

from __future__ import annotations

import json
import threading
from http.client import HTTPConnection, HTTPException
from urllib.parse import urlsplit

from changemgmt.delivery.message import OutgoingMessage, sendgrid_body
from changemgmt.delivery.transports.base import SendError, SendResult


class KeepAliveSendGrid:
    name = "sendgrid-keepalive"

    def __init__(self, api_key: str, host: str, timeout: float = 10.0) -> None:
        url = urlsplit(host)
        self._address = (url.hostname, url.port or 80)
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._timeout = timeout
        self._local = threading.local()

    def send(self, message: OutgoingMessage) -> SendResult:
        body = json.dumps(sendgrid_body(message)).encode("utf-8")
        try:
            response = self._post(body)
        except (OSError, HTTPException) as exc:
            self._local.connection = None
            raise SendError(f"SendGrid unreachable: {exc}", permanent=False) from exc
        if response.status != 202:
            raise SendError(
                f"SendGrid answered {response.status}",
                permanent=400 <= response.status < 500 and response.status != 429,
                status=response.status,
            )
        return SendResult(provider_message_id=response.getheader("X-Message-Id"))

    def _post(self, body: bytes):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = HTTPConnection(*self._address, timeout=self._timeout)
        connection.request("POST", "/v3/mail/send", body, self._headers)
        response = connection.getresponse()
        response.read()
        return response
