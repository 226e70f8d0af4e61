"""The CSV exports described for tools that read them without help: a Table Schema per CSV
layout and a data package (Frictionless Data Package, v1) of both, served under /api/v1/.

Everything here is derived, never listed again: the columns, their order and their
descriptions from the layouts (incidents.api.columns), each column's type and constraints
from its kind there and the model field its path ends at (choices, nulls, uniqueness,
bounds), the timestamp pattern from incidents.api.representation, the formats and media
type from incidents.api.exports, and the UCDP GED attribution from its importer. The
dialect is declared outright, so a reader given the package guesses nothing; the files
themselves are written so that guessing works too (every text value quoted, see columns).

Each CSV export links here with `Link: <…>; rel="describedby"` (exports.described_by). The
data package's resources point at the unfiltered exports of this server, as the public
(or the signed-in editor asking) gets them; a filtered export has the same layout and the
same Table Schema.
"""

import re

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, views
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from incidents.api.columns import FORMULA_GUARD, FORMULA_TRIGGERS, Kind
from incidents.api.exports import CSV_CONTENT_TYPE, CSV_LAYOUTS, EXPORTS, table_schema_url_name
from incidents.api.representation import TIMESTAMP_FORMAT
from incidents.api.views import ApiViewMixin
from incidents.importers import ucdp
from incidents.models import IncidentActor

# An empty cell is null (and empty text): the one missing value of both layouts.
MISSING_VALUES = [""]

# How the files are written (incidents.api.columns), in CSV Dialect's terms.
DIALECT = {
    "delimiter": ",",
    "doubleQuote": True,
    "lineTerminator": "\n",
    "quoteChar": '"',
    "skipInitialSpace": False,
    "header": True,
    "caseSensitiveHeader": True,
}

LICENCE = {
    "name": "CC-BY-4.0",
    "title": "Creative Commons Attribution 4.0 International",
    "path": "https://creativecommons.org/licenses/by/4.0/",
}

# A slug as models.SlugField takes it (validate_slug).
_SLUG = "[-a-zA-Z0-9_]+"


def _ucdp_source():
    fields = ucdp.UcdpGed().source_fields("")
    return {
        "title": fields["title"].removesuffix(", release "),
        "path": fields["url"],
        "publisher": fields["publisher"],
        "description": ucdp.CITATION,
    }


def model_field(model, path):
    """(the field a values() path ends at, whether any step of it may be null, whether it
    is another record's field)."""
    nullable = False
    *relations, last = path.split("__")
    for name in relations:
        relation = model._meta.get_field(name)
        nullable |= relation.null
        model = relation.related_model
    field = model._meta.get_field(last)
    return field, nullable or field.null, bool(relations)


def _bounds(field):
    constraints = {}
    if isinstance(
        field, (models.PositiveIntegerField, models.PositiveSmallIntegerField, models.PositiveBigIntegerField)
    ):
        constraints["minimum"] = 0
    # The model's declared validators (deconstruct(), as migrations read them): the field's
    # `validators` adds the database's integer range, which SQLite and PostgreSQL differ on.
    for validator in field.deconstruct()[3].get("validators", ()):
        if isinstance(validator, MinValueValidator):
            constraints["minimum"] = validator.limit_value
        elif isinstance(validator, MaxValueValidator):
            constraints["maximum"] = validator.limit_value
    return constraints


def _roles_pattern():
    role = "(" + "|".join(re.escape(value) for value in IncidentActor.Role.values) + ")"
    return f"{role}:{_SLUG}(\\|{role}:{_SLUG})*"


def table_field(column, model):
    """The Table Schema field of one column."""
    described = {"name": column.header}
    if column.kind == Kind.ACTOR_ROLES:
        described.update(type="string", constraints={"pattern": _roles_pattern()})
        described["description"] = column.description
        return described
    field, nullable, related = model_field(model, column.path)
    relation = model._meta.get_field(column.path.split("__")[0])
    described["description"] = column.description or str(field.help_text or relation.help_text)
    constraints = {}
    if column.kind == Kind.TEXT:
        described["type"] = "string"
        values = [value for value, _ in field.choices or ()]
        # A choice the formula guard would rewrite could not be listed as written.
        if values and not any(str(value).startswith(FORMULA_TRIGGERS) for value in values):
            constraints["enum"] = values
        elif field.max_length:
            # The guard may stand before a text beginning with a formula trigger.
            constraints["maxLength"] = field.max_length + len(FORMULA_GUARD)
        # Text left blank is written like null, so only text that may not be blank is required.
        required = not nullable and not field.blank
    elif column.kind == Kind.NUMBER:
        described["type"] = "number" if isinstance(field, models.DecimalField) else "integer"
        constraints.update(_bounds(field))
        required = not nullable
    elif column.kind == Kind.DATE:
        described.update(type="date", format="default")
        required = not nullable
    elif column.kind == Kind.TIMESTAMP:
        described.update(type="datetime", format=TIMESTAMP_FORMAT)
        required = not nullable
    elif column.kind == Kind.BOOLEAN:
        described.update(type="boolean", trueValues=["true"], falseValues=["false"])
        required = not nullable
    elif column.kind == Kind.UUID:
        described.update(type="string", format="uuid")
        required = not nullable
    else:
        raise ValueError(f"No Table Schema type for the kind {column.kind!r}")
    # A reference to another incident is null for the public unless that one is published.
    if required and column.status_path is None:
        constraints["required"] = True
    if (field.unique or field.primary_key) and not related:
        constraints["unique"] = True
    if constraints:
        described["constraints"] = constraints
    return described


