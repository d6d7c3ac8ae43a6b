"""Property-based tests of the served OpenAPI document (schemathesis) against a real `servicelinker serve`.

The schema is the checked-in `openapi/servicelinker.json` (a unit test keeps it equal to what the app serves);
requests go to a server over the dev stack (`--insecure-dev`, so generated requests reach the routes rather than
all stopping at 401). Every operation gets a bounded number of generated cases (SL_SCHEMATHESIS_EXAMPLES, default
12, plus the schema's explicit examples); each response must be no server error, have a documented status code,
content type and headers, and conform to the documented schema.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from localcloud.devstack.config import StackConfig
from servicelinker.api.openapi import CHECKED_IN
from tests.support.api_server import ApiServer

pytestmark = pytest.mark.integration

PORT_BASE = int(os.environ.get("SL_TEST_PORT_BASE", "28000"))
EXAMPLES = int(os.environ.get("SL_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_path(CHECKED_IN)


@pytest.fixture(scope="module")
def server(devstack: dict[str, Any], stack_config: StackConfig) -> Iterator[ApiServer]:
    srv = ApiServer(stack_config.state_dir, PORT_BASE + 55, insecure_dev=True, tls=False)
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi(case: schemathesis.Case[Any], server: ApiServer) -> None:
    case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=60)
