"""`changemgmt status`: the processes and their heartbeats, the delivery queue, and the
last run of each clock job."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

import click

from changemgmt.cli.context import AppContext, user_errors
from changemgmt.jobs.status import JobLine, ProcessLine, Status, read_status


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@user_errors
def status_command(app: AppContext, as_json: bool) -> None:
    """Show the clock, worker and serve processes (one that missed a heartbeat is LATE;
    one silent for more than HEARTBEAT_TIMEOUT_SECONDS is NOT BEATING: dead or stalled,
    and its claims are taken back), the deliveries by state, the oldest due delivery's
    wait, and the last run of each clock job."""
    timeout = app.settings.heartbeat_timeout_seconds
    with app.session_factory()() as session:
        status = read_status(session, app.now(), timeout, app.settings.heartbeat_seconds)
    click.echo(json.dumps(_document(status, timeout), indent=2) if as_json else _text(status, timeout))


def _document(status: Status, timeout: float) -> dict:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    processes = [
        {**asdict(p), "started_at": when(p.started_at), "beat_at": when(p.beat_at), "beat_age": round(p.beat_age, 1)}
        for p in status.processes
    ]
    jobs = [
        {**asdict(j), "last_started_at": when(j.last_started_at), "last_finished_at": when(j.last_finished_at)}
        for j in status.jobs
    ]
    oldest = None if status.oldest_due_age is None else round(status.oldest_due_age, 1)
    return {
        "now": when(status.now),
        "heartbeat_timeout_seconds": timeout,
        "processes": processes,
        "deliveries": status.deliveries,
        "oldest_due_delivery_age_seconds": oldest,
        "clock_jobs": jobs,
    }


def _text(status: Status, timeout: float) -> str:
    lines = [f"processes (heartbeat timeout {timeout:g} s):"]
    if status.processes:
        lines += _table(
            ["kind", "host", "pid", "started", "last beat", "job", "state"], map(_process_row, status.processes)
        )
    else:
        lines.append("  none running")
    lines.append("deliveries: " + ", ".join(f"{state} {count}" for state, count in status.deliveries.items()))
    oldest = status.oldest_due_age
    lines.append("oldest due delivery: " + ("none due" if oldest is None else f"waiting {_age(oldest)}"))
    lines.append("clock jobs:")
    if status.jobs:
        lines += _table(["job", "runs", "failures", "last start", "took", "by", "outcome"], map(_job_row, status.jobs))
    else:
        lines.append("  none run yet")
    return "\n".join(lines)


def _process_row(p: ProcessLine) -> list[str]:
    state = ("leader" if p.leader else "beating") if p.beating else "NOT BEATING"
    if p.beating and p.late:
        state = f"LATE ({state}; missed a beat)"
    return [p.kind, p.host, str(p.pid), _time(p.started_at), f"{_age(p.beat_age)} ago", p.current_job or "-", state]


def _job_row(j: JobLine) -> list[str]:
    took = f"{j.last_duration_ms} ms" if j.last_duration_ms is not None else "-"
    return [j.id, str(j.runs), str(j.failures), _time(j.last_started_at), took, j.last_process_id or "-", _outcome(j)]


def _outcome(j: JobLine) -> str:
    if j.last_started_at and (j.last_finished_at is None or j.last_started_at > j.last_finished_at):
        return "running"
    if j.last_ok is None:
        return "-"
    error = (j.last_error or "").strip().splitlines()
    return "ok" if j.last_ok else f"FAILED: {error[0][:100] if error else ''}"


def _table(header: list[str], rows) -> list[str]:
    rows = [header, *rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
