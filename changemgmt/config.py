"""Settings from the environment, in one place (SPEC §9).

Every setting has a safe default for the embedded mode: SQLite under `var/`, mail
written as files to `var/outbox/`, feeds in `calendars/` (`FEED_STORE=database` keeps
them in the database instead, for web processes on several machines).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from changemgmt.domain.errors import DomainError
from changemgmt.domain.text import NAME_MAX, PHONE_MAX, display_name, email_address, one_line

SECRET_KEY_MIN_BYTES = 32
FEED_STORES = ("files", "database")
MAKE_A_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """A setting in the environment has a value we cannot use."""


def _duration_list(name: str, raw: str) -> tuple[timedelta, ...]:
    hours = []
    for part in raw.split(","):
        part = part.strip().lower().removesuffix("h")
        try:
            hours.append(timedelta(hours=float(part)))
        except ValueError:
            raise ConfigError(f"{name}: {raw!r} is not a comma-separated list of hours") from None
    return tuple(sorted(hours, reverse=True))


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a whole number") from None
    if value < 0:
        raise ConfigError(f"{name}: must not be negative")
    return value


def _seconds(name: str, raw: str) -> float:
    """A number of seconds, more than zero (fractions allowed: tests tick fast)."""
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name}: must be a number of seconds above zero")
    return value


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(name: str, raw: str) -> timedelta:
    """A time span above zero: a number with an optional unit, s (the default), m, h or d
    ("90", "30m", "24h", "1.5d")."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", raw.lower())
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"{name}: {raw!r} is not a time span above zero, such as 90s, 30m, 24h or 2d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _optional_minutes(name: str, raw: str | None) -> timedelta | None:
    if raw in (None, ""):
        return None
    return timedelta(minutes=_positive_int(name, raw))


def _public_keys(raw: str) -> tuple[str, ...]:
    """SENDGRID_WEBHOOK_PUBLIC_KEYS: base64 keys separated by commas or spaces."""
    keys = tuple(key for key in re.split(r"[,\s]+", raw) if key)
    for number, key in enumerate(keys, start=1):
        if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", key):
            raise ConfigError(f"SENDGRID_WEBHOOK_PUBLIC_KEYS: key {number} is not base64 text")
    return keys


def _zone(name: str, raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}: {raw!r} is not an IANA time zone") from None
    return raw


def _checked(check, *args) -> str:
    """The value a domain/text.py check returns; its DomainError as a ConfigError."""
    try:
        return check(*args)
    except DomainError as exc:
        raise ConfigError(str(exc)) from None


def _mailbox(name: str, raw: str) -> str:
    """`Name <addr>` or `addr`, each part checked (a display name, never an encoded
    word; one address, syntax only), written back in that form."""
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]*)>\s*", raw, flags=re.DOTALL)
    shown, address = (match.group(1).strip('"').strip(), match.group(2)) if match else ("", raw)
    shown = _checked(display_name, shown, name, NAME_MAX)
    address = _checked(email_address, address, name)
    return f"{shown} <{address}>" if shown else address


