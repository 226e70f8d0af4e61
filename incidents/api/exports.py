"""Streaming exports of a filtered incident list: CSV, claims CSV, GeoJSON and NDJSON.

The incident list hands its filtered, ordered queryset to stream_export when content
negotiation (``?format=`` or ``Accept``) picked one of these formats. An export takes
every filter the list takes but no pagination: the whole set is streamed, read through
one cursor CHUNK_SIZE incidents at a time with the related rows read per chunk, so
memory and queries per chunk stay the same however many incidents there are.

What each format holds comes from one home: the CSV layouts from incidents.api.columns,
NDJSON lines and GeoJSON properties from incidents.api.representation. A CSV response
names its description, a Table Schema and the data package built from the same layout
(incidents.api.datapackage), in `Link: <…>; rel="describedby"`, and says in its
Content-Type that its first line is a header (RFC 4180's `header=present`).

Every export is written for a viewer: `public` (the default, the safe one) leaves out any
relation to an incident the public cannot see, exactly as the JSON does; editors' exports
(`public=False`) keep them. Which incidents are exported is the caller's queryset.
"""

import itertools
import json
from collections import defaultdict

import psycopg
from django.conf import settings
from django.db import connections, transaction
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from incidents.api.columns import (
    CLAIM_CSV,
    INCIDENT_CSV,
    csv_line,
    force_quote,
    guarded_sources,
    header_line,
    sql_expression,
    value_paths,
)
from incidents.api.compiled import RowsByKeys
from incidents.api.representation import (
    CLAIM_ORDER,
    ROLE_ORDER,
    incident_fields,
    incident_rows,
    represent,
)
from incidents.models import CasualtyFigure, Incident, IncidentActor

CHUNK_SIZE = 1000


# -- Renderers: how content negotiation names the exports ------------------------------------


class _ExportRenderer(BaseRenderer):
    """Names an export for content negotiation; the list view streams the export itself.

    Anything else answered in an export format (a 400 for a bad filter, a 404, a single
    incident) reaches render() and is sent as JSON, labelled as JSON.
    """

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return JSONRenderer().render(data, "application/json", renderer_context)


class CSVRenderer(_ExportRenderer):
    media_type = "text/csv"
    format = "csv"


class ClaimsCSVRenderer(_ExportRenderer):
    # Not "text/csv; profile=claims": DRF matches a renderer only when the Accept header
    # repeats all its parameters, so ?format=claims-csv would answer 406 to "*/*".
    media_type = "application/vnd.incidents.claims+csv"
    format = "claims-csv"


class GeoJSONRenderer(_ExportRenderer):
    media_type = "application/geo+json"
    format = "geojson"


class NDJSONRenderer(_ExportRenderer):
    media_type = "application/x-ndjson"
    format = "ndjson"


# In this order after the default renderers: plain "text/csv" picks the incident CSV.
EXPORT_RENDERERS = (CSVRenderer, ClaimsCSVRenderer, GeoJSONRenderer, NDJSONRenderer)
STREAMING_FORMATS = {renderer.format for renderer in EXPORT_RENDERERS}


# -- Values ------------------------------------------------------------------------------------


