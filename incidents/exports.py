"""Streaming exports of a filtered incident list: CSV, claims CSV, GeoJSON and NDJSON.

The incident list hands its filtered, ordered queryset to stream_export when content
negotiation (``?format=`` or ``Accept``) picked one of these formats. An export takes
every filter the list takes but no pagination: the whole set is streamed, read through
one cursor CHUNK_SIZE incidents at a time with the related rows prefetched per chunk,
so memory and queries per chunk stay the same however many incidents there are.
"""

import datetime
import decimal
import itertools
import json
import re

import psycopg
from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Func, Prefetch, TextField, Value
from django.db.models.functions import NullIf
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from incidents.models import Actor, CasualtyFigure, IncidentActor
from incidents.rows import ByIds, incident_rows, represent
from incidents.totals import TOTAL_COLUMNS

CHUNK_SIZE = 1000
INCIDENT_COLUMNS = [
    "slug",
    "title",
    "event_type",
    "sub_event_type",
    "start_date",
    "end_date",
    "date_precision",
    "location_slug",
    "location_name",
    "country_code",
    "admin1",
    "admin2",
    "latitude",
    "longitude",
    "geo_precision",
    "parent_slug",
    "actors",
    *TOTAL_COLUMNS,
    "status",
    "updated_at",
]
CLAIM_COLUMNS = [
    "incident_slug",
    "figure_id",
    "uid",
    "outcome",
    "group",
    "actor_slug",
    "low",
    "best",
    "high",
    "qualifier",
    "wording",
    "claimed_by_slug",
    "claimed_by_name",
    "source_slug",
    "source_title",
    "quote",
    "is_preferred",
    "notes",
]
# Large text the flat exports never show, left in the database.
UNUSED_TEXT = ("summary", "search_document", "parent__summary", "parent__search_document")


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


def _timestamp(value):
    # The API's own spelling (DRF's DateTimeField): ISO 8601 in UTC with a Z.
    return value.astimezone(datetime.UTC).isoformat().removesuffix("+00:00") + "Z"


