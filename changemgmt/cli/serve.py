"""`changemgmt serve`: the embedded mode, everything in one process: the web server in
the foreground and the worker's rounds in a thread beside it."""

from __future__ import annotations

import threading

import click

from changemgmt.cli.context import AppContext, user_errors
from changemgmt.delivery.transports import make_transport
from changemgmt.delivery.worker import Worker
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
    """Run the web server and the worker together (migrating the database first)."""
    upgrade(app.engine)
    worker = Worker(app.engine, make_transport(app.settings), app.settings, app.now)
    stop = threading.Event()
    rounds = threading.Thread(
        target=run_rounds,
        name="worker",
        daemon=True,
        args=(
            app.session_factory(),
            worker,
            app.settings,
            app.now,
            stop,
            idle,
            lambda handled: click.echo(f"worker: sent or settled {handled} deliveries"),
        ),
    )
    rounds.start()
    click.echo(f"changemgmt: web on http://{host}:{port}, worker running, mail to {app.settings.email_backend}")
    try:
        serve(app.settings, host, port)
    finally:
        stop.set()
        rounds.join(timeout=30)
        worker.close()
