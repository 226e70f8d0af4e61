"""The OpenAPI schema is valid and documents every filter with its type and choices."""

import pytest
from django.urls import reverse
from openapi_spec_validator import validate

from incidents.api.filters import CasualtyFigureFilter, IncidentFilter


@pytest.fixture
def schema(client):
    response = client.get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def parameters(schema, path):
    return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}


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
