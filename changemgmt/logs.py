"""One logging set-up for every process: `configure_logging`, called once by the CLI's
root command, so `web`, `clock`, `worker` and `serve` (and uvicorn, whose own set-up
`web.server` turns off) all log the same way, to standard error.

- `text` (the default): one line per record, for people:
  `2026-11-02T15:00:00.123Z WARNING changemgmt.delivery.outcomes: delivery 7 ...`
- `json` (LOG_FORMAT=json): one JSON object per line with `time` (UTC, ISO 8601),
  `level`, `logger` and `message`, every field the code passed as `extra` as a key of
  its own (`delivery_id`, `gcr`, `account`, `error`, ...), and `exc_info` with the
  traceback when there is one. python-json-logger does the formatting.

The code logs with `logging.getLogger(__name__)`, one line per event that matters, the
facts in the message for people and again as `extra` for machines. Secrets never reach a
handler: the filters that redact them (web/server.py's, for feed tokens) sit on the
loggers, so they rewrite a record before either formatter sees it.
"""

from __future__ import annotations

import logging
import sys
import time

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
JSON_NAMES = {"levelname": "level", "name": "logger"}
# uvicorn repeats its startup lines with ANSI colours in `color_message`: not a fact.
NOT_FIELDS = [*RESERVED_ATTRS, "color_message"]
# Loggers whose INFO lines are chatter in our processes: alembic narrates each migration
# step, and `changemgmt db upgrade` already prints the revision it reached.
# Libraries whose INFO lines say nothing an operator acts on: alembic's per-migration
# notes, and APScheduler's line for every job added, run and finished (one every few
# seconds); their warnings and errors still show.
QUIETER = {
    "alembic": logging.WARNING,
    "apscheduler": logging.WARNING,
}


class StderrHandler(logging.StreamHandler):
    """Writes each record to `sys.stderr` as it is at that moment: test runners (click's,
    pytest) put their own stream there and close it afterwards."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass  # always the current sys.stderr


def text_formatter() -> logging.Formatter:
    formatter = logging.Formatter(TEXT_FORMAT)
    formatter.converter = time.gmtime
    formatter.default_time_format = "%Y-%m-%dT%H:%M:%S"
    formatter.default_msec_format = "%s.%03dZ"
    return formatter


def json_formatter() -> logging.Formatter:
    return JsonFormatter(JSON_FIELDS, rename_fields=JSON_NAMES, timestamp="time", reserved_attrs=NOT_FIELDS)


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Sends every logger's records of `level` and above to standard error, as text or
    as JSON lines (`log_format`, from LOG_FORMAT). Calling it again replaces the
    handler it added before; handlers others added (a test's) stay."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(json_formatter() if log_format == "json" else text_formatter())
    root.addHandler(handler)
    root.setLevel(level)
    for name, quieter in QUIETER.items():
        logging.getLogger(name).setLevel(quieter)
