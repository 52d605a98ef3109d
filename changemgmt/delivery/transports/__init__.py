"""Transports behind one interface, chosen by EMAIL_BACKEND (file | sendgrid | smtp)."""

from __future__ import annotations

import time
from collections.abc import Callable

from changemgmt.config import ConfigError, Settings
from changemgmt.delivery.transports.base import SendError, SendResult, Transport
from changemgmt.delivery.transports.file import FileTransport
from changemgmt.delivery.transports.memory import InMemoryTransport
from changemgmt.delivery.transports.sendgrid import SendGridTransport
from changemgmt.delivery.transports.smtp import SmtpTransport

__all__ = [
    "FileTransport",
    "InMemoryTransport",
    "SendError",
    "SendGridTransport",
    "SendResult",
    "SmtpTransport",
    "Transport",
    "make_transport",
]


def make_transport(settings: Settings, *, clock: Callable[[], float] = time.time) -> Transport:
    """The transport `settings.email_backend` names."""
    backend = settings.email_backend
    if backend == "file":
        return FileTransport(settings.outbox_dir)
    if backend == "sendgrid":
        if not settings.sendgrid_api_key:
            raise ConfigError("EMAIL_BACKEND=sendgrid needs SENDGRID_API_KEY")
        return SendGridTransport(settings.sendgrid_api_key, settings.sendgrid_api_host, clock=clock)
    if backend == "smtp":
        return SmtpTransport(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    raise ConfigError(f"EMAIL_BACKEND: {backend!r} is not one of file, sendgrid, smtp")
