"""`changemgmt feeds rebuild|url|rotate` and `changemgmt web` (which serves the feeds)."""

from __future__ import annotations

import signal
import threading

import click

from changemgmt.cli.context import AppContext, user_errors
from changemgmt.domain.windows import parse_instant
from changemgmt.feeds.manage import open_feed, rotate_feed
from changemgmt.feeds.publisher import Written, rebuild_all, rebuild_dirty
from changemgmt.feeds.registry import FeedToken, Scope, feed_url, webcal_url
from changemgmt.web.guard import Limits, default_max_connections


@click.group("feeds")
def feeds_group() -> None:
    """Calendar feeds: one per customer, per enterprise, and an internal one."""


def _report(written: Written) -> str:
    text = (
        f"written: {written.customer} customer, {written.enterprise} enterprise, {written.internal} internal; "
        f"unchanged: {written.unchanged}; removed: {written.removed}"
    )
    if written.unreadable:
        text += (
            f"\nwarning: {len(written.unreadable)} feed(s) have tokens this SECRET_KEY cannot open and were "
            f"not written ({', '.join(written.unreadable[:5])}); restore SECRET_KEY or rotate them"
        )
    return text


@feeds_group.command("rebuild")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Rewrite every feed (creating missing ones), not only those GCR changes asked for.",
)
@click.option("--at", "at", metavar="TIME", help="Apply retention as of TIME (ISO 8601; default now).")
@click.option("--watch", type=float, metavar="SECONDS", help="Keep going: rebuild what is asked for every SECONDS.")
@click.pass_obj
@user_errors
def rebuild_command(app: AppContext, everything: bool, at: str | None, watch: float | None) -> None:
    """Rewrite the feed files that changed (atomically; unchanged files are left alone)."""
    now = (lambda: parse_instant(at, "UTC", "--at")) if at else app.now
    sessions = app.session_factory()
    if everything:
        click.echo(_report(rebuild_all(sessions, app.settings, now())))
    if watch is None:
        if not everything:
            click.echo(_report(rebuild_dirty(sessions, app.settings, now())))
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            written = rebuild_dirty(sessions, app.settings, now())
            if written.total or written.unreadable:
                click.echo(_report(written))
            stop.wait(watch)
    except KeyboardInterrupt:
        pass


def _scope(enterprise: bool, internal: bool) -> Scope:
    if enterprise and internal:
        raise click.UsageError("give --enterprise or --internal, not both")
    return Scope.INTERNAL if internal else Scope.ENTERPRISE if enterprise else Scope.CUSTOMER


def _show(app: AppContext, feed: FeedToken) -> None:
    url = feed_url(app.settings, feed.token)
    click.echo(url)
    click.echo(f"  subscribe link: {webcal_url(url)}")


def _account_options(command):
    command = click.option("--internal", is_flag=True, help="The internal feed with every GCR (no ACCOUNT).")(command)
    command = click.option(
        "--enterprise", is_flag=True, help="ACCOUNT's enterprise feed: its own and all its accounts' events."
    )(command)
    return click.argument("account", required=False)(command)


@feeds_group.command("url")
@_account_options
@click.pass_obj
@user_errors
def url_command(app: AppContext, account: str | None, enterprise: bool, internal: bool) -> None:
    """Print ACCOUNT's feed URL (creating the feed on first use)."""
    _show(app, open_feed(app.session_factory(), app.settings, app.now(), account, _scope(enterprise, internal)))


@feeds_group.command("rotate")
@_account_options
@click.pass_obj
@user_errors
def rotate_command(app: AppContext, account: str | None, enterprise: bool, internal: bool) -> None:
    """Give ACCOUNT's feed a new URL; the old one answers 404 from now on."""
    feed = rotate_feed(app.session_factory(), app.settings, app.now(), account, _scope(enterprise, internal), app.actor)
    click.echo("rotated; the old URL no longer works. New URL:")
    _show(app, feed)


@click.command("web")
@click.option("--host", envvar="HOST", show_envvar=True, default="0.0.0.0", show_default=True)
@click.option("--port", envvar="PORT", show_envvar=True, type=int, default=8000, show_default=True)
@click.option(
    "--access-log/--no-access-log", default=True, show_default=True, help="Log requests (feed tokens are redacted)."
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(min=0.1),
    default=Limits.header_timeout,
    show_default=True,
    metavar="SECONDS",
    help="Close a connection whose request line and headers take longer to arrive.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    show_default="1000, or fewer if the open-file limit is lower",
    help="Open connections at most; one more is answered 503.",
)
@click.pass_obj
def web_command(
    app: AppContext, host: str, port: int, access_log: bool, header_timeout: float, max_connections: int | None
) -> None:
    """Run the web server: feeds at /calendars/<token>.ics, the API at /api/v1 (docs at
    /docs), /healthz, /readyz and /metrics."""
    from changemgmt.web.server import serve

    app.session_factory()  # the schema must be current: else one line, and exit 1

    limits = Limits(header_timeout=header_timeout, max_connections=max_connections or default_max_connections())
    serve(app.settings, host, port, access_log=access_log, limits=limits)
