"""The OpenAPI schema is valid, documents every filter with its type and choices, and is one
a generated client can live with: who may call each operation, words written for clients on
every operation and parameter (never a class's docstring), readable operation ids, and the
exports as operations of their own with their media types."""

import inspect
import re

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from openapi_spec_validator import validate

from incidents.api import serializers as api_serializers
from incidents.api.exports import EXPORT_RENDERERS
from incidents.api.filters import CasualtyFigureFilter, IncidentFilter
from tests.factories import make_incident, make_location

METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
# Words and underscores: a name in every language a client is generated in.
READABLE_ID = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
TOKEN = {"tokenAuth": []}


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    # Built once for the module (it takes about two seconds); nothing here writes.
    with django_db_blocker.unblock():
        response = Client().get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def parameters(schema, path):
    return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def view_classes(patterns=None):
    """Every DRF view class the URLconf routes to."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from view_classes(pattern.url_patterns)
        elif getattr(pattern.callback, "cls", None) is not None:
            yield pattern.callback.cls


def class_docstrings():
    """The docstrings of the API's views and of every class they are built from (their mixins,
    base views, DRF's): written for readers of the code, never for clients."""
    classes = {base for cls in view_classes() for base in cls.__mro__}
    return {inspect.cleandoc(cls.__doc__) for cls in classes if cls.__doc__ and cls.__doc__.strip()}


def test_schema_is_valid_openapi(schema):
    validate(schema)


def test_every_incident_filter_is_documented(schema):
    documented = parameters(schema, "/api/v1/incidents/")
    missing = set(IncidentFilter.base_filters) - set(documented)
    assert not missing
    assert {"page", "page_size", "cursor"} <= set(documented)
    assert "battles" in documented["event_type"]["schema"]["items"]["enum"]
    assert documented["min_killed"]["schema"]["type"] == "integer"


def test_every_claim_filter_is_documented(schema):
    documented = parameters(schema, "/api/v1/casualties/")
    assert set(CasualtyFigureFilter.base_filters) <= set(documented)


def test_interactive_docs_are_served_from_local_assets(client):
    page = client.get(reverse("swagger-ui")).content.decode()
    assert "/static/drf_spectacular_sidecar/" in page


# -- Who may call what -----------------------------------------------------------------------


def test_the_token_is_documented_as_it_is_sent(schema):
    schemes = schema["components"]["securitySchemes"]
    assert list(schemes) == ["tokenAuth"]
    assert schemes["tokenAuth"]["type"] == "http"
    assert schemes["tokenAuth"]["scheme"] == "bearer"


def test_reads_declare_anonymous_access_and_writes_the_token_alone(schema):
    # The document's default: a token, or none. Reads inherit it (an operation-level list would
    # make openapi-python-client demand its AuthenticatedClient: incidents/api/schema.py).
    assert schema["security"] == [TOKEN, {}]
    reads = writes = 0
    for path, method, operation in operations(schema):
        if method == "get":
            reads += 1
            assert "security" not in operation, (method, path)
            assert {} in operation.get("security", schema["security"])
        else:
            writes += 1
            assert operation["security"] == [TOKEN], (method, path)
    assert reads and writes


def test_every_get_in_the_schema_answers_anonymous_clients(schema, client, db):
    # What the schema says (anyone may read) is what the API does: no GET is refused for want
    # of a token. Path parameters name nothing here, so a detail's answer is a 404.
    for path, method, _ in operations(schema):
        if method == "get":
            url = path.replace("{slug}", "no-such-slug").replace("{id}", "0").replace("{format}", "csv")
            assert client.get(url).status_code not in (401, 403), path


# -- Words for clients ----------------------------------------------------------------------


def test_every_operation_has_a_summary_and_a_description_written_for_clients(schema):
    docstrings = class_docstrings()
    first_lines = {doc.splitlines()[0] for doc in docstrings}
    assert any("What every API view shares" in doc for doc in docstrings)  # the set is the real one
    problems = []
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        for key in ("summary", "description"):
            text = operation.get(key, "").strip()
            if not text:
                problems.append(f"{where} has no {key}")
            elif text in docstrings or any(line in text for line in first_lines):
                problems.append(f"{where}: its {key} quotes a class docstring")
    assert not problems, "\n".join(problems)