def _dumps(value):
    # DRF's encoder handles dates, UUIDs and decimals as the API does; U+2028/9 are escaped
    # so that tools splitting lines on them (str.splitlines, JavaScript) do not break a record.
    text = json.dumps(value, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _row_chunks(rows, chunk_size):
    """Lists of rows read through one cursor."""
    rows = rows.iterator(chunk_size=chunk_size)
    while chunk := list(itertools.islice(rows, chunk_size)):
        yield chunk


# -- Formats -----------------------------------------------------------------------------------


ROLE_SLUGS = RowsByKeys(
    IncidentActor,
    lambda ids: (
        IncidentActor.objects.filter(incident_id__in=ids)
        .order_by(*ROLE_ORDER)
        .values("incident_id", "role", "actor__slug")
    ),
)


def _incidents_csv_rows(queryset, chunk_size, public=True):
    """Python's way: plain rows through a cursor, one query per chunk for the actor roles."""
    paths = value_paths(INCIDENT_CSV, public)
    actors_at = paths.index(None)
    queryset = queryset.annotate(**guarded_sources(INCIDENT_CSV, public))
    rows = queryset.values_list("id", *(path for path in paths if path is not None))
    for chunk in _row_chunks(rows, chunk_size):
        actors = {}
        for role in ROLE_SLUGS([row[0] for row in chunk]):
            actors.setdefault(role["incident_id"], []).append(f"{role['role']}:{role['actor__slug']}")
        lines = []
        for row in chunk:
            values = list(row[1:])
            values.insert(actors_at, "|".join(actors.get(row[0], ())))
            lines.append(csv_line(INCIDENT_CSV, values))
        yield "".join(lines)


def _copy_csv(queryset, layout, public=True):
    """PostgreSQL's way: COPY (the list's own query, its columns spelled as csv_line spells them)."""
    names = [f"csv_{n}" for n in range(len(layout))]
    expressions = {name: sql_expression(column, public) for name, column in zip(names, layout, strict=True)}
    select = queryset.annotate(**expressions).values_list(*names)
    sql, params = select.query.sql_with_params()
    connection = connections[queryset.db]
    # COPY takes no bound parameters, so psycopg writes them into the statement as literals.
    with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
        select = psycopg.ClientCursor(connection.connection).mogrify(sql, params)
        quoted = ", ".join(connection.ops.quote_name(name) for name in force_quote(names, layout))
        options = f"FORMAT csv, FORCE_QUOTE ({quoted})" if quoted else "FORMAT csv"
        statement = f"COPY ({select}) TO STDOUT ({options})"
        # A slow client keeps a large export's one statement running for a long time.
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true)", [str(settings.EXPORT_STATEMENT_TIMEOUT_MS)]
        )
        with cursor.copy(statement) as copy:
            buffer = bytearray()
            for data in copy:
                buffer += data
                if len(buffer) >= 1 << 16:
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)


def _incidents_csv(queryset, chunk_size, public):
    yield header_line(INCIDENT_CSV)
    if connections[queryset.db].vendor == "postgresql":
        yield from _copy_csv(queryset, INCIDENT_CSV, public)
    else:
        yield from _incidents_csv_rows(queryset, chunk_size, public)


CLAIMS_CSV_ROWS = RowsByKeys(
    CasualtyFigure,
    lambda ids: (
        CasualtyFigure.objects.filter(incident_id__in=ids)
        .order_by(*CLAIM_ORDER)
        .values("incident_id", *(column.path for column in CLAIM_CSV))
    ),
)


def _claims_csv(queryset, chunk_size, public):
    """The claims of the incidents in the list's order, each incident's in the API's order.
    A claim names only its own incident, one of the queryset's, so `public` changes nothing."""
    yield header_line(CLAIM_CSV)
    paths = [column.path for column in CLAIM_CSV]
    for chunk in _row_chunks(queryset.values_list("id", flat=True), chunk_size):
        by_incident = defaultdict(list)
        for row in CLAIMS_CSV_ROWS(chunk):
            by_incident[row["incident_id"]].append(csv_line(CLAIM_CSV, [row[path] for path in paths]))
        yield "".join(line for pk in chunk for line in by_incident[pk])