def _secret_key(env: dict[str, str], home: Path) -> str:
    """SECRET_KEY, else the key kept in var/secret_key (made on first use when there is
    none): refused when shorter than SECRET_KEY_MIN_BYTES."""
    if env.get("SECRET_KEY"):
        key, source = env["SECRET_KEY"], "the key"
    else:
        path = home / "var" / "secret_key"
        try:
            key, source = path.read_text(encoding="utf-8").strip(), f"the key in {path}"
        except FileNotFoundError:
            return ""
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"SECRET_KEY: cannot read {path} ({exc}); set SECRET_KEY or fix the file") from None
    size = len(key.encode())
    if size < SECRET_KEY_MIN_BYTES:
        raise ConfigError(
            f"SECRET_KEY: {source} is {size} bytes long; it must be at least {SECRET_KEY_MIN_BYTES} "
            f"(make one with: {MAKE_A_KEY})"
        )
    return key


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".")
    database_url: str = ""
    email_backend: str = "file"
    outbox_dir: Path = Path("var/outbox")
    calendars_dir: Path = Path("calendars")
    feed_store: str = "files"  # files (calendars_dir) | database (the feed_documents table)
    templates_dir: Path | None = None  # operator's templates, searched before the shipped ones
    sendgrid_api_key: str = ""
    sendgrid_api_host: str = "https://api.sendgrid.com"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    base_url: str = "http://localhost:8000"
    provider_name: str = "Example Networks"
    provider_domain: str = "example.net"
    mail_from: str = "Example Networks Change Management <change-management@example.net>"
    reply_to: str = "change-management@example.net"
    cm_name: str = "Change Management"
    cm_email: str = "change-management@example.net"
    cm_phone: str = "+1 800 555 0100"
    default_time_zone: str = "America/New_York"
    gcr_number_pattern: str = r"GCR-\d+"
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=72), timedelta(hours=24))
    minimum_notice: timedelta = timedelta(days=7)
    # Reminders are planned this long before their moment, due at it (a big GCR's take
    # seconds to plan): REMINDER_LOOKAHEAD_SECONDS.
    reminder_lookahead: timedelta = timedelta(seconds=60)
    feed_retention_days: int = 30
    # A delivery is failed for good on a permanent error, or when it has been tried for
    # this long without success (an outage alone never fails it): DELIVERY_GIVE_UP_AFTER.
    give_up_after: timedelta = timedelta(hours=24)
    # The circuit breaker: this many provider-wide errors in a row pause sending, for at
    # most this long between probes.
    breaker_failures: int = 3
    breaker_max_pause: timedelta = timedelta(minutes=5)
    auto_complete_after: timedelta | None = None  # complete GCRs this long after their last window
    secret_key: str = ""  # signs links in emails; embedded mode keeps one in var/secret_key
    log_format: str = "text"  # LOG_FORMAT: text (for people) or json (one object a line)
    # The clock (changemgmt clock, or serve): how often its frequent jobs run, and how
    # long delivery attempts and provider events are kept.
    tick_seconds: float = 5.0  # reminders, automatic start and completion, late first notices
    feeds_seconds: float = 5.0  # rewriting the feeds GCR changes marked for rebuilding
    attempt_retention_days: int = 180  # a delivery's latest attempt is always kept
    event_retention_days: int = 180
    # Every clock, worker and serve process writes a heartbeat row this often; one silent
    # for longer than the timeout is shown as not beating.
    heartbeat_seconds: float = 5.0
    heartbeat_timeout_seconds: float = 20.0  # also: a silent worker's deliveries are taken back
    # A worker sends this many deliveries at once (its send threads); a worker killed
    # mid-send re-sends at most this many after the restart.
    send_concurrency: int = 32
    # On SIGTERM a worker stops claiming, lets its sends in flight finish for up to this
    # long, records them, puts back what it claimed and never sent, and exits.
    worker_grace_seconds: float = 10.0
    # SendGrid's signed Event Webhook: the verification keys (base64, as SendGrid shows
    # them; several while one is rotated) and how far from now a signature's timestamp may be.
    sendgrid_webhook_public_keys: tuple[str, ...] = ()
    sendgrid_webhook_max_age: timedelta = timedelta(hours=1)

    @property
    def gcr_number_regex(self) -> re.Pattern[str]:
        return re.compile(self.gcr_number_pattern)


