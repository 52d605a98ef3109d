"""Our emails as a customer's tool reads them: circuit-maintenance-parser's
GenericProvider (the BCOP iCalendar reader NOCs and Nautobot use) parses whole .eml files.

The parser pins an older icalendar, so it runs in its own virtualenv: CMP_PYTHON, or
<repo>/.venv-cmp/bin/python. Without it the test is skipped locally and fails in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from changemgmt.config import load_settings
from changemgmt.content.view import ServiceLine
from changemgmt.delivery.message import build_email
from changemgmt.domain.impact import Impact
from changemgmt.domain.notice import NoticeKind
from changemgmt.domain.status import Status
from support.views import notice, recipients, window

UTC = UTC
REPO = Path(__file__).resolve().parents[1]
SETTINGS = load_settings({"PROVIDER_DOMAIN": "example.net", "BASE_URL": "https://cm.example.net"})

PARSE = """
import json, sys
from circuit_maintenance_parser import NotificationData, init_provider

result = {}
for path in sys.argv[1:]:
    with open(path, "rb") as handle:
        data = NotificationData.init_from_email_bytes(handle.read())
    if data is None:
        result[path] = "not an email the parser can read"
        continue
    provider = init_provider("genericprovider")
    result[path] = [
        {"provider": m.provider, "account": m.account, "maintenance_id": m.maintenance_id,
         "status": m.status.value, "start": m.start, "end": m.end, "stamp": m.stamp,
         "sequence": m.sequence, "uid": m.uid, "organizer": m.organizer,
         "circuits": [[c.circuit_id, c.impact.value] for c in m.circuits]}
        for m in provider.get_maintenances(data)
    ]
print(json.dumps(result))
"""

MOVED_START = datetime(2026, 12, 8, 7, 0, tzinfo=UTC)
ONE_SERVICE = (ServiceLine("WAVE-9", "Wave 100G", "100 Gbps", "DLLSTX01", Impact.DEGRADED),)
CASES = {
    "new": notice(NoticeKind.NEW, status=Status.TENTATIVE),
    "rescheduled": notice(
        NoticeKind.RESCHEDULED,
        windows=(
            window(1, start=MOVED_START, sequence=3, previous_start=window(1).start, previous_end=window(1).end),
            window(2),
        ),
    ),
    "cancelled": notice(NoticeKind.CANCELLED, status=Status.CANCELLED),
    "completed": notice(NoticeKind.COMPLETED, status=Status.COMPLETED, windows=(window(1),)),
    "started": notice(NoticeKind.STARTED, status=Status.IN_PROGRESS, services=ONE_SERVICE, windows=(window(1),)),
    "emergency": notice(NoticeKind.EMERGENCY, emergency=True, windows=(window(1), window(2, cancelled=True))),
}


def parser_python() -> Path:
    path = Path(os.environ.get("CMP_PYTHON") or REPO / ".venv-cmp" / "bin" / "python")
    if not path.exists():
        reason = (
            f"circuit-maintenance-parser interpreter {path} not found; create it with "
            f"`python3 -m venv .venv-cmp && .venv-cmp/bin/pip install circuit-maintenance-parser` "
            f"or set CMP_PYTHON"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict[str, list[dict]]:
    python = parser_python()
    folder = tmp_path_factory.mktemp("eml")
    paths = {}
    for name, view in CASES.items():
        message = build_email(view, recipients(), SETTINGS)
        paths[name] = folder / f"{name}.eml"
        paths[name].write_bytes(message.email_for(message.recipients[0]).as_bytes())
    run = subprocess.run(
        [str(python), "-c", PARSE, *map(str, paths.values())], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    output = json.loads(run.stdout)
    return {name: output[str(path)] for name, path in paths.items()}


def epoch(value: datetime) -> int:
    return int(value.timestamp())


def by_id(maintenances: list[dict]) -> dict[str, dict]:
    return {m["maintenance_id"]: m for m in maintenances}


def test_a_new_notice_parses_as_one_maintenance_per_window(parsed):
    found = by_id(parsed["new"])
    assert sorted(found) == ["GCR-1001", "GCR-1001-2"]
    first = found["GCR-1001"]
    assert first["provider"] == "example.net"
    assert first["account"] == "ACME-001"
    assert first["status"] == "TENTATIVE"
    assert first["circuits"] == [["ETH-10G-0001", "OUTAGE"], ["DIA-0042", "REDUCED-REDUNDANCY"]]
    assert (first["start"], first["end"]) == (epoch(window(1).start), epoch(window(1).end))
    assert found["GCR-1001-2"]["start"] == epoch(window(2).start)
    assert first["stamp"] == epoch(CASES["new"].issued_at)
    assert first["uid"] == "GCR-1001-W1-ACME-001@example.net"
    assert first["organizer"] == "mailto:change-management@example.net"


def test_a_rescheduled_notice_carries_the_new_times_and_sequence(parsed):
    first = by_id(parsed["rescheduled"])["GCR-1001"]
    assert first["start"] == epoch(MOVED_START)
    assert first["end"] == epoch(MOVED_START) + 4 * 3600
    assert first["sequence"] == 3
    assert first["status"] == "CONFIRMED"


def test_a_cancelled_notice_parses_as_cancelled_with_its_circuits(parsed):
    for maintenance in parsed["cancelled"]:
        assert maintenance["status"] == "CANCELLED"
        assert [c[0] for c in maintenance["circuits"]] == ["ETH-10G-0001", "DIA-0042"]


def test_a_completed_notice_parses_as_completed(parsed):
    [maintenance] = parsed["completed"]
    assert maintenance["status"] == "COMPLETED"
    assert (maintenance["start"], maintenance["end"]) == (epoch(window(1).start), epoch(window(1).end))


def test_a_started_notice_with_one_service_takes_its_impact_from_the_event(parsed):
    [maintenance] = parsed["started"]
    assert maintenance["status"] == "IN-PROCESS"
    assert maintenance["circuits"] == [["WAVE-9", "DEGRADED"]]


def test_a_dropped_window_of_a_live_gcr_parses_as_cancelled(parsed):
    found = by_id(parsed["emergency"])
    assert found["GCR-1001"]["status"] == "CONFIRMED"
    assert found["GCR-1001-2"]["status"] == "CANCELLED"


def test_every_case_parses(parsed):
    assert all(isinstance(result, list) and result for result in parsed.values())
