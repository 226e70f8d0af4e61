"""The API as outside clients meet it: an editor's token under either prefix, and a client
generated from the schema by openapi-python-client (as ops.client_smoke_check generates it),
its calls typed for the right client and run against the API."""

import importlib
import inspect
import sys
import typing

import httpx
import pytest
from django.contrib.auth.models import Group, User
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client as DjangoClient
from django.urls import reverse
from rest_framework.authtoken.models import Token

from config.wsgi import application
from ops import client_smoke_check
from tests.factories import add_figure, make_incident, make_location, make_source

PACKAGE = client_smoke_check.PACKAGE
WRONG = "0" * 40


@pytest.fixture
def editor_token(db):
    user = User.objects.create_user("editor")
    user.groups.add(Group.objects.get(name="editors"))
    return Token.objects.create(user=user).key


# -- The token ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["Bearer", "Token", "bearer"])
def test_an_editors_token_works_under_either_prefix(client, editor_token, prefix):
    make_incident(slug="a-draft", status="draft")
    url = reverse("incident-detail", kwargs={"slug": "a-draft"})
    assert client.get(url).status_code == 404  # the public does not see drafts
    response = client.get(url, HTTP_AUTHORIZATION=f"{prefix} {editor_token}")
    assert response.status_code == 200
    assert response.json()["status"] == "draft"


def test_a_write_with_a_bearer_token(client, editor_token):
    body = {"slug": "new-place", "name": "New place", "country_code": "TJ", "geo_precision": "country"}
    response = client.post(
        reverse("location-list"),
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {editor_token}",
    )
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "new-place"


@pytest.mark.parametrize("prefix", ["Bearer", "Token"])
def test_a_wrong_token_is_a_json_401_on_reads_and_writes(client, db, prefix):
    for response in (
        client.get(reverse("incident-list"), HTTP_AUTHORIZATION=f"{prefix} {WRONG}"),
        client.post(
            reverse("location-list"),
            {},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"{prefix} {WRONG}",
        ),
    ):
        assert response.status_code == 401
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Invalid token."}
        # The challenge names the scheme the schema documents.
        assert response["WWW-Authenticate"] == "Bearer"


def test_a_write_without_a_token_is_a_401_asking_for_bearer(client, db):
    response = client.post(reverse("location-list"), {}, content_type="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


# -- A generated client ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory, django_db_setup, django_db_blocker):
    """The client openapi-python-client generates from the served schema, importable."""
    workdir = tmp_path_factory.mktemp("generated-client")
    with django_db_blocker.unblock():
        response = DjangoClient().get(reverse("schema"), {"format": "json"})
    assert response.status_code == 200
    (workdir / "schema.json").write_bytes(response.content)
    client_smoke_check.generate(workdir / "schema.json", workdir)
    sys.path.insert(0, str(workdir))
    yield workdir, response.json()
    sys.path.remove(str(workdir))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def operation_module(operation):
    return importlib.import_module(f"{PACKAGE}.api.{operation['tags'][0]}.{operation['operationId']}")


def test_reads_take_the_plain_client_and_writes_the_authenticated_one(generated):
    _, schema = generated
    package = importlib.import_module(PACKAGE)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            client = inspect.signature(operation_module(operation).sync).parameters["client"].annotation
            if method == "get":
                assert set(typing.get_args(client)) == {package.Client, package.AuthenticatedClient}, path
            else:
                assert client is package.AuthenticatedClient, (method, path)


def test_the_smoke_script_type_checks_against_the_generated_client(generated):
    workdir, _ = generated
    client_smoke_check.type_check(workdir)  # raises SystemExit (with mypy's report) on an error


@pytest.fixture
def wsgi(db):
    """Requests from httpx through the WSGI application, inside the test's transaction: as
    Django's test client does, no connection is closed around a request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"transport": httpx.WSGITransport(app=application)}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_the_generated_client_reads_exports_and_writes(generated, wsgi, editor_token):
    api = importlib.import_module(f"{PACKAGE}.api.incidents")
    models = importlib.import_module(f"{PACKAGE}.models")
    package = importlib.import_module(PACKAGE)
    for name in ("incidents_list", "incidents_retrieve", "incidents_export"):
        importlib.import_module(f"{api.__name__}.{name}")
    stats = importlib.import_module(f"{PACKAGE}.api.stats.stats_casualties_retrieve")
    create_location = importlib.import_module(f"{PACKAGE}.api.locations.locations_create")
    clash = make_incident(slug="clash", location=make_location(slug="khorugh"))
    add_figure(clash, make_source(), low=12, best=12)
    make_incident(slug="elsewhere", location=make_location(slug="osh", country_code="KG"))
    make_incident(slug="unpublished", status="draft", location=make_location(country_code="TJ"))

    public = package.Client(base_url="http://testserver", httpx_args=wsgi, raise_on_unexpected_status=True)
    page = api.incidents_list.sync(client=public, country=["TJ"])
    assert isinstance(page, models.PaginatedIncidentList)
    assert [incident.slug for incident in page.results] == ["clash"]
    incident = api.incidents_retrieve.sync("clash", client=public)
    assert isinstance(incident, models.Incident) and incident.totals.killed.best == 12
    rows = stats.sync(client=public, group_by=models.StatsCasualtiesRetrieveGroupBy.COUNTRY)
    assert isinstance(rows, models.Stats)
    assert {row.key: row.best for row in rows.results} == {"TJ": 12, "KG": None}

    # Before the export had an operation of its own this was a JSON decode error.
    export = api.incidents_export.sync_detailed(
        models.IncidentsExportFormat.CSV, client=public, country=["TJ"]
    )
    assert export.status_code == 200
    assert isinstance(export.content, bytes) and export.content.count(b"\n") == 2  # header, clash
    assert export.parsed == export.content.decode()
    lines = api.incidents_export.sync(models.IncidentsExportFormat.NDJSON, client=public)
    assert isinstance(lines, str) and len(lines.splitlines()) == 2

    editor = package.AuthenticatedClient(
        base_url="http://testserver", token=editor_token, httpx_args=wsgi, raise_on_unexpected_status=True
    )
    body = models.LocationWriteRequest(
        slug="new-place", name="New place", country_code="TJ", geo_precision=models.GeoPrecisionEnum.COUNTRY
    )
    created = create_location.sync(client=editor, body=body)
    assert isinstance(created, models.LocationWrite) and created.slug == "new-place"
