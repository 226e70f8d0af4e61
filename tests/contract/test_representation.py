"""The schema describes the served representation field for field.

incidents.api.representation builds every incident and claim the API serves; the
serializers only document the shape in the OpenAPI schema. These tests hold the two
together: every representation, of every shape the data can take, validates against its
schema component with no field missing, none extra and the fields in the schema's order.
"""

import copy
import io

import jsonschema
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from incidents.api.representation import claim_rows, incident_rows, represent, standalone_claim
from incidents.models import CasualtyFigure, Incident


def strict_json_schema(openapi, name):
    """The named component as JSON Schema: refs inlined, OpenAPI's nullable spelled as JSON
    Schema's, and every object closed (no property beyond those listed, all of them required)."""
    components = openapi["components"]["schemas"]

    def convert(node):
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return convert(components[node["$ref"].rsplit("/", 1)[-1]])
        node = {key: convert(value) for key, value in node.items() if key not in ("readOnly", "writeOnly")}
        if "oneOf" in node:
            # Without format checks an empty URL meets both of "a URL" and "empty".
            node["anyOf"] = node.pop("oneOf")
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = node["allOf"][0]
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
        return node

    return convert(copy.deepcopy(components[name]))


class RepresentationMatchesSchemaTests(TestCase):
    def setUp(self):
        response = self.client.get(reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
        self.openapi = response.json()

    def assert_described(self, items, component):
        schema = strict_json_schema(self.openapi, component)
        order = list(self.openapi["components"]["schemas"][component]["properties"])
        for item in items:
            jsonschema.validate(item, schema)
            self.assertEqual(list(item), order)

    def check_everything(self):
        incidents = represent(incident_rows(Incident.objects.order_by("-start_date", "-id")))
        self.assertEqual(len(incidents), Incident.objects.count())
        self.assert_described(incidents, "Incident")
        claims = [standalone_claim(row) for row in claim_rows(CasualtyFigure.objects.order_by("pk"))]
        self.assertEqual(len(claims), CasualtyFigure.objects.count())
        self.assert_described(claims, "CasualtyFigure")
        return incidents

    def test_seed_data(self):
        call_command("load_seeds", verbosity=0)
        self.check_everything()

    def test_generated_data_of_every_shape(self):
        call_command("generate_incidents", count=300, seed=3, verbosity=0, stdout=io.StringIO())
        first = Incident.objects.order_by("pk")
        Incident.objects.filter(pk__in=first[:5].values("pk")).update(location=None)
        Incident.objects.filter(pk__in=first[5:10].values("pk")).update(reviewed_at=timezone.now())
        incidents = self.check_everything()
        self.assertTrue(any(item["location"] is None for item in incidents))
        self.assertTrue(any(item["parent"] for item in incidents))
        self.assertTrue(any(item["children"] for item in incidents))

    def test_no_incidents(self):
        self.assertEqual(represent(incident_rows(Incident.objects.none())), [])