def _dumps(value):
    # DRF's encoder handles dates, UUIDs and decimals as the API does; U+2028/9 are escaped
    # so that tools splitting lines on them (str.splitlines, JavaScript) do not break a record.
    text = json.dumps(value, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _chunks(queryset, chunk_size):
    """Lists of incidents read through one cursor; Django runs the prefetches once per list."""
    incidents = queryset.iterator(chunk_size=chunk_size)
    while chunk := list(itertools.islice(incidents, chunk_size)):
        yield chunk
        # Prefetched rows point back at their incident. Left alone, these cycles wait for the
        # garbage collector, and memory grows by several chunks between its passes.
        for incident in chunk:
            incident._prefetched_objects_cache = {}


def _lean(queryset, *prefetches):
    """The queryset with only the prefetches a flat export uses, instead of the API's."""
    return queryset.prefetch_related(None).prefetch_related(*prefetches).defer(*UNUSED_TEXT)


# -- Formats -----------------------------------------------------------------------------------


# The incident CSV is written one way on PostgreSQL and another elsewhere, to the same bytes
# (tests/test_exports.py compares them). PostgreSQL writes it itself with COPY, which runs
# at several times the speed of formatting rows in Python (docs/benchmarks.md); the
# formatting rules below are COPY's CSV rules: a field is quoted when it holds a comma, a
# double quote or a line break, empty text is written like null (an empty
# field), and lines end with \n.
_NEEDS_QUOTES = re.compile(r'[",\r\n]')

# Model field paths of the CSV columns, in INCIDENT_COLUMNS order; "actors" is built apart.
CSV_SOURCES = {
    "slug": "slug",
    "title": "title",
    "event_type": "event_type",
    "sub_event_type": "sub_event_type",
    "start_date": "start_date",
    "end_date": "end_date",
    "date_precision": "date_precision",
    "location_slug": "location__slug",
    "location_name": "location__name",
    "country_code": "location__country_code",
    "admin1": "location__admin1",
    "admin2": "location__admin2",
    "latitude": "location__latitude",
    "longitude": "location__longitude",
    "geo_precision": "location__geo_precision",
    "parent_slug": "parent__slug",
    **{column: column for column in TOTAL_COLUMNS},
    "status": "status",
    "updated_at": "updated_at",
}
TEXT_SOURCES = {
    "slug",
    "title",
    "event_type",
    "sub_event_type",
    "date_precision",
    "location__slug",
    "location__name",
    "location__country_code",
    "location__admin1",
    "location__admin2",
    "location__geo_precision",
    "parent__slug",
    "status",
}


def _csv_text(value):
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return _timestamp(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        if _NEEDS_QUOTES.search(value):
            return '"' + value.replace('"', '""') + '"'
        return value
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    raise TypeError(f"No CSV spelling for {type(value).__name__}")


def _csv_line(values):
    return ",".join(_csv_text(value) for value in values) + "\n"


ROLE_SLUGS = ByIds(
    IncidentActor,
    lambda ids: (
        IncidentActor.objects.filter(incident_id__in=ids)
        .order_by("incident_id", "role", "actor__name", "id")
        .values("incident_id", "role", "actor__slug")
    ),
)


def _incidents_csv_rows(queryset, chunk_size):
    """Python's way: plain rows through a cursor, one query per chunk for the actor roles."""
    paths = list(CSV_SOURCES.values())
    rows = queryset.values_list("id", *paths).iterator(chunk_size=chunk_size)
    actors_at = INCIDENT_COLUMNS.index("actors")
    while chunk := list(itertools.islice(rows, chunk_size)):
        actors = {}
        for role in ROLE_SLUGS([row[0] for row in chunk]):
            actors.setdefault(role["incident_id"], []).append(f"{role['role']}:{role['actor__slug']}")
        lines = []
        for row in chunk:
            values = list(row[1:])
            values.insert(actors_at, "|".join(actors.get(row[0], ())))
            lines.append(_csv_line(values))
        yield "".join(lines)


class _UTCTimestamp(Func):
    """The API's spelling of a timestamp (_timestamp), in SQL: UTC, microseconds only when not zero."""

    template = (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        "CASE WHEN date_trunc('second', %(expressions)s) = %(expressions)s THEN '' "
        "ELSE to_char(%(expressions)s AT TIME ZONE 'UTC', '.US') END || 'Z'"
    )
    output_field = TextField()


class _ISODate(Func):
    template = "to_char(%(expressions)s, 'YYYY-MM-DD')"
    output_field = TextField()


class _ActorRoles(Func):
    """role:slug|role:slug of an incident's actors, in the order of the API (role, name, id)."""

    template = (
        f"(SELECT string_agg(r.role || ':' || a.slug, '|' ORDER BY r.role, a.name, r.id) "
        f"FROM {IncidentActor._meta.db_table} r JOIN {Actor._meta.db_table} a ON a.id = r.actor_id "
        "WHERE r.incident_id = %(expressions)s)"
    )
    output_field = TextField()


def _csv_expression(path):
    if path in TEXT_SOURCES:
        return NullIf(F(path), Value(""))
    if path in ("start_date", "end_date"):
        return _ISODate(F(path))
    if path == "updated_at":
        return _UTCTimestamp(F(path))
    return F(path)


def _incidents_csv_copy(queryset):
    """PostgreSQL's way: COPY (the list's own query, its columns spelled as the API spells them)."""
    expressions = {f"csv_{column}": _csv_expression(path) for column, path in CSV_SOURCES.items()}
    expressions["csv_actors"] = _ActorRoles(F("id"))
    columns = [f"csv_{column}" for column in INCIDENT_COLUMNS]
    select = queryset.annotate(**expressions).values_list(*columns)
    sql, params = select.query.sql_with_params()
    connection = connections[queryset.db]
    # COPY takes no bound parameters, so psycopg writes them into the statement as literals.
    with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
        select = psycopg.ClientCursor(connection.connection).mogrify(sql, params)
        statement = f"COPY ({select}) TO STDOUT (FORMAT csv)"
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


def _incidents_csv(queryset, chunk_size):
    yield _csv_line(INCIDENT_COLUMNS)
    if connections[queryset.db].vendor == "postgresql":
        yield from _incidents_csv_copy(queryset)
    else:
        yield from _incidents_csv_rows(queryset, chunk_size)


def _claim_row(incident, figure):
    actor, claimed_by, source = figure.actor, figure.claimed_by, figure.source
    return [
        incident.slug,
        figure.pk,
        str(figure.uid),
        figure.outcome,
        figure.group,
        actor.slug if actor else None,
        figure.low,
        figure.best,
        figure.high,
        figure.qualifier,
        figure.wording,
        claimed_by.slug if claimed_by else None,
        claimed_by.name if claimed_by else None,
        source.slug,
        source.title,
        figure.quote,
        "true" if figure.is_preferred else "false",
        figure.notes,
    ]


def _claims_csv(queryset, chunk_size):
    figures = Prefetch(
        "casualty_figures",
        queryset=CasualtyFigure.objects.select_related("actor", "claimed_by", "source").defer("source__text"),
    )
    yield _csv_line(CLAIM_COLUMNS)
    for chunk in _chunks(_lean(queryset, figures), chunk_size):
        yield "".join(
            _csv_line(_claim_row(incident, figure))
            for incident in chunk
            for figure in incident.casualty_figures.all()
        )


def _feature(incident):
    location = incident.location
    properties = {
        "slug": incident.slug,
        "title": incident.title,
        "event_type": incident.event_type,
        "sub_event_type": incident.sub_event_type,
        "start_date": incident.start_date.isoformat(),
        "end_date": incident.end_date.isoformat(),
        "date_precision": incident.date_precision,
        "location": location.slug,
        "location_name": location.name,
        "geo_precision": location.geo_precision,
        "country_code": location.country_code,
        "admin1": location.admin1,
        "admin2": location.admin2,
        "parent": incident.parent.slug if incident.parent_id else None,
        **{column: getattr(incident, column) for column in TOTAL_COLUMNS},
        "status": incident.status,
        "updated_at": _timestamp(incident.updated_at),
        "url": reverse("incident-detail", kwargs={"slug": incident.slug}),
    }
    return {
        "type": "Feature",
        "id": incident.slug,
        "geometry": {"type": "Point", "coordinates": [float(location.longitude), float(location.latitude)]},
        "properties": properties,
    }


def _geojson(queryset, chunk_size):
    # The count of incidents left out is only known at the end, so it closes the document
    # as a foreign member (RFC 7946, section 6.1).
    placed = unplaced = 0
    yield '{"type":"FeatureCollection","features":['
    for chunk in _chunks(_lean(queryset), chunk_size):
        features = []
        for incident in chunk:
            location = incident.location
            if location is None or location.latitude is None or location.longitude is None:
                unplaced += 1
                continue
            features.append(("," if placed else "") + _dumps(_feature(incident)))
            placed += 1
        yield "".join(features)
    yield '],"metadata":' + _dumps({"features": placed, "without_coordinates": unplaced}) + "}"


def _ndjson(queryset, chunk_size):
    # Each line is exactly the API's incident (incidents.rows), built from plain rows per chunk.
    rows = incident_rows(queryset).iterator(chunk_size=chunk_size)
    while chunk := list(itertools.islice(rows, chunk_size)):
        yield "".join(_dumps(item) + "\n" for item in represent(chunk))


# format: (file name ending, Content-Type, row generator)
EXPORTS = {
    "csv": (".csv", "text/csv; charset=utf-8", _incidents_csv),
    "claims-csv": ("-claims.csv", "text/csv; charset=utf-8", _claims_csv),
    "geojson": (".geojson", GeoJSONRenderer.media_type, _geojson),
    "ndjson": (".ndjson", NDJSONRenderer.media_type, _ndjson),
}


def stream_export(queryset, fmt, filename_stem="incidents", chunk_size=CHUNK_SIZE):
    """A streamed download of every incident in the queryset (filtered and ordered by the caller).

    The queryset is expected to select_related its location and parent, as the list's does.
    """
    try:
        ending, content_type, rows = EXPORTS[fmt]
    except KeyError:
        raise ValueError(f"Unknown export format {fmt!r}; one of {', '.join(EXPORTS)}.") from None
    response = StreamingHttpResponse(rows(queryset, chunk_size), content_type=content_type)
    filename = f"{filename_stem}-{timezone.now():%Y%m%d}{ending}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # The same URL answers in other formats by Accept, so caches must keep them apart.
    patch_vary_headers(response, ["Accept"])
    return response