def test_every_parameter_is_described(schema):
    for path, method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            assert parameter.get("description", "").strip(), (method, path, parameter["name"])


def test_a_filter_is_described_by_its_label(schema):
    # drf-spectacular would give a comma-separated filter django-filter's generic help text.
    documented = parameters(schema, "/api/v1/incidents/")
    assert documented["status"]["description"].startswith(str(IncidentFilter.base_filters["status"].label))
    assert documented["country"]["description"] == IncidentFilter.base_filters["country"].label


def test_no_shape_is_described_by_a_docstring_it_inherits(schema):
    # e.g. every write serializer inherits "Validate attrs as the admin does…" from its base.
    classes = {
        cls.__name__.removesuffix("Serializer"): cls
        for cls in vars(api_serializers).values()
        if inspect.isclass(cls) and cls.__module__ == api_serializers.__name__
    }
    docstrings = {inspect.cleandoc(cls.__doc__): name for name, cls in classes.items() if cls.__doc__}
    for name, component in schema["components"]["schemas"].items():
        own = name.removeprefix("Patched").removesuffix("Request")
        written_for = docstrings.get(component.get("description", ""))
        assert written_for in (None, own), f"{name} is described by {written_for}'s docstring"


def test_request_bodies_are_json(schema):
    # One body a write: openapi-python-client sends a write with several as multipart.
    for path, method, operation in operations(schema):
        if "requestBody" in operation:
            assert list(operation["requestBody"]["content"]) == ["application/json"], (method, path)


# -- Operation ids and exports ----------------------------------------------------------------


def test_operation_ids_are_unique_and_readable(schema):
    ids = [operation["operationId"] for _, _, operation in operations(schema)]
    assert len(ids) == len(set(ids))
    assert all(READABLE_ID.fullmatch(operation_id) for operation_id in ids), ids
    # Generated clients name their functions after these: they stay as they are.
    assert {
        "incidents_list",
        "incidents_retrieve",
        "incidents_export",
        "incidents_create",
        "incidents_partial_update",
        "incidents_review_create",
        "incidents_history_list",
        "casualties_list",
        "actors_retrieve",
        "stats_casualties_retrieve",
    } <= set(ids)


def test_every_export_format_is_documented_with_its_media_type(schema):
    listed = schema["paths"]["/api/v1/incidents/"]["get"]["responses"]["200"]["content"]
    assert {renderer.media_type for renderer in EXPORT_RENDERERS} <= set(listed)
    assert list(listed)[0] == "application/json"


def test_exports_have_an_operation_of_their_own(schema):
    export = schema["paths"]["/api/v1/incidents.{format}"]["get"]
    assert export["operationId"] == "incidents_export"
    formats = next(p for p in export["parameters"] if p["name"] == "format")
    assert formats["in"] == "path"
    # Every format whose name a URL suffix can hold; claims-csv is reached by ?format= alone.
    suffixable = [r for r in EXPORT_RENDERERS if re.fullmatch("[a-z0-9]+", r.format)]
    assert formats["schema"]["enum"] == [r.format for r in suffixable]
    assert list(export["responses"]["200"]["content"]) == [r.media_type for r in suffixable]
    # One file, not pages: the list's filters without its paging or its ?format=.
    names = {p["name"] for p in export["parameters"]}
    assert set(IncidentFilter.base_filters) <= names
    assert not names & {"page", "page_size", "cursor"}
    assert "410" not in export["responses"]


def test_each_export_answers_at_its_documented_url_in_its_media_type(schema, client, db):
    make_incident(slug="clash-one", location=make_location(slug="khorugh"))
    export = schema["paths"]["/api/v1/incidents.{format}"]["get"]
    documented = export["responses"]["200"]["content"]
    formats = next(p for p in export["parameters"] if p["name"] == "format")["schema"]["enum"]
    for format_, media_type in zip(formats, documented, strict=True):
        response = client.get(f"/api/v1/incidents.{format_}", {"country": "TJ"})
        assert response.status_code == 200, format_
        assert response["Content-Type"].split(";")[0] == media_type
        assert b"clash-one" in b"".join(response.streaming_content)
    bad = client.get("/api/v1/incidents.csv", {"country": "TJK"})
    assert bad.status_code == 400 and "country" in bad.json()