def _default_database_url(home: Path) -> str:
    return f"sqlite:///{(home / 'var' / 'changemgmt.db').as_posix()}"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Reads the settings from `env` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    home = Path(env.get("CHANGEMGMT_HOME", ".")).resolve()
    pattern = env.get("GCR_NUMBER_PATTERN", Settings.gcr_number_pattern)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"GCR_NUMBER_PATTERN: not a regular expression ({exc})") from None
    log_format = env.get("LOG_FORMAT", "text").strip().lower() or "text"
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT: {env['LOG_FORMAT']!r} is not one of {', '.join(LOG_FORMATS)}")
    backend = env.get("EMAIL_BACKEND", "file")
    if backend not in ("file", "sendgrid", "smtp"):
        raise ConfigError(f"EMAIL_BACKEND: {backend!r} is not one of file, sendgrid, smtp")
    feed_store = env.get("FEED_STORE") or "files"
    if feed_store not in FEED_STORES:
        raise ConfigError(f"FEED_STORE: {feed_store!r} is not one of {', '.join(FEED_STORES)}")
    provider_domain = env.get("PROVIDER_DOMAIN", Settings.provider_domain)
    cm_email = _checked(email_address, env.get("CM_EMAIL", f"change-management@{provider_domain}"), "CM_EMAIL")
    provider_name = _checked(display_name, env.get("PROVIDER_NAME", Settings.provider_name), "PROVIDER_NAME")
    return Settings(
        home=home,
        database_url=env.get("DATABASE_URL") or _default_database_url(home),
        email_backend=backend,
        outbox_dir=home / env.get("OUTBOX_DIR", "var/outbox"),
        calendars_dir=home / env.get("CALENDARS_DIR", "calendars"),
        feed_store=feed_store,
        templates_dir=home / env["TEMPLATES_DIR"] if env.get("TEMPLATES_DIR") else None,
        sendgrid_api_key=env.get("SENDGRID_API_KEY", ""),
        sendgrid_api_host=env.get("SENDGRID_API_HOST", Settings.sendgrid_api_host),
        smtp_host=env.get("SMTP_HOST", Settings.smtp_host),
        smtp_port=_positive_int("SMTP_PORT", env.get("SMTP_PORT", "25")),
        smtp_username=env.get("SMTP_USERNAME", ""),
        smtp_password=env.get("SMTP_PASSWORD", ""),
        smtp_starttls=env.get("SMTP_STARTTLS", "false").lower() in ("1", "true", "yes"),
        base_url=env.get("BASE_URL", Settings.base_url).rstrip("/"),
        provider_name=provider_name,
        provider_domain=provider_domain,
        mail_from=_mailbox("MAIL_FROM", env.get("MAIL_FROM", f"{provider_name} Change Management <{cm_email}>")),
        reply_to=_mailbox("REPLY_TO", env.get("REPLY_TO", cm_email)),
        cm_name=_checked(display_name, env.get("CM_NAME", Settings.cm_name), "CM_NAME"),
        cm_email=cm_email,
        cm_phone=_checked(one_line, env.get("CM_PHONE", Settings.cm_phone), "CM_PHONE", PHONE_MAX),
        default_time_zone=_zone("DEFAULT_TIME_ZONE", env.get("DEFAULT_TIME_ZONE", Settings.default_time_zone)),
        gcr_number_pattern=pattern,
        reminder_offsets=_duration_list("REMINDER_OFFSETS_HOURS", env.get("REMINDER_OFFSETS_HOURS", "72,24")),
        minimum_notice=timedelta(days=_positive_int("MINIMUM_NOTICE_DAYS", env.get("MINIMUM_NOTICE_DAYS", "7"))),
        reminder_lookahead=timedelta(
            seconds=_positive_int("REMINDER_LOOKAHEAD_SECONDS", env.get("REMINDER_LOOKAHEAD_SECONDS", "60"))
        ),
        feed_retention_days=_positive_int("FEED_RETENTION_DAYS", env.get("FEED_RETENTION_DAYS", "30")),
        give_up_after=_duration("DELIVERY_GIVE_UP_AFTER", env.get("DELIVERY_GIVE_UP_AFTER", "24h")),
        breaker_failures=max(1, _positive_int("BREAKER_FAILURES", env.get("BREAKER_FAILURES", "3"))),
        breaker_max_pause=timedelta(
            seconds=_seconds("BREAKER_MAX_PAUSE_SECONDS", env.get("BREAKER_MAX_PAUSE_SECONDS", "300"))
        ),
        secret_key=_secret_key(env, home),
        auto_complete_after=_optional_minutes("AUTO_COMPLETE_GRACE_MINUTES", env.get("AUTO_COMPLETE_GRACE_MINUTES")),
        log_format=log_format,
        tick_seconds=_seconds("CLOCK_TICK_SECONDS", env.get("CLOCK_TICK_SECONDS", "5")),
        feeds_seconds=_seconds("CLOCK_FEEDS_SECONDS", env.get("CLOCK_FEEDS_SECONDS", "5")),
        attempt_retention_days=_positive_int("ATTEMPT_RETENTION_DAYS", env.get("ATTEMPT_RETENTION_DAYS", "180")),
        event_retention_days=_positive_int("EVENT_RETENTION_DAYS", env.get("EVENT_RETENTION_DAYS", "180")),
        heartbeat_seconds=_seconds("HEARTBEAT_SECONDS", env.get("HEARTBEAT_SECONDS", "5")),
        heartbeat_timeout_seconds=_seconds("HEARTBEAT_TIMEOUT_SECONDS", env.get("HEARTBEAT_TIMEOUT_SECONDS", "20")),
        send_concurrency=max(1, _positive_int("SEND_CONCURRENCY", env.get("SEND_CONCURRENCY", "32"))),
        worker_grace_seconds=_seconds("WORKER_GRACE_SECONDS", env.get("WORKER_GRACE_SECONDS", "10")),
        sendgrid_webhook_public_keys=_public_keys(env.get("SENDGRID_WEBHOOK_PUBLIC_KEYS", "")),
        sendgrid_webhook_max_age=timedelta(
            seconds=_seconds("SENDGRID_WEBHOOK_MAX_AGE_SECONDS", env.get("SENDGRID_WEBHOOK_MAX_AGE_SECONDS", "3600"))
        ),
    )