def _feature(fields, row):
    """A GeoJSON feature: the incident's flat fields as properties, its place as the point."""
    location = fields["location"]
    properties = {
        "slug": fields["slug"],
        "title": fields["title"],
        "event_type": fields["event_type"],
        "sub_event_type": fields["sub_event_type"],
        "start_date": fields["start_date"],
        "end_date": fields["end_date"],
        "date_precision": fields["date_precision"],
        "location": location["slug"],
        "location_name": location["name"],
        "geo_precision": location["geo_precision"],
        "country_code": location["country_code"],
        "admin1": location["admin1"],
        "admin2": location["admin2"],
        "parent": fields["parent"],
        **{
            f"{outcome}_{bound}": value
            for outcome, bounds in fields["totals"].items()
            for bound, value in bounds.items()
        },
        "status": fields["status"],
        "updated_at": fields["updated_at"],
        "url": reverse("incident-detail", kwargs={"slug": fields["slug"]}),
    }
    return {
        "type": "Feature",
        "id": fields["slug"],
        "geometry": {"type": "Point", "coordinates": [location["longitude"], location["latitude"]]},
        "properties": properties,
    }


def _geojson(queryset, chunk_size, public):
    # The count of incidents left out is only known at the end, so it closes the document
    # as a foreign member (RFC 7946, section 6.1).
    placed = unplaced = 0
    yield '{"type":"FeatureCollection","features":['
    for chunk in _row_chunks(incident_rows(queryset), chunk_size):
        features = []
        for row in chunk:
            fields = incident_fields(row, public=public)
            location = fields["location"]
            if location is None or location["latitude"] is None or location["longitude"] is None:
                unplaced += 1
                continue
            features.append(("," if placed else "") + _dumps(_feature(fields, row)))
            placed += 1
        yield "".join(features)
    yield '],"metadata":' + _dumps({"features": placed, "without_coordinates": unplaced}) + "}"


def _ndjson(queryset, chunk_size, public):
    # Each line is exactly the API's incident (incidents.api.representation), built per chunk.
    for chunk in _row_chunks(incident_rows(queryset), chunk_size):
        yield "".join(_dumps(item) + "\n" for item in represent(chunk, public=public))


CSV_CONTENT_TYPE = "text/csv; charset=utf-8; header=present"

# format: (file name ending, Content-Type, row generator)
EXPORTS = {
    "csv": (".csv", CSV_CONTENT_TYPE, _incidents_csv),
    "claims-csv": ("-claims.csv", CSV_CONTENT_TYPE, _claims_csv),
    "geojson": (".geojson", GeoJSONRenderer.media_type, _geojson),
    "ndjson": (".ndjson", NDJSONRenderer.media_type, _ndjson),
}


# The CSV formats: format -> (the layout's name in the data package, its layout, the model its
# paths start from).
CSV_LAYOUTS = {
    "csv": ("incidents", INCIDENT_CSV, Incident),
    "claims-csv": ("claims", CLAIM_CSV, CasualtyFigure),
}


def table_schema_url_name(name):
    """The URL name of a layout's Table Schema (incidents.api.urls serves one per layout)."""
    return f"table-schema-{name}"


def described_by(fmt):
    """The Link header value naming what describes a CSV export: its layout's Table Schema,
    then the data package of every layout (with the licence and sources)."""
    name = CSV_LAYOUTS[fmt][0]
    return ", ".join(
        f'<{reverse(url_name)}>; rel="describedby"; type="application/json"; title="{title}"'
        for url_name, title in (
            (table_schema_url_name(name), "Table Schema"),
            ("datapackage", "Data Package"),
        )
    )


def stream_export(queryset, fmt, filename_stem="incidents", chunk_size=CHUNK_SIZE, *, public=True):
    """A streamed download of every incident in the queryset (filtered and ordered by the
    caller), as the public (default) or an editor (`public=False`) sees them."""
    try:
        ending, content_type, rows = EXPORTS[fmt]
    except KeyError:
        raise ValueError(f"Unknown export format {fmt!r}; one of {', '.join(EXPORTS)}.") from None
    response = StreamingHttpResponse(rows(queryset, chunk_size, public), content_type=content_type)
    filename = f"{filename_stem}-{timezone.now():%Y%m%d}{ending}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if fmt in CSV_LAYOUTS:
        response["Link"] = described_by(fmt)
    # The same URL answers in other formats by Accept, so caches must keep them apart.
    patch_vary_headers(response, ["Accept"])
    return response
