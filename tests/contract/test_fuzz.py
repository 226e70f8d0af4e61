"""Fuzzing the API against its own OpenAPI schema with schemathesis.

Every operation of /api/v1/schema/ is called in-process through the WSGI application,
anonymously and with an editor's token (a user in the `editors` group), with data generated
from the schema: the schema's examples, the coverage phase's boundary and invalid values
(empty, huge, negative, wrong types, NUL bytes, values outside the enums, missing required
parts), and random positive and negative (schema-violating) data. Every response must not
be a 5xx, must have a documented status code and content type, must match its documented
schema, and schema-violating requests must be refused with a 4xx.

The data: the seed fixtures (load_seeds) plus a few made-up incidents in the review states
the seeds lack, a tombstone and a parent incident. Path parameters are drawn half the time
from these records' slugs and ids, so detail, write and workflow operations reach real
records and not only 404s. The test runs in pytest-django's rolled-back transaction and
each call in a savepoint rolled back after it, so every case meets the same data.

The budget (FUZZ_MAX_EXAMPLES random cases per operation and mode, default 20) keeps a run
under two minutes per database. The coverage phase, whose case count follows from the
schema, runs for the anonymous reads and the editor's writes, where each of its cases can
reach new code; both run the random phase on every operation. A run is the same for the
same seed (FUZZ_SEED, default 20120724); another seed, or more examples, explores further.

The schema is loaded by a fixture when the tests run (schemathesis.pytest.from_fixture), so
collecting the suite generates nothing; each operation is a subtest. Run it alone with
`pytest -m fuzz`; a failure prints the request as a curl command.
"""

import json
import os
import re

import pytest
import schemathesis
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from config.wsgi import application
from incidents.api.views import SLUG_PATTERN
from incidents.models import CasualtyFigure, Incident, IncidentTombstone, Source
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "20"))
SEED = int(os.environ.get("FUZZ_SEED", "20120724"))
EDITOR_TOKEN = "f0225f0225f0225f0225f0225f0225f0225f0225"
SCHEMA_URL = "/api/v1/schema/?format=json"

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.negative_data_rejection,
]
# DRF reads an empty field of an HTML form as "not given" when the field is optional (a
# form cannot leave a field out), which the schema cannot say; JSON bodies get every check.
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
FORM_CHECKS = [check for check in CHECKS if check is not schemathesis.checks.negative_data_rejection]

WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


def fuzz_config(coverage_for):
    """Positive and negative data; the coverage phase only for the methods in coverage_for."""
    no_coverage = [method for method in ["GET", *WRITE_METHODS] if method not in coverage_for]
    return schemathesis.config.SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            # A fixture-backed test on purpose: the data is the same for every case (savepoints).
            "suppress-health-check": ["all"],
            "operations": [
                {"include-method": method, "phases": {"coverage": {"enabled": False}}}
                for method in no_coverage
            ],
        }
    )


# -- Real records to aim at ----------------------------------------------------------------------


def _fixture_slugs(model):
    return sorted(
        record["fields"]["slug"]
        for path in sorted(settings.FIXTURES_DIR.glob("*.json"))
        for record in json.loads(path.read_text(encoding="utf-8"))
        if record["model"] == model and "slug" in record["fields"]
    )


MADE_UP_INCIDENTS = ["fuzz-parent", "fuzz-draft", "fuzz-reviewed", "fuzz-retracted", "fuzz-deleted"]
SLUGS = {
    "incidents": _fixture_slugs("incidents.incident") + MADE_UP_INCIDENTS,
    "actors": _fixture_slugs("incidents.actor") + ["fuzz-actor"],
    "locations": _fixture_slugs("incidents.location") + ["fuzz-place"],
    "sources": _fixture_slugs("incidents.source"),
}


def flatmap_path_parameters(context, path_parameters):
    """Half of the time, a record that exists instead of a generated value.

    Only a value valid for the schema is swapped: a schema-violating one is what a negative
    case tests, and must reach the API as generated.
    """
    operation = context.operation
    if operation is None or not path_parameters:
        return st.just(path_parameters)
    resource = operation.path.split("/")[3]
    slug, pk = path_parameters.get("slug"), path_parameters.get("id")
    if isinstance(slug, str) and re.fullmatch(SLUG_PATTERN, slug) and resource in SLUGS:
        real = st.sampled_from(SLUGS[resource]).map(lambda slug: {**path_parameters, "slug": slug})
    elif isinstance(pk, int) and not isinstance(pk, bool):
        ids = list(CasualtyFigure.objects.order_by("pk").values_list("pk", flat=True))
        real = st.sampled_from(ids).map(lambda pk: {**path_parameters, "id": pk})
    else:
        return st.just(path_parameters)
    return st.one_of(st.just(path_parameters), real)


# -- The database and the application -----------------------------------------------------------


@pytest.fixture
def fuzz_data(db):
    call_command("load_seeds", verbosity=0)
    place = make_location(slug="fuzz-place")
    actor = make_actor(slug="fuzz-actor")
    parent = make_incident(slug="fuzz-parent", location=place)
    for slug, status in [("fuzz-draft", "draft"), ("fuzz-reviewed", "reviewed")]:
        add_actor(make_incident(slug=slug, status=status, location=place, parent=parent), actor)
    make_incident(slug="fuzz-retracted", status="retracted", retraction_reason="A duplicate.")
    seed_figure = CasualtyFigure.objects.select_related("source").first()
    add_figure(parent, seed_figure.source, quote=seed_figure.quote, wording="", low=3, best=3)
    IncidentTombstone.objects.create(slug="fuzz-deleted", title="Deleted", merged_into=parent)
    editor = User.objects.create_user("fuzz-editor")
    editor.groups.add(Group.objects.get(name="editors"))
    Token.objects.create(user=editor, key=EDITOR_TOKEN)
    assert Incident.objects.filter(slug__in=SLUGS["incidents"]).count() == len(SLUGS["incidents"]) - 1
    assert Source.objects.count() == len(SLUGS["sources"])


@pytest.fixture
def in_process_requests():
    """Django closes 'unusable' connections around each request, which inside a test's
    transaction is every one; like Django's own test client, the fuzz run switches that off."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def load_schema(config):
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, application, config=config)
    schema.hook(flatmap_path_parameters)
    return schema


@pytest.fixture
def anonymous_schema(fuzz_data, in_process_requests):
    return load_schema(fuzz_config(coverage_for=["GET"]))


@pytest.fixture
def editor_schema(fuzz_data, in_process_requests):
    return load_schema(fuzz_config(coverage_for=WRITE_METHODS))


def call_and_check(case, headers=None):
    cache.clear()  # throttling counts requests in the cache: every case starts afresh
    with transaction.atomic():
        response = case.call(headers=headers)
        transaction.set_rollback(True)
    case.validate_response(response, checks=FORM_CHECKS if case.media_type in FORM_MEDIA_TYPES else CHECKS)


anonymous = schemathesis.pytest.from_fixture("anonymous_schema")
editor = schemathesis.pytest.from_fixture("editor_schema")


@anonymous.parametrize()
def test_anonymous(case):
    call_and_check(case)


@editor.parametrize()
def test_editor(case):
    call_and_check(case, headers={"Authorization": f"Token {EDITOR_TOKEN}"})
