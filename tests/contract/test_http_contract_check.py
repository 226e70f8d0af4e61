"""ops.http_contract_check's own parts, without a server: the schemathesis configuration it
writes and what it says for each operation of the schema the API serves, the database it
picks, and how it reads the server's errors from gunicorn's log.

The check itself (gunicorn, schemathesis over HTTP, minutes) runs in CI, not here.
"""

import io
import re

import pytest
import schemathesis
from django.urls import reverse
from schemathesis.checks import CHECKS, load_all_checks

from ops.http_contract_check import (
    EXPECTED_CHECKS,
    IDENTITIES,
    PATH_RECORDS,
    SLUG_FILTERS,
    own_database_url,
    schema_operations,
    schemathesis_config,
    server_errors,
)

WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def served_schema(client):
    answer = client.get(reverse("schema"), {"format": "json"})
    assert answer.status_code == 200
    return answer.json()


def operations_as_configured(schema, identity):
    """Each operation of the schema as schemathesis loads it with the check's configuration."""
    config = schemathesis.config.SchemathesisConfig.from_str(schemathesis_config(identity))
    loaded = schemathesis.openapi.from_dict(schema, config=config)
    project = config.projects.get_default()
    return [result.ok() for result in loaded.get_all_operations()], project


@pytest.mark.parametrize("identity", IDENTITIES)
def test_every_operation_of_the_schema_is_run(served_schema, identity):
    operations, _ = operations_as_configured(served_schema, identity)
    labels = sorted(operation.label for operation in operations)
    assert labels == schema_operations(served_schema)
    assert len(labels) > 30  # the whole API, not a part of it


@pytest.mark.parametrize("identity", IDENTITIES)
def test_the_checks_and_phases_each_operation_gets(served_schema, identity):
    operations, project = operations_as_configured(served_schema, identity)
    for operation in operations:
        checks = project.checks_config_for(operation=operation)
        phases = project.phases_for(operation=operation)
        write_body = operation.method.upper() in ("POST", "PUT", "PATCH")
        judged = identity == "anonymous" and not write_body
        assert checks.positive_data_acceptance.enabled is judged, operation.label
        for name in ("not_a_server_error", "status_code_conformance", "content_type_conformance"):
            assert checks.get_by_name(name=name).enabled, (operation.label, name)
        for name in (
            "response_schema_conformance",
            "response_headers_conformance",
            "negative_data_rejection",
        ):
            assert checks.get_by_name(name=name).enabled, (operation.label, name)
        anonymous_write = identity == "anonymous" and operation.method.upper() in WRITES
        assert phases.coverage.enabled is not anonymous_write, operation.label
        assert phases.fuzzing.enabled and phases.stateful.enabled


def test_the_expected_checks_are_schemathesis_checks():
    """A check renamed or removed by a schemathesis upgrade fails here, not after a CI run."""
    load_all_checks()
    assert set(CHECKS.get_all_names()) >= EXPECTED_CHECKS


def test_slug_parameters_draw_from_the_records_the_caller_sees(served_schema):
    records = {"incidents": ["a-b"], "actors": ["c"], "locations": ["d"], "sources": ["e"], "claims": [7]}
    config = schemathesis.config.SchemathesisConfig.from_str(schemathesis_config("editor", records))
    assert config.projects.get_default().parameters.keys() == {f"query.{name}" for name in SLUG_FILTERS}
    # Each bound name is a parameter the schema has, so a renamed filter is noticed here.
    query = {
        parameter["name"]
        for item in served_schema["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    }
    assert set(SLUG_FILTERS) <= query
    paths = [regex for by_name in PATH_RECORDS.values() for regex in by_name.values()]
    for regex in paths:
        assert any(re.match(regex, path) for path in served_schema["paths"]), regex


def test_the_configuration_pins_the_run():
    config = schemathesis.config.SchemathesisConfig.from_str(schemathesis_config("editor", seed=7))
    project = config.projects.get_default()
    assert config.seed == 7
    assert config.cache.enabled is False
    assert project.generation.database == "none"
    assert project.generation.allow_x00 is False


def test_a_database_of_its_own_on_the_server_of_database_url():
    assert (
        own_database_url("postgres://postgres@127.0.0.1:5432/incidents")
        == "postgres://postgres@127.0.0.1:5432/incidents_http_contract"
    )


class FakeServer:
    def __init__(self, text):
        self.log = io.BytesIO(text.encode())


def test_server_errors_names_the_last_exception_of_each_traceback():
    log = "\n".join(
        [
            '127.0.0.1 - - [04/Dec/2026:18:00:00 +0000] "GET /api/v1/ HTTP/1.1" 200 10',
            "Internal Server Error: /api/v1/actors/x/",
            "Traceback (most recent call last):",
            '  File "views.py", line 1, in update',
            "KeyError: 'parent'",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            '  File "views.py", line 2, in update',
            "IntegrityError: UNIQUE constraint failed: incidents_actor.slug",
            "Conflict: /api/v1/incidents/y/publish/",
            "Internal Server Error: /api/v1/sources/z/",
            "Traceback (most recent call last):",
            '  File "views.py", line 3, in update',
            "IntegrityError: UNIQUE constraint failed: incidents_actor.slug",
            '127.0.0.1 - - [04/Dec/2026:18:00:01 +0000] "PUT /api/v1/sources/z/ HTTP/1.1" 500 26',
        ]
    )
    assert server_errors(FakeServer(log)) == {
        "IntegrityError: UNIQUE constraint failed: incidents_actor.slug": [
            "/api/v1/actors/x/",
            "/api/v1/sources/z/",
        ]
    }
