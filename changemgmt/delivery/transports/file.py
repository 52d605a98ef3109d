"""The default transport: one .eml file per recipient and send under the outbox folder.

The first copy of a notice for a contact is `notice-<notice id>-contact-<contact id>.eml`;
a re-send of it (the worker's retry, or a crash before its outcome was recorded) is
`...-2.eml`, `...-3.eml`: every send stays visible and none overwrites an earlier one.
A transactional email (delivery.mail) is `mail-<its key>.eml`, numbered the same way.

A file is written whole under a temporary name, then hard-linked to the first free final
name: link() fails when the name exists, as open(O_CREAT | O_EXCL) does, so a reader never
sees half a message and two workers never write the same file.

Messages carry customers' names and working unsubscribe links, so the folder is its
owner's alone (0700, files 0600); the modes are fixed when the transport starts, also on a
folder made earlier with looser ones.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from changemgmt.content.view import Recipient
from changemgmt.delivery.mail import Mail
from changemgmt.delivery.message import OutgoingMessage
from changemgmt.delivery.transports.base import SendError, SendResult

FOLDER_MODE = 0o700
FILE_MODE = 0o600


class FileTransport:
    name = "file"

    def __init__(self, outbox_dir: Path) -> None:
        self.outbox_dir = Path(outbox_dir)
        make_private(self.outbox_dir)

    def stem_for(self, message: OutgoingMessage, recipient: Recipient) -> str:
        return f"notice-{message.notice_id}-contact-{recipient.contact_id}"

    def send(self, message: OutgoingMessage) -> SendResult:
        done: list[int] = []
        for recipient in message.recipients:
            data = message.email_for(recipient).as_bytes()
            try:
                _write_new(self.outbox_dir, self.stem_for(message, recipient), data)
            except OSError as exc:
                raise SendError(
                    f"cannot write to outbox: {exc}", permanent=False, sent_contact_ids=tuple(done), outage=True
                ) from exc
            done.append(recipient.contact_id)
        return SendResult(provider_message_id=None)

    def send_mail(self, mail: Mail) -> SendResult:
        """Writes `mail-<key>.eml` (a second send of it, `mail-<key>-2.eml`)."""
        try:
            _write_new(self.outbox_dir, f"mail-{mail.key}", mail.email().as_bytes())
        except OSError as exc:
            raise SendError(f"cannot write to outbox: {exc}", permanent=False, outage=True) from exc
        return SendResult(provider_message_id=None)


def make_private(folder: Path) -> None:
    """Creates `folder` (0700) or narrows its mode and its files' to the owner's alone."""
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) != FOLDER_MODE:
        folder.chmod(FOLDER_MODE)
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and stat.S_IMODE(entry.stat().st_mode) != FILE_MODE:
                os.chmod(entry.path, FILE_MODE)


def _write_new(folder: Path, stem: str, data: bytes) -> Path:
    """Writes `data` to the first free name of `stem`.eml, `stem`-2.eml, ...; returns it."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        copy = 1
        while True:
            path = folder / (f"{stem}.eml" if copy == 1 else f"{stem}-{copy}.eml")
            try:
                os.link(tmp, path)
                return path
            except FileExistsError:
                copy += 1
    finally:
        Path(tmp).unlink(missing_ok=True)
