"""`changemgmt serve`: the embedded mode, everything in one process: the web server in
the foreground, the clock (a background scheduler) and one worker in threads beside it,
one heartbeat row for the whole process. SIGTERM or Ctrl-C: the web server stops, the
worker winds down within WORKER_GRACE_SECONDS (jobs.worker_loop), the clock lets its
running jobs finish, and the process exits 0."""

from __future__ import annotations

import signal
import threading

import click
from apscheduler.schedulers.background import BackgroundScheduler

from changemgmt.cli.context import AppContext, user_errors
from changemgmt.delivery.transports import make_transport
from changemgmt.delivery.worker import Worker, favour_waiting_threads
from changemgmt.jobs.clock import Clock
from changemgmt.jobs.heartbeat import Heartbeat
from changemgmt.jobs.worker_loop import run_rounds
from changemgmt.store.migrate import upgrade
from changemgmt.web.server import serve


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="PORT", show_envvar=True, type=int, default=8000, show_default=True)
@click.option("--idle", default=2.0, show_default=True, help="Seconds the worker waits when nothing is due.")
@click.pass_obj
@user_errors
def serve_command(app: AppContext, host: str, port: int, idle: float) -> None:
    """Run the web server, the clock and a worker together (migrating the database first)."""
    upgrade(app.engine)
    app.session_factory()
    heartbeat = Heartbeat(app.engine, "serve", app.now, app.settings.heartbeat_seconds)
    favour_waiting_threads()
    clock = Clock(app.engine, app.settings, app.now, BackgroundScheduler, heartbeat=heartbeat)
    worker = Worker(app.engine, make_transport(app.settings), app.settings, app.now, name=heartbeat.id)
    stop = threading.Event()
    report = lambda handled: click.echo(f"worker: sent or settled {handled} deliveries")  # noqa: E731
    rounds = threading.Thread(
        target=run_rounds, name="worker", daemon=True, args=(worker, stop, idle, report, heartbeat)
    )
    clock.begin()  # on SQLite, refused (one line) while another clock holds the database
    heartbeat.start()
    clock.run()
    rounds.start()
    click.echo(
        f"changemgmt: web on http://{host}:{port}, clock and worker running, mail to {app.settings.email_backend}"
    )
    # uvicorn takes these signals while it serves, and raises them again once it has
    # stopped: they then reach these handlers, which stop the rest without killing the process.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        serve(app.settings, host, port, readiness=lambda: not_ready(clock, rounds, heartbeat))
    finally:
        stop.set()  # the worker winds down while the clock stops
        clock.stop()
        rounds.join(timeout=(worker.grace or 0) + 5)
        worker.close()
        heartbeat.stop()


def not_ready(clock: Clock, worker: threading.Thread, heartbeat: Heartbeat) -> list[str]:
    """What keeps this process from doing its work: empty when all is running."""
    problems = []
    if not clock.running:
        problems.append("clock is not running")
    if not worker.is_alive():
        problems.append("worker thread is not running")
    if not heartbeat.alive:
        problems.append("heartbeat is not beating")
    return problems
