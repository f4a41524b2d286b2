"""A property-based run of schemathesis against `/api/v1/openapi.json`, served by the real app
process (daphne, as in production): requests generated from the schema, with a valid key,
never make the server fail (no 5xx) and every answer has the content type the schema says.

Bounded: EXAMPLES_PER_OPERATION per operation, each sent as generated and again aimed at a
room that exists, so the whole run takes well under a minute."""

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance

from api.views import api
from tests.live_server import AppServer, PostgresDatabase

pytestmark = pytest.mark.slow
EXAMPLES_PER_OPERATION = 15

# The schema this code generates; test_the_server_serves_this_schema checks the server serves
# the same at /api/v1/openapi.json. (Loaded at collection: schemathesis' from_fixture does not
# run under pytest 9.)
SCHEMA = json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/v1/"), default=str))
schema = schemathesis.openapi.from_dict(SCHEMA)
# Only the fuzzing phase is bounded by max_examples; the coverage phase (every boundary and
# wrong type of every field) would send hundreds of requests per operation.
schema.config.phases.coverage.enabled = False


@pytest.fixture(scope="module")
def api_server(app_server: AppServer, live_database: PostgresDatabase) -> Iterator[AppServer]:
    """An app process whose rate limit does not cut the run short."""
    env = {"API_RATE_PER_MINUTE": "1000000", "MEDIAWORKER_START_TIMEOUT": "1"}
    server = AppServer(live_database.url, app_server.static_root, env=env, name="api app")
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def site_key(api_server: AppServer) -> str:
    return api_server.manage("createapikey", f"schemathesis-{secrets.token_hex(3)}").strip()


def test_the_server_serves_this_schema(api_server: AppServer):
    served = requests.get(f"{api_server.url}/api/v1/openapi.json", timeout=10).json()
    assert served["paths"].keys() == SCHEMA["paths"].keys()
    assert served["components"] == SCHEMA["components"]


def ensure_room(server: AppServer, key: str, slug: str) -> None:
    """An earlier example may have deleted it: make it again through the API itself."""
    headers = {"Authorization": f"Bearer {key}"}
    if requests.get(f"{server.url}/api/v1/rooms/{slug}", headers=headers, timeout=10).status_code == 404:
        made = requests.post(f"{server.url}/api/v1/rooms", json={"slug": slug}, headers=headers, timeout=10)
        assert made.status_code == 201, made.text


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_generated_requests_never_make_the_server_fail(case: Any, api_server: AppServer, site_key: str) -> None:
    checks = [not_a_server_error, content_type_conformance]
    headers = {"Authorization": f"Bearer {site_key}"}
    case.call_and_validate(base_url=api_server.url, headers=headers, checks=checks)
    if "slug" in (case.path_parameters or {}):
        # Random slugs name no room: send the same request to one that exists.
        ensure_room(api_server, site_key, "fuzzed")
        case.path_parameters["slug"] = "fuzzed"
        case.call_and_validate(base_url=api_server.url, headers=headers, checks=checks)
