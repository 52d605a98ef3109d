"""The default transport: one .eml file per recipient under the outbox folder.

A file is named `notice-<notice id>-contact-<contact id>.eml`, so sending the same
notice again rewrites the same file instead of adding one. Files are written whole
(temporary file, then rename) so a reader never sees half a message.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from changemgmt.notify.message import OutgoingMessage
from changemgmt.notify.transports.base import SendError, SendResult
from changemgmt.notify.view import Recipient


class FileTransport:
    name = "file"

    def __init__(self, outbox_dir: Path) -> None:
        self.outbox_dir = Path(outbox_dir)

    def path_for(self, message: OutgoingMessage, recipient: Recipient) -> Path:
        return self.outbox_dir / f"notice-{message.notice_id}-contact-{recipient.contact_id}.eml"

    def send(self, message: OutgoingMessage) -> SendResult:
        done: list[int] = []
        for recipient in message.recipients:
            data = message.email_for(recipient).as_bytes()
            try:
                _write_atomically(self.path_for(message, recipient), data)
            except OSError as exc:
                raise SendError(f"cannot write to outbox: {exc}", permanent=False,
                                sent_contact_ids=tuple(done)) from exc
            done.append(recipient.contact_id)
        return SendResult(provider_message_id=None)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
