"""Fuzzing the API from its own /openapi.json with schemathesis, authenticated as admin,
against a real uvicorn on loopback: no 5xx, and every response (status, content type,
body) as the schema says. Bounded (API_FUZZ_EXAMPLES per operation, derandomized) so
that CI runs it in about a minute.

Each operation's cases are drawn by hypothesis from schemathesis's strategy in one test
(schemathesis's pytest plugin cannot parametrize from a fixture under pytest 9)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from support.api import api_server
from support.feeds import GCR

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api(db, engine, settings, clock, desk):
    desk.create(GCR)
    desk.create({**GCR, "number": "GCR-1002"})
    with api_server(db, engine, settings, clock) as world:
        yield world


def test_the_api_keeps_to_its_schema(api):
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    headers = {"Authorization": f"Bearer {api.keys['admin']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    for operation in operations:

        @given(case=operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case) -> None:
            case.call_and_validate(base_url=api.url, headers=headers, checks=CHECKS)

        check()