def _key(layout, model):
    """The layout's first column that is one of its own records' unique fields."""
    for column in layout:
        if column.kind == Kind.ACTOR_ROLES:
            continue
        field, nullable, related = model_field(model, column.path)
        if (field.unique or field.primary_key) and not related and not nullable:
            return column.header
    return None


def _foreign_keys(layout, model):
    """References from a layout's columns to another layout's key (a claim's incident)."""
    keys = []
    for name, other_layout, other_model in CSV_LAYOUTS.values():
        other_key = _key(other_layout, other_model)
        if other_model is model or other_key is None:
            continue
        key_path = next(column.path for column in other_layout if column.header == other_key)
        for column in layout:
            relation, _, rest = column.path.partition("__")
            if rest != key_path or column.kind == Kind.ACTOR_ROLES:
                continue
            if model._meta.get_field(relation).related_model is other_model:
                keys.append(
                    {"fields": [column.header], "reference": {"resource": name, "fields": [other_key]}}
                )
    return keys


def table_schema(fmt):
    """The Table Schema of the CSV layout that the export format `fmt` writes."""
    _, layout, model = CSV_LAYOUTS[fmt]
    schema = {
        "fields": [table_field(column, model) for column in layout],
        "missingValues": MISSING_VALUES,
    }
    key = _key(layout, model)
    if key is not None:
        schema["primaryKey"] = [key]
    foreign_keys = _foreign_keys(layout, model)
    if foreign_keys:
        schema["foreignKeys"] = foreign_keys
    return schema


def _export_url(request, fmt):
    return request.build_absolute_uri(f"{reverse('incident-list')}?format={fmt}")


def data_package(request):
    """The data package of every CSV layout, its resources at this server's exports."""
    resources = []
    for fmt, (name, _, _) in CSV_LAYOUTS.items():
        ending = EXPORTS[fmt][0]
        resources.append(
            {
                "name": name,
                "title": f"incidents{ending}",
                "profile": "tabular-data-resource",
                "path": _export_url(request, fmt),
                "format": "csv",
                "mediatype": CSV_CONTENT_TYPE.split(";")[0],
                "encoding": "utf-8",
                "dialect": DIALECT,
                "schema": table_schema(fmt),
            }
        )
    return {
        "profile": "tabular-data-package",
        "name": "incidents",
        "title": "Incident records: incidents and their attributed casualty claims",
        "description": (
            "The CSV exports of the incident list (one row per incident) and of its casualty "
            "claims (one row per claim). Both take every filter of /api/v1/incidents/; a filtered "
            "export has the same layout. Records imported from UCDP GED are licensed under "
            "CC BY 4.0 and must be attributed as the source below says; records imported from "
            "ACLED follow ACLED's terms of use."
        ),
        "homepage": request.build_absolute_uri(reverse("api-root")),
        "licenses": [LICENCE],
        "sources": [_ucdp_source()],
        "resources": resources,
    }


class _DescriptionView(ApiViewMixin, views.APIView):
    """Read by anyone; no record behind it, so no model permission to check (a write is a 405)."""

    renderer_classes = [JSONRenderer]
    permission_classes = [permissions.AllowAny]


@extend_schema(
    summary="The CSV exports described: a Frictionless data package",
    description=(
        "A Tabular Data Package (https://specs.frictionlessdata.io/) of the two CSV exports, "
        "`?format=csv` and `?format=claims-csv` of /api/v1/incidents/: each one's URL on this "
        "server, its dialect and its Table Schema (every column's type, format, constraints and "
        "description), with the licence (CC BY 4.0) and the UCDP GED citation. "
        "`frictionless validate` of this URL checks the live exports against it."
    ),
    responses={200: OpenApiTypes.OBJECT},
)
class DataPackageView(_DescriptionView):
    """Answers data_package(request)."""

    def get(self, request):
        return Response(data_package(request))


def table_schema_view(fmt):
    """The view of one layout's Table Schema, documented for clients."""
    name = CSV_LAYOUTS[fmt][0]

    @extend_schema(
        summary=f"The {name} CSV's Table Schema",
        description=(
            f"The Table Schema (https://specs.frictionlessdata.io/table-schema/) of `?format={fmt}` "
            "on /api/v1/incidents/, filtered or not: its columns in order, each with its type, "
            "format, constraints and description. Each such export links it in "
            '`Link: <…>; rel="describedby"`.'
        ),
        responses={200: OpenApiTypes.OBJECT},
    )
    class TableSchemaView(_DescriptionView):
        def get(self, request):
            return Response(table_schema(fmt))

    TableSchemaView.__name__ = TableSchemaView.__qualname__ = f"{name.title()}TableSchemaView"
    return TableSchemaView


def urlpatterns():
    """The routes of the data package and of each layout's Table Schema."""
    return [
        path("datapackage.json", DataPackageView.as_view(), name="datapackage"),
        *(
            path(
                f"datapackage/{name}.schema.json",
                table_schema_view(fmt).as_view(),
                name=table_schema_url_name(name),
            )
            for fmt, (name, _, _) in CSV_LAYOUTS.items()
        ),
    ]
